"""ClientState on its own: what each message does to the state the accessors read, and what it
publishes."""

from __future__ import annotations

import pytest

from bulk_trio.enums import OrderStatus, Side, Topic
from bulk_trio.models import (
    AccountSnapshot,
    BookLevel,
    Candle,
    Fill,
    L2Delta,
    L2Snapshot,
    LeverageSetting,
    LeverageUpdate,
    Margin,
    MarginUpdate,
    OrderState,
    Position,
    PositionUpdate,
    Ticker,
    Trade,
    TradeBatch,
)
from bulk_trio.protocol.keys import b58encode
from bulk_trio.state import VANISHED_REASON, ClientState

OURS = b58encode(bytes(range(32)))
THEIRS = b58encode(bytes(range(1, 33)))


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[Topic, object]] = []

    def __call__(self, topic: Topic, item: object) -> None:
        self.events.append((topic, item))

    def topics(self) -> list[Topic]:
        return [topic for topic, _ in self.events]


@pytest.fixture
def published() -> Recorder:
    return Recorder()


@pytest.fixture
def state(published: Recorder) -> ClientState:
    return ClientState(published, account=OURS)


def order(
    order_id: str,
    *,
    size: float = 1.0,
    status: OrderStatus = OrderStatus.RESTING,
    account: str = OURS,
) -> OrderState:
    return OrderState(
        order_id=order_id,
        symbol="BTC-USD",
        side=Side.BUY,
        status=status,
        price=100.0,
        size=size,
        original_size=size,
        account=account,
    )


def snapshot(
    *orders: OrderState, account: str = OURS, positions: tuple[Position, ...] = ()
) -> AccountSnapshot:
    return AccountSnapshot(
        account=account,
        margin=Margin(total_balance=10.0),
        positions=positions,
        open_orders=tuple(orders),
    )


def test_a_ticker_is_kept_marks_the_inventory_and_is_published(
    state: ClientState, published: Recorder
) -> None:
    ticker = Ticker("BTC-USD", 100.0, 101.0, 100.5)
    state.on_ticker(ticker)
    assert state.tickers["BTC-USD"] is ticker
    assert published.events == [(Topic.TICKER, ticker)]


def test_trades_are_published_as_a_list(state: ClientState, published: Recorder) -> None:
    trade = Trade("BTC-USD", 100.0, 1.0, Side.BUY, 1)
    state.on_trades(TradeBatch("BTC-USD", (trade,)))
    assert published.events == [(Topic.TRADES, [trade])]


def test_books_follow_snapshots_and_deltas_and_go_invalid_on_a_drop(
    state: ClientState, published: Recorder
) -> None:
    state.on_book(L2Snapshot("BTC-USD", 1, (BookLevel(99.0, 1.0),), (BookLevel(101.0, 2.0),)))
    state.on_book(L2Delta("BTC-USD", 2, (BookLevel(99.0, 0.0),), ()))
    book = state.order_books["BTC-USD"]
    assert book.is_valid and book.best_bid() is None and book.best_ask() == 101.0
    assert published.topics() == [Topic.L2SNAPSHOT, Topic.L2DELTA]
    state.connection_lost()
    assert not book.is_valid


def test_the_first_delta_after_subscribing_replaces_the_book(state: ClientState) -> None:
    state.on_book(L2Snapshot("BTC-USD", 1, (BookLevel(99.0, 1.0),), ()))
    state.expect_full_book("BTC-USD")
    state.on_book(L2Delta("BTC-USD", 2, (), (BookLevel(105.0, 1.0),)))  # no updateType
    book = state.order_books["BTC-USD"]
    assert book.best_bid() is None and book.best_ask() == 105.0


def test_candles_are_kept_by_symbol_and_interval(state: ClientState) -> None:
    candle = Candle("BTC-USD", "1m", 0, 59_999, 1.0, 2.0, 0.5, 1.5, 10.0)
    state.on_candle(candle)
    assert state.candles["BTC-USD", "1m"] is candle


def test_the_account_snapshot_replaces_and_reports_what_vanished(
    state: ClientState, published: Recorder
) -> None:
    state.on_order(order("a"))
    state.on_order(order("b"))
    position = Position(symbol="BTC-USD", size=1.0, entry_price=100.0)
    state.on_account_snapshot(snapshot(order("b"), positions=(position,)))
    assert set(state.open_orders) == {"b"}
    assert state.positions == {"BTC-USD": position}
    assert state.margin == Margin(total_balance=10.0)
    vanished = [item for topic, item in published.events if topic is Topic.ORDER][-1]
    assert isinstance(vanished, OrderState)
    assert vanished.order_id == "a" and vanished.status is OrderStatus.VANISHED
    assert vanished.reason == VANISHED_REASON


def test_other_accounts_are_published_but_change_nothing(
    state: ClientState, published: Recorder
) -> None:
    state.on_account_snapshot(snapshot(order("x", account=THEIRS), account=THEIRS))
    state.on_order(order("y", account=THEIRS))
    state.on_margin(MarginUpdate(total_balance=5.0, account=THEIRS))
    assert state.open_orders == {} and state.margin is None and state.account_snapshot is None
    assert published.topics() == [Topic.ACCOUNT, Topic.ORDER, Topic.MARGIN]


def test_a_terminal_order_update_closes_the_order(state: ClientState) -> None:
    state.on_order(order("a"))
    state.on_order(order("a", status=OrderStatus.CANCELLED))
    assert state.open_orders == {}


def test_fills_shrink_and_then_close_the_order_and_reach_the_inventory(
    state: ClientState,
) -> None:
    state.on_order(order("a", size=2.0))
    state.on_fill(
        Fill(symbol="BTC-USD", order_id="a", price=100.0, size=0.5, side=Side.BUY, account=OURS)
    )
    assert state.open_orders["a"].size == pytest.approx(1.5)
    assert state.open_orders["a"].filled_size == pytest.approx(0.5)
    state.on_fill(
        Fill(symbol="BTC-USD", order_id="a", price=100.0, size=1.5, side=Side.BUY, account=OURS)
    )
    assert state.open_orders == {}
    assert state.inventory.position("BTC-USD").size == pytest.approx(2.0)


def test_positions_and_leverage_updates(state: ClientState, published: Recorder) -> None:
    state.on_position(PositionUpdate(symbol="BTC-USD", size=1.0, entry_price=100.0, account=OURS))
    assert state.positions["BTC-USD"].size == 1.0
    state.on_position(PositionUpdate(symbol="BTC-USD", size=0.0, entry_price=0.0, account=OURS))
    assert state.positions == {}
    setting = LeverageSetting(symbol="BTC-USD", leverage=5.0)
    state.on_leverage(LeverageUpdate(account=OURS, settings=(setting,)))
    assert state.leverage_settings == {"BTC-USD": setting}
    assert published.events[-1] == (Topic.LEVERAGE, [setting])


def test_without_a_tracked_account_nothing_is_tracked(published: Recorder) -> None:
    state = ClientState(published)
    state.on_order(order("a"))
    assert state.open_orders == {} and not state.is_tracked(OURS)
    assert published.topics() == [Topic.ORDER]
