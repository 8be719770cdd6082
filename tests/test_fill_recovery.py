"""The sans-IO fill ledger: what a reconnect missed, and every fill applied exactly once."""

from __future__ import annotations

from collections import Counter

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bulk_trio import Fill, Side
from bulk_trio.enums import Topic
from bulk_trio.fill_recovery import FillLedger, RecoveryPlan, fill_key
from bulk_trio.http_models import HistoryFill
from bulk_trio.inventory import Inventory
from bulk_trio.models import ConnectionStatus, Position
from bulk_trio.session import PublishEvent, Session
from bulk_trio.state import ClientState

ME = "Me111111111111111111111111111111111111111111"
THEM = "Them1111111111111111111111111111111111111111"


def fill(order: str, ts: int, *, price: float = 100.0, size: float = 1.0, buy: bool = True) -> Fill:
    return Fill(
        symbol="BTC-USD",
        order_id=order,
        price=price,
        size=size,
        side=Side.BUY if buy else Side.SELL,
        timestamp=ts,
    )


def ledger_at(ns: int) -> FillLedger:
    ledger = FillLedger(clock=lambda: ns)
    ledger.tracking(ME)
    return ledger


def test_a_live_fill_and_its_history_row_share_the_key() -> None:
    row = HistoryFill(
        symbol="BTC-USD", price=101.5, size=0.25, is_buy=True, maker=THEM, taker=ME,
        maker_order_id="M", taker_order_id="T", timestamp=1_700_000_000_123_456_789,
    )  # fmt: skip
    live_taker = Fill(
        symbol="BTC-USD",
        order_id="T",
        price=101.5,
        size=0.25,
        side=Side.BUY,
        timestamp=row.timestamp,
        account=ME,
    )
    live_maker = Fill(
        symbol="BTC-USD",
        order_id="M",
        price=101.5,
        size=0.25,
        side=Side.SELL,
        is_maker=True,
        timestamp=row.timestamp,
        account=THEM,
    )
    assert fill_key(row.for_account(ME)) == fill_key(live_taker)
    assert fill_key(row.for_account(THEM)) == fill_key(live_maker)


def test_no_window_before_the_account_is_tracked() -> None:
    ledger = FillLedger(clock=lambda: 5)
    assert not ledger.connection_lost()
    assert ledger.reconnected() is None


def test_the_window_starts_at_the_newest_fill_seen() -> None:
    ledger = ledger_at(1)
    assert ledger.live(fill("a", 10)) and ledger.live(fill("b", 20))
    assert ledger.connection_lost()
    assert not ledger.connection_lost()  # a failed reconnect keeps the window
    plan = ledger.reconnected()
    assert plan == RecoveryPlan(1, ME, 20)


def test_without_a_fill_the_window_starts_when_tracking_began() -> None:
    ledger = ledger_at(1_000)
    ledger.connection_lost()
    plan = ledger.reconnected()
    assert plan is not None and plan.since_ns == 1_000


def test_missed_fills_are_the_history_minus_what_was_seen() -> None:
    ledger = ledger_at(1)
    ledger.live(fill("a", 10))
    ledger.connection_lost()
    plan = ledger.reconnected()
    assert plan is not None
    after = fill("d", 40)
    assert ledger.live(after)  # seen live after the reconnect, before the history answered
    history = [fill("old", 5), fill("a", 10), fill("b", 20), fill("c", 30), after]
    result = ledger.resolve(plan, reversed(history))  # the history's row order is not specified
    assert result is not None
    assert [f.order_id for f in result.recovered] == ["b", "c"]
    assert all(f.recovered for f in result.recovered)
    assert [f.order_id for f in result.replay] == ["b", "c", "d"]
    assert ledger.recovered_total == 2
    assert not ledger.window_open


def test_equal_keys_count_as_a_multiset() -> None:
    ledger = ledger_at(1)
    twin = fill("sweep", 10)
    ledger.live(twin)  # one of two identical executions of one transaction arrived
    ledger.connection_lost()
    plan = ledger.reconnected()
    assert plan is not None
    result = ledger.resolve(plan, [twin, twin])
    assert result is not None and len(result.recovered) == 1


def test_a_recovered_fill_arriving_live_later_is_skipped_once() -> None:
    ledger = ledger_at(1)
    ledger.connection_lost()
    plan = ledger.reconnected()
    assert plan is not None
    late = fill("late", 50)
    result = ledger.resolve(plan, [late])
    assert result is not None and len(result.recovered) == 1
    assert not ledger.live(late)  # the history answered before the socket delivered it
    assert ledger.live(attrs.evolve(late, timestamp=51))  # a different execution


def test_a_superseded_plan_changes_nothing() -> None:
    ledger = ledger_at(1)
    ledger.connection_lost()
    first = ledger.reconnected()
    ledger.connection_lost()
    second = ledger.reconnected()
    assert first is not None and second is not None and first.since_ns == second.since_ns
    assert ledger.resolve(first, [fill("x", 5)]) is None
    assert not ledger.abandon(first)
    result = ledger.resolve(second, [fill("x", 5)])
    assert result is not None and len(result.recovered) == 1


def test_abandon_closes_the_window() -> None:
    ledger = ledger_at(1)
    ledger.connection_lost()
    plan = ledger.reconnected()
    assert plan is not None and ledger.abandon(plan)
    assert ledger.reconnected() is None


def test_memory_must_be_positive() -> None:
    with pytest.raises(ValueError, match="memory"):
        FillLedger(memory=0)


# -- any interleaving: each fill applied exactly once ------------------------------------------


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[Fill], int, int, int, int]:
    """The account's fills in exchange order, and four points in it: the drop ``a``, the
    reconnect ``r``, how far the socket got when the history answered ``d``, and how far the
    history reached ``h`` (it was asked after the reconnect, so ``h >= r``)."""
    count = draw(st.integers(0, 14))
    fills: list[Fill] = []
    ts = 100
    for _ in range(count):
        if fills and draw(st.booleans()) and draw(st.booleans()):
            fills.append(fills[-1])  # an identical twin: same order, price, size and time
            continue
        ts += draw(st.integers(1, 5))
        fills.append(
            Fill(
                symbol=draw(st.sampled_from(["BTC-USD", "ETH-USD"])),
                order_id=f"o{draw(st.integers(0, 3))}",
                price=float(draw(st.integers(90, 110))),
                size=draw(st.sampled_from([0.5, 1.0, 2.0])),
                side=draw(st.sampled_from([Side.BUY, Side.SELL])),
                timestamp=ts,
                account=ME,
            )
        )
    # A snapshot and a history answer see whole transactions (twins share one); the socket
    # may drop, or be read, between any two frames.
    whole = [i for i in range(1, count) if starts_transaction(fills, i)] + [0, count]
    a = draw(st.integers(0, count))
    r = draw(st.sampled_from(sorted(i for i in set(whole) if i >= a)))
    d = draw(st.integers(r, count))
    h = draw(st.sampled_from(sorted(i for i in set(whole) if i >= r)))
    return fills, a, r, d, h


def starts_transaction(fills: list[Fill], index: int) -> bool:
    """True when a transaction ends before ``fills[index]``."""
    return fills[index].timestamp != fills[index - 1].timestamp


def applied_in_order(fills: list[Fill]) -> Inventory:
    inventory = Inventory()
    for item in fills:
        inventory.apply_fill(item)
    return inventory


@given(histories(), st.randoms(use_true_random=False))
def test_any_interleaving_applies_each_fill_exactly_once(
    case: tuple[list[Fill], int, int, int, int], rng: object
) -> None:
    fills, a, r, d, h = case
    published: list[Fill] = []

    def publish(topic: Topic, item: object) -> None:
        if topic is Topic.FILL and isinstance(item, Fill):
            published.append(item)

    state = ClientState(publish)
    state.account = ME
    state.fills = ledger_at(0)
    state.fills.tracking(ME)
    for item in fills[:a]:
        state.on_fill(item)
    state.connection_lost()
    # The reconnect's snapshot: the exchange's positions after fills[:r] (they replace ours).
    truth_at_r = applied_in_order(fills[:r])
    snapshot_positions = [
        Position(symbol=s, size=v.size, entry_price=v.entry_price, realized_pnl=v.realized_pnl)
        for s, v in truth_at_r.positions.items()
    ]
    state.inventory.reset(snapshot_positions)
    state.positions = {p.symbol: p for p in snapshot_positions}
    plan = state.fills.reconnected()
    assert plan is not None
    for item in fills[r:d]:
        state.on_fill(item)
    history = list(fills[:h])
    rng.shuffle(history)  # type: ignore[attr-defined]
    result = state.fills.resolve(plan, history)
    assert result is not None
    # The exchange's positions when the history answered (the check compares against them).
    truth_now = applied_in_order(fills[: max(d, h)])
    state.positions = {
        s: Position(symbol=s, size=v.size, entry_price=v.entry_price)
        for s, v in truth_now.positions.items()
    }
    assert state.apply_recovered(result) == []
    for item in fills[d:]:
        state.on_fill(item)

    assert Counter(map(fill_key, published)) == Counter(map(fill_key, fills))
    assert sum(f.recovered for f in published) == len(result.recovered)
    truth = applied_in_order(fills)
    for symbol in ("BTC-USD", "ETH-USD"):
        ours, theirs = state.inventory.position(symbol), truth.position(symbol)
        assert ours.size == pytest.approx(theirs.size, abs=1e-9)
        assert ours.realized_pnl == pytest.approx(theirs.realized_pnl, abs=1e-6)


# -- the session's part -----------------------------------------------------------------------


def test_the_session_announces_a_gap_with_its_reason() -> None:
    published: list[object] = []
    state = ClientState(lambda topic, item: published.append(item), account=ME)
    state.fills = ledger_at(0)
    session = Session(state)
    session.went_live(0.0)
    session.disconnected("dropped", 1.0, was_live=True)
    session.went_live(2.0)
    plan = session.recovery_plan()
    assert plan is not None and session.recovery_plan() is None  # handed out once
    (effect,) = session.fills_lost(plan, "no HTTP endpoint is configured")
    assert isinstance(effect, PublishEvent) and effect.topic is Topic.STATUS
    status = effect.item
    assert isinstance(status, ConnectionStatus) and status.reason is not None
    assert "not recovered: no HTTP endpoint" in status.reason and status.reconnects == 1
    assert session.fills_lost(plan, "again") == []  # one announcement per gap


def test_a_position_the_recovered_fills_do_not_explain_is_a_gap() -> None:
    state = ClientState(lambda topic, item: None, account=ME)
    state.fills = ledger_at(0)
    session = Session(state)
    session.went_live(0.0)
    session.disconnected("dropped", 1.0, was_live=True)
    session.went_live(2.0)
    plan = session.recovery_plan()
    assert plan is not None
    state.positions = {
        "BTC-USD": Position(symbol="BTC-USD", size=3.0, entry_price=100.0)
    }  # the exchange says 3
    (effect,) = session.fills_recovered(plan, [fill("x", 5)])  # the history explains 1
    assert isinstance(effect, PublishEvent) and isinstance(effect.item, ConnectionStatus)
    assert effect.item.reason is not None and "BTC-USD" in effect.item.reason
    assert state.inventory.position("BTC-USD").size == 3.0  # the exchange's is adopted


def test_a_drop_while_recovering_opens_the_next_window_from_the_rebuilt_inventory() -> None:
    published: list[object] = []
    state = ClientState(lambda topic, item: published.append(item), account=ME)
    state.fills = ledger_at(0)
    state.fills.tracking(ME)
    state.on_fill(fill("a", 10))
    state.connection_lost()
    plan = state.fills.reconnected()
    assert plan is not None
    state.connection_lost()  # dropped again before the history answered
    result = state.fills.resolve(plan, [fill("a", 10), fill("b", 20, buy=False, price=110.0)])
    assert result is not None and result.still_down
    assert state.apply_recovered(result) == []  # positions are not checked while down
    assert state.inventory.position("BTC-USD").size == 0.0
    assert state.inventory.position("BTC-USD").realized_pnl == pytest.approx(10.0)
    assert state.fills.window_open  # the new outage: from the newest fill, recovered ones too
    state.inventory.reset([])  # the next snapshot
    again = state.fills.reconnected()
    assert again is not None and again.since_ns == 20
    result = state.fills.resolve(again, [fill("b", 20, buy=False, price=110.0), fill("c", 30)])
    assert result is not None and [f.order_id for f in result.recovered] == ["c"]
    state.positions = {"BTC-USD": Position(symbol="BTC-USD", size=1.0, entry_price=100.0)}
    assert state.apply_recovered(result) == []
    assert state.inventory.position("BTC-USD").realized_pnl == pytest.approx(10.0)
    assert [f.order_id for f in published if isinstance(f, Fill)] == ["a", "b", "c"]


def test_a_history_row_the_inventory_cannot_use_is_a_gap_not_a_crash() -> None:
    state = ClientState(lambda topic, item: None, account=ME)
    state.fills = ledger_at(0)
    session = Session(state)
    session.went_live(0.0)
    session.disconnected("dropped", 1.0, was_live=True)
    session.went_live(2.0)
    plan = session.recovery_plan()
    assert plan is not None
    state.positions = {"BTC-USD": Position(symbol="BTC-USD", size=1.0, entry_price=100.0)}
    effects = session.fills_recovered(plan, [fill("bad", 5, size=0.0), fill("good", 6)])
    reasons = [e.item.reason for e in effects if isinstance(e, PublishEvent)]  # type: ignore[attr-defined]
    assert len(reasons) == 1 and "bad" in reasons[0] and "size" in reasons[0]
    assert state.inventory.position("BTC-USD").size == 1.0
