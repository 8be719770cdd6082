"""The simulator's account history: append-only logs of fills, finished orders and closed
positions per account, served page by page with opaque cursors (docs/http-api.md, "History").

Sans-IO. It is fed the engine events the simulator publishes (:meth:`HistoryLog.record`), so it
sees exactly what the account streams see. Rows are the JSON the HTTP API sends, with the
superset of fields of decision 8. The engine has no slots: each recorded batch of events (one
transaction, one feed step) is one slot, and ``sequence`` numbers every row.

Each account keeps the newest ``max_rows`` rows of each kind (default
:data:`DEFAULT_MAX_ROWS`): a simulator runs for hours, and its market maker alone finishes
hundreds of orders a second. Older rows are dropped; a page whose slot range reaches below what is
kept says so with ``coverage: "partial"`` and ``minAvailableSlot`` (the oldest slot still complete),
as the exchange does for history it no longer retains (docs/http-api.md).

Pages are newest first. A cursor names the account, the kind, the slot range and the sequence
below which the next page starts, so rows appended meanwhile never shift a page; cursors minted
before :meth:`HistoryLog.expire_cursors` are refused with ``CURSOR_EXPIRED``.
"""

from __future__ import annotations

import base64
import binascii
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import orjson

from .events import EngineEvent, Filled, OrderChanged, OrderView, TradeExecuted

__all__ = ["HISTORY_TYPES", "HistoryError", "HistoryLog"]

HISTORY_TYPES = (
    "fills",
    "positions",
    "fundingHistory",
    "orderHistory",
    "activityHistory",
    "riskHistory",
)
DEFAULT_LIMIT = 5000
MAX_LIMIT = 5000
U64_MAX = 2**64 - 1
DEFAULT_MAX_ROWS = 10_000
"""Rows kept per account and history kind: two full pages of the largest ``limit``."""
_TERMINAL = frozenset(
    {
        "filled",
        "partiallyFilled",
        "cancelled",
        "cancelledRiskLimit",
        "cancelledSelfCrossing",
        "cancelledReduceOnly",
        "cancelledIOC",
        "rejectedCrossing",
        "rejectedDuplicate",
        "rejectedRiskLimit",
        "rejectedInvalid",
    }
)


class HistoryError(ValueError):
    """A history query the server refuses: ``status`` and ``code`` for the HTTP error body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@attrs.define
class _Open:
    """A position being built from fills, for its closed-position row."""

    size: float = 0.0
    open_qty: float = 0.0
    open_notional: float = 0.0
    close_qty: float = 0.0
    close_notional: float = 0.0
    fees: float = 0.0
    open_time: int = 0


@attrs.define
class _Row:
    slot: int
    sequence: int
    body: dict[str, Any]


@attrs.define
class _PendingTrade:
    trade: TradeExecuted
    maker_order: str | None = None
    taker_fill: Filled | None = None


class HistoryLog:
    """Per-account history. ``maker_fee_bps``/``taker_fee_bps`` price the fee fields of fill
    rows as the engine charges them; ``max_rows`` bounds each account's rows of each kind."""

    def __init__(
        self, *, maker_fee_bps: float, taker_fee_bps: float, max_rows: int = DEFAULT_MAX_ROWS
    ) -> None:
        if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1:
            raise ValueError(f"max_rows must be a positive integer, got {max_rows!r}")
        self.max_rows = max_rows
        self.maker_fee_bps = maker_fee_bps
        self.taker_fee_bps = taker_fee_bps
        self.slot = 0
        self._sequence = 0
        self._epoch = 0
        self._logs: dict[tuple[str, str], deque[_Row]] = {}
        self._floors: dict[tuple[str, str], int] = {}
        """Per log that dropped rows: the oldest slot whose rows are all still kept."""
        self._positions: dict[tuple[str, str], _Open] = {}
        self._accounts: set[str] = set()

    # -- recording --------------------------------------------------------------------------

    def knows(self, account: str) -> bool:
        """True once ``account`` has any history."""
        return account in self._accounts

    def record(self, events: Iterable[EngineEvent]) -> None:
        """Append what one batch of engine events means for each account's history."""
        self.slot += 1
        pending: _PendingTrade | None = None
        for event in events:
            if isinstance(event, TradeExecuted):
                pending = _PendingTrade(event)
            elif isinstance(event, Filled):
                self._track_position(event)
                if pending is None:
                    continue
                # A trade's two Filled events follow it, in either order.
                if event.is_maker:
                    pending.maker_order = event.order_id
                else:
                    pending.taker_fill = event
                if pending.maker_order is not None and pending.taker_fill is not None:
                    taker = pending.taker_fill
                    self._fill_rows(pending.trade, pending.maker_order, taker.order_id, taker)
                    pending = None
            elif isinstance(event, OrderChanged) and event.order.status in _TERMINAL:
                self._append(event.order.account, "orderHistory", _terminal_order(event.order))

    def _append(self, account: str, kind: str, body: dict[str, Any]) -> None:
        self._sequence += 1
        body["slot"] = self.slot
        body["sequence"] = self._sequence
        key = (account, kind)
        log = self._logs.get(key)
        if log is None:
            log = self._logs[key] = deque(maxlen=self.max_rows)
        elif len(log) == self.max_rows:
            self._floors[key] = log[0].slot + 1  # the row about to fall off was in that slot
        log.append(_Row(self.slot, self._sequence, body))
        self._accounts.add(account)

    def _fill_rows(
        self, trade: TradeExecuted, maker_order: str, taker_order: str, taker_fill: Filled
    ) -> None:
        notional = trade.price * trade.size
        maker_fee = notional * self.maker_fee_bps / 10_000
        taker_fee = notional * self.taker_fee_bps / 10_000
        sides = [(trade.maker, maker_fee), (trade.taker, taker_fee)]
        if trade.maker == trade.taker:
            sides = sides[:1]
        for account, fee in sides:
            sequence = self._sequence + 1
            self._append(
                account,
                "fills",
                {
                    "maker": trade.maker,
                    "taker": trade.taker,
                    "orderIdMaker": maker_order,
                    "orderIdTaker": taker_order,
                    "tradeId": f"{self.slot}:{sequence}",
                    "isBuy": trade.taker_is_buy,
                    "symbol": trade.symbol,
                    "amount": float(trade.size),
                    "price": float(trade.price),
                    "makerFee": maker_fee,
                    "takerFee": taker_fee,
                    "fee": fee,
                    "reasonCode": 0,
                    "reason": None,
                    "iso": False,
                    "counterpartyHint": _hint(
                        trade.taker if account == trade.maker else trade.maker
                    ),
                    "timestamp": taker_fill.timestamp,
                },
            )

    def _track_position(self, fill: Filled) -> None:
        key = (fill.account, fill.symbol)
        book = self._positions.setdefault(key, _Open())
        signed = fill.size if fill.is_buy else -fill.size
        fee = (
            fill.price
            * fill.size
            * (self.maker_fee_bps if fill.is_maker else self.taker_fee_bps)
            / 10_000
        )
        if book.size == 0 or (book.size > 0) == (signed > 0):
            if book.size == 0:
                book.open_time = fill.timestamp
            book.open_qty += fill.size
            book.open_notional += fill.price * fill.size
            book.fees += fee
            book.size = round(book.size + signed, 10)
            return
        closing = min(abs(signed), abs(book.size))
        book.close_qty += closing
        book.close_notional += fill.price * closing
        book.fees += fee * closing / fill.size
        was_long = book.size > 0
        book.size = round(book.size + (closing if signed > 0 else -closing), 10)
        if book.size != 0:
            return
        self._closed_position(fill, book, was_long)
        rest = abs(signed) - closing
        fresh = self._positions[key] = _Open()
        if rest > 1e-12:  # the fill flipped the position: the rest opens the other way
            fresh.size = rest if signed > 0 else -rest
            fresh.open_qty, fresh.open_notional = rest, fill.price * rest
            fresh.fees = fee * rest / fill.size
            fresh.open_time = fill.timestamp

    def _closed_position(self, fill: Filled, book: _Open, was_long: bool) -> None:
        avg_open = book.open_notional / book.open_qty if book.open_qty else 0.0
        avg_close = book.close_notional / book.close_qty
        direction = 1.0 if was_long else -1.0
        self._append(
            fill.account,
            "positions",
            {
                "owner": fill.account,
                "symbol": fill.symbol,
                "quantity": direction * book.close_qty,
                "maxQuantity": direction * book.open_qty,
                "totalVolume": book.open_qty + book.close_qty,
                "avgOpenPrice": avg_open,
                "avgClosePrice": avg_close,
                "realizedPnl": direction * (avg_close - avg_open) * book.close_qty,
                "fees": book.fees,
                "funding": 0.0,
                "openTime": book.open_time,
                "closeTime": fill.timestamp,
                "closeReason": "normal",
                "iso": False,
                "closeSlot": self.slot,
            },
        )

    # -- reading ----------------------------------------------------------------------------

    def expire_cursors(self) -> None:
        """Every cursor handed out so far is refused from now on (``410 CURSOR_EXPIRED``)."""
        self._epoch += 1

    def page(self, kind: str, account: str, request: Mapping[str, Any]) -> dict[str, Any]:
        """The ``{"data": [...], "page": {...}}`` answer to a history request; HistoryError for a
        request the server refuses."""
        limit = request.get("limit", DEFAULT_LIMIT)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise HistoryError(400, "INVALID_LIMIT", f"limit must be 1..{MAX_LIMIT}, got {limit!r}")
        cursor = request.get("cursor")
        if cursor is not None:
            if "startSlot" in request or "endSlot" in request:
                raise HistoryError(
                    400, "BAD_REQUEST", "a continuation sends only cursor and limit, no slot bounds"
                )
            start, end, before = self._read_cursor(cursor, kind, account)
        else:
            start = _slot(request.get("startSlot"), "startSlot", 0)
            end = _slot(request.get("endSlot"), "endSlot", U64_MAX)
            if start > end:
                raise HistoryError(400, "BAD_REQUEST", "startSlot must not be above endSlot")
            before = U64_MAX
        rows: list[_Row] = []
        more = False
        for row in reversed(self._logs.get((account, kind), ())):
            if row.sequence >= before or not start <= row.slot <= end:
                continue
            if len(rows) == limit:
                more = True
                break
            rows.append(row)
        next_cursor = (
            self._mint_cursor(kind, account, start, end, rows[-1].sequence) if more else None
        )
        shown_end = max(start, min(end, self.slot))
        floor = self._floors.get((account, kind), 0)
        return {
            "data": [row.body for row in rows],
            "page": {
                "nextCursor": next_cursor,
                "hasMore": more,
                "asOfSlot": max(self.slot, shown_end),
                "startSlot": start,
                "endSlot": shown_end,
                "coverage": "complete" if start >= floor else "partial",
                "minAvailableSlot": floor,
            },
        }

    def _mint_cursor(self, kind: str, account: str, start: int, end: int, before: int) -> str:
        raw = orjson.dumps([self._epoch, kind, account, start, end, before])
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def _read_cursor(self, cursor: object, kind: str, account: str) -> tuple[int, int, int]:
        try:
            assert isinstance(cursor, str) and cursor
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            epoch, cursor_kind, cursor_account, start, end, before = orjson.loads(raw)
            assert all(isinstance(n, int) for n in (epoch, start, end, before))
        except (AssertionError, ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
            raise HistoryError(
                400, "INVALID_CURSOR", "cursor is not one this server issued"
            ) from None
        if cursor_kind != kind or cursor_account != account:
            raise HistoryError(400, "INVALID_CURSOR", "cursor belongs to another query")
        if epoch != self._epoch:
            raise HistoryError(410, "CURSOR_EXPIRED", "history changed")
        return start, end, before


def _slot(value: object, field: str, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= U64_MAX:
        raise HistoryError(400, "BAD_REQUEST", f"{field} must be an unsigned 64-bit integer")
    return value


def _hint(account: str) -> str:
    return f"{account[:4]}..{account[-4:]}"


def _terminal_order(order: OrderView) -> dict[str, Any]:
    sign = 1.0 if order.is_buy else -1.0
    return {
        "orderId": order.order_id,
        "symbol": order.symbol,
        "side": "buy" if order.is_buy else "sell",
        "isBuy": order.is_buy,
        "orderType": order.order_type,
        "tif": {"alo": "postOnly"}.get(order.tif, order.tif),
        "price": float(order.price),
        "vwap": float(order.vwap),
        "originalSize": sign * float(order.original_size),
        "executedSize": float(order.filled_size),
        "reduceOnly": order.reduce_only,
        "trigger": None,
        "status": order.status,
        "reason": order.reason,
        "iso": False,
        "timestamp": order.timestamp,
    }
