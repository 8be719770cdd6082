"""An immutable picture of an order book, taken at one moment (``client.watch_book``)."""

from __future__ import annotations

import attrs

from .book import OrderBook
from .enums import Side
from .models import BookLevel


@attrs.frozen(kw_only=True)
class BookView:
    """The levels of one book at one moment, best first; it never changes after it was taken.

    A :class:`~bulk_trio.OrderBook` keeps changing as frames arrive; a view is what a consumer can
    hold on to across awaits and compare with the next one.
    """

    symbol: str
    timestamp: int | None
    """Timestamp (ns) of the last message applied to the book when the view was taken."""
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]

    @classmethod
    def of(cls, book: OrderBook, depth: int | None = None) -> BookView:
        """The current levels of ``book`` (the best ``depth`` of each side, or all of them)."""
        return cls(
            symbol=book.symbol,
            timestamp=book.timestamp,
            bids=tuple(book.levels(Side.BUY, depth)),
            asks=tuple(book.levels(Side.SELL, depth)),
        )

    @property
    def best_bid(self) -> float | None:
        return self.bids[0].price if self.bids else None

    @property
    def best_ask(self) -> float | None:
        return self.asks[0].price if self.asks else None

    @property
    def mid(self) -> float | None:
        """Halfway between the best bid and the best ask; None when a side is empty."""
        if not self.bids or not self.asks:
            return None
        return (self.bids[0].price + self.asks[0].price) / 2

    @property
    def spread(self) -> float | None:
        """Best ask minus best bid; None when a side is empty."""
        if not self.bids or not self.asks:
            return None
        return self.asks[0].price - self.bids[0].price
