"""The HTTP API: market rules, candles, an order over POST /order, and fills recovered from history.

    python examples/http_api.py                                  # against an embedded simulator
    python examples/http_api.py --http-url http://127.0.0.1:12000/api/v1

It reads the markets' trading rules, rounds a bid onto BTC-USD's tick and lot grid (towards the
passive side), places it with a signed POST /order, buys a little at market, then reads the
account back: open orders, and every fill through the paginated history, as a program does after
a disconnect to find the fills it missed. It cancels its bid before it exits.
"""

from __future__ import annotations

import argparse

import attrs
import trio
from _support import NETWORK, trading_key

from bulk_trio import (
    BulkHttpClient,
    CancelOrder,
    LimitOrder,
    MarketOrder,
    OrderStatus,
    Side,
    TransactionSigner,
    open_bulk_http,
)
from bulk_trio.sim import open_simulator

SYMBOL = "BTC-USD"


@attrs.define
class Outcome:
    tick_size: float = 0.0
    bid: float = 0.0
    bid_status: OrderStatus | None = None
    candles: int = 0
    fills_recovered: int = 0
    open_at_exit: int = -1


# -- reading the rules -------------------------------------------------------------------------
async def passive_bid(http: BulkHttpClient, fraction_below_mark: float) -> tuple[float, float]:
    """A price ``fraction_below_mark`` under the mark, on the market's grid, and one lot's worth
    of size that meets the minimum notional."""
    markets = await http.markets()
    btc = markets[SYMBOL]
    ticker = await http.ticker(SYMBOL)
    assert ticker.mark_price is not None
    price = btc.round_price(ticker.mark_price * (1 - fraction_below_mark), Side.BUY)
    size = btc.round_size(max(btc.lot_size, 2 * btc.min_notional / price))
    btc.check_order(price, size)  # raises a ValueError naming the rule, were it broken
    return price, size


# -- trading and recovering fills --------------------------------------------------------------
async def trade_and_recover(http: BulkHttpClient, signer: TransactionSigner, out: Outcome) -> None:
    price, size = await passive_bid(http, 0.01)
    (bid,) = await http.place_orders(signer, LimitOrder(SYMBOL, Side.BUY, price, size))
    out.bid, out.bid_status = price, bid.status
    await http.place_orders(signer, MarketOrder(SYMBOL, Side.BUY, size))

    # Candles to warm up a strategy: the most recent ones, oldest first.
    out.candles = len(await http.klines(SYMBOL, "1m", limit=100))

    # Every fill of the account, newest first, page after page.
    async for fill in http.iter_fills(signer.public_key, limit=100):
        mine = fill.for_account(signer.public_key)
        print(f"fill {mine.side.value} {mine.size} @ {mine.price} ({mine.order_id[:8]}...)")
        out.fills_recovered += 1

    assert bid.order_id is not None
    await http.place_orders(signer, CancelOrder(SYMBOL, bid.order_id))
    out.open_at_exit = len(await http.open_orders(signer.public_key))


async def main(http_url: str | None = None) -> Outcome:
    out = Outcome()
    signer = trading_key()
    if http_url is not None:
        async with open_bulk_http(http_url) as http:
            await trade_and_recover(http, signer, out)
        return out
    async with (
        open_simulator(network=NETWORK, fund={signer.public_key: 100_000.0}) as sim,
        open_bulk_http(sim.http_url) as http,
    ):
        out.tick_size = sim.markets[SYMBOL].tick_size
        await trade_and_recover(http, signer, out)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--http-url", help="an HTTP API base URL (default: a simulator)")
    print(trio.run(main, parser.parse_args().http_url))
