"""Every frame the simulator sends (docs/protocol.md), as WebSocket text ready to send.

Written from the protocol description on its own, deliberately not with the client's codec: two
halves built on one shared helper could agree on a mistake. Numbers that the protocol shows as
floats are coerced with ``float()`` so that an integral price never goes out as a JSON integer.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Protocol

import orjson

from .events import (
    AccountView,
    ActionStatus,
    Filled,
    LevelChanged,
    LeverageChanged,
    MarginView,
    OrderView,
    PositionFigures,
    TradeExecuted,
)

Level = tuple[float, float, int]
"""One book level as the engine gives it: (price, aggregate size, number of orders)."""


class MarketStatsLike(Protocol):
    """What a ticker frame needs from the engine's market statistics."""

    @property
    def last_price(self) -> float | None: ...
    @property
    def mark_price(self) -> float | None: ...
    @property
    def oracle_price(self) -> float | None: ...
    @property
    def open_24h(self) -> float | None: ...
    @property
    def high_24h(self) -> float | None: ...
    @property
    def low_24h(self) -> float | None: ...
    @property
    def volume_24h(self) -> float: ...
    @property
    def quote_volume_24h(self) -> float: ...
    @property
    def open_interest(self) -> float: ...
    @property
    def funding_rate(self) -> float: ...


class CandleLike(Protocol):
    """What a candle frame needs: one OHLCV bar with millisecond open/close times."""

    @property
    def open_time(self) -> int: ...
    @property
    def close_time(self) -> int: ...
    @property
    def open(self) -> float: ...
    @property
    def high(self) -> float: ...
    @property
    def low(self) -> float: ...
    @property
    def close(self) -> float: ...
    @property
    def volume(self) -> float: ...
    @property
    def trades(self) -> int: ...


def _text(message: object) -> str:
    return orjson.dumps(message).decode()


def _opt(value: float | None) -> float | None:
    return None if value is None else float(value)


# ---------------------------------------------------------------------------------------------
# Topics


def market_topic(kind: str, symbol: str) -> str:
    """``ticker.BTC-USD``, ``trades.BTC-USD``, ``l2Snapshot.BTC-USD``, ``l2Delta.BTC-USD``."""
    return f"{kind}.{symbol}"


def candle_topic(symbol: str, interval: str) -> str:
    """``candle.<symbol>.<interval>``, with the interval spelled as the client subscribed."""
    return f"candle.{symbol}.{interval}"


def account_topic(user: str) -> str:
    return f"account.{user}"


# ---------------------------------------------------------------------------------------------
# Control replies


def subscription_response(topics: Sequence[str]) -> str:
    return _text({"type": "subscriptionResponse", "topics": list(topics)})


def unsubscribe_response(topic: str) -> str:
    return _text({"type": "unsubscribeResponse", "topic": topic})


def error(message: str) -> str:
    return _text({"type": "error", "error": {"message": message}})


def post_ok(request_id: int, statuses: Iterable[ActionStatus]) -> str:
    """A successful post reply: one ``{name: body}`` object per action, in order."""
    wire_statuses = [{status.name: status.body} for status in statuses]
    payload = {"status": "ok", "response": {"type": "order", "data": {"statuses": wire_statuses}}}
    return _text({"type": "post", "id": request_id, "data": {"type": "action", "payload": payload}})


def post_error(request_id: int, message: str) -> str:
    """A post whose whole transaction was refused (bad signature, reused nonce, ...)."""
    payload = {"status": "error", "message": message}
    return _text({"type": "post", "id": request_id, "data": {"type": "action", "payload": payload}})


# ---------------------------------------------------------------------------------------------
# Market data


def ticker(
    symbol: str,
    stats: MarketStatsLike,
    *,
    timestamp: int,
    fair_book_price: float | None = None,
    volatility: float = 0.0,
) -> str:
    """A ticker. The optional analytics fields are synthetic: the regime is the sign of the 24 h
    change, ``fairBookPx`` the book mid and ``fairVol``/``regimeVol`` the feed's volatility."""
    last = _opt(stats.last_price)
    opened = _opt(stats.open_24h)
    change = last - opened if last is not None and opened is not None else 0.0
    change_percent = change / opened * 100.0 if opened else 0.0
    regime = 1 if change > 0 else -1 if change < 0 else 0
    body = {
        "symbol": symbol,
        "lastPrice": last,
        "markPrice": _opt(stats.mark_price),
        "oraclePrice": _opt(stats.oracle_price),
        "priceChange": change,
        "priceChangePercent": change_percent,
        "highPrice": _opt(stats.high_24h),
        "lowPrice": _opt(stats.low_24h),
        "volume": float(stats.volume_24h),
        "quoteVolume": float(stats.quote_volume_24h),
        "openInterest": float(stats.open_interest),
        "fundingRate": float(stats.funding_rate),
        "regime": regime,
        "regimeDt": 0,
        "regimeVol": float(volatility),
        "regimeMv": change_percent / 100.0,
        "fairBookPx": _opt(fair_book_price),
        "fairVol": float(volatility),
        "fairBias": 0.0,
        "timestamp": timestamp,
    }
    return _text(
        {"type": "ticker", "topic": market_topic("ticker", symbol), "data": {"ticker": body}}
    )


def trades(symbol: str, executed: Iterable[TradeExecuted]) -> str:
    """One ``trades`` frame: ``data`` is the list, the side flag is sent as both ``b`` and ``side``
    (docs/protocol.md decision 4)."""
    data = [
        {
            "s": trade.symbol,
            "px": float(trade.price),
            "sz": float(trade.size),
            "time": trade.time_ms,
            "b": trade.taker_is_buy,
            "side": trade.taker_is_buy,
            "maker": trade.maker,
            "taker": trade.taker,
        }
        for trade in executed
    ]
    return _text({"type": "trades", "topic": market_topic("trades", symbol), "data": data})


def _wire_levels(levels: Iterable[Level]) -> list[dict[str, object]]:
    return [{"px": float(px), "sz": float(sz), "n": int(n)} for px, sz, n in levels]


def book(
    kind: str,
    symbol: str,
    bids: Iterable[Level],
    asks: Iterable[Level],
    *,
    timestamp: int,
    update_type: str = "snapshot",
) -> str:
    """An ``l2Snapshot`` or ``l2Delta`` frame: ``levels`` holds bids then asks, best first."""
    body = {
        "updateType": update_type,
        "symbol": symbol,
        "timestamp": timestamp,
        "levels": [_wire_levels(bids), _wire_levels(asks)],
    }
    return _text({"type": kind, "topic": market_topic(kind, symbol), "data": {"book": body}})


def level_delta(change: LevelChanged, *, timestamp: int) -> str:
    """One changed level as an ``l2Delta``: that level on its side, ``[]`` on the other."""
    level = [(change.price, change.size, change.count)]
    bids: list[Level] = level if change.is_bid else []
    asks: list[Level] = [] if change.is_bid else level
    return book("l2Delta", change.symbol, bids, asks, timestamp=timestamp, update_type="delta")


def aggregate_levels(levels: Iterable[Level], bucket: float, *, is_bid: bool) -> list[Level]:
    """Bucket prices to multiples of ``bucket`` (bids down, asks up, so a bucket never shows a
    better price than any order in it), summing sizes and order counts. Input and output are best
    first."""
    merged: dict[int, tuple[float, int]] = {}
    for px, sz, n in levels:
        # Round the quotient first so 102777.0 / 0.1 lands on its bucket despite binary fractions.
        quotient = round(px / bucket, 9)
        index = math.floor(quotient) if is_bid else math.ceil(quotient)
        size, count = merged.get(index, (0.0, 0))
        merged[index] = (size + sz, count + n)
    return [(round(index * bucket, 10), size, count) for index, (size, count) in merged.items()]


def candle_body(bar: CandleLike) -> dict[str, object]:
    """A candle's short-key object, as the WebSocket frame and the HTTP klines both carry it."""
    return {
        "t": bar.open_time,
        "T": bar.close_time,
        "o": float(bar.open),
        "h": float(bar.high),
        "l": float(bar.low),
        "c": float(bar.close),
        "v": float(bar.volume),
        "n": bar.trades,
    }


def candle(symbol: str, interval: str, bar: CandleLike) -> str:
    """A candle under ``data.candle`` (decision 5); symbol and interval travel in the topic."""
    body = candle_body(bar)
    return _text(
        {"type": "candle", "topic": candle_topic(symbol, interval), "data": {"candle": body}}
    )


# ---------------------------------------------------------------------------------------------
# Account stream


def _account_frame(user: str, data: dict[str, object]) -> str:
    return _text({"type": "account", "topic": account_topic(user), "data": data})


def _margin_fields(margin: MarginView) -> dict[str, object]:
    return {
        "totalBalance": float(margin.total_balance),
        "availableBalance": float(margin.available_balance),
        "marginUsed": float(margin.margin_used),
        "notional": float(margin.notional),
        "realizedPnl": float(margin.realized_pnl),
        "unrealizedPnl": float(margin.unrealized_pnl),
        "fees": float(margin.fees),
        "funding": float(margin.funding),
    }


def _position_fields(position: PositionFigures) -> dict[str, object]:
    # The engine does not model funding, the risk lambda or risk allocation: they are sent as 0.0.
    # allocMargin is the initial margin the position ties up at its leverage.
    leverage = float(position.leverage)
    alloc = abs(position.notional) / leverage if leverage > 0 else 0.0
    return {
        "symbol": position.symbol,
        "size": float(position.size),
        "price": float(position.entry_price),
        "fairPrice": float(position.fair_price),
        "notional": float(position.notional),
        "realizedPnl": float(position.realized_pnl),
        "unrealizedPnl": float(position.unrealized_pnl),
        "leverage": leverage,
        "liquidationPrice": float(position.liquidation_price),
        "fees": float(position.fees),
        "funding": 0.0,
        "maintenanceMargin": float(position.maintenance_margin),
        "lambda": 0.0,
        "riskAllocation": 0.0,
        "allocMargin": alloc,
    }


def _open_order_long_form(order: OrderView) -> dict[str, object]:
    """An accountSnapshot open order: long key spelling, positive sizes, side in ``isBuy``."""
    fields: dict[str, object] = {
        "symbol": order.symbol,
        "orderId": order.order_id,
        "price": float(order.price),
        "originalSize": float(order.original_size),
        "size": float(order.remaining_size),
        "filledSize": float(order.filled_size),
        "vwap": float(order.vwap),
        "isBuy": order.is_buy,
        "maker": order.is_maker,
        "reduceOnly": order.reduce_only,
        "tif": order.tif,
        "status": order.status,
        "orderType": order.order_type,
        "timestamp": order.timestamp,
    }
    if order.trigger is not None:
        fields["trigger"] = order.trigger
    return fields


def _leverage_list(settings: Iterable[tuple[str, float]]) -> list[dict[str, object]]:
    return [{"symbol": symbol, "leverage": float(leverage)} for symbol, leverage in settings]


def account_snapshot(user: str, view: AccountView) -> str:
    """The authoritative picture of an account, sent right after an account subscription."""
    return _account_frame(
        user,
        {
            "type": "accountSnapshot",
            "margin": _margin_fields(view.margin),
            "positions": [_position_fields(position) for position in view.positions],
            "openOrders": [_open_order_long_form(order) for order in view.open_orders],
            "leverageSettings": _leverage_list(view.leverage),
            "builderCodeApprovals": [
                {"recipient": builder, "maxFee": fee} for builder, fee in view.builder_codes
            ],
        },
    )


def order_update(order: OrderView) -> str:
    """An orderUpdate in the short key form: ``sz``/``origSz`` signed (negative = sell)."""
    sign = 1.0 if order.is_buy else -1.0
    data: dict[str, object] = {
        "type": "orderUpdate",
        "ts": order.timestamp,
        "ot": order.order_type,
        "status": order.status,
        "sym": order.symbol,
        "oid": order.order_id,
        "px": float(order.price),
        "origSz": sign * float(order.original_size),
        "sz": sign * float(order.remaining_size),
        "fillSz": float(order.filled_size),
        "vwap": float(order.vwap),
        "mk": order.is_maker,
        "r": order.reduce_only,
        "tif": order.tif,
    }
    if order.reason is not None:
        data["reason"] = order.reason
    if order.trigger is not None:
        data["trigger"] = order.trigger
    return _account_frame(order.account, data)


def fill(event: Filled) -> str:
    return _account_frame(
        event.account,
        {
            "type": "fill",
            "symbol": event.symbol,
            "orderId": event.order_id,
            "price": float(event.price),
            "size": float(event.size),
            "isBuy": event.is_buy,
            "maker": event.is_maker,
            "timestamp": event.timestamp,
            "reason": None,
        },
    )


def position_update(position: PositionFigures) -> str:
    return _account_frame(
        position.account, {"type": "positionUpdate", **_position_fields(position)}
    )


def margin_update(margin: MarginView) -> str:
    return _account_frame(margin.account, {"type": "marginUpdate", **_margin_fields(margin)})


def leverage_update(event: LeverageChanged) -> str:
    return _account_frame(
        event.account, {"type": "leverageUpdate", "leverage": _leverage_list(event.settings)}
    )
