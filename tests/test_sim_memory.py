"""The simulator's memory stays bounded however long it runs: finished orders and history rows are
kept up to documented, configurable limits, and the history says when it no longer has a range."""

from __future__ import annotations

import pytest

from bulk_trio.actions import CancelOrder, LimitOrder, MarketOrder
from bulk_trio.sim import open_simulator
from bulk_trio.sim.engine import Engine
from bulk_trio.sim.feed import MARKET_MAKER, TAKER, MarketFeed
from bulk_trio.sim.history import HistoryLog
from bulk_trio.sim.market_defaults import default_markets

NOW = 1_800_000_000_000_000_000
PRICES = {"BTC-USD": 100_000.0}
ALICE = "11111111111111111111111111111112"
BOB = "11111111111111111111111111111113"


def test_the_engine_remembers_only_the_newest_finished_orders() -> None:
    engine = Engine(["BTC-USD"], initial_prices=PRICES, finished_memory=50)
    engine.fund(ALICE, 1e9, now_ns=NOW)
    ids = []
    for i in range(500):
        bid = LimitOrder("BTC-USD", "buy", 90_000.0 + i, 0.01)
        (placed,) = engine.submit_trusted(ALICE, [bid], now_ns=NOW + i).statuses
        oid = str(placed.body["oid"])
        engine.submit_trusted(ALICE, [CancelOrder("BTC-USD", oid)], now_ns=NOW + i)
        ids.append(oid)
    known = [oid for oid in ids if engine.order(oid) is not None]
    assert known == ids[-50:]  # the newest 50, and no more
    assert engine.order(ids[-1]).status == "cancelled"  # type: ignore[union-attr]


def test_finished_memory_zero_keeps_none_and_bad_values_are_refused() -> None:
    engine = Engine(["BTC-USD"], initial_prices=PRICES, finished_memory=0)
    engine.fund(ALICE, 1e9, now_ns=NOW)
    bid = LimitOrder("BTC-USD", "buy", 90_000.0, 0.01)
    oid = str(engine.submit_trusted(ALICE, [bid], now_ns=NOW).statuses[0].body["oid"])
    assert engine.order(oid) is not None  # live orders are always known
    engine.submit_trusted(ALICE, [CancelOrder("BTC-USD", oid)], now_ns=NOW)
    assert engine.order(oid) is None
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="finished_memory"):
            Engine(["BTC-USD"], finished_memory=bad)  # type: ignore[arg-type]


def _trade(engine: Engine, history: HistoryLog, count: int) -> None:
    for i in range(count):
        ask = LimitOrder("BTC-USD", "sell", 100_000.0 + i, 0.01)
        history.record(engine.submit_trusted(ALICE, [ask], now_ns=NOW + i).events)
        take = MarketOrder("BTC-USD", "buy", 0.01)
        history.record(engine.submit_trusted(BOB, [take], now_ns=NOW + i).events)


def _all_rows(history: HistoryLog, kind: str, account: str) -> list[dict[str, object]]:
    page = history.page(kind, account, {"limit": 5000})
    assert not page["page"]["hasMore"]
    return list(page["data"])


def test_history_keeps_the_newest_rows_and_says_what_it_dropped() -> None:
    engine = Engine(["BTC-USD"], initial_prices=PRICES)
    history = HistoryLog(maker_fee_bps=1.0, taker_fee_bps=3.0, max_rows=20)
    for account in (ALICE, BOB):
        history.record(engine.fund(account, 1e9, now_ns=NOW))
    _trade(engine, history, 5)
    whole = history.page("fills", ALICE, {})["page"]
    assert (whole["coverage"], whole["minAvailableSlot"]) == ("complete", 0)

    _trade(engine, history, 95)
    rows = _all_rows(history, "fills", ALICE)
    assert len(rows) == 20
    assert rows[0]["price"] == 100_094.0  # newest first: the last 20 trades are all there
    assert rows[-1]["price"] == 100_075.0
    page = history.page("fills", ALICE, {})["page"]
    assert page["coverage"] == "partial"  # the range from slot 0 is no longer all there
    oldest_kept = min(int(row["slot"]) for row in rows)  # type: ignore[call-overload]
    assert 0 < page["minAvailableSlot"] <= oldest_kept  # complete from there on
    later = history.page("fills", ALICE, {"startSlot": oldest_kept})["page"]
    assert later["coverage"] == "complete"
    # Every kind of every account is bounded the same way.
    assert len(_all_rows(history, "orderHistory", ALICE)) == 20
    assert len(_all_rows(history, "fills", BOB)) == 20


def test_history_refuses_a_bad_limit() -> None:
    for bad in (0, -5, 2.5, False):
        with pytest.raises(ValueError, match="max_rows"):
            HistoryLog(maker_fee_bps=1.0, taker_fee_bps=3.0, max_rows=bad)  # type: ignore[arg-type]


def test_a_busy_synthetic_market_stays_within_the_limits() -> None:
    """The feed's market maker requotes every step (dozens of cancels), its taker trades: what
    grew without bound in a soak (finished orders, the house accounts' history) stays capped."""
    engine = Engine(
        ["BTC-USD", "ETH-USD"],
        initial_prices={"BTC-USD": 100_000.0, "ETH-USD": 3_500.0},
        markets=default_markets({"BTC-USD": 100_000.0, "ETH-USD": 3_500.0}),
        finished_memory=100,
    )
    feed = MarketFeed(engine, seed=3, settings=None, takers=True)
    history = HistoryLog(maker_fee_bps=1.0, taker_fee_bps=3.0, max_rows=100)
    now = NOW
    history.record(feed.open(now))
    for _ in range(400):
        now += 250_000_000
        history.record(feed.step(now))
    maker_orders = _all_rows(history, "orderHistory", MARKET_MAKER)
    assert len(maker_orders) == 100
    assert history.page("orderHistory", MARKET_MAKER, {})["page"]["coverage"] == "partial"
    assert len(_all_rows(history, "fills", TAKER)) <= 100
    remembered = [row for row in maker_orders if engine.order(str(row["orderId"])) is not None]
    assert len(remembered) <= 100


async def test_open_simulator_checks_the_limits_up_front() -> None:
    with pytest.raises(ValueError, match="max_rows"):
        async with open_simulator(history_rows=0):
            pass  # pragma: no cover
    with pytest.raises(ValueError, match="finished_memory"):
        async with open_simulator(finished_memory=-1):
            pass  # pragma: no cover
