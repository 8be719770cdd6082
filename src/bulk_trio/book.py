"""A local L2 order book for one symbol, kept from l2Snapshot and l2Delta (docs/protocol.md).

Levels are keyed by integer price ticks (:func:`bulk_trio.fixedpoint.to_fixed`), so ``0.1 + 0.2``
and ``0.3`` name the same level, exactly as they would in a signed order. Each side is a plain dict
with a cached best key: an update costs a dict write and a comparison, and the best price is only
searched for again when the best level itself is deleted. Sizes are kept as the floats the exchange
sent.

The book is *valid* only between a snapshot and the next :meth:`OrderBook.invalidate`: there are no
sequence numbers on the wire, so after a reconnect nothing but a fresh snapshot can be trusted, and
deltas that arrive before it are ignored (docs/guides/lifecycle.md).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Iterator

from .enums import Side
from .fixedpoint import SCALE, from_fixed, to_fixed
from .models import BookLevel, L2Delta, L2Snapshot

_Entry = tuple[int, float, int]
"""A converted level: (signed key, size, order count)."""


class _BookSide:
    """One side of the book.

    Keys are price ticks times ``sign`` (+1 for asks, -1 for bids), so the best level of either side
    is the smallest key and one implementation serves both.
    """

    __slots__ = ("best", "levels", "sign")

    def __init__(self, sign: int) -> None:
        self.sign = sign
        self.levels: dict[int, tuple[float, int]] = {}
        # None means "empty, or unknown since the best level was deleted"; best_key() settles it.
        self.best: int | None = None

    def set(self, key: int, size: float, count: int) -> None:
        if size:
            self.levels[key] = (size, count)
            best = self.best
            if best is not None and key < best:
                self.best = key
        elif self.levels.pop(key, None) is not None and key == self.best:
            self.best = None

    def best_key(self) -> int | None:
        best = self.best
        if best is None and self.levels:
            best = self.best = min(self.levels)
        return best

    def replace(self, entries: Iterable[_Entry]) -> None:
        levels: dict[int, tuple[float, int]] = {}
        for key, size, count in entries:
            if size:
                levels[key] = (size, count)
            else:
                # A snapshot that lists a level twice means its last word, even a zero.
                levels.pop(key, None)
        self.levels = levels
        self.best = None

    def keys_best_first(self) -> Iterator[int]:
        """Keys in priority order, produced lazily: a sweep usually stops after a few levels."""
        heap = list(self.levels)
        heapq.heapify(heap)
        while heap:
            yield heapq.heappop(heap)

    def level(self, key: int) -> BookLevel:
        size, count = self.levels[key]
        return BookLevel(from_fixed(key * self.sign), size, count)


def _checked_size(size: float) -> float:
    # NaN, infinities and negatives fail both comparisons and end up raising.
    if 0 <= size < math.inf:
        return size
    raise ValueError(f"size must be a finite number >= 0, got {size!r}")


def _entry(level: BookLevel, sign: int) -> _Entry:
    """A message's level, validated and converted before it touches the book."""
    return sign * to_fixed(level.price, field="price"), _checked_size(level.size), level.count


class OrderBook:
    """The L2 book of one symbol.

    Prices go in and come out as floats; inside they are 1e8 ticks. ``Side.BUY`` names the bids
    and ``Side.SELL`` the asks wherever a side is taken, except in the sweeps, whose ``side`` is
    the side of the taker order (a buy walks the asks).
    """

    __slots__ = ("_asks", "_bids", "_symbol", "_timestamp", "_valid")

    def __init__(self, symbol: str) -> None:
        if not isinstance(symbol, str) or not symbol:
            raise ValueError(f"symbol must be a non-empty string, got {symbol!r}")
        self._symbol = symbol
        self._bids = _BookSide(-1)
        self._asks = _BookSide(1)
        self._valid = False
        self._timestamp: int | None = None

    @classmethod
    def from_snapshot(cls, snapshot: L2Snapshot | L2Delta) -> OrderBook:
        """A valid book holding ``snapshot`` (an L2Snapshot, or an L2Delta with ``is_snapshot``)."""
        book = cls(snapshot.symbol)
        book.apply_snapshot(snapshot)
        return book

    def __repr__(self) -> str:
        return (
            f"<OrderBook {self._symbol} valid={self._valid} "
            f"bids={len(self._bids.levels)} asks={len(self._asks.levels)} "
            f"best={self.best_bid()}/{self.best_ask()}>"
        )

    # -- state ----------------------------------------------------------------------------------

    @property
    def symbol(self) -> str:
        return self._symbol

    @property
    def timestamp(self) -> int | None:
        """Timestamp (ns) of the last message applied; None before the first one."""
        return self._timestamp

    @property
    def is_valid(self) -> bool:
        """True from a snapshot until :meth:`invalidate`; deltas are ignored while it is False."""
        return self._valid

    def invalidate(self) -> None:
        """Forget every level and ignore deltas until the next snapshot (e.g. after a reconnect).

        The levels are dropped rather than kept as a stale picture, so that reads of an invalid book
        say "unknown" (None, empty) instead of quoting prices that may no longer exist.
        """
        self._valid = False
        self._bids.replace(())
        self._asks.replace(())

    # -- updates --------------------------------------------------------------------------------

    def apply(self, message: L2Snapshot | L2Delta) -> bool:
        """Apply an l2Snapshot or l2Delta; False when a delta was ignored (book not valid)."""
        if isinstance(message, L2Snapshot):
            self.apply_snapshot(message)
            return True
        if isinstance(message, L2Delta):
            return self.apply_delta(message)
        raise TypeError(f"expected L2Snapshot or L2Delta, got {type(message).__name__}")

    def apply_snapshot(self, snapshot: L2Snapshot | L2Delta) -> None:
        """Replace the whole book with ``snapshot`` and make it valid.

        Accepts an L2Snapshot, or the L2Delta with ``is_snapshot`` that starts an l2Delta
        subscription. Levels of size 0 are left out. Raises ValueError, leaving the book as it was,
        for another symbol, a plain delta, or a level with a bad price or size.
        """
        self._check_symbol(snapshot.symbol)
        if isinstance(snapshot, L2Delta) and not snapshot.is_snapshot:
            raise ValueError("apply_snapshot needs a snapshot; this L2Delta has is_snapshot=False")
        bids = [_entry(level, -1) for level in snapshot.bids]
        asks = [_entry(level, 1) for level in snapshot.asks]
        self._bids.replace(bids)
        self._asks.replace(asks)
        self._valid = True
        self._timestamp = snapshot.timestamp

    def apply_delta(self, delta: L2Delta) -> bool:
        """Set each level of ``delta`` to its absolute size (0 deletes it); True when applied.

        Returns False and changes nothing while the book is not valid. A delta with ``is_snapshot``
        replaces the book instead, since patching with a full book would keep levels it no longer
        lists. Deleting a level that is not there is harmless. Raises ValueError, changing nothing,
        for another symbol or a level with a bad price or size.
        """
        if delta.symbol != self._symbol:
            self._check_symbol(delta.symbol)
        if delta.is_snapshot:
            self.apply_snapshot(delta)
            return True
        if not self._valid:
            return False
        bids, asks = delta.bids, delta.asks
        # The stream sends one level per delta (docs/protocol.md): that case skips building lists.
        if len(bids) + len(asks) == 1:
            book_side = self._bids if bids else self._asks
            book_side.set(*_entry((bids or asks)[0], book_side.sign))
        else:
            # Convert every level first, so that a bad one leaves the book untouched.
            bid_entries = [_entry(level, -1) for level in bids]
            ask_entries = [_entry(level, 1) for level in asks]
            for entry in bid_entries:
                self._bids.set(*entry)
            for entry in ask_entries:
                self._asks.set(*entry)
        self._timestamp = delta.timestamp
        return True

    def set_level(self, side: Side, price: float, size: float, count: int = 0) -> None:
        """Set one level by hand (size 0 deletes it), whether or not the book is valid.

        This is a local edit: it neither validates the book nor moves :attr:`timestamp`.
        """
        book_side = self._side(side)
        key = book_side.sign * to_fixed(price, field="price")
        book_side.set(key, _checked_size(size), count)

    def _check_symbol(self, symbol: str) -> None:
        if symbol != self._symbol:
            raise ValueError(
                f"a message for symbol {symbol!r} cannot be applied to the {self._symbol!r} book"
            )

    def _side(self, side: Side) -> _BookSide:
        if side is Side.BUY:
            return self._bids
        if side is Side.SELL:
            return self._asks
        raise ValueError(f"side must be Side.BUY or Side.SELL, got {side!r}")

    # -- reads ----------------------------------------------------------------------------------

    def best_bid(self) -> float | None:
        key = self._bids.best_key()
        return None if key is None else from_fixed(-key)

    def best_ask(self) -> float | None:
        key = self._asks.best_key()
        return None if key is None else from_fixed(key)

    def best_bid_level(self) -> BookLevel | None:
        key = self._bids.best_key()
        return None if key is None else self._bids.level(key)

    def best_ask_level(self) -> BookLevel | None:
        key = self._asks.best_key()
        return None if key is None else self._asks.level(key)

    def mid(self) -> float | None:
        """Halfway between the best bid and the best ask; None when a side is empty."""
        bid, ask = self._bids.best_key(), self._asks.best_key()
        if bid is None or ask is None:
            return None
        return from_fixed(ask - bid) / 2

    def spread(self) -> float | None:
        """Best ask minus best bid (negative while crossed); None when a side is empty."""
        bid, ask = self._bids.best_key(), self._asks.best_key()
        if bid is None or ask is None:
            return None
        return from_fixed(ask + bid)

    @property
    def is_crossed(self) -> bool:
        """True when best bid >= best ask.

        One-level deltas can cross the book for a moment (the new bid arrives before the old ask
        is deleted), so this is reported for the caller to judge, never "repaired" here.
        """
        bid, ask = self._bids.best_key(), self._asks.best_key()
        return bid is not None and ask is not None and -bid >= ask

    def levels(self, side: Side, n: int | None = None) -> list[BookLevel]:
        """The levels of one side (BUY = bids, SELL = asks), best first; the best ``n`` if given."""
        book_side = self._side(side)
        if n is None:
            keys = sorted(book_side.levels)
        elif n < 0:
            raise ValueError(f"n must be >= 0 or None, got {n!r}")
        elif n == 1:
            best = book_side.best_key()
            keys = [] if best is None else [best]
        else:
            keys = heapq.nsmallest(n, book_side.levels)
        return [book_side.level(key) for key in keys]

    def level_count(self, side: Side | None = None) -> int:
        """Number of levels on one side, or on both when ``side`` is None."""
        if side is None:
            return len(self._bids.levels) + len(self._asks.levels)
        return len(self._side(side).levels)

    def depth(self, side: Side) -> float:
        """Total size resting on one side (BUY = bids, SELL = asks)."""
        return math.fsum(size for size, _ in self._side(side).levels.values())

    def sweep_price(self, side: Side, size: float) -> float | None:
        """The worst price a taker order of ``side`` and ``size`` reaches to fill completely.

        A BUY walks the asks upwards and a SELL the bids downwards. None when the visible book
        holds less than ``size``. Sizes are compared in 1e8 ticks, so 0.7 + 0.1 fills 0.8.
        """
        swept = self._sweep(side, size)
        return None if swept is None else from_fixed(swept[0])

    def sweep_vwap(self, side: Side, size: float) -> float | None:
        """The average price of the fill :meth:`sweep_price` describes; None when too thin."""
        swept = self._sweep(side, size)
        return None if swept is None else swept[1]

    def _sweep(self, side: Side, size: float) -> tuple[int, float] | None:
        """(worst price tick, average price) of a taker fill, or None when the book is too thin."""
        if not isinstance(side, Side):
            raise ValueError(f"side must be Side.BUY or Side.SELL, got {side!r}")
        wanted = to_fixed(size, field="size")
        if wanted == 0:
            raise ValueError(f"size must be at least 1e-8, got {size!r}")
        book_side = self._asks if side is Side.BUY else self._bids
        sign = book_side.sign
        remaining = wanted
        notional = 0  # sum of price ticks * size ticks: exact, rounded once at the end
        for key in book_side.keys_best_first():
            price_ticks = key * sign
            take = min(to_fixed(book_side.levels[key][0], field="size"), remaining)
            notional += price_ticks * take
            remaining -= take
            if remaining == 0:
                # Integer true division rounds once, where two from_fixed steps would round twice.
                return price_ticks, notional / (wanted * SCALE)
        return None
