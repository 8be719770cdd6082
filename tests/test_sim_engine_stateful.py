"""Random order flow against the simulator engine, checked against what its events say.

Besides the book, positions and order life cycles, the machine checks price-time priority with a
queue model of its own (a maker must be the oldest order at the best price), order ids with an
encoding that shares no code with the client (``order_id_oracle``), that money is conserved
across accounts (trading fees recomputed from the fills), that no conditional order fires twice,
and that a range (OCO) order never fires both legs.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import attrs
from hypothesis import HealthCheck, assume, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from bulk_trio.actions import (
    Action,
    ApproveBuilderCode,
    BuilderCode,
    CancelAll,
    CancelOrder,
    CreateSubAccount,
    LimitOrder,
    MarketOrder,
    ModifyOrder,
    OnFill,
    RangeOrder,
    StopOrder,
    TakeProfitOrder,
    TrailingStop,
    Transfer,
    TriggerBasket,
    UpdateLeverage,
)
from bulk_trio.enums import OrderStatus, Side, TimeInForce
from bulk_trio.fixedpoint import to_fixed
from bulk_trio.protocol.keys import b58encode
from bulk_trio.sim.engine import Engine
from bulk_trio.sim.events import (
    Filled,
    LevelChanged,
    LeverageChanged,
    MarginChanged,
    OrderChanged,
    PositionChanged,
    Submission,
    TradeExecuted,
)
from order_id_oracle import wire_order_id

ACCOUNTS = tuple(b58encode(bytes([n]) * 32) for n in (11, 12, 13))
FUNDS = {ACCOUNTS[0]: 1_000_000.0, ACCOUNTS[1]: 1_000_000.0, ACCOUNTS[2]: 40.0}
BUILDER = b58encode(bytes([14]) * 32)
"""Earns the builder fee of ACCOUNTS[0]'s coded orders; never trades."""
MAKER_FEE, TAKER_FEE = 1e-4, 3e-4
PRICES = {"BTC-USD": 100.0, "ETH-USD": 10.0}
SYMBOLS = tuple(PRICES)
STATUS_NAMES = {status.value for status in OrderStatus} - {OrderStatus.UNKNOWN.value}
PLACING = {"resting", "working", "filled", "partiallyFilled", "cancelledIOC", "rejectedCrossing"}
PLACING |= {"rejectedRiskLimit", "cancelledReduceOnly", "cancelledSelfCrossing"}
ON_BOOK = {"resting", "working"}

accounts = st.sampled_from(ACCOUNTS)
symbols = st.sampled_from(SYMBOLS)
sides = st.sampled_from(Side)
sizes = st.integers(1, 30).map(lambda n: n / 10)
steps = st.integers(-4, 4)  # price grid around the reference, in 0.5 % steps
tifs = st.sampled_from(TimeInForce)
reduce_only_flags = st.integers(0, 3).map(lambda n: n == 3)  # mostly plain orders
LIMIT_ORDER = {
    "account": accounts,
    "symbol": symbols,
    "step": steps,
    "size": sizes,
    "tif": tifs,
    "reduce_only": reduce_only_flags,
}


def grid_price(symbol: str, step: int) -> float:
    return round(PRICES[symbol] * (1 + step / 200), 6)


@attrs.define
class Tracked:
    """What the test knows about one order from the events alone."""

    size: int
    reduce_only: bool
    order_type: str
    statuses: list[str] = attrs.field(factory=list)

    @property
    def waits_for_trigger(self) -> bool:
        """A conditional order not triggered yet: it is listed, but not on the book."""
        return self.order_type not in ("limit", "market") and "triggered" not in self.statuses


class EngineMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.engine = Engine(SYMBOLS, initial_prices=PRICES, maker_fee_bps=1.0, taker_fee_bps=3.0)
        self.clock = 0
        self.nonce = 0
        self.fees = 0.0
        """Trading fees, recomputed from the fills."""
        self.queues: defaultdict[tuple[str, bool, float], list[str]] = defaultdict(list)
        """Per book level, the ids resting there, oldest first: the test's own priority model."""
        self.on_book: dict[str, tuple[tuple[str, bool, float], int]] = {}
        self.range_legs: list[tuple[str, str]] = []
        self.ranges_placed = 0
        self.range_legs_seen = 0
        """Range actions run: by the range rule, and by brackets once their entry filled."""
        self.brackets: list[str] = []
        self.sub_accounts: list[str] = []
        self.levels: dict[tuple[str, bool, float], tuple[float, int]] = {}
        self.fills: defaultdict[tuple[str, str], int] = defaultdict(int)
        self.orders: dict[str, Tracked] = {}
        self.order_fills: defaultdict[str, int] = defaultdict(int)
        for account, amount in FUNDS.items():
            self.absorb(self.engine.fund(account, amount, now_ns=0))
        self.submit(ACCOUNTS[0], ApproveBuilderCode(BUILDER, 10))
        # A ladder either side of the reference so that takers usually find something.
        for symbol in SYMBOLS:
            for step in (1, 2, 3):
                for side, sign in ((Side.BUY, -1), (Side.SELL, 1)):
                    ladder = LimitOrder(symbol, side, grid_price(symbol, sign * step), 1.0)
                    self.check_placement(self.submit(ACCOUNTS[1], ladder), 1.0)

    # -- feeding the engine ----------------------------------------------------------------

    def submit(self, account: str, *actions: Action) -> Submission:
        self.clock += 1_000_000
        self.nonce += 1
        submission = self.engine.submit_trusted(
            account, list(actions), now_ns=self.clock, nonce=self.nonce
        )
        assert submission.ok
        assert len(submission.statuses) == len(actions)
        assert {status.name for status in submission.statuses} <= STATUS_NAMES
        for seqno, (action, status) in enumerate(zip(actions, submission.statuses, strict=True)):
            if isinstance(action, LimitOrder | MarketOrder):
                expected = wire_order_id(
                    action.to_wire(), seqno=seqno, nonce=self.nonce, account=account
                )
                assert status.body["oid"] == expected
        self.absorb(submission.events)
        return submission

    def absorb(self, events: object) -> None:
        pending_trade: TradeExecuted | None = None
        trade_fills: list[Filled] = []
        for event in events:  # type: ignore[attr-defined]
            if isinstance(event, LevelChanged):
                key = (event.symbol, event.is_bid, event.price)
                if event.size == 0:
                    assert event.count == 0
                    self.levels.pop(key, None)
                else:
                    self.levels[key] = (event.size, event.count)
            elif isinstance(event, TradeExecuted):
                assert pending_trade is None or len(trade_fills) == 2
                pending_trade, trade_fills = event, []
            elif isinstance(event, Filled):
                assert pending_trade is not None
                trade_fills.append(event)
                if event.is_maker:
                    self.check_priority(event)
                self.fees += event.price * event.size * (MAKER_FEE if event.is_maker else TAKER_FEE)
                if len(trade_fills) == 2:
                    self.check_trade(pending_trade, *trade_fills)
                signed = to_fixed(event.size) * (1 if event.is_buy else -1)
                self.fills[(event.account, event.symbol)] += signed
                self.order_fills[event.order_id] += to_fixed(event.size)
            elif isinstance(event, OrderChanged):
                view = event.order
                tracked = self.orders.setdefault(
                    view.order_id,
                    Tracked(to_fixed(view.original_size), view.reduce_only, view.order_type),
                )
                if tracked.statuses:
                    assert not OrderStatus.parse(tracked.statuses[-1]).is_terminal(), (
                        f"{view.order_id} changed after its terminal {tracked.statuses[-1]}"
                    )
                if not tracked.statuses and view.order_type == "range":
                    self.range_legs_seen += 1
                tracked.statuses.append(view.status)
                assert tracked.statuses.count("triggered") <= 1, f"{view.order_id} fired twice"
                self.track_queue(view, tracked)
            else:
                assert isinstance(event, PositionChanged | MarginChanged | LeverageChanged)

    def track_queue(self, view: Any, tracked: Tracked) -> None:
        """Keep the priority model: an order joins the back of its level when it rests, keeps
        its place when it shrinks, goes to the back when it grows, and leaves when it ends."""
        oid = view.order_id
        resting = view.status in ON_BOOK and not tracked.waits_for_trigger
        remaining = to_fixed(view.remaining_size)
        known = self.on_book.get(oid)
        if not resting or remaining == 0:
            if known is not None:
                self.queues[known[0]].remove(oid)
                del self.on_book[oid]
            return
        key = (view.symbol, view.is_buy, view.price)
        if known is None:
            self.queues[key].append(oid)
        elif remaining > known[1]:
            self.queues[key].remove(oid)
            self.queues[key].append(oid)
        self.on_book[oid] = (key, remaining)

    def check_priority(self, maker: Filled) -> None:
        """Price-time priority: the maker is the oldest order at the best price of its side."""
        key = (maker.symbol, maker.is_buy, maker.price)
        assert self.queues[key][:1] == [maker.order_id], "not the oldest order at its price"
        prices = [k[2] for k, queue in self.queues.items() if queue and k[:2] == key[:2]]
        best = max(prices) if maker.is_buy else min(prices)
        assert maker.price == best, "a better price was resting"

    def check_trade(self, trade: TradeExecuted, maker: Filled, taker: Filled) -> None:
        assert (maker.account, taker.account) == (trade.maker, trade.taker)
        assert maker.is_maker
        assert not taker.is_maker
        assert maker.is_buy != taker.is_buy
        assert taker.is_buy == trade.taker_is_buy
        for fill in (maker, taker):
            assert (fill.symbol, fill.price, fill.size) == (trade.symbol, trade.price, trade.size)

    def live_orders(self, account: str) -> list[str]:
        return [view.order_id for view in self.engine.open_orders(account)]

    # -- rules -----------------------------------------------------------------------------

    @rule(**LIMIT_ORDER)
    def buy_limit(self, **kw: Any) -> None:
        self.place_limit(Side.BUY, **kw)

    @rule(**LIMIT_ORDER)
    def sell_limit(self, **kw: Any) -> None:
        self.place_limit(Side.SELL, **kw)

    def place_limit(
        self,
        side: Side,
        account: str,
        symbol: str,
        step: int,
        size: float,
        tif: TimeInForce,
        reduce_only: bool,
    ) -> None:
        action = LimitOrder(
            symbol, side, grid_price(symbol, step), size, reduce_only, time_in_force=tif
        )
        self.check_placement(self.submit(account, action), size)

    @rule(
        account=accounts,
        symbol=symbols,
        side=sides,
        size=sizes,
        reduce_only=reduce_only_flags,
        coded=st.booleans(),
    )
    def place_market(
        self, account: str, symbol: str, side: Side, size: float, reduce_only: bool, coded: bool
    ) -> None:
        code = BuilderCode(BUILDER, 10) if coded else None
        action = MarketOrder(symbol, side, size, reduce_only, builder_code=code)
        submission = self.submit(account, action)
        if coded and account != ACCOUNTS[0]:  # only ACCOUNTS[0] approved the builder
            assert submission.statuses[0].name == "rejectedInvalid"
            self.orders[str(submission.statuses[0].body["oid"])].size = to_fixed(size)
            return
        self.check_placement(submission, size)

    @rule(
        account=accounts,
        symbol=symbols,
        kind=st.sampled_from([StopOrder, TakeProfitOrder]),
        d_flag=st.booleans(),
        step=steps,
        size=sizes,
        limit_step=st.none() | steps,
    )
    def place_stop(
        self,
        account: str,
        symbol: str,
        kind: type[StopOrder],
        d_flag: bool,
        step: int,
        size: float,
        limit_step: int | None,
    ) -> None:
        limit = None if limit_step is None else grid_price(symbol, limit_step)
        action = kind(symbol, d_flag, size, grid_price(symbol, step), limit_price=limit)
        (status,) = self.submit(account, action).statuses
        assert status.name in {"resting", "rejectedInvalid"}

    @rule(
        account=accounts, symbol=symbols, is_buy=st.booleans(), size=sizes, width=st.integers(1, 4)
    )
    def place_range(self, account: str, symbol: str, is_buy: bool, size: float, width: int) -> None:
        mark = self.engine.market(symbol).mark_price
        assert mark is not None
        below, above = round(mark * (1 - width / 200), 6), round(mark * (1 + width / 200), 6)
        stop_loss, take_profit = (below, above) if is_buy else (above, below)
        action = RangeOrder(symbol, is_buy, size, stop_loss, take_profit)
        (status,) = self.submit(account, action).statuses
        assert status.name == "resting"
        legs = status.body["legs"]
        assert isinstance(legs, list)
        self.range_legs.append((str(legs[0]), str(legs[1])))
        self.ranges_placed += 1

    @rule(account=accounts, symbol=symbols, side=sides, step=steps, size=sizes)
    def place_bracket(self, account: str, symbol: str, side: Side, step: int, size: float) -> None:
        mark = self.engine.market(symbol).mark_price
        assert mark is not None
        below, above = round(mark * 0.9, 6), round(mark * 1.1, 6)
        protect = RangeOrder(
            symbol, side.is_buy, size, *((below, above) if side.is_buy else (above, below))
        )
        entry = LimitOrder(symbol, side, grid_price(symbol, step), size)
        (status,) = self.submit(account, OnFill(entry, [protect])).statuses
        assert status.name in PLACING
        self.brackets.append(str(status.body["oid"]))

    @rule(account=accounts, symbol=symbols, is_above=st.booleans(), step=steps, size=sizes)
    def place_basket(
        self, account: str, symbol: str, is_above: bool, step: int, size: float
    ) -> None:
        price = grid_price(symbol, step)
        basket = TriggerBasket(symbol, is_above, price, [MarketOrder(symbol, Side.BUY, size)])
        (status,) = self.submit(account, basket).statuses
        assert status.name == "resting"

    @rule(name=st.sampled_from(["a", "b"]), margin=st.integers(0, 500))
    def create_sub_account(self, name: str, margin: int) -> None:
        (status,) = self.submit(ACCOUNTS[0], CreateSubAccount(name, margin or None)).statuses
        if status.name == "createSubAccount":
            self.sub_accounts.append(str(status.body["sub"]))
        else:
            assert status.name == "createSubAccountFailed"

    @rule(data=st.data(), amount=st.integers(1, 300), outwards=st.booleans())
    def internal_transfer(self, data: st.DataObject, amount: int, outwards: bool) -> None:
        if not self.sub_accounts:
            return
        sub = data.draw(st.sampled_from(self.sub_accounts))
        source, destination = (ACCOUNTS[0], sub) if outwards else (sub, ACCOUNTS[0])
        (status,) = self.submit(ACCOUNTS[0], Transfer(source, destination, amount)).statuses
        assert status.name in {"transfer", "transferFailed"}

    @rule(
        account=accounts,
        symbol=symbols,
        protects_long=st.booleans(),
        size=sizes,
        trail=st.integers(10, 300),
        step=st.integers(0, 100),
    )
    def place_trailing(
        self, account: str, symbol: str, protects_long: bool, size: float, trail: int, step: int
    ) -> None:
        action = TrailingStop(symbol, protects_long, size, trail, min(step, trail))
        (status,) = self.submit(account, action).statuses
        assert status.name == "resting"

    @rule(source=accounts, destination=accounts, amount=st.integers(1, 200))
    def transfer(self, source: str, destination: str, amount: int) -> None:
        assume(source != destination)
        action = Transfer(source, destination, amount, external=True)
        margin = self.engine.account_view(source).margin
        spare = min(margin.total_balance - margin.unrealized_pnl, margin.available_balance)
        (status,) = self.submit(source, action).statuses
        assert status.name == ("transfer" if amount <= spare + 1e-9 else "transferFailed")

    def check_placement(self, submission: Submission, size: float) -> None:
        (status,) = submission.statuses
        assert status.name in PLACING
        oid = status.body["oid"]
        assert isinstance(oid, str)
        tracked = self.orders[oid]
        assert tracked.statuses[-1] == status.name  # the reply matches the order's own update
        tracked.size = to_fixed(size)

    @rule(account=accounts, data=st.data())
    def cancel(self, account: str, data: st.DataObject) -> None:
        live = self.live_orders(account)
        oid = data.draw(st.sampled_from(live)) if live else b58encode(b"\x05" * 32)
        view = self.engine.order(oid)
        symbol = view.symbol if view else "BTC-USD"
        (status,) = self.submit(account, CancelOrder(symbol, oid)).statuses
        assert status.name == ("cancelled" if live else "cancelOneRejected")
        assert oid not in self.live_orders(account)
        if live:
            assert self.orders[oid].statuses[-1] == "cancelled"

    @rule(account=accounts, data=st.data(), size=sizes)
    def modify(self, account: str, data: st.DataObject, size: float) -> None:
        live = self.live_orders(account)
        if not live:
            return
        oid = data.draw(st.sampled_from(live))
        view = self.engine.order(oid)
        assert view is not None
        (status,) = self.submit(account, ModifyOrder(view.symbol, oid, size)).statuses
        if self.orders[oid].waits_for_trigger:
            assert status.name == "rejectedInvalid"
            return
        assert status.name in {"modified", "cancelled", "cancelledReduceOnly", "rejectedRiskLimit"}
        if status.name == "modified":
            self.orders[oid].size = to_fixed(size)

    @rule(account=accounts, listed=st.lists(symbols, max_size=2, unique=True))
    def cancel_all(self, account: str, listed: list[str]) -> None:
        before = {v.order_id for v in self.engine.open_orders(account) if v.symbol in listed}
        if not listed:
            before = set(self.live_orders(account))
        (status,) = self.submit(account, CancelAll(listed)).statuses
        assert status.name == "cancelled"
        assert set(status.body["oids"]) == before  # type: ignore[arg-type]
        assert not before & set(self.live_orders(account))

    @rule(account=accounts, symbol=symbols, leverage=st.sampled_from([1.0, 3.0, 5.0, 20.0]))
    def set_leverage(self, account: str, symbol: str, leverage: float) -> None:
        (status,) = self.submit(account, UpdateLeverage({symbol: leverage})).statuses
        assert status.name == "modified"

    @rule(symbol=symbols, step=steps)
    def move_mark(self, symbol: str, step: int) -> None:
        self.clock += 1_000_000
        self.absorb(self.engine.set_mark(symbol, grid_price(symbol, step), now_ns=self.clock))

    # -- invariants ------------------------------------------------------------------------

    @invariant()
    def book_is_never_crossed(self) -> None:
        for symbol in SYMBOLS:
            bids, asks = self.engine.book(symbol)
            if bids and asks:
                assert bids[0][0] < asks[0][0]

    @invariant()
    def level_events_replay_to_the_book(self) -> None:
        for symbol in SYMBOLS:
            replayed: tuple[list[tuple[float, float, int]], ...] = ([], [])
            for (sym, is_bid, px), (sz, n) in sorted(self.levels.items()):
                if sym == symbol:
                    replayed[is_bid].append((px, sz, n))
            replayed[True].reverse()  # bids best (highest) first
            assert self.engine.book(symbol) == (replayed[True], replayed[False])

    @invariant()
    def positions_are_the_sum_of_fills(self) -> None:
        net: defaultdict[str, int] = defaultdict(int)
        for account in ACCOUNTS:
            held = {
                p.symbol: to_fixed(abs(p.size)) * (1 if p.size > 0 else -1)
                for p in self.engine.account_view(account).positions
            }
            for symbol in SYMBOLS:
                assert held.get(symbol, 0) == self.fills[(account, symbol)]
                net[symbol] += held.get(symbol, 0)
        assert all(total == 0 for total in net.values())  # every trade has two sides
        for symbol in SYMBOLS:
            longs = sum(max(self.fills[(a, symbol)], 0) for a in ACCOUNTS)
            assert to_fixed(self.engine.market(symbol).open_interest) == longs

    @invariant()
    def resting_reduce_only_orders_are_covered_by_the_position(self) -> None:
        for account in ACCOUNTS:
            held = {p.symbol: p.size for p in self.engine.account_view(account).positions}
            for view in self.engine.open_orders(account):
                if view.reduce_only and not self.orders[view.order_id].waits_for_trigger:
                    size = held.get(view.symbol, 0.0)
                    assert (size < 0) if view.is_buy else (size > 0)
                    assert to_fixed(view.remaining_size) <= to_fixed(abs(size))

    @invariant()
    def money_is_conserved_across_accounts(self) -> None:
        # Trades are zero-sum at one mark, transfers and builder fees only move money, so all
        # equity plus the exchange's trading fees is what was deposited.
        equity = 0.0
        for account in (*ACCOUNTS, BUILDER, *self.sub_accounts):
            margin = self.engine.account_view(account).margin
            equity += margin.total_balance
            assert (
                abs(margin.available_balance - (margin.total_balance - margin.margin_used)) < 1e-6
            )
            cash = margin.total_balance - margin.unrealized_pnl
            assert cash >= -1e-6 or margin.fees > 0  # only fees can take cash below zero
        assert abs(equity + self.fees - sum(FUNDS.values())) < 1e-6

    @invariant()
    def on_fill_follow_ups_run_once_on_the_first_fill(self) -> None:
        filled_entries = sum(1 for oid in self.brackets if self.order_fills[oid] > 0)
        assert self.range_legs_seen == 2 * (self.ranges_placed + filled_entries)

    @invariant()
    def a_range_order_never_fires_both_legs(self) -> None:
        for legs in self.range_legs:
            fired = [oid for oid in legs if "triggered" in self.orders[oid].statuses]
            assert len(fired) <= 1
            if fired:
                (other,) = set(legs) - set(fired)
                assert self.orders[other].statuses[-1] in {"siblingCancelled", "cancelled"}

    @invariant()
    def every_order_is_resting_or_finished_and_sizes_add_up(self) -> None:
        live = {view.order_id: view for view in self.engine.open_orders()}
        for oid, tracked in self.orders.items():
            view = self.engine.order(oid)
            assert view is not None
            status = OrderStatus.parse(view.status)
            assert view.status == tracked.statuses[-1]
            filled = self.order_fills[oid]
            assert to_fixed(view.filled_size) == filled
            resting = to_fixed(view.remaining_size)
            if status.is_terminal():
                assert oid not in live
                assert resting == 0
            else:
                assert status in (OrderStatus.RESTING, OrderStatus.WORKING)
                assert oid in live
                assert resting > 0 or tracked.order_type == "trigger"  # a basket trades nothing
            if tracked.waits_for_trigger:
                continue  # listed with its size, but not on the book and not filled
            # filled + resting + cancelled == submitted, with nothing cancelled while a plain order
            # rests (a reduce-only order may have been trimmed to the position).
            assert filled + resting <= tracked.size
            if not status.is_terminal() and not tracked.reduce_only:
                assert filled + resting == tracked.size
        assert set(live) <= set(self.orders)


EngineMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestEngineMachine = EngineMachine.TestCase
