"""``open_bulk_client``: the BULK client as a Trio async context manager.

The official SDK's ``BulkWebSocketClient`` reshaped for Trio: the receiver, reconnect loop,
heartbeat and handler tasks all live in one nursery that the ``async with`` block owns; events
arrive through per-topic channels; signed transactions are answered through per-request
events; timeouts are ``trio.TooSlowError``.
"""

from __future__ import annotations

import functools
import logging
import ssl
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from types import MappingProxyType

import trio

from ..actions import (
    AgentWallet,
    BaseAction,
    CancelAll,
    CancelOrder,
    Faucet,
    LimitOrder,
    MarketOrder,
    ModifyOrder,
    UpdateLeverage,
)
from ..backoff import Backoff
from ..book import OrderBook
from ..enums import ConnectionState, Side, TimeInForce, Topic
from ..errors import BulkError, ClientClosed, ExchangeError
from ..inventory import Inventory, Pnl
from ..limits import DEFAULT_MAX_MESSAGES_PER_SECOND, check_rate_limit, check_subscription_room
from ..literals import CandleInterval, SideName, TimeInForceName
from ..markets import Market, markets_by_symbol, order_problem
from ..models import (
    AccountSnapshot,
    LeverageSetting,
    Margin,
    OrderResponse,
    OrderState,
    Position,
    Ticker,
)
from ..networks import NetworkPreset, network_preset
from ..protocol.codec import encode_post, encode_unsubscribe
from ..protocol.signing import TransactionSigner
from ..protocol.subscriptions import Subscription
from ..session import Session, reconcile_reply
from ..state import ClientState
from .client_events import ClientEvents, Handler
from .client_trading import ClientTrading
from .connection import Connection, ConnectionSettings, Connector
from .fanout import Fanout, Subscriber
from .recovery import recover_fills
from .requests import PendingRequests
from .state_cell import StateCell
from .transport import DEFAULT_MAX_MESSAGE_SIZE, open_transport

DEFAULT_URL = "wss://exchange-wss.bulk.trade"
DEFAULT_SYMBOLS = ("BTC-USD", "ETH-USD", "SOL-USD")


@asynccontextmanager
async def open_bulk_client(
    url: str = DEFAULT_URL,
    symbols: Sequence[str] = DEFAULT_SYMBOLS,
    signer: TransactionSigner | None = None,
    inventory: Inventory | None = None,
    logger: logging.Logger | None = None,
    handlers: Mapping[Topic, Handler | Sequence[Handler]] | None = None,
    debug: bool = False,
    default_timeout: float = 10.0,
    *,
    account: str | None = None,
    connect_timeout: float = 10.0,
    heartbeat_interval: float | None = 20.0,
    heartbeat_timeout: float = 10.0,
    stale_after: float | None = 30.0,
    backoff: Backoff | None = None,
    max_reconnects: int | None = None,
    market_data_buffer: int = 1024,
    lossless_buffer: int = 65536,
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    connector: Connector = open_transport,
    cancel_on_exit: bool = False,
    cancel_after_disconnect: float | None = None,
    network: str | NetworkPreset | None = None,
    markets: Iterable[Market] | str | None = None,
    ssl_context: ssl.SSLContext | None = None,
    max_messages_per_second: int | None = DEFAULT_MAX_MESSAGES_PER_SECOND,
    http_url: str | None = None,
) -> AsyncIterator[BulkClient]:
    """Connect to BULK and yield a :class:`BulkClient` for the duration of the block.

    Entering connects, subscribes tickers for ``symbols`` (and, with a ``signer``, the trading
    account's stream) and returns once the exchange has confirmed them and sent the account
    snapshot. A failure to connect raises :class:`~bulk_trio.ConnectError`. Later disconnects are
    retried with backoff (1 s doubling to 30 s, with jitter) for as long as the block runs, or
    ``max_reconnects`` times. ``account`` trades for another account with ``signer`` as its
    authorized agent wallet. ``stale_after`` seconds without a ticker or l2Snapshot frame on a
    subscribed topic count as a dead connection (None disables it).

    Kill switches (docs/guides/lifecycle.md), both needing a ``signer``: ``cancel_on_exit=True``
    cancels the account's open orders when the block ends, however it ends (bounded by
    ``default_timeout``); ``cancel_after_disconnect=S`` cancels them on the first reconnect after
    an outage longer than ``S`` seconds, before the connection is LIVE again.

    ``network`` names a preset (``"testnet"``, ``"mainnet"``, ... see :mod:`bulk_trio.networks`):
    its WebSocket URL replaces the default ``url`` (a ``url`` you give wins) and a ``signer`` for
    another signature domain is refused. ``markets`` (a list of :class:`~bulk_trio.Market`, or
    an HTTP base URL or network name to load them from ``GET /exchangeInfo`` on entry) makes the
    trading methods raise :class:`~bulk_trio.MarketRuleViolation` (a ValueError) before signing
    a price or size the exchange would reject.

    ``ssl_context`` verifies a ``wss://`` server (default: the system's trust store; give one
    that trusts your corporate or test certificate authority). ``max_messages_per_second`` shapes
    what the client sends: no one-second window holds more (default 900, under the exchange's
    1,000; None turns the limiter off); a burst waits its turn, inside each request's timeout.
    The exchange allows 100 subscriptions per connection: a 101st raises ValueError.

    Fills missed while disconnected (docs/guides/lifecycle.md): after a reconnect the tracked
    account's fill history is read from the HTTP API at ``http_url`` (``http://.../api/v1``;
    default: the ``network`` preset's, when its WebSocket URL is used too), within
    ``default_timeout``; the missed fills are applied to the inventory once and published on
    ``Topic.FILL`` with ``recovered=True``. Without an HTTP endpoint, or when the history fails,
    a ``StatusKind.GAP`` status says so.

    Leaving the block cancels every task and closes the socket. Errors of the client leave it as
    one :class:`~bulk_trio.BulkError`; exceptions of your own code pass through unchanged.
    """
    if http_url is not None and not http_url.startswith(("http://", "https://")):
        raise ValueError(f"http_url must be an http:// or https:// URL, got {http_url!r}")
    if network is not None:
        preset = network_preset(network)
        if url == DEFAULT_URL:
            url = preset.ws_url
            # Only with the preset's own WebSocket: a URL of yours may be another exchange.
            http_url = preset.http_url if http_url is None else http_url
        if signer is not None and preset.domain is not None and signer.domain != preset.domain:
            raise ValueError(
                f"the signer signs for {signer.domain}, but {preset.name} expects {preset.domain}"
            )
    check_rate_limit(max_messages_per_second)
    if ssl_context is not None and not url.startswith("wss://"):
        raise ValueError(f"ssl_context is given but {url} is not a wss:// URL: use wss://")
    if connector is open_transport:
        connector = functools.partial(
            open_transport,
            ssl_context=ssl_context,
            max_messages_per_second=max_messages_per_second,
        )
    elif ssl_context is not None:
        raise ValueError("give ssl_context or a connector, not both: the connector makes the TLS")
    rules = await _load_markets(markets, ssl_context)
    if backoff is None:
        backoff = Backoff(max_attempts=max_reconnects)
    elif max_reconnects is not None:
        raise ValueError("give max_reconnects or backoff, not both: use Backoff(max_attempts=...)")
    if (cancel_on_exit or cancel_after_disconnect is not None) and signer is None:
        raise ValueError("cancel_on_exit and cancel_after_disconnect need a signer")
    if cancel_after_disconnect is not None and not cancel_after_disconnect >= 0:
        raise ValueError(
            "cancel_after_disconnect must be a number of seconds >= 0, "
            f"got {cancel_after_disconnect!r}"
        )
    client = BulkClient(
        url,
        symbols=symbols,
        signer=signer,
        account=account,
        inventory=inventory,
        logger=logger,
        debug=debug,
        default_timeout=default_timeout,
        market_data_buffer=market_data_buffer,
        lossless_buffer=lossless_buffer,
        backoff=backoff,
        cancel_after_disconnect=cancel_after_disconnect,
        http_url=http_url,
        settings=ConnectionSettings(
            connect_timeout=connect_timeout,
            ready_timeout=default_timeout,
            heartbeat_interval=heartbeat_interval,
            heartbeat_timeout=heartbeat_timeout,
            stale_after=stale_after,
            max_message_size=max_message_size,
            connector=connector,
        ),
    )
    client.markets = rules
    for topic, registered in (handlers or {}).items():
        for handler in [registered] if callable(registered) else registered:
            client.on(topic, handler)

    user_error: BaseException | None = None
    entered = False
    try:
        async with trio.open_nursery() as guard:
            # With cancel_on_exit the client's tasks are shielded from a cancellation of the
            # caller, so that the kill switch can still send its request and read the reply; the
            # caller's own code is cancelled through `user_scope` by the guard task instead.
            with trio.CancelScope(shield=cancel_on_exit):
                async with trio.open_nursery() as nursery:
                    client._attach(nursery)
                    try:
                        with trio.CancelScope() as user_scope:
                            if cancel_on_exit:
                                guard.start_soon(_cancel_when_cancelled, user_scope)
                            await nursery.start(client._connection.run)
                            entered = True
                            try:
                                yield client
                            except BaseException as exc:  # re-raised below, unwrapped
                                user_error = exc
                        if cancel_on_exit and entered:
                            await client._cancel_open_orders_on_exit(nursery.cancel_scope)
                    finally:
                        client._shut_down()
                        nursery.cancel_scope.cancel()
            if not entered:  # cancelled while connecting: user_scope absorbed it, deliver it here
                await trio.lowlevel.checkpoint()
            guard.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        single = _single_error(group)
        if single is group:
            raise  # only cancellations: the cancelled scope outside absorbs them
        raise single from None
    finally:
        client._shut_down()
    if user_error is not None:
        raise user_error


async def _cancel_when_cancelled(user_scope: trio.CancelScope) -> None:
    try:
        await trio.sleep_forever()
    finally:
        user_scope.cancel()


async def _load_markets(
    markets: Iterable[Market] | str | None, ssl_context: ssl.SSLContext | None
) -> dict[str, Market]:
    """The trading rules to check orders against: given, fetched over HTTP, or none. The
    client's ``ssl_context`` verifies an ``https://`` markets URL too (the same exchange)."""
    if markets is None:
        return {}
    if isinstance(markets, str):
        from .http import _base_url, open_bulk_http  # httpx loads only for a client using it

        secure = _base_url(markets).startswith("https://")
        async with open_bulk_http(markets, ssl_context=ssl_context if secure else None) as http:
            return markets_by_symbol(await http.exchange_info())
    return markets_by_symbol(markets)


def _single_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The one exception a caller should see for a group raised by the client's tasks."""
    leaves: list[BaseException] = []

    def collect(exc: BaseException) -> None:
        if isinstance(exc, BaseExceptionGroup):
            for inner in exc.exceptions:
                collect(inner)
        else:
            leaves.append(exc)

    collect(group)
    leaves = [leaf for leaf in leaves if not isinstance(leaf, trio.Cancelled)]
    if not leaves:
        return group
    for leaf in leaves:
        if isinstance(leaf, KeyboardInterrupt | SystemExit):
            return leaf
    for leaf in leaves:
        if isinstance(leaf, BulkError):
            return leaf
    error = BulkError(f"internal error in bulk-trio: {leaves[0]!r}")
    error.__cause__ = group
    return error


class BulkClient(ClientEvents, ClientTrading):
    """A connected BULK client; obtain one from :func:`open_bulk_client`.

    Its channels, handlers and latest-value streams (``events``, ``on``, ``watch``, ...) are
    defined in ``bulk_trio/shell/client_events.py``; its order types and account actions
    (``place_stop_order``, ``place_bracket``, ``transfer``, ...) in
    ``bulk_trio/shell/client_trading.py``.
    """

    def __init__(
        self,
        url: str,
        *,
        symbols: Sequence[str],
        signer: TransactionSigner | None,
        account: str | None,
        inventory: Inventory | None,
        logger: logging.Logger | None,
        debug: bool,
        default_timeout: float,
        market_data_buffer: int,
        lossless_buffer: int,
        settings: ConnectionSettings | None = None,
        backoff: Backoff | None = None,
        cancel_after_disconnect: float | None = None,
        http_url: str | None = None,
    ) -> None:
        if default_timeout <= 0:
            raise ValueError(f"default_timeout must be positive, got {default_timeout!r}")
        if isinstance(symbols, str):
            raise ValueError("symbols must be a list of symbols, not one string")
        self.url = url
        self.signer = signer
        self.default_timeout = default_timeout
        self.debug = debug
        self._log = logger or logging.getLogger("bulk_trio")
        if debug and logger is None and not self._log.isEnabledFor(logging.DEBUG):
            self._log.setLevel(logging.DEBUG)  # only our own logger: a caller's is theirs to set
        self._fanout = Fanout(
            market_data_buffer=market_data_buffer, lossless_buffer=lossless_buffer
        )
        self._requests = PendingRequests()
        self._state = ClientState(
            self._fanout.publish,
            account=account or (signer.public_key if signer else None),
            inventory=inventory,
            logger=self._log,
        )
        self._session = Session(
            self._state,
            backoff=backoff,
            cancel_after_disconnect=cancel_after_disconnect,
            logger=self._log,
        )
        self._connection = Connection(
            url,
            session=self._session,
            fanout=self._fanout,
            requests=self._requests,
            logger=self._log,
            settings=settings,
            debug=debug,
        )
        if cancel_after_disconnect is not None:
            self._connection.before_live = self._cancel_everything_before_live
        self.http_url = http_url
        """Where missed fills are recovered from after a reconnect (None: announced as a GAP)."""
        self._connection.after_resync = self._recover_missed_fills
        self.markets: dict[str, Market] = {}
        """Trading rules per symbol; orders breaking them are refused before signing."""
        self._nursery: trio.Nursery | None = None
        self._handlers: list[tuple[Topic, Handler, Subscriber]] = []
        self._closed = False
        self.symbols = tuple(symbols)
        initial = [Subscription.ticker(symbol) for symbol in self.symbols]
        if self.account is not None and signer is not None:
            initial.append(Subscription.account(self.account))
        check_subscription_room([], [topic for sub in initial for topic in sub.topics])
        for subscription in initial:
            self._session.remember(subscription)

    @property
    def account(self) -> str | None:
        """The tracked account: the trading account, or the first account subscribed by a client
        without a signer. Its stream feeds :attr:`open_orders`, :attr:`margin` and the rest."""
        return self._session.account

    def __repr__(self) -> str:
        state = self._connection.lifecycle.value.value
        return f"<BulkClient {self.url} {state} account={self.account}>"

    # -- life cycle ---------------------------------------------------------------------------

    def _attach(self, nursery: trio.Nursery) -> None:
        self._nursery = nursery
        for topic, handler, subscriber in self._handlers:
            nursery.start_soon(self._run_handler, topic, handler, subscriber)

    def _shut_down(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._connection.close()
        self._fanout.close()

    async def _cancel_open_orders_on_exit(self, tasks: trio.CancelScope) -> None:
        """The ``cancel_on_exit`` kill switch: cancel every open order of the account, waiting
        at most ``default_timeout`` in all (for a reconnect, then for the reply)."""
        if tasks.cancel_called:  # the client's own tasks failed: there is no connection left
            self._log.error("cancel_on_exit: the connection failed; open orders were NOT cancelled")
            return
        outcome = "open orders were NOT cancelled: no reply in time"
        with trio.CancelScope(shield=True), trio.move_on_after(self.default_timeout):
            try:
                await self.wait_connected()
                await self._post([CancelAll(None)], None, None)
            except BulkError as exc:
                outcome = f"open orders were NOT cancelled: {exc}"
            else:
                outcome = ""
        if outcome:
            self._log.error("cancel_on_exit: %s", outcome)
        else:
            self._log.info("cancel_on_exit: cancelled the open orders of %s", self.account)

    async def _cancel_everything_before_live(self) -> None:
        """The ``cancel_after_disconnect`` kill switch, run by the connection after a long outage:
        its failure keeps the connection from becoming LIVE (the next reconnect tries again)."""
        self._log.warning("cancel_after_disconnect: cancelling every open order after the outage")
        try:
            await self._post([CancelAll(None)], None, None, resyncing=True)
        except trio.TooSlowError:
            raise BulkError(
                "cancel_after_disconnect: the cancel got no answer in time; orders may be open"
            ) from None

    def _recover_missed_fills(self) -> None:
        plan = self._session.recovery_plan()
        if plan is not None and self._nursery is not None:
            self._nursery.start_soon(
                lambda: recover_fills(
                    self._session,
                    self._fanout,
                    self.http_url,
                    plan,
                    timeout=self.default_timeout,
                    logger=self._log,
                )
            )

    @property
    def fills_recovered(self) -> int:
        """Fills missed while disconnected and recovered from the fill history so far."""
        return self._state.fills.recovered_total

    def _check_open(self) -> None:
        if self._closed:
            raise ClientClosed("the client's async with block has ended")

    def _lifecycle(self) -> StateCell:
        return self._connection.lifecycle

    @property
    def is_connected(self) -> bool:
        """True while the connection is LIVE (connected, subscriptions confirmed)."""
        return self._connection.lifecycle.value is ConnectionState.LIVE

    @property
    def connection_state(self) -> ConnectionState:
        """CONNECTING, LIVE, BACKOFF or CLOSED; :meth:`wait_for_state` waits for one."""
        return self._connection.lifecycle.value

    async def wait_for_state(self, *states: ConnectionState) -> ConnectionState:
        """Sleep until the connection is in one of ``states``."""
        return await self._connection.lifecycle.wait_for(*states)

    async def wait_connected(self) -> None:
        """Sleep until the connection is live (at once if it is)."""
        await self._connection.lifecycle.wait_for(ConnectionState.LIVE)

    @property
    def reconnects(self) -> int:
        """How many times the client has reconnected (become live again after a drop) since the
        block was entered; failed attempts are not counted."""
        return self._connection.reconnects

    @property
    def last_disconnect_reason(self) -> str | None:
        """Why the last connection ended (None before the first disconnect)."""
        return self._connection.last_drop_reason

    # -- subscriptions ------------------------------------------------------------------------

    async def _subscribe(self, subscription: Subscription) -> None:
        self._check_open()
        held = [topic for held in self._session.subscriptions for topic in held.topics]
        check_subscription_room(held, subscription.topics)
        await self._connection.subscribe(subscription, self.default_timeout)

    async def subscribe_ticker(self, symbol: str) -> None:
        """Tickers of ``symbol`` (about every 200 ms); :meth:`get_ticker` follows them."""
        await self._subscribe(Subscription.ticker(symbol))

    async def subscribe_orderbook_snapshot(
        self, symbol: str, nlevels: int | None = None, aggregation: float | None = None
    ) -> None:
        """Periodic full books of ``symbol``; :meth:`get_book` follows them."""
        subscription = Subscription.l2_snapshot(symbol, nlevels=nlevels, aggregation=aggregation)
        self._state.book(symbol)
        await self._subscribe(subscription)

    async def subscribe_orderbook_delta(self, symbol: str) -> None:
        """Level changes of ``symbol`` (after a full book); :meth:`get_book` follows them."""
        subscription = Subscription.l2_delta(symbol)
        self._state.book(symbol)
        await self._subscribe(subscription)

    async def subscribe_trades(self, symbols: str | Iterable[str]) -> None:
        """Public trades of one symbol or several (``Topic.TRADES`` gets a list per frame)."""
        for symbol in [symbols] if isinstance(symbols, str) else list(symbols):
            await self._subscribe(Subscription.trades(symbol))

    async def subscribe_candles(self, symbol: str, interval: CandleInterval) -> None:
        """Candles; intervals in either spelling ("1m" or "1min", "5m" or "5min", ...)."""
        await self._subscribe(Subscription.candle(symbol, interval))

    async def subscribe_account(self, pubkey: str | None = None) -> None:
        """The account stream of ``pubkey`` (default: the trading account).

        Account streams are public. Only the tracked account (the trading account, or the first
        one subscribed by a client without a signer) feeds :attr:`open_orders`, :attr:`margin`
        and the other account accessors; every account's events are published.
        """
        user = pubkey or self.account
        if user is None:
            raise ValueError("subscribe_account needs a pubkey when the client has no signer")
        await self._subscribe(Subscription.account(user))  # the session tracks its first user

    async def unsubscribe(self, target: str | Subscription | Iterable[str]) -> list[str]:
        """Stop a subscription, given its topic string(s) (``"ticker.BTC-USD"``) or the object.

        Returns the topics unsubscribed. The exchange's ``unsubscribeResponse`` is not awaited
        (older deployments do not send one).
        """
        self._check_open()
        if isinstance(target, Subscription):
            topics = set(target.topics)
        elif isinstance(target, str):
            topics = {target}
        else:
            topics = set(target)
        removed = self._session.forget(topics)
        if self.is_connected:
            for topic in removed:
                await self._connection.send(encode_unsubscribe(topic))
        return removed

    @property
    def subscriptions(self) -> list[Subscription]:
        """What the client is subscribed to (and replays after every reconnect)."""
        return self._session.subscriptions

    # -- trading ------------------------------------------------------------------------------

    def _require_signer(self) -> TransactionSigner:
        if self.signer is None:
            raise RuntimeError(
                "trading needs a signer: open_bulk_client(..., signer=TransactionSigner(key))"
            )
        return self.signer

    async def place_orders(
        self,
        actions: BaseAction | Sequence[BaseAction],
        timeout: float | None = None,
        nonce: int | None = None,
    ) -> list[OrderResponse]:
        """Sign ``actions`` as one atomic transaction, send it, and return one response per
        action (ids of limit and market orders filled in from the precomputed ids when the
        exchange leaves them out).

        Raises :class:`trio.TooSlowError` when no reply comes within ``timeout`` (default
        ``default_timeout``), :class:`~bulk_trio.ExchangeError` when the exchange refuses the
        whole request, :class:`~bulk_trio.ConnectionLost` when the connection drops with the
        request in flight (outcome unknown), and its subclass ``NotConnected`` when the client is
        between connections (nothing was sent).
        """
        batch = [actions] if not isinstance(actions, Sequence) else list(actions)
        return await self._post(batch, timeout, nonce)

    async def _post(
        self,
        actions: list[BaseAction],
        timeout: float | None,
        nonce: int | None,
        wait: bool = True,
        *,
        resyncing: bool = False,
    ) -> list[OrderResponse]:
        signer = self._require_signer()
        self._check_open()
        if not actions:
            raise ValueError("actions must not be empty")
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout!r}")
        for action in actions:
            violation = order_problem(self.markets, action)
            if violation is not None:
                raise violation
        payload = signer.sign_transaction(actions, nonce=nonce, account=self.account)
        request_id = self._requests.next_id()
        frame = encode_post(request_id, payload)
        if self.debug:
            self._log.debug(
                "post id=%d nonce=%s account=%s actions=%s (signature not logged)",
                request_id,
                payload["nonce"],
                payload["account"],
                payload["actions"],
            )
        with trio.fail_after(timeout if timeout is not None else self.default_timeout):
            if not wait:
                # Unregistered: a reply is "late" on arrival, and a refusal reaches Topic.ERROR.
                self._session.request_sent(request_id, awaited=False)
                try:
                    await self._connection.send(frame, resyncing=resyncing)
                except BaseException:
                    self._session.request_settled(request_id)
                    raise
                return []
            with self._requests.register(request_id) as pending:
                self._session.request_sent(request_id)
                try:
                    await self._connection.send(frame, resyncing=resyncing)
                    reply = await pending.wait()
                finally:
                    self._session.request_settled(request_id)
        return reconcile_reply(reply, actions, payload, self._log)

    async def _post_one(
        self, action: BaseAction, timeout: float | None, nonce: int | None
    ) -> OrderResponse:
        responses = await self._post([action], timeout, nonce)
        if not responses:  # statuses not aligned with the one action: none can be attributed
            raise ExchangeError("the exchange answered without a status for the action")
        return responses[0]

    async def place_limit_order(
        self,
        symbol: str,
        side: Side | SideName,
        price: float,
        size: float,
        reduce_only: bool = False,
        time_in_force: TimeInForce | TimeInForceName = TimeInForce.GTC,
        timeout: float | None = None,
        nonce: int | None = None,
        *,
        iso: bool = False,
    ) -> OrderResponse:
        """Place one limit order; see :meth:`place_orders` for replies, timeouts and errors."""
        order = LimitOrder(
            symbol, side, price, size, reduce_only=reduce_only, time_in_force=time_in_force, iso=iso
        )
        return await self._post_one(order, timeout, nonce)

    async def place_market_order(
        self,
        symbol: str,
        side: Side | SideName,
        size: float,
        reduce_only: bool = False,
        timeout: float | None = None,
        nonce: int | None = None,
        *,
        iso: bool = False,
    ) -> OrderResponse:
        """Place one market order; see :meth:`place_orders` for replies, timeouts and errors."""
        order = MarketOrder(symbol, side, size, reduce_only=reduce_only, iso=iso)
        return await self._post_one(order, timeout, nonce)

    async def cancel_order(
        self,
        side: Side | SideName | None = None,
        symbol: str | None = None,
        order_id: str | None = None,
        timeout: float | None = None,
        nonce: int | None = None,
    ) -> OrderResponse:
        """Cancel one order (``side`` is optional, as in the official SDK)."""
        if symbol is None or order_id is None:
            raise ValueError("cancel_order needs symbol and order_id")
        side_value = Side(side.lower()) if isinstance(side, str) else side
        action = CancelOrder(symbol, order_id, side=side_value)
        return await self._post_one(action, timeout, nonce)

    async def cancel_all(
        self,
        symbols: Sequence[str] | None = None,
        timeout: float | None = None,
        nonce: int | None = None,
    ) -> OrderResponse:
        """Cancel every open order, or those of ``symbols``."""
        return await self._post_one(CancelAll(symbols), timeout, nonce)

    async def modify_order(
        self,
        symbol: str,
        order_id: str,
        size: float,
        timeout: float | None = None,
        nonce: int | None = None,
    ) -> OrderResponse:
        """Change the size of a resting order."""
        return await self._post_one(ModifyOrder(symbol, order_id, size), timeout, nonce)

    async def update_leverage(
        self,
        settings: str | Mapping[str, float] | Sequence[tuple[str, float]],
        leverage: float | None = None,
        timeout: float | None = None,
        nonce: int | None = None,
    ) -> OrderResponse:
        """Set the maximum leverage per symbol: ``update_leverage("BTC-USD", 5)`` or a mapping."""
        if isinstance(settings, str):
            if leverage is None:
                raise ValueError("update_leverage(symbol, leverage) needs a leverage")
            settings = {settings: leverage}
        return await self._post_one(UpdateLeverage(settings), timeout, nonce)

    async def request_faucet(
        self,
        amount: float | None = None,
        user: str | None = None,
        timeout: float | None = None,
        nonce: int | None = None,
    ) -> OrderResponse:
        """Ask the (test) network's faucet to credit ``user`` (default: the trading account)."""
        recipient = user or self.account
        if recipient is None:
            raise RuntimeError("request_faucet needs a signer or a user")
        return await self._post_one(Faucet(recipient, amount), timeout, nonce)

    async def authorize_agent(
        self,
        agent: str,
        delete: bool = False,
        timeout: float | None = None,
        nonce: int | None = None,
    ) -> OrderResponse:
        """Let ``agent`` sign for this account (``delete=True`` revokes it)."""
        return await self._post_one(AgentWallet(agent, delete), timeout, nonce)

    async def update_oracle(
        self,
        actions: BaseAction | Sequence[BaseAction],
        timeout: float | None = None,
        nonce: int | None = None,
        wait: bool = False,
    ) -> list[OrderResponse]:
        """Send oracle price updates. Like the official SDK it does not wait for the reply
        unless ``wait=True``; a refusal that arrives later is published on ``Topic.ERROR``."""
        batch = [actions] if not isinstance(actions, Sequence) else list(actions)
        return await self._post(batch, timeout, nonce, wait=wait)

    # -- state, read synchronously ------------------------------------------------------------

    def get_ticker(self, symbol: str) -> Ticker | None:
        """The latest ticker of ``symbol``, or None before the first one."""
        return self._state.tickers.get(symbol)

    def get_book(self, symbol: str) -> OrderBook | None:
        """The book of ``symbol`` once subscribed (check ``is_valid`` after a reconnect)."""
        return self._state.order_books.get(symbol)

    def get_orders(self, symbol: str | None = None) -> list[OrderState]:
        """Open orders of the trading account, optionally of one symbol."""
        orders = self._state.open_orders.values()
        return [o for o in orders if symbol is None or o.symbol == symbol]

    def get_order_map(self) -> dict[str, OrderState]:
        """Open orders by order id (a copy)."""
        return dict(self._state.open_orders)

    def get_pnl(self) -> Pnl:
        """Realized, unrealized and net P&L of the inventory (this client's fills)."""
        return self._state.inventory.pnl()

    @property
    def margin(self) -> Margin | None:
        """The trading account's margin (snapshot, then marginUpdate); None before the first."""
        return self._state.margin

    @property
    def leverage_settings(self) -> Mapping[str, LeverageSetting]:
        """Leverage per symbol of the trading account (read-only view)."""
        return MappingProxyType(self._state.leverage_settings)

    @property
    def tickers(self) -> Mapping[str, Ticker]:
        """The latest ticker per symbol (read-only view)."""
        return MappingProxyType(self._state.tickers)

    @property
    def order_books(self) -> Mapping[str, OrderBook]:
        """The books of the subscribed symbols (read-only view)."""
        return MappingProxyType(self._state.order_books)

    @property
    def open_orders(self) -> Mapping[str, OrderState]:
        """Open orders by id, as the account stream reports them (read-only view)."""
        return MappingProxyType(self._state.open_orders)

    @property
    def positions(self) -> Mapping[str, Position]:
        """Positions as the exchange reports them (account snapshot and positionUpdate)."""
        return MappingProxyType(self._state.positions)

    @property
    def account_snapshot(self) -> AccountSnapshot | None:
        """The last account snapshot of the trading account (replaced on every reconnect)."""
        return self._state.account_snapshot

    @property
    def inventory(self) -> Inventory:
        """Positions and P&L tracked from this client's fills, marked by tickers."""
        return self._state.inventory
