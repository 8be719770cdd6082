"""The simulator engine on its trusted path: matching, statuses, accounts, margin and events."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from bulk_trio.actions import (
    Action,
    AgentWallet,
    CancelAll,
    CancelOrder,
    Faucet,
    LimitOrder,
    MarketOrder,
    ModifyOrder,
    OraclePrice,
    UpdateLeverage,
)
from bulk_trio.enums import Side, TimeInForce
from bulk_trio.protocol.keys import b58encode
from bulk_trio.sim.engine import Engine
from bulk_trio.sim.events import (
    ActionStatus,
    Filled,
    LevelChanged,
    LeverageChanged,
    MarginChanged,
    OrderChanged,
    PositionChanged,
    Submission,
    TradeExecuted,
)
from order_id_oracle import limit_order_id, wire_order_id

A, B, C = (b58encode(bytes([n]) * 32) for n in (1, 2, 3))
BTC, ETH = "BTC-USD", "ETH-USD"
MINUTE_NS = 60 * 10**9


def make_engine(*, funds: float = 1_000_000.0, **options: float) -> Engine:
    settings: dict[str, float] = {"maker_fee_bps": 0.0, "taker_fee_bps": 0.0, **options}
    engine = Engine([BTC, ETH], initial_prices={BTC: 100.0, ETH: 10.0}, **settings)
    for account in (A, B, C):
        engine.fund(account, funds, now_ns=0)
    return engine


@pytest.fixture
def engine() -> Engine:
    return make_engine()


def run(engine: Engine, account: str, *actions: Action, now_ns: int = 1_000) -> Submission:
    submission = engine.submit_trusted(account, list(actions), now_ns=now_ns)
    assert submission.ok
    assert len(submission.statuses) == len(actions)
    return submission


def one(engine: Engine, account: str, action: Action, now_ns: int = 1_000) -> ActionStatus:
    (status,) = run(engine, account, action, now_ns=now_ns).statuses
    return status


def bid(px: float, sz: float, **kw: object) -> LimitOrder:
    return LimitOrder(BTC, Side.BUY, px, sz, **kw)


def ask(px: float, sz: float, **kw: object) -> LimitOrder:
    return LimitOrder(BTC, Side.SELL, px, sz, **kw)


def of_type(events: Sequence[object], kind: type) -> list:
    return [event for event in events if isinstance(event, kind)]


def position(engine: Engine, account: str, symbol: str = BTC) -> float:
    sizes = [p.size for p in engine.account_view(account).positions if p.symbol == symbol]
    return sizes[0] if sizes else 0.0


# -- placement and ids -----------------------------------------------------------------------


def test_gtc_order_rests_under_its_protocol_order_id(engine: Engine) -> None:
    order = bid(99.5, 2.0)
    submission = engine.submit_trusted(A, [order], now_ns=5, nonce=777)
    expected = limit_order_id(BTC, True, 99.5, 2.0, seqno=0, nonce=777, account=A)
    assert submission.statuses == (ActionStatus("resting", {"oid": expected}),)
    assert engine.book(BTC) == ([(99.5, 2.0, 1)], [])
    changed = of_type(submission.events, OrderChanged)
    assert [(e.order.order_id, e.order.status) for e in changed] == [(expected, "resting")]
    assert of_type(submission.events, LevelChanged) == [LevelChanged(BTC, True, 99.5, 2.0, 1)]
    margin = of_type(submission.events, MarginChanged)[-1].margin
    assert margin.account == A
    assert margin.margin_used == pytest.approx(99.5 * 2.0 / 5.0)


def test_order_ids_use_the_index_in_the_transaction(engine: Engine) -> None:
    first, second = bid(90.0, 1.0), bid(91.0, 1.0)
    submission = engine.submit_trusted(A, [CancelAll(), first, second], now_ns=5, nonce=9)
    assert [s.body.get("oid") for s in submission.statuses[1:]] == [
        limit_order_id(BTC, True, 90.0, 1.0, seqno=1, nonce=9, account=A),
        limit_order_id(BTC, True, 91.0, 1.0, seqno=2, nonce=9, account=A),
    ]


def test_the_order_id_oracle_of_the_tests_reproduces_the_published_vectors() -> None:
    # The oracle shares no code with the client; the vectors come from the reference signer.
    vectors = json.loads((Path(__file__).parent / "data" / "vectors.json").read_text())["vectors"]
    checked = 0
    for vector in vectors:
        for expected in vector["order_ids"] or ():
            action = vector["actions"][expected["action_index"]]
            if "slippage" in action.get("m", {}):
                continue  # disputed (decision 3): the simulator assigns those ids itself
            oid = wire_order_id(
                action,
                seqno=expected["seqno"],
                nonce=int(vector["nonce"]),
                account=vector["account"],
            )
            assert oid == expected["order_id"], vector["name"]
            checked += 1
    assert checked >= 5


def test_a_live_order_id_cannot_be_placed_twice(engine: Engine) -> None:
    order = bid(99.0, 1.0)
    first = engine.submit_trusted(A, [order], now_ns=5, nonce=1)
    again = engine.submit_trusted(A, [order], now_ns=6, nonce=1)
    oid = first.statuses[0].body["oid"]
    assert again.statuses == (ActionStatus("rejectedDuplicate", {"oid": oid}),)
    assert again.events == ()  # the live order is not touched
    assert engine.book(BTC) == ([(99.0, 1.0, 1)], [])


# -- matching --------------------------------------------------------------------------------


def test_crossing_order_fills_at_the_resting_price_and_both_sides_see_it(engine: Engine) -> None:
    maker_oid = one(engine, A, ask(101.0, 1.0)).body["oid"]
    submission = run(engine, B, bid(105.0, 1.0), now_ns=7_000_000)
    (status,) = submission.statuses
    assert status.name == "filled"
    assert status.body == {"oid": status.body["oid"], "totalSz": 1.0, "avgPx": 101.0}
    (trade,) = of_type(submission.events, TradeExecuted)
    assert trade == TradeExecuted(BTC, 101.0, 1.0, True, A, B, 7)
    fills = of_type(submission.events, Filled)
    assert [(f.account, f.order_id, f.is_buy, f.is_maker, f.size, f.price) for f in fills] == [
        (A, maker_oid, False, True, 1.0, 101.0),
        (B, status.body["oid"], True, False, 1.0, 101.0),
    ]
    assert engine.order(maker_oid).status == "filled"
    assert engine.book(BTC) == ([], [])
    assert position(engine, A) == -1.0
    assert position(engine, B) == 1.0


def test_events_of_a_fill_come_in_causal_order(engine: Engine) -> None:
    one(engine, A, ask(101.0, 1.0))
    submission = run(engine, B, bid(101.0, 1.0))
    kinds = [type(event).__name__ for event in submission.events]
    assert kinds == [
        "TradeExecuted",
        "Filled",  # maker
        "OrderChanged",  # maker filled
        "Filled",  # taker
        "OrderChanged",  # taker filled
        "LevelChanged",
        "PositionChanged",
        "PositionChanged",
        "MarginChanged",
        "MarginChanged",
    ]


def test_price_then_time_priority(engine: Engine) -> None:
    early = one(engine, A, ask(101.0, 1.0), now_ns=1).body["oid"]
    late = one(engine, C, ask(101.0, 1.0), now_ns=2).body["oid"]
    better = one(engine, C, ask(100.5, 1.0), now_ns=3).body["oid"]
    submission = run(engine, B, bid(101.0, 2.5), now_ns=4)
    filled = [(f.order_id, f.size) for f in of_type(submission.events, Filled) if f.is_maker]
    assert filled == [(better, 1.0), (early, 1.0), (late, 0.5)]
    assert engine.book(BTC) == ([], [(101.0, 0.5, 1)])


def test_partial_fill_of_gtc_reports_working_and_rests_the_rest(engine: Engine) -> None:
    one(engine, A, ask(100.0, 0.4))
    status = one(engine, B, bid(100.0, 1.0))
    assert status.name == "working"
    assert status.body == {
        "oid": status.body["oid"],
        "filledSz": 0.4,
        "remainingSz": 0.6,
        "vwap": 100.0,
    }
    assert engine.book(BTC) == ([(100.0, 0.6, 1)], [])
    view = engine.order(status.body["oid"])
    assert view is not None
    assert (view.status, view.filled_size, view.remaining_size, view.is_maker) == (
        "working",
        0.4,
        0.6,
        True,
    )


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (bid(100.0, 1.0, time_in_force=TimeInForce.IOC), ("partiallyFilled", 0.4)),
        (bid(99.0, 1.0, time_in_force=TimeInForce.IOC), ("cancelledIOC", 0.0)),
        (MarketOrder(BTC, Side.BUY, 1.0), ("partiallyFilled", 0.4)),
        (MarketOrder(BTC, Side.BUY, 0.4), ("filled", 0.4)),
        (MarketOrder(BTC, Side.SELL, 1.0), ("cancelledIOC", 0.0)),
    ],
)
def test_ioc_and_market_orders_never_rest(
    engine: Engine, action: Action, expected: tuple[str, float]
) -> None:
    one(engine, A, ask(100.0, 0.4))
    status = one(engine, B, action)
    name, filled = expected
    assert status.name == name
    if name == "cancelledIOC":
        assert status.body == {"oid": status.body["oid"], "filledSz": 0.0}
    else:
        assert status.body["totalSz"] == filled
        assert status.body["avgPx"] == 100.0
    assert engine.book(BTC)[0] == []  # nothing of B's rests
    assert engine.open_orders(B) == []


def test_post_only_order_that_would_cross_is_rejected(engine: Engine) -> None:
    one(engine, A, ask(100.0, 1.0))
    crossing = one(engine, B, bid(100.0, 1.0, time_in_force=TimeInForce.ALO))
    assert crossing == ActionStatus("rejectedCrossing", {"oid": crossing.body["oid"]})
    passive = one(engine, B, bid(99.9, 1.0, time_in_force=TimeInForce.ALO))
    assert passive.name == "resting"
    assert engine.book(BTC) == ([(99.9, 1.0, 1)], [(100.0, 1.0, 1)])


def test_market_order_with_slippage_stops_at_its_limit(engine: Engine) -> None:
    one(engine, A, ask(100.0, 1.0))
    one(engine, A, ask(100.5, 1.0))  # 50 bps away
    one(engine, A, ask(101.5, 1.0))  # 150 bps away
    status = one(engine, B, MarketOrder(BTC, Side.BUY, 3.0, slippage_bps=100.0))
    assert status.name == "partiallyFilled"
    assert status.body["totalSz"] == 2.0
    assert status.body["avgPx"] == pytest.approx(100.25)
    assert engine.book(BTC) == ([], [(101.5, 1.0, 1)])


def test_self_trade_cancels_the_incoming_remainder_and_keeps_the_resting_order(
    engine: Engine,
) -> None:
    one(engine, B, ask(100.0, 1.0))
    own = one(engine, A, ask(100.5, 1.0)).body["oid"]
    submission = run(engine, A, bid(101.0, 3.0))
    (status,) = submission.statuses
    assert status == ActionStatus("cancelledSelfCrossing", {"oid": status.body["oid"]})
    assert position(engine, A) == 1.0  # the fill against B stands
    assert engine.book(BTC) == ([], [(100.5, 1.0, 1)])
    assert engine.order(own).status == "resting"
    assert engine.order(status.body["oid"]).filled_size == 1.0


# -- reduce-only -----------------------------------------------------------------------------


def test_reduce_only_without_a_position_is_cancelled(engine: Engine) -> None:
    status = one(engine, A, bid(100.0, 1.0, reduce_only=True))
    assert status == ActionStatus("cancelledReduceOnly", {"oid": status.body["oid"]})
    assert engine.book(BTC) == ([], [])


def test_reduce_only_is_clamped_to_the_position_and_never_increases_it(engine: Engine) -> None:
    one(engine, B, ask(100.0, 2.0))
    one(engine, A, bid(100.0, 2.0))  # A is long 2
    assert one(engine, A, bid(100.0, 1.0, reduce_only=True)).name == "cancelledReduceOnly"
    one(engine, C, bid(99.0, 5.0))
    status = one(engine, A, MarketOrder(BTC, Side.SELL, 5.0, reduce_only=True))
    assert status.name == "filled"
    assert status.body["totalSz"] == -2.0  # a sell: signed (docs/http-api.md decision 10)
    assert position(engine, A) == 0.0


def test_resting_reduce_only_order_shrinks_with_the_position(engine: Engine) -> None:
    one(engine, B, ask(100.0, 2.0))
    one(engine, A, bid(100.0, 2.0))  # A long 2
    ro = one(engine, A, ask(110.0, 2.0, reduce_only=True)).body["oid"]
    one(engine, C, bid(95.0, 1.5))
    one(engine, A, MarketOrder(BTC, Side.SELL, 1.5))  # A long 0.5
    assert engine.order(ro).remaining_size == 0.5
    one(engine, C, bid(94.0, 0.5))
    submission = run(engine, A, MarketOrder(BTC, Side.SELL, 0.5))  # A flat
    assert engine.order(ro).status == "cancelledReduceOnly"
    assert LevelChanged(BTC, False, 110.0, 0.0, 0) in submission.events


def test_resting_reduce_only_order_goes_when_another_maker_order_closes_the_position(
    engine: Engine,
) -> None:
    one(engine, B, ask(100.0, 2.0))
    one(engine, A, bid(100.0, 2.0))  # A long 2
    ro = one(engine, A, ask(110.0, 2.0, reduce_only=True)).body["oid"]
    one(engine, A, ask(105.0, 2.0))
    submission = run(engine, C, bid(105.0, 2.0))  # A's plain ask fills as maker: A flat
    assert position(engine, A) == 0.0
    assert engine.order(ro).status == "cancelledReduceOnly"
    assert engine.book(BTC) == ([], [])
    assert LevelChanged(BTC, False, 110.0, 0.0, 0) in submission.events


def test_reduce_only_maker_is_rechecked_before_it_trades(engine: Engine) -> None:
    one(engine, B, ask(100.0, 1.0))
    one(engine, A, bid(100.0, 1.0))  # A long 1
    first = one(engine, A, ask(101.0, 1.0, reduce_only=True)).body["oid"]
    second = one(engine, A, ask(102.0, 1.0, reduce_only=True)).body["oid"]
    run(engine, C, bid(103.0, 2.0))
    assert position(engine, A) == 0.0
    assert engine.order(first).status == "filled"
    assert engine.order(second).status == "cancelledReduceOnly"


# -- cancel and modify -----------------------------------------------------------------------


def test_cancel_own_order(engine: Engine) -> None:
    oid = one(engine, A, bid(99.0, 1.0)).body["oid"]
    submission = run(engine, A, CancelOrder(BTC, oid))
    assert submission.statuses == (ActionStatus("cancelled", {"oid": oid}),)
    assert engine.book(BTC) == ([], [])
    assert LevelChanged(BTC, True, 99.0, 0.0, 0) in submission.events
    assert engine.order(oid).status == "cancelled"


def test_cancel_of_an_unknown_or_foreign_order_is_rejected(engine: Engine) -> None:
    oid = one(engine, A, bid(99.0, 1.0)).body["oid"]
    foreign = one(engine, B, CancelOrder(BTC, oid))
    unknown = one(engine, A, CancelOrder(BTC, b58encode(b"\x07" * 32)))
    wrong_symbol = one(engine, A, CancelOrder(ETH, oid))
    for status in (foreign, unknown, wrong_symbol):
        assert status.name == "cancelOneRejected"
        assert status.body["reason"]
    assert engine.book(BTC) == ([(99.0, 1.0, 1)], [])


def test_cancel_all_for_all_or_listed_symbols(engine: Engine) -> None:
    btc = one(engine, A, bid(99.0, 1.0)).body["oid"]
    eth = one(engine, A, LimitOrder(ETH, Side.BUY, 9.0, 1.0)).body["oid"]
    other = one(engine, B, bid(98.0, 1.0)).body["oid"]
    assert one(engine, A, CancelAll([ETH])) == ActionStatus("cancelled", {"oids": [eth]})
    assert one(engine, A, CancelAll()) == ActionStatus("cancelled", {"oids": [btc]})
    assert [o.order_id for o in engine.open_orders()] == [other]


def test_modify_down_keeps_priority_and_up_loses_it(engine: Engine) -> None:
    first = one(engine, A, ask(100.0, 2.0), now_ns=1).body["oid"]
    second = one(engine, C, ask(100.0, 1.0), now_ns=2).body["oid"]
    status = one(engine, A, ModifyOrder(BTC, first, 1.5))
    assert status == ActionStatus("modified", {"oid": first, "sz": 1.5, "remainingSz": 1.5})
    fills = of_type(run(engine, B, bid(100.0, 0.5)).events, Filled)
    assert fills[0].order_id == first
    one(engine, A, ModifyOrder(BTC, first, 3.0))
    fills = of_type(run(engine, B, bid(100.0, 0.5)).events, Filled)
    assert fills[0].order_id == second
    view = engine.order(first)
    assert view is not None
    assert (view.original_size, view.filled_size, view.remaining_size) == (3.0, 0.5, 2.5)


def test_modify_to_the_filled_size_cancels(engine: Engine) -> None:
    oid = one(engine, A, ask(100.0, 2.0)).body["oid"]
    one(engine, B, bid(100.0, 0.5))
    assert one(engine, A, ModifyOrder(BTC, oid, 0.5)) == ActionStatus("cancelled", {"oid": oid})
    assert engine.book(BTC) == ([], [])


def test_modify_of_an_order_that_is_not_ours_is_rejected(engine: Engine) -> None:
    oid = one(engine, A, ask(100.0, 2.0)).body["oid"]
    for account, action in (
        (B, ModifyOrder(BTC, oid, 1.0)),
        (A, ModifyOrder(BTC, b58encode(b"\x09" * 32), 1.0)),
    ):
        status = one(engine, account, action)
        assert status.name == "rejectedInvalid"
        assert status.body["reason"]
    assert engine.book(BTC) == ([], [(100.0, 2.0, 1)])


# -- transactions ----------------------------------------------------------------------------


def test_cancel_and_replace_in_one_transaction(engine: Engine) -> None:
    old = one(engine, A, bid(99.0, 1.0)).body["oid"]
    submission = run(engine, A, CancelOrder(BTC, old), bid(99.5, 1.0))
    assert [s.name for s in submission.statuses] == ["cancelled", "resting"]
    assert engine.book(BTC) == ([(99.5, 1.0, 1)], [])
    levels = of_type(submission.events, LevelChanged)
    assert levels == [LevelChanged(BTC, True, 99.0, 0.0, 0), LevelChanged(BTC, True, 99.5, 1.0, 1)]


def test_an_invalid_action_refuses_the_whole_transaction(engine: Engine) -> None:
    old = one(engine, A, bid(99.0, 1.0)).body["oid"]
    submission = run(
        engine,
        A,
        CancelOrder(BTC, old),
        LimitOrder("DOGE-USD", Side.BUY, 1.0, 1.0),
        UpdateLeverage({BTC: 100.0}),
    )
    assert [s.name for s in submission.statuses] == ["rejectedInvalid"] * 3
    assert "DOGE-USD" in str(submission.statuses[1].body["reason"])
    assert "leverage" in str(submission.statuses[2].body["reason"])
    assert "action 1" in str(submission.statuses[0].body["reason"])
    assert submission.statuses[0].body["oid"] == old
    assert submission.events == ()
    assert engine.book(BTC) == ([(99.0, 1.0, 1)], [])  # the cancel did not apply


def test_a_failing_action_does_not_undo_earlier_ones(engine: Engine) -> None:
    submission = run(engine, A, bid(99.0, 1.0), CancelOrder(BTC, b58encode(b"\x05" * 32)))
    assert [s.name for s in submission.statuses] == ["resting", "cancelOneRejected"]
    assert engine.book(BTC) == ([(99.0, 1.0, 1)], [])


# -- accounts, margin, P&L -------------------------------------------------------------------


def test_order_needing_more_margin_than_available_is_rejected() -> None:
    engine = make_engine(funds=1_000.0)
    # 5x default leverage: 1 000 of equity carries 5 000 of notional.
    status = one(engine, A, bid(100.0, 51.0))
    assert status == ActionStatus(
        "rejectedRiskLimit", {"oid": status.body["oid"], "reason": "insufficient margin"}
    )
    assert engine.order(status.body["oid"]).status == "rejectedRiskLimit"
    assert one(engine, A, bid(100.0, 50.0)).name == "resting"
    assert engine.account_view(A).margin.available_balance == pytest.approx(0.0)
    assert one(engine, A, LimitOrder(ETH, Side.BUY, 10.0, 1.0)).name == "rejectedRiskLimit"


def test_leverage_setting_changes_the_margin_and_is_reported() -> None:
    engine = make_engine(funds=1_000.0)
    submission = run(engine, A, UpdateLeverage({BTC: 10.0}))
    assert submission.statuses == (ActionStatus("modified", {"leverage": [[BTC, 10.0]]}),)
    assert of_type(submission.events, LeverageChanged) == [
        LeverageChanged(A, ((BTC, 10.0), (ETH, 5.0)))
    ]
    assert one(engine, A, bid(100.0, 100.0)).name == "resting"
    assert engine.account_view(A).leverage == ((BTC, 10.0), (ETH, 5.0))


def test_reducing_orders_need_no_margin() -> None:
    engine = make_engine(funds=1_000.0)
    one(engine, B, ask(100.0, 50.0))
    assert one(engine, A, bid(100.0, 50.0)).name == "filled"  # all margin used
    one(engine, C, bid(100.0, 50.0))
    assert one(engine, A, MarketOrder(BTC, Side.SELL, 50.0)).name == "filled"
    assert position(engine, A) == 0.0


def test_fees_are_charged_on_notional_to_each_side() -> None:
    engine = make_engine(maker_fee_bps=2.0, taker_fee_bps=5.0)
    one(engine, A, ask(100.0, 10.0))
    one(engine, B, bid(100.0, 10.0))
    maker, taker = engine.account_view(A).margin, engine.account_view(B).margin
    assert maker.fees == pytest.approx(1_000.0 * 2e-4)
    assert taker.fees == pytest.approx(1_000.0 * 5e-4)
    assert taker.total_balance == pytest.approx(1_000_000.0 - 0.5)


def test_pnl_realized_on_close_and_unrealized_at_the_mark(engine: Engine) -> None:
    one(engine, A, ask(100.0, 2.0))
    one(engine, B, bid(100.0, 2.0))  # B long 2 @ 100
    events = engine.set_mark(BTC, 110.0, now_ns=2_000)
    touched = {e.position.account for e in of_type(events, PositionChanged)}
    assert touched == {A, B}
    assert {e.margin.account for e in of_type(events, MarginChanged)} == {A, B}
    view = engine.account_view(B)
    (pos,) = view.positions
    assert (pos.size, pos.entry_price, pos.unrealized_pnl) == (2.0, 100.0, pytest.approx(20.0))
    assert view.margin.total_balance == pytest.approx(1_000_020.0)
    one(engine, C, bid(110.0, 1.0))
    one(engine, B, MarketOrder(BTC, Side.SELL, 1.0))
    (pos,) = engine.account_view(B).positions
    assert pos.realized_pnl == pytest.approx(10.0)
    assert pos.size == 1.0
    assert engine.account_view(B).margin.realized_pnl == pytest.approx(10.0)
    assert engine.set_mark(ETH, 11.0, now_ns=3_000) == []  # nobody holds ETH


def test_faucet_agent_and_oracle_actions_on_the_trusted_path() -> None:
    engine = Engine([BTC])
    assert not engine.is_funded(A)
    submission = run(engine, A, Faucet(A), Faucet(C, 5.0))
    assert submission.statuses == (
        ActionStatus("deposit", {"amount": 100_000.0}),
        ActionStatus("deposit", {"amount": 5.0}),
    )
    assert engine.is_funded(A)
    assert engine.account_view(C).margin.total_balance == 5.0
    assert one(engine, A, AgentWallet(B)) == ActionStatus("agentWallet", {"agentWallet": B})
    failed = one(engine, A, AgentWallet(C, delete=True))
    assert failed.name == "agentWalletFailed"
    assert failed.body["message"]
    status = one(engine, A, OraclePrice(BTC, 123.5, 1))
    assert status == ActionStatus("modified", {"symbol": BTC, "oraclePrice": 123.5})
    stats = engine.market(BTC)
    assert (stats.mark_price, stats.oracle_price) == (123.5, 123.5)


def test_market_stats_cover_the_last_24_hours(engine: Engine) -> None:
    one(engine, A, ask(100.0, 1.0), now_ns=0)
    one(engine, B, bid(100.0, 1.0), now_ns=0)
    one(engine, A, ask(104.0, 2.0), now_ns=MINUTE_NS)
    one(engine, B, bid(104.0, 2.0), now_ns=MINUTE_NS)
    stats = engine.market(BTC)
    assert (stats.last_price, stats.open_24h, stats.high_24h, stats.low_24h) == (
        104.0,
        100.0,
        104.0,
        100.0,
    )
    assert (stats.volume_24h, stats.quote_volume_24h) == (3.0, 308.0)
    assert stats.open_interest == 3.0
    engine.set_mark(BTC, 100.0, now_ns=24 * 60 * MINUTE_NS + MINUTE_NS + MINUTE_NS // 2)
    stats = engine.market(BTC)
    assert (stats.open_24h, stats.volume_24h) == (104.0, 2.0)


def test_book_depth_and_queries(engine: Engine) -> None:
    for px in (99.0, 98.0, 97.0):
        one(engine, A, bid(px, 1.0))
    one(engine, B, bid(99.0, 2.0))
    assert engine.book(BTC, depth=2) == ([(99.0, 3.0, 2), (98.0, 1.0, 1)], [])
    assert len(engine.open_orders(A)) == 3
    assert len(engine.open_orders()) == 4
    assert engine.order(b58encode(b"\x08" * 32)) is None
    with pytest.raises(ValueError, match="DOGE"):
        engine.book("DOGE-USD")
