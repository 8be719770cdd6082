"""What the simulator's engine reports, and what the server turns into frames.

The engine is sans-IO: ``Engine.submit(payload, now_ns=...)`` returns a :class:`Submission`
holding the post reply's statuses and the :data:`EngineEvent` values the transaction caused, in
the order they happened. The server owns the wire format: nothing here knows JSON spellings
beyond the status names of docs/protocol.md
"""

from __future__ import annotations

import attrs


@attrs.frozen
class ActionStatus:
    """One entry of a post reply's ``statuses``: ``{name: body}`` on the wire."""

    name: str
    body: dict[str, object] = attrs.field(factory=dict)


@attrs.frozen
class Submission:
    """The outcome of one ``post``.

    ``ok`` is false when the whole transaction was refused (bad signature, reused nonce,
    unauthorized agent, malformed payload); ``message`` then says why and ``statuses`` is empty.
    Otherwise there is exactly one status per action, in order.
    """

    ok: bool
    statuses: tuple[ActionStatus, ...] = ()
    events: tuple[EngineEvent, ...] = ()
    message: str | None = None


@attrs.frozen
class OrderView:
    """An order as the account stream shows it. Sizes are positive; the side is ``is_buy``."""

    account: str
    order_id: str
    symbol: str
    is_buy: bool
    price: float
    original_size: float
    remaining_size: float
    filled_size: float
    vwap: float
    status: str
    order_type: str  # "limit" | "market" | "stop" | "takeProfit" | "range" | "trailing" | "trigger"
    tif: str  # "gtc" | "ioc" | "alo"
    reduce_only: bool
    is_maker: bool
    timestamp: int  # ns
    reason: str | None = None
    trigger: dict[str, object] | None = None
    """A conditional order's wire trigger spec (``isAbove``, ``px``, ``lim``, ``oco``, ...)."""


@attrs.frozen
class OrderChanged:
    order: OrderView


@attrs.frozen
class Filled:
    """One side of one execution, for the account stream of ``account``."""

    account: str
    symbol: str
    order_id: str
    price: float
    size: float
    is_buy: bool
    is_maker: bool
    timestamp: int  # ns


@attrs.frozen
class TradeExecuted:
    """A public trade (the ``trades`` stream)."""

    symbol: str
    price: float
    size: float
    taker_is_buy: bool
    maker: str
    taker: str
    time_ms: int


@attrs.frozen
class LevelChanged:
    """A book level's new aggregate (``size == 0`` means the level is gone): one ``l2Delta``."""

    symbol: str
    is_bid: bool
    price: float
    size: float
    count: int


@attrs.frozen
class PositionFigures:
    account: str
    symbol: str
    size: float  # signed: + long, - short
    entry_price: float
    fair_price: float
    notional: float
    realized_pnl: float
    unrealized_pnl: float
    leverage: float
    liquidation_price: float
    fees: float
    maintenance_margin: float


@attrs.frozen
class PositionChanged:
    position: PositionFigures


@attrs.frozen
class MarginView:
    account: str
    total_balance: float
    available_balance: float
    margin_used: float
    notional: float
    realized_pnl: float
    unrealized_pnl: float
    fees: float
    funding: float


@attrs.frozen
class MarginChanged:
    margin: MarginView


@attrs.frozen
class LeverageChanged:
    account: str
    settings: tuple[tuple[str, float], ...]  # (symbol, leverage), sorted by symbol


@attrs.frozen
class AccountView:
    """Everything an ``accountSnapshot`` shows."""

    margin: MarginView
    positions: tuple[PositionFigures, ...]
    open_orders: tuple[OrderView, ...]
    leverage: tuple[tuple[str, float], ...]
    builder_codes: tuple[tuple[str, int], ...] = ()
    """Approved builders and the highest fee (bps) approved for each."""


@attrs.frozen
class MarketStats:
    """A symbol's market figures, for the ticker. Prices are None until the market has one.

    The 24 h figures cover trades in the last 24 hours (by minute) before the latest ``now_ns`` the
    engine was given.
    """

    symbol: str
    last_price: float | None
    mark_price: float | None
    oracle_price: float | None
    open_24h: float | None
    high_24h: float | None
    low_24h: float | None
    volume_24h: float  # base units
    quote_volume_24h: float
    open_interest: float  # base units, long side
    funding_rate: float


EngineEvent = (
    OrderChanged
    | Filled
    | TradeExecuted
    | LevelChanged
    | PositionChanged
    | MarginChanged
    | LeverageChanged
)
