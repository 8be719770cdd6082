"""Average-cost position accounting, shared by the client's Inventory and the simulator's engine."""

from __future__ import annotations

import attrs


@attrs.frozen
class PositionStep:
    """A position after one fill, and the P&L that fill realized."""

    size: float
    """Signed: + long, - short."""
    entry_price: float
    """Volume-weighted entry price of what is open; 0.0 when flat."""
    realized: float


def apply_fill(size: float, entry_price: float, signed_qty: float, price: float) -> PositionStep:
    """Apply a fill of ``signed_qty`` (+ bought, - sold) at ``price`` to a position.

    Adding to a position moves the entry to the VWAP; reducing it realizes
    ``(price - entry) * closed`` (sign-adjusted) and keeps the entry; crossing through zero
    realizes the closed part and opens the rest at ``price``.
    """
    if signed_qty == 0:
        return PositionStep(size, entry_price, 0.0)
    if size == 0:
        return PositionStep(signed_qty, price, 0.0)  # exact: no VWAP rounding on a fresh position
    if (size > 0) == (signed_qty > 0):
        new_size = size + signed_qty
        entry = (abs(size) * entry_price + abs(signed_qty) * price) / abs(new_size)
        return PositionStep(new_size, entry, 0.0)
    closed = min(abs(size), abs(signed_qty))
    direction = 1.0 if size > 0 else -1.0
    realized = (price - entry_price) * closed * direction
    new_size = size + signed_qty
    if abs(new_size) < 1e-12:
        return PositionStep(0.0, 0.0, realized)
    if (new_size > 0) == (size > 0):
        return PositionStep(new_size, entry_price, realized)
    return PositionStep(new_size, price, realized)


def unrealized(size: float, entry_price: float, mark: float) -> float:
    """P&L of an open position marked at ``mark``."""
    return (mark - entry_price) * size
