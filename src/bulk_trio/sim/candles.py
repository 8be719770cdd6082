"""Candles: OHLCV bars per symbol and interval, built from the simulator's public trades.

Interval names and their alignment follow docs/protocol.md (candle stream): bars open on multiples
of their length since the epoch, weekly bars on Mondays and monthly bars on the first of the
calendar month, all in UTC.
"""

from __future__ import annotations

import calendar
import datetime
from collections import deque

import attrs

_SECOND_MS = 1_000
_MINUTE_MS = 60 * _SECOND_MS
_HOUR_MS = 60 * _MINUTE_MS
_DAY_MS = 24 * _HOUR_MS
INTERVAL_MS: dict[str, int] = {
    "10s": 10 * _SECOND_MS,
    "1m": _MINUTE_MS,
    "3m": 3 * _MINUTE_MS,
    "5m": 5 * _MINUTE_MS,
    "15m": 15 * _MINUTE_MS,
    "30m": 30 * _MINUTE_MS,
    "1h": _HOUR_MS,
    "2h": 2 * _HOUR_MS,
    "4h": 4 * _HOUR_MS,
    "6h": 6 * _HOUR_MS,
    "8h": 8 * _HOUR_MS,
    "12h": 12 * _HOUR_MS,
    "1d": _DAY_MS,
    "3d": 3 * _DAY_MS,
    "1w": 7 * _DAY_MS,
    "1M": 0,  # calendar month: see candle_bounds
}
"""The candle intervals of docs/protocol.md and their length (``1M``, a month, varies)."""
INTERVAL_SPELLINGS: dict[str, str] = {name: name for name in INTERVAL_MS} | {
    f"{minutes}min": f"{minutes}m" for minutes in (1, 3, 5, 15, 30)
}
"""Every accepted spelling (decision 5: the ``1m`` and ``1min`` families) to its canonical name."""
_MONDAY_OFFSET_MS = 4 * _DAY_MS  # the epoch was a Thursday; weekly candles open on Mondays


def candle_bounds(interval: str, time_ms: int) -> tuple[int, int]:
    """Open and close time (ms) of the ``interval`` candle at ``time_ms`` (close = next open)."""
    if interval == "1M":
        moment = datetime.datetime.fromtimestamp(time_ms / 1000, tz=datetime.UTC)
        next_year, next_month = divmod(moment.year * 12 + moment.month, 12)
        opened = calendar.timegm((moment.year, moment.month, 1, 0, 0, 0))
        closed = calendar.timegm((next_year, next_month + 1, 1, 0, 0, 0))
        return opened * 1000, closed * 1000
    length = INTERVAL_MS[interval]
    offset = _MONDAY_OFFSET_MS if interval == "1w" else 0
    opened = (time_ms - offset) // length * length + offset
    return opened, opened + length


@attrs.define
class CandleBar:
    """One bar; ``close_time`` is the next bar's ``open_time`` (ms)."""

    open_time: int
    close_time: int
    open: float
    high: float
    low: float
    close: float
    volume: float = 0.0
    trades: int = 0


class CandleBook:
    """OHLCV bars of every symbol and interval, built from public trades, with a bounded history
    per series for the backfill a candle subscription starts with."""

    def __init__(self, history: int) -> None:
        self._history = history
        self._current: dict[tuple[str, str], CandleBar] = {}
        self._closed: dict[tuple[str, str], deque[CandleBar]] = {}

    def record(self, symbol: str, price: float, size: float, time_ms: int) -> None:
        for interval in INTERVAL_MS:
            key = (symbol, interval)
            bar = self._current.get(key)
            if bar is None or time_ms >= bar.close_time:
                if bar is not None:
                    self._closed.setdefault(key, deque(maxlen=self._history)).append(bar)
                opened, closes = candle_bounds(interval, time_ms)
                bar = CandleBar(opened, closes, price, price, price, price)
                self._current[key] = bar
            # A trade stamped slightly before the current bar (clock skew) is folded into it.
            bar.high = max(bar.high, price)
            bar.low = min(bar.low, price)
            bar.close = price
            bar.volume += size
            bar.trades += 1

    def current(self, symbol: str, interval: str) -> CandleBar | None:
        return self._current.get((symbol, interval))

    def backfill(self, symbol: str, interval: str) -> list[CandleBar]:
        """Up to ``history`` most recent bars, oldest first, the current one last."""
        bars = list(self._closed.get((symbol, interval), ()))
        current = self._current.get((symbol, interval))
        if current is not None:
            bars.append(current)
        return bars[-self._history :] if self._history else []
