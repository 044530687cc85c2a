"""A Jupyter kernel client that reads the kernel's messages within bounds.

Everything a grading kernel sends is written by untrusted code: a record of 300 MB, JSON
nested 100 000 levels deep, a forged header. jupyter_client's own channels copy every frame
of a message into ``bytes``, decode it to ``str`` and JSON-decode it before anyone can look at
its size, and its ``json.loads`` raises ``RecursionError`` out of the channel (nbclient then
fails the whole notebook). :class:`BoundedKernelClient` is jupyter_client's
``AsyncKernelClient`` whose shell, iopub, stdin and control channels

- take each message from ZMQ without copying it (``copy=False``) and add up the sizes of its
  frames first: a message of more than :data:`MAX_MESSAGE_BYTES` is never copied or decoded;
- count the JSON items of the others before decoding them (commas, brackets, braces:
  ``bytes.count``, no decoding): a message of more than :data:`MAX_MESSAGE_ITEMS` is not
  decoded either (48 MiB of ``[],`` would take 1.1 GB as Python lists, 48 MiB of ``0.5,``
  0.4 GB);
- decode the others as jupyter_client does, but a message JSON cannot decode within the
  interpreter's recursion limit, or any part of which is nested deeper than
  :data:`MAX_MESSAGE_DEPTH` (checked without recursion), is not handed on either;
- hand on, in place of a message they did not read, a small stand-in of the same routing
  (header and parent header, when those frames are small and readable) that says why
  (:func:`unread`): an ``execute_reply`` becomes an error reply carrying
  ``content[UNREAD]``, an ``error`` output stays an error, any other output becomes one line
  of stdout. A message whose routing cannot be read is handed on addressed to no request, so
  nbclient skips it.

ZMQ's own limit (``zmq.MAXMSGSIZE``) is not used: libzmq drops the connection of a peer that
exceeds it and does not reconnect after that protocol error, so the reply, and every later
message on that channel, would be lost and the grader would wait out each cell's time limit.
"""

from __future__ import annotations

import typing as t

import zmq
from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from jupyter_client.session import DELIM, Session
from traitlets import Type

#: Most bytes of one message (all its frames together) the grader reads from a kernel. A
#: hidden test's record travels in one message, the probe's execute reply; raise this to let
#: larger records through (a record of 32 MiB fits).
MAX_MESSAGE_BYTES = 48 * 2**20
#: Most JSON items (commas, ``[`` and ``{``, also inside strings) of one message the grader
#: decodes, so that what it decodes stays a small multiple of its bytes. Records carry arrays
#: as base64 text (``ds4023.probe.encode``): a record of 32 MiB has a few hundred items.
MAX_MESSAGE_ITEMS = 2**21
#: Most levels of nesting of any part of a message the grader reads (a record uses about 10).
MAX_MESSAGE_DEPTH = 100
#: Most bytes of a header frame read to route a message the grader does not read.
MAX_HEADER_BYTES = 64 * 2**10
#: The key of a stand-in's content that says why the message was not read.
UNREAD = "ds4023_unread"
#: Most iopub messages queued for the grader to read (ZMQ's default is 1000, which a cell
#: displaying 2000 outputs overflows when the grader is slow). Outputs past a cell's 1000 kept
#: are dropped as they are read.
IOPUB_QUEUE = 50_000


def too_deep(value, limit: int = MAX_MESSAGE_DEPTH) -> bool:
    """Whether lists and dicts in ``value`` are nested more than ``limit`` levels deep.

    Walks with a list of its own instead of recursing, so any depth can be checked.
    """
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = item.values()
        elif not isinstance(item, list):
            continue
        if depth >= limit:
            return True
        stack.extend((v, depth + 1) for v in item if isinstance(v, dict | list))
    return False


def unread(session: Session, parts: list, why: dict) -> dict:
    """The stand-in for a message the grader did not read (see the module's description).

    Args:
        session: the channel's session (it unpacks the small header frames).
        parts: the message's frames after the identities: signature, header, parent
            header, metadata, content, buffers (``bytes`` or ``zmq.Frame``).
        why: ``{"reason": "large", "bytes": n}``, ``{"reason": "items", "items": n}`` or
            ``{"reason": "deep"}``.

    Returns:
        A message as jupyter_client's ``Session.deserialize`` returns one. Its signature is not
        checked: nothing of the message but its routing is used, and only the kernel (which
        holds the key) can write to these sockets anyway.
    """
    header, parent = _small_json(session, parts, 1), _small_json(session, parts, 2)
    if not isinstance(header, dict) or not isinstance(parent, dict):
        header, parent = {"msg_id": "", "msg_type": "ds4023_unread"}, {}
    kind = str(header.get("msg_type", ""))
    if why["reason"] == "large":
        text = f"a message of {why['bytes']} bytes, more than the {MAX_MESSAGE_BYTES} it reads"
    elif why["reason"] == "items":
        text = f"a message of {why['items']} JSON items, more than the {MAX_MESSAGE_ITEMS} it reads"
    else:
        text = f"a message nested more than {MAX_MESSAGE_DEPTH} levels deep"
    if kind.endswith("_reply"):
        note = f"the grader did not read {text}"
        content = {"status": "error", "ename": "UnreadMessage", "evalue": note, "traceback": []}
        content.update({"execution_count": None, "user_expressions": {}, UNREAD: why})
    elif kind == "error":
        note = f"the grader did not read this error: {text}"
        content = {"ename": "UnreadMessage", "evalue": note, "traceback": [note], UNREAD: why}
    else:
        kind = "stream"
        note = f"\n... output truncated by the grader: it did not read {text} ...\n"
        content = {"name": "stdout", "text": note, UNREAD: why}
    header = {**header, "msg_type": kind}
    return {
        "header": header,
        "msg_id": header.get("msg_id", ""),
        "msg_type": kind,
        "parent_header": parent,
        "metadata": {},
        "content": content,
        "buffers": [],
    }


def _small_json(session: Session, parts: list, index: int):
    """Frame ``index`` of ``parts`` unpacked, if it is small and readable; else None."""
    if len(parts) <= index or len(parts[index]) > MAX_HEADER_BYTES:
        return None
    frame = parts[index]
    try:
        return session.unpack(frame if isinstance(frame, bytes) else frame.bytes)
    except (ValueError, TypeError, RecursionError):
        return None


def read_message(session: Session, frames: list) -> dict:
    """One message from its raw frames (``zmq.Frame`` or ``bytes``), read within bounds.

    Args:
        session: the channel's session (signature key, unpacker).
        frames: what ``recv_multipart(copy=False)`` returned.

    Returns:
        The message as ``Session.deserialize`` makes it, or a stand-in (:func:`unread`).

    Raises:
        ValueError: the frames are not a Jupyter message, or the signature is wrong (as
            jupyter_client raises for them).
    """
    size = sum(len(f) for f in frames)
    if size > MAX_MESSAGE_BYTES:
        index = next((i for i, f in enumerate(frames) if len(f) == len(DELIM) and _is(f)), None)
        if index is None:
            raise ValueError("DELIM not in msg_list")
        return unread(session, frames[index + 1 :], {"reason": "large", "bytes": size})
    raw = [f if isinstance(f, bytes) else f.bytes for f in frames]
    _idents, parts = session.feed_identities(raw)
    items = sum(p.count(b",") + p.count(b"[") + p.count(b"{") for p in parts[1:5])
    if items > MAX_MESSAGE_ITEMS:
        return unread(session, parts, {"reason": "items", "items": items})
    try:
        message = session.deserialize(parts)
    except RecursionError:
        return unread(session, parts, {"reason": "deep"})
    if any(too_deep(message.get(k)) for k in ("header", "parent_header", "metadata", "content")):
        return unread(session, parts, {"reason": "deep"})
    return message


def _is(frame) -> bool:
    return (frame if isinstance(frame, bytes) else frame.bytes) == DELIM


class BoundedChannel(AsyncZMQSocketChannel):
    """jupyter_client's asyncio channel, reading each message within bounds."""

    async def _recv(self, **kwargs: t.Any) -> dict[str, t.Any]:
        assert self.socket is not None
        frames = await self.socket.recv_multipart(copy=False, **kwargs)
        return read_message(self.session, frames)


class BoundedKernelClient(AsyncKernelClient):
    """jupyter_client's ``AsyncKernelClient`` with :class:`BoundedChannel` channels."""

    shell_channel_class = Type(BoundedChannel)
    iopub_channel_class = Type(BoundedChannel)
    stdin_channel_class = Type(BoundedChannel)
    control_channel_class = Type(BoundedChannel)

    def connect_iopub(self, identity: bytes | None = None) -> zmq.Socket:
        """The iopub socket as jupyter_client makes it, queueing :data:`IOPUB_QUEUE` messages.

        ZMQ drops what a publisher sends past both ends' high-water marks (1000 messages each
        by default). When the grader reads more slowly than a kernel prints (two workers on a
        loaded machine, a cell displaying thousands of outputs), the kernel's closing ``idle``
        status was dropped, nbclient waited for it in vain and every later test of the
        notebook scored 0. The mark must be set before the socket connects.
        """
        sock = self.context.socket(zmq.SUB)
        sock.rcvhwm = IOPUB_QUEUE
        sock.linger = 1000
        if identity:
            sock.identity = identity
        if getattr(self, "curve_publickey", None) is not None:
            sock.curve_secretkey = self.curve_secretkey
            sock.curve_publickey = self.curve_publickey
            sock.curve_serverkey = self.curve_publickey
        sock.connect(self._make_url("iopub"))
        sock.setsockopt(zmq.SUBSCRIBE, b"")
        return sock
