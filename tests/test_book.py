"""OrderBook: snapshots, deltas, validity and the reads a trading loop relies on."""

from __future__ import annotations

import math

import pytest

from bulk_trio.book import OrderBook
from bulk_trio.enums import Side
from bulk_trio.models import BookLevel, L2Delta, L2Snapshot

SYMBOL = "BTC-USD"


def snapshot(
    bids: list[tuple[float, float]] | None = None,
    asks: list[tuple[float, float]] | None = None,
    *,
    timestamp: int = 1,
    symbol: str = SYMBOL,
) -> L2Snapshot:
    return L2Snapshot(
        symbol,
        timestamp,
        tuple(BookLevel(price, size, 1) for price, size in bids or []),
        tuple(BookLevel(price, size, 1) for price, size in asks or []),
    )


def delta(
    side: Side,
    price: float,
    size: float,
    *,
    count: int = 1,
    timestamp: int = 2,
    symbol: str = SYMBOL,
) -> L2Delta:
    level = (BookLevel(price, size, count),)
    if side is Side.BUY:
        return L2Delta(symbol, timestamp, level, ())
    return L2Delta(symbol, timestamp, (), level)


@pytest.fixture
def book() -> OrderBook:
    """Bids 100 / 99.5 / 99, asks 101 / 101.5 / 102, sizes 1 / 2 / 3 from the top."""
    return OrderBook.from_snapshot(
        snapshot(
            [(100.0, 1.0), (99.5, 2.0), (99.0, 3.0)], [(101.0, 1.0), (101.5, 2.0), (102.0, 3.0)]
        )
    )


# -- construction and validity ------------------------------------------------------------------


def test_new_book_is_empty_and_invalid() -> None:
    book = OrderBook(SYMBOL)
    assert book.symbol == SYMBOL
    assert not book.is_valid
    assert book.timestamp is None
    assert book.best_bid() is None
    assert book.best_ask() is None
    assert book.best_bid_level() is None
    assert book.best_ask_level() is None
    assert book.mid() is None
    assert book.spread() is None
    assert not book.is_crossed
    assert book.levels(Side.BUY) == []
    assert book.levels(Side.SELL, 3) == []
    assert book.level_count() == 0
    assert book.depth(Side.BUY) == 0.0
    assert book.sweep_price(Side.BUY, 1.0) is None
    assert book.sweep_vwap(Side.SELL, 1.0) is None


def test_empty_symbol_is_rejected() -> None:
    with pytest.raises(ValueError, match="symbol"):
        OrderBook("")


def test_from_snapshot_reads_back(book: OrderBook) -> None:
    assert book.is_valid
    assert book.timestamp == 1
    assert book.best_bid() == 100.0
    assert book.best_ask() == 101.0
    assert book.best_bid_level() == BookLevel(100.0, 1.0, 1)
    assert book.best_ask_level() == BookLevel(101.0, 1.0, 1)
    assert book.mid() == 100.5
    assert book.spread() == 1.0
    assert book.level_count() == 6
    assert book.level_count(Side.BUY) == 3
    assert book.level_count(Side.SELL) == 3
    assert book.depth(Side.BUY) == 6.0


def test_levels_are_best_first_and_limited(book: OrderBook) -> None:
    assert [level.price for level in book.levels(Side.BUY)] == [100.0, 99.5, 99.0]
    assert [level.price for level in book.levels(Side.SELL)] == [101.0, 101.5, 102.0]
    assert book.levels(Side.BUY, 2) == [BookLevel(100.0, 1.0, 1), BookLevel(99.5, 2.0, 1)]
    assert book.levels(Side.SELL, 1) == [BookLevel(101.0, 1.0, 1)]
    assert book.levels(Side.SELL, 0) == []
    assert len(book.levels(Side.SELL, 10)) == 3


def test_levels_rejects_negative_n_and_bad_side(book: OrderBook) -> None:
    with pytest.raises(ValueError, match="n must be"):
        book.levels(Side.BUY, -1)
    with pytest.raises(ValueError, match="side"):
        book.levels("buy", 1)  # type: ignore[arg-type]


def test_snapshot_replaces_everything(book: OrderBook) -> None:
    book.apply_snapshot(snapshot([(90.0, 5.0)], [], timestamp=7))
    assert book.levels(Side.BUY) == [BookLevel(90.0, 5.0, 1)]
    assert book.levels(Side.SELL) == []
    assert book.best_ask() is None
    assert book.mid() is None
    assert book.timestamp == 7


def test_snapshot_skips_zero_levels_and_last_duplicate_wins() -> None:
    book = OrderBook.from_snapshot(
        snapshot([(100.0, 0.0), (99.0, 1.0), (98.0, 1.0), (98.0, 4.0), (97.0, 2.0), (97.0, 0.0)])
    )
    assert book.levels(Side.BUY) == [BookLevel(99.0, 1.0, 1), BookLevel(98.0, 4.0, 1)]


def test_delta_snapshot_replaces_book(book: OrderBook) -> None:
    full = L2Delta(SYMBOL, 9, (BookLevel(50.0, 1.0, 2),), (), is_snapshot=True)
    assert book.apply_delta(full)
    assert book.levels(Side.BUY) == [BookLevel(50.0, 1.0, 2)]
    assert book.levels(Side.SELL) == []
    fresh = OrderBook(SYMBOL)
    assert fresh.apply(full)
    assert fresh.is_valid
    assert OrderBook.from_snapshot(full).best_bid() == 50.0


def test_apply_snapshot_refuses_plain_delta(book: OrderBook) -> None:
    with pytest.raises(ValueError, match="is_snapshot"):
        book.apply_snapshot(delta(Side.BUY, 1.0, 1.0))
    assert book.best_bid() == 100.0


def test_deltas_before_snapshot_are_ignored() -> None:
    book = OrderBook(SYMBOL)
    assert not book.apply_delta(delta(Side.BUY, 100.0, 1.0))
    assert not book.apply(delta(Side.SELL, 101.0, 1.0))
    assert book.level_count() == 0
    assert book.timestamp is None
    assert book.apply(snapshot([(99.0, 1.0)], [(102.0, 1.0)]))
    assert book.apply(delta(Side.BUY, 100.0, 1.0))
    assert book.best_bid() == 100.0


def test_invalidate_clears_and_ignores_deltas_until_snapshot(book: OrderBook) -> None:
    book.invalidate()
    assert not book.is_valid
    assert book.best_bid() is None
    assert book.level_count() == 0
    assert not book.apply_delta(delta(Side.BUY, 100.0, 1.0))
    assert book.level_count() == 0
    book.apply_snapshot(snapshot([(98.0, 1.0)], [(99.0, 1.0)], timestamp=5))
    assert book.is_valid
    assert book.best_bid() == 98.0


# -- deltas -------------------------------------------------------------------------------------


def test_delta_sets_absolute_size(book: OrderBook) -> None:
    assert book.apply_delta(delta(Side.BUY, 99.5, 7.0, count=4, timestamp=3))
    assert book.levels(Side.BUY, 2)[1] == BookLevel(99.5, 7.0, 4)
    assert book.timestamp == 3
    assert book.level_count(Side.BUY) == 3


def test_delta_adds_a_better_level(book: OrderBook) -> None:
    book.apply_delta(delta(Side.BUY, 100.5, 1.0))
    book.apply_delta(delta(Side.SELL, 100.75, 1.0))
    assert book.best_bid() == 100.5
    assert book.best_ask() == 100.75
    assert book.spread() == 0.25


def test_delta_zero_deletes_best_and_next_becomes_best(book: OrderBook) -> None:
    book.apply_delta(delta(Side.BUY, 100.0, 0.0))
    book.apply_delta(delta(Side.SELL, 101.0, 0.0))
    assert book.best_bid() == 99.5
    assert book.best_ask() == 101.5
    book.apply_delta(delta(Side.SELL, 101.5, 0.0))
    book.apply_delta(delta(Side.SELL, 102.0, 0.0))
    assert book.best_ask() is None
    assert book.spread() is None
    book.apply_delta(delta(Side.SELL, 103.0, 1.0))
    assert book.best_ask() == 103.0


def test_insert_after_best_was_deleted_without_a_read(book: OrderBook) -> None:
    # The cached best is unknown between the delete and the next read; inserts must not lose it.
    book.apply_delta(delta(Side.BUY, 100.0, 0.0))
    book.apply_delta(delta(Side.BUY, 99.75, 1.0))
    book.apply_delta(delta(Side.BUY, 98.0, 1.0))
    assert book.best_bid() == 99.75


def test_deleting_a_missing_level_is_harmless(book: OrderBook) -> None:
    before = book.levels(Side.BUY)
    assert book.apply_delta(delta(Side.BUY, 42.0, 0.0))
    assert book.levels(Side.BUY) == before
    assert book.best_bid() == 100.0


def test_empty_delta_only_moves_timestamp(book: OrderBook) -> None:
    before = (book.levels(Side.BUY), book.levels(Side.SELL))
    assert book.apply_delta(L2Delta(SYMBOL, 11, (), ()))
    assert (book.levels(Side.BUY), book.levels(Side.SELL)) == before
    assert book.timestamp == 11


def test_delta_with_both_sides(book: OrderBook) -> None:
    both = L2Delta(SYMBOL, 4, (BookLevel(100.0, 0.0),), (BookLevel(100.5, 2.0, 3),))
    assert book.apply_delta(both)
    assert book.best_bid() == 99.5
    assert book.best_ask_level() == BookLevel(100.5, 2.0, 3)


def test_float_prices_map_to_one_tick() -> None:
    book = OrderBook.from_snapshot(snapshot([(0.1 + 0.2, 1.0)], []))
    book.apply_delta(delta(Side.BUY, 0.3, 5.0))
    assert book.levels(Side.BUY) == [BookLevel(0.3, 5.0, 1)]
    book.apply_delta(delta(Side.BUY, 0.30000000000000004, 0.0))
    assert book.level_count() == 0


def test_crossed_book_is_reported_not_fixed(book: OrderBook) -> None:
    assert not book.is_crossed
    book.apply_delta(delta(Side.BUY, 101.0, 1.0))  # bid touches the ask
    assert book.is_crossed
    assert book.spread() == 0.0
    book.apply_delta(delta(Side.BUY, 101.5, 1.0))
    assert book.is_crossed
    assert book.spread() == -0.5
    assert book.best_ask() == 101.0  # nothing removed
    book.apply_delta(delta(Side.SELL, 101.0, 0.0))
    book.apply_delta(delta(Side.SELL, 101.5, 0.0))
    book.apply_delta(delta(Side.BUY, 101.5, 0.0))
    book.apply_delta(delta(Side.BUY, 101.0, 0.0))
    assert not book.is_crossed


def test_one_side_empty(book: OrderBook) -> None:
    book.apply_snapshot(snapshot([], [(101.0, 1.0)]))
    assert book.best_bid() is None
    assert book.best_ask() == 101.0
    assert book.mid() is None
    assert book.spread() is None
    assert not book.is_crossed
    assert book.sweep_price(Side.SELL, 0.1) is None
    assert book.sweep_price(Side.BUY, 0.1) == 101.0


def test_set_level_edits_even_an_invalid_book() -> None:
    book = OrderBook(SYMBOL)
    book.set_level(Side.BUY, 10.0, 2.0, 3)
    book.set_level(Side.SELL, 11.0, 1.0)
    assert book.best_bid_level() == BookLevel(10.0, 2.0, 3)
    assert book.best_ask_level() == BookLevel(11.0, 1.0, 0)
    assert not book.is_valid
    assert book.timestamp is None
    book.set_level(Side.BUY, 10.0, 0.0)
    assert book.best_bid() is None


# -- bad input ----------------------------------------------------------------------------------


def test_other_symbol_is_rejected_naming_both(book: OrderBook) -> None:
    with pytest.raises(ValueError, match=r"ETH-USD.*BTC-USD"):
        book.apply_delta(delta(Side.BUY, 1.0, 1.0, symbol="ETH-USD"))
    with pytest.raises(ValueError, match=r"ETH-USD.*BTC-USD"):
        book.apply(snapshot([(1.0, 1.0)], [], symbol="ETH-USD"))
    assert book.best_bid() == 100.0


def test_other_symbol_is_rejected_even_while_invalid() -> None:
    with pytest.raises(ValueError, match="ETH-USD"):
        OrderBook(SYMBOL).apply_delta(delta(Side.BUY, 1.0, 1.0, symbol="ETH-USD"))


@pytest.mark.parametrize(
    ("price", "size", "field"),
    [
        (-1.0, 1.0, "price"),
        (math.nan, 1.0, "price"),
        (math.inf, 1.0, "price"),
        (100.0, -1.0, "size"),
        (100.0, math.nan, "size"),
        (100.0, math.inf, "size"),
    ],
)
def test_bad_level_is_rejected_and_changes_nothing(
    book: OrderBook, price: float, size: float, field: str
) -> None:
    before = (book.levels(Side.BUY), book.levels(Side.SELL), book.timestamp)
    # The good level comes first: nothing of the message may be applied.
    bad = L2Delta(SYMBOL, 8, (BookLevel(100.0, 0.0),), (BookLevel(price, size),))
    with pytest.raises(ValueError, match=field):
        book.apply_delta(bad)
    with pytest.raises(ValueError, match=field):
        book.apply_delta(delta(Side.BUY, price, size))
    with pytest.raises(ValueError, match=field):
        book.apply_snapshot(L2Snapshot(SYMBOL, 8, (), (BookLevel(price, size),)))
    with pytest.raises(ValueError, match=field):
        book.set_level(Side.SELL, price, size)
    assert (book.levels(Side.BUY), book.levels(Side.SELL), book.timestamp) == before


def test_apply_rejects_other_messages(book: OrderBook) -> None:
    with pytest.raises(TypeError, match="L2Snapshot"):
        book.apply(BookLevel(1.0, 1.0))  # type: ignore[arg-type]


# -- sweeps -------------------------------------------------------------------------------------


def test_sweep_within_the_best_level(book: OrderBook) -> None:
    assert book.sweep_price(Side.BUY, 0.5) == 101.0
    assert book.sweep_vwap(Side.BUY, 0.5) == 101.0
    assert book.sweep_price(Side.SELL, 1.0) == 100.0


def test_sweep_through_levels(book: OrderBook) -> None:
    # Buy 2: 1 @ 101 + 1 @ 101.5.
    assert book.sweep_price(Side.BUY, 2.0) == 101.5
    assert book.sweep_vwap(Side.BUY, 2.0) == 101.25
    # Sell 6 takes the whole bid side: (100 + 2 * 99.5 + 3 * 99) / 6.
    assert book.sweep_price(Side.SELL, 6.0) == 99.0
    assert book.sweep_vwap(Side.SELL, 6.0) == pytest.approx((100 + 199 + 297) / 6)


def test_sweep_beyond_depth_is_none(book: OrderBook) -> None:
    assert book.sweep_price(Side.BUY, 6.00000001) is None
    assert book.sweep_vwap(Side.SELL, 100.0) is None


def test_sweep_compares_sizes_in_ticks() -> None:
    # 0.7 + 0.1 is 0.7999999999999999 in floats: the book still holds exactly 0.8.
    book = OrderBook.from_snapshot(snapshot([], [(10.0, 0.7), (11.0, 0.1)]))
    assert book.sweep_price(Side.BUY, 0.8) == 11.0
    assert book.sweep_vwap(Side.BUY, 0.8) == pytest.approx((7.0 + 1.1) / 0.8)


def test_sweep_rejects_bad_size_and_side(book: OrderBook) -> None:
    with pytest.raises(ValueError, match="size"):
        book.sweep_price(Side.BUY, 0.0)
    with pytest.raises(ValueError, match="size"):
        book.sweep_vwap(Side.BUY, -1.0)
    with pytest.raises(ValueError, match="size"):
        book.sweep_price(Side.BUY, math.nan)
    with pytest.raises(ValueError, match="side"):
        book.sweep_price("buy", 1.0)  # type: ignore[arg-type]


def test_repr_names_symbol_and_best_prices(book: OrderBook) -> None:
    text = repr(book)
    assert SYMBOL in text
    assert "100.0/101.0" in text
