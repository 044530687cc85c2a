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

What waits to be read is bounded too. ZMQ queues a channel's messages in the grader's memory
as fast as the kernel sends them, counted in messages, not bytes: a kernel that sends 40 MB
messages faster than the grader reads them (the same buffer again and again costs it
nothing) made the grader hold gigabytes. Each channel the grader reads (shell, iopub) is
therefore taken from ZMQ as it arrives by a thread of its own (:class:`Drain`), which lets at
most :data:`QUEUE_BYTES` wait; past that a message becomes a stand-in (:func:`unread`) made of
its small routing frames, and a flood even of those is dropped once twice that waits. The
stdin and control channels, which nbclient never reads, are not opened.

ZMQ's own limit (``zmq.MAXMSGSIZE``) is not used: libzmq drops the connection of a peer that
exceeds it and does not reconnect after that protocol error, so the reply, and every later
message on that channel, would be lost and the grader would wait out each cell's time limit.
"""

from __future__ import annotations

import threading
import typing as t
import uuid

import zmq
import zmq.asyncio
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
#: Most bytes of a channel's messages waiting for the grader to read them (what waits for a
#: slow grader beyond the cell's 2 MiB of output kept is dropped anyway). A message that
#: arrives when it would not fit becomes a stand-in saying so; a :data:`SMALL_MESSAGE` (a
#: status, a short output) is still passed on whole until twice this waits.
QUEUE_BYTES = 128 * 2**20
#: What one waiting message counts beyond its frames (ZMQ's and Python's bookkeeping).
MESSAGE_OVERHEAD = 1024
#: A message this small is passed on whole past :data:`QUEUE_BYTES` (see there).
SMALL_MESSAGE = 4096
#: Frames up to this size are copied when passed on, so that none of them keeps alive the
#: larger buffer ZMQ received it in.
COPY_BELOW = 2**16


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
        why: ``{"reason": "large", "bytes": n}``, ``{"reason": "queue", "bytes": n}``,
            ``{"reason": "items", "items": n}`` or ``{"reason": "deep"}``.

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
    elif why["reason"] == "queue":
        text = (
            f"a message of {why['bytes']} bytes that came while more than {QUEUE_BYTES} bytes "
            "waited to be read"
        )
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


def _routing(frames: list) -> list | None:
    """The frames from the delimiter to the parent header, if they are small; else None."""
    index = next((i for i, f in enumerate(frames) if len(f) == len(DELIM) and _is(f)), None)
    if index is None:
        return None
    routing = frames[index : index + 4]
    return routing if all(len(f) <= SMALL_MESSAGE for f in routing) else None


class DrainedSocket(zmq.asyncio.Socket):
    """The grader's end of a :class:`Drain`: what the channel reads and sends through."""

    drain: Drain | None = None


class Drain:
    """Takes a channel's messages from ZMQ as they arrive, letting a bounded amount wait.

    A thread owns the socket connected to the kernel and passes each message it receives on
    to :attr:`outer` (an in-process pair the channel reads), preceded by a frame that says
    what it counts and whether it is a stand-in; what the channel sends goes the other way
    unchanged. :meth:`release` (called as the channel reads) gives the counted bytes back.
    """

    def __init__(self, context: zmq.asyncio.Context, real: zmq.Socket) -> None:
        self.real = real
        address = f"inproc://ds4023-drain-{uuid.uuid4().hex}"
        self.inner = zmq.Context.shadow(context.underlying).socket(zmq.PAIR)
        self.outer = context.socket(zmq.PAIR, socket_class=DrainedSocket)
        for sock in (self.inner, self.outer):
            sock.sndhwm = sock.rcvhwm = 0  # bounded by bytes, below
            sock.linger = 0
        self.inner.bind(address)
        self.outer.connect(address)
        self.outer.drain = self
        self.waiting = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ds4023-drain", daemon=True)
        self._thread.start()

    def release(self, cost: int) -> None:
        with self._lock:
            self.waiting -= cost

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(5)

    def _run(self) -> None:
        poller = zmq.Poller()
        poller.register(self.real, zmq.POLLIN)
        poller.register(self.inner, zmq.POLLIN)
        try:
            while not self._stopping.is_set():
                ready = dict(poller.poll(50))
                if self.inner in ready:
                    self._send_out()
                if self.real in ready:
                    for _ in range(1000):  # then look at what the grader sends again
                        try:
                            frames = self.real.recv_multipart(zmq.NOBLOCK, copy=False)
                        except zmq.Again:
                            break
                        self._pass_on(frames)
        except zmq.ContextTerminated:
            pass
        finally:
            self.real.close(linger=0)
            self.inner.close(linger=0)

    def _send_out(self) -> None:
        while True:
            try:
                frames = self.inner.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            self.real.send_multipart(frames, copy=False)

    def _pass_on(self, frames: list) -> None:
        size = sum(len(f) for f in frames)
        cost = size + MESSAGE_OVERHEAD
        reason = "large" if size > MAX_MESSAGE_BYTES else "queue"
        with self._lock:
            fits = self.waiting + cost <= QUEUE_BYTES
            small = size <= SMALL_MESSAGE and self.waiting + cost <= 2 * QUEUE_BYTES
            if size <= MAX_MESSAGE_BYTES and (fits or small):
                out, note = frames, b"-"
            else:
                out = _routing(frames)
                if out is None:
                    return  # nothing to route it by: dropped
                cost = sum(len(f) for f in out) + MESSAGE_OVERHEAD
                if self.waiting + cost > 2 * QUEUE_BYTES:
                    return  # a flood of stand-ins: dropped
                note = f"{reason} {size}".encode()
            self.waiting += cost
        out = [f.bytes if len(f) < COPY_BELOW else f for f in out]
        self.inner.send_multipart([f"{cost} ".encode() + note, *out], copy=False)


class BoundedChannel(AsyncZMQSocketChannel):
    """jupyter_client's asyncio channel, reading each message within bounds."""

    async def _recv(self, **kwargs: t.Any) -> dict[str, t.Any]:
        assert self.socket is not None
        frames = await self.socket.recv_multipart(copy=False, **kwargs)
        drain = getattr(self.socket, "drain", None)
        if drain is None:
            return read_message(self.session, frames)
        cost, note = frames[0].bytes.split(b" ", 1)
        drain.release(int(cost))
        if note == b"-":
            return read_message(self.session, frames[1:])
        reason, size = note.decode().split()
        routing = [f.bytes for f in frames[2:]]  # after the delimiter
        return unread(self.session, routing, {"reason": reason, "bytes": int(size)})

    def close(self) -> None:
        drain = getattr(self.socket, "drain", None)
        if drain is not None:
            drain.stop()
        super().close()

    stop = close


class BoundedKernelClient(AsyncKernelClient):
    """jupyter_client's ``AsyncKernelClient`` with :class:`BoundedChannel` channels."""

    shell_channel_class = Type(BoundedChannel)
    iopub_channel_class = Type(BoundedChannel)
    stdin_channel_class = Type(BoundedChannel)
    control_channel_class = Type(BoundedChannel)

    def start_channels(self, shell=True, iopub=True, stdin=True, hb=True, control=True) -> None:
        """Start the channels nbclient reads: shell, iopub, heartbeat.

        nbclient never reads stdin (``input()`` is not answered) or the client's control
        channel, so whatever a kernel sends there would wait in the grader's memory for good:
        they are not opened.
        """
        super().start_channels(shell=shell, iopub=iopub, stdin=False, hb=hb, control=False)

    def _drained(self, channel: str, identity: bytes | None, **options) -> DrainedSocket:
        """A socket connected to the kernel's ``channel`` as jupyter_client connects one,
        read by a :class:`Drain`; ``options`` are set before it connects."""
        kind = zmq.SUB if channel == "iopub" else zmq.DEALER
        sock = zmq.Context.shadow(self.context.underlying).socket(kind)
        sock.linger = 1000
        for name, value in options.items():
            setattr(sock, name, value)
        if identity:
            sock.identity = identity
        if getattr(self, "curve_publickey", None) is not None:
            sock.curve_secretkey = self.curve_secretkey
            sock.curve_publickey = self.curve_publickey
            sock.curve_serverkey = self.curve_publickey
        sock.connect(self._make_url(channel))
        if kind == zmq.SUB:
            sock.setsockopt(zmq.SUBSCRIBE, b"")
        return Drain(self.context, sock).outer

    def connect_shell(self, identity: bytes | None = None) -> zmq.Socket:
        """The shell socket, read by a :class:`Drain`."""
        return self._drained("shell", identity)

    def connect_iopub(self, identity: bytes | None = None) -> zmq.Socket:
        """The iopub socket, read by a :class:`Drain`, queueing :data:`IOPUB_QUEUE` messages.

        ZMQ drops what a publisher sends past both ends' high-water marks (1000 messages each
        by default). When the grader reads more slowly than a kernel prints (two workers on a
        loaded machine, a cell displaying thousands of outputs), the kernel's closing ``idle``
        status was dropped, nbclient waited for it in vain and every later test of the
        notebook scored 0. The mark must be set before the socket connects; with the drain
        reading promptly, what waits is bounded by :data:`QUEUE_BYTES` instead.
        """
        return self._drained("iopub", identity, rcvhwm=IOPUB_QUEUE)
