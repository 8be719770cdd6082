"""The client's WebSocket, driven directly on a Trio stream inside the receiving task.

Why not trio-websocket here (the simulator uses it): its reader task hands every message to
``get_message()`` through a memory channel, two scheduler round trips per frame, which caps a
receiver at ~30-40k frames/s on this class of machine (PERFORMANCE-NOTES.md), below the official
asyncio SDK. Parsing in the consumer's own task and returning every message that one read produced
roughly doubles that. The price is this small module: handshake, fragments, ping/pong, close.

Incoming frames are split by :class:`_FrameReader`, not by wsproto: wsproto's parser (a chain of
generators, a buffer object, a namedtuple and an event object per frame) cost ~6 us of the ~15 us
the client spent per market-data frame, the largest single item on the receive path. The reader
applies the same RFC 6455 checks in one loop over the bytes of a read. wsproto still does the
handshake and frames everything the client sends (client frames must be masked).
"""

from __future__ import annotations

import ssl
from urllib.parse import urlsplit

import trio
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Ping,
    Pong,
    RejectConnection,
    Request,
    TextMessage,
)
from wsproto.frame_protocol import CloseReason
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from ..errors import ConnectError

# One read, one batch: ~230 market-data frames at 64 KiB. A consumer task takes its first item in
# one scheduler pass and the rest of its backlog in the next, so it can see two batches pile up in
# its channel; 256 KiB reads (~900 frames) overflowed the default 1024-item buffers of a consumer
# that keeps up, 64 KiB reads do not, and cost no throughput (bench_client.py).
RECEIVE_SIZE = 64 * 1024
DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024  # as the official SDK: l2/account snapshots can be big

# RFC 6455 close codes the client uses or must refuse.
PROTOCOL_ERROR = 1002
NO_STATUS = 1005
INVALID_PAYLOAD = 1007
MESSAGE_TOO_BIG = 1009
# Codes below 3000 a peer may send: those RFC 6455 defines (or IANA registered) for the wire.
# 1005, 1006 and 1015 only describe a close locally; the rest of 1000-2999 is reserved.
_PEER_PROTOCOL_CODES = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013})

# Opcodes (RFC 6455 §5.2).
_CONTINUATION, _TEXT, _BINARY, _CLOSE, _PING, _PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
_UNFRAGMENTED_TEXT = 0x80 | _TEXT  # FIN set, no reserved bits: nearly every frame the server sends


class TransportClosed(Exception):
    """The WebSocket is gone; ``reason`` says how. The client turns it into a reconnect."""

    def __init__(self, reason: str, code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class _Violation(Exception):
    """The peer broke RFC 6455; ``code`` is the close code to answer with."""

    def __init__(self, reason: str, code: int = PROTOCOL_ERROR) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


Control = tuple[int, bytes]
"""A control frame the reader passes on: (opcode, payload)."""


class _FrameReader:
    """Sans-IO: turns the bytes a server sends into text messages and control frames.

    It checks what wsproto checks on a client: no mask, no reserved bits (no extension is ever
    negotiated), known opcodes, control frames unfragmented and at most 125 bytes, minimal length
    encodings, continuation frames only inside a fragmented message, UTF-8 text, and well-formed
    close frames. Messages are limited to ``max_message_size`` bytes, checked from the frame
    headers, before the payload is buffered.
    """

    __slots__ = (
        "_buffer",
        "_closed",
        "_fragment_opcode",
        "_fragment_size",
        "_fragments",
        "_max_message_size",
        "_needed",
    )

    def __init__(self, max_message_size: int) -> None:
        self._max_message_size = max_message_size
        self._buffer = bytearray()  # the incomplete frame a read ended in
        self._needed = 0  # how long _buffer must grow before parsing it again is worthwhile
        self._fragments: list[bytes] = []
        self._fragment_opcode: int | None = None
        self._fragment_size = 0
        self._closed = False

    def feed(self, data: bytes | bytearray, messages: list[str]) -> list[Control] | None:
        """Append every text message ``data`` completes to ``messages``; return the control
        frames it held, in order (parsing stops at a close frame), or None if there were none.

        Raises :class:`_Violation` for a protocol error and :class:`TransportClosed` for a
        message over the size limit.
        """
        if self._closed:
            return None  # after a close frame the peer must not send anything; ignore it
        buffer: bytes | bytearray = data
        if self._buffer:
            self._buffer += data
            if len(self._buffer) < self._needed:
                return None
            buffer = self._buffer
        controls: list[Control] | None = None
        end = len(buffer)
        position = 0
        while end - position >= 2:
            first = buffer[position]
            length = buffer[position + 1]
            start = position + 2
            if length >= 126:  # the mask bit (0x80) included: a server must not mask
                start, length = self._long_length(buffer, position)
                if start == 0:
                    self._needed = 10  # the longest header
                    break
            stop = start + length
            if first == _UNFRAGMENTED_TEXT and self._fragment_opcode is None:
                # The hot path: one whole text frame.
                if length > self._max_message_size:
                    raise _too_big(self._max_message_size)
                if stop > end:
                    self._needed = stop - position
                    break
                try:
                    messages.append(buffer[start:stop].decode())
                except UnicodeDecodeError as exc:
                    reason = f"invalid UTF-8 in a text message: {exc}"
                    raise _Violation(reason, INVALID_PAYLOAD) from None
                position = stop
                continue
            opcode = self._check_header(first, length)
            if stop > end:
                self._needed = stop - position
                break
            payload = bytes(buffer[start:stop])
            position = stop
            if opcode >= _CLOSE:
                if controls is None:
                    controls = []
                controls.append((opcode, payload))
                if opcode == _CLOSE:
                    self._closed = True
                    break
            else:
                self._data_frame(opcode, first & 0x80, payload, messages)
        else:
            self._needed = 0
        self._keep(buffer, position)
        return controls

    def _keep(self, buffer: bytes | bytearray, position: int) -> None:
        """Hold on to the unparsed tail of ``buffer`` for the next read."""
        if buffer is self._buffer:
            del self._buffer[:position]
        elif position < len(buffer):
            self._buffer = bytearray(buffer[position:])

    @staticmethod
    def _long_length(buffer: bytes | bytearray, position: int) -> tuple[int, int]:
        """(payload start, payload length) of a frame with a 16- or 64-bit length, or (0, 0) when
        the length is not complete yet."""
        short = buffer[position + 1]
        if short & 0x80:
            raise _Violation("the server sent a masked frame")
        if short == 126:
            start = position + 4
            if len(buffer) < start:
                return 0, 0
            length = int.from_bytes(buffer[position + 2 : start], "big")
            if length <= 125:
                raise _Violation("payload length used 2 bytes when 1 would have sufficed")
        else:
            start = position + 10
            if len(buffer) < start:
                return 0, 0
            length = int.from_bytes(buffer[position + 2 : start], "big")
            if length <= 0xFFFF:
                raise _Violation("payload length used 8 bytes when 2 would have sufficed")
            if length >> 63:
                raise _Violation("8-byte payload length with non-zero most significant bit")
        return start, length

    def _check_header(self, first: int, length: int) -> int:
        """The opcode of a frame off the hot path, after the header checks that apply to it."""
        if first & 0x70:
            raise _Violation("reserved bit set, but no extension was negotiated")
        opcode = first & 0x0F
        if opcode >= _CLOSE:
            if opcode > _PONG:
                raise _Violation(f"invalid opcode {opcode:#x}")
            if not first & 0x80:
                raise _Violation("fragmented control frame")
            if length > 125:
                raise _Violation("control frame with payload length > 125")
            return opcode
        if opcode > _BINARY:
            raise _Violation(f"invalid opcode {opcode:#x}")
        if opcode == _CONTINUATION:
            if self._fragment_opcode is None:
                raise _Violation("unexpected continuation frame")
        elif self._fragment_opcode is not None:
            raise _Violation("expected a continuation frame, got a new message")
        if self._fragment_size + length > self._max_message_size:
            raise _too_big(self._max_message_size)
        return opcode

    def _data_frame(self, opcode: int, fin: int, payload: bytes, messages: list[str]) -> None:
        """A fragment, or a whole binary message (BULK sends text only: binary is dropped)."""
        if opcode != _CONTINUATION:
            self._fragment_opcode = opcode
        self._fragments.append(payload)
        self._fragment_size += len(payload)
        if not fin:
            return
        whole = b"".join(self._fragments)
        text = self._fragment_opcode == _TEXT
        self._fragments.clear()
        self._fragment_size = 0
        self._fragment_opcode = None
        if text:
            try:
                messages.append(whole.decode())
            except UnicodeDecodeError as exc:
                raise _Violation(
                    f"invalid UTF-8 in a text message: {exc}", INVALID_PAYLOAD
                ) from None


def _too_big(limit: int) -> TransportClosed:
    return TransportClosed(f"message larger than max_message_size ({limit} bytes)", MESSAGE_TOO_BIG)


def _close_code_and_reason(payload: bytes) -> tuple[int, str]:
    """The (code, reason) of a close frame's payload (RFC 6455 §5.5.1, §7.4)."""
    if not payload:
        return NO_STATUS, ""
    if len(payload) == 1:
        raise _Violation("close frame with a 1-byte payload")
    code = int.from_bytes(payload[:2], "big")
    if code < 1000 or code > 4999:
        raise _Violation(f"close frame with invalid code {code}")
    if code < 3000 and code not in _PEER_PROTOCOL_CODES:
        why = "a local-only" if code in (NO_STATUS, 1006, 1015) else "a reserved"
        raise _Violation(f"close frame with {why} code {code}")
    try:
        return code, payload[2:].decode()
    except UnicodeDecodeError as exc:
        raise _Violation(f"invalid UTF-8 in a close reason: {exc}", INVALID_PAYLOAD) from None


class WebSocketTransport:
    """One open client WebSocket. ``receive_batch`` must be called from a single task."""

    def __init__(
        self,
        stream: trio.abc.Stream,
        connection: WSConnection,
        *,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        early_data: bytes | bytearray = b"",
    ) -> None:
        self._stream = stream
        self._ws = connection  # frames what we send; incoming frames go to the reader
        self._reader = _FrameReader(max_message_size)
        self._early_data = early_data  # frames that arrived with the handshake response
        self._send_lock = trio.Lock()
        self._pong_waiters: dict[bytes, trio.Event] = {}
        self._closed = False
        self._ending: TransportClosed | None = None
        self._ready: list[str] = []
        self.frames_received = 0
        self.bytes_received = 0

    @property
    def closed(self) -> bool:
        return self._closed

    async def send_text(self, text: str) -> None:
        """Send one text message; safe to call from several tasks at once."""
        await self._send(TextMessage(data=text))

    async def ping(self, payload: bytes) -> trio.Event:
        """Send a ping; the returned event is set when its pong arrives."""
        waiter = self._pong_waiters.setdefault(payload, trio.Event())
        await self._send(Ping(payload=payload))
        return waiter

    async def receive_batch(self) -> list[str]:
        """Wait for at least one complete text message and return every one that is ready.

        Raises :class:`TransportClosed` when the peer closes, the stream ends or breaks, or the peer
        violates the protocol.
        """
        if self._early_data:
            early, self._early_data = self._early_data, b""
            await self._take_keeping_messages(early)
        while not self._ready:
            if self._ending is not None:
                raise self._ending
            if self._closed:
                raise TransportClosed("connection already closed")
            try:
                data = await self._stream.receive_some(RECEIVE_SIZE)
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                await self._abort()
                raise TransportClosed(f"connection broken: {exc!r}") from exc
            if not data:
                await self._abort()
                raise TransportClosed("connection closed by the peer without a close frame")
            self.bytes_received += len(data)
            await self._take_keeping_messages(data)
        batch = self._ready
        self._ready = []
        self.frames_received += len(batch)
        return batch

    async def _take_keeping_messages(self, data: bytes | bytearray) -> None:
        """:meth:`_take`, except that an ending read together with complete messages (a post
        reply, then a close frame) is raised on the next call, after those messages are handed
        out: a message the peer managed to send is never lost."""
        try:
            await self._take(data)
        except TransportClosed as ending:
            if not self._ready:
                raise
            self._ending = ending

    async def _take(self, data: bytes | bytearray) -> None:
        """Parse ``data`` into the ready messages and act on its control frames."""
        try:
            controls = self._reader.feed(data, self._ready)
            if controls is None:
                return
            for opcode, payload in controls:
                if opcode == _PING:
                    await self._send(Pong(payload=payload))
                elif opcode == _PONG:
                    waiter = self._pong_waiters.pop(payload, None)
                    if waiter is not None:
                        waiter.set()
                else:
                    code, reason = _close_code_and_reason(payload)
                    # Echo the code; wsproto answers an empty close with an empty one for the enum.
                    echo = CloseReason.NO_STATUS_RCVD if code == NO_STATUS else code
                    await self._reply_to_close(CloseConnection(code=echo, reason=reason))
                    raise TransportClosed(
                        f"closed by the peer (code {code}, {reason or 'no reason'})", code
                    )
        except _Violation as exc:
            # Fail the connection as RFC 6455 §7.1.7 says: a close frame with the code, then drop.
            await self._reply_to_close(CloseConnection(code=exc.code, reason=exc.reason))
            raise TransportClosed(
                f"WebSocket protocol error from the peer: {exc.reason}", exc.code
            ) from None

    async def _send(self, event: TextMessage | Ping | Pong | CloseConnection) -> None:
        if self._closed:
            raise TransportClosed("connection already closed")
        try:
            data = self._ws.send(event)
        except LocalProtocolError as exc:
            raise TransportClosed(f"cannot send on this connection: {exc}") from exc
        try:
            async with self._send_lock:
                await self._stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            await self._abort()
            raise TransportClosed(f"connection broken while sending: {exc!r}") from exc

    async def _reply_to_close(self, event: CloseConnection) -> None:
        try:
            await self._send(event)
        except TransportClosed:
            pass
        await self._abort()

    async def _abort(self) -> None:
        self._closed = True
        for waiter in self._pong_waiters.values():
            waiter.set()  # wake heartbeats; they check ``closed`` before trusting the pong
        self._pong_waiters.clear()
        with trio.CancelScope(shield=True):
            await trio.aclose_forcefully(self._stream)

    async def aclose(self, code: int = 1000, reason: str = "") -> None:
        """Close politely if possible (a close frame, bounded wait), then drop the stream."""
        if self._closed:
            return
        with trio.move_on_after(1.0) as scope:
            scope.shield = True
            try:
                await self._send(CloseConnection(code=code, reason=reason))
            except TransportClosed:
                pass
        await self._abort()


async def open_transport(
    url: str,
    *,
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    ssl_context: ssl.SSLContext | None = None,
) -> WebSocketTransport:
    """Connect to ``ws://`` or ``wss://`` ``url`` and complete the WebSocket handshake.

    Raises :class:`ConnectError` naming the reason; the caller bounds the time.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError(f"url must be ws://HOST[:PORT][/PATH] or wss://..., got {url!r}")
    secure = parts.scheme == "wss"
    try:
        port = parts.port or (443 if secure else 80)
    except ValueError:
        raise ValueError(f"url has an invalid port: {url!r}") from None
    host = parts.hostname
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    try:
        stream: trio.abc.Stream = await trio.open_tcp_stream(host, port)
    except OSError as exc:
        raise ConnectError(f"cannot connect to {url}: {exc.strerror or exc}") from exc
    try:
        if secure:
            tls = trio.SSLStream(
                stream, ssl_context or ssl.create_default_context(), server_hostname=host
            )
            await tls.do_handshake()
            stream = tls
        host_header = host if parts.port is None else f"{host}:{parts.port}"
        return await handshake(stream, host_header, target, max_message_size=max_message_size)
    except BaseException:
        await trio.aclose_forcefully(stream)
        raise


async def handshake(
    stream: trio.abc.Stream,
    host: str,
    target: str = "/",
    *,
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
) -> WebSocketTransport:
    """Run the client side of the WebSocket handshake on an already open ``stream``.

    ``open_transport`` uses it after TCP (and TLS); tests use it on in-memory streams.
    """
    connection = WSConnection(ConnectionType.CLIENT)
    where = f"{host}{target}"
    received = bytearray()
    try:
        await stream.send_all(connection.send(Request(host=host, target=target)))
        while True:
            data = await stream.receive_some(RECEIVE_SIZE)
            if not data:
                raise ConnectError(f"{where} closed the connection during the WebSocket handshake")
            received += data
            connection.receive_data(data)  # type: ignore[arg-type]
            for event in connection.events():
                if isinstance(event, AcceptConnection):
                    # The 101 response has no body: whatever follows its blank line is frames.
                    early_data = bytes(received[received.index(b"\r\n\r\n") + 4 :])
                    return WebSocketTransport(
                        stream,
                        connection,
                        max_message_size=max_message_size,
                        early_data=early_data,
                    )
                if isinstance(event, RejectConnection):
                    raise ConnectError(
                        f"{where} refused the WebSocket handshake (HTTP {event.status_code})"
                    )
    except (trio.BrokenResourceError, ssl.SSLError, OSError) as exc:
        raise ConnectError(f"cannot connect to {where}: {exc}") from exc
    except RemoteProtocolError as exc:
        raise ConnectError(f"{where} did not answer as a WebSocket server: {exc}") from exc
