"""A recorded market as the simulator's feed: the other feed source beside :mod:`.feed`.

Sans-IO like :class:`~bulk_trio.sim.feed.MarketFeed`: :meth:`ReplayFeed.apply` takes one recorded
frame (bulk_trio.recording) and returns what the server must publish; the shell decides when
(docs/guides/replay.md). The model, in short:

* Books. The feed keeps the recorded book of each symbol (snapshots replace it, deltas patch it)
  and mirrors it in the engine with one resting order per level from a house account,
  :data:`REPLAY_ACCOUNT`. So clients' orders match against the replayed book like any other: a
  market order takes its levels, a resting order fills when the replayed book crosses it. What a
  client takes stays taken until the recording next changes that level (then the level is set
  back to the recorded size): the recording does not react to you beyond that.
* Trades and tickers are published as recorded (with the replay's time in them); a ticker's mark
  price becomes the engine's mark, so positions and P&L move with the recorded market. Until a
  symbol's first ticker, the mark follows its replayed book's mid.
* Candles are not replayed: the server builds them from the replayed trades, as it does live.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import attrs
import orjson

from ..actions import CancelOrder, LimitOrder
from ..enums import OrderStatus, Side
from ..fixedpoint import SCALE, from_fixed, to_fixed
from ..markets import Market, order_problem
from ..models import BookLevel, L2Delta, L2Snapshot, ProtocolError, Ticker, TradeBatch
from ..protocol.codec import decode
from .engine import Engine
from .events import EngineEvent, TradeExecuted
from .feed import HOUSE_FUNDS, house_account

REPLAY_ACCOUNT = house_account("replay")
"""The house account whose orders stand for the recorded book."""

_LIVE = frozenset({OrderStatus.RESTING.value, OrderStatus.WORKING.value})

Key = tuple[bool, int]
"""A book level: (is bid, price in 1e-8 units), as the engine keys its book."""


@attrs.define
class ReplayOutput:
    """What one recorded frame asks the server to publish, in this order."""

    events: list[EngineEvent] = attrs.field(factory=list)
    """Engine events (book levels, the replay's trades, clients' fills) for ``publish_events``."""
    tickers: list[tuple[str, str]] = attrs.field(factory=list)
    """(symbol, ticker frame text) for the ``ticker.<symbol>`` subscribers."""
    snapshots: list[str] = attrs.field(factory=list)
    """Symbols whose ``l2Snapshot`` subscribers get the (replayed) book now."""
    problem: str | None = None
    """Why the frame was skipped, when it was malformed."""


@attrs.define
class ReplayCounts:
    """What the feed has done so far. The counters only grow."""

    frames: int = 0
    skipped: int = 0
    """Malformed frames (reported and skipped)."""
    ignored: int = 0
    """Frames of other kinds or symbols (account, replies, candles, ...)."""
    refused: int = 0
    """Recorded levels left out because they break the simulator's market rules (``markets=``)."""


class _ReplayedMarket:
    """One symbol: the recorded book and the house orders that stand for it."""

    def __init__(self) -> None:
        self.target: dict[Key, int] = {}
        """The recorded book: level -> size (1e-8 units)."""
        self.orders: dict[Key, str] = {}
        """Level -> id of the house order resting there (it may since have been taken)."""
        self.deferred: set[Key] = set()
        """Levels the recording wants but that would cross the house's other side for now."""
        self.has_ticker = False

    def replace_side(self, is_bid: bool, levels: Sequence[BookLevel], *, whole: bool) -> set[Key]:
        """Set one side to ``levels``. Unless ``whole``, levels beyond the worst one given are
        kept: a snapshot limited to N levels says nothing about deeper ones."""
        given = {(is_bid, to_fixed(level.price)): to_fixed(level.size) for level in levels}
        prices = [price for _, price in given]
        worst = (min(prices) if is_bid else max(prices)) if prices else None
        touched = set(given)
        for key in [k for k in self.target if k[0] == is_bid and k not in given]:
            beyond = worst is not None and (key[1] < worst if is_bid else key[1] > worst)
            if whole or not beyond:
                del self.target[key]
                touched.add(key)
        self.target.update({key: size for key, size in given.items() if size > 0})
        return touched

    def patch(self, is_bid: bool, levels: Iterable[BookLevel]) -> set[Key]:
        touched: set[Key] = set()
        for level in levels:
            key = (is_bid, to_fixed(level.price))
            size = to_fixed(level.size)
            if size > 0:
                self.target[key] = size
            else:
                self.target.pop(key, None)
            touched.add(key)
        return touched

    def mid(self) -> float | None:
        bids = [p for is_bid, p in self.target if is_bid]
        asks = [p for is_bid, p in self.target if not is_bid]
        if not bids or not asks:
            return None
        return from_fixed(max(bids) + min(asks)) / 2


class ReplayFeed:
    """Drives ``engine`` from recorded frames. Call :meth:`open` once, then :meth:`apply` per
    frame, in recording order, with the time it is replayed at."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.counts = ReplayCounts()
        self._markets = {symbol: _ReplayedMarket() for symbol in engine.symbols}
        self._last_tickers: dict[str, str] = {}

    def open(self, now_ns: int) -> list[EngineEvent]:
        """Fund the house account (enough that margin never stops it)."""
        return self.engine.fund(REPLAY_ACCOUNT, HOUSE_FUNDS, now_ns=now_ns)

    def last_ticker(self, symbol: str, now_ns: int) -> str | None:
        """The latest replayed ticker of ``symbol`` stamped ``now_ns`` (None before the first):
        what a new ticker subscriber starts with, and what the simulator keeps sending once the
        recording has ended, so the market stands still but stays alive."""
        text = self._last_tickers.get(symbol)
        return None if text is None else _retimed_ticker(text, now_ns)

    def apply(self, text: str, now_ns: int) -> ReplayOutput:
        """Replay one recorded frame at ``now_ns`` (wall clock, nanoseconds)."""
        self.counts.frames += 1
        out = ReplayOutput()
        message = decode(text)
        kind = type(message)
        if kind is ProtocolError:
            self.counts.skipped += 1
            out.problem = message.reason  # type: ignore[union-attr]
            return out
        symbol = getattr(message, "symbol", None)
        market = self._markets.get(symbol) if isinstance(symbol, str) else None
        if market is None or kind not in (Ticker, TradeBatch, L2Snapshot, L2Delta):
            self.counts.ignored += 1
            return out
        assert isinstance(symbol, str)
        if kind is Ticker:
            self._ticker(symbol, market, message, text, now_ns, out)  # type: ignore[arg-type]
        elif kind is TradeBatch:
            out.events += _trades(message, now_ns)  # type: ignore[arg-type]
        else:
            self._book(symbol, market, message, now_ns, out)  # type: ignore[arg-type]
        return out

    def _ticker(
        self,
        symbol: str,
        market: _ReplayedMarket,
        ticker: Ticker,
        text: str,
        now_ns: int,
        out: ReplayOutput,
    ) -> None:
        retimed = _retimed_ticker(text, now_ns)
        if retimed is None:
            self.counts.skipped += 1
            out.problem = "ticker frame without a data.ticker object"
            return
        mark = ticker.mark_price
        if mark is not None and mark > 0:
            market.has_ticker = True
            out.events += self.engine.set_mark(symbol, mark, now_ns=now_ns)
        self._last_tickers[symbol] = text
        out.tickers.append((symbol, retimed))

    def _book(
        self,
        symbol: str,
        market: _ReplayedMarket,
        book: L2Snapshot | L2Delta,
        now_ns: int,
        out: ReplayOutput,
    ) -> None:
        if type(book) is L2Delta and not book.is_snapshot:
            touched = market.patch(True, book.bids) | market.patch(False, book.asks)
        else:
            # A whole book (an l2Delta stream's first frame) or a snapshot, perhaps a shallow one.
            whole = type(book) is L2Delta
            touched = market.replace_side(True, book.bids, whole=whole)
            touched |= market.replace_side(False, book.asks, whole=whole)
        out.events += self._reconcile(symbol, market, touched, now_ns)
        if not market.has_ticker:
            mid = market.mid()
            if mid is not None:
                out.events += self.engine.set_mark(symbol, mid, now_ns=now_ns)
        if type(book) is L2Snapshot:
            out.snapshots.append(symbol)

    def _resting(self, market: _ReplayedMarket, key: Key) -> int:
        """What the house order at ``key`` still has resting (0 when it is gone or taken)."""
        order_id = market.orders.get(key)
        view = self.engine.order(order_id) if order_id is not None else None
        if view is None or view.status not in _LIVE:
            market.orders.pop(key, None)
            return 0
        return to_fixed(view.remaining_size)

    def _reconcile(
        self, symbol: str, market: _ReplayedMarket, touched: set[Key], now_ns: int
    ) -> list[EngineEvent]:
        """Make the house orders at ``touched`` levels (and deferred ones) match the recorded
        book, in one transaction: cancels first, then the new orders."""
        keys = touched | market.deferred
        market.deferred = set()
        cancels: list[CancelOrder] = []
        wanted: list[Key] = []
        for key in sorted(keys):
            want = market.target.get(key, 0)
            have = self._resting(market, key)
            if have == want:
                continue
            if have:
                cancels.append(CancelOrder(symbol, market.orders.pop(key)))
            if want:
                wanted.append(key)
        # A recording can be crossed for a moment (one side's delta arrives before the other's);
        # the house must not trade with itself, so such a level waits for the next frame.
        best_bid = max((p for is_bid, p in market.orders if is_bid), default=None)
        best_ask = min((p for is_bid, p in market.orders if not is_bid), default=None)
        placed: list[Key] = []
        for key in wanted:
            is_bid, price = key
            if is_bid and best_ask is not None and price >= best_ask:
                market.deferred.add(key)
                continue
            if not is_bid and best_bid is not None and price <= best_bid:
                market.deferred.add(key)
                continue
            placed.append(key)
            if is_bid:
                best_bid = price if best_bid is None else max(best_bid, price)
            else:
                best_ask = price if best_ask is None else min(best_ask, price)
        orders: list[LimitOrder] = []
        for key in list(placed):
            order = LimitOrder(
                symbol, Side.from_is_buy(key[0]), from_fixed(key[1]), from_fixed(market.target[key])
            )
            # One order that breaks a market rule would refuse the whole transaction.
            if order_problem(self.engine.markets, order) is None:
                orders.append(order)
            else:
                placed.remove(key)
                self.counts.refused += 1
        if not cancels and not orders:
            return []
        submission = self.engine.submit_trusted(REPLAY_ACCOUNT, [*cancels, *orders], now_ns=now_ns)
        for key, status in zip(placed, submission.statuses[len(cancels) :], strict=True):
            order_id = status.body.get("oid")
            if status.name in _LIVE and isinstance(order_id, str):
                market.orders[key] = order_id
        return list(submission.events)


def replay_markets(markets: Iterable[Market]) -> list[Market]:
    """``markets`` with the grid a replay uses when it is given no rules: any price and size the
    engine can represent and no minimum notional, so that no recorded level is refused."""
    finest = 1 / SCALE
    return [
        attrs.evolve(
            market,
            tick_size=finest,
            lot_size=finest,
            min_notional=0.0,
            price_precision=8,
            size_precision=8,
        )
        for market in markets
    ]


def replay_offset(first_ns: int, received_ns: int, speed: float) -> float:
    """Seconds after the replay's start at which a frame received at ``received_ns`` is due, for
    a recording whose first frame came at ``first_ns``: the recorded spacing divided by ``speed``
    (``math.inf``: at once). A receive time before the first (the wall clock was set back while
    recording) counts as the first, so frames are never replayed out of order."""
    if math.isinf(speed):
        return 0.0
    return max(0, received_ns - first_ns) / 1e9 / speed


def _trades(batch: TradeBatch, now_ns: int) -> list[EngineEvent]:
    """The recorded trades as the engine reports trades, stamped with the replay's time."""
    return [
        TradeExecuted(
            symbol=trade.symbol or batch.symbol,
            price=trade.price,
            size=trade.size,
            taker_is_buy=trade.side is Side.BUY,
            maker=trade.maker or "",
            taker=trade.taker or "",
            time_ms=now_ns // 1_000_000,
        )
        for trade in batch.trades
    ]


def _retimed_ticker(text: str, now_ns: int) -> str | None:
    """The recorded ticker frame with ``timestamp`` set to ``now_ns``, everything else as is."""
    try:
        frame = orjson.loads(text)
        body = frame["data"]["ticker"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    if not isinstance(body, dict):
        return None
    body["timestamp"] = now_ns
    return orjson.dumps(frame).decode()
