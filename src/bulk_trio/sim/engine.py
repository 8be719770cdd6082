"""The exchange simulator's engine: sans-IO, single-threaded, clock passed in.

``Engine.submit(payload, now_ns=...)`` takes a received ``post`` payload (untrusted JSON), decides
whether it may run (:mod:`.security`), executes its actions and returns a :class:`Submission`: one
status per action, in order, plus the events the transaction caused, in causal order.

Semantics the server and tests rely on:

* **Atomicity.** Everything that can be checked without executing (known symbol, positive price and
  size, leverage bounds, supported action) is checked for every action first; if any action fails,
  the transaction is refused as a whole: nothing applies, no event is emitted, the failing actions
  get ``rejectedInvalid`` with their reason and the others ``rejectedInvalid`` naming the failing
  action. Otherwise the actions run in order with nothing else interleaved (so a ``cx`` followed by
  an ``l`` is an atomic cancel-and-replace); an action that fails while running (no margin, order
  not found, post-only would cross, ...) gets its failure status and does not undo earlier actions.
* **Matching.** Price-time priority on 1e8 integer ticks; trades happen at the resting price.
  GTC rests what does not fill; IOC and market orders cancel their remainder; ALO that would cross
  is ``rejectedCrossing``. A market order with ``slippage_bps`` only trades within that many basis
  points of the best opposite price on arrival.
* **Self-trade prevention.** An incoming order that reaches a resting order of its own account
  stops there: its remainder is cancelled with ``cancelledSelfCrossing`` (fills before that point
  stand) and the resting order is untouched.
* **Reduce-only.** Clamped at placement to the current position (``cancelledReduceOnly`` if it would
  not reduce anything). A resting reduce-only order is shrunk or cancelled (``cancelledReduceOnly``)
  as soon as the position no longer covers it, and is re-checked before it trades as a maker.
* **Order ids** are :func:`bulk_trio.protocol.signing.order_id` of (action, index in transaction,
  nonce, account), so clients' precomputed ids match; a new order whose id is live already gets
  ``rejectedDuplicate`` and changes nothing.
* **Statuses** use only docs/protocol.md names. Where its "Order statuses" have none, ``modified``
  is used:
  ``modified {oid, sz, remainingSz}`` for a successful ``mod``, ``modified {leverage: [[symbol,
  leverage], ...]}`` for ``updateUserSettings`` and ``modified {symbol, oraclePrice}`` for ``px``.
  The sizes of ``filled``, ``partiallyFilled``, ``working`` and ``cancelledIOC`` are signed,
  negative for a sell (docs/http-api.md decision 10).
* **Conditional orders** (stop, take-profit, range legs, trailing stops, trigger baskets; see
  :mod:`.conditional`) get exchange-assigned ids, wait off the book holding no margin, and are
  checked whenever a mark may have moved: after every transaction, :meth:`Engine.set_mark` and
  every feed step. One that is due fires once (``triggered``), then executes as a market order
  (within its slippage) or a GTC limit order under the same id; a range leg that fires cancels
  its sibling (``siblingCancelled``). A trigger basket runs its actions as its account and ends
  ``filled`` (or ``triggerFailed`` when one of them fails).
* **Nested actions** (trigger baskets, on-fill follow-ups, multisig proposals) are admitted all
  or nothing like a transaction and get exchange-assigned order ids. On-fill follow-ups run once,
  right after the action during which their order first filled.
* **Builder codes, sub-accounts, transfers, multisig**: :mod:`.account_actions`. Money only
  leaves the accounts as trading fees: all equity plus :attr:`Engine.trading_fees` is
  :attr:`Engine.deposited`.
* **Events**, in the order things happen: per fill ``TradeExecuted``, the maker's ``Filled`` and
  ``OrderChanged``, the taker's ``Filled``; an incoming order's own ``OrderChanged`` once it has its
  outcome; other orders' ``OrderChanged`` as they change. After the transaction's last action come
  the aggregates, each once with its final value: one ``LevelChanged`` per book level whose
  aggregate changed, one ``PositionChanged`` per changed position, one ``MarginChanged`` per changed
  account (so a 20-order requote gives one margin update, not twenty).
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from ..actions import (
    Action,
    AgentWallet,
    BaseAction,
    BuilderCode,
    CancelAll,
    CancelOrder,
    Faucet,
    LimitOrder,
    MarketOrder,
    ModifyOrder,
    OnFill,
    OraclePrice,
    PythOracle,
    RangeOrder,
    StopOrder,
    TakeProfitOrder,
    TrailingStop,
    TriggerBasket,
    UpdateLeverage,
    WhitelistFaucet,
)
from ..enums import OrderStatus, TimeInForce
from ..fixedpoint import from_fixed, to_fixed
from ..markets import Market, markets_by_symbol, order_problem
from ..protocol.keys import b58encode, decode_32
from ..protocol.signing import order_id as protocol_order_id
from .account_actions import AccountAction, AccountDesk
from .accounts import Ledger, check_leverage
from .builder_codes import BuilderApprovals
from .conditional import Conditional, ConditionalAction, ConditionalBook, StopFlag, legs_of
from .events import (
    AccountView,
    ActionStatus,
    EngineEvent,
    Filled,
    LevelChanged,
    LeverageChanged,
    MarginChanged,
    MarketStats,
    OrderChanged,
    OrderView,
    PositionChanged,
    Submission,
    TradeExecuted,
)
from .matching import BookOrder, MatchingBook
from .security import TransactionGate, TransactionRefused

DEFAULT_MAKER_FEE_BPS = 1.0
DEFAULT_TAKER_FEE_BPS = 3.0
DEFAULT_FINISHED_MEMORY = 10_000
"""Finished orders kept for :meth:`Engine.order` by default; older ones are forgotten first.
A simulator runs for hours and its market maker finishes hundreds of orders a second, so this
is what bounds the engine's memory (about half a kilobyte per order)."""
_MARGIN_TOLERANCE = 1e-9
_TRIGGER_ROUNDS = 1_000
"""Most rounds of trigger checks after one change (each round fires at least one order)."""
_DAY_NS = 86_400 * 10**9
_MINUTE_NS = 60 * 10**9


@attrs.define
class _Bucket:
    start_ns: int
    open: float
    high: float
    low: float
    volume: float = 0.0
    quote_volume: float = 0.0


class _Tape:
    """Trades of the last 24 hours in one-minute buckets: bounded memory however busy it gets."""

    def __init__(self) -> None:
        self._buckets: deque[_Bucket] = deque()

    def record(self, now_ns: int, price: float, size: float) -> None:
        start = now_ns - now_ns % _MINUTE_NS
        last = self._buckets[-1] if self._buckets else None
        if last is None or start > last.start_ns:
            last = _Bucket(start, price, price, price)
            self._buckets.append(last)
        last.high = max(last.high, price)
        last.low = min(last.low, price)
        last.volume += size
        last.quote_volume += size * price
        self.prune(now_ns)

    def prune(self, now_ns: int) -> None:
        while self._buckets and self._buckets[0].start_ns + _MINUTE_NS <= now_ns - _DAY_NS:
            self._buckets.popleft()

    def window(self) -> list[_Bucket]:
        return list(self._buckets)


@attrs.define
class _Market:
    book: MatchingBook
    mark: float | None = None
    oracle: float | None = None
    last: float | None = None
    tape: _Tape = attrs.field(factory=_Tape)


@attrs.define
class _Tx:
    """What one transaction's actions share while they run."""

    account: str
    signer: str
    nonce: int
    now_ns: int
    events: list[EngineEvent] = attrs.field(factory=list)
    follow_ups: list[tuple[str, tuple[BaseAction, ...]]] = attrs.field(factory=list)
    """On-fill actions due to run, with the account they run as."""
    server_ids: bool = False
    """Nested actions (trigger baskets, on-fill, multisig proposals) get exchange-assigned ids:
    their seqno and nonce belong to another transaction, so a client could not compute them."""

    def nested(self, account: str) -> _Tx:
        """A context for actions run on behalf of ``account`` inside this transaction."""
        return _Tx(
            account,
            account,
            self.nonce,
            self.now_ns,
            self.events,
            self.follow_ups,
            server_ids=True,
        )


class Engine:
    """A simulated BULK exchange for a fixed set of symbols. See the module docstring."""

    def __init__(
        self,
        symbols: Sequence[str],
        *,
        domain: str | None = "testnet",
        allow_legacy_signatures: bool = False,
        initial_prices: Mapping[str, float] | None = None,
        default_leverage: float = 5.0,
        faucet_amount: float = 100_000.0,
        maker_fee_bps: float = DEFAULT_MAKER_FEE_BPS,
        taker_fee_bps: float = DEFAULT_TAKER_FEE_BPS,
        stop_flag: StopFlag = StopFlag.IS_ABOVE,
        markets: Iterable[Market] | None = None,
        finished_memory: int = DEFAULT_FINISHED_MEMORY,
    ) -> None:
        if isinstance(symbols, str) or not symbols:
            raise ValueError("symbols must be a non-empty sequence of symbol names")
        if len(set(symbols)) != len(symbols):
            raise ValueError("symbols must not repeat")
        if domain not in ("mainnet", "testnet", "devnet", None):
            raise ValueError(f"domain must be mainnet, testnet, devnet or None, not {domain!r}")
        _check_positive(faucet_amount, "faucet_amount")
        if isinstance(finished_memory, bool) or not isinstance(finished_memory, int):
            raise ValueError(f"finished_memory must be an integer, got {finished_memory!r}")
        if finished_memory < 0:
            raise ValueError(f"finished_memory must be >= 0, got {finished_memory!r}")
        self.symbols: tuple[str, ...] = tuple(symbols)
        self.faucet_amount = faucet_amount
        self.markets: dict[str, Market] = markets_by_symbol(markets or ())
        """Per-symbol trading rules (tick, lot, minimum notional, maximum leverage) that orders
        must meet; a symbol without an entry has none (docs/http-api.md, exchangeInfo)."""
        self._markets = {symbol: _Market(MatchingBook(symbol)) for symbol in self.symbols}
        self._ledger = Ledger(
            mark_of=self._mark_of,
            default_leverage=default_leverage,
            maker_fee_bps=maker_fee_bps,
            taker_fee_bps=taker_fee_bps,
        )
        self._gate = TransactionGate(domain=domain, allow_legacy_signatures=allow_legacy_signatures)
        self._live: dict[str, BookOrder] = {}
        self.stop_flag = stop_flag
        """How the ``d`` flag of stops and take-profits is read (see
        :class:`~bulk_trio.sim.conditional.StopFlag`)."""
        self._conditionals = ConditionalBook()
        self._builders = BuilderApprovals()
        self._desk = AccountDesk(self._ledger, self._builders, has_orders=self._has_orders)
        self._gate.master_of = self._desk.tree.master_of
        self._on_fill: dict[str, tuple[BaseAction, ...]] = {}
        """Follow-up actions of on-fill orders that have not filled yet, by order id."""
        self._finished: OrderedDict[str, BookOrder] = OrderedDict()
        self._finished_memory = finished_memory
        self._last_trusted_nonce = 0
        self._server_ids = 0
        self._clock_ns = 0
        for symbol, price in (initial_prices or {}).items():
            market = self._market_or_raise(symbol)
            _check_positive(price, f"initial_prices[{symbol!r}]")
            market.mark = market.oracle = float(price)

    # -- transactions ----------------------------------------------------------------------

    def submit(self, payload: Mapping[str, Any], *, now_ns: int) -> Submission:
        """Run a received ``post`` payload. Never raises: a refused transaction is ``ok=False``."""
        self._tick(now_ns)
        try:
            envelope = self._gate.admit(payload, is_funded=self.is_funded)
        except TransactionRefused as refusal:
            return Submission(ok=False, message=str(refusal))
        return self._run(
            _Tx(envelope.account, envelope.signer, envelope.nonce, now_ns), envelope.actions
        )

    def submit_trusted(
        self, account: str, actions: Sequence[Action], *, now_ns: int, nonce: int | None = None
    ) -> Submission:
        """Run actions for ``account`` without signature, nonce or funding checks.

        For the built-in market maker and the control handle. ``nonce`` only feeds the order ids;
        by default the engine picks one above every nonce it picked before.
        """
        decode_32(account, field="account")
        self._tick(now_ns)
        if nonce is None:
            nonce = self._last_trusted_nonce = max(now_ns, self._last_trusted_nonce + 1)
        return self._run(_Tx(account, account, nonce, now_ns), tuple(actions))

    def fund(self, account: str, amount: float, *, now_ns: int) -> list[EngineEvent]:
        """Credit ``amount`` to ``account`` (which counts as funded from then on)."""
        decode_32(account, field="account")
        _check_positive(amount, "amount")
        self._tick(now_ns)
        self._ledger.deposit(account, float(amount))
        events: list[EngineEvent] = []
        self._flush(events)
        return events

    def set_mark(self, symbol: str, price: float, *, now_ns: int) -> list[EngineEvent]:
        """Set the mark (and oracle) price of ``symbol`` and revalue every position in it."""
        market = self._market_or_raise(symbol)
        _check_positive(price, "price")
        self._tick(now_ns)
        market.mark = market.oracle = float(price)
        self._ledger.touch_positions(symbol)
        tx = _Tx("", "", 0, now_ns)
        self._run_triggers(tx)
        self._flush(tx.events)
        return tx.events

    # -- queries ---------------------------------------------------------------------------

    def book(
        self, symbol: str, depth: int | None = None
    ) -> tuple[list[tuple[float, float, int]], list[tuple[float, float, int]]]:
        """``(bids, asks)``, each best first, as ``(price, size, order count)``."""
        book = self._market_or_raise(symbol).book
        return (
            [(from_fixed(p), from_fixed(s), n) for p, s, n in book.depth(True, depth)],
            [(from_fixed(p), from_fixed(s), n) for p, s, n in book.depth(False, depth)],
        )

    def account_view(self, account: str) -> AccountView:
        state = self._ledger.peek(account)
        positions = (
            tuple(
                self._ledger.position_view(account, symbol)
                for symbol, pos in sorted(state.positions.items())
                if pos.size
            )
            if state
            else ()
        )
        return AccountView(
            margin=self._ledger.margin_view(account),
            positions=positions,
            open_orders=tuple(self.open_orders(account)),
            leverage=self._leverage_settings(account),
            builder_codes=self._builders.approvals(account),
        )

    @property
    def deposited(self) -> float:
        """Every deposit ever made (faucet, :meth:`fund`)."""
        return self._ledger.deposited

    @property
    def trading_fees(self) -> float:
        """Trading fees the exchange collected. With them, the equity of all accounts adds up to
        :attr:`deposited`: transfers and builder fees only move money between accounts."""
        return self._ledger.trading_fees

    def master_of(self, account: str) -> str | None:
        """The master of a sub-account; None for any other account."""
        return self._desk.tree.master_of(account)

    def sub_accounts(self, master: str) -> dict[str, str]:
        """``{sub-account: name}`` of ``master``, in creation order."""
        return self._desk.tree.sub_accounts(master)

    def agents_of(self, account: str) -> list[str]:
        """The agent wallets ``account`` has authorized to sign for it, sorted."""
        return self._gate.agents.of(account)

    def is_funded(self, account: str) -> bool:
        state = self._ledger.peek(account)
        return state is not None and state.funded

    def order(self, order_id: str) -> OrderView | None:
        """The order's current state, or its final state if it is among the newest
        ``finished_memory`` finished orders (constructor argument, default 10,000; 0 keeps
        none)."""
        order = self._live.get(order_id) or self._finished.get(order_id)
        if order is None:
            conditional = self._conditionals.get(order_id)
            order = conditional.order if conditional else None
        return self._view(order) if order else None

    def open_orders(self, account: str | None = None) -> list[OrderView]:
        """Orders on the book, then conditional orders waiting for their trigger."""
        if account is None:
            return [self._view(order) for order in self._live.values()] + [
                self._view(order) for order in self._conditionals.orders()
            ]
        state = self._ledger.peek(account)
        resting = [self._view(order) for order in state.open_orders.values()] if state else []
        return resting + [self._view(c.order) for c in self._conditionals.of_account(account)]

    def market(self, symbol: str) -> MarketStats:
        market = self._market_or_raise(symbol)
        market.tape.prune(self._clock_ns)
        window = market.tape.window()
        return MarketStats(
            symbol=symbol,
            last_price=market.last,
            mark_price=self._mark_of(symbol),
            oracle_price=market.oracle,
            open_24h=window[0].open if window else None,
            high_24h=max(b.high for b in window) if window else None,
            low_24h=min(b.low for b in window) if window else None,
            volume_24h=sum(b.volume for b in window),
            quote_volume_24h=sum(b.quote_volume for b in window),
            open_interest=from_fixed(self._ledger.open_interest(symbol)),
            funding_rate=0.0,
        )

    # -- running a transaction -------------------------------------------------------------

    def _run(self, tx: _Tx, actions: Sequence[Action]) -> Submission:
        problems = [self._problem(action) for action in actions]
        if any(problems):
            return Submission(ok=True, statuses=self._refusal(tx, actions, problems))
        statuses = [self._execute(action, seqno, tx) for seqno, action in enumerate(actions)]
        self._run_triggers(tx)
        self._flush(tx.events)
        return Submission(ok=True, statuses=tuple(statuses), events=tuple(tx.events))

    def _refusal(
        self, tx: _Tx, actions: Sequence[BaseAction], problems: Sequence[str | None]
    ) -> tuple[ActionStatus, ...]:
        first = next(index for index, problem in enumerate(problems) if problem)
        statuses = []
        for seqno, (action, problem) in enumerate(zip(actions, problems, strict=True)):
            body: dict[str, object] = {}
            if isinstance(action, LimitOrder | MarketOrder) and not tx.server_ids:
                body["oid"] = self._order_id(action, seqno, tx)
            elif isinstance(action, CancelOrder | ModifyOrder):
                body["oid"] = action.oid
            body["reason"] = (
                problem or f"not executed: action {first} of the transaction is invalid"
            )
            statuses.append(ActionStatus("rejectedInvalid", body))
        return tuple(statuses)

    def _problem(self, action: BaseAction) -> str | None:
        """Why ``action`` can never execute here, or None.

        The action classes already refuse non-positive prices, sizes and amounts on construction.
        """
        symbols: Iterable[str]
        if isinstance(
            action,
            LimitOrder
            | MarketOrder
            | CancelOrder
            | ModifyOrder
            | OraclePrice
            | StopOrder
            | TakeProfitOrder
            | RangeOrder
            | TrailingStop
            | TriggerBasket,
        ):
            symbols = (action.symbol,)
        elif isinstance(action, OnFill):
            symbols = (action.trigger.symbol,)
        elif isinstance(action, CancelAll):
            symbols = action.symbols
        elif isinstance(action, UpdateLeverage):
            symbols = [symbol for symbol, _ in action.settings]
        elif isinstance(action, Faucet | AgentWallet | WhitelistFaucet | AccountAction):
            symbols = ()
        elif isinstance(action, PythOracle):
            symbols = ()
            feeds = len(self.symbols)
            for _, feed_index, _, _ in action.entries:
                if feed_index >= feeds:
                    return f"no market for oracle feed {feed_index} (feeds 0..{feeds - 1})"
        else:
            return f"{type(action).__name__} is not supported by the simulator"
        for symbol in symbols:
            if symbol not in self._markets:
                return f"unknown symbol {symbol!r}"
        if isinstance(action, UpdateLeverage):
            for symbol, leverage in action.settings:
                try:
                    check_leverage(leverage, field=f"leverage for {symbol}")
                except ValueError as problem:
                    return str(problem)
        violation = order_problem(self.markets, action)
        if violation is not None:
            return f"{violation.rule}: {violation}"
        return None

    def _execute(self, action: BaseAction, seqno: int, tx: _Tx) -> ActionStatus:
        status = self._dispatch(action, seqno, tx)
        self._run_follow_ups(tx)
        return status

    def _run_follow_ups(self, tx: _Tx) -> None:
        """Run the on-fill actions of orders that filled for the first time just now."""
        while tx.follow_ups:
            account, follow_ups = tx.follow_ups.pop(0)
            self._run_nested(account, follow_ups, tx)

    def _dispatch(self, action: BaseAction, seqno: int, tx: _Tx) -> ActionStatus:
        if isinstance(action, LimitOrder | MarketOrder):
            return self._place(action, seqno, tx)
        if isinstance(action, OnFill):
            return self._place(action.trigger, seqno, tx, follow_ups=action.actions)
        if isinstance(action, ConditionalAction):
            return self._place_conditional(action, tx)
        if isinstance(action, AccountAction):
            return self._desk.execute(
                action,
                account=tx.account,
                now_ns=tx.now_ns,
                run_as=lambda account, actions: self._run_nested(account, actions, tx),
            )
        if isinstance(action, PythOracle):
            for _, feed_index, price, exponent in action.entries:
                self._set_oracle(self.symbols[feed_index], price * 10.0**exponent)
            return ActionStatus(OrderStatus.MODIFIED.value, {"oracles": len(action.entries)})
        if isinstance(action, WhitelistFaucet):
            return ActionStatus(
                OrderStatus.MODIFIED.value,
                {"target": action.target, "whitelist": action.whitelist},
            )
        if isinstance(action, CancelOrder):
            return self._cancel(action, tx)
        if isinstance(action, CancelAll):
            return self._cancel_all(action, tx)
        if isinstance(action, ModifyOrder):
            return self._modify(action, tx)
        if isinstance(action, Faucet):
            amount = self.faucet_amount if action.amount is None else float(action.amount)
            self._ledger.deposit(action.user, amount)
            return ActionStatus("deposit", {"amount": amount})
        if isinstance(action, AgentWallet):
            return self._agent_wallet(action, tx)
        if isinstance(action, UpdateLeverage):
            return self._update_leverage(action, tx)
        if isinstance(action, OraclePrice):
            self._set_oracle(action.symbol, action.price)
            return ActionStatus("modified", {"symbol": action.symbol, "oraclePrice": action.price})
        # _problem refuses every other kind before anything runs.
        raise AssertionError(f"unexpected action {action!r}")

    # -- orders ----------------------------------------------------------------------------

    def _place(
        self,
        action: LimitOrder | MarketOrder,
        seqno: int,
        tx: _Tx,
        *,
        follow_ups: tuple[BaseAction, ...] = (),
    ) -> ActionStatus:
        oid = self._order_id(action, seqno, tx)
        if oid in self._live or oid in self._conditionals:
            return ActionStatus(OrderStatus.REJECTED_DUPLICATE.value, {"oid": oid})
        book = self._markets[action.symbol].book
        is_buy = action.side.is_buy
        size = to_fixed(action.size, field="size")
        limit: int | None
        if isinstance(action, MarketOrder):
            tif = None
            limit = _slippage_limit(book, is_buy, action.slippage_bps)
        else:
            tif = action.time_in_force
            limit = to_fixed(action.price, field="price")
        order = self._new_order(oid, action.symbol, is_buy, size, tx, tif=tif, price=limit or 0)
        order.reduce_only = action.reduce_only
        problem = self._builder_problem(order, action.builder_code)
        if problem:
            return self._finish(order, OrderStatus.REJECTED_INVALID, tx, problem)
        if follow_ups:
            self._on_fill[oid] = follow_ups
        return self._enter(order, limit, tx)

    def _new_order(
        self,
        oid: str,
        symbol: str,
        is_buy: bool,
        size: int,
        tx: _Tx,
        *,
        tif: TimeInForce | None,
        price: int,
    ) -> BookOrder:
        return BookOrder(
            order_id=oid,
            account=tx.account,
            symbol=symbol,
            is_buy=is_buy,
            price=price,
            size=size,
            tif=tif,
            reduce_only=False,
            created_ns=tx.now_ns,
            remaining=size,
            updated_ns=tx.now_ns,
        )

    def _builder_problem(self, order: BookOrder, code: BuilderCode | None) -> str | None:
        if code is None:
            return None
        order.builder = (code.to, code.fee)
        return self._builders.problem(order.account, code.to, code.fee)

    def _enter(self, order: BookOrder, limit: int | None, tx: _Tx) -> ActionStatus:
        """Admit ``order`` (reduce-only, post-only, margin), match it, and rest what is left."""
        is_buy, tif, book = order.is_buy, order.tif, self._markets[order.symbol].book
        if order.reduce_only:
            cap = self._ledger.reducible(order.account, order.symbol, is_buy)
            if cap == 0:
                return self._finish(
                    order,
                    OrderStatus.CANCELLED_REDUCE_ONLY,
                    tx,
                    "reduce-only order would not reduce the position",
                )
            order.size = order.remaining = min(order.size, cap)
        if tif is TimeInForce.ALO and book.crosses(is_buy, limit):
            return self._finish(
                order, OrderStatus.REJECTED_CROSSING, tx, "post-only order would cross the book"
            )
        if not order.reduce_only:
            needed = self._margin_needed(order, limit)
            if needed > 0 and needed > self._ledger.available(order.account) + _MARGIN_TOLERANCE:
                return self._finish(
                    order, OrderStatus.REJECTED_RISK_LIMIT, tx, "insufficient margin"
                )
        if self._match(order, limit, tx):
            return self._finish(
                order,
                OrderStatus.CANCELLED_SELF_CROSSING,
                tx,
                "would trade with a resting order of the same account",
            )
        if order.remaining == 0:
            return self._finish(order, OrderStatus.FILLED, tx)
        if tif is None or tif is TimeInForce.IOC:
            status = OrderStatus.PARTIALLY_FILLED if order.filled else OrderStatus.CANCELLED_IOC
            return self._finish(order, status, tx)
        return self._rest(order, tx)

    def _margin_needed(self, order: BookOrder, limit: int | None) -> float:
        """Initial margin the part of ``order`` that adds to the position would take."""
        reducible = self._ledger.reducible(order.account, order.symbol, order.is_buy)
        leverage = self._ledger.leverage(order.account, order.symbol)
        if order.tif is not None:
            growing = max(0, order.size - reducible)
            return from_fixed(growing) * from_fixed(order.price) / leverage
        # A market order is costed on the liquidity it would take now.
        takes = self._markets[order.symbol].book.liquidity(order.is_buy, limit, order.size)
        total = sum(qty for _, qty in takes)
        if total == 0:
            return 0.0
        notional = sum(from_fixed(price) * from_fixed(qty) for price, qty in takes)
        return notional * (max(0, total - reducible) / total) / leverage

    def _match(self, taker: BookOrder, limit: int | None, tx: _Tx) -> bool:
        """Trade ``taker`` against the book; True if it stopped at its own account's order."""
        book = self._markets[taker.symbol].book
        while taker.remaining:
            maker = book.crossing_front(taker.is_buy, limit)
            if maker is None:
                return False
            if maker.account == taker.account:
                return True
            if maker.reduce_only:
                cap = self._ledger.reducible(maker.account, maker.symbol, maker.is_buy)
                if cap < maker.remaining:
                    self._shrink_reduce_only(maker, cap, tx)
                    continue
            self._trade(taker, maker, min(taker.remaining, maker.remaining), tx)
        return False

    def _trade(self, taker: BookOrder, maker: BookOrder, qty: int, tx: _Tx) -> None:
        market = self._markets[taker.symbol]
        price = from_fixed(maker.price)
        size = from_fixed(qty)
        market.book.resize(maker, maker.remaining - qty)
        taker.remaining -= qty
        for order in (maker, taker):
            order.filled += qty
            order.filled_notional += price * size
            order.updated_ns = tx.now_ns
        for order, is_maker in ((maker, True), (taker, False)):
            signed = qty if order.is_buy else -qty
            self._ledger.fill(order.account, order.symbol, signed, price, maker=is_maker)
            if order.builder is not None:
                builder, fee_bps = order.builder
                fee = self._builders.fee(order.account, builder, fee_bps, price * size)
                if fee:
                    self._ledger.pay_builder(order.account, builder, fee)
            follow_ups = self._on_fill.pop(order.order_id, None)
            if follow_ups is not None:
                tx.follow_ups.append((order.account, follow_ups))
        market.last = price
        market.tape.record(tx.now_ns, price, size)
        tx.events.append(
            TradeExecuted(
                symbol=taker.symbol,
                price=price,
                size=size,
                taker_is_buy=taker.is_buy,
                maker=maker.account,
                taker=taker.account,
                time_ms=tx.now_ns // 1_000_000,
            )
        )
        tx.events.append(self._fill_event(maker, price, size, tx))
        if maker.remaining == 0:
            self._finish(maker, OrderStatus.FILLED, tx)
        else:
            maker.status = OrderStatus.WORKING
            tx.events.append(OrderChanged(self._view(maker)))
        tx.events.append(self._fill_event(taker, price, size, tx))
        self._enforce_reduce_only(maker.account, maker.symbol, tx)
        self._enforce_reduce_only(taker.account, taker.symbol, tx)

    def _rest(self, order: BookOrder, tx: _Tx) -> ActionStatus:
        order.status = OrderStatus.WORKING if order.filled else OrderStatus.RESTING
        order.is_maker = True
        self._markets[order.symbol].book.add(order)
        self._live[order.order_id] = order
        self._ledger.get(order.account).open_orders[order.order_id] = order
        self._ledger.touch(order.account)
        tx.events.append(OrderChanged(self._view(order)))
        return self._status(order)

    def _finish(
        self, order: BookOrder, status: OrderStatus, tx: _Tx, reason: str | None = None
    ) -> ActionStatus:
        """Move ``order`` to a terminal ``status``; anything it still had resting is cancelled."""
        if self._live.pop(order.order_id, None) is not None:
            if order.remaining:
                self._markets[order.symbol].book.remove(order)
            self._ledger.get(order.account).open_orders.pop(order.order_id, None)
            self._ledger.touch(order.account)
        order.remaining = 0
        order.status = status
        order.reason = reason
        self._on_fill.pop(order.order_id, None)  # it never filled: its follow-ups never run
        order.updated_ns = tx.now_ns
        if self._finished_memory:
            self._finished[order.order_id] = order
            if len(self._finished) > self._finished_memory:
                self._finished.popitem(last=False)
        tx.events.append(OrderChanged(self._view(order)))
        return self._status(order)

    def _shrink_reduce_only(self, order: BookOrder, cap: int, tx: _Tx) -> None:
        if cap == 0:
            self._finish(
                order, OrderStatus.CANCELLED_REDUCE_ONLY, tx, "position no longer covers the order"
            )
            return
        self._markets[order.symbol].book.resize(order, cap)
        order.updated_ns = tx.now_ns
        tx.events.append(OrderChanged(self._view(order)))

    def _enforce_reduce_only(self, account: str, symbol: str, tx: _Tx) -> None:
        state = self._ledger.get(account)
        for order in [
            o for o in state.open_orders.values() if o.reduce_only and o.symbol == symbol
        ]:
            cap = self._ledger.reducible(account, symbol, order.is_buy)
            if cap < order.remaining:
                self._shrink_reduce_only(order, cap, tx)

    def _cancel(self, action: CancelOrder, tx: _Tx) -> ActionStatus:
        waiting = self._conditionals.get(action.oid)
        order, problem = self._own_order(action.oid, action.symbol, tx.account)
        if waiting is not None:
            order, problem = None, _ownership_problem(waiting.order, action.symbol, tx.account)
            if not problem:
                self._cancel_conditional(waiting, tx)
                return ActionStatus(OrderStatus.CANCELLED.value, {"oid": action.oid})
        if order is None:
            return ActionStatus(
                OrderStatus.CANCEL_ONE_REJECTED.value, {"oid": action.oid, "reason": problem}
            )
        self._finish(order, OrderStatus.CANCELLED, tx)
        return ActionStatus(OrderStatus.CANCELLED.value, {"oid": order.order_id})

    def _cancel_all(self, action: CancelAll, tx: _Tx) -> ActionStatus:
        symbols = set(action.symbols or self.symbols)
        state = self._ledger.get(tx.account)
        doomed = [order for order in state.open_orders.values() if order.symbol in symbols]
        for order in doomed:
            self._finish(order, OrderStatus.CANCELLED, tx)
        for waiting in self._conditionals.of_account(tx.account):
            if waiting.order.symbol in symbols:  # both legs of a range: each is cancelled
                self._conditionals.remove(waiting.order.order_id)
                self._finish(waiting.order, OrderStatus.CANCELLED, tx)
                doomed.append(waiting.order)
        return ActionStatus(OrderStatus.CANCELLED.value, {"oids": [o.order_id for o in doomed]})

    def _modify(self, action: ModifyOrder, tx: _Tx) -> ActionStatus:
        order, problem = self._own_order(action.oid, action.symbol, tx.account)
        if order is None:
            return ActionStatus(
                OrderStatus.REJECTED_INVALID.value, {"oid": action.oid, "reason": problem}
            )
        new_size = to_fixed(action.size, field="size")
        if new_size <= order.filled:
            self._finish(
                order, OrderStatus.CANCELLED, tx, "modified to no more than its filled size"
            )
            return ActionStatus(OrderStatus.CANCELLED.value, {"oid": order.order_id})
        remaining = new_size - order.filled
        if order.reduce_only:
            remaining = min(
                remaining, self._ledger.reducible(tx.account, order.symbol, order.is_buy)
            )
            if remaining == 0:
                return self._finish(
                    order,
                    OrderStatus.CANCELLED_REDUCE_ONLY,
                    tx,
                    "reduce-only order would not reduce the position",
                )
        else:
            growth = remaining - order.remaining
            leverage = self._ledger.leverage(tx.account, order.symbol)
            needed = from_fixed(max(growth, 0)) * from_fixed(order.price) / leverage
            if needed > 0 and needed > self._ledger.available(tx.account) + _MARGIN_TOLERANCE:
                return ActionStatus(
                    OrderStatus.REJECTED_RISK_LIMIT.value,
                    {"oid": order.order_id, "reason": "insufficient margin"},
                )
        order.size = order.filled + remaining
        self._markets[order.symbol].book.resize(order, remaining)
        order.updated_ns = tx.now_ns
        self._ledger.touch(tx.account)
        tx.events.append(OrderChanged(self._view(order)))
        return ActionStatus(
            OrderStatus.MODIFIED.value,
            {
                "oid": order.order_id,
                "sz": from_fixed(order.size),
                "remainingSz": from_fixed(remaining),
            },
        )

    def _own_order(self, oid: str, symbol: str, account: str) -> tuple[BookOrder | None, str]:
        order = self._live.get(oid)
        if order is None and oid in self._conditionals:
            return None, "a conditional order cannot be modified; cancel it and place a new one"
        if order is None:
            return None, "order not found or no longer open"
        problem = _ownership_problem(order, symbol, account)
        return (None, problem) if problem else (order, "")

    # -- conditional orders ----------------------------------------------------------------

    def _place_conditional(self, action: ConditionalAction, tx: _Tx) -> ActionStatus:
        """Park the action's orders until their trigger. A range parks two legs that cancel
        each other; its reply is the stop-loss leg's status with both ids in ``legs``."""
        try:
            legs = legs_of(action, flag=self.stop_flag, mark=self._mark_of(action.symbol))
        except ValueError as refusal:
            return ActionStatus(OrderStatus.REJECTED_INVALID.value, {"reason": str(refusal)})
        waiting: list[Conditional] = []
        for leg in legs:
            oid = self._server_order_id(tx, leg.kind)
            size = to_fixed(leg.size, field="size") if leg.size else 0
            price = to_fixed(leg.limit if leg.limit is not None else leg.level, field="price")
            order = self._new_order(oid, leg.symbol, leg.is_buy, size, tx, tif=None, price=price)
            order.reduce_only = leg.reduce_only
            order.order_type = leg.kind
            problem = self._builder_problem(order, leg.builder_code)
            if problem:  # the legs share their builder code: the first one decides
                return self._finish(order, OrderStatus.REJECTED_INVALID, tx, problem)
            waiting.append(Conditional.waiting(order, leg))
        if len(waiting) == 2:
            first, second = waiting
            first.sibling, second.sibling = second.order.order_id, first.order.order_id
        for conditional in waiting:
            self._park(conditional, tx)
        status = self._status(waiting[0].order)
        if len(waiting) == 2:
            status.body["legs"] = [c.order.order_id for c in waiting]
        return status

    def _park(self, conditional: Conditional, tx: _Tx) -> None:
        order = conditional.order
        order.status = OrderStatus.RESTING
        order.trigger = conditional.spec()
        self._conditionals.add(conditional)
        tx.events.append(OrderChanged(self._view(order)))

    def _cancel_conditional(self, waiting: Conditional, tx: _Tx) -> None:
        """Cancel a waiting order; cancelling one leg of a range cancels the other leg too."""
        self._conditionals.remove(waiting.order.order_id)
        self._finish(waiting.order, OrderStatus.CANCELLED, tx)
        if waiting.sibling is not None:
            sibling = self._conditionals.remove(waiting.sibling)
            if sibling is not None:
                self._finish(
                    sibling.order, OrderStatus.SIBLING_CANCELLED, tx, "the other leg was cancelled"
                )

    def _run_triggers(self, tx: _Tx) -> None:
        """Move trailing stops with the marks and fire every conditional order that is due,
        until none is: a triggered order that trades can move a mark that is the last price."""
        if not self._conditionals:
            return
        for _ in range(_TRIGGER_ROUNDS):
            fired = False
            for symbol in self.symbols:
                mark = self._mark_of(symbol)
                if mark is None:
                    continue
                for moved in self._conditionals.follow(symbol, mark):
                    moved.order.trigger = moved.spec()
                    moved.order.updated_ns = tx.now_ns
                    tx.events.append(OrderChanged(self._view(moved.order)))
                for due in self._conditionals.due(symbol, mark):
                    # Gone already when its range sibling fired earlier in this loop.
                    if self._conditionals.remove(due.order.order_id) is not None:
                        self._fire(due, tx)
                        self._run_follow_ups(tx)
                        fired = True
            if not fired:
                return

    def _fire(self, conditional: Conditional, tx: _Tx) -> None:
        """Trigger a conditional order once: its sibling is cancelled, then it executes."""
        order = conditional.order
        order.status = OrderStatus.TRIGGERED
        order.updated_ns = tx.now_ns
        tx.events.append(OrderChanged(self._view(order)))
        if conditional.sibling is not None:
            sibling = self._conditionals.remove(conditional.sibling)
            if sibling is not None:
                self._finish(
                    sibling.order, OrderStatus.SIBLING_CANCELLED, tx, "the other leg triggered"
                )
        owner = tx.nested(order.account)
        if conditional.actions:
            statuses = self._run_nested(order.account, conditional.actions, owner)
            failed = [s for s in statuses if OrderStatus.parse(s.name).is_error()]
            if failed:
                reason = f"{len(failed)} of {len(statuses)} actions failed"
                self._finish(order, OrderStatus.TRIGGER_FAILED, tx, reason)
            else:
                self._finish(order, OrderStatus.FILLED, tx)
            return
        book = self._markets[order.symbol].book
        limit: int | None
        if conditional.limit is None:
            order.tif = None
            limit = _slippage_limit(book, order.is_buy, conditional.slippage_bps)
            order.price = limit or 0
        else:
            order.tif = TimeInForce.GTC
            limit = order.price
        self._enter(order, limit, owner)

    def _run_nested(
        self, account: str, actions: Sequence[BaseAction], tx: _Tx
    ) -> tuple[ActionStatus, ...]:
        """Run actions as ``account`` inside ``tx`` (trigger baskets, on-fill, multisig): all or
        nothing is admitted, as for a transaction of their own."""
        inner = tx.nested(account)
        problems = [self._problem(action) for action in actions]
        if any(problems):
            return self._refusal(inner, actions, problems)
        return tuple(self._execute(action, seqno, inner) for seqno, action in enumerate(actions))

    def _server_order_id(self, tx: _Tx, kind: str) -> str:
        """An exchange-assigned id (decision 3), unique within this engine."""
        self._server_ids += 1
        digest = hashlib.sha256(
            b"bulk-trio-sim order "
            + kind.encode()
            + self._server_ids.to_bytes(8, "little")
            + tx.nonce.to_bytes(8, "little")
            + tx.account.encode()
        ).digest()
        return b58encode(digest)

    # -- account actions -------------------------------------------------------------------

    def _agent_wallet(self, action: AgentWallet, tx: _Tx) -> ActionStatus:
        def failed(message: str) -> ActionStatus:
            return ActionStatus(OrderStatus.AGENT_WALLET_FAILED.value, {"message": message})

        if tx.signer != tx.account:
            return failed("agent wallets can only be changed with the account's own key")
        if action.agent == tx.account:
            return failed("an account cannot be its own agent")
        if action.delete:
            if not self._gate.agents.revoke(tx.account, action.agent):
                return failed("agent wallet is not authorized")
        else:
            self._gate.agents.authorize(tx.account, action.agent)
        return ActionStatus(OrderStatus.AGENT_WALLET.value, {"agentWallet": action.agent})

    def _update_leverage(self, action: UpdateLeverage, tx: _Tx) -> ActionStatus:
        pairs = action.settings
        self._ledger.set_leverage(tx.account, pairs)
        settings = self._leverage_settings(tx.account)
        tx.events.append(LeverageChanged(tx.account, settings))
        return ActionStatus(
            OrderStatus.MODIFIED.value, {"leverage": [[symbol, value] for symbol, value in pairs]}
        )

    # -- helpers ---------------------------------------------------------------------------

    def _order_id(self, action: LimitOrder | MarketOrder, seqno: int, tx: _Tx) -> str:
        if not tx.server_ids:
            oid = protocol_order_id(action, seqno=seqno, nonce=tx.nonce, account=tx.account)
            if oid is not None:
                return oid
        # Decision 3: where clients cannot precompute the id, the exchange assigns one.
        return self._server_order_id(tx, type(action).TAG)

    def _flush(self, events: list[EngineEvent]) -> None:
        """Append the level, position and margin changes accumulated since the last flush."""
        for symbol, market in self._markets.items():
            for is_bid, price, size, count in market.book.drain_changes():
                events.append(
                    LevelChanged(symbol, is_bid, from_fixed(price), from_fixed(size), count)
                )
        positions, accounts = self._ledger.drain_touched()
        for account, symbol in positions:
            events.append(PositionChanged(self._ledger.position_view(account, symbol)))
        for account in accounts:
            events.append(MarginChanged(self._ledger.margin_view(account)))

    def _status(self, order: BookOrder) -> ActionStatus:
        body: dict[str, object] = {"oid": order.order_id}
        status = order.status
        # Sizes in statuses are signed, negative for a sell (docs/http-api.md decision 10).
        sign = 1 if order.is_buy else -1
        if status is OrderStatus.WORKING:
            body |= {
                "filledSz": from_fixed(sign * order.filled),
                "remainingSz": from_fixed(sign * order.remaining),
                "vwap": order.vwap,
            }
        elif status in (OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED):
            body |= {"totalSz": from_fixed(sign * order.filled), "avgPx": order.vwap}
        elif status is OrderStatus.CANCELLED_IOC:
            body["filledSz"] = from_fixed(sign * order.filled)
        elif (
            status in (OrderStatus.REJECTED_RISK_LIMIT, OrderStatus.REJECTED_INVALID)
            and order.reason
        ):
            body["reason"] = order.reason
        return ActionStatus(status.value, body)

    def _view(self, order: BookOrder) -> OrderView:
        return OrderView(
            account=order.account,
            order_id=order.order_id,
            symbol=order.symbol,
            is_buy=order.is_buy,
            price=from_fixed(order.price),
            original_size=from_fixed(order.size),
            remaining_size=from_fixed(order.remaining),
            filled_size=from_fixed(order.filled),
            vwap=order.vwap,
            status=order.status.value,
            order_type=order.order_type or ("market" if order.is_market else "limit"),
            tif=order.tif.value.lower() if order.tif else "ioc",
            reduce_only=order.reduce_only,
            is_maker=order.is_maker,
            timestamp=order.updated_ns,
            reason=order.reason,
            trigger=order.trigger,
        )

    def _fill_event(self, order: BookOrder, price: float, size: float, tx: _Tx) -> Filled:
        return Filled(
            account=order.account,
            symbol=order.symbol,
            order_id=order.order_id,
            price=price,
            size=size,
            is_buy=order.is_buy,
            is_maker=order.is_maker,
            timestamp=tx.now_ns,
        )

    def _leverage_settings(self, account: str) -> tuple[tuple[str, float], ...]:
        return tuple(
            (symbol, self._ledger.leverage(account, symbol)) for symbol in sorted(self.symbols)
        )

    def _mark_of(self, symbol: str) -> float | None:
        market = self._markets[symbol]
        return market.mark if market.mark is not None else market.last

    def _market_or_raise(self, symbol: str) -> _Market:
        market = self._markets.get(symbol)
        if market is None:
            raise ValueError(
                f"symbol {symbol!r} is not traded here (symbols: {', '.join(self.symbols)})"
            )
        return market

    def _set_oracle(self, symbol: str, price: float) -> None:
        market = self._markets[symbol]
        market.mark = market.oracle = float(price)
        self._ledger.touch_positions(symbol)

    def _has_orders(self, account: str) -> bool:
        state = self._ledger.peek(account)
        return bool(state and state.open_orders) or bool(self._conditionals.of_account(account))

    def _tick(self, now_ns: int) -> None:
        self._clock_ns = max(self._clock_ns, now_ns)


def _ownership_problem(order: BookOrder, symbol: str, account: str) -> str:
    if order.account != account:
        return "order belongs to another account"
    if order.symbol != symbol:
        return f"order is on {order.symbol}, not {symbol}"
    return ""


def _slippage_limit(book: MatchingBook, is_buy: bool, slippage_bps: float | None) -> int | None:
    if slippage_bps is None:
        return None
    best = book.best_price(not is_buy)
    if best is None:
        return None
    factor = 1 + slippage_bps / 10_000 if is_buy else max(0.0, 1 - slippage_bps / 10_000)
    return round(best * factor)


def _check_positive(value: float, field: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{field} must be a number, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{field} must be a positive finite number, got {value!r}")
