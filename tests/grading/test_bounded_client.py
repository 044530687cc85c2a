"""The kernel client that reads a kernel's messages within bounds (no kernel needed).

Messages are made by jupyter_client's own ``Session`` (signed, as a kernel signs them) and
sent through real ZMQ sockets, so the frames the channel reads are the frames a kernel sends.
"""

from __future__ import annotations

import asyncio
import json

import pytest
import zmq
import zmq.asyncio
from jupyter_client.session import Session

from ds4023.grading import bounded_client
from ds4023.grading.bounded_client import (
    MAX_MESSAGE_BYTES,
    UNREAD,
    BoundedChannel,
    BoundedKernelClient,
    Drain,
    read_message,
    too_deep,
)

KEY = b"secret"


def frames(kind: str, content: dict, parent_id: str = "request-1", raw: dict | None = None):
    """The frames of a message as a kernel sends them; ``raw`` swaps a JSON string for bytes
    after packing (how a kernel's code can send JSON its own packer would refuse)."""
    session = Session(key=KEY)
    msg = session.msg(kind, content, parent={"msg_id": parent_id, "msg_type": "execute_request"})
    if raw:
        pack = session.pack

        def patched(obj):
            out = pack(obj)
            for name, blob in raw.items():
                out = out.replace(json.dumps(name).encode(), blob)
            return out

        session.pack = patched
    return session.serialize(msg, ident=[b"client"])


def read(parts: list[bytes]) -> dict:
    return read_message(Session(key=KEY), [zmq.Frame(p) for p in parts])


def test_an_ordinary_message_reads_as_jupyter_client_reads_it():
    """Is a message within bounds the very message jupyter_client's session makes of it?"""
    parts = frames("execute_reply", {"status": "ok", "user_expressions": {"r": {"a": [1, 2]}}})
    got = read(parts)
    idents, rest = Session(key=KEY).feed_identities(parts)
    assert got == Session(key=KEY).deserialize(rest)
    assert got["content"]["user_expressions"] == {"r": {"a": [1, 2]}}


def test_an_oversized_reply_is_a_routed_error_reply_that_says_why(monkeypatch):
    """Past the byte limit, is the reply an error reply to the same request, read no further?"""
    monkeypatch.setattr(bounded_client, "MAX_MESSAGE_BYTES", 10_000)
    big = {"status": "ok", "user_expressions": {"r": {"data": {"x": "y" * 20_000}}}}
    parts = frames("execute_reply", big)
    got = read(parts)
    assert got["msg_type"] == "execute_reply" and got["parent_header"]["msg_id"] == "request-1"
    assert got["content"]["status"] == "error"
    assert got["content"][UNREAD] == {"reason": "large", "bytes": sum(map(len, parts))}
    assert "more than the 10000 it reads" in got["content"]["evalue"]
    assert "y" * 100 not in json.dumps(got)


def test_the_limit_is_48_mib_of_raw_message():
    """Is the one named limit 48 MiB, room for a 32 MiB record?"""
    assert MAX_MESSAGE_BYTES == 48 * 2**20


@pytest.mark.parametrize(
    "kind, content, expect_type",
    [
        ("stream", {"name": "stdout", "text": "z" * 20_000}, "stream"),
        ("display_data", {"data": {"text/plain": "z" * 20_000}, "metadata": {}}, "stream"),
        ("execute_result", {"data": {"text/plain": "9" * 20_000}, "metadata": {}}, "stream"),
        ("error", {"ename": "E", "evalue": "z" * 20_000, "traceback": []}, "error"),
    ],
)
def test_an_oversized_output_becomes_one_line_and_an_error_stays_an_error(
    monkeypatch, kind, content, expect_type
):
    """Does an output too large to read become a note, an error an error (the cell failed)?"""
    monkeypatch.setattr(bounded_client, "MAX_MESSAGE_BYTES", 10_000)
    got = read(frames(kind, content))
    assert got["msg_type"] == got["header"]["msg_type"] == expect_type
    assert got["parent_header"]["msg_id"] == "request-1"
    text = got["content"].get("text") or got["content"]["evalue"]
    assert "a message of" in text and len(json.dumps(got["content"])) < 500


def test_a_message_of_too_many_tiny_items_is_not_decoded(monkeypatch):
    """Under the byte limit but made of tiny items (each a Python object 20 times its size):
    is it refused by counting, for that one reply, while base64-sized text passes?"""
    monkeypatch.setattr(bounded_client, "MAX_MESSAGE_ITEMS", 1000)
    many = {"status": "ok", "user_expressions": {"r": {"seq": [[] for _ in range(2000)]}}}
    got = read(frames("execute_reply", many))
    why = got["content"][UNREAD]
    assert why["reason"] == "items" and why["items"] > 2000 + 1999  # lists and commas
    assert got["parent_header"]["msg_id"] == "request-1"
    text = {"status": "ok", "user_expressions": {"r": {"data": "QUJD" * 100_000}}}
    assert read(frames("execute_reply", text))["content"] == text


def test_a_reply_nested_100_000_deep_is_a_stand_in_not_a_recursion_error():
    """Does JSON nested 10^5 levels deep (jupyter_client's json.loads raises RecursionError
    on it) come back as a reply that says so, to the same request?"""
    deep = b"[" * 100_000 + b"]" * 100_000
    content = {"status": "ok", "user_expressions": {"r": {"cases": {"x": {"value": "@deep@"}}}}}
    parts = frames("execute_reply", content, raw={"@deep@": deep})
    _, rest = Session(key=KEY).feed_identities(parts)
    with pytest.raises(RecursionError):
        Session(key=KEY).deserialize(rest)  # what jupyter_client alone does with it
    got = read(parts)
    assert got["parent_header"]["msg_id"] == "request-1"
    assert got["content"][UNREAD] == {"reason": "deep"}


def test_content_nested_past_the_depth_limit_is_not_handed_on():
    """Is JSON that json.loads still reads (150 levels) refused past MAX_MESSAGE_DEPTH?"""
    nested: list = []
    for _ in range(150):
        nested = [nested]
    got = read(frames("display_data", {"data": {"application/json": nested}, "metadata": {}}))
    assert got["msg_type"] == "stream" and got["content"][UNREAD] == {"reason": "deep"}
    fine = [[[1]]]
    got = read(frames("display_data", {"data": {"application/json": fine}, "metadata": {}}))
    assert got["content"]["data"]["application/json"] == fine


def test_metadata_nested_past_the_depth_limit_is_not_handed_on_either():
    """Deep JSON in the message's metadata (nbclient copies parts of it into the notebook):
    refused like deep content, the routing kept?"""
    nested: list = []
    for _ in range(150):
        nested = [nested]
    session = Session(key=KEY)
    msg = session.msg("stream", {"name": "stdout", "text": "x"}, parent={"msg_id": "request-1"})
    msg["metadata"] = {"deep": nested}
    got = read(session.serialize(msg, ident=[b"client"]))
    assert got["content"][UNREAD] == {"reason": "deep"}
    assert got["parent_header"]["msg_id"] == "request-1"


def test_a_message_whose_routing_cannot_be_read_goes_to_no_request(monkeypatch):
    """A huge header: is the message handed on addressed to nobody, so nbclient skips it?"""
    monkeypatch.setattr(bounded_client, "MAX_MESSAGE_BYTES", 10_000)
    parts = frames("stream", {"name": "stdout", "text": "x"}, parent_id="p" * 100_000)
    got = read(parts)
    assert got["parent_header"] == {} and got["msg_type"] == "stream"


def test_depth_is_checked_without_recursion():
    """Can too_deep look at a million levels without recursing, and count levels exactly?"""
    nested: list | dict = []
    for i in range(1_000_000):
        nested = [nested] if i % 2 else {"k": nested}
    assert too_deep(nested)
    assert not too_deep({"a": [{"b": 1}]}, limit=3) and too_deep({"a": [{"b": []}]}, limit=3)
    assert not too_deep("[[[[") and not too_deep(None)


def test_frames_over_the_limit_are_never_copied(monkeypatch):
    """Is an oversized message judged by its frames' lengths alone, never copied to bytes?"""
    monkeypatch.setattr(bounded_client, "MAX_MESSAGE_BYTES", 10_000)
    parts = frames("stream", {"name": "stdout", "text": "q" * 50_000})

    class Frame:
        """A frame that may be measured but whose big payload must not be read."""

        def __init__(self, data: bytes) -> None:
            self.data = data

        def __len__(self) -> int:
            return len(self.data)

        @property
        def bytes(self) -> bytes:
            assert len(self.data) < 10_000, "an oversized frame was copied"
            return self.data

    got = read_message(Session(key=KEY), [Frame(p) for p in parts])
    assert got["content"][UNREAD]["reason"] == "large"


def test_the_channel_reads_through_real_sockets_within_bounds(monkeypatch):
    """Through a ZMQ socket pair, does the channel hand on small messages and a stand-in for
    a big one, and keep working after it?"""
    monkeypatch.setattr(bounded_client, "MAX_MESSAGE_BYTES", 100_000)

    async def main():
        ctx = zmq.asyncio.Context()
        kernel, client = ctx.socket(zmq.ROUTER), ctx.socket(zmq.DEALER)
        client.setsockopt(zmq.IDENTITY, b"client")
        port = kernel.bind_to_random_port("tcp://127.0.0.1")
        client.connect(f"tcp://127.0.0.1:{port}")
        channel = BoundedChannel(client, Session(key=KEY))
        await client.send(b"hello")
        await kernel.recv_multipart()
        for text in ("small", "b" * 1_000_000, "after"):
            await kernel.send_multipart(frames("stream", {"name": "stdout", "text": text}))
        got = [await channel.get_msg(timeout=10) for _ in range(3)]
        channel.close()
        kernel.close(linger=0)
        ctx.term()
        return got

    got = asyncio.run(main())
    assert [g["content"]["text"] for g in (got[0], got[2])] == ["small", "after"]
    assert got[1]["content"][UNREAD]["reason"] == "large"


def test_what_waits_unread_is_bounded_in_bytes_and_the_status_still_comes(monkeypatch):
    """100 messages of 1 MB published while nobody reads, then a status: does at most twice
    the queue's bytes wait, do the messages past it become stand-ins that say so, does the
    status still arrive whole, and is everything given back once read?"""
    monkeypatch.setattr(bounded_client, "QUEUE_BYTES", 10 * 2**20)

    async def main():
        ctx = zmq.asyncio.Context()
        kernel = ctx.socket(zmq.PUB)
        port = kernel.bind_to_random_port("tcp://127.0.0.1")
        sub = zmq.Context.shadow(ctx.underlying).socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(f"tcp://127.0.0.1:{port}")
        drain = Drain(ctx, sub)
        channel = BoundedChannel(drain.outer, Session(key=KEY))
        await asyncio.sleep(0.5)  # the subscription reaches the publisher
        for i in range(100):
            text = f"{i:03d}" + "b" * 1_000_000
            await kernel.send_multipart(frames("stream", {"name": "stdout", "text": text}))
        await kernel.send_multipart(frames("status", {"execution_state": "idle"}))
        got, most, still = [], -1, 0
        while still < 5:  # until nothing more arrives (nobody reads: it only grows)
            await asyncio.sleep(0.05)
            still, most = (still + 1 if drain.waiting == most else 0), drain.waiting
        while not got or got[-1]["msg_type"] != "status":
            got.append(await channel.get_msg(timeout=10))
        left = drain.waiting
        channel.close()
        kernel.close(linger=0)
        ctx.term()
        return got, most, left

    got, most, left = asyncio.run(main())
    assert most <= 2 * 10 * 2**20
    whole = [g for g in got if g["msg_type"] == "stream" and UNREAD not in g["content"]]
    standins = [g["content"][UNREAD] for g in got if UNREAD in g["content"]]
    assert 8 <= len(whole) <= 10 and len(whole) + len(standins) == 100
    assert {s["reason"] for s in standins} == {"queue"}
    assert "waited to be read" in got[-2]["content"]["text"]
    assert got[-1]["content"] == {"execution_state": "idle"}
    assert left == 0


def test_the_client_uses_bounded_channels_everywhere_but_heartbeat():
    """Are shell, iopub, stdin and control all read by the bounded channel?"""
    client = BoundedKernelClient()
    for name in ("shell", "iopub", "stdin", "control"):
        assert getattr(client, f"{name}_channel_class") is BoundedChannel
