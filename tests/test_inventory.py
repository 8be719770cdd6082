"""Inventory: positions and P&L from fills, marks and account snapshots."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bulk_trio.enums import Side
from bulk_trio.inventory import Inventory, Pnl, PositionView
from bulk_trio.models import Fill, Position

BTC = "BTC-USD"
ETH = "ETH-USD"


def fill(side: Side, size: float, price: float, symbol: str = BTC) -> Fill:
    return Fill(symbol=symbol, order_id="oid", price=price, size=size, side=side)


def test_pnl_net_is_realized_plus_unrealized() -> None:
    assert Pnl(realized=10.0, unrealized=-4.0).net == 6.0
    assert Pnl().net == 0.0


def test_empty_inventory() -> None:
    inventory = Inventory()
    assert inventory.positions == {}
    assert inventory.pnl() == Pnl(realized=0.0, unrealized=0.0)
    assert inventory.position(BTC) == PositionView(symbol=BTC)
    assert inventory.position(BTC).side is None
    assert inventory.position(BTC).unrealized == 0.0


def test_buy_opens_long_and_mark_values_it() -> None:
    inventory = Inventory()
    view = inventory.apply_fill(fill(Side.BUY, 2.0, 100.0))
    assert view == PositionView(
        symbol=BTC, size=2.0, entry_price=100.0, realized_pnl=0.0, mark=None
    )
    assert view.side is Side.BUY
    # Unmarked: no unrealized P&L yet.
    assert inventory.pnl() == Pnl(realized=0.0, unrealized=0.0)
    inventory.mark(BTC, 105.0)
    assert inventory.position(BTC).mark == 105.0
    assert inventory.pnl() == Pnl(realized=0.0, unrealized=10.0)
    assert inventory.pnl(BTC).net == 10.0


def test_adding_moves_entry_to_vwap() -> None:
    inventory = Inventory()
    inventory.apply_fill(fill(Side.SELL, 1.0, 100.0))
    view = inventory.apply_fill(fill(Side.SELL, 3.0, 104.0))
    assert view.size == -4.0
    assert view.entry_price == 103.0
    assert view.side is Side.SELL


def test_reducing_realizes_and_keeps_entry() -> None:
    inventory = Inventory()
    inventory.apply_fill(fill(Side.SELL, 2.0, 100.0))
    view = inventory.apply_fill(fill(Side.BUY, 0.5, 90.0))
    assert view.size == -1.5
    assert view.entry_price == 100.0
    assert view.realized_pnl == 5.0


def test_flip_through_zero() -> None:
    inventory = Inventory()
    inventory.apply_fill(fill(Side.BUY, 1.0, 100.0))
    view = inventory.apply_fill(fill(Side.SELL, 3.0, 110.0))
    assert view.size == -2.0
    assert view.entry_price == 110.0
    assert view.realized_pnl == 10.0
    inventory.mark(BTC, 100.0)
    assert inventory.pnl() == Pnl(realized=10.0, unrealized=20.0)


def test_flat_symbol_keeps_realized_but_leaves_positions() -> None:
    inventory = Inventory()
    inventory.apply_fill(fill(Side.BUY, 1.0, 100.0))
    inventory.apply_fill(fill(Side.SELL, 1.0, 107.0))
    inventory.apply_fill(fill(Side.BUY, 1.0, 50.0, symbol=ETH))
    assert set(inventory.positions) == {ETH}
    assert inventory.position(BTC).size == 0.0
    assert inventory.position(BTC).entry_price == 0.0
    assert inventory.pnl(BTC) == Pnl(realized=7.0, unrealized=0.0)
    inventory.mark(ETH, 49.0)
    assert inventory.pnl() == Pnl(realized=7.0, unrealized=-1.0)
    assert inventory.pnl(ETH) == Pnl(realized=0.0, unrealized=-1.0)


def test_mark_before_first_fill_is_used() -> None:
    inventory = Inventory()
    inventory.mark(BTC, 120.0)
    assert inventory.positions == {}
    inventory.apply_fill(fill(Side.BUY, 1.0, 100.0))
    assert inventory.pnl() == Pnl(realized=0.0, unrealized=20.0)


def test_positions_is_a_copy() -> None:
    inventory = Inventory()
    inventory.apply_fill(fill(Side.BUY, 1.0, 100.0))
    snapshot = inventory.positions
    inventory.apply_fill(fill(Side.BUY, 1.0, 100.0, symbol=ETH))
    assert set(snapshot) == {BTC}


@pytest.mark.parametrize(
    ("size", "price", "field"),
    [
        (0.0, 100.0, "fill.size"),
        (-1.0, 100.0, "fill.size"),
        (math.nan, 100.0, "fill.size"),
        (1.0, math.inf, "fill.price"),
        (1.0, -1.0, "fill.price"),
    ],
)
def test_bad_fill_is_rejected_and_changes_nothing(size: float, price: float, field: str) -> None:
    inventory = Inventory()
    inventory.apply_fill(fill(Side.BUY, 1.0, 100.0))
    with pytest.raises(ValueError, match=field):
        inventory.apply_fill(fill(Side.BUY, size, price))
    assert inventory.position(BTC) == PositionView(symbol=BTC, size=1.0, entry_price=100.0)


def test_bad_mark_is_rejected() -> None:
    inventory = Inventory()
    with pytest.raises(ValueError, match="price"):
        inventory.mark(BTC, math.nan)
    with pytest.raises(ValueError, match="price"):
        inventory.mark(BTC, True)
    assert inventory.position(BTC).mark is None


def test_reset_adopts_snapshot_exactly() -> None:
    inventory = Inventory()
    inventory.apply_fill(fill(Side.BUY, 1.0, 100.0, symbol=ETH))
    inventory.apply_fill(fill(Side.SELL, 1.0, 110.0, symbol=ETH))
    inventory.mark(ETH, 111.0)
    inventory.reset(
        [
            Position(
                symbol=BTC, size=0.5, entry_price=100000.0, fair_price=101000.0, realized_pnl=500.0
            ),
            Position(symbol="SOL-USD", size=-2.0, entry_price=20.0, realized_pnl=-1.0),
        ]
    )
    assert inventory.positions == {
        BTC: PositionView(
            symbol=BTC, size=0.5, entry_price=100000.0, realized_pnl=500.0, mark=101000.0
        ),
        "SOL-USD": PositionView(
            symbol="SOL-USD", size=-2.0, entry_price=20.0, realized_pnl=-1.0, mark=None
        ),
    }
    # ETH is absent from the snapshot: flat, its realized P&L gone; its mark (market data) kept.
    assert inventory.position(ETH) == PositionView(symbol=ETH, mark=111.0)
    assert inventory.pnl() == Pnl(realized=499.0, unrealized=500.0)
    # Fills continue from the adopted state.
    view = inventory.apply_fill(fill(Side.SELL, 0.5, 102000.0))
    assert view.size == 0.0
    assert view.realized_pnl == 500.0 + 1000.0


def test_reset_with_bad_position_changes_nothing() -> None:
    inventory = Inventory()
    inventory.apply_fill(fill(Side.BUY, 1.0, 100.0))
    with pytest.raises(ValueError, match=r"entry_price of ETH-USD"):
        inventory.reset(
            [
                Position(symbol=BTC, size=1.0, entry_price=1.0),
                Position(symbol=ETH, size=1.0, entry_price=math.nan),
            ]
        )
    with pytest.raises(ValueError, match=r"fair_price of ETH-USD"):
        inventory.reset(
            [
                Position(symbol=BTC, size=1.0, entry_price=1.0, fair_price=5.0),
                Position(symbol=ETH, size=1.0, entry_price=1.0, fair_price=-1.0),
            ]
        )
    assert inventory.positions == {BTC: PositionView(symbol=BTC, size=1.0, entry_price=100.0)}


def test_set_position_adopts_one_symbol() -> None:
    inventory = Inventory()
    inventory.apply_fill(fill(Side.BUY, 1.0, 100.0, symbol=ETH))
    view = inventory.set_position(
        Position(symbol=BTC, size=-1.0, entry_price=50.0, fair_price=40.0, realized_pnl=3.0)
    )
    assert view == PositionView(
        symbol=BTC, size=-1.0, entry_price=50.0, realized_pnl=3.0, mark=40.0
    )
    assert set(inventory.positions) == {BTC, ETH}
    assert inventory.pnl(BTC) == Pnl(realized=3.0, unrealized=10.0)
    # Without a fair price the previous mark stays.
    view = inventory.set_position(Position(symbol=BTC, size=-2.0, entry_price=50.0))
    assert view == PositionView(
        symbol=BTC, size=-2.0, entry_price=50.0, realized_pnl=0.0, mark=40.0
    )


def test_clear_forgets_everything() -> None:
    inventory = Inventory()
    inventory.apply_fill(fill(Side.BUY, 1.0, 100.0))
    inventory.mark(BTC, 101.0)
    inventory.clear()
    assert inventory.positions == {}
    assert inventory.position(BTC) == PositionView(symbol=BTC)
    assert inventory.pnl() == Pnl()


def test_repr_lists_open_symbols() -> None:
    inventory = Inventory()
    inventory.apply_fill(fill(Side.BUY, 1.0, 100.0))
    assert BTC in repr(inventory)


# -- properties ---------------------------------------------------------------------------------

# Prices and sizes on coarse grids keep float error far below the tolerances used.
prices = st.integers(min_value=1, max_value=10_000).map(lambda k: k / 4)
sizes = st.integers(min_value=1, max_value=1_000).map(lambda k: k / 10)
fills = st.lists(st.tuples(st.sampled_from([Side.BUY, Side.SELL]), sizes, prices), max_size=30)
PROPERTY_SETTINGS = settings(max_examples=150, deadline=None)


@PROPERTY_SETTINGS
@given(side=st.sampled_from([Side.BUY, Side.SELL]), size=sizes, price=prices)
def test_round_trip_at_one_price_realizes_nothing(side: Side, size: float, price: float) -> None:
    inventory = Inventory()
    inventory.apply_fill(fill(side, size, price))
    view = inventory.apply_fill(fill(side.opposite, size, price))
    assert view.size == 0.0
    assert view.realized_pnl == 0.0
    assert inventory.pnl().unrealized == 0.0


def test_opening_from_flat_uses_the_fill_price_exactly() -> None:
    view = Inventory().apply_fill(fill(Side.BUY, 0.1, 372.75))
    assert view.entry_price == 372.75


@PROPERTY_SETTINGS
@given(sequence=fills, mark=prices)
def test_pnl_equals_cash_flow_accounting(
    sequence: list[tuple[Side, float, float]], mark: float
) -> None:
    inventory = Inventory()
    inventory.mark(BTC, mark)
    cash, position = 0.0, 0.0
    for side, size, price in sequence:
        signed = size if side is Side.BUY else -size
        inventory.apply_fill(fill(side, size, price))
        cash -= signed * price
        position += signed
    expected = cash + position * mark
    scale = sum(size * price for _, size, price in sequence) + 1.0
    assert math.isclose(inventory.pnl().net, expected, abs_tol=1e-9 * scale)
    assert math.isclose(inventory.position(BTC).size, position, abs_tol=1e-9)


@PROPERTY_SETTINGS
@given(sequence=fills, mark=prices)
def test_total_pnl_is_sum_over_symbols(
    sequence: list[tuple[Side, float, float]], mark: float
) -> None:
    inventory = Inventory()
    for index, (side, size, price) in enumerate(sequence):
        inventory.apply_fill(fill(side, size, price, symbol=(BTC, ETH)[index % 2]))
    inventory.mark(ETH, mark)
    total = inventory.pnl()
    parts = [inventory.pnl(BTC), inventory.pnl(ETH)]
    assert math.isclose(total.realized, sum(p.realized for p in parts), abs_tol=1e-6)
    assert math.isclose(total.unrealized, sum(p.unrealized for p in parts), abs_tol=1e-6)
    assert parts[0].unrealized == 0.0  # BTC was never marked


@PROPERTY_SETTINGS
@given(first=sizes, second=sizes, entry=prices, exit_price=prices)
def test_crossing_zero_opens_remainder_at_fill_price(
    first: float, second: float, entry: float, exit_price: float
) -> None:
    inventory = Inventory()
    inventory.apply_fill(fill(Side.BUY, first, entry))
    view = inventory.apply_fill(fill(Side.SELL, first + second, exit_price))
    assert math.isclose(view.realized_pnl, (exit_price - entry) * first, abs_tol=1e-6)
    assert math.isclose(view.size, -second, abs_tol=1e-9)
    assert view.entry_price == exit_price
