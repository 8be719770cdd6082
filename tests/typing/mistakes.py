"""Mistakes a user makes that ``mypy --strict`` must catch: each line with an ``expect`` comment
must get an error containing its text, and no other line any error (see check_mistakes.py).
"""

from __future__ import annotations

from bulk_trio import Fill, Topic, TransactionSigner, open_bulk_client


def on_fill(fill: Fill) -> None:
    print(fill.price)


async def main() -> None:
    key = bytes(32)
    signer = TransactionSigner(key, domain="tesnet")  # expect: Argument "domain"
    async with open_bulk_client("ws://127.0.0.1:12001", signer=signer) as client:
        async with client.events(Topic.TICKER) as tickers:
            async for ticker in tickers:
                print(ticker.mark_prise)  # expect: "Ticker" has no attribute "mark_prise"
        async with client.events(Topic.L2DELTA) as deltas:
            async for delta in deltas:
                print(delta.best_bid)  # expect: "L2Delta" has no attribute "best_bid"
        client.on(Topic.TICKER, on_fill)  # expect: Argument 2 to "on"
        client.on(Topic.FILL, on_fill)
        await client.place_limit_order("BTC-USD", "by", 1.0, 1.0)  # expect: "place_limit_order"
        await client.subscribe_candles("BTC-USD", "5mins")  # expect: "subscribe_candles"
        async with client.watch(Topic.TICKER, "BTC-USD") as latest:
            async for ticker in latest:
                print(ticker.volume_24h)  # expect: "Ticker" has no attribute "volume_24h"
