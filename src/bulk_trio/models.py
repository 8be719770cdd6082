"""Typed, immutable models of everything the exchange sends (docs/protocol.md).

Field names are snake_case as in the official SDK (``ticker.mark_price``, ``fill.is_maker``).
Sizes are always positive; the side is carried separately. Timestamps keep the unit the wire uses
(noted per field). The codec builds these; nothing here parses JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from .enums import OrderStatus, Side, StatusKind, TimeInForce, Topic

# ---------------------------------------------------------------------------------------------
# Market data


@attrs.frozen
class Ticker:
    """``ticker.<symbol>``; prices may be ``None`` before the market has a reference."""

    symbol: str
    last_price: float | None
    mark_price: float | None
    oracle_price: float | None
    price_change: float = 0.0
    price_change_percent: float = 0.0
    high_price: float | None = None
    low_price: float | None = None
    volume: float = 0.0
    quote_volume: float = 0.0
    open_interest: float = 0.0
    funding_rate: float = 0.0
    timestamp: int = 0
    """Nanoseconds since the epoch."""
    regime: int | None = None
    regime_dt: float | None = None
    regime_vol: float | None = None
    regime_mv: float | None = None
    fair_book_price: float | None = None
    fair_vol: float | None = None
    fair_bias: float | None = None


@attrs.frozen
class Trade:
    """One public trade. ``side`` is the taker's side."""

    symbol: str
    price: float
    size: float
    side: Side
    time: int
    """Milliseconds since the epoch."""
    maker: str | None = None
    taker: str | None = None
    reason: str | None = None
    """``"liquidation"`` or ``"adl"`` for non-normal trades, else ``None``."""

    @property
    def is_liquidation(self) -> bool:
        return self.reason is not None


@attrs.frozen
class TradeBatch:
    """One ``trades`` frame: the trades of one symbol, oldest first."""

    symbol: str
    trades: tuple[Trade, ...]


@attrs.frozen
class BookLevel:
    price: float
    size: float
    count: int = 0
    """Number of orders at the level (``n``)."""


@attrs.frozen
class L2Snapshot:
    """A full top-of-book picture; it replaces the local book. Bids best first, asks best first."""

    symbol: str
    timestamp: int
    """Nanoseconds since the epoch."""
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]


@attrs.frozen
class L2Delta:
    """A change of book levels: absolute new sizes, size 0 deletes the level.

    ``is_snapshot`` is true for the full book that an ``l2Delta`` subscription starts with
    (``updateType == "snapshot"``): such a message replaces the local book instead of patching it.
    """

    symbol: str
    timestamp: int
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]
    is_snapshot: bool = False


@attrs.frozen
class Candle:
    symbol: str
    interval: str
    open_time: int
    """Milliseconds since the epoch (``t``)."""
    close_time: int
    """Milliseconds since the epoch (``T``)."""
    open: float
    high: float
    low: float
    close: float
    volume: float
    trades: int = 0


# ---------------------------------------------------------------------------------------------
# Account stream


@attrs.frozen(kw_only=True)
class Margin:
    total_balance: float = 0.0
    available_balance: float = 0.0
    margin_used: float = 0.0
    notional: float = 0.0
    realized_pnl: float = 0.0
    unrealized_pnl: float = 0.0
    fees: float = 0.0
    funding: float = 0.0


@attrs.frozen(kw_only=True)
class MarginUpdate(Margin):
    """A ``marginUpdate``: the new margin figures of ``account``."""

    account: str = ""


@attrs.frozen(kw_only=True)
class Position:
    """A position; ``size`` is signed (+ long, - short) and ``entry_price`` is the entry VWAP."""

    symbol: str
    size: float
    entry_price: float
    fair_price: float | None = None
    notional: float = 0.0
    realized_pnl: float = 0.0
    unrealized_pnl: float = 0.0
    leverage: float | None = None
    liquidation_price: float | None = None
    fees: float = 0.0
    funding: float = 0.0
    maintenance_margin: float = 0.0
    risk_lambda: float | None = None
    risk_allocation: float | None = None
    alloc_margin: float | None = None

    @property
    def side(self) -> Side | None:
        """BUY for a long, SELL for a short, None when flat."""
        return Side.of_position(self.size)


@attrs.frozen(kw_only=True)
class PositionUpdate(Position):
    """A ``positionUpdate``: the new state of one position of ``account``."""

    account: str = ""


@attrs.frozen(kw_only=True)
class OrderTrigger:
    """The condition of a conditional order: the ``trigger`` object of an orderUpdate.

    ``price`` is the trigger price (``px``); for a range (OCO) it is the lower leg's and
    ``price_high`` the upper leg's. ``is_above`` says whether it fires when the price rises to it.
    ``oco`` is the order id of the other leg of a range. Trailing stops carry their ``trail_bps``
    and ``step_bps``; their ``price`` moves as the mark does. Absent fields are None.
    """

    price: float
    is_above: bool | None = None
    limit_price: float | None = None
    oco: str | None = None
    price_high: float | None = None
    limit_high: float | None = None
    trail_bps: float | None = None
    step_bps: float | None = None


@attrs.frozen(kw_only=True)
class OrderState:
    """An order as the account stream describes it (orderUpdate or an accountSnapshot entry).

    ``size`` is the remaining size and ``original_size`` the size placed, both positive.
    """

    order_id: str
    symbol: str
    side: Side
    status: OrderStatus
    price: float = 0.0
    size: float = 0.0
    original_size: float = 0.0
    filled_size: float = 0.0
    vwap: float = 0.0
    order_type: str = "limit"
    is_maker: bool = False
    reduce_only: bool = False
    time_in_force: TimeInForce | None = None
    timestamp: int = 0
    """Nanoseconds since the epoch."""
    reason: str | None = None
    account: str = ""
    raw_status: str = ""
    """The status exactly as sent, useful when ``status`` is UNKNOWN."""
    trigger: OrderTrigger | None = None
    """The condition of a stop, take-profit, range, trailing or trigger order; None otherwise.

    ``order_type`` names the kind: ``limit``, ``market``, ``stop``, ``takeProfit``, ``range``,
    ``trigger`` or ``trailing`` (docs/protocol.md, orderUpdate)."""

    @property
    def is_open(self) -> bool:
        return not self.status.is_terminal()


@attrs.frozen(kw_only=True)
class Fill:
    """One execution of one of the account's orders."""

    symbol: str
    order_id: str
    price: float
    size: float
    side: Side
    is_maker: bool = False
    timestamp: int = 0
    """Nanoseconds since the epoch."""
    account: str = ""
    counterparty_hint: str | None = None
    reason: str | None = None
    recovered: bool = False
    """True for a fill missed while disconnected and recovered from the HTTP fill history after
    the reconnect (docs/guides/lifecycle.md); False for a fill the account stream delivered."""


@attrs.frozen(kw_only=True)
class LeverageSetting:
    symbol: str
    leverage: float


@attrs.frozen(kw_only=True)
class LeverageUpdate:
    """A ``leverageUpdate``: the account's leverage settings after a change."""

    account: str
    settings: tuple[LeverageSetting, ...]


@attrs.frozen(kw_only=True)
class BuilderCodeApproval:
    recipient: str
    max_fee: int


@attrs.frozen(kw_only=True)
class AccountSnapshot:
    """The whole state of an account. It is authoritative: what it does not list does not exist."""

    account: str
    margin: Margin
    positions: tuple[Position, ...] = ()
    open_orders: tuple[OrderState, ...] = ()
    leverage_settings: tuple[LeverageSetting, ...] = ()
    builder_code_approvals: tuple[BuilderCodeApproval, ...] = ()


# ---------------------------------------------------------------------------------------------
# Replies and control messages


@attrs.frozen(kw_only=True)
class OrderResponse:
    """The exchange's answer for one action of a transaction (one entry of ``statuses``).

    ``order_id`` is the ``oid`` of the status body when there is one. ``meta`` is the whole body
    (``totalSz``, ``avgPx``, ``filledSz``, ``reason``, ``amount``, ...).
    """

    status: OrderStatus
    order_id: str | None = None
    message: str | None = None
    meta: Mapping[str, Any] = attrs.field(factory=dict, eq=False, hash=False)
    raw_status: str = ""

    @property
    def is_error(self) -> bool:
        return self.status.is_error()


@attrs.frozen(kw_only=True)
class PostReply:
    """The reply to a ``post`` request, matched to it by ``request_id``.

    ``ok`` is false when the whole request failed (``payload.status != "ok"``); ``message`` then
    carries the exchange's text. An ``ack`` reply is ok with no statuses.
    """

    request_id: int
    ok: bool
    statuses: tuple[OrderResponse, ...] = ()
    message: str | None = None
    is_ack: bool = False


@attrs.frozen(kw_only=True)
class SubscriptionResponse:
    topics: tuple[str, ...]


@attrs.frozen(kw_only=True)
class UnsubscribeResponse:
    topic: str


@attrs.frozen(kw_only=True)
class ErrorMessage:
    """An ``error`` frame from the exchange (docs/protocol.md)."""

    message: str
    raw: Mapping[str, Any] = attrs.field(factory=dict, eq=False, hash=False)


@attrs.frozen(kw_only=True)
class UnknownMessage:
    """A well-formed message of a ``type`` (or account subtype) this version does not know."""

    type: str
    subtype: str | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, eq=False, hash=False)


@attrs.frozen(kw_only=True)
class ProtocolError:
    """A frame that could not be decoded: malformed JSON or a message missing required fields.

    ``reason`` names what was wrong; ``excerpt`` is the start of the offending frame.
    """

    reason: str
    excerpt: str = ""

    @property
    def message(self) -> str:
        return self.reason


@attrs.frozen(kw_only=True)
class HandlerError:
    """Published on ``Topic.ERROR`` when a handler registered with ``on()`` raised."""

    topic: Topic
    handler: str
    error: BaseException = attrs.field(eq=False)

    @property
    def message(self) -> str:
        return f"{self.handler} ({self.topic.value} handler) raised {self.error!r}"


@attrs.frozen(kw_only=True)
class ConnectionStatus:
    """Published on ``Topic.STATUS`` whenever the connection changes (never dropped)."""

    kind: StatusKind
    reason: str | None = None
    """Why the connection ended, or what was missed (DISCONNECTED, GAP)."""
    delay: float | None = None
    """Seconds until the next attempt (RETRYING)."""
    attempt: int = 0
    """Consecutive failed attempts so far (RETRYING); 0 otherwise."""
    reconnects: int = 0
    """Successful reconnections since the block began."""


InboundMessage = (
    Ticker
    | TradeBatch
    | L2Snapshot
    | L2Delta
    | Candle
    | AccountSnapshot
    | OrderState
    | Fill
    | MarginUpdate
    | PositionUpdate
    | LeverageUpdate
    | PostReply
    | SubscriptionResponse
    | UnsubscribeResponse
    | ErrorMessage
    | UnknownMessage
    | ProtocolError
)
"""Everything :func:`bulk_trio.protocol.codec.decode` can return."""
