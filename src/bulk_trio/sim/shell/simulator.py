"""A local BULK exchange: a real WebSocket server on loopback that speaks docs/protocol.md.

``open_simulator()`` starts the engine, the synthetic market and the server in a nursery that its
``async with`` block owns, and hands back a :class:`Simulator`: the control handle tests use to
fund accounts, move prices and inject faults. Everything stops when the block ends.

    async with open_simulator(symbols=["BTC-USD"], seed=1) as sim:
        async with trio_websocket.open_websocket_url(sim.url) as ws:
            ...
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import math
import ssl
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager

import trio

from ...actions import Action
from ...limits import EXCHANGE_MAX_MESSAGES_PER_SECOND
from ...markets import Market
from ...protocol.keys import decode_32
from ..client_requests import MAX_REQUEST_CHARS, MAX_SUBSCRIPTIONS
from ..conditional import StopFlag
from ..engine import (
    DEFAULT_FINISHED_MEMORY,
    DEFAULT_MAKER_FEE_BPS,
    DEFAULT_TAKER_FEE_BPS,
    Engine,
)
from ..events import EngineEvent, Submission
from ..faults import FaultState
from ..feed import FeedSettings, MarketFeed, start_prices
from ..history import DEFAULT_MAX_ROWS, HistoryLog
from ..http_api import API_PREFIX, HttpFaults, SimHttpApi
from ..market_defaults import default_markets
from ..stats import SimStats
from .http_server import HttpServer
from .server import ExchangeServer
from .tls import SimulatorTLS, make_tls

__all__ = ["FeedSettings", "SimStats", "Simulator", "open_simulator"]

log = logging.getLogger("bulk_trio.sim")

NETWORKS = ("mainnet", "testnet", "devnet")
DEFAULT_SYMBOLS = ("BTC-USD", "ETH-USD", "SOL-USD")
DEFAULT_MALFORMED = '{"type": "ticker", "topic": "ticker.BTC-USD", "data": {"ticker": {"symb'
"""What :meth:`Simulator.send_malformed` sends by default: a frame cut off mid-JSON."""


class Simulator:
    """The control handle of a running simulator. Get one from :func:`open_simulator`.

    Fault injection affects the connections open at the time of the call unless a method says
    otherwise. Read-only state for assertions is in :attr:`engine` and :attr:`stats`.
    """

    def __init__(
        self,
        *,
        engine: Engine,
        feed: MarketFeed,
        server: ExchangeServer,
        faults: FaultState,
        host: str,
        port: int,
        network: str,
        nursery: trio.Nursery,
        tls: SimulatorTLS | None = None,
    ) -> None:
        self.engine = engine
        """The sans-IO engine: read its state (``book``, ``account_view``, ``order``, ...) in
        tests. Change it only through this handle, so that subscribers hear about it."""
        self.feed = feed
        self.stats: SimStats = server.stats
        """Counters: frames sent, posts handled, bad requests, connections accepted/refused/
        dropped, slow-client disconnects, feed steps."""
        self.network = network
        self.host = host
        self.port = port
        """The TCP port (the one the OS picked when started with ``port=0``). Stays the same
        across :meth:`restart`."""
        self._server = server
        self._faults = faults
        self._nursery = nursery
        self._listen_scope = trio.CancelScope()
        self._listen_done = trio.Event()
        self.http_port: int | None = None
        """The HTTP API's TCP port (None when started with ``http=False``)."""
        self.http_faults = HttpFaults()
        self.history: HistoryLog | None = None
        """The accounts' fills, finished orders and closed positions, as ``POST /account``
        serves them."""
        self._tls = tls
        self.ssl_context: ssl.SSLContext | None = tls.client_context if tls else None
        """With ``tls=True``: an SSL context that trusts this run's throwaway certificate
        authority; pass it to ``open_bulk_client(sim.url, ssl_context=sim.ssl_context)``."""
        self.ca_pem: bytes | None = tls.ca_pem if tls else None
        """With ``tls=True``: that certificate authority in PEM form (for ``--ca-file``)."""

    def __repr__(self) -> str:
        return f"<Simulator {self.url} {self.network} {', '.join(self.symbols)}>"

    @property
    def url(self) -> str:
        """``ws://127.0.0.1:<port>`` (``wss://`` with ``tls=True``): what a client connects to."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'wss' if self._tls else 'ws'}://{host}:{self.port}"

    @property
    def http_url(self) -> str:
        """``http://127.0.0.1:<port>/api/v1`` (``https://`` with ``tls=True``): the HTTP API's
        base URL (docs/http-api.md)."""
        if self.http_port is None:
            raise RuntimeError("this simulator was started with http=False")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self._tls else 'http'}://{host}:{self.http_port}{API_PREFIX}"

    @property
    def markets(self) -> dict[str, Market]:
        """The trading rules per symbol that the engine enforces and exchangeInfo serves."""
        return dict(self.engine.markets)

    @property
    def symbols(self) -> tuple[str, ...]:
        return self.engine.symbols

    # -- connections ------------------------------------------------------------------------

    @property
    def connection_count(self) -> int:
        """Connections open now (handshake completed, not yet closed or dropped)."""
        return self._server.connection_count

    async def wait_for_connections(self, count: int) -> None:
        """Return as soon as at least ``count`` connections are open. Dropped connections stop
        counting at once, so after :meth:`drop_connections` this waits for reconnections."""
        await self._server.wait_for_connections(count)

    # -- market and accounts ----------------------------------------------------------------

    def fund(self, pubkey: str, amount: float) -> None:
        """Credit ``amount`` to the account ``pubkey`` (it counts as funded from then on); its
        subscribers get a marginUpdate."""
        self.publish(self.engine.fund(pubkey, amount, now_ns=time.time_ns()))

    def set_mark(self, symbol: str, price: float) -> None:
        """Set the mark and oracle price of ``symbol`` now (positions are revalued and their
        owners hear about it). The random walk continues from there; the market maker moves its
        quotes to the new price on the next feed step."""
        events = self.engine.set_mark(symbol, price, now_ns=time.time_ns())
        self.feed.jump(symbol, price)
        self.publish(events)

    def submit_trusted(self, account: str, actions: Sequence[Action]) -> Submission:
        """Run ``actions`` for ``account`` without a signature (as the exchange itself would) and
        publish what they caused: e.g. fill or cancel a client's order behind its back."""
        submission = self.engine.submit_trusted(account, actions, now_ns=time.time_ns())
        self.publish(submission.events)
        return submission

    def publish(self, events: Sequence[EngineEvent]) -> None:
        """Send events obtained from the engine directly to their subscribers."""
        self._server.publish_events(events)

    # -- the feed ---------------------------------------------------------------------------

    def pause_feed(self) -> None:
        """Stop the timer-driven feed (the walk, the market maker, the takers). Tickers and book
        snapshots keep flowing; :meth:`step_feed` still works."""
        self._faults.feed_paused = True

    def resume_feed(self) -> None:
        self._faults.feed_paused = False

    def step_feed(self) -> tuple[EngineEvent, ...]:
        """Move the synthetic market by exactly one step now and publish what it caused.

        Deterministic for a given seed and number of steps: the way for tests to make the
        market move when they want (start with ``feed=False`` or call :meth:`pause_feed`)."""
        events = self.feed.step(time.time_ns())
        self.stats.feed_steps += 1
        self.publish(events)
        return tuple(events)

    def publish_market_data(self) -> None:
        """Send one round of tickers and l2Snapshots now, as the periodic timers do."""
        self._server.publish_tickers()
        self._server.publish_snapshots()

    # -- fault injection --------------------------------------------------------------------

    def drop_connections(self) -> None:
        """Drop every open connection now, abruptly (TCP close without a WebSocket close frame),
        as a network failure would. Withheld or delayed replies for them are lost."""
        self._server.drop_all("drop_connections")

    def drop_after(self, frame_count: int) -> None:
        """Drop each open connection once it has sent ``frame_count`` more frames (>= 1).
        Connections opened later are not affected, so a client can reconnect and carry on."""
        if isinstance(frame_count, bool) or not isinstance(frame_count, int) or frame_count < 1:
            raise ValueError(f"frame_count must be an integer >= 1, got {frame_count!r}")
        self._server.drop_after(frame_count)

    def delay_replies(self, seconds: float) -> None:
        """Send each post reply ``seconds`` after its request (0 turns the delay off).

        Only the reply waits: the transaction has executed and its account events go out at
        once, so a client sees the effect before the acknowledgement."""
        self._faults.replies.set_delay(seconds)

    def withhold_replies(self) -> None:
        """Keep every post reply from now on until :meth:`release_replies`. As with
        :meth:`delay_replies` the transactions execute and their events go out; only the
        replies wait. A connection that closes meanwhile loses its withheld replies."""
        self._faults.replies.withholding = True

    def release_replies(self) -> int:
        """Stop withholding and send every withheld reply to its (still open) connection.
        Returns how many replies had been withheld."""
        return self._server.release_replies()

    def send_malformed(self, text: str | None = None) -> None:
        """Send ``text`` (default: a frame cut off mid-JSON) as a text frame to every open
        connection, in order with the frames already queued."""
        self._server.broadcast(DEFAULT_MALFORMED if text is None else text)

    def silence(self, seconds: float) -> None:
        """Go quiet for ``seconds`` (``math.inf``: until called again with 0): no market-data
        frames at all (ticker, l2Snapshot, l2Delta, trades, candle) and the feed stands still.
        Connections stay open; post replies and account events still flow."""
        self._faults.silence.open_for(seconds, now=trio.current_time())

    def refuse_connections(self, seconds: float) -> None:
        """Reject new WebSocket handshakes with HTTP 503 for ``seconds`` (0 ends it); open
        connections are not touched."""
        self._faults.refusal.open_for(seconds, now=trio.current_time())

    # -- HTTP fault injection ---------------------------------------------------------------

    def delay_http_replies(self, seconds: float) -> None:
        """Answer every HTTP request ``seconds`` late (0 turns it off). From the executor
        timeout on (``http_executor_timeout``, 2 s by default) ``/order`` and ``/account`` are
        answered 408 after that timeout instead, as the exchange does; a write still applies."""
        if not (seconds >= 0 and math.isfinite(seconds)):
            raise ValueError(f"seconds must be a finite number >= 0, got {seconds!r}")
        self.http_faults.delay = float(seconds)

    def fail_http_requests(self, status: int = 500, count: int = 1) -> None:
        """Answer the next ``count`` HTTP requests with ``status`` (500, 503, 429, 408, ...)
        without serving them."""
        if not (isinstance(status, int) and 400 <= status <= 599 and count >= 1):
            raise ValueError(f"status must be 4xx or 5xx and count >= 1, got {status!r}, {count!r}")
        self.http_faults.failures.extend([status] * count)

    def drop_http_after_write(self, count: int = 1) -> None:
        """Apply the next ``count`` HTTP writes (``POST /order``), then drop their connection
        without an answer: the client cannot know whether the order went through."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"count must be an integer >= 1, got {count!r}")
        self.http_faults.drop_writes += count

    def limit_http_rate(self, requests_per_second: float | None) -> None:
        """Answer 429 beyond ``requests_per_second`` per client host (None: no limit)."""
        if requests_per_second is not None and not requests_per_second > 0:
            raise ValueError(f"requests_per_second must be positive, got {requests_per_second!r}")
        self.http_faults.rate_limit = requests_per_second

    def expire_history_cursors(self) -> None:
        """Make every history cursor handed out so far fail with 410 CURSOR_EXPIRED."""
        if self.history is not None:
            self.history.expire_cursors()

    async def restart(self, *, downtime: float = 0.0) -> None:
        """Behave like an exchange process restarting on the same URL.

        Stops listening, drops every connection (withheld and delayed replies are lost), clears
        the fault state (delays, withholding, silence, refusal), stays down for ``downtime``
        seconds (connection attempts meanwhile fail with "connection refused"), then listens on
        the same port again and returns. The engine keeps everything (balances, positions, open
        orders, used nonces), so a reconnecting client's new account snapshot shows its orders:
        exactly what a client's resynchronisation must cope with."""
        if not (downtime >= 0 and math.isfinite(downtime)):
            raise ValueError(f"downtime must be a finite number >= 0, got {downtime!r}")
        self._listen_scope.cancel()
        await self._listen_done.wait()
        self._server.generation += 1
        self._server.drop_all("restart")
        self._faults.clear()
        self.http_faults.clear()
        await trio.sleep(downtime)
        listeners = await trio.open_tcp_listeners(self.port, host=self.host)
        await self._nursery.start(self._listen, listeners)

    # -- running ----------------------------------------------------------------------------

    async def _listen(
        self,
        listeners: list[trio.SocketListener],
        *,
        task_status: trio.TaskStatus[
            list[trio.abc.Listener[trio.abc.Stream]]
        ] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        self._listen_scope = trio.CancelScope()
        self._listen_done = trio.Event()
        serving: list[trio.abc.Listener[trio.abc.Stream]] = list(listeners)
        if self._tls is not None:
            serving = list(self._tls.wrap(listeners))
        try:
            with self._listen_scope:
                await trio.serve_listeners(
                    self._server.handle_stream,
                    serving,
                    handler_nursery=self._nursery,
                    task_status=task_status,
                )
        finally:
            self._listen_done.set()

    async def _every(self, interval: float, action: Callable[[], object]) -> None:
        """Run ``action`` every ``interval`` seconds without drift; a failure is logged and
        counted (it must not stop the exchange), never raised."""
        next_at = trio.current_time() + interval
        while True:
            await trio.sleep_until(next_at)
            try:
                action()
            except Exception:
                log.exception("simulator: periodic task failed")
            next_at = max(next_at + interval, trio.current_time())

    def _feed_tick(self) -> None:
        now = trio.current_time()
        if self._faults.feed_paused or self._faults.silence.active(now):
            return
        self.step_feed()


def _loopback_host(host: str) -> str:
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"host must be a loopback address, got {host!r}") from None
    if not address.is_loopback:
        raise ValueError(f"host must be a loopback address (the simulator is local), got {host!r}")
    return host


def _check_interval(value: float | None, field: str) -> None:
    if value is not None and not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{field} must be a positive number of seconds or None, got {value!r}")


def _unwrap(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The one exception inside a (nested) group, or the group itself when there are several."""
    while len(group.exceptions) == 1:
        inner = group.exceptions[0]
        if not isinstance(inner, BaseExceptionGroup):
            return inner
        group = inner
    return group


@asynccontextmanager
async def open_simulator(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    network: str = "testnet",
    symbols: Sequence[str] = DEFAULT_SYMBOLS,
    seed: int | None = None,
    allow_legacy_signatures: bool = False,
    fund: Mapping[str, float] | None = None,
    prices: Mapping[str, float] | None = None,
    feed: bool = True,
    market_maker: bool = True,
    takers: bool = True,
    feed_interval: float = 0.25,
    feed_settings: FeedSettings | None = None,
    ticker_interval: float | None = 0.2,
    snapshot_interval: float | None = 0.2,
    send_queue_size: int = 10_000,
    max_request_chars: int = MAX_REQUEST_CHARS,
    max_subscriptions: int = MAX_SUBSCRIPTIONS,
    ping_interval: float | None = 30.0,
    ping_timeout: float = 10.0,
    handshake_timeout: float = 10.0,
    candle_history: int = 300,
    history_rows: int = DEFAULT_MAX_ROWS,
    finished_memory: int = DEFAULT_FINISHED_MEMORY,
    faucet_amount: float = 100_000.0,
    default_leverage: float = 5.0,
    stop_flag: StopFlag | str = StopFlag.IS_ABOVE,
    markets: Sequence[Market] | None = None,
    http: bool = True,
    http_port: int = 0,
    http_executor_timeout: float = 2.0,
    tls: bool = False,
    max_messages_per_second: int = EXCHANGE_MAX_MESSAGES_PER_SECOND,
) -> AsyncIterator[Simulator]:
    """Run a simulated BULK exchange on ``ws://host:port`` for the duration of the block.

    * ``network`` is the signature domain accepted (``mainnet``/``testnet``/``devnet``);
      ``allow_legacy_signatures`` also accepts the domain-less form (docs/protocol.md decision 1).
    * ``symbols`` are the markets; ``prices`` their starting prices (defaults: BTC 100k,
      ETH 3.5k, SOL 150, others 100). ``seed`` makes the price path reproducible.
    * ``fund`` credits accounts before the first client connects: ``{pubkey: amount}``.
    * ``feed=False`` keeps the market still until :meth:`Simulator.step_feed`; the market maker
      (``market_maker``) still puts up its first quotes, ``takers`` adds synthetic market orders.
    * ``ticker_interval`` / ``snapshot_interval``: seconds between ticker / l2Snapshot rounds
      (None: only on :meth:`Simulator.publish_market_data`).
    * ``send_queue_size`` frames may wait for a client before it is disconnected as too slow;
      ``max_request_chars`` and ``max_subscriptions`` bound what a client may send.
    * ``ping_interval`` (None: off) / ``ping_timeout``: the server's WebSocket keepalive;
      ``handshake_timeout``: how long a new TCP connection may take to complete its handshake.
    * ``markets``: the trading rules (tick, lot, minimum notional, maximum leverage) the engine
      enforces and ``exchangeInfo`` serves; by default a grid scaled to each starting price
      (``bulk_trio.sim.market_defaults``).
    * ``http`` serves the HTTP API too, on ``http_port`` (0: any free port), at
      :attr:`Simulator.http_url`; ``http_executor_timeout`` is when a slow ``/order`` or
      ``/account`` gets 408 (see :meth:`Simulator.delay_http_replies`).
    * ``tls=True`` serves ``wss://`` (and the HTTP API on ``https://``) with a certificate from a
      throwaway certificate authority (needs trustme: ``pip install 'bulk-trio[sim-tls]'``);
      clients trust it through
      :attr:`Simulator.ssl_context` (or :attr:`Simulator.ca_pem` written to a file).
    * As the exchange does (docs/protocol.md), a connection that sends more than
      ``max_messages_per_second`` messages within one second, or asks for more than
      ``max_subscriptions`` subscriptions, is disconnected with close code 1008 and the reason.
    * Memory stays bounded however long it runs: the HTTP history keeps the newest
      ``history_rows`` rows per account and kind (older pages say ``coverage: "partial"``), and
      :meth:`~bulk_trio.sim.engine.Engine.order` knows the newest ``finished_memory``
      finished orders.
    * ``stop_flag`` says how the ``d`` flag of stops and take-profits is read
      (:class:`~bulk_trio.sim.conditional.StopFlag`, docs/protocol.md decision 12).

    Bad arguments raise ValueError, and a port that cannot be bound OSError, before anything runs.
    """
    host = _loopback_host(host)
    if network not in NETWORKS:
        raise ValueError(f"network must be one of {', '.join(NETWORKS)}, got {network!r}")
    if isinstance(symbols, str) or not symbols:
        raise ValueError("symbols must be a non-empty list of symbol names")
    for name, value in (
        ("feed_interval", feed_interval),
        ("ticker_interval", ticker_interval),
        ("snapshot_interval", snapshot_interval),
        ("ping_interval", ping_interval),
        ("ping_timeout", ping_timeout),
        ("handshake_timeout", handshake_timeout),
    ):
        _check_interval(value, name)
    if send_queue_size < 1 or max_subscriptions < 1 or max_request_chars < 1:
        raise ValueError("send_queue_size, max_subscriptions and max_request_chars must be >= 1")
    if max_messages_per_second < 1:
        raise ValueError(f"max_messages_per_second must be >= 1, got {max_messages_per_second!r}")
    for pubkey, amount in (fund or {}).items():
        decode_32(pubkey, field="fund account")
        if not (amount > 0 and math.isfinite(amount)):
            raise ValueError(f"fund amount for {pubkey} must be positive, got {amount!r}")
    try:
        flag = StopFlag(stop_flag)
    except ValueError:
        choices = ", ".join(repr(choice.value) for choice in StopFlag)
        raise ValueError(f"stop_flag must be one of {choices}, got {stop_flag!r}") from None
    starting = start_prices(symbols, prices)
    rules = list(markets) if markets is not None else default_markets(starting)
    engine = Engine(
        symbols,
        domain=network,
        allow_legacy_signatures=allow_legacy_signatures,
        initial_prices=starting,
        default_leverage=default_leverage,
        stop_flag=flag,
        faucet_amount=faucet_amount,
        markets=rules,
        finished_memory=finished_memory,
    )
    market = MarketFeed(
        engine,
        seed=seed,
        prices=starting,
        settings=feed_settings,
        market_maker=market_maker,
        takers=takers,
        step_seconds=feed_interval,
    )
    faults = FaultState()
    server = ExchangeServer(
        engine,
        engine.symbols,
        faults=faults,
        stats=SimStats(),
        send_queue_size=send_queue_size,
        max_request_chars=max_request_chars,
        max_subscriptions=max_subscriptions,
        max_messages_per_second=max_messages_per_second,
        candle_history=candle_history,
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        handshake_timeout=handshake_timeout,
    )
    server.volatility = {symbol: market.volatility(symbol) for symbol in engine.symbols}
    history = HistoryLog(
        maker_fee_bps=DEFAULT_MAKER_FEE_BPS,
        taker_fee_bps=DEFAULT_TAKER_FEE_BPS,
        max_rows=history_rows,
    )
    server.event_listeners.append(history.record)
    now_ns = time.time_ns()
    market.open(now_ns)
    for pubkey, amount in (fund or {}).items():
        engine.fund(pubkey, amount, now_ns=now_ns)
    certificates = make_tls(host) if tls else None
    listeners = await trio.open_tcp_listeners(port, host=host)
    bound_port = listeners[0].socket.getsockname()[1]
    try:
        async with trio.open_nursery() as nursery:
            sim = Simulator(
                engine=engine,
                feed=market,
                server=server,
                faults=faults,
                host=host,
                port=bound_port,
                network=network,
                nursery=nursery,
                tls=certificates,
            )
            await nursery.start(sim._listen, listeners)
            sim.history = history
            if http:
                sim.http_faults.executor_timeout = http_executor_timeout
                api = SimHttpApi(
                    engine,
                    candles=server.candles,
                    history=history,
                    fee_bps=(DEFAULT_MAKER_FEE_BPS, DEFAULT_TAKER_FEE_BPS),
                    volatility=server.volatility,
                )
                http_server = HttpServer(api, sim.http_faults, sim.publish)
                sim.http_port = await nursery.start(
                    functools.partial(
                        http_server.serve,
                        ssl_context=certificates.server_context if certificates else None,
                    ),
                    host,
                    http_port,
                )
            nursery.start_soon(server.run_delayed_replies)
            if feed:
                nursery.start_soon(sim._every, feed_interval, sim._feed_tick)
            if ticker_interval is not None:
                nursery.start_soon(sim._every, ticker_interval, server.publish_tickers)
            if snapshot_interval is not None:
                nursery.start_soon(sim._every, snapshot_interval, server.publish_snapshots)
            log.info("simulator: listening on %s (%s)", sim.url, network)
            if sim.http_port is not None:
                log.info("simulator: HTTP API on %s", sim.http_url)
            try:
                yield sim
            finally:
                # A clean shutdown says goodbye: a close frame (1001) to every client, bounded.
                with trio.move_on_after(1.0) as farewell:
                    farewell.shield = True
                    await server.close_all(1001, "simulator shutting down")
                nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        # Strict exception groups would wrap the caller's own exception: hand it back as is.
        raise _unwrap(group) from None
