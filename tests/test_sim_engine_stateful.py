"""Random order flow against the simulator engine, checked against what its events say."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import attrs
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from bulk_trio.actions import (
    Action,
    CancelAll,
    CancelOrder,
    LimitOrder,
    MarketOrder,
    ModifyOrder,
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

ACCOUNTS = tuple(b58encode(bytes([n]) * 32) for n in (11, 12, 13))
FUNDS = {ACCOUNTS[0]: 1_000_000.0, ACCOUNTS[1]: 1_000_000.0, ACCOUNTS[2]: 40.0}
PRICES = {"BTC-USD": 100.0, "ETH-USD": 10.0}
SYMBOLS = tuple(PRICES)
STATUS_NAMES = {status.value for status in OrderStatus} - {OrderStatus.UNKNOWN.value}
PLACING = {"resting", "working", "filled", "partiallyFilled", "cancelledIOC", "rejectedCrossing"}
PLACING |= {"rejectedRiskLimit", "cancelledReduceOnly", "cancelledSelfCrossing"}

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
    statuses: list[str] = attrs.field(factory=list)


class EngineMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.engine = Engine(SYMBOLS, initial_prices=PRICES, maker_fee_bps=1.0, taker_fee_bps=3.0)
        self.clock = 0
        self.levels: dict[tuple[str, bool, float], tuple[float, int]] = {}
        self.fills: defaultdict[tuple[str, str], int] = defaultdict(int)
        self.orders: dict[str, Tracked] = {}
        self.order_fills: defaultdict[str, int] = defaultdict(int)
        for account, amount in FUNDS.items():
            self.absorb(self.engine.fund(account, amount, now_ns=0))
        # A ladder either side of the reference so that takers usually find something.
        for symbol in SYMBOLS:
            for step in (1, 2, 3):
                for side, sign in ((Side.BUY, -1), (Side.SELL, 1)):
                    ladder = LimitOrder(symbol, side, grid_price(symbol, sign * step), 1.0)
                    self.check_placement(self.submit(ACCOUNTS[1], ladder), 1.0)

    # -- feeding the engine ----------------------------------------------------------------

    def submit(self, account: str, *actions: Action) -> Submission:
        self.clock += 1_000_000
        submission = self.engine.submit_trusted(account, list(actions), now_ns=self.clock)
        assert submission.ok
        assert len(submission.statuses) == len(actions)
        assert {status.name for status in submission.statuses} <= STATUS_NAMES
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
                if len(trade_fills) == 2:
                    self.check_trade(pending_trade, *trade_fills)
                signed = to_fixed(event.size) * (1 if event.is_buy else -1)
                self.fills[(event.account, event.symbol)] += signed
                self.order_fills[event.order_id] += to_fixed(event.size)
            elif isinstance(event, OrderChanged):
                view = event.order
                tracked = self.orders.setdefault(
                    view.order_id, Tracked(to_fixed(view.original_size), view.reduce_only)
                )
                if tracked.statuses:
                    assert not OrderStatus.parse(tracked.statuses[-1]).is_terminal(), (
                        f"{view.order_id} changed after its terminal {tracked.statuses[-1]}"
                    )
                tracked.statuses.append(view.status)
            else:
                assert isinstance(event, PositionChanged | MarginChanged | LeverageChanged)

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

    @rule(account=accounts, symbol=symbols, side=sides, size=sizes, reduce_only=reduce_only_flags)
    def place_market(
        self, account: str, symbol: str, side: Side, size: float, reduce_only: bool
    ) -> None:
        action = MarketOrder(symbol, side, size, reduce_only)
        self.check_placement(self.submit(account, action), size)

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

    @rule(account=accounts, data=st.data(), size=sizes)
    def modify(self, account: str, data: st.DataObject, size: float) -> None:
        live = self.live_orders(account)
        if not live:
            return
        oid = data.draw(st.sampled_from(live))
        view = self.engine.order(oid)
        assert view is not None
        (status,) = self.submit(account, ModifyOrder(view.symbol, oid, size)).statuses
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
                if view.reduce_only:
                    size = held.get(view.symbol, 0.0)
                    assert (size < 0) if view.is_buy else (size > 0)
                    assert to_fixed(view.remaining_size) <= to_fixed(abs(size))

    @invariant()
    def balances_are_deposits_plus_pnl_minus_fees(self) -> None:
        for account in ACCOUNTS:
            margin = self.engine.account_view(account).margin
            cash = margin.total_balance - margin.unrealized_pnl
            expected = FUNDS[account] + margin.realized_pnl - margin.fees
            assert abs(cash - expected) < 1e-6
            assert (
                abs(margin.available_balance - (margin.total_balance - margin.margin_used)) < 1e-6
            )

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
                assert resting > 0
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
