"""The client's WebSocket, driven directly on a Trio stream inside the receiving task.

Why not trio-websocket here (the simulator uses it): its reader task hands every message to
``get_message()`` through a memory channel, two scheduler round trips per frame, which caps a
receiver at ~30-40k frames/s on this class of machine (docs/performance.md), below the official
asyncio SDK. Parsing in the consumer's own task and returning every message that one read produced
roughly doubles that. The price is this small module: handshake, fragments, ping/pong, close.

Incoming frames are split by the sans-IO :class:`~bulk_trio.protocol.websocket_frames.FrameReader`,
not by wsproto (whose parser was the largest single cost on the receive path); wsproto still does
the handshake and frames everything the client sends (client frames must be masked).

Every text message sent waits for a token of the connection's
:class:`~bulk_trio.limits.TokenBucket` first, so that no burst ever exceeds the exchange's limit of
messages per second (docs/protocol.md); the wait happens inside the caller's timeout.
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

from ..errors import ConnectError, ProtocolViolation
from ..limits import TokenBucket
from ..protocol.websocket_frames import (
    NO_STATUS,
    PING,
    PONG,
    FrameReader,
    close_code_and_reason,
)

# One read, one batch: ~230 market-data frames at 64 KiB. A consumer task takes its first item in
# one scheduler pass and the rest of its backlog in the next, so it can see two batches pile up in
# its channel; 256 KiB reads (~900 frames) overflowed the default 1024-item buffers of a consumer
# that keeps up, 64 KiB reads do not, and cost no throughput (bench_client.py).
RECEIVE_SIZE = 64 * 1024
DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024  # as the official SDK: l2/account snapshots can be big


class TransportClosed(Exception):
    """The WebSocket is gone; ``reason`` says how. The client turns it into a reconnect."""

    def __init__(self, reason: str, code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class WebSocketTransport:
    """One open client WebSocket. ``receive_batch`` must be called from a single task."""

    def __init__(
        self,
        stream: trio.abc.Stream,
        connection: WSConnection,
        *,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        early_data: bytes | bytearray = b"",
        max_messages_per_second: int | None = None,
    ) -> None:
        self._stream = stream
        self._ws = connection  # frames what we send; incoming frames go to the reader
        self._reader = FrameReader(max_message_size)
        self._early_data = early_data  # frames that arrived with the handshake response
        self._send_lock = trio.Lock()
        self._bucket = (
            None
            if max_messages_per_second is None
            else TokenBucket(max_messages_per_second, now=trio.current_time())
        )
        self._turn_lock = trio.Lock()  # FIFO: senders waiting for a token go in arrival order
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
        """Send one text message; safe to call from several tasks at once.

        With a message rate limit, waits for its turn first (cancelling the wait sends nothing).
        """
        if self._bucket is not None:
            await self._wait_for_turn(self._bucket)
        await self._send(TextMessage(data=text))

    async def _wait_for_turn(self, bucket: TokenBucket) -> None:
        async with self._turn_lock:
            wait = bucket.take(trio.current_time())
            while wait:
                await trio.sleep(wait)
                wait = bucket.take(trio.current_time())

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
                if opcode == PING:
                    await self._send(Pong(payload=payload))
                elif opcode == PONG:
                    waiter = self._pong_waiters.pop(payload, None)
                    if waiter is not None:
                        waiter.set()
                else:
                    code, reason = close_code_and_reason(payload)
                    # Echo the code; wsproto answers an empty close with an empty one for the enum.
                    echo = CloseReason.NO_STATUS_RCVD if code == NO_STATUS else code
                    await self._reply_to_close(CloseConnection(code=echo, reason=reason))
                    raise TransportClosed(
                        f"closed by the peer (code {code}, {reason or 'no reason'})", code
                    )
        except ProtocolViolation as exc:
            # Fail the connection as RFC 6455 (7.1.7) says: a close frame with the code, then drop.
            await self._reply_to_close(CloseConnection(code=exc.close_code, reason=exc.reason))
            raise TransportClosed(
                f"WebSocket protocol error from the peer: {exc.reason}", exc.close_code
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
    max_messages_per_second: int | None = None,
) -> WebSocketTransport:
    """Connect to ``ws://`` or ``wss://`` ``url`` and complete the WebSocket handshake.

    ``ssl_context`` verifies a ``wss://`` server (default: the system's trust store); it is
    refused for ``ws://``, where it would silently do nothing. Raises :class:`ConnectError` naming
    the reason (a TLS failure included); the caller bounds the time.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError(f"url must be ws://HOST[:PORT][/PATH] or wss://..., got {url!r}")
    secure = parts.scheme == "wss"
    if ssl_context is not None and not secure:
        raise ValueError(f"ssl_context is given but {url} is not a wss:// URL: use wss://")
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
            stream = await _start_tls(stream, url, host, ssl_context)
        host_header = host if parts.port is None else f"{host}:{parts.port}"
        return await handshake(
            stream,
            host_header,
            target,
            max_message_size=max_message_size,
            max_messages_per_second=max_messages_per_second,
            plain=not secure,
        )
    except BaseException:
        await trio.aclose_forcefully(stream)
        raise


async def _start_tls(
    stream: trio.abc.Stream, url: str, host: str, context: ssl.SSLContext | None
) -> trio.SSLStream[trio.abc.Stream]:
    tls = trio.SSLStream(stream, context or ssl.create_default_context(), server_hostname=host)
    try:
        await tls.do_handshake()
    except (trio.BrokenResourceError, OSError) as exc:
        raise ConnectError(f"cannot connect to {url}: {_tls_failure(exc)}") from exc
    return tls


# What OpenSSL says when the other end does not speak TLS (an HTTP answer, or just a close).
_NOT_TLS_REASONS = frozenset(
    {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "UNEXPECTED_EOF_WHILE_READING"}
)


def _tls_failure(exc: BaseException) -> str:
    """What went wrong in a TLS handshake, in words (trio wraps ssl's error in its own)."""
    cause = exc if isinstance(exc, ssl.SSLError) else exc.__cause__
    if isinstance(cause, ssl.SSLCertVerificationError):
        # e.g. "certificate verify failed: Hostname mismatch, certificate is not valid for ..."
        detail = cause.verify_message or cause.reason or str(cause)
        return f"TLS handshake failed: certificate verify failed: {detail}"
    if isinstance(cause, ssl.SSLError):
        reason = cause.reason or str(cause)
        hint = ""
        if reason in _NOT_TLS_REASONS:
            hint = " (is the server speaking TLS? for a plain server use ws://)"
        return f"TLS handshake failed: {reason}{hint}"
    return (
        "the server closed the connection during the TLS handshake "
        "(is the server speaking TLS? for a plain server use ws://)"
    )


async def handshake(
    stream: trio.abc.Stream,
    host: str,
    target: str = "/",
    *,
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    max_messages_per_second: int | None = None,
    plain: bool = False,
) -> WebSocketTransport:
    """Run the client side of the WebSocket handshake on an already open ``stream``.

    ``open_transport`` uses it after TCP (and TLS); tests use it on in-memory streams. ``plain``
    says the stream is not encrypted, for a hint when a TLS server answers it.
    """
    connection = WSConnection(ConnectionType.CLIENT)
    where = f"{host}{target}"
    hint = " (is it a TLS server? then use wss://)" if plain else ""
    received = bytearray()
    try:
        await stream.send_all(connection.send(Request(host=host, target=target)))
        while True:
            data = await stream.receive_some(RECEIVE_SIZE)
            if not data:
                raise ConnectError(
                    f"{where} closed the connection during the WebSocket handshake{hint}"
                )
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
                        max_messages_per_second=max_messages_per_second,
                    )
                if isinstance(event, RejectConnection):
                    raise ConnectError(
                        f"{where} refused the WebSocket handshake (HTTP {event.status_code})"
                    )
    except trio.BrokenResourceError as exc:
        cause = exc.__cause__
        if isinstance(cause, ssl.SSLError):
            raise ConnectError(f"cannot connect to {where}: {_tls_failure(exc)}") from exc
        broken = f"connection broken ({cause or exc!r})"
        raise ConnectError(f"cannot connect to {where}: {broken}") from exc
    except OSError as exc:  # ssl.SSLError included
        raise ConnectError(f"cannot connect to {where}: {exc.strerror or exc}{hint}") from exc
    except RemoteProtocolError as exc:
        raise ConnectError(f"{where} did not answer as a WebSocket server: {exc}{hint}") from exc
