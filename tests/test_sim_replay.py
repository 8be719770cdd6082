"""The replay feed (bulk_trio.sim.replay) against the real engine, without sockets or Trio: the
recorded book stands in the engine, clients' orders trade with it, the recording wins back each
level it touches, and bad frames are skipped."""

from __future__ import annotations

import hashlib
import math

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bulk_trio.actions import LimitOrder, MarketOrder
from bulk_trio.markets import Market
from bulk_trio.protocol.keys import b58encode
from bulk_trio.sim import frames
from bulk_trio.sim.engine import Engine
from bulk_trio.sim.events import Filled, MarketStats, TradeExecuted
from bulk_trio.sim.market_defaults import default_markets
from bulk_trio.sim.replay import REPLAY_ACCOUNT, ReplayFeed, replay_markets, replay_offset

BTC = "BTC-USD"
NOW = 1_770_000_000_000_000_000
USER = b58encode(hashlib.sha256(b"replay test user").digest())
Levels = list[tuple[float, float, int]]


def snapshot(bids: Levels, asks: Levels, kind: str = "l2Snapshot") -> str:
    return frames.book(kind, BTC, bids, asks, timestamp=1)


def delta(bids: Levels, asks: Levels) -> str:
    return frames.book("l2Delta", BTC, bids, asks, timestamp=1, update_type="delta")


def ticker(mark: float) -> str:
    stats = MarketStats(BTC, 100.5, mark, mark, 100.0, 101.0, 99.0, 5.0, 500.0, 2.0, 0.0)
    return frames.ticker(BTC, stats, timestamp=42)


def book(engine: Engine) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    bids, asks = engine.book(BTC)
    return [(p, s) for p, s, _ in bids], [(p, s) for p, s, _ in asks]


@pytest.fixture
def engine() -> Engine:
    engine = Engine([BTC, "ETH-USD"], initial_prices={BTC: 100.0, "ETH-USD": 10.0})
    engine.fund(USER, 1_000_000.0, now_ns=NOW)
    return engine


@pytest.fixture
def feed(engine: Engine) -> ReplayFeed:
    feed = ReplayFeed(engine)
    feed.open(NOW)
    feed.apply(snapshot([(100.0, 2.0, 3), (99.0, 1.0, 1)], [(101.0, 1.5, 2), (102.0, 4.0, 1)]), NOW)
    return feed


def test_a_snapshot_becomes_the_engines_book_held_by_the_house(
    engine: Engine, feed: ReplayFeed
) -> None:
    assert book(engine) == ([(100.0, 2.0), (99.0, 1.0)], [(101.0, 1.5), (102.0, 4.0)])
    assert {order.account for order in engine.open_orders()} == {REPLAY_ACCOUNT}


def test_deltas_change_and_remove_levels(engine: Engine, feed: ReplayFeed) -> None:
    out = feed.apply(delta([(100.0, 0.5, 1), (99.0, 0.0, 0)], [(101.5, 1.0, 1)]), NOW)
    assert book(engine) == ([(100.0, 0.5)], [(101.0, 1.5), (101.5, 1.0), (102.0, 4.0)])
    assert out.snapshots == [] and out.tickers == []


def test_a_snapshot_publishes_the_book_and_a_shallow_one_keeps_deeper_levels(
    engine: Engine, feed: ReplayFeed
) -> None:
    out = feed.apply(snapshot([(100.0, 3.0, 1)], [(101.0, 1.0, 1)]), NOW)
    assert out.snapshots == [BTC]
    # One level a side says nothing about the levels behind it.
    assert book(engine) == ([(100.0, 3.0), (99.0, 1.0)], [(101.0, 1.0), (102.0, 4.0)])


def test_the_full_book_of_an_l2delta_stream_replaces_everything(
    engine: Engine, feed: ReplayFeed
) -> None:
    feed.apply(snapshot([(98.0, 1.0, 1)], [(103.0, 1.0, 1)], kind="l2Delta"), NOW)
    assert book(engine) == ([(98.0, 1.0)], [(103.0, 1.0)])


def test_a_momentarily_crossed_recording_waits_for_the_other_side(
    engine: Engine, feed: ReplayFeed
) -> None:
    # The new best bid arrives before the delta that removes the ask it would cross.
    feed.apply(delta([(101.0, 1.0, 1)], []), NOW)
    assert book(engine)[0] == [(100.0, 2.0), (99.0, 1.0)]
    assert not [o for o in engine.open_orders() if o.is_buy and o.price == 101.0]
    feed.apply(delta([], [(101.0, 0.0, 0)]), NOW)
    assert book(engine) == ([(101.0, 1.0), (100.0, 2.0), (99.0, 1.0)], [(102.0, 4.0)])


def test_a_market_order_takes_the_replayed_book_until_the_recording_touches_the_level(
    engine: Engine, feed: ReplayFeed
) -> None:
    taken = engine.submit_trusted(USER, [MarketOrder(BTC, "buy", 2.0)], now_ns=NOW)
    fills = [e for e in taken.events if isinstance(e, Filled) and e.account == USER]
    assert [(f.price, f.size) for f in fills] == [(101.0, 1.5), (102.0, 0.5)]
    assert book(engine)[1] == [(102.0, 3.5)]
    feed.apply(delta([(99.0, 2.0, 1)], []), NOW)  # another level: what was taken stays taken
    assert book(engine)[1] == [(102.0, 3.5)]
    feed.apply(delta([], [(102.0, 4.0, 1)]), NOW)  # the recording says 102 again
    assert book(engine)[1] == [(102.0, 4.0)]


def test_a_resting_order_fills_when_the_replayed_book_crosses_it(
    engine: Engine, feed: ReplayFeed
) -> None:
    engine.submit_trusted(USER, [LimitOrder(BTC, "buy", 100.5, 1.0)], now_ns=NOW)
    out = feed.apply(delta([], [(101.0, 0.0, 0), (100.5, 3.0, 1)]), NOW)
    fills = [e for e in out.events if isinstance(e, Filled) and e.account == USER]
    assert [(f.price, f.size, f.is_maker) for f in fills] == [(100.5, 1.0, True)]
    position = engine.account_view(USER).positions[0]
    assert position.size == 1.0 and position.entry_price == 100.5
    assert book(engine)[1][0] == (100.5, 2.0)


def test_tickers_are_republished_with_the_replay_time_and_move_the_mark(
    engine: Engine, feed: ReplayFeed
) -> None:
    engine.submit_trusted(USER, [MarketOrder(BTC, "buy", 1.0)], now_ns=NOW)
    out = feed.apply(ticker(111.0), NOW + 5)
    ((symbol, text),) = out.tickers
    body = orjson.loads(text)["data"]["ticker"]
    assert symbol == BTC and body["timestamp"] == NOW + 5 and body["markPrice"] == 111.0
    assert body == orjson.loads(ticker(111.0))["data"]["ticker"] | {"timestamp": NOW + 5}
    assert engine.market(BTC).mark_price == 111.0
    assert engine.account_view(USER).positions[0].unrealized_pnl == pytest.approx(10.0)
    last = feed.last_ticker(BTC, NOW + 9)
    assert last is not None and orjson.loads(last)["data"]["ticker"]["timestamp"] == NOW + 9
    assert feed.last_ticker("ETH-USD", NOW) is None


def test_before_the_first_ticker_the_mark_follows_the_replayed_mid(
    engine: Engine, feed: ReplayFeed
) -> None:
    assert engine.market(BTC).mark_price == 100.5
    feed.apply(ticker(120.0), NOW)
    feed.apply(delta([(100.0, 0.0, 0)], []), NOW)
    assert engine.market(BTC).mark_price == 120.0


def test_recorded_trades_are_published_as_trades_at_the_replay_time(feed: ReplayFeed) -> None:
    recorded = TradeExecuted(BTC, 101.0, 0.25, True, "maker", "taker", 1)
    out = feed.apply(frames.trades(BTC, [recorded]), NOW)
    assert out.events == [TradeExecuted(BTC, 101.0, 0.25, True, "maker", "taker", NOW // 1_000_000)]


def test_malformed_frames_are_skipped_and_others_ignored(engine: Engine, feed: ReplayFeed) -> None:
    before = book(engine)
    broken = feed.apply('{"type": "l2Delta", "data": {"book"', NOW)
    assert broken.problem is not None and broken.events == []
    assert feed.apply(snapshot([], []).replace(BTC, "DOGE-USD"), NOW).events == []
    assert feed.apply('{"type": "subscriptionResponse", "topics": []}', NOW).events == []
    assert book(engine) == before
    assert (feed.counts.frames, feed.counts.skipped, feed.counts.ignored) == (4, 1, 2)


def test_the_recorded_spacing_is_divided_by_the_speed() -> None:
    first = NOW
    assert replay_offset(first, first + 3_000_000_000, 1.0) == 3.0
    assert replay_offset(first, first + 3_000_000_000, 2.0) == 1.5
    assert replay_offset(first, first + 3_000_000_000, 0.5) == 6.0
    assert replay_offset(first, first + 3_000_000_000, math.inf) == 0.0
    # A wall clock set back while recording never schedules a frame before the first one.
    assert replay_offset(first, first - 1_000_000_000, 1.0) == 0.0


_LEVEL = st.tuples(st.integers(95, 105), st.sampled_from([0.0, 0.5, 1.0, 2.5]))
_OPS = st.lists(
    st.tuples(
        st.sampled_from(["book", "delta"]),
        st.lists(_LEVEL, max_size=4, unique_by=lambda level: level[0]),
        st.lists(_LEVEL, max_size=4, unique_by=lambda level: level[0]),
    ),
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(ops=_OPS)
def test_the_engine_book_follows_any_recording_and_the_house_never_crosses(
    ops: list[tuple[str, list[tuple[int, float]], list[tuple[int, float]]]],
) -> None:
    engine = Engine([BTC], initial_prices={BTC: 100.0})
    feed = ReplayFeed(engine)
    feed.open(NOW)
    recorded: dict[bool, dict[float, float]] = {True: {}, False: {}}
    for kind, bid_levels, ask_levels in ops:
        bids = [(float(p), s, 1) for p, s in bid_levels]
        asks = [(float(p), s, 1) for p, s in ask_levels]
        if kind == "book":  # the full book an l2Delta stream starts with
            feed.apply(
                snapshot([lv for lv in bids if lv[1]], [lv for lv in asks if lv[1]], "l2Delta"), NOW
            )
            recorded = {True: {}, False: {}}
        else:
            feed.apply(delta(bids, asks), NOW)
        for is_bid, levels in ((True, bids), (False, asks)):
            for price, size, _ in levels:
                if size:
                    recorded[is_bid][price] = size
                else:
                    recorded[is_bid].pop(price, None)
        engine_bids, engine_asks = book(engine)
        assert not engine_bids or not engine_asks or engine_bids[0][0] < engine_asks[0][0]
        assert not [t for t in engine.open_orders() if t.account != REPLAY_ACCOUNT]
        crossed = recorded[True] and recorded[False] and max(recorded[True]) >= min(recorded[False])
        if not crossed:  # once the recording is consistent, the engine shows exactly it
            assert engine_bids == sorted(recorded[True].items(), reverse=True)
            assert engine_asks == sorted(recorded[False].items())


def test_levels_that_break_the_simulators_market_rules_are_left_out_and_counted() -> None:
    strict = Market(symbol=BTC, tick_size=1.0, lot_size=0.5)
    engine = Engine([BTC], initial_prices={BTC: 100.0}, markets=[strict])
    feed = ReplayFeed(engine)
    feed.open(NOW)
    feed.apply(snapshot([(100.0, 1.0, 1), (99.5, 1.0, 1)], [(101.0, 0.3, 1), (102.0, 2.0, 1)]), NOW)
    # The off-grid levels would have refused the whole transaction; only they are missing.
    assert book(engine) == ([(100.0, 1.0)], [(102.0, 2.0)])
    assert feed.counts.refused == 2


def test_a_replay_without_rules_accepts_any_recorded_price_and_size() -> None:
    (relaxed,) = replay_markets(default_markets({BTC: 100_000.0}))
    assert relaxed.symbol == BTC and relaxed.min_notional == 0.0
    assert relaxed.problem(price=100_000.12345678, size=0.00000001) is None
    engine = Engine([BTC], initial_prices={BTC: 100_000.0}, markets=[relaxed])
    feed = ReplayFeed(engine)
    feed.open(NOW)
    feed.apply(snapshot([(99_999.99, 0.00012, 1)], [(100_000.05, 0.00001, 1)]), NOW)
    assert book(engine) == ([(99_999.99, 0.00012)], [(100_000.05, 0.00001)])
