"""Who hears what: engine events and market timers turned into frames for topics.

The server keeps the sockets; this module decides, for each engine event, which topic it goes to
and what frame text it becomes (book levels to ``l2Delta``, trades to one ``trades`` frame per
symbol plus the candles they move, account events to the account's topic), and what a new
subscription starts with. :class:`TopicIndex` records which peers are subscribed to which topic.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Generic, Protocol, TypeVar

from . import frames
from .candles import INTERVAL_SPELLINGS, CandleBook
from .client_requests import StreamRequest
from .events import (
    AccountView,
    EngineEvent,
    Filled,
    LevelChanged,
    LeverageChanged,
    MarginChanged,
    OrderChanged,
    PositionChanged,
    Submission,
    TradeExecuted,
)

Peer = TypeVar("Peer")
_Item = TypeVar("_Item")
Outgoing = tuple[str, str]
"""``(topic, frame text)``."""


class EngineLike(Protocol):
    """The part of the sans-IO engine the server uses."""

    def submit(self, payload: dict[str, Any], *, now_ns: int) -> Submission: ...
    def book(
        self, symbol: str, depth: int | None = None
    ) -> tuple[Sequence[frames.Level], Sequence[frames.Level]]: ...
    def market(self, symbol: str) -> frames.MarketStatsLike: ...
    def account_view(self, account: str) -> AccountView: ...


class TopicIndex(Generic[Peer]):
    """Subscribers per topic, keyed by peer id, in subscription order."""

    def __init__(self) -> None:
        self._topics: dict[str, dict[int, Peer]] = {}

    def __contains__(self, topic: str) -> bool:
        return topic in self._topics

    def add(self, topic: str, peer_id: int, peer: Peer) -> None:
        self._topics.setdefault(topic, {})[peer_id] = peer

    def discard(self, topic: str, peer_id: int) -> None:
        subscribers = self._topics.get(topic)
        if subscribers is not None:
            subscribers.pop(peer_id, None)
            if not subscribers:
                del self._topics[topic]

    def subscribers(self, topic: str) -> tuple[Peer, ...]:
        """A copy: sending may unsubscribe a peer (a slow one is disconnected)."""
        return tuple(self._topics.get(topic, {}).values())


class EventRouter:
    """Frames for topics, built from the engine's events and state. ``subscribed(topic)`` tells
    whether anyone listens, so that nothing is encoded for nobody; ``clock()`` gives the
    timestamp (ns) market frames carry."""

    def __init__(
        self,
        engine: EngineLike,
        symbols: Iterable[str],
        *,
        candle_history: int,
        subscribed: Callable[[str], bool],
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.engine = engine
        self.symbols = tuple(symbols)
        self.candles = CandleBook(candle_history)
        self.volatility: dict[str, float] = {}
        """Per symbol, shown in the tickers' analytics fields (the simulator fills it in)."""
        self._subscribed = subscribed
        self._clock = clock

    def route(self, events: Iterable[EngineEvent], *, muted: bool) -> Iterator[Outgoing]:
        """Frames for ``events`` in the order the engine reported them; trades are grouped into
        one frame per symbol after the rest. ``muted`` drops market data (candles still record
        the trades)."""
        trades_by_symbol: dict[str, list[TradeExecuted]] = {}
        now_ns = 0
        for event in events:
            if isinstance(event, LevelChanged):
                topic = frames.market_topic("l2Delta", event.symbol)
                if not muted and self._subscribed(topic):
                    now_ns = now_ns or self._clock()
                    yield topic, frames.level_delta(event, timestamp=now_ns)
            elif isinstance(event, TradeExecuted):
                trades_by_symbol.setdefault(event.symbol, []).append(event)
            elif isinstance(event, OrderChanged):
                yield from self._account(event.order.account, frames.order_update, event.order)
            elif isinstance(event, Filled):
                yield from self._account(event.account, frames.fill, event)
            elif isinstance(event, PositionChanged):
                yield from self._account(
                    event.position.account, frames.position_update, event.position
                )
            elif isinstance(event, MarginChanged):
                yield from self._account(event.margin.account, frames.margin_update, event.margin)
            elif isinstance(event, LeverageChanged):
                yield from self._account(event.account, frames.leverage_update, event)
        for symbol, executed in trades_by_symbol.items():
            for trade in executed:
                self.candles.record(symbol, trade.price, trade.size, trade.time_ms)
            if muted:
                continue
            topic = frames.market_topic("trades", symbol)
            if self._subscribed(topic):
                yield topic, frames.trades(symbol, executed)
            yield from self._candles(symbol)

    def initial(self, sub: StreamRequest, *, muted: bool) -> list[str]:
        """What a subscription starts with, sent right behind the subscriptionResponse."""
        if sub.kind == "account":
            assert sub.user is not None
            return [frames.account_snapshot(sub.user, self.engine.account_view(sub.user))]
        if muted:
            return []
        assert sub.symbol is not None
        now_ns = self._clock()
        if sub.kind == "l2Delta":
            bids, asks = self.engine.book(sub.symbol)
            return [frames.book("l2Delta", sub.symbol, bids, asks, timestamp=now_ns)]
        if sub.kind == "l2Snapshot":
            return [self.snapshot(sub, *self.engine.book(sub.symbol), now_ns)]
        if sub.kind == "ticker":
            return [self.ticker(sub.symbol, now_ns)]
        if sub.kind == "candle":
            assert sub.interval is not None
            spelling = sub.topic.rsplit(".", 1)[1]
            return [
                frames.candle(sub.symbol, spelling, bar)
                for bar in self.candles.backfill(sub.symbol, sub.interval)
            ]
        return []

    def tickers(self) -> Iterator[Outgoing]:
        """One ticker per symbol somebody subscribed to."""
        now_ns = self._clock()
        for symbol in self.symbols:
            topic = frames.market_topic("ticker", symbol)
            if self._subscribed(topic):
                yield topic, self.ticker(symbol, now_ns)

    def ticker(self, symbol: str, now_ns: int) -> str:
        bids, asks = self.engine.book(symbol, 1)
        mid = (bids[0][0] + asks[0][0]) / 2 if bids and asks else None
        return frames.ticker(
            symbol,
            self.engine.market(symbol),
            timestamp=now_ns,
            fair_book_price=mid,
            volatility=self.volatility.get(symbol, 0.0),
        )

    def snapshot(
        self,
        sub: StreamRequest,
        bids: Sequence[frames.Level],
        asks: Sequence[frames.Level],
        now_ns: int,
    ) -> str:
        """The l2Snapshot ``sub`` asked for: aggregated, then cut to ``nlevels``."""
        assert sub.symbol is not None
        if sub.aggregation is not None:
            bids = frames.aggregate_levels(bids, sub.aggregation, is_bid=True)
            asks = frames.aggregate_levels(asks, sub.aggregation, is_bid=False)
        if sub.nlevels is not None:
            bids, asks = bids[: sub.nlevels], asks[: sub.nlevels]
        return frames.book("l2Snapshot", sub.symbol, bids, asks, timestamp=now_ns)

    def now_ns(self) -> int:
        return self._clock()

    def _account(
        self, account: str, build: Callable[[_Item], str], item: _Item
    ) -> Iterator[Outgoing]:
        topic = frames.account_topic(account)
        if self._subscribed(topic):
            yield topic, build(item)

    def _candles(self, symbol: str) -> Iterator[Outgoing]:
        for spelling, interval in INTERVAL_SPELLINGS.items():
            topic = frames.candle_topic(symbol, spelling)
            if self._subscribed(topic):
                bar = self.candles.current(symbol, interval)
                if bar is not None:
                    yield topic, frames.candle(symbol, spelling, bar)
