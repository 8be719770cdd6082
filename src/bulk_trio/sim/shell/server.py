"""The simulator's WebSocket server: sockets, per-connection queues and the tasks that drain them.

What a request means (:mod:`..client_requests`), which frames engine events become and who gets
them (:mod:`..routing`), candles (:mod:`..candles`) and the frame encoding
(:mod:`..frame_encoding`) are sans-IO modules beside the engine; this module does the I/O.

Everything a request causes happens synchronously in the connection's reader task (parse, engine,
enqueue), so a request is atomic with respect to the feed and to other clients. Frames go out
through a bounded queue per connection drained by that connection's writer task: the engine and the
feed never wait for a client, and a client whose queue overflows is disconnected, as an exchange
would do with a consumer that cannot keep up.

trio-websocket does the handshake, the reading, ping/pong and the closing handshake. Data frames
take a faster path: each message is encoded as a WebSocket frame once, however many subscribers
get it, and a writer sends whatever its queue holds in one ``send_all``. Sending each frame through
``send_message`` (a lock, a syscall and several checkpoints per frame) was most of the server's CPU
under load. Both write through :class:`SharedStream`, whose lock keeps their bytes apart.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import trio
from trio_websocket import (
    ConnectionClosed,
    WebSocketConnection,
    WebSocketRequest,
    wrap_server_stream,
)

from ...limits import EXCHANGE_MAX_MESSAGES_PER_SECOND
from .. import frames
from ..client_requests import (
    MAX_REQUEST_CHARS,
    MAX_SUBSCRIPTIONS,
    POST_SHAPE_PROBLEM,
    BadRequest,
    StreamRequest,
    parse_post,
    parse_request,
    parse_subscriptions,
    parse_unsubscribe,
)
from ..events import EngineEvent
from ..faults import FaultState
from ..frame_encoding import encode_text_frame
from ..message_window import MessageWindow
from ..routing import EngineLike, EventRouter, Outgoing, TopicIndex
from ..stats import SimStats

__all__ = [
    "MAX_REQUEST_CHARS",
    "MAX_SUBSCRIPTIONS",
    "ExchangeServer",
    "PeerConnection",
    "SharedStream",
    "SimStats",
]

log = logging.getLogger("bulk_trio.sim")

_Handler = Callable[["PeerConnection", dict[str, Any]], None]

TRANSPORT_MAX_MESSAGE = 16 << 20
"""Beyond this, trio-websocket itself closes the connection (code 1009)."""
MAX_WRITE_BYTES = 256 * 1024
"""Most bytes a writer hands to the socket at once (a batch always holds at least one frame)."""
POLICY_VIOLATION = 1008
"""The close code of a disconnect for exceeding a limit (RFC 6455 section 7.4.1)."""


# ---------------------------------------------------------------------------------------------
# Connections


class SharedStream(trio.abc.Stream):
    """A TCP stream with two writers, trio-websocket (handshake, pongs, close) and the
    connection's writer (data frames); its lock keeps their writes from interleaving."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self._stream = stream
        self._lock = trio.Lock()

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        async with self._lock:
            await self._stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self._stream.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        return await self._stream.receive_some(max_bytes)

    async def aclose(self) -> None:
        await self._stream.aclose()


class PeerConnection:
    """One client: its socket, its subscriptions and its bounded queue of encoded frames."""

    def __init__(
        self,
        connection_id: int,
        ws: WebSocketConnection,
        stream: SharedStream,
        scope: trio.CancelScope,
        *,
        queue_limit: int,
    ) -> None:
        self.id = connection_id
        self.ws = ws
        self.stream = stream
        self.scope = scope
        self.queue: deque[bytes] = deque()
        self.queue_limit = queue_limit
        self.subscriptions: dict[str, StreamRequest] = {}
        self.frames_sent = 0
        self.frames_left: int | None = None
        """Set by ``drop_after``: the connection is dropped once this many more frames went out."""
        self.closed = False
        self.violation: str | None = None
        """Set when the client broke a limit the exchange disconnects for; the reader acts on it."""
        self.farewell: trio.Event | None = None
        """Set while the server closes the connection politely (close frame, then the reply)."""
        self._wakeup = trio.Event()

    def push(self, frame: bytes) -> bool:
        """Queue an encoded frame; False when the queue is full (the client is too slow)."""
        if len(self.queue) >= self.queue_limit:
            return False
        self.queue.append(frame)
        self._wakeup.set()
        return True

    def take_batch(self, max_bytes: int) -> list[bytes]:
        """Frames to write now: the queue's head, within ``max_bytes`` and the drop budget."""
        limit = len(self.queue) if self.frames_left is None else self.frames_left
        batch = [self.queue.popleft()]
        size = len(batch[0])
        while self.queue and len(batch) < limit and size < max_bytes:
            frame = self.queue.popleft()
            batch.append(frame)
            size += len(frame)
        return batch

    async def wait_for_frames(self) -> None:
        # No checkpoint between the caller seeing an empty queue and parking here, so a push
        # cannot slip in unnoticed.
        self._wakeup = trio.Event()
        await self._wakeup.wait()

    def __repr__(self) -> str:
        return f"<PeerConnection {self.id}>"


# ---------------------------------------------------------------------------------------------
# The server


class ExchangeServer:
    """Speaks the BULK protocol for one engine. The simulator runs its timers and its control
    handle on top: ``publish_events`` for anything the engine reports, ``publish_tickers`` and
    ``publish_snapshots`` once per period, and the drop/broadcast methods for fault injection."""

    def __init__(
        self,
        engine: EngineLike,
        symbols: Iterable[str],
        *,
        faults: FaultState,
        stats: SimStats,
        send_queue_size: int = 10_000,
        max_request_chars: int = MAX_REQUEST_CHARS,
        max_subscriptions: int = MAX_SUBSCRIPTIONS,
        max_messages_per_second: int = EXCHANGE_MAX_MESSAGES_PER_SECOND,
        candle_history: int = 300,
        ping_interval: float | None = 30.0,
        ping_timeout: float = 10.0,
        handshake_timeout: float = 10.0,
    ) -> None:
        self.engine = engine
        self.symbols = tuple(symbols)
        self._symbol_set = frozenset(self.symbols)
        self.faults = faults
        self.stats = stats
        self.send_queue_size = send_queue_size
        self.max_request_chars = max_request_chars
        self.max_subscriptions = max_subscriptions
        self.max_messages_per_second = max_messages_per_second
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.handshake_timeout = handshake_timeout
        self._topics: TopicIndex[PeerConnection] = TopicIndex()
        self.router = EventRouter(
            engine, self.symbols, candle_history=candle_history, subscribed=self._has_subscribers
        )
        self.candles = self.router.candles
        self.volatility = self.router.volatility
        """Per symbol, shown in the tickers' analytics fields (the simulator fills it in)."""
        self.generation = 0
        """Bumped by a restart: a handshake begun before it is not let in after it."""
        self.event_listeners: list[Callable[[Sequence[EngineEvent]], None]] = []
        """Called with every batch of engine events before it is routed (the HTTP API's history
        log listens here, so it sees exactly what the account streams see)."""
        self._connections: dict[int, PeerConnection] = {}
        self._ids = itertools.count(1)
        self._connections_changed = trio.Event()
        self._replies_changed = trio.Event()
        self._methods: dict[str, _Handler] = {
            "subscribe": self._subscribe,
            "unsubscribe": self._unsubscribe,
            "post": self._post,
        }

    # -- registry ---------------------------------------------------------------------------

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    @property
    def connections(self) -> tuple[PeerConnection, ...]:
        return tuple(self._connections.values())

    async def wait_for_connections(self, count: int) -> None:
        """Return once at least ``count`` connections are open (handshake done)."""
        while len(self._connections) < count:
            await self._connections_changed.wait()

    def _notify_connections_changed(self) -> None:
        self._connections_changed.set()
        self._connections_changed = trio.Event()

    def _register(
        self, ws: WebSocketConnection, stream: SharedStream, scope: trio.CancelScope
    ) -> PeerConnection:
        conn = PeerConnection(next(self._ids), ws, stream, scope, queue_limit=self.send_queue_size)
        self._connections[conn.id] = conn
        self.stats.connections_accepted += 1
        self._notify_connections_changed()
        return conn

    def _close(self, conn: PeerConnection) -> None:
        """Forget a connection at once (subscriptions, held replies) and stop its tasks."""
        if conn.closed:
            return
        conn.closed = True
        self._connections.pop(conn.id, None)
        for topic in conn.subscriptions:
            self._topics.discard(topic, conn.id)
        self.faults.replies.forget(conn.id)
        conn.scope.cancel()
        self._notify_connections_changed()

    def drop(self, conn: PeerConnection, reason: str) -> None:
        """Close a connection abruptly (TCP close, no WebSocket close frame): fault injection."""
        if conn.closed:
            return
        log.info("simulator: dropping connection %d (%s)", conn.id, reason)
        self.stats.connections_dropped += 1
        self._close(conn)

    def drop_all(self, reason: str) -> None:
        for conn in self.connections:
            self.drop(conn, reason)

    def drop_after(self, frame_count: int) -> None:
        """Give every open connection a budget of ``frame_count`` more frames, then drop it."""
        for conn in self._connections.values():
            conn.frames_left = frame_count

    # -- sending ----------------------------------------------------------------------------

    def send(self, conn: PeerConnection, frame: str) -> None:
        self._push(conn, encode_text_frame(frame))

    def _push(self, conn: PeerConnection, encoded: bytes) -> None:
        if conn.closed:
            return
        if not conn.push(encoded):
            log.warning(
                "simulator: connection %d is too slow (%d frames queued); disconnecting it",
                conn.id,
                len(conn.queue),
            )
            self.stats.slow_disconnects += 1
            self._close(conn)

    def send_to(self, connection_id: int, frame: str) -> None:
        """Send to a connection by id; nothing happens if it is gone."""
        conn = self._connections.get(connection_id)
        if conn is not None:
            self.send(conn, frame)

    def broadcast(self, frame: str) -> None:
        encoded = encode_text_frame(frame)
        for conn in self.connections:
            self._push(conn, encoded)

    def _fan_out(self, topic: str, frame: str) -> None:
        subscribers = self._topics.subscribers(topic)
        if subscribers:
            encoded = encode_text_frame(frame)
            for conn in subscribers:
                self._push(conn, encoded)

    def publish_market_frame(self, topic: str, frame: str) -> None:
        """Send a ready market-data frame to ``topic``'s subscribers (a replayed ticker), unless
        the market is silenced."""
        if not self._market_muted():
            self._fan_out(topic, frame)

    def _fan_out_all(self, outgoing: Iterable[Outgoing]) -> None:
        for topic, frame in outgoing:
            self._fan_out(topic, frame)

    def _has_subscribers(self, topic: str) -> bool:
        return topic in self._topics

    def _market_muted(self) -> bool:
        return self.faults.silence.active(trio.current_time())

    # -- connection tasks -------------------------------------------------------------------

    async def handle_stream(self, stream: trio.abc.Stream) -> None:
        """Serve one TCP connection: handshake (or refusal), then reader, writer and pinger."""
        scope = trio.CancelScope()
        conn: PeerConnection | None = None
        generation = self.generation
        shared = SharedStream(stream)
        try:
            with scope:
                async with trio.open_nursery() as nursery:
                    request: WebSocketRequest | None = None
                    with trio.move_on_after(self.handshake_timeout):
                        request = await wrap_server_stream(
                            nursery,
                            shared,
                            message_queue_size=64,
                            max_message_size=TRANSPORT_MAX_MESSAGE,
                        )
                    if request is None or generation != self.generation:
                        nursery.cancel_scope.cancel()
                        return
                    if self.faults.refusal.active(trio.current_time()):
                        self.stats.connections_refused += 1
                        await request.reject(503, body=b"simulator: refusing connections\n")
                        nursery.cancel_scope.cancel()
                        return
                    ws = await request.accept()
                    conn = self._register(ws, shared, scope)
                    nursery.start_soon(self._write_loop, conn)
                    if self.ping_interval is not None:
                        nursery.start_soon(self._ping_loop, conn, self.ping_interval)
                    await self._read_loop(conn)
                    nursery.cancel_scope.cancel()
        except Exception:
            # A bug while serving one client must not take the others down with it.
            log.exception("simulator: connection failed")
        finally:
            if conn is not None:
                self._close(conn)
            await trio.aclose_forcefully(stream)

    async def _read_loop(self, conn: PeerConnection) -> None:
        window = MessageWindow(self.max_messages_per_second)
        while True:
            try:
                message = await conn.ws.get_message()
            except ConnectionClosed:
                if conn.farewell is not None:  # let the close handshake finish first
                    await conn.farewell.wait()
                return
            if not window.allow(trio.current_time()):
                conn.violation = (
                    f"rate limit: more than {self.max_messages_per_second} messages in one second"
                )
            else:
                self.handle_message(conn, message)
            if conn.violation is not None:
                await self._disconnect_for_violation(conn, conn.violation)
                return

    async def _disconnect_for_violation(self, conn: PeerConnection, reason: str) -> None:
        """As the exchange does for a broken limit: a close frame naming it, then gone."""
        log.info("simulator: disconnecting connection %d (%s)", conn.id, reason)
        self.stats.limit_disconnects += 1
        await self._close_politely(conn, POLICY_VIOLATION, reason)

    async def _close_politely(self, conn: PeerConnection, code: int, reason: str) -> None:
        conn.farewell = trio.Event()
        try:
            with trio.move_on_after(1.0):  # a client that never answers is dropped after it
                await conn.ws.aclose(code, reason)
        finally:
            conn.farewell.set()
            self._close(conn)

    async def close_all(self, code: int, reason: str) -> None:
        """Close every connection with a close frame (``code``, ``reason``), concurrently."""
        async with trio.open_nursery() as nursery:
            for conn in self.connections:
                nursery.start_soon(self._close_politely, conn, code, reason)

    async def _write_loop(self, conn: PeerConnection) -> None:
        try:
            while True:
                if not conn.queue:
                    await conn.wait_for_frames()
                    continue
                if conn.ws.closed is not None:
                    return  # closing: no data frames may follow the close frame
                batch = conn.take_batch(MAX_WRITE_BYTES)
                await conn.stream.send_all(b"".join(batch))
                conn.frames_sent += len(batch)
                self.stats.frames_sent += len(batch)
                if conn.frames_left is not None:
                    conn.frames_left -= len(batch)
                    if conn.frames_left <= 0:
                        self.drop(conn, "drop_after budget spent")
                        return
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self._close(conn)

    async def _ping_loop(self, conn: PeerConnection, interval: float) -> None:
        """Keepalive (docs/protocol.md, "Transport"): a ping every ``interval``; no pong in time
        drops the client."""
        while True:
            await trio.sleep(interval)
            with trio.move_on_after(self.ping_timeout) as waiting:
                try:
                    await conn.ws.ping()
                except ConnectionClosed:
                    return
            if waiting.cancelled_caught:
                self.stats.ping_timeouts += 1
                log.info("simulator: connection %d did not answer a ping", conn.id)
                self._close(conn)
                return

    # -- requests ---------------------------------------------------------------------------

    def handle_message(self, conn: PeerConnection, message: str | bytes) -> None:
        """Handle one client frame. Anything wrong with it is answered with an ``error`` frame."""
        try:
            method, request = parse_request(message, max_chars=self.max_request_chars)
            self._methods[method](conn, request)
        except BadRequest as problem:
            self.stats.bad_requests += 1
            self.send(conn, frames.error(str(problem)))
        except Exception:
            log.exception("simulator: request failed")
            self.stats.bad_requests += 1
            self.send(conn, frames.error("internal error while handling the request"))

    def _subscribe(self, conn: PeerConnection, request: dict[str, Any]) -> None:
        subscriptions = parse_subscriptions(request.get("subscription"), self._symbol_set)
        added = {sub.topic for sub in subscriptions} - conn.subscriptions.keys()
        if len(conn.subscriptions) + len(added) > self.max_subscriptions:
            conn.violation = (
                f"too many subscriptions: at most {self.max_subscriptions} per connection"
            )
            return
        for sub in subscriptions:
            conn.subscriptions[sub.topic] = sub
            self._topics.add(sub.topic, conn.id, conn)
        self.send(conn, frames.subscription_response([sub.topic for sub in subscriptions]))
        muted = self._market_muted()
        for sub in subscriptions:
            for frame in self.router.initial(sub, muted=muted):
                self.send(conn, frame)

    def _unsubscribe(self, conn: PeerConnection, request: dict[str, Any]) -> None:
        topic = parse_unsubscribe(request)
        if conn.subscriptions.pop(topic, None) is None:
            raise BadRequest(f"not subscribed to {topic!r}")
        self._topics.discard(topic, conn.id)
        self.send(conn, frames.unsubscribe_response(topic))

    def _post(self, conn: PeerConnection, request: dict[str, Any]) -> None:
        post = parse_post(request)
        request_id, payload = post.request_id, post.payload
        if payload is None:
            self._deliver_reply(conn, frames.post_error(request_id, POST_SHAPE_PROBLEM))
            return
        self.stats.posts_handled += 1
        try:
            submission = self.engine.submit(payload, now_ns=time.time_ns())
        except Exception:
            log.exception("simulator: the engine failed on a transaction")
            self._deliver_reply(conn, frames.post_error(request_id, "internal error"))
            return
        if submission.ok:
            reply = frames.post_ok(request_id, submission.statuses)
        else:
            reply = frames.post_error(request_id, submission.message or "transaction refused")
        # The reply is queued before the events it caused, so a client sees its ack first.
        self._deliver_reply(conn, reply)
        self.publish_events(submission.events)

    def _deliver_reply(self, conn: PeerConnection, frame: str) -> None:
        if self.faults.replies.hold(conn.id, frame, now=trio.current_time()):
            self._replies_changed.set()
        else:
            self.send(conn, frame)

    async def run_delayed_replies(self) -> None:
        """Send delayed post replies when they fall due. Runs for the server's lifetime."""
        while True:
            self._replies_changed = trio.Event()
            for held in self.faults.replies.pop_due(now=trio.current_time()):
                self.send_to(held.connection_id, held.frame)
            due = self.faults.replies.next_due()
            with trio.move_on_at(math.inf if due is None else due):
                await self._replies_changed.wait()

    def release_replies(self) -> int:
        """Send every withheld reply (to connections still open); returns how many were withheld."""
        released = self.faults.replies.release_withheld()
        for held in released:
            self.send_to(held.connection_id, held.frame)
        return len(released)

    # -- publishing -------------------------------------------------------------------------

    def publish_events(self, events: Iterable[EngineEvent]) -> None:
        """Send what engine events mean to their subscribers, in the order the engine reported
        them (see :meth:`EventRouter.route`)."""
        events = tuple(events)
        for listener in self.event_listeners:
            listener(events)
        self._fan_out_all(self.router.route(events, muted=self._market_muted()))

    def publish_tickers(self) -> None:
        """One ticker per symbol to its subscribers (built once, shared by all of them)."""
        if not self._market_muted():
            self._fan_out_all(self.router.tickers())

    def publish_snapshots(self, symbols: Iterable[str] | None = None) -> None:
        """One l2Snapshot per symbol (all, or ``symbols``) and distinct (nlevels, aggregation)
        among its subscribers."""
        if self._market_muted():
            return
        now_ns = self.router.now_ns()
        for symbol in self.symbols if symbols is None else symbols:
            topic = frames.market_topic("l2Snapshot", symbol)
            subscribers = self._topics.subscribers(topic)
            if not subscribers:
                continue
            bids, asks = self.engine.book(symbol)
            built: dict[tuple[int | None, float | None], bytes] = {}
            for conn in subscribers:
                sub = conn.subscriptions[topic]
                key = (sub.nlevels, sub.aggregation)
                encoded = built.get(key)
                if encoded is None:
                    frame = self.router.snapshot(sub, bids, asks, now_ns)
                    encoded = built[key] = encode_text_frame(frame)
                self._push(conn, encoded)
