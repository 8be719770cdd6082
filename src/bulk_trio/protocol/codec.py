"""The JSON codec: frames to typed models (``decode``) and requests to frames (``encode_*``).

Sans-IO (no trio, no sockets). ``decode`` is the client's hot path, so it is written in two layers:

* a **fast path**: one small function per message type reads the fields with plain indexing and
  cheap type checks, with a single ``try`` around the whole decode;
* a **slow path** that runs only when the fast path failed: it re-runs the same decoder over
  wrappers of the parsed JSON that record every field access (:class:`_TracedDict`), so the
  :class:`ProtocolError` can say exactly which field was missing or bad, without a second copy of
  the validation rules and without per-field ``try`` blocks on the fast path.

The one rule this imposes on decoders: check each value right after reading it, so that the last
field read is the one that failed.

``decode`` never raises: bad JSON and bad messages become :class:`ProtocolError`, well-formed
messages of a type this version does not know become :class:`UnknownMessage`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, SupportsIndex

import orjson

from ..checks import json_type
from ..enums import OrderStatus, Side, TimeInForce
from ..fixedpoint import U64_MAX
from ..models import (
    AccountSnapshot,
    BookLevel,
    BuilderCodeApproval,
    Candle,
    ErrorMessage,
    Fill,
    InboundMessage,
    L2Delta,
    L2Snapshot,
    LeverageSetting,
    LeverageUpdate,
    Margin,
    MarginUpdate,
    OrderResponse,
    OrderState,
    OrderTrigger,
    Position,
    PositionUpdate,
    PostReply,
    ProtocolError,
    SubscriptionResponse,
    Ticker,
    Trade,
    TradeBatch,
    UnknownMessage,
    UnsubscribeResponse,
)
from .subscriptions import WIRE_INTERVAL, Subscription, check_symbol

__all__ = ["EXCERPT_CHARS", "decode", "encode_post", "encode_subscribe", "encode_unsubscribe"]

_loads = orjson.loads
_dumps = orjson.dumps
_BUY = Side.BUY
_SELL = Side.SELL
EXCERPT_CHARS = 200
"""How much of a bad frame a ProtocolError quotes."""

# ---------------------------------------------------------------------------------------------
# Value checks. Each takes the raw JSON value and returns it converted, or raises _BadValue saying
# what was expected. ``x.__class__ is float`` is the cheapest exact type test, and it keeps bools
# (a subclass of int) out of numbers.


class _BadValue(ValueError):
    """A JSON value of the wrong type or form; the message says what was expected."""


class _Missing(KeyError):
    """None of the accepted spellings of a field is present in ``container``."""

    def __init__(self, container: object, names: tuple[str, ...]) -> None:
        super().__init__(names)
        self.container = container
        self.names = names


def _num(value: Any) -> float:
    """A JSON number or numeric string as a float."""
    cls = value.__class__
    if cls is float:
        return value  # type: ignore[no-any-return]
    if cls is int:
        return float(value)
    if cls is str:
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if math.isfinite(number):
            return number
    raise _BadValue(f"expected a number, got {json_type(value)}")


def _int(value: Any) -> int:
    """A JSON integer, integral float or decimal string as an int."""
    cls = value.__class__
    if cls is int:
        return value  # type: ignore[no-any-return]
    if cls is str:
        try:
            return int(value)
        except ValueError:
            pass
    elif cls is float and value.is_integer():
        return int(value)
    raise _BadValue(f"expected an integer, got {json_type(value)}")


def _str(value: Any) -> str:
    if value.__class__ is str:
        return value
    raise _BadValue(f"expected a string, got {json_type(value)}")


def _bool(value: Any) -> bool:
    if value is True or value is False:
        return value
    raise _BadValue(f"expected true or false, got {json_type(value)}")


def _list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    raise _BadValue(f"expected an array, got {json_type(value)}")


def _opt_num(value: Any) -> float | None:
    return None if value is None else _num(value)


def _opt_int(value: Any) -> int | None:
    return None if value is None else _int(value)


def _num_or_zero(value: Any) -> float:
    return 0.0 if value is None else _num(value)


def _int_or_zero(value: Any) -> int:
    return 0 if value is None else _int(value)


def _opt_str(value: Any) -> str | None:
    return None if value is None else _str(value)


def _str_or_limit(value: Any) -> str:
    return "limit" if value is None else _str(value)


def _flag(value: Any) -> bool:
    """An optional boolean that defaults to false."""
    return False if value is None else _bool(value)


def _list_or_empty(value: Any) -> list[Any]:
    return [] if value is None else _list(value)


def _first(obj: Any, names: tuple[str, ...]) -> Any:
    """The value of the first of ``names`` present (and not null) in ``obj``."""
    for name in names:
        value = obj.get(name)
        if value is not None:
            return value
    raise _Missing(obj, names)


def _first_or_none(obj: Any, names: tuple[str, ...]) -> Any:
    for name in names:
        value = obj.get(name)
        if value is not None:
            return value
    return None


# Field spellings: the long (snapshot / HTTP) form first, then the short (orderUpdate) form
# (docs/protocol.md decision 6), and ``coin`` as the HTTP alias of ``symbol``.
_SYMBOL_KEYS = ("symbol", "sym", "coin")
_ORDER_ID_KEYS = ("orderId", "oid")
_PRICE_KEYS = ("price", "px")
_SIZE_KEYS = ("size", "sz")
_ORIGINAL_SIZE_KEYS = ("originalSize", "origSz")
_FILLED_SIZE_KEYS = ("filledSize", "fillSz")
_MAKER_KEYS = ("maker", "mk")
_REDUCE_ONLY_KEYS = ("reduceOnly", "r")
_ORDER_TYPE_KEYS = ("orderType", "ot")
_TIMESTAMP_KEYS = ("timestamp", "ts")
_SYMBOL_ONLY = ("symbol", "coin")
_MAX_FEE_KEYS = ("maxFee", "max_fee")
_TRADE_SIDE_KEYS = ("b", "side")

# ---------------------------------------------------------------------------------------------
# Topics


def _topic_symbol(msg: Any) -> str | None:
    """``BTC-USD`` from a ``<kind>.BTC-USD`` topic, or None without a usable topic."""
    topic = msg.get("topic")
    if topic.__class__ is str:
        return topic.partition(".")[2] or None
    return None


def _topic_account(msg: Any) -> str:
    """The pubkey of an ``account.<pubkey>`` topic; empty when the frame has none (e.g. fills)."""
    topic = msg.get("topic")
    if topic.__class__ is str and topic.startswith("account."):
        return topic[8:]
    return ""


def _symbol(payload: Any, msg: Any) -> str:
    """The payload's ``symbol``, else the one the topic names."""
    value = payload.get("symbol")
    if value is not None:
        return _str(value)
    fallback = _topic_symbol(msg)
    if fallback is None:
        raise _Missing(payload, ("symbol",))
    return fallback


# ---------------------------------------------------------------------------------------------
# Market data


def _ticker(msg: Any) -> Ticker:
    t = msg["data"]["ticker"]
    get = t.get
    # Positional, in field order: keyword arguments cost a third more on this hot path.
    return Ticker(
        _str(t["symbol"]),  # symbol
        _opt_num(get("lastPrice")),  # last_price
        _opt_num(get("markPrice")),  # mark_price
        _opt_num(get("oraclePrice")),  # oracle_price
        _num_or_zero(get("priceChange")),  # price_change
        _num_or_zero(get("priceChangePercent")),  # price_change_percent
        _opt_num(get("highPrice")),  # high_price
        _opt_num(get("lowPrice")),  # low_price
        _num_or_zero(get("volume")),  # volume
        _num_or_zero(get("quoteVolume")),  # quote_volume
        _num_or_zero(get("openInterest")),  # open_interest
        _num_or_zero(get("fundingRate")),  # funding_rate
        _int_or_zero(get("timestamp")),  # timestamp
        _opt_int(get("regime")),  # regime
        _opt_num(get("regimeDt")),  # regime_dt
        _opt_num(get("regimeVol")),  # regime_vol
        _opt_num(get("regimeMv")),  # regime_mv
        _opt_num(get("fairBookPx")),  # fair_book_price
        _opt_num(get("fairVol")),  # fair_vol
        _opt_num(get("fairBias")),  # fair_bias
    )


def _trade(item: Any, topic_symbol: str | None) -> Trade:
    symbol = item.get("s")
    symbol = _str(symbol) if symbol is not None else topic_symbol
    if symbol is None:
        raise _Missing(item, ("s",))
    reason = _opt_str(item.get("reason"))
    if reason is None and item.get("liq") is True:
        reason = "liquidation"
    return Trade(
        symbol,
        _num(item["px"]),
        _num(item["sz"]),
        _BUY if _bool(_first(item, _TRADE_SIDE_KEYS)) else _SELL,
        _int(item["time"]),
        _opt_str(item.get("maker")),
        _opt_str(item.get("taker")),
        reason,
    )


def _trades(msg: Any) -> TradeBatch:
    # docs/protocol.md decision 4: ``data`` is the list, or ``data.data`` is.
    topic_symbol = _topic_symbol(msg)
    data = msg["data"]
    items = data if isinstance(data, list) else _list(data["data"])
    trades = tuple([_trade(item, topic_symbol) for item in items])
    if topic_symbol is not None:
        return TradeBatch(topic_symbol, trades)
    if not trades:
        raise _BadValue("is empty and there is no topic, so the symbol is unknown")
    return TradeBatch(trades[0].symbol, trades)


def _level(level: Any) -> BookLevel:
    # The hottest function of the client: the float test is inlined to skip a call per field.
    # Each value is checked right after it is read, like everywhere else (see _explain).
    px = level["px"]
    if px.__class__ is not float:
        px = _num(px)
    sz = level["sz"]
    if sz.__class__ is not float:
        sz = _num(sz)
    count = level.get("n")
    return BookLevel(px, sz, 0 if count is None else _int(count))


def _levels(side: Any) -> tuple[BookLevel, ...]:
    if isinstance(side, list):
        return tuple(map(_level, side)) if side else ()
    raise _BadValue(f"expected an array of levels, got {json_type(side)}")


def _l2_snapshot(msg: Any) -> L2Snapshot:
    book = msg["data"]["book"]
    symbol = _symbol(book, msg)
    timestamp = _int(book["timestamp"])
    levels = book["levels"]
    return L2Snapshot(symbol, timestamp, _levels(levels[0]), _levels(levels[1]))


def _l2_delta(msg: Any) -> L2Delta:
    book = msg["data"]["book"]
    symbol = _symbol(book, msg)
    timestamp = _int(book["timestamp"])
    levels = book["levels"]
    return L2Delta(
        symbol,
        timestamp,
        _levels(levels[0]),
        _levels(levels[1]),
        book.get("updateType") == "snapshot",  # the full book an l2Delta stream starts with
    )


def _candle(msg: Any) -> Candle:
    # Symbol and interval live only in the topic: ``candle.<symbol>.<interval>``.
    topic = _str(msg["topic"])
    head, _, interval = topic.rpartition(".")
    kind, _, symbol = head.partition(".")
    if kind != "candle" or not symbol or not interval:
        raise _BadValue(f"expected 'candle.<symbol>.<interval>', got {topic[:60]!r}")
    data = msg["data"]
    # docs/protocol.md decision 5: the payload is ``data.candle`` or ``data`` itself.
    return candle_bar(symbol, WIRE_INTERVAL.get(interval, interval), data.get("candle", data))


def candle_bar(symbol: str, interval: str, c: Any) -> Candle:
    """One candle from its short keys (``t T o h l c v n``), as the WebSocket and the HTTP
    klines both send it; ``interval`` is already in its wire spelling."""
    return Candle(
        symbol,
        interval,
        _int(c["t"]),
        _int(c["T"]),
        _num(c["o"]),
        _num(c["h"]),
        _num(c["l"]),
        _num(c["c"]),
        _num(c["v"]),
        _int_or_zero(c.get("n")),
    )


# ---------------------------------------------------------------------------------------------
# Account stream


def _margin_kwargs(m: Any) -> dict[str, float]:
    # totalBalance is required so that a margin object under another key (or an empty one) is
    # reported instead of silently zeroing the account's balances.
    get = m.get
    return {
        "total_balance": _num(m["totalBalance"]),
        "available_balance": _num_or_zero(get("availableBalance")),
        "margin_used": _num_or_zero(get("marginUsed")),
        "notional": _num_or_zero(get("notional")),
        "realized_pnl": _num_or_zero(get("realizedPnl")),
        "unrealized_pnl": _num_or_zero(get("unrealizedPnl")),
        "fees": _num_or_zero(get("fees")),
        "funding": _num_or_zero(get("funding")),
    }


def _position_kwargs(p: Any) -> dict[str, Any]:
    get = p.get
    return {
        "symbol": _str(_first(p, _SYMBOL_ONLY)),
        "size": _num(p["size"]),
        "entry_price": _num(p["price"]),
        "fair_price": _opt_num(get("fairPrice")),
        "notional": _num_or_zero(get("notional")),
        "realized_pnl": _num_or_zero(get("realizedPnl")),
        "unrealized_pnl": _num_or_zero(get("unrealizedPnl")),
        "leverage": _opt_num(get("leverage")),
        "liquidation_price": _opt_num(get("liquidationPrice")),
        "fees": _num_or_zero(get("fees")),
        "funding": _num_or_zero(get("funding")),
        "maintenance_margin": _num_or_zero(get("maintenanceMargin")),
        "risk_lambda": _opt_num(get("lambda")),
        "risk_allocation": _opt_num(get("riskAllocation")),
        "alloc_margin": _opt_num(get("allocMargin")),
    }


def _side(obj: Any, signed_size: float, signed_other: float) -> Side:
    """``isBuy`` when present, else the sign of the size (docs/protocol.md decision 6)."""
    is_buy = obj.get("isBuy")
    if is_buy is not None:
        return _BUY if _bool(is_buy) else _SELL
    signed = signed_size or signed_other
    if signed > 0:
        return _BUY
    if signed < 0:
        return _SELL
    raise _BadValue("missing, and the sizes are zero, so the side is unknown")


def _time_in_force(value: Any) -> TimeInForce | None:
    if value is None:
        return None
    text = _str(value)
    try:
        return TimeInForce.parse(text)
    except ValueError:
        return None  # a TIF this version does not know must not hide the order


def _order_trigger(t: Any) -> OrderTrigger | None:
    """The ``trigger`` object of a conditional order (docs/protocol.md, orderUpdate)."""
    if t is None:
        return None
    get = t.get
    # Each value is checked right after it is read, so that the slow path names it.
    price = _num(t["px"])
    is_above = get("isAbove")
    is_above = None if is_above is None else _bool(is_above)
    limit_price = _opt_num(get("lim"))
    price_high = _opt_num(get("pxHi"))
    limit_high = _opt_num(get("limHi"))
    trail_bps = _opt_num(get("trb"))
    step_bps = _opt_num(get("stb"))
    oco = get("oco")
    return OrderTrigger(
        price=price,
        is_above=is_above,
        limit_price=limit_price,
        # The sources leave the type of ``oco`` open: an id is kept, anything else is not.
        oco=oco if oco.__class__ is str else None,
        price_high=price_high,
        limit_high=limit_high,
        trail_bps=trail_bps,
        step_bps=step_bps,
    )


def _order_state(o: Any, account: str) -> OrderState:
    raw_status = _str(o["status"])
    size = _num_or_zero(_first_or_none(o, _SIZE_KEYS))
    original = _num_or_zero(_first_or_none(o, _ORIGINAL_SIZE_KEYS))
    return OrderState(
        order_id=_str(_first(o, _ORDER_ID_KEYS)),
        symbol=_str(_first(o, _SYMBOL_KEYS)),
        side=_side(o, size, original),
        status=OrderStatus.parse(raw_status),
        price=_num_or_zero(_first_or_none(o, _PRICE_KEYS)),
        size=abs(size),
        original_size=abs(original),
        filled_size=abs(_num_or_zero(_first_or_none(o, _FILLED_SIZE_KEYS))),
        vwap=_num_or_zero(o.get("vwap")),
        order_type=_str_or_limit(_first_or_none(o, _ORDER_TYPE_KEYS)),
        is_maker=_flag(_first_or_none(o, _MAKER_KEYS)),
        reduce_only=_flag(_first_or_none(o, _REDUCE_ONLY_KEYS)),
        time_in_force=_time_in_force(o.get("tif")),
        timestamp=_int_or_zero(_first_or_none(o, _TIMESTAMP_KEYS)),
        reason=_opt_str(o.get("reason")),
        account=account,
        raw_status=raw_status,
        trigger=_order_trigger(o.get("trigger")),
    )


def _leverage_settings(items: Any) -> tuple[LeverageSetting, ...]:
    return tuple(
        [
            LeverageSetting(symbol=_str(_first(x, _SYMBOL_ONLY)), leverage=_num(x["leverage"]))
            for x in items
        ]
    )


def _account_snapshot(data: Any, account: str) -> AccountSnapshot:
    get = data.get
    return AccountSnapshot(
        account=account,
        margin=Margin(**_margin_kwargs(data["margin"])),
        positions=tuple(
            [Position(**_position_kwargs(p)) for p in _list_or_empty(get("positions"))]
        ),
        open_orders=tuple([_order_state(o, account) for o in _list_or_empty(get("openOrders"))]),
        leverage_settings=_leverage_settings(_list_or_empty(get("leverageSettings"))),
        builder_code_approvals=tuple(
            [
                BuilderCodeApproval(
                    recipient=_str(x["recipient"]), max_fee=_int(_first(x, _MAX_FEE_KEYS))
                )
                for x in _list_or_empty(get("builderCodeApprovals"))
            ]
        ),
    )


def _order_update(data: Any, account: str) -> OrderState:
    return _order_state(data, account)


def _fill(data: Any, account: str) -> Fill:
    size = _num(_first(data, _SIZE_KEYS))
    return Fill(
        symbol=_str(_first(data, _SYMBOL_KEYS)),
        order_id=_str(_first(data, _ORDER_ID_KEYS)),
        price=_num(_first(data, _PRICE_KEYS)),
        size=abs(size),
        side=_side(data, size, 0.0),
        is_maker=_flag(_first_or_none(data, _MAKER_KEYS)),
        timestamp=_int_or_zero(_first_or_none(data, _TIMESTAMP_KEYS)),
        account=account,
        counterparty_hint=_opt_str(data.get("counterpartyHint")),
        reason=_opt_str(data.get("reason")),
    )


def _margin_update(data: Any, account: str) -> MarginUpdate:
    return MarginUpdate(**_margin_kwargs(data), account=account)


def _position_update(data: Any, account: str) -> PositionUpdate:
    return PositionUpdate(**_position_kwargs(data), account=account)


def _leverage_update(data: Any, account: str) -> LeverageUpdate:
    return LeverageUpdate(account=account, settings=_leverage_settings(_list(data["leverage"])))


_AccountDecoder = Callable[[Any, str], InboundMessage]
_ACCOUNT_DECODERS: dict[str, _AccountDecoder] = {
    "accountSnapshot": _account_snapshot,
    "orderUpdate": _order_update,
    "fill": _fill,
    "marginUpdate": _margin_update,
    "positionUpdate": _position_update,
    "leverageUpdate": _leverage_update,
}


def _account(msg: Any) -> InboundMessage:
    data = msg["data"]
    subtype = _str(data["type"])
    decoder = _ACCOUNT_DECODERS.get(subtype)
    if decoder is None:
        return UnknownMessage(type="account", subtype=subtype, raw=msg)
    return decoder(data, _topic_account(msg))


# ---------------------------------------------------------------------------------------------
# Replies and control messages


def _order_response(entry: Any) -> OrderResponse:
    # Each status is a single-key object ``{statusName: body}`` (docs/protocol.md).
    if not isinstance(entry, dict):
        raise _BadValue(f"expected a {{status: body}} object, got {json_type(entry)}")
    if len(entry) != 1:
        raise _BadValue(f"expected one status name, got {len(entry)} keys")
    (name,) = entry.keys()
    body = entry[name]
    if body is None:
        body = {}
    elif body.__class__ is str:
        # ``{"error": "text"}``: tolerated, the text is the message.
        return OrderResponse(
            status=OrderStatus.parse(name), order_id=None, message=body, meta={}, raw_status=name
        )
    message = _opt_str(body.get("message"))
    if message is None:
        message = _opt_str(body.get("reason"))
    return OrderResponse(
        status=OrderStatus.parse(name),
        order_id=_opt_str(body.get("oid")),
        message=message,
        meta=_absolute_sizes(body),
        raw_status=name,
    )


_STATUS_SIZE_KEYS = ("totalSz", "filledSz", "remainingSz")


def _absolute_sizes(body: Any) -> Any:
    """The status body with its sizes made absolute: the exchange signs them (a sell is
    negative, docs/http-api.md decision 10), older servers do not, and the caller knows the
    side. Anything that is not a negative number is left as it came (lenient)."""
    if not isinstance(body, dict):
        return body
    negative = [
        key
        for key in _STATUS_SIZE_KEYS
        if isinstance(body.get(key), int | float)
        and not isinstance(body[key], bool)
        and body[key] < 0
    ]
    if not negative:
        return body
    return body | {key: -body[key] for key in negative}


def _failure_message(payload: Any, status: str) -> str:
    """The exchange's text for a failed request, wherever this server revision puts it."""
    message = payload.get("message")
    if message is None:
        message = payload.get("response")
    if message.__class__ is str:
        return message
    return f"request failed with status {status!r}"


def _post(msg: Any) -> PostReply:
    request_id = _int(msg["id"])
    data = msg["data"]
    # docs/protocol.md decision 7: an ack resolves the request without statuses. An absent type is
    # tolerated (an older reply form); any other explicit type is not a reply we understand.
    kind = _opt_str(data.get("type"))
    if kind not in ("ack", "action") and (kind is not None or "type" in data):
        raise _BadValue(f"expected 'ack' or 'action', got {json_type(data.get('type'))}")
    if kind == "ack":
        ok = data.get("ok")
        return PostReply(
            request_id=request_id,
            ok=True if ok is None else _bool(ok),
            message=_opt_str(data.get("message")),
            is_ack=True,
        )
    payload = data["payload"]
    status = _str(payload["status"])
    if status != "ok":
        return PostReply(request_id=request_id, ok=False, message=_failure_message(payload, status))
    statuses = _list(payload["response"]["data"]["statuses"])
    return PostReply(
        request_id=request_id, ok=True, statuses=tuple([_order_response(s) for s in statuses])
    )


def _subscription_response(msg: Any) -> SubscriptionResponse:
    return SubscriptionResponse(topics=tuple([_str(topic) for topic in _list(msg["topics"])]))


def _unsubscribe_response(msg: Any) -> UnsubscribeResponse:
    return UnsubscribeResponse(topic=_str(msg["topic"]))


def _error(msg: Any) -> ErrorMessage:
    # ``{"error": {"message": ...}}`` (docs/protocol.md, "What the server sends"); a bare string or
    # a top-level message is tolerated.
    error = _first(msg, ("error", "message"))
    text = error if error.__class__ is str else error["message"]
    return ErrorMessage(message=_str(text), raw=msg)


_Decoder = Callable[[Any], InboundMessage]
_DECODERS: dict[str, _Decoder] = {
    "l2Delta": _l2_delta,
    "ticker": _ticker,
    "trades": _trades,
    "l2Snapshot": _l2_snapshot,
    "candle": _candle,
    "account": _account,
    "post": _post,
    "subscriptionResponse": _subscription_response,
    "unsubscribeResponse": _unsubscribe_response,
    "error": _error,
}


# ---------------------------------------------------------------------------------------------
# decode


def decode(frame: str | bytes) -> InboundMessage:
    """The model for one frame of text (or its UTF-8 bytes). Never raises."""
    try:
        msg = _loads(frame)
    except (ValueError, TypeError) as exc:
        return ProtocolError(reason=f"malformed JSON: {exc}", excerpt=_excerpt(frame))
    if msg.__class__ is not dict:
        return ProtocolError(
            reason=f"expected a JSON object, got {json_type(msg)}", excerpt=_excerpt(frame)
        )
    kind = msg.get("type")
    if kind.__class__ is not str:
        what = " missing" if kind is None else f": expected a string, got {json_type(kind)}"
        return ProtocolError(reason=f"type{what}", excerpt=_excerpt(frame))
    decoder = _DECODERS.get(kind)
    if decoder is None:
        return UnknownMessage(type=kind, subtype=None, raw=msg)
    try:
        return decoder(msg)
    except Exception:
        # Only bad data gets here (decoders are pure); find out which field it was.
        return ProtocolError(reason=_explain(kind, decoder, msg), excerpt=_excerpt(frame))


def _excerpt(frame: object) -> str:
    if isinstance(frame, bytes | bytearray | memoryview):
        text = bytes(frame[:EXCERPT_CHARS]).decode("utf-8", "replace")
    elif isinstance(frame, str):
        # Lone surrogates would make the excerpt unprintable; replace them.
        text = frame[:EXCERPT_CHARS].encode("utf-8", "replace").decode("utf-8")
    else:
        text = repr(frame)[:EXCERPT_CHARS]
    return text


# ---------------------------------------------------------------------------------------------
# The slow path: re-run a failed decoder over access-recording wrappers.


class _Trail:
    """Where the decoder looked last: the path of the field and the value found there."""

    __slots__ = ("path", "value")

    def __init__(self) -> None:
        self.path = ""
        self.value: Any = None

    def visit(self, path: str) -> None:
        self.path = path
        self.value = None


def _join(parent: str, key: object) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else str(key)


def _traced(value: Any, path: str, trail: _Trail) -> Any:
    if isinstance(value, dict):
        return _TracedDict(value, path, trail)
    if isinstance(value, list):
        return _TracedList(value, path, trail)
    return value


class _TracedDict(dict[str, Any]):
    """A JSON object that records each key read into the trail (slow path only)."""

    def __init__(self, items: dict[str, Any], path: str, trail: _Trail) -> None:
        super().__init__(items)
        self._path = path
        self._trail = trail

    def __getitem__(self, key: str) -> Any:
        path = _join(self._path, key)
        self._trail.visit(path)
        value = _traced(dict.__getitem__(self, key), path, self._trail)
        self._trail.value = value
        return value

    def get(self, key: str, default: Any = None) -> Any:
        if key in self:
            return self[key]
        self._trail.visit(_join(self._path, key))
        return default


class _TracedList(list[Any]):
    """A JSON array that records each index read into the trail (slow path only)."""

    def __init__(self, items: list[Any], path: str, trail: _Trail) -> None:
        super().__init__(items)
        self._path = path
        self._trail = trail

    def __getitem__(self, index: SupportsIndex | slice) -> Any:
        if not isinstance(index, int):
            self._trail.visit(self._path)
            raise _BadValue("expected an object, got array")
        path = _join(self._path, index)
        self._trail.visit(path)
        value = _traced(list.__getitem__(self, index), path, self._trail)
        self._trail.value = value
        return value

    def __iter__(self) -> Iterator[Any]:
        for index in range(len(self)):
            yield self[index]


def _describe(exc: Exception, trail: _Trail) -> str:
    path = trail.path or "message"
    if isinstance(exc, _Missing):
        # The container says where the field should have been; the trail may have moved on.
        where = exc.container._path if isinstance(exc.container, _TracedDict) else ""
        return f"{_join(where, '/'.join(exc.names))} missing"
    if isinstance(exc, LookupError):
        return f"{path} missing"
    if isinstance(exc, _BadValue):
        return f"{path}: {exc}"
    if isinstance(exc, TypeError | AttributeError | ValueError):
        return f"{path}: unexpected {json_type(trail.value)}"
    return f"{path}: {type(exc).__name__}: {exc}"


def _label(kind: str, msg: dict[str, Any]) -> str:
    """The message type for a reason; an account message is named by its subtype."""
    if kind == "account":
        data = msg.get("data")
        subtype = data.get("type") if isinstance(data, dict) else None
        if isinstance(subtype, str):
            return subtype
    return kind


def _explain(kind: str, decoder: _Decoder, msg: dict[str, Any]) -> str:
    trail = _Trail()
    try:
        decoder(_TracedDict(msg, "", trail))
    except Exception as exc:
        return f"{_label(kind, msg)}: {_describe(exc, trail)}"
    return f"{_label(kind, msg)}: malformed message"  # not reached: decoders are deterministic


# ---------------------------------------------------------------------------------------------
# Encoding (client -> server)


def encode_subscribe(subscriptions: Subscription | Iterable[Subscription]) -> str:
    """One ``subscribe`` message carrying every subscription given (docs/protocol.md)."""
    if isinstance(subscriptions, Subscription):
        subscriptions = (subscriptions,)
    wire = []
    for sub in subscriptions:
        if not isinstance(sub, Subscription):
            raise ValueError(f"subscriptions must be Subscription values, got {sub!r}")
        wire.append(sub.to_wire())
    if not wire:
        raise ValueError("subscriptions must not be empty")
    return _dumps({"method": "subscribe", "subscription": wire}).decode()


def encode_unsubscribe(topic: str) -> str:
    """An ``unsubscribe`` message for one topic, as the server named it (docs/protocol.md)."""
    check_symbol(topic, field="topic")
    return _dumps({"method": "unsubscribe", "topic": topic}).decode()


def encode_post(request_id: int, payload: Mapping[str, Any]) -> str:
    """A ``post`` message carrying one signed transaction (docs/protocol.md)."""
    if isinstance(request_id, bool) or not isinstance(request_id, int):
        raise ValueError(f"request_id must be an integer, got {request_id!r}")
    if not 0 <= request_id <= U64_MAX:
        raise ValueError(f"request_id must fit in a u64, got {request_id}")
    if not isinstance(payload, Mapping):
        raise ValueError(f"payload must be a mapping, got {type(payload).__name__}")
    body = payload if isinstance(payload, dict) else dict(payload)
    message = {"method": "post", "request": {"type": "action", "payload": body}, "id": request_id}
    try:
        return _dumps(message).decode()
    except orjson.JSONEncodeError as exc:
        raise ValueError(f"payload cannot be encoded as JSON: {exc}") from None
