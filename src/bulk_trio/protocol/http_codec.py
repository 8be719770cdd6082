"""The HTTP API's JSON bodies to typed models, and its requests' parameters (docs/http-api.md).

Sans-IO: the shell (``bulk_trio.shell.http``) fetches bytes and hands them here. Every shape the
decisions of docs/http-api.md accept is accepted (array or ``{symbols, markets}`` exchange info,
level objects or arrays, wrapped or bare rows, paginated or legacy history). Where the JSON is the
WebSocket's, the WebSocket codec's field readers are reused, so both paths read a field the same
way. A body that cannot be read raises :class:`~bulk_trio.ProtocolViolation` naming the endpoint
and the field, found by the same access-tracing slow path the WebSocket codec uses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import attrs
import orjson

from ..actions import BaseAction
from ..errors import ProtocolViolation
from ..http_models import (
    ClosedPosition,
    ExchangeStats,
    FeeTier,
    FundingPayment,
    HistoryFill,
    HistoryPage,
    MarketSummary,
)
from ..markets import Market
from ..models import (
    AccountSnapshot,
    BookLevel,
    Candle,
    L2Snapshot,
    OrderResponse,
    OrderState,
    Ticker,
)
from . import codec
from .codec import (
    _bool,
    _first,
    _first_or_none,
    _int_or_zero,
    _list,
    _num,
    _num_or_zero,
    _opt_int,
    _opt_num,
    _opt_str,
    _str,
)
from .signing import order_ids
from .subscriptions import WIRE_INTERVAL, wire_interval

__all__ = [
    "DEFAULT_KLINES_LIMIT",
    "HISTORY_KINDS",
    "MAX_HISTORY_LIMIT",
    "MAX_KLINES_LIMIT",
    "decode_body",
    "epoch_ns",
    "error_detail",
    "history_request",
    "klines_params",
    "parse_exchange_info",
    "parse_fee_tier",
    "parse_full_account",
    "parse_history",
    "parse_klines",
    "parse_l2_book",
    "parse_open_orders",
    "parse_order_reply",
    "parse_stats",
    "parse_ticker",
    "with_order_ids",
]

T = TypeVar("T")

DEFAULT_KLINES_LIMIT = 500
MAX_KLINES_LIMIT = 1000
MAX_HISTORY_LIMIT = 5000
HISTORY_KINDS = {
    "fills": "fills",
    "positions": "positions",
    "fundingHistory": "fundingPayment",
    "orderHistory": "orderHistory",
}
"""History ``type`` values this client reads, and the wrapper key of their legacy rows."""
_MS_BELOW = 10**14  # decision 9: an epoch below this is milliseconds, else nanoseconds


def epoch_ns(value: Any) -> int:
    """An epoch timestamp in nanoseconds, whichever unit the server sent (decision 9)."""
    number = _int_or_zero(value)
    return number * 1_000_000 if 0 < number < _MS_BELOW else number


# ---------------------------------------------------------------------------------------------
# Decoding with a named failure


def decode_body(endpoint: str, content: bytes) -> Any:
    """The JSON of a response body; ProtocolViolation naming the endpoint when it is not JSON."""
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        excerpt = content[: codec.EXCERPT_CHARS].decode("utf-8", "replace")
        raise ProtocolViolation(f"{endpoint}: response is not JSON ({exc}): {excerpt!r}") from None


def _read(endpoint: str, reader: Callable[[Any], T], body: Any) -> T:
    """``reader(body)``; on bad data a ProtocolViolation saying which field was wrong."""
    try:
        return reader(body)
    except Exception:
        trail = codec._Trail()
        try:
            reader(codec._traced(body, "", trail))
        except Exception as exc:
            reason = codec._describe(exc, trail)
        else:  # pragma: no cover - readers are deterministic
            reason = "malformed response"
        raise ProtocolViolation(f"{endpoint}: {reason}") from None


def _rows(body: Any, key: str) -> list[Any]:
    """The rows of an array of ``{key: row}`` objects, or of bare rows (decision 7)."""
    rows = []
    for item in _list(body):
        inner = item.get(key) if isinstance(item, dict) and len(item) == 1 else None
        rows.append(inner if inner is not None else item)
    return rows


# ---------------------------------------------------------------------------------------------
# Market data


def _market(m: Any) -> Market:
    get = m.get
    return Market(
        symbol=_str(m["symbol"]),
        tick_size=_num(m["tickSize"]),
        lot_size=_num(m["lotSize"]),
        min_notional=_num_or_zero(get("minNotional")),
        max_leverage=_num(m["maxLeverage"]) if get("maxLeverage") is not None else 50.0,
        base_asset=_opt_str(get("baseAsset")) or "",
        quote_asset=_opt_str(get("quoteAsset")) or "USDC",
        status=_opt_str(get("status")) or "TRADING",
        price_precision=_opt_int(get("pricePrecision")),
        size_precision=_opt_int(get("sizePrecision")),
        order_types=tuple([_str(x) for x in _list(get("orderTypes") or [])]),
        time_in_forces=tuple([_str(x) for x in _list(get("timeInForces") or [])]),
    )


def _exchange_info(body: Any) -> list[Market]:
    # Decision 3: an array, or ``{"symbols": [...], "markets": {symbol: {...}}}``.
    if isinstance(body, dict):
        markets = body["markets"]
        if isinstance(markets, dict):
            return [_market(markets[name]) for name in markets]
        return [_market(m) for m in _list(markets)]
    return [_market(m) for m in _list(body)]


def parse_exchange_info(body: Any) -> list[Market]:
    return _read("GET /exchangeInfo", _exchange_info, body)


_TICKER_24H = {
    "volume24h": "volume",
    "priceChange24h": "priceChange",
    "priceChangePercent24h": "priceChangePercent",
    "highPrice24h": "highPrice",
    "lowPrice24h": "lowPrice",
}


def _ticker(body: Any) -> Ticker:
    # Decision 4: the documented names, or the ``*24h`` spellings of the Python SDK docstring.
    if any(key in body for key in _TICKER_24H):
        body = dict(body)
        for old, new in _TICKER_24H.items():
            if old in body and body.get(new) is None:
                body[new] = body[old]
    ticker = codec._ticker({"data": {"ticker": body}})
    return attrs.evolve(ticker, timestamp=epoch_ns(ticker.timestamp))


def parse_ticker(body: Any, symbol: str) -> Ticker:
    return _read(f"GET /ticker/{symbol}", _ticker, body)


def _candles(symbol: str, interval: str) -> Callable[[Any], list[Candle]]:
    name = WIRE_INTERVAL.get(interval, interval)

    def read(body: Any) -> list[Candle]:
        candles = [codec.candle_bar(symbol, name, c) for c in _list(body)]
        candles.sort(key=lambda candle: candle.open_time)
        return candles

    return read


def parse_klines(body: Any, symbol: str, interval: str) -> list[Candle]:
    return _read("GET /klines", _candles(symbol, interval), body)


def klines_params(
    symbol: str, interval: str, start: int | None, end: int | None, limit: int | None
) -> dict[str, str | int]:
    """Query parameters of ``GET /klines`` (decision 5): limit clamped to 1..1000, times in
    milliseconds sent whenever given (0 included)."""
    params: dict[str, str | int] = {
        "symbol": symbol,
        "interval": wire_interval(interval),
        "limit": max(1, min(MAX_KLINES_LIMIT, DEFAULT_KLINES_LIMIT if limit is None else limit)),
    }
    for name, value in (("startTime", start), ("endTime", end)):
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be milliseconds since the epoch, got {value!r}")
            params[name] = value
    return params


def _book_level(level: Any) -> BookLevel:
    if isinstance(level, list):  # decision 6: ``[px, sz, n]``
        count = level[2] if len(level) > 2 else 0
        return BookLevel(_num(level[0]), _num(level[1]), _int_or_zero(count))
    return codec._level(level)


def _book(symbol: str) -> Callable[[Any], L2Snapshot]:
    def read(body: Any) -> L2Snapshot:
        if "levels" in body:
            levels = _list(body["levels"])
            bids, asks = levels[0], levels[1]
        else:
            bids, asks = body["bids"], body["asks"]
        return L2Snapshot(
            _opt_str(body.get("symbol")) or symbol,
            epoch_ns(body.get("timestamp")),
            tuple([_book_level(level) for level in _list(bids)]),
            tuple([_book_level(level) for level in _list(asks)]),
        )

    return read


def parse_l2_book(body: Any, symbol: str) -> L2Snapshot:
    return _read("GET /l2book", _book(symbol), body)


def _stats(body: Any) -> ExchangeStats:
    return ExchangeStats(
        timestamp=_int_or_zero(body.get("timestamp")),
        period=_opt_str(body.get("period")) or "1d",
        volume_usd=_num_or_zero((body.get("volume") or {}).get("totalUsd")),
        open_interest_usd=_num_or_zero((body.get("openInterest") or {}).get("totalUsd")),
        markets=tuple(
            [
                MarketSummary(
                    symbol=_str(m["symbol"]),
                    volume=_num_or_zero(m.get("volume")),
                    quote_volume=_num_or_zero(m.get("quoteVolume")),
                    open_interest=_num_or_zero(m.get("openInterest")),
                    funding_rate=_num_or_zero(m.get("fundingRate")),
                    funding_rate_annualized=_num_or_zero(m.get("fundingRateAnnualized")),
                    last_price=_opt_num(m.get("lastPrice")),
                    mark_price=_opt_num(m.get("markPrice")),
                )
                for m in _list(body.get("markets") or [])
            ]
        ),
    )


def parse_stats(body: Any) -> ExchangeStats:
    return _read("GET /stats", _stats, body)


# ---------------------------------------------------------------------------------------------
# Account state (POST /account)


def _legacy_account(data: Any) -> dict[str, Any]:
    """The pre-v1.0.12 ``marginSummary``/``settings`` shape in today's names (decision 7)."""
    balance = 0.0
    for entry in _list(data["marginSummary"].get("positions") or []):
        if _first(entry, ("coin", "symbol")) == "USDC":
            balance = _num(entry["size"])
    settings = (data.get("settings") or {}).get("maxLeverage") or []
    return {
        "margin": {"totalBalance": balance, "availableBalance": balance},
        "positions": data.get("positions"),
        "openOrders": data.get("openOrders"),
        "leverageSettings": [{"symbol": s, "leverage": lev} for s, lev in _list(settings)],
    }


def _full_account(user: str) -> Callable[[Any], AccountSnapshot | None]:
    def read(body: Any) -> AccountSnapshot | None:
        rows = _rows(body, "fullAccount") if isinstance(body, list) else [body]
        if not rows:
            return None
        data = rows[0]
        if data.__class__ is dict and "fullAccount" in data:
            data = data["fullAccount"]
        if "margin" not in data and "marginSummary" in data:
            data = _legacy_account(data)
        # Open orders are OrderState rows: codec reads long or short keys and side either way.
        return codec._account_snapshot(data, user)

    return read


def parse_full_account(body: Any, user: str) -> AccountSnapshot | None:
    return _read("POST /account fullAccount", _full_account(user), body)


def parse_open_orders(body: Any, user: str) -> list[OrderState]:
    def read(body: Any) -> list[OrderState]:
        return [codec._order_state(row, user) for row in _rows(body, "openOrder")]

    return _read("POST /account openOrders", read, body)


def _fee_tier(body: Any) -> FeeTier | None:
    rows = _rows(body, "feeTier") if isinstance(body, list) else [body]
    if not rows:
        return None
    t = rows[0]
    return FeeTier(
        scope=_opt_str(_first_or_none(t, ("scopeInstrument", "symbol"))) or "global",
        rolling_volume=_num_or_zero(t.get("rollingVolume")),
        tier_index=_int_or_zero(t.get("tierIndex")),
        tier_threshold=_num_or_zero(t.get("tierThreshold")),
        maker_bps=_num(t["makerBps"]),
        taker_bps=_num(t["takerBps"]),
        window_days=_int_or_zero(t.get("windowDays")),
    )


def parse_fee_tier(body: Any) -> FeeTier | None:
    return _read("POST /account feeTier", _fee_tier, body)


# ---------------------------------------------------------------------------------------------
# History (POST /account, decision 8)


def _history_fill(r: Any, user: str) -> HistoryFill:
    return HistoryFill(
        symbol=_str(_first(r, ("symbol", "coin"))),
        price=_num(r["price"]),
        size=abs(_num(_first(r, ("amount", "size")))),
        is_buy=_bool(r["isBuy"]),
        maker=_str(r["maker"]),
        taker=_str(r["taker"]),
        maker_order_id=_str(r["orderIdMaker"]),
        taker_order_id=_str(r["orderIdTaker"]),
        maker_fee=_num_or_zero(r.get("makerFee")),
        taker_fee=_num_or_zero(r.get("takerFee")),
        fee=_num_or_zero(r.get("fee")),
        reason=_opt_str(r.get("reason")),
        slot=_int_or_zero(r.get("slot")),
        sequence=_int_or_zero(r.get("sequence")),
        timestamp=epoch_ns(r.get("timestamp")),
        trade_id=_opt_str(r.get("tradeId")),
    )


def _closed_position(r: Any, user: str) -> ClosedPosition:
    return ClosedPosition(
        symbol=_str(_first(r, ("symbol", "coin"))),
        quantity=_num(_first(r, ("quantity", "maxQuantity"))),
        total_volume=_num_or_zero(r.get("totalVolume")),
        avg_open_price=_num_or_zero(r.get("avgOpenPrice")),
        avg_close_price=_num_or_zero(r.get("avgClosePrice")),
        realized_pnl=_num_or_zero(r.get("realizedPnl")),
        fees=_num_or_zero(r.get("fees")),
        funding=_num_or_zero(r.get("funding")),
        open_time=epoch_ns(r.get("openTime")),
        close_time=epoch_ns(r.get("closeTime")),
        close_reason=_opt_str(r.get("closeReason")) or "normal",
        slot=_int_or_zero(_first_or_none(r, ("closeSlot", "slot"))),
        sequence=_int_or_zero(r.get("sequence")),
    )


def _funding_payment(r: Any, user: str) -> FundingPayment:
    return FundingPayment(
        symbol=_str(_first(r, ("symbol", "coin"))),
        size=_num_or_zero(r.get("size")),
        payment=_num(r["payment"]),
        funding_rate=_num_or_zero(r.get("fundingRate")),
        mark_price=_num_or_zero(r.get("markPrice")),
        slot=_int_or_zero(r.get("slot")),
        sequence=_int_or_zero(r.get("sequence")),
        timestamp=epoch_ns(r.get("timestamp")),
    )


def _terminal_order(r: Any, user: str) -> OrderState:
    # A terminal-order row has ``side`` and ``executedSize`` where the account stream has
    # ``isBuy`` and ``filledSize``; the rest is read by the account stream's own reader.
    row = dict(r)
    side = row.get("side")
    if "isBuy" not in row and side is not None:
        row["isBuy"] = _str(side).lower() == "buy"
    if "filledSize" not in row and "executedSize" in row:
        row["filledSize"] = row["executedSize"]
    if "size" not in row:
        row["size"] = 0.0  # terminal: nothing remains
    state = codec._order_state(row, user)
    return attrs.evolve(state, timestamp=epoch_ns(state.timestamp))


_ROW_READERS: dict[str, Callable[[Any, str], Any]] = {
    "fills": _history_fill,
    "positions": _closed_position,
    "fundingHistory": _funding_payment,
    "orderHistory": _terminal_order,
}


def _history(kind: str, user: str) -> Callable[[Any], HistoryPage[Any]]:
    read_row = _ROW_READERS[kind]

    def read(body: Any) -> HistoryPage[Any]:
        if isinstance(body, list):  # legacy: the whole history in one array of wrapped rows
            return HistoryPage(
                rows=tuple([read_row(r, user) for r in _rows(body, HISTORY_KINDS[kind])])
            )
        rows = tuple([read_row(r, user) for r in _list(body["data"])])
        page = body["page"]
        cursor = _opt_str(page["nextCursor"]) if "nextCursor" in page else None
        return HistoryPage(
            rows=rows,
            next_cursor=cursor or None,
            as_of_slot=_opt_int(page.get("asOfSlot")),
            start_slot=_opt_int(page.get("startSlot")),
            end_slot=_opt_int(page.get("endSlot")),
            coverage=_opt_str(page.get("coverage")) or "unknown",
            min_available_slot=_opt_int(page.get("minAvailableSlot")),
        )

    return read


def parse_history(body: Any, kind: str, user: str) -> HistoryPage[Any]:
    return _read(f"POST /account {kind}", _history(kind, user), body)


def history_request(
    kind: str,
    user: str,
    *,
    limit: int | None = None,
    cursor: str | None = None,
    start_slot: int | None = None,
    end_slot: int | None = None,
) -> dict[str, Any]:
    """The ``POST /account`` body of a history query. A continuation (``cursor``) carries no slot
    bounds; unset fields are left out (docs/http-api.md, pagination)."""
    if kind not in HISTORY_KINDS:
        raise ValueError(f"history kind must be one of {', '.join(HISTORY_KINDS)}, got {kind!r}")
    body: dict[str, Any] = {"type": kind, "user": user}
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 5000:
            raise ValueError(
                f"limit must be an integer from 1 to {MAX_HISTORY_LIMIT}, got {limit!r}"
            )
        body["limit"] = limit
    if cursor is not None:
        if start_slot is not None or end_slot is not None:
            raise ValueError("a cursor continues a query: give start_slot/end_slot only without it")
        body["cursor"] = cursor
        return body
    for name, value in (("startSlot", start_slot), ("endSlot", end_slot)):
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a slot number (an integer >= 0), got {value!r}")
            body[name] = value
    return body


# ---------------------------------------------------------------------------------------------
# POST /order and errors


def _order_reply(body: Any) -> tuple[bool, tuple[OrderResponse, ...], str | None]:
    # Decision 10: ``{status, response: {type, data: {statuses}}}``, or the WS-wrapped form.
    if "data" in body and "status" not in body:
        body = body["data"]["payload"]
    status = _str(body["status"])
    response = body.get("response")
    raw = (
        _list(response["data"]["statuses"])
        if isinstance(response, dict) and response.get("data") is not None
        else []
    )
    statuses = tuple([codec._order_response(entry) for entry in raw])
    if status.lower() == "ok":
        return True, statuses, None
    messages = [s.message for s in statuses if s.message]
    text = body.get("message")
    if isinstance(text, str):
        messages.insert(0, text)
    return False, statuses, "; ".join(messages) or f"request failed with status {status!r}"


def parse_order_reply(body: Any) -> tuple[bool, tuple[OrderResponse, ...], str | None]:
    """``(ok, statuses, message)``: ``message`` joins every error text of a refused request."""
    return _read("POST /order", _order_reply, body)


_MAX_ERROR_TEXT = 600


def error_detail(content: bytes) -> tuple[str | None, str]:
    """``(code, message)`` of a non-2xx body, read defensively (decision 11)."""
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            code = error.get("code")
            message = error.get("message")
            return (
                code if isinstance(code, str) and code else None,
                message if isinstance(message, str) else str(error)[:_MAX_ERROR_TEXT],
            )
        if isinstance(error, str):
            return None, error[:_MAX_ERROR_TEXT]
        message = body.get("message")
        if isinstance(message, str):
            return None, message[:_MAX_ERROR_TEXT]
    text = content[:_MAX_ERROR_TEXT].decode("utf-8", "replace").strip()
    return None, text or "no error text"


def with_order_ids(
    statuses: Sequence[OrderResponse], actions: Sequence[BaseAction], payload: Mapping[str, Any]
) -> list[OrderResponse]:
    """One response per action, with the precomputed id of each order filled in where the
    exchange left it out. Statuses not aligned with the actions are returned as they came
    (docs/protocol.md decision 7)."""
    responses = list(statuses)
    if len(responses) != len(actions):
        return responses
    expected = order_ids(actions, nonce=int(payload["nonce"]), account=payload["account"])
    for index, (response, order_id) in enumerate(zip(responses, expected, strict=True)):
        if order_id is not None and response.order_id is None:
            responses[index] = attrs.evolve(response, order_id=order_id)
    return responses
