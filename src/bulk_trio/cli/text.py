"""How prices, sizes, money, times and orders read as plain text in the ``bulk-trio`` commands.

One place for it, so the live view, the plain log lines and the one-shot commands print a price
the same way. No ANSI here: styling is the terminal view's business.
"""

from __future__ import annotations

import time

from ..inventory import PositionView
from ..models import OrderState, Position, Trade


def price(value: float | None, *, like: float | None = None) -> str:
    """A price with thousands separators and as many decimals as its magnitude deserves (or as
    the price ``like`` deserves: a spread reads with the decimals of the prices it separates)."""
    if value is None:
        return "-"
    magnitude = abs(value if like is None else like)
    decimals = 1 if magnitude >= 10_000 else 2 if magnitude >= 100 else 4 if magnitude >= 1 else 6
    return f"{value:,.{decimals}f}"


def size(value: float | None) -> str:
    return "-" if value is None else f"{value:,.4f}"


def money(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def signed_money(value: float | None) -> str:
    return "-" if value is None else f"{value:+,.2f}"


def clock(epoch_seconds: float | None = None) -> str:
    """Local wall-clock time ``HH:MM:SS.mmm``."""
    now = time.time() if epoch_seconds is None else epoch_seconds
    millis = int(now * 1000) % 1000
    return f"{time.strftime('%H:%M:%S', time.localtime(now))}.{millis:03d}"


def short_id(order_id: str | None) -> str:
    """The start of an order id: enough to tell a screenful of orders apart."""
    if order_id is None:
        return "-"
    return order_id if len(order_id) <= 10 else order_id[:8] + ".."


def direction(signed_size: float) -> str:
    return "long" if signed_size > 0 else "short" if signed_size < 0 else "flat"


def trade(item: Trade) -> str:
    return f"{item.side.value:<4} {size(item.size)} @ {price(item.price)}"


def order(item: OrderState, *, full_id: bool = False) -> str:
    tif = f" {item.time_in_force.value}" if item.time_in_force is not None else ""
    flags = " reduce-only" if item.reduce_only else ""
    identity = item.order_id if full_id else short_id(item.order_id)
    at = "market" if item.order_type == "market" else price(item.price)
    return (
        f"{identity}  {item.symbol} {item.side.value:<4} {size(item.size)} @ {at}{tif}{flags}"
        f"  {item.status.value}, filled {size(item.filled_size)}"
    )


def position_view(view: PositionView) -> str:
    """``BTC-USD long 0.0200 @ 100,020.0  mark 100,031.2  unrealized +0.22  realized +0.00``."""
    if view.size == 0:
        return f"{view.symbol} flat  realized {signed_money(view.realized_pnl)}"
    return (
        f"{view.symbol} {direction(view.size)} {size(abs(view.size))} @ {price(view.entry_price)}"
        f"  mark {price(view.mark)}  unrealized {signed_money(view.unrealized)}"
        f"  realized {signed_money(view.realized_pnl)}"
    )


def position(item: Position) -> str:
    """A position as the exchange reports it (account snapshot)."""
    leverage = f"  leverage {item.leverage:g}x" if item.leverage else ""
    return (
        f"{item.symbol} {direction(item.size)} {size(abs(item.size))} @ {price(item.entry_price)}"
        f"  mark {price(item.fair_price)}  unrealized {signed_money(item.unrealized_pnl)}"
        f"  realized {signed_money(item.realized_pnl)}  fees {money(item.fees)}{leverage}"
    )
