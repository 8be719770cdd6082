"""Read-only market data through channels: tickers, one order book and the public trades.

    python examples/market_data.py               # against an embedded simulator
    python examples/market_data.py --url ws://127.0.0.1:12001

No key is needed. Each stream is read by its own task from its own channel; the book itself is
kept by the client, so the book task only reads the best prices after each change.
"""

from __future__ import annotations

import attrs
import trio
from _support import command_line, exchange_url, run_for

from bulk_trio import BulkClient, Topic, open_bulk_client

SYMBOLS = ["BTC-USD", "ETH-USD"]
Started = trio.TaskStatus[None]
BOOK_SYMBOL = "BTC-USD"


@attrs.define
class Seen:
    """What the example received, for the summary at the end (and for its test)."""

    tickers: int = 0
    book_updates: int = 0
    trades: int = 0
    best_bid: float | None = None
    best_ask: float | None = None


async def print_tickers(client: BulkClient, seen: Seen, *, task_status: Started) -> None:
    async with client.events(Topic.TICKER) as tickers:
        task_status.started()
        async for ticker in tickers:
            seen.tickers += 1
            print(f"ticker {ticker.symbol:8} mark {ticker.mark_price:>12,.2f}")


async def print_book(client: BulkClient, seen: Seen, *, task_status: Started) -> None:
    async with client.events(Topic.L2DELTA) as deltas:
        task_status.started()
        async for delta in deltas:
            if delta.symbol != BOOK_SYMBOL:
                continue
            seen.book_updates += 1
            book = client.get_book(BOOK_SYMBOL)
            if book is not None and book.is_valid:
                seen.best_bid, seen.best_ask = book.best_bid(), book.best_ask()
                kind = "full book" if delta.is_snapshot else "change"
                print(f"book   {BOOK_SYMBOL:8} {seen.best_bid} / {seen.best_ask} ({kind})")


async def print_trades(client: BulkClient, seen: Seen, *, task_status: Started) -> None:
    async with client.events(Topic.TRADES) as batches:
        task_status.started()
        async for batch in batches:
            for trade in batch:
                seen.trades += 1
                print(f"trade  {trade.symbol:8} {trade.side.value:4} {trade.size} @ {trade.price}")


async def main(
    url: str | None = None,
    duration: float = 10.0,
    *,
    stop: trio.Event | None = None,
    seen: Seen | None = None,
) -> Seen:
    """Run for ``duration`` seconds, or until ``stop`` is set; count into ``seen`` if given."""
    seen = Seen() if seen is None else seen
    async with (
        exchange_url(url) as endpoint,
        open_bulk_client(endpoint, symbols=SYMBOLS) as client,
        trio.open_nursery() as nursery,
    ):
        # nursery.start returns once a reader's channel is open: the subscriptions below
        # cannot deliver anything before someone is listening.
        await nursery.start(print_tickers, client, seen)
        await nursery.start(print_book, client, seen)
        await nursery.start(print_trades, client, seen)
        await client.subscribe_orderbook_delta(BOOK_SYMBOL)
        await client.subscribe_trades(SYMBOLS)
        await run_for(duration, stop)
        nursery.cancel_scope.cancel()
    print(
        f"{seen.tickers} tickers, {seen.book_updates} book updates, {seen.trades} trades; "
        f"{BOOK_SYMBOL} best bid {seen.best_bid}, best ask {seen.best_ask}"
    )
    return seen


if __name__ == "__main__":
    arguments = command_line(__doc__.splitlines()[0], duration=10.0)
    trio.run(main, arguments.url, arguments.duration)
