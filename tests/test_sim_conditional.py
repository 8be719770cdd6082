"""Conditional orders in the simulator engine: stops, take-profits, range (OCO) legs, trailing
stops, trigger baskets and on-fill follow-ups, driven by the mark price."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from bulk_trio.actions import (
    Action,
    BuilderCode,
    CancelAll,
    CancelOrder,
    LimitOrder,
    MarketOrder,
    ModifyOrder,
    OnFill,
    OraclePrice,
    RangeOrder,
    StopOrder,
    TakeProfitOrder,
    TrailingStop,
    TriggerBasket,
)
from bulk_trio.enums import Side
from bulk_trio.protocol.keys import b58encode
from bulk_trio.sim.conditional import StopFlag
from bulk_trio.sim.engine import Engine
from bulk_trio.sim.events import ActionStatus, Filled, OrderChanged, Submission

A, B = (b58encode(bytes([n]) * 32) for n in (1, 2))
BTC = "BTC-USD"


def make_engine(stop_flag: StopFlag = StopFlag.IS_ABOVE) -> Engine:
    engine = Engine(
        [BTC],
        initial_prices={BTC: 100.0},
        maker_fee_bps=0.0,
        taker_fee_bps=0.0,
        stop_flag=stop_flag,
    )
    for account in (A, B):
        engine.fund(account, 1_000_000.0, now_ns=0)
    return engine


@pytest.fixture
def engine() -> Engine:
    return make_engine()


def run(engine: Engine, account: str, *actions: Action) -> Submission:
    submission = engine.submit_trusted(account, list(actions), now_ns=1_000)
    assert submission.ok
    assert len(submission.statuses) == len(actions)
    return submission


def one(engine: Engine, account: str, action: Action) -> ActionStatus:
    (status,) = run(engine, account, action).statuses
    return status


def quotes(engine: Engine, bid: float = 99.0, ask: float = 101.0, size: float = 5.0) -> None:
    """B quotes both sides so that triggered orders have something to trade with."""
    run(engine, B, LimitOrder(BTC, Side.BUY, bid, size), LimitOrder(BTC, Side.SELL, ask, size))


def updates(events: Sequence[object], oid: str) -> list[str]:
    return [
        e.order.status for e in events if isinstance(e, OrderChanged) and e.order.order_id == oid
    ]


def position(engine: Engine, account: str) -> float:
    return sum(p.size for p in engine.account_view(account).positions if p.symbol == BTC)


def test_a_stop_waits_off_the_book_then_sells_at_market_when_the_mark_falls(
    engine: Engine,
) -> None:
    quotes(engine)
    submission = run(engine, A, StopOrder(BTC, False, 1.0, 95.0))
    (status,) = submission.statuses
    assert status.name == "resting"
    oid = str(status.body["oid"])
    assert updates(submission.events, oid) == ["resting"]
    view = engine.order(oid)
    assert view is not None
    assert (view.order_type, view.trigger) == ("stop", {"isAbove": False, "px": 95.0})
    assert engine.book(BTC) == ([(99.0, 5.0, 1)], [(101.0, 5.0, 1)])  # not on the book
    assert engine.account_view(A).margin.margin_used == 0.0  # and holds no margin
    assert [o.order_id for o in engine.account_view(A).open_orders] == [oid]

    assert updates(engine.set_mark(BTC, 96.0, now_ns=2_000), oid) == []
    events = engine.set_mark(BTC, 95.0, now_ns=3_000)
    assert updates(events, oid) == ["triggered", "filled"]
    fill = next(e for e in events if isinstance(e, Filled) and e.order_id == oid)
    assert (fill.price, fill.size, fill.is_buy, fill.is_maker) == (99.0, 1.0, False, False)
    assert position(engine, A) == -1.0
    assert engine.open_orders(A) == []


def test_a_triggered_order_never_fires_again(engine: Engine) -> None:
    quotes(engine)
    oid = str(one(engine, A, StopOrder(BTC, True, 1.0, 105.0)).body["oid"])
    seen: list[str] = []
    for now, mark in enumerate((106.0, 90.0, 110.0, 104.0, 120.0), start=2):
        seen += updates(engine.set_mark(BTC, mark, now_ns=now * 1_000), oid)
    assert seen == ["triggered", "filled"]
    assert position(engine, A) == 1.0


def test_a_stop_limit_rests_at_its_limit_once_triggered(engine: Engine) -> None:
    oid = str(one(engine, A, StopOrder(BTC, True, 2.0, 105.0, limit_price=104.0)).body["oid"])
    events = engine.set_mark(BTC, 105.5, now_ns=2_000)
    assert updates(events, oid) == ["triggered", "resting"]
    assert engine.book(BTC) == ([(104.0, 2.0, 1)], [])
    view = engine.order(oid)
    assert view is not None and view.tif == "gtc" and view.order_type == "stop"


def test_a_triggered_market_order_keeps_to_its_slippage(engine: Engine) -> None:
    run(engine, B, LimitOrder(BTC, Side.SELL, 101.0, 1.0), LimitOrder(BTC, Side.SELL, 110.0, 5.0))
    action = StopOrder(BTC, True, 3.0, 100.5, slippage_bps=200.0)  # up to 103.02
    oid = str(one(engine, A, action).body["oid"])
    assert updates(engine.set_mark(BTC, 101.0, now_ns=2_000), oid) == [
        "triggered",
        "partiallyFilled",
    ]
    assert position(engine, A) == 1.0


@pytest.mark.parametrize(
    ("flag", "d", "fires_at", "still_at", "is_buy"),
    [
        (StopFlag.IS_ABOVE, True, 106.0, 99.0, False),  # d = trigger above: sells a long's profit
        (StopFlag.IS_ABOVE, False, 94.0, 101.0, True),
        (StopFlag.IS_BUY, True, 94.0, 101.0, True),  # d = the side: buys back a short lower
        (StopFlag.IS_BUY, False, 106.0, 99.0, False),
    ],
)
def test_the_take_profit_flag_is_read_as_the_switch_says(
    flag: StopFlag, d: bool, fires_at: float, still_at: float, is_buy: bool
) -> None:
    engine = make_engine(flag)
    quotes(engine, bid=90.0, ask=110.0)
    oid = str(
        one(engine, A, TakeProfitOrder(BTC, d, 1.0, 105.0 if fires_at > 100 else 95.0)).body["oid"]
    )
    assert updates(engine.set_mark(BTC, still_at, now_ns=2_000), oid) == []
    assert updates(engine.set_mark(BTC, fires_at, now_ns=3_000), oid)[:1] == ["triggered"]
    assert position(engine, A) == (1.0 if is_buy else -1.0)


def test_a_stop_in_a_batch_no_longer_takes_the_batch_down(engine: Engine) -> None:
    submission = run(
        engine, A, LimitOrder(BTC, Side.BUY, 98.0, 1.0), StopOrder(BTC, False, 1.0, 90.0)
    )
    assert [s.name for s in submission.statuses] == ["resting", "resting"]


def test_an_oracle_price_in_a_transaction_drives_triggers_after_it(engine: Engine) -> None:
    quotes(engine)
    oid = str(one(engine, A, StopOrder(BTC, False, 1.0, 95.0)).body["oid"])
    submission = run(engine, B, OraclePrice(BTC, 94.0, timestamp=5))
    assert updates(submission.events, oid) == ["triggered", "filled"]


def test_cancel_cancel_all_and_modify_of_conditional_orders(engine: Engine) -> None:
    first = str(one(engine, A, StopOrder(BTC, False, 1.0, 90.0)).body["oid"])
    second = str(one(engine, A, TakeProfitOrder(BTC, True, 1.0, 110.0)).body["oid"])
    status = one(engine, A, ModifyOrder(BTC, first, 2.0))
    assert status.name == "rejectedInvalid"
    assert "cannot be modified" in str(status.body["reason"])
    assert one(engine, B, CancelOrder(BTC, first)).name == "cancelOneRejected"
    assert one(engine, A, CancelOrder(BTC, first)) == ActionStatus("cancelled", {"oid": first})
    status = one(engine, A, CancelAll([]))
    assert status.body["oids"] == [second]
    assert engine.open_orders(A) == []
    assert engine.set_mark(BTC, 200.0, now_ns=9_000) == []


def test_a_range_order_fires_one_leg_and_cancels_the_other(engine: Engine) -> None:
    quotes(engine, bid=97.0, ask=103.0)
    one(engine, A, MarketOrder(BTC, Side.BUY, 2.0))  # long 2 at 103
    status = one(engine, A, RangeOrder(BTC, True, 2.0, 95.0, 110.0))
    stop_loss, take_profit = status.body["legs"]  # type: ignore[misc]
    assert status.body["oid"] == stop_loss
    views = {v.order_id: v for v in engine.open_orders(A)}
    assert views[stop_loss].trigger == {"isAbove": False, "px": 95.0, "oco": take_profit}
    assert views[take_profit].trigger == {"isAbove": True, "px": 110.0, "oco": stop_loss}
    assert views[stop_loss].reduce_only and not views[stop_loss].is_buy

    events = engine.set_mark(BTC, 94.0, now_ns=2_000)
    assert updates(events, stop_loss) == ["triggered", "filled"]
    assert updates(events, take_profit) == ["siblingCancelled"]
    assert position(engine, A) == 0.0
    assert updates(engine.set_mark(BTC, 120.0, now_ns=3_000), take_profit) == []


def test_cancelling_one_range_leg_cancels_both(engine: Engine) -> None:
    status = one(engine, A, RangeOrder(BTC, False, 1.0, 105.0, 95.0))
    stop_loss, take_profit = status.body["legs"]  # type: ignore[misc]
    run(engine, A, CancelOrder(BTC, str(take_profit)))
    assert [engine.order(oid).status for oid in (stop_loss, take_profit)] == [  # type: ignore[union-attr]
        "siblingCancelled",
        "cancelled",
    ]


def test_a_trailing_stop_follows_the_best_mark_in_steps_and_fires_on_the_way_back(
    engine: Engine,
) -> None:
    quotes(engine, bid=90.0, ask=130.0, size=10.0)
    one(engine, A, MarketOrder(BTC, Side.BUY, 1.0))
    oid = str(one(engine, A, TrailingStop(BTC, True, 1.0, 500, 100)).body["oid"])

    def level() -> float:
        view = engine.order(oid)
        assert view is not None and view.trigger is not None
        return float(view.trigger["px"])  # type: ignore[arg-type]

    assert level() == pytest.approx(95.0)  # 5 % behind the mark of 100
    engine.set_mark(BTC, 100.5, now_ns=2_000)  # +0.5 %: less than a 1 % step
    assert level() == pytest.approx(95.0)
    engine.set_mark(BTC, 110.0, now_ns=3_000)
    assert level() == pytest.approx(104.5)
    assert updates(engine.set_mark(BTC, 105.0, now_ns=4_000), oid) == []  # turning back...
    assert level() == pytest.approx(104.5)  # ...never moves it down
    assert updates(engine.set_mark(BTC, 104.0, now_ns=5_000), oid) == ["triggered", "filled"]
    assert position(engine, A) == 0.0


def test_a_trigger_basket_runs_its_actions_as_the_account_when_it_fires(engine: Engine) -> None:
    basket = TriggerBasket(
        BTC, True, 102.0, [LimitOrder(BTC, Side.SELL, 120.0, 1.0), CancelAll([BTC])]
    )
    resting = str(one(engine, A, LimitOrder(BTC, Side.BUY, 90.0, 1.0)).body["oid"])
    oid = str(one(engine, A, basket).body["oid"])
    events = engine.set_mark(BTC, 103.0, now_ns=2_000)
    assert updates(events, oid) == ["triggered", "filled"]
    # The basket's limit order rested, then its cancel-all took it and the older bid down.
    assert updates(events, resting) == ["cancelled"]
    assert engine.open_orders(A) == []


def test_on_fill_follow_ups_run_once_on_the_first_fill(engine: Engine) -> None:
    entry = LimitOrder(BTC, Side.BUY, 100.0, 2.0)
    bracket = OnFill(
        entry, [StopOrder(BTC, False, 2.0, 90.0), TakeProfitOrder(BTC, True, 2.0, 120.0)]
    )
    oid = str(one(engine, A, bracket).body["oid"])
    assert [v.order_id for v in engine.open_orders(A)] == [oid]  # nothing before a fill
    run(engine, B, MarketOrder(BTC, Side.SELL, 1.0))
    kinds = sorted(v.order_type for v in engine.open_orders(A))
    assert kinds == ["limit", "stop", "takeProfit"]
    run(engine, B, MarketOrder(BTC, Side.SELL, 1.0))  # the second fill adds nothing
    assert sorted(v.order_type for v in engine.open_orders(A)) == ["stop", "takeProfit"]


def test_on_fill_follow_ups_never_run_for_an_order_cancelled_unfilled(engine: Engine) -> None:
    bracket = OnFill(LimitOrder(BTC, Side.BUY, 90.0, 1.0), [StopOrder(BTC, False, 1.0, 80.0)])
    oid = str(one(engine, A, bracket).body["oid"])
    run(engine, A, CancelOrder(BTC, oid))
    run(engine, B, LimitOrder(BTC, Side.BUY, 90.0, 1.0), MarketOrder(BTC, Side.SELL, 1.0))
    assert engine.open_orders(A) == []


def test_an_unapproved_builder_code_is_refused_on_conditional_orders_too(engine: Engine) -> None:
    code = BuilderCode(B, 5)
    status = one(engine, A, StopOrder(BTC, False, 1.0, 90.0, builder_code=code))
    assert status.name == "rejectedInvalid"
    assert "not approved" in str(status.body["reason"])
    status = one(engine, A, RangeOrder(BTC, True, 1.0, 90.0, 110.0, builder_code=code))
    assert status.name == "rejectedInvalid"
    assert engine.open_orders(A) == []


def test_on_fill_follow_ups_run_when_a_triggered_order_fills_the_entry(engine: Engine) -> None:
    bracket = OnFill(LimitOrder(BTC, Side.BUY, 99.0, 1.0), [StopOrder(BTC, False, 1.0, 90.0)])
    entry = str(one(engine, A, bracket).body["oid"])
    one(engine, B, StopOrder(BTC, False, 1.0, 99.5))
    events = engine.set_mark(BTC, 99.5, now_ns=2_000)  # B's stop sells into A's entry
    assert updates(events, entry) == ["filled"]
    (follow_up,) = engine.open_orders(A)
    assert (follow_up.order_type, follow_up.status) == ("stop", "resting")


def test_conditional_orders_meet_the_markets_lot_and_tick_rules() -> None:
    from bulk_trio.markets import Market

    engine = Engine(
        [BTC],
        initial_prices={BTC: 100.0},
        markets=[Market(symbol=BTC, tick_size=0.5, lot_size=0.1)],
    )
    engine.fund(A, 1_000_000.0, now_ns=0)
    bad_lot = one(engine, A, StopOrder(BTC, False, 0.15, 95.0))
    assert bad_lot.name == "rejectedInvalid"
    assert "lot" in str(bad_lot.body["reason"])
    bad_tick = one(engine, A, RangeOrder(BTC, True, 1.0, 95.0, 105.0, stop_loss_limit=94.7))
    assert "tick" in str(bad_tick.body["reason"])
    # Trigger prices are not orders: any price will do.
    assert one(engine, A, StopOrder(BTC, False, 1.0, 95.3)).name == "resting"
    # An on-fill order's own order is placed at once and meets the rules like any other.
    entry = LimitOrder(BTC, Side.BUY, 99.7, 1.0)
    bad_entry = one(engine, A, OnFill(entry, [StopOrder(BTC, False, 1.0, 95.0)]))
    assert (bad_entry.name, str(bad_entry.body["reason"])[:5]) == ("rejectedInvalid", "tick:")
