"""The simulator's order book: price levels keyed by integer ticks, time priority inside a level.

The book only stores and orders resting orders; deciding what trades (reduce-only, self-trade,
fees, positions) is the engine's job. Every level the book touches is remembered until
:meth:`MatchingBook.drain_changes`, so the engine can report one ``LevelChanged`` per changed level
without having to remember which mutations touched which level.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator

import attrs

from ..enums import OrderStatus, TimeInForce
from ..fixedpoint import from_fixed


@attrs.define(eq=False)
class BookOrder:
    """One order's whole life, sizes in 1e8 ticks; ``price`` 0 is a market order with no limit."""

    order_id: str
    account: str
    symbol: str
    is_buy: bool
    price: int
    size: int
    """The order's size: as submitted, as clamped by reduce-only at placement, or as modified."""
    tif: TimeInForce | None
    """None for a market order."""
    reduce_only: bool
    created_ns: int
    remaining: int = 0
    filled: int = 0
    filled_notional: float = 0.0
    status: OrderStatus = OrderStatus.PENDING
    is_maker: bool = False
    updated_ns: int = 0
    reason: str | None = None
    order_type: str = ""
    """The wire ``ot`` when it is not plain ``limit``/``market`` (``stop``, ``takeProfit``, ...):
    a conditional order keeps its type after it triggered."""
    trigger: dict[str, object] | None = None
    """The wire ``trigger`` spec of a conditional order."""
    builder: tuple[str, int] | None = None
    """``(recipient, fee in bps)`` of the order's builder code."""

    @property
    def is_market(self) -> bool:
        return self.tif is None

    @property
    def vwap(self) -> float:
        return self.filled_notional / from_fixed(self.filled) if self.filled else 0.0


@attrs.define
class _Level:
    # dicts keep insertion order: the first entry has time priority, re-inserting moves to the back.
    orders: dict[str, BookOrder] = attrs.field(factory=dict)
    total: int = 0


class MatchingBook:
    """Resting orders of one symbol."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self._levels: tuple[dict[int, _Level], dict[int, _Level]] = ({}, {})  # (asks, bids)
        self._prices: tuple[list[int], list[int]] = ([], [])  # ascending, per side
        self._touched: dict[tuple[bool, int], tuple[int, int]] = {}

    # -- queries ---------------------------------------------------------------------------

    def best_price(self, is_bid: bool) -> int | None:
        prices = self._prices[is_bid]
        if not prices:
            return None
        return prices[-1] if is_bid else prices[0]

    def level(self, is_bid: bool, price: int) -> tuple[int, int]:
        """``(total size, order count)`` at a price; ``(0, 0)`` when there is no such level."""
        lvl = self._levels[is_bid].get(price)
        return (lvl.total, len(lvl.orders)) if lvl else (0, 0)

    def depth(self, is_bid: bool, limit: int | None = None) -> list[tuple[int, int, int]]:
        """``(price, size, count)`` per level, best first."""
        out: list[tuple[int, int, int]] = []
        for price in self._walk_prices(is_bid):
            if limit is not None and len(out) >= limit:
                break
            lvl = self._levels[is_bid][price]
            out.append((price, lvl.total, len(lvl.orders)))
        return out

    def crosses(self, is_buy: bool, limit: int | None) -> bool:
        """Would an order on this side at ``limit`` (None = any price) trade against the book?"""
        best = self.best_price(not is_buy)
        return best is not None and _within(is_buy, best, limit)

    def crossing_front(self, is_buy: bool, limit: int | None) -> BookOrder | None:
        """The resting order an incoming order would trade with next, if any."""
        best = self.best_price(not is_buy)
        if best is None or not _within(is_buy, best, limit):
            return None
        return next(iter(self._levels[not is_buy][best].orders.values()))

    def liquidity(self, is_buy: bool, limit: int | None, size: int) -> list[tuple[int, int]]:
        """``(price, size)`` an incoming order of ``size`` could take, best first (own included)."""
        out: list[tuple[int, int]] = []
        for price in self._walk_prices(not is_buy):
            if size <= 0 or not _within(is_buy, price, limit):
                break
            take = min(size, self._levels[not is_buy][price].total)
            out.append((price, take))
            size -= take
        return out

    def orders(self) -> Iterator[BookOrder]:
        for side in self._levels:
            for lvl in side.values():
                yield from lvl.orders.values()

    # -- mutations -------------------------------------------------------------------------

    def add(self, order: BookOrder) -> None:
        """Queue ``order`` at the back of its price level (``order.remaining`` must be positive)."""
        self._touch(order.is_buy, order.price)
        levels = self._levels[order.is_buy]
        lvl = levels.get(order.price)
        if lvl is None:
            lvl = levels[order.price] = _Level()
            bisect.insort(self._prices[order.is_buy], order.price)
        lvl.orders[order.order_id] = order
        lvl.total += order.remaining

    def remove(self, order: BookOrder) -> None:
        self._touch(order.is_buy, order.price)
        levels = self._levels[order.is_buy]
        lvl = levels[order.price]
        del lvl.orders[order.order_id]
        lvl.total -= order.remaining
        if not lvl.orders:
            del levels[order.price]
            prices = self._prices[order.is_buy]
            del prices[bisect.bisect_left(prices, order.price)]

    def resize(self, order: BookOrder, remaining: int) -> None:
        """Set a resting order's remaining size; growing it sends it to the back of its level.

        ``remaining == 0`` takes it off the book.
        """
        if remaining <= 0:
            self.remove(order)
            order.remaining = 0
            return
        self._touch(order.is_buy, order.price)
        lvl = self._levels[order.is_buy][order.price]
        lvl.total += remaining - order.remaining
        if remaining > order.remaining:
            del lvl.orders[order.order_id]
            lvl.orders[order.order_id] = order
        order.remaining = remaining

    def drain_changes(self) -> list[tuple[bool, int, int, int]]:
        """``(is_bid, price, size, count)`` of each level that changed since the last drain."""
        out: list[tuple[bool, int, int, int]] = []
        for (is_bid, price), before in self._touched.items():
            now = self.level(is_bid, price)
            if now != before:
                out.append((is_bid, price, *now))
        self._touched.clear()
        return out

    # -- helpers ---------------------------------------------------------------------------

    def _touch(self, is_bid: bool, price: int) -> None:
        key = (is_bid, price)
        if key not in self._touched:
            self._touched[key] = self.level(is_bid, price)

    def _walk_prices(self, is_bid: bool) -> Iterator[int]:
        # Bids are stored ascending like asks, so the best bid is the last one.
        prices = self._prices[is_bid]
        return reversed(prices) if is_bid else iter(prices)


def _within(is_buy: bool, price: int, limit: int | None) -> bool:
    if limit is None:
        return True
    return price <= limit if is_buy else price >= limit
