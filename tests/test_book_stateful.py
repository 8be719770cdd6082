"""OrderBook against a plain-dict model, driven by Hypothesis through snapshots, deltas and resets.

The model keys levels by integer ticks and the messages carry ``ticks / 1e8`` as float prices, so
the test also checks that the book's float-to-tick conversion lands on the level the exchange meant.
Sweeps are recomputed by brute force on the model.
"""

from __future__ import annotations

import math

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from bulk_trio.book import OrderBook
from bulk_trio.enums import Side
from bulk_trio.models import BookLevel, L2Delta, L2Snapshot

SYMBOL = "ETH-USD"
TICK = 10**8

# A narrow grid of prices (0.5 apart) makes deltas hit existing levels and cross the book often.
price_ticks = st.integers(min_value=4000, max_value=4030).map(lambda k: k * TICK // 2)
size_ticks = st.integers(min_value=1, max_value=5 * TICK)
counts = st.integers(min_value=0, max_value=20)
sides = st.sampled_from([Side.BUY, Side.SELL])
ladder = st.dictionaries(price_ticks, st.tuples(size_ticks, counts), max_size=12)

Model = dict[int, tuple[int, int]]
"""price ticks -> (size ticks, order count)"""


def levels_of(model: Model) -> tuple[BookLevel, ...]:
    return tuple(
        BookLevel(tick / TICK, size / TICK, count) for tick, (size, count) in model.items()
    )


def best_first(model: Model, side: Side) -> list[int]:
    return sorted(model, reverse=side is Side.BUY)


def brute_sweep(model: Model, side: Side, wanted: int) -> tuple[float, float] | None:
    """(worst price, average price) of a taker fill of ``wanted`` size ticks against ``model``."""
    remaining, cost = wanted, 0.0
    for tick in best_first(model, side):
        take = min(model[tick][0], remaining)
        cost += take * (tick / TICK)
        remaining -= take
        if remaining == 0:
            return tick / TICK, cost / wanted
    return None


class BookMachine(RuleBasedStateMachine):
    @initialize()
    def start(self) -> None:
        self.book = OrderBook(SYMBOL)
        self.model: dict[Side, Model] = {Side.BUY: {}, Side.SELL: {}}
        self.valid = False
        self.timestamp = 0

    def next_timestamp(self) -> int:
        self.timestamp += 1
        return self.timestamp

    @rule(bids=ladder, asks=ladder, as_delta=st.booleans())
    def snapshot(self, bids: Model, asks: Model, as_delta: bool) -> None:
        ts = self.next_timestamp()
        message: L2Snapshot | L2Delta
        if as_delta:
            message = L2Delta(SYMBOL, ts, levels_of(bids), levels_of(asks), is_snapshot=True)
        else:
            message = L2Snapshot(SYMBOL, ts, levels_of(bids), levels_of(asks))
        assert self.book.apply(message)
        self.model = {Side.BUY: dict(bids), Side.SELL: dict(asks)}
        self.valid = True

    @rule(side=sides, tick=price_ticks, size=size_ticks, count=counts)
    def delta_set(self, side: Side, tick: int, size: int, count: int) -> None:
        level = (BookLevel(tick / TICK, size / TICK, count),)
        bids, asks = (level, ()) if side is Side.BUY else ((), level)
        applied = self.book.apply(L2Delta(SYMBOL, self.next_timestamp(), bids, asks))
        assert applied == self.valid
        if self.valid:
            self.model[side][tick] = (size, count)

    @rule(
        bids=st.dictionaries(price_ticks, st.tuples(size_ticks | st.just(0), counts), max_size=4),
        asks=st.dictionaries(price_ticks, st.tuples(size_ticks | st.just(0), counts), max_size=4),
    )
    def delta_batch(self, bids: Model, asks: Model) -> None:
        # Several levels at once (sizes 0 delete): not what the stream sends, but accepted.
        applied = self.book.apply_delta(
            L2Delta(SYMBOL, self.next_timestamp(), levels_of(bids), levels_of(asks))
        )
        assert applied == self.valid
        if self.valid:
            for side, changes in ((Side.BUY, bids), (Side.SELL, asks)):
                for tick, (size, count) in changes.items():
                    if size:
                        self.model[side][tick] = (size, count)
                    else:
                        self.model[side].pop(tick, None)

    @rule(side=sides, data=st.data())
    def delta_delete(self, side: Side, data: st.DataObject) -> None:
        # Mostly existing levels (often the best one), sometimes a level that is not there.
        existing = best_first(self.model[side], side)
        tick = data.draw(st.sampled_from(existing) | price_ticks if existing else price_ticks)
        level = (BookLevel(tick / TICK, 0.0),)
        bids, asks = (level, ()) if side is Side.BUY else ((), level)
        applied = self.book.apply_delta(L2Delta(SYMBOL, self.next_timestamp(), bids, asks))
        assert applied == self.valid
        if self.valid:
            self.model[side].pop(tick, None)

    @rule()
    def invalidate(self) -> None:
        self.book.invalidate()
        self.model = {Side.BUY: {}, Side.SELL: {}}
        self.valid = False

    @precondition(lambda self: self.valid)
    @rule(side=sides, wanted=st.integers(min_value=1, max_value=40 * TICK))
    def sweep(self, side: Side, wanted: int) -> None:
        # A taker BUY walks the asks, a SELL the bids.
        expected = brute_sweep(self.model[side.opposite], side.opposite, wanted)
        price = self.book.sweep_price(side, wanted / TICK)
        vwap = self.book.sweep_vwap(side, wanted / TICK)
        if expected is None:
            assert price is None
            assert vwap is None
        else:
            assert price == expected[0]
            assert vwap is not None
            assert math.isclose(vwap, expected[1], rel_tol=1e-12)

    @invariant()
    def validity(self) -> None:
        assert self.book.is_valid == self.valid

    @invariant()
    def best_prices(self) -> None:
        bids, asks = self.model[Side.BUY], self.model[Side.SELL]
        best_bid = max(bids) / TICK if bids else None
        best_ask = min(asks) / TICK if asks else None
        assert self.book.best_bid() == best_bid
        assert self.book.best_ask() == best_ask
        assert self.book.is_crossed == (
            best_bid is not None and best_ask is not None and best_bid >= best_ask
        )

    @invariant()
    def levels_in_order(self) -> None:
        for side in (Side.BUY, Side.SELL):
            model = self.model[side]
            expected = [
                BookLevel(tick / TICK, model[tick][0] / TICK, model[tick][1])
                for tick in best_first(model, side)
            ]
            assert self.book.levels(side) == expected
            assert self.book.levels(side, 3) == expected[:3]
            assert self.book.level_count(side) == len(model)


BookMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestBookMachine = BookMachine.TestCase
