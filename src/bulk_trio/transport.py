"""The client's WebSocket: wsproto driven directly on a Trio stream, inside the receiving task.

Why not trio-websocket here (the simulator uses it): its reader task hands every message to
``get_message()`` through a memory channel, two scheduler round trips per frame, which caps a
receiver at ~30-40k frames/s on this class of machine (PERFORMANCE-NOTES.md), below the official
asyncio SDK. Parsing in the consumer's own task and returning every message that one read produced
roughly doubles that. The price is this small module: handshake, fragments, ping/pong, close.
"""

from __future__ import annotations

import ssl
from collections import deque
from urllib.parse import urlsplit

import trio
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    Pong,
    RejectConnection,
    Request,
    TextMessage,
)
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from .errors import ConnectError

RECEIVE_SIZE = 256 * 1024
DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024  # as the official SDK: l2/account snapshots can be big
MESSAGE_TOO_BIG = 1009


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
    ) -> None:
        self._stream = stream
        self._ws = connection
        self._max_message_size = max_message_size
        self._send_lock = trio.Lock()
        self._fragments: list[str] = []
        self._fragment_size = 0
        self._pong_waiters: dict[bytes, trio.Event] = {}
        self._closed = False
        self._ready: deque[str] = deque()
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
        # Frames that arrived with the handshake response are already buffered in wsproto.
        await self._handle_events()
        while not self._ready:
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
            try:
                self._ws.receive_data(data)  # type: ignore[arg-type]  # bytearray works too
            except RemoteProtocolError as exc:
                await self._abort()
                raise TransportClosed(f"WebSocket protocol error from the peer: {exc}") from exc
            await self._handle_events()
        batch = list(self._ready)
        self._ready.clear()
        self.frames_received += len(batch)
        return batch

    async def _handle_events(self) -> None:
        for event in self._ws.events():
            if isinstance(event, TextMessage):
                self._add_fragment(event.data, event.message_finished)
            elif isinstance(event, Ping):
                await self._send(event.response())
            elif isinstance(event, Pong):
                waiter = self._pong_waiters.pop(bytes(event.payload), None)
                if waiter is not None:
                    waiter.set()
            elif isinstance(event, CloseConnection):
                await self._reply_to_close(event)
                raise TransportClosed(
                    f"closed by the peer (code {event.code}, {event.reason or 'no reason'})",
                    event.code,
                )
            elif isinstance(event, BytesMessage):
                pass  # BULK speaks text frames only; a binary frame carries nothing we can use

    def _add_fragment(self, data: str, finished: bool) -> None:
        self._fragment_size += len(data)
        if self._fragment_size > self._max_message_size:
            self._fragments.clear()
            raise TransportClosed(
                f"message larger than max_message_size ({self._max_message_size} bytes)",
                MESSAGE_TOO_BIG,
            )
        if finished and not self._fragments:
            self._ready.append(data)
            self._fragment_size = 0
            return
        self._fragments.append(data)
        if finished:
            self._ready.append("".join(self._fragments))
            self._fragments.clear()
            self._fragment_size = 0

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
            await self._send(event.response())
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
    try:
        await stream.send_all(connection.send(Request(host=host, target=target)))
        while True:
            data = await stream.receive_some(RECEIVE_SIZE)
            if not data:
                raise ConnectError(f"{where} closed the connection during the WebSocket handshake")
            connection.receive_data(data)  # type: ignore[arg-type]
            for event in connection.events():
                if isinstance(event, AcceptConnection):
                    return WebSocketTransport(stream, connection, max_message_size=max_message_size)
                if isinstance(event, RejectConnection):
                    raise ConnectError(
                        f"{where} refused the WebSocket handshake (HTTP {event.status_code})"
                    )
    except (trio.BrokenResourceError, ssl.SSLError, OSError) as exc:
        raise ConnectError(f"cannot connect to {where}: {exc}") from exc
    except RemoteProtocolError as exc:
        raise ConnectError(f"{where} did not answer as a WebSocket server: {exc}") from exc
