"""The simulator's WebSocket server: connections, subscriptions, and engine events routed to them.

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

import calendar
import datetime
import itertools
import logging
import math
import struct
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

import attrs
import orjson
import trio
from trio_websocket import (
    ConnectionClosed,
    WebSocketConnection,
    WebSocketRequest,
    wrap_server_stream,
)

from ...protocol.keys import decode_32
from .. import frames
from ..events import (
    AccountView,
    EngineEvent,
    Filled,
    LevelChanged,
    LeverageChanged,
    MarginChanged,
    OrderChanged,
    PositionChanged,
    Submission,
    TradeExecuted,
)
from ..faults import FaultState

log = logging.getLogger("bulk_trio.sim")

_Item = TypeVar("_Item")
_Handler = Callable[["PeerConnection", dict[str, Any]], None]

MAX_REQUEST_CHARS = 1 << 20
"""Largest request handled; a bigger one gets an ``error`` frame and the connection stays up."""
TRANSPORT_MAX_MESSAGE = 16 << 20
"""Beyond this, trio-websocket itself closes the connection (code 1009)."""
MAX_WRITE_BYTES = 256 * 1024
"""Most bytes a writer hands to the socket at once (a batch always holds at least one frame)."""
MAX_SUBSCRIPTIONS = 100
"""Per connection, as docs/protocol.md documents for the exchange."""


class EngineLike(Protocol):
    """The part of the sans-IO engine the server uses."""

    def submit(self, payload: dict[str, Any], *, now_ns: int) -> Submission: ...
    def book(
        self, symbol: str, depth: int | None = None
    ) -> tuple[Sequence[frames.Level], Sequence[frames.Level]]: ...
    def market(self, symbol: str) -> frames.MarketStatsLike: ...
    def account_view(self, account: str) -> AccountView: ...


@attrs.define
class SimStats:
    """Counters for tests and benchmarks. They only ever grow."""

    frames_sent: int = 0
    posts_handled: int = 0
    bad_requests: int = 0
    """Requests answered with an ``error`` frame."""
    connections_accepted: int = 0
    connections_refused: int = 0
    connections_dropped: int = 0
    """Connections closed by fault injection (drop_connections, drop_after, restart)."""
    slow_disconnects: int = 0
    """Connections closed because their send queue overflowed."""
    ping_timeouts: int = 0
    feed_steps: int = 0


class BadRequest(ValueError):
    """A request the server answers with an ``error`` frame; the message says what was wrong."""


# ---------------------------------------------------------------------------------------------
# Candles


_SECOND_MS = 1_000
_MINUTE_MS = 60 * _SECOND_MS
_HOUR_MS = 60 * _MINUTE_MS
_DAY_MS = 24 * _HOUR_MS
INTERVAL_MS: dict[str, int] = {
    "10s": 10 * _SECOND_MS,
    "1m": _MINUTE_MS,
    "3m": 3 * _MINUTE_MS,
    "5m": 5 * _MINUTE_MS,
    "15m": 15 * _MINUTE_MS,
    "30m": 30 * _MINUTE_MS,
    "1h": _HOUR_MS,
    "2h": 2 * _HOUR_MS,
    "4h": 4 * _HOUR_MS,
    "6h": 6 * _HOUR_MS,
    "8h": 8 * _HOUR_MS,
    "12h": 12 * _HOUR_MS,
    "1d": _DAY_MS,
    "3d": 3 * _DAY_MS,
    "1w": 7 * _DAY_MS,
    "1M": 0,  # calendar month: see candle_bounds
}
"""The candle intervals of docs/protocol.md and their length (``1M``, a month, varies)."""
INTERVAL_SPELLINGS: dict[str, str] = {name: name for name in INTERVAL_MS} | {
    f"{minutes}min": f"{minutes}m" for minutes in (1, 3, 5, 15, 30)
}
"""Every accepted spelling (decision 5: the ``1m`` and ``1min`` families) to its canonical name."""
_MONDAY_OFFSET_MS = 4 * _DAY_MS  # the epoch was a Thursday; weekly candles open on Mondays


def candle_bounds(interval: str, time_ms: int) -> tuple[int, int]:
    """Open and close time (ms) of the ``interval`` candle at ``time_ms`` (close = next open)."""
    if interval == "1M":
        moment = datetime.datetime.fromtimestamp(time_ms / 1000, tz=datetime.UTC)
        next_year, next_month = divmod(moment.year * 12 + moment.month, 12)
        opened = calendar.timegm((moment.year, moment.month, 1, 0, 0, 0))
        closed = calendar.timegm((next_year, next_month + 1, 1, 0, 0, 0))
        return opened * 1000, closed * 1000
    length = INTERVAL_MS[interval]
    offset = _MONDAY_OFFSET_MS if interval == "1w" else 0
    opened = (time_ms - offset) // length * length + offset
    return opened, opened + length


@attrs.define
class CandleBar:
    open_time: int
    close_time: int
    open: float
    high: float
    low: float
    close: float
    volume: float = 0.0
    trades: int = 0


class CandleBook:
    """OHLCV bars of every symbol and interval, built from public trades, with a bounded history
    per series for the backfill a candle subscription starts with."""

    def __init__(self, history: int) -> None:
        self._history = history
        self._current: dict[tuple[str, str], CandleBar] = {}
        self._closed: dict[tuple[str, str], deque[CandleBar]] = {}

    def record(self, symbol: str, price: float, size: float, time_ms: int) -> None:
        for interval in INTERVAL_MS:
            key = (symbol, interval)
            bar = self._current.get(key)
            if bar is None or time_ms >= bar.close_time:
                if bar is not None:
                    self._closed.setdefault(key, deque(maxlen=self._history)).append(bar)
                opened, closes = candle_bounds(interval, time_ms)
                bar = CandleBar(opened, closes, price, price, price, price)
                self._current[key] = bar
            # A trade stamped slightly before the current bar (clock skew) is folded into it.
            bar.high = max(bar.high, price)
            bar.low = min(bar.low, price)
            bar.close = price
            bar.volume += size
            bar.trades += 1

    def current(self, symbol: str, interval: str) -> CandleBar | None:
        return self._current.get((symbol, interval))

    def backfill(self, symbol: str, interval: str) -> list[CandleBar]:
        """Up to ``history`` most recent bars, oldest first, the current one last."""
        bars = list(self._closed.get((symbol, interval), ()))
        current = self._current.get((symbol, interval))
        if current is not None:
            bars.append(current)
        return bars[-self._history :] if self._history else []


# ---------------------------------------------------------------------------------------------
# Subscriptions


@attrs.frozen
class StreamRequest:
    """One validated subscription; ``topic`` is its key on the connection."""

    kind: str
    topic: str
    symbol: str | None = None
    nlevels: int | None = None
    aggregation: float | None = None
    interval: str | None = None
    """The canonical interval (``1m``); the topic keeps the client's spelling."""
    user: str | None = None


_MARKET_KINDS = frozenset({"ticker", "trades", "l2Snapshot", "l2Delta", "candle"})


def _symbol(entry: Mapping[str, object], symbols: frozenset[str]) -> str:
    symbol = entry.get("symbol")
    if symbol is None:
        raise BadRequest(f"{entry.get('type')} subscription needs a symbol")
    if not isinstance(symbol, str):
        raise BadRequest(f"symbol must be a string, got {symbol!r}")
    if symbol not in symbols:
        raise BadRequest(f"unknown symbol {symbol!r} (this simulator lists {sorted(symbols)})")
    return symbol


def _pubkey(user: object) -> str:
    try:
        decode_32(user, field="user")  # never echoes the text: it may be a misplaced private key
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    assert isinstance(user, str)
    return user


def _nlevels(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise BadRequest(f"nlevels must be a positive integer, got {value!r}")
    return value


def _aggregation(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequest(f"aggregation must be a number, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise BadRequest(f"aggregation must be positive, got {value!r}")
    return float(value)


def parse_subscriptions(entries: object, symbols: frozenset[str]) -> list[StreamRequest]:
    """Validate the ``subscription`` array of a subscribe request (docs/protocol.md).

    All or nothing: the first bad entry raises :class:`BadRequest` and nothing is subscribed.
    An account entry with a list of users yields one subscription per user.
    """
    if not isinstance(entries, list) or not entries:
        raise BadRequest("subscription must be a non-empty array of subscription objects")
    parsed: list[StreamRequest] = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise BadRequest(f"a subscription must be an object, got {entry!r}")
        kind = entry.get("type")
        if kind == "account":
            users = entry.get("user")
            listed = users if isinstance(users, list) else [users]
            if not listed:
                raise BadRequest("account subscription needs at least one user")
            for user in listed:
                pubkey = _pubkey(user)
                parsed.append(StreamRequest("account", frames.account_topic(pubkey), user=pubkey))
            continue
        if not isinstance(kind, str) or kind not in _MARKET_KINDS:
            raise BadRequest(f"unknown subscription type {kind!r}")
        symbol = _symbol(entry, symbols)
        if kind == "candle":
            spelling = entry.get("interval")
            canonical = INTERVAL_SPELLINGS.get(spelling) if isinstance(spelling, str) else None
            if spelling is None or canonical is None:
                raise BadRequest(
                    f"candle interval must be one of {list(INTERVAL_MS)}, got {spelling!r}"
                )
            topic = frames.candle_topic(symbol, str(spelling))
            parsed.append(StreamRequest(kind, topic, symbol=symbol, interval=canonical))
        elif kind == "l2Snapshot":
            nlevels = _nlevels(entry.get("nlevels"))
            aggregation = _aggregation(entry.get("aggregation"))
            topic = frames.market_topic(kind, symbol)
            parsed.append(StreamRequest(kind, topic, symbol, nlevels, aggregation))
        else:
            parsed.append(StreamRequest(kind, frames.market_topic(kind, symbol), symbol=symbol))
    return parsed


# ---------------------------------------------------------------------------------------------
# Connections


def encode_text_frame(text: str) -> bytes:
    """One unmasked, unfragmented WebSocket text frame (RFC 6455 §5.2), as a server sends it."""
    payload = text.encode()
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x81, length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", 0x81, 126, length)
    else:
        header = struct.pack("!BBQ", 0x81, 127, length)
    return header + payload


class SharedStream(trio.abc.Stream):
    """A TCP stream with two writers, trio-websocket (handshake, pongs, close) and the
    connection's writer (data frames); its lock keeps their writes from interleaving."""

    def __init__(self, stream: trio.SocketStream) -> None:
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
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.handshake_timeout = handshake_timeout
        self.candles = CandleBook(candle_history)
        self.volatility: dict[str, float] = {}
        """Per symbol, shown in the tickers' analytics fields (the simulator fills it in)."""
        self.generation = 0
        """Bumped by a restart: a handshake begun before it is not let in after it."""
        self.event_listeners: list[Callable[[Sequence[EngineEvent]], None]] = []
        """Called with every batch of engine events before it is routed (the HTTP API's history
        log listens here, so it sees exactly what the account streams see)."""
        self._connections: dict[int, PeerConnection] = {}
        self._topics: dict[str, dict[int, PeerConnection]] = {}
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
            subscribers = self._topics.get(topic)
            if subscribers is not None:
                subscribers.pop(conn.id, None)
                if not subscribers:
                    del self._topics[topic]
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
        subscribers = self._topics.get(topic)
        if subscribers:
            encoded = encode_text_frame(frame)
            for conn in tuple(subscribers.values()):
                self._push(conn, encoded)

    def _market_muted(self) -> bool:
        return self.faults.silence.active(trio.current_time())

    # -- connection tasks -------------------------------------------------------------------

    async def handle_stream(self, stream: trio.SocketStream) -> None:
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
        while True:
            try:
                message = await conn.ws.get_message()
            except ConnectionClosed:
                return
            self.handle_message(conn, message)

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
        """Keepalive (§1.2): a ping every ``interval``; no pong in time drops the client."""
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
            handler, request = self._parse(message)
            handler(conn, request)
        except BadRequest as problem:
            self.stats.bad_requests += 1
            self.send(conn, frames.error(str(problem)))
        except Exception:
            log.exception("simulator: request failed")
            self.stats.bad_requests += 1
            self.send(conn, frames.error("internal error while handling the request"))

    def _parse(self, message: str | bytes) -> tuple[_Handler, dict[str, Any]]:
        if isinstance(message, bytes):
            raise BadRequest("binary frames are not supported: send JSON text frames")
        if len(message) > self.max_request_chars:
            raise BadRequest(
                f"request of {len(message)} characters is over the {self.max_request_chars} limit"
            )
        try:
            request = orjson.loads(message)
        except orjson.JSONDecodeError:
            raise BadRequest("request is not valid JSON") from None
        if not isinstance(request, dict):
            raise BadRequest("a request must be a JSON object")
        method = request.get("method")
        handler = self._methods.get(method) if isinstance(method, str) else None
        if handler is None:
            raise BadRequest(f"unknown method {method!r} (expected subscribe, unsubscribe or post)")
        return handler, request

    def _subscribe(self, conn: PeerConnection, request: dict[str, Any]) -> None:
        subscriptions = parse_subscriptions(request.get("subscription"), self._symbol_set)
        added = {sub.topic for sub in subscriptions} - conn.subscriptions.keys()
        if len(conn.subscriptions) + len(added) > self.max_subscriptions:
            raise BadRequest(
                f"too many subscriptions: at most {self.max_subscriptions} per connection"
            )
        for sub in subscriptions:
            conn.subscriptions[sub.topic] = sub
            self._topics.setdefault(sub.topic, {})[conn.id] = conn
        self.send(conn, frames.subscription_response([sub.topic for sub in subscriptions]))
        for sub in subscriptions:
            self._send_initial(conn, sub)

    def _send_initial(self, conn: PeerConnection, sub: StreamRequest) -> None:
        """What a subscription starts with, queued right behind the subscriptionResponse."""
        if sub.kind == "account":
            assert sub.user is not None
            self.send(conn, frames.account_snapshot(sub.user, self.engine.account_view(sub.user)))
            return
        if self._market_muted():
            return
        assert sub.symbol is not None
        now_ns = time.time_ns()
        if sub.kind == "l2Delta":
            bids, asks = self.engine.book(sub.symbol)
            self.send(conn, frames.book("l2Delta", sub.symbol, bids, asks, timestamp=now_ns))
        elif sub.kind == "l2Snapshot":
            self.send(conn, self._snapshot_frame(sub, *self.engine.book(sub.symbol), now_ns))
        elif sub.kind == "ticker":
            self.send(conn, self._ticker_frame(sub.symbol, now_ns))
        elif sub.kind == "candle":
            assert sub.interval is not None
            spelling = sub.topic.rsplit(".", 1)[1]
            for bar in self.candles.backfill(sub.symbol, sub.interval):
                self.send(conn, frames.candle(sub.symbol, spelling, bar))

    def _unsubscribe(self, conn: PeerConnection, request: dict[str, Any]) -> None:
        topic = request.get("topic")
        if not isinstance(topic, str):
            raise BadRequest(f"unsubscribe needs a topic string, got {topic!r}")
        if conn.subscriptions.pop(topic, None) is None:
            raise BadRequest(f"not subscribed to {topic!r}")
        subscribers = self._topics.get(topic)
        if subscribers is not None:
            subscribers.pop(conn.id, None)
            if not subscribers:
                del self._topics[topic]
        self.send(conn, frames.unsubscribe_response(topic))

    def _post(self, conn: PeerConnection, request: dict[str, Any]) -> None:
        request_id = request.get("id")
        if isinstance(request_id, bool) or not isinstance(request_id, int) or request_id < 0:
            raise BadRequest(f"post needs a non-negative integer id, got {request_id!r}")
        body = request.get("request")
        payload = body.get("payload") if isinstance(body, dict) else None
        if (
            not isinstance(body, dict)
            or body.get("type") != "action"
            or not isinstance(payload, dict)
        ):
            message = 'post request must be {"type": "action", "payload": {...transaction...}}'
            self._deliver_reply(conn, frames.post_error(request_id, message))
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
        """Route engine events: book levels to l2Delta, trades (one frame per symbol) and candles,
        account events to the account's subscribers, in the order the engine reported them."""
        events = tuple(events)
        for listener in self.event_listeners:
            listener(events)
        muted = self._market_muted()
        trades_by_symbol: dict[str, list[TradeExecuted]] = {}
        now_ns = 0
        for event in events:
            if isinstance(event, LevelChanged):
                topic = f"l2Delta.{event.symbol}"
                if not muted and topic in self._topics:
                    now_ns = now_ns or time.time_ns()
                    self._fan_out(topic, frames.level_delta(event, timestamp=now_ns))
            elif isinstance(event, TradeExecuted):
                trades_by_symbol.setdefault(event.symbol, []).append(event)
            elif isinstance(event, OrderChanged):
                self._to_account(event.order.account, frames.order_update, event.order)
            elif isinstance(event, Filled):
                self._to_account(event.account, frames.fill, event)
            elif isinstance(event, PositionChanged):
                self._to_account(event.position.account, frames.position_update, event.position)
            elif isinstance(event, MarginChanged):
                self._to_account(event.margin.account, frames.margin_update, event.margin)
            elif isinstance(event, LeverageChanged):
                self._to_account(event.account, frames.leverage_update, event)
        for symbol, executed in trades_by_symbol.items():
            for trade in executed:
                self.candles.record(symbol, trade.price, trade.size, trade.time_ms)
            if muted:
                continue
            topic = frames.market_topic("trades", symbol)
            if topic in self._topics:
                self._fan_out(topic, frames.trades(symbol, executed))
            self._publish_candles(symbol)

    def _to_account(self, account: str, build: Callable[[_Item], str], item: _Item) -> None:
        topic = frames.account_topic(account)
        if topic in self._topics:
            self._fan_out(topic, build(item))

    def _publish_candles(self, symbol: str) -> None:
        for spelling, interval in INTERVAL_SPELLINGS.items():
            topic = frames.candle_topic(symbol, spelling)
            if topic in self._topics:
                bar = self.candles.current(symbol, interval)
                if bar is not None:
                    self._fan_out(topic, frames.candle(symbol, spelling, bar))

    def _ticker_frame(self, symbol: str, now_ns: int) -> str:
        bids, asks = self.engine.book(symbol, 1)
        mid = (bids[0][0] + asks[0][0]) / 2 if bids and asks else None
        return frames.ticker(
            symbol,
            self.engine.market(symbol),
            timestamp=now_ns,
            fair_book_price=mid,
            volatility=self.volatility.get(symbol, 0.0),
        )

    def publish_tickers(self) -> None:
        """One ticker per symbol to its subscribers (built once, shared by all of them)."""
        if self._market_muted():
            return
        now_ns = time.time_ns()
        for symbol in self.symbols:
            topic = frames.market_topic("ticker", symbol)
            if topic in self._topics:
                self._fan_out(topic, self._ticker_frame(symbol, now_ns))

    def _snapshot_frame(
        self,
        sub: StreamRequest,
        bids: Sequence[frames.Level],
        asks: Sequence[frames.Level],
        now_ns: int,
    ) -> str:
        assert sub.symbol is not None
        if sub.aggregation is not None:
            bids = frames.aggregate_levels(bids, sub.aggregation, is_bid=True)
            asks = frames.aggregate_levels(asks, sub.aggregation, is_bid=False)
        if sub.nlevels is not None:
            bids, asks = bids[: sub.nlevels], asks[: sub.nlevels]
        return frames.book("l2Snapshot", sub.symbol, bids, asks, timestamp=now_ns)

    def publish_snapshots(self) -> None:
        """One l2Snapshot per symbol and distinct (nlevels, aggregation) among its subscribers."""
        if self._market_muted():
            return
        now_ns = time.time_ns()
        for symbol in self.symbols:
            subscribers = self._topics.get(frames.market_topic("l2Snapshot", symbol))
            if not subscribers:
                continue
            bids, asks = self.engine.book(symbol)
            built: dict[tuple[int | None, float | None], bytes] = {}
            for conn in tuple(subscribers.values()):
                sub = conn.subscriptions[frames.market_topic("l2Snapshot", symbol)]
                key = (sub.nlevels, sub.aggregation)
                encoded = built.get(key)
                if encoded is None:
                    frame = self._snapshot_frame(sub, bids, asks, now_ns)
                    encoded = built[key] = encode_text_frame(frame)
                self._push(conn, encoded)
