"""A strategy as a user writes it, checked by ``mypy --strict`` in the nox typecheck session.

It is never run by the test suite: it is here so that a change to the client's types that breaks
ordinary user code fails CI.
"""

from __future__ import annotations

import trio

from bulk_trio import (
    BookView,
    ConnectionState,
    Fill,
    OrderState,
    Side,
    Ticker,
    Topic,
    TransactionSigner,
    open_bulk_client,
)


def on_fill(fill: Fill) -> None:
    print(fill.symbol, fill.side.value, fill.size, "@", fill.price)


async def on_order(order: OrderState) -> None:
    print(order.order_id, order.status.value)
    await trio.lowlevel.checkpoint()


async def follow_book(books_seen: list[BookView], symbol: str) -> None:
    async with open_bulk_client("ws://127.0.0.1:12001", symbols=[symbol]) as client:
        await client.subscribe_orderbook_delta(symbol)
        async with client.watch_book(symbol, depth=5) as books:
            async for book in books:
                books_seen.append(book)
                spread: float | None = book.spread
                print(book.best_bid, book.best_ask, spread)


async def main() -> None:
    signer = TransactionSigner(bytes(32), domain="testnet")
    async with open_bulk_client("ws://127.0.0.1:12001", signer=signer) as client:
        client.on(Topic.FILL, on_fill)
        client.on(Topic.ORDER, on_order)
        await client.subscribe_candles("BTC-USD", "5min")
        async with client.events(Topic.TICKER) as tickers:
            async for ticker in tickers:
                mark: float | None = ticker.mark_price
                if mark is not None and ticker.symbol == "BTC-USD":
                    await client.place_limit_order("BTC-USD", "buy", mark * 0.9, 0.01)
                    break
        async with client.events(Topic.TRADES) as trades:
            async for batch in trades:
                for trade in batch:
                    side: Side = trade.side
                    print(trade.price, side)
                break
        async with client.watch(Topic.TICKER, "BTC-USD") as latest:
            async for newest in latest:
                last: Ticker = newest
                print(last.last_price)
                break
        async with client.watch(Topic.CANDLE, "BTC-USD", "5m") as candles:
            async for candle in candles:
                print(candle.close)
                break
        async with client.watch_state() as states:
            async for state in states:
                if state is ConnectionState.LIVE:
                    break
        async with client.events(Topic.STATUS) as statuses:
            async for status in statuses:
                print(status.kind.value, status.reason)
                break


if __name__ == "__main__":
    trio.run(main)
