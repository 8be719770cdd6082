"""Typed models of the HTTP API's answers that have no WebSocket counterpart (docs/http-api.md).

Where the HTTP API sends what the WebSocket also sends, the WebSocket models are reused:
:class:`~bulk_trio.models.Ticker`, :class:`~bulk_trio.models.Candle`,
:class:`~bulk_trio.models.L2Snapshot`, :class:`~bulk_trio.models.AccountSnapshot`,
:class:`~bulk_trio.models.OrderState` (open orders and order history) and
:class:`~bulk_trio.models.OrderResponse`. Timestamps here are nanoseconds unless a field says
otherwise; slots and sequences are exact integers (they may exceed 2**53).
"""

from __future__ import annotations

from typing import Generic, TypeVar

import attrs

from .enums import Side
from .models import Fill

Row = TypeVar("Row")


@attrs.frozen(kw_only=True)
class HistoryFill:
    """One execution from ``fills`` history, as both sides share it (``is_buy``: the taker
    bought). :meth:`for_account` gives the account's own view as a :class:`~bulk_trio.Fill`."""

    symbol: str
    price: float
    size: float
    is_buy: bool
    maker: str
    taker: str
    maker_order_id: str
    taker_order_id: str
    maker_fee: float = 0.0
    taker_fee: float = 0.0
    fee: float = 0.0
    """The fee of the queried account's side (negative: a rebate)."""
    reason: str | None = None
    """``"liquidation"``, ``"adl"``, ... for non-normal executions, else None."""
    slot: int = 0
    sequence: int = 0
    timestamp: int = 0
    """Nanoseconds since the epoch."""
    trade_id: str | None = None

    def for_account(self, account: str) -> Fill:
        """This execution as ``account`` saw it (its order, its side, maker or taker)."""
        is_maker = account == self.maker and account != self.taker
        taker_side = Side.from_is_buy(self.is_buy)
        return Fill(
            symbol=self.symbol,
            order_id=self.maker_order_id if is_maker else self.taker_order_id,
            price=self.price,
            size=self.size,
            side=taker_side.opposite if is_maker else taker_side,
            is_maker=is_maker,
            timestamp=self.timestamp,
            account=account,
            reason=self.reason,
        )


@attrs.frozen(kw_only=True)
class ClosedPosition:
    """One closed position from ``positions`` history. ``quantity`` is signed (+ long)."""

    symbol: str
    quantity: float
    total_volume: float
    avg_open_price: float
    avg_close_price: float
    realized_pnl: float
    fees: float = 0.0
    funding: float = 0.0
    open_time: int = 0
    close_time: int = 0
    """Nanoseconds since the epoch."""
    close_reason: str = "normal"
    slot: int = 0
    sequence: int = 0


@attrs.frozen(kw_only=True)
class FundingPayment:
    """One funding payment (``payment`` > 0: received)."""

    symbol: str
    size: float
    payment: float
    funding_rate: float
    mark_price: float
    slot: int = 0
    sequence: int = 0
    timestamp: int = 0


@attrs.frozen(kw_only=True)
class FeeTier:
    """The account's fee tier (``feeTier``): basis points, negative maker bps is a rebate."""

    scope: str
    rolling_volume: float
    tier_index: int
    tier_threshold: float
    maker_bps: float
    taker_bps: float
    window_days: int


@attrs.frozen(kw_only=True)
class MarketSummary:
    """One market of ``GET /stats``."""

    symbol: str
    volume: float
    quote_volume: float
    open_interest: float
    funding_rate: float
    funding_rate_annualized: float
    last_price: float | None
    mark_price: float | None


@attrs.frozen(kw_only=True)
class ExchangeStats:
    """``GET /stats``: exchange-wide 24 h figures (``timestamp`` in milliseconds)."""

    timestamp: int
    period: str
    volume_usd: float
    open_interest_usd: float
    markets: tuple[MarketSummary, ...] = ()


@attrs.frozen(kw_only=True)
class HistoryPage(Generic[Row]):
    """One page of a history query, newest or oldest first as the server sent it.

    ``next_cursor`` asks for the next page (None: this was the last). ``coverage`` is
    ``complete`` unless the server no longer has the oldest rows of the range.
    """

    rows: tuple[Row, ...]
    next_cursor: str | None = None
    as_of_slot: int | None = None
    start_slot: int | None = None
    end_slot: int | None = None
    coverage: str = "complete"
    min_available_slot: int | None = None

    @property
    def has_more(self) -> bool:
        return self.next_cursor is not None
