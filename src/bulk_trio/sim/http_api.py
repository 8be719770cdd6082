"""The simulator's HTTP API (docs/http-api.md): requests to answers, sans-IO.

``SimHttpApi.handle(method, path, query, body, now_ns=...)`` routes one request and returns an
:class:`HttpAnswer`: the status, the JSON body, and the engine events a ``POST /order`` caused, for
the shell to publish on the WebSocket account streams exactly as a WebSocket ``post`` would. The
shell (``sim/shell/http_server.py``) does the serving with hypercorn, and the fault injection that
needs time (delays, dropped connections); this module owns routing, validation, the wire shapes
and the fault decisions that need none.

Market data and account bodies are the WebSocket frames' bodies (:mod:`.frames`), so both APIs
describe the engine the same way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import attrs
import orjson

from ..markets import Market
from ..protocol.keys import decode_32
from ..protocol.subscriptions import WIRE_INTERVAL
from . import frames
from .events import AccountView, EngineEvent, MarketStats, OrderView, Submission
from .history import HISTORY_TYPES, HistoryError, HistoryLog

__all__ = ["API_PREFIX", "HttpAnswer", "HttpFaults", "SimHttpApi"]

API_PREFIX = "/api/v1"
DEFAULT_KLINES = 500
MAX_KLINES = 1000
MAX_OPEN_ORDERS = 5000
_STATS_PERIODS = {
    "1d": "1d", "24h": "1d", "7d": "7d", "1w": "7d", "30d": "30d", "1m": "30d",
    "90d": "90d", "3m": "90d", "1y": "1y", "365d": "1y", "all": "all",
}  # fmt: skip
# Decision 10 and the newest docs: the refusals HTTP clients match on, in today's spelling.
_REFUSAL_TEXT = {"Invalid signature": "bad signature", "Unauthorized signer": "unauthorized signer"}


class CandleSource(Protocol):
    """The simulator's candle store (it keeps the bars of every symbol and interval)."""

    def backfill(self, symbol: str, interval: str) -> Sequence[frames.CandleLike]: ...


class EngineForHttp(Protocol):
    """The part of the engine the HTTP API reads and writes."""

    @property
    def symbols(self) -> tuple[str, ...]: ...
    @property
    def markets(self) -> Mapping[str, Market]: ...
    def submit(self, payload: Mapping[str, Any], *, now_ns: int) -> Submission: ...
    def book(
        self, symbol: str, depth: int | None = None
    ) -> tuple[Sequence[frames.Level], Sequence[frames.Level]]: ...
    def market(self, symbol: str) -> MarketStats: ...
    def account_view(self, account: str) -> AccountView: ...
    def is_funded(self, account: str) -> bool: ...
    def master_of(self, account: str) -> str | None: ...
    def sub_accounts(self, master: str) -> dict[str, str]: ...
    def agents_of(self, account: str) -> list[str]: ...


@attrs.frozen
class HttpAnswer:
    """One response: ``status``, JSON ``body`` bytes, extra ``headers``, and the ``events`` a
    write caused (``is_write``: the request changed the exchange's state)."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()
    events: tuple[EngineEvent, ...] = ()
    is_write: bool = False


def _json(status: int, body: object, **extra: Any) -> HttpAnswer:
    return HttpAnswer(status, orjson.dumps(body), **extra)


def error_answer(status: int, code: str, message: str, **extra: Any) -> HttpAnswer:
    """The structured error envelope of decision 11."""
    return _json(status, {"error": {"code": code, "message": message}}, **extra)


class _BadRequest(ValueError):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


@attrs.define
class HttpFaults:
    """HTTP fault injection the simulator's control handle switches on.

    ``failures`` are statuses (500, 429, ...) the next requests get instead of being served;
    ``delay`` seconds pass before each answer (at or beyond ``executor_timeout`` a ``/order`` or
    ``/account`` request is answered 408 after ``executor_timeout``; a write still applies);
    ``drop_writes`` writes are applied and then their connection is dropped without an answer;
    ``rate_limit`` requests per second per client host, beyond which 429.
    """

    executor_timeout: float = 2.0
    delay: float = 0.0
    failures: list[int] = attrs.field(factory=list)
    drop_writes: int = 0
    rate_limit: float | None = None
    _windows: dict[str, tuple[float, int]] = attrs.field(factory=dict)

    def take_failure(self) -> int | None:
        return self.failures.pop(0) if self.failures else None

    def take_drop(self) -> bool:
        if self.drop_writes > 0:
            self.drop_writes -= 1
            return True
        return False

    def over_rate(self, host: str, now: float) -> bool:
        """True when ``host`` has used up this second's allowance (a fixed one-second window)."""
        if self.rate_limit is None:
            return False
        started, count = self._windows.get(host, (now, 0))
        if now - started >= 1.0:
            started, count = now, 0
        count += 1
        self._windows[host] = (started, count)
        return count > self.rate_limit

    def clear(self) -> None:
        self.delay = 0.0
        self.failures.clear()
        self.drop_writes = 0
        self.rate_limit = None
        self._windows.clear()


def failure_answer(status: int) -> HttpAnswer:
    """What an injected failure of ``status`` looks like."""
    if status == 429:
        return error_answer(
            429, "RATE_LIMITED", "rate limit exceeded", headers=(("retry-after", "0"),)
        )
    if status == 408:
        return error_answer(408, "TIMEOUT", "executor didn't respond within the timeout")
    return error_answer(status, "INTERNAL", "internal error (injected by the simulator)")


class SimHttpApi:
    """Routes the HTTP API onto the engine, its candle store and the history log."""

    def __init__(
        self,
        engine: EngineForHttp,
        *,
        candles: CandleSource,
        history: HistoryLog,
        fee_bps: tuple[float, float],
        volatility: Mapping[str, float] | None = None,
    ) -> None:
        self.engine = engine
        self.candles = candles
        self.history = history
        self.fee_bps = fee_bps
        self.volatility = volatility if volatility is not None else {}
        self._get_routes = {
            "exchangeInfo": self._exchange_info,
            "klines": self._klines,
            "l2book": self._l2_book,
            "stats": self._stats,
        }

    # -- routing ----------------------------------------------------------------------------

    def handle(
        self, method: str, path: str, query: Mapping[str, str], body: bytes, *, now_ns: int
    ) -> HttpAnswer:
        """The answer to one request. Never raises for bad input: that is a 4xx answer."""
        if not path.startswith(API_PREFIX + "/"):
            return error_answer(
                404, "NOT_FOUND", f"no such endpoint {path!r} (routes live under {API_PREFIX})"
            )
        route = path[len(API_PREFIX) + 1 :].rstrip("/")
        try:
            if method == "GET":
                if route.startswith("ticker/"):
                    return self._ticker(route[len("ticker/") :], now_ns)
                handler = self._get_routes.get(route)
                if handler is not None:
                    return handler(query, now_ns)
            elif method == "POST" and route == "account":
                return self._account(_json_object(body))
            elif method == "POST" and route == "order":
                return self._order(_json_object(body), now_ns)
            known = route in self._get_routes or route in ("account", "order")
            if known or route.startswith("ticker/"):
                return error_answer(
                    405, "METHOD_NOT_ALLOWED", f"{method} is not allowed on /{route}"
                )
            return error_answer(404, "NOT_FOUND", f"no such endpoint /{route}")
        except _BadRequest as problem:
            return error_answer(problem.status, problem.code, str(problem))
        except HistoryError as problem:
            return error_answer(problem.status, problem.code, str(problem))

    # -- market data ------------------------------------------------------------------------

    def _exchange_info(self, query: Mapping[str, str], now_ns: int) -> HttpAnswer:
        return _json(200, [_market_json(m) for m in self.engine.markets.values()])

    def _symbol(self, symbol: str | None) -> str:
        if not symbol:
            raise _BadRequest("BAD_REQUEST", "symbol is required")
        if symbol not in self.engine.symbols:
            raise _BadRequest("UNKNOWN_SYMBOL", f"unknown symbol {symbol!r}", status=404)
        return symbol

    def _ticker(self, symbol: str, now_ns: int) -> HttpAnswer:
        symbol = self._symbol(symbol)
        bids, asks = self.engine.book(symbol, 1)
        mid = (bids[0][0] + asks[0][0]) / 2 if bids and asks else None
        frame = frames.ticker(
            symbol,
            self.engine.market(symbol),
            timestamp=now_ns,
            fair_book_price=mid,
            volatility=self.volatility.get(symbol, 0.0),
        )
        return HttpAnswer(200, orjson.dumps(orjson.loads(frame)["data"]["ticker"]))

    def _klines(self, query: Mapping[str, str], now_ns: int) -> HttpAnswer:
        symbol = query.get("symbol")
        if not symbol:
            raise _BadRequest("BAD_REQUEST", "symbol is required")
        spelling = query.get("interval", "")
        interval = WIRE_INTERVAL.get(spelling)
        if interval is None:
            raise _BadRequest(
                "BAD_REQUEST",
                f"interval must be one of {', '.join(sorted(set(WIRE_INTERVAL.values())))}",
            )
        limit = _int_param(query, "limit", DEFAULT_KLINES)
        if not 1 <= limit <= MAX_KLINES:
            raise _BadRequest("INVALID_LIMIT", f"limit must be 1..{MAX_KLINES}, got {limit}")
        start = _int_param(query, "startTime", 0)
        end = _int_param(query, "endTime", 2**63 - 1)
        if symbol not in self.engine.symbols:
            return _json(200, [])  # decision 5: an unknown symbol is an empty history
        bars = [b for b in self.candles.backfill(symbol, interval) if start <= b.open_time <= end]
        # The most recent ``limit`` candles of the range, oldest first (what a warm-up wants).
        return _json(200, [frames.candle_body(bar) for bar in bars[-limit:]])

    def _l2_book(self, query: Mapping[str, str], now_ns: int) -> HttpAnswer:
        kind = query.get("type")
        if kind is not None and kind.lower() != "l2book":
            raise _BadRequest("BAD_REQUEST", f"type must be l2Book, got {kind!r}")
        symbol = self._symbol(query.get("coin") or query.get("symbol"))
        depth = _int_param(query, "nlevels", 20)
        if not 1 <= depth <= 1000:
            raise _BadRequest("BAD_REQUEST", f"nlevels must be 1..1000, got {depth}")
        bids, asks = self.engine.book(symbol)
        aggregation = query.get("aggregation")
        if aggregation is not None:
            try:
                bucket = float(aggregation)
            except ValueError:
                bucket = math.nan
            if not (bucket > 0 and math.isfinite(bucket)):
                raise _BadRequest(
                    "BAD_REQUEST", f"aggregation must be a positive number, got {aggregation!r}"
                )
            bids = frames.aggregate_levels(bids, bucket, is_bid=True)
            asks = frames.aggregate_levels(asks, bucket, is_bid=False)
        frame = frames.book("l2Snapshot", symbol, bids[:depth], asks[:depth], timestamp=now_ns)
        return HttpAnswer(200, orjson.dumps(orjson.loads(frame)["data"]["book"]))

    def _stats(self, query: Mapping[str, str], now_ns: int) -> HttpAnswer:
        period = _STATS_PERIODS.get(query.get("period", "1d"), "1d")
        wanted = query.get("symbol")
        symbols = [s for s in self.engine.symbols if wanted is None or s == wanted]
        markets: list[dict[str, object]] = []
        rates: dict[str, dict[str, float]] = {}
        volume_usd = open_interest_usd = 0.0
        for symbol in sorted(symbols, key=lambda s: -self.engine.market(s).quote_volume_24h):
            stats = self.engine.market(symbol)
            annualized = stats.funding_rate * 1095  # three 8-hour periods a day
            rates[symbol] = {"current": stats.funding_rate, "annualized": annualized}
            volume_usd += stats.quote_volume_24h
            open_interest_usd += stats.open_interest * (stats.mark_price or 0.0)
            markets.append(
                {
                    "symbol": symbol,
                    "volume": float(stats.volume_24h),
                    "quoteVolume": float(stats.quote_volume_24h),
                    "openInterest": float(stats.open_interest),
                    "fundingRate": stats.funding_rate,
                    "fundingRateAnnualized": annualized,
                    "lastPrice": stats.last_price,
                    "markPrice": stats.mark_price,
                }
            )
        return _json(
            200,
            {
                "timestamp": now_ns // 1_000_000,
                "period": period,
                "volume": {"totalUsd": volume_usd},
                "openInterest": {"totalUsd": open_interest_usd},
                "funding": {"rates": rates},
                "markets": markets,
            },
        )

    # -- accounts ---------------------------------------------------------------------------

    def _account(self, request: dict[str, Any]) -> HttpAnswer:
        kind = request.get("type")
        user = request.get("user")
        if not isinstance(kind, str):
            raise _BadRequest(
                "BAD_REQUEST", "type is required (fullAccount, openOrders, fills, ...)"
            )
        try:
            decode_32(user, field="user")
        except ValueError as problem:
            raise _BadRequest("BAD_REQUEST", str(problem)) from None
        assert isinstance(user, str)
        if kind not in ("fullAccount", "openOrders", "feeTier", *HISTORY_TYPES):
            raise _BadRequest("BAD_REQUEST", f"unknown account query type {kind!r}")
        if not (self.engine.is_funded(user) or self.history.knows(user)):
            return error_answer(404, "ACCOUNT_NOT_FOUND", f"account {user} not found")
        if kind in HISTORY_TYPES:
            return _json(200, self.history.page(kind, user, request))
        view = self.engine.account_view(user)
        if kind == "openOrders":
            orders = view.open_orders[:MAX_OPEN_ORDERS]
            return _json(200, [{"openOrder": _open_order_json(order)} for order in orders])
        if kind == "feeTier":
            return _json(200, [{"feeTier": self._fee_tier(request.get("symbol"))}])
        return _json(200, [{"fullAccount": self._full_account(user, view)}])

    def _fee_tier(self, symbol: object) -> dict[str, object]:
        maker, taker = self.fee_bps
        return {
            "scopeInstrument": symbol if isinstance(symbol, str) else "global",
            "rollingVolume": 0.0,
            "tierIndex": 0,
            "tierThreshold": 0.0,
            "makerBps": maker,
            "takerBps": taker,
            "windowDays": 14,
        }

    def _full_account(self, user: str, view: AccountView) -> dict[str, object]:
        snapshot = orjson.loads(frames.account_snapshot(user, view))["data"]
        del snapshot["type"]
        snapshot["openOrders"] = [_open_order_json(order) for order in view.open_orders]
        master = self.engine.master_of(user)
        family: dict[str, object] = (
            {"kind": "SubAccount", "parent": master, "name": self.engine.sub_accounts(master)[user]}
            if master is not None
            else {"kind": "MasterEOA", "parent": None}
        )
        return {
            **family,
            # docs/http-api.md: since v1.0.15 a sub-account is listed by its key alone.
            "subAccounts": [{"pubkey": sub} for sub in self.engine.sub_accounts(user)],
            "multisigAccounts": [],
            "authorizedAgentWallets": self.engine.agents_of(user),
            "pendingOnFill": [],
            "feeTiers": [self._fee_tier(None)],
            **snapshot,
        }

    # -- orders -----------------------------------------------------------------------------

    def _order(self, payload: dict[str, Any], now_ns: int) -> HttpAnswer:
        if "action" in payload and "actions" not in payload:
            raise _BadRequest(
                "BAD_REQUEST", 'the nested {"action": ...} body is not supported: send "actions"'
            )
        submission = self.engine.submit(payload, now_ns=now_ns)
        if not submission.ok:
            message = submission.message or "transaction refused"
            message = _REFUSAL_TEXT.get(message, message)
            body = {
                "status": "error",
                "response": {
                    "type": "order",
                    "data": {"statuses": [{"error": {"message": message}}]},
                },
            }
            return _json(200, body)
        statuses = [{status.name: status.body} for status in submission.statuses]
        body = {"status": "ok", "response": {"type": "order", "data": {"statuses": statuses}}}
        return _json(200, body, events=submission.events, is_write=True)


# ---------------------------------------------------------------------------------------------
# Wire shapes


def _market_json(market: Market) -> dict[str, object]:
    return {
        "symbol": market.symbol,
        "baseAsset": market.base_asset,
        "quoteAsset": market.quote_asset,
        "status": market.status,
        "pricePrecision": market.price_precision if market.price_precision is not None else 8,
        "sizePrecision": market.size_precision if market.size_precision is not None else 8,
        "tickSize": market.tick_size,
        "lotSize": market.lot_size,
        "minNotional": market.min_notional,
        "maxLeverage": int(market.max_leverage)
        if market.max_leverage.is_integer()
        else market.max_leverage,
        "orderTypes": list(market.order_types),
        "timeInForces": list(market.time_in_forces),
    }


def _open_order_json(order: OrderView) -> dict[str, object]:
    """Decision 7: the documented long keys, the account stream's short aliases and ``isBuy``;
    sizes signed (sell < 0)."""
    sign = 1.0 if order.is_buy else -1.0
    tif = {"alo": "postOnly"}.get(order.tif, order.tif)
    return {
        "symbol": order.symbol,
        "orderId": order.order_id,
        "price": float(order.price),
        "originalSize": sign * order.original_size,
        "size": sign * order.remaining_size,
        "filledSize": order.filled_size,
        "vwap": float(order.vwap),
        "maker": order.is_maker,
        "reduceOnly": order.reduce_only,
        "orderType": order.order_type,
        "trigger": None,
        "tif": tif,
        "status": order.status,
        "timestamp": order.timestamp,
        "iso": False,
        "isBuy": order.is_buy,
        "sym": order.symbol,
        "oid": order.order_id,
        "px": float(order.price),
        "origSz": sign * order.original_size,
        "sz": sign * order.remaining_size,
        "fillSz": order.filled_size,
        "mk": order.is_maker,
        "r": order.reduce_only,
        "ot": order.order_type,
        "ts": order.timestamp,
    }


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise _BadRequest("BAD_REQUEST", "the body must be a JSON object") from None
    if not isinstance(value, dict):
        raise _BadRequest("BAD_REQUEST", "the body must be a JSON object")
    return value


def _int_param(query: Mapping[str, str], name: str, default: int) -> int:
    text = query.get(name)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise _BadRequest("BAD_REQUEST", f"{name} must be an integer, got {text!r}") from None
