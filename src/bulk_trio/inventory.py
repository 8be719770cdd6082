"""Positions and P&L of one account, kept from its fills by average cost (docs/protocol.md).

The arithmetic lives in :mod:`bulk_trio.position_math`, shared with the simulator, so the client and
the exchange it simulates can never disagree on what a fill realizes. Fees and funding are not
tracked: a fill message carries neither.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import attrs

from . import position_math
from .checks import finite
from .enums import Side
from .models import Fill, Position


@attrs.frozen(kw_only=True)
class Pnl:
    """Profit and loss in quote currency: ``net`` is ``realized + unrealized``."""

    realized: float = 0.0
    unrealized: float = 0.0

    @property
    def net(self) -> float:
        return self.realized + self.unrealized


@attrs.frozen(kw_only=True)
class PositionView:
    """One symbol's position as the inventory sees it.

    ``size`` is signed (+ long, - short); ``entry_price`` is the entry VWAP (0.0 when flat);
    ``realized_pnl`` is everything realized on the symbol since the last reset; ``mark`` is the last
    price given to :meth:`Inventory.mark`, or None.
    """

    symbol: str
    size: float = 0.0
    entry_price: float = 0.0
    realized_pnl: float = 0.0
    mark: float | None = None

    @property
    def unrealized(self) -> float:
        """P&L of the open size at ``mark``; 0.0 while there is no mark or nothing is open."""
        if self.mark is None or self.size == 0:
            return 0.0
        return position_math.unrealized(self.size, self.entry_price, self.mark)

    @property
    def side(self) -> Side | None:
        """BUY for a long, SELL for a short, None when flat."""
        return Side.of_position(self.size)

    @property
    def pnl(self) -> Pnl:
        return Pnl(realized=self.realized_pnl, unrealized=self.unrealized)


@attrs.frozen
class _Holding:
    size: float
    entry_price: float
    realized: float


_FLAT = _Holding(0.0, 0.0, 0.0)


@attrs.frozen(kw_only=True)
class InventoryCheckpoint:
    """What :meth:`~bulk_trio.Inventory.checkpoint` saved; opaque to callers."""

    holdings: Mapping[str, _Holding]


def _price(value: float, field: str) -> float:
    price = finite(value, field)
    if price < 0:
        raise ValueError(f"{field} must be >= 0, got {value!r}")
    return price


def _adopted(position: Position) -> tuple[_Holding, float | None]:
    """The holding and the mark (its fair price, if any) that an authoritative position sets."""
    symbol = position.symbol
    held = _Holding(
        finite(position.size, f"position.size of {symbol}"),
        _price(position.entry_price, f"position.entry_price of {symbol}"),
        finite(position.realized_pnl, f"position.realized_pnl of {symbol}"),
    )
    fair = position.fair_price
    return held, None if fair is None else _price(fair, f"position.fair_price of {symbol}")


class Inventory:
    """Positions and P&L per symbol, from fills, marks and authoritative account snapshots.

    A position with no mark yet contributes 0 unrealized P&L: the inventory does not guess a price
    (the entry, the last trade) that the caller has not given it. Call :meth:`mark` with a mark
    price (e.g. from each ticker) to value open positions.
    """

    __slots__ = ("_holdings", "_marks")

    def __init__(self) -> None:
        self._holdings: dict[str, _Holding] = {}
        # Marks are market data, kept apart from positions so a reset does not forget them.
        self._marks: dict[str, float] = {}

    def __repr__(self) -> str:
        return f"<Inventory open={sorted(self.positions)} {self.pnl()}>"

    def apply_fill(self, fill: Fill) -> PositionView:
        """Apply one fill of the account and return the symbol's new position.

        Raises ValueError (changing nothing) for a size that is not a finite number > 0 or a price
        that is not a finite number >= 0.
        """
        size = finite(fill.size, "fill.size")
        if size <= 0:
            raise ValueError(f"fill.size must be > 0, got {fill.size!r}")
        price = _price(fill.price, "fill.price")
        held = self._holdings.get(fill.symbol, _FLAT)
        signed_qty = size if fill.side is Side.BUY else -size
        step = position_math.apply_fill(held.size, held.entry_price, signed_qty, price)
        self._holdings[fill.symbol] = _Holding(
            step.size, step.entry_price, held.realized + step.realized
        )
        return self.position(fill.symbol)

    def mark(self, symbol: str, price: float) -> None:
        """Value ``symbol`` at ``price`` from now on (a mark may precede the first fill)."""
        self._marks[symbol] = _price(price, "price")

    def position(self, symbol: str) -> PositionView:
        """The position in ``symbol``; a flat view (size 0) for a symbol never traded."""
        held = self._holdings.get(symbol, _FLAT)
        return PositionView(
            symbol=symbol,
            size=held.size,
            entry_price=held.entry_price,
            realized_pnl=held.realized,
            mark=self._marks.get(symbol),
        )

    @property
    def positions(self) -> Mapping[str, PositionView]:
        """The open (non-zero) positions by symbol: a copy, not a live view."""
        return {
            symbol: self.position(symbol)
            for symbol, held in self._holdings.items()
            if held.size != 0
        }

    def pnl(self, symbol: str | None = None) -> Pnl:
        """The P&L of one symbol, or the total over all symbols when ``symbol`` is None.

        Realized P&L counts every symbol traded since the last reset, flat ones included;
        unrealized P&L counts only positions that have a mark (see the class docstring).
        """
        if symbol is not None:
            return self.position(symbol).pnl
        views = [self.position(name) for name in self._holdings]
        return Pnl(
            realized=math.fsum(view.realized_pnl for view in views),
            unrealized=math.fsum(view.unrealized for view in views),
        )

    def reset(self, positions: Iterable[Position]) -> None:
        """Adopt an authoritative account snapshot: exactly these positions, nothing else.

        Sizes, entries and realized P&L are taken from the snapshot; a position's ``fair_price``,
        when present, becomes its mark. Marks of other symbols are kept (they are market data).
        Raises ValueError, changing nothing, when a position holds a non-finite number.
        """
        holdings: dict[str, _Holding] = {}
        marks: dict[str, float] = {}
        for position in positions:
            held, mark = _adopted(position)
            holdings[position.symbol] = held
            if mark is not None:
                marks[position.symbol] = mark
        self._holdings = holdings
        self._marks.update(marks)

    def set_position(self, position: Position) -> PositionView:
        """Adopt one authoritative position (e.g. a positionUpdate), as :meth:`reset` does."""
        held, mark = _adopted(position)
        self._holdings[position.symbol] = held
        if mark is not None:
            self._marks[position.symbol] = mark
        return self.position(position.symbol)

    def checkpoint(self) -> InventoryCheckpoint:
        """The positions and realized P&L now, for :meth:`restore` (marks are not included)."""
        return InventoryCheckpoint(holdings=dict(self._holdings))

    def restore(self, checkpoint: InventoryCheckpoint) -> None:
        """Go back to the positions and realized P&L of ``checkpoint``; marks stay as they are
        (the client rebuilds its inventory this way after recovering missed fills)."""
        self._holdings = dict(checkpoint.holdings)

    def clear(self) -> None:
        """Forget every position, realized P&L and mark."""
        self._holdings.clear()
        self._marks.clear()
