"""An OCO (range order): a stop-loss and a take-profit for one position; one cancels the other.

    python examples/oco_range.py              # against an embedded simulator
    python examples/oco_range.py --url ws://127.0.0.1:12001 --duration 60

It buys SIZE at market, then places ``place_range_order`` protecting the long: a stop-loss
RANGE_BPS below the mark and a take-profit as far above it. The exchange reports the two legs as
two orders; when one fires, the other is cancelled. It prints their updates until one has fired
or the time is up. On exit it cancels what is left and closes the position.
"""

from __future__ import annotations

import attrs
import trio
from _support import command_line, ensure_funds, exchange_url, trading_key

from bulk_trio import BulkClient, Side, Topic, open_bulk_client

SYMBOL = "BTC-USD"
SIZE = 0.01
RANGE_BPS = 40


@attrs.define
class Outcome:
    """What happened, for the summary (and the example's test)."""

    range_status: str = ""
    legs: dict[str, str] = attrs.Factory(dict)  # order id -> last status of each leg


async def main(url: str | None = None, duration: float = 5.0) -> Outcome:
    outcome = Outcome()
    async with (
        exchange_url(url) as exchange,
        open_bulk_client(exchange, symbols=[SYMBOL], signer=trading_key()) as client,
    ):
        await ensure_funds(client)
        filled = await client.place_market_order(SYMBOL, Side.BUY, SIZE)
        price = float(filled.meta.get("avgPx") or 0) or await mark_price(client)
        stop_loss = round(price * (1 - RANGE_BPS / 10_000), 1)
        take_profit = round(price * (1 + RANGE_BPS / 10_000), 1)
        async with client.events(Topic.ORDER) as orders:
            placed = await client.place_range_order(SYMBOL, True, SIZE, stop_loss, take_profit)
            outcome.range_status = placed.raw_status
            print(f"range {placed.raw_status}: stop-loss {stop_loss}, take-profit {take_profit}")
            with trio.move_on_after(duration):
                async for order in orders:
                    if order.order_type != "range":
                        continue
                    outcome.legs[order.order_id] = order.raw_status
                    print(f"leg {order.order_id[:8]}.. {order.raw_status}")
                    if order.raw_status == "filled":
                        break
        await client.cancel_all([SYMBOL])
        await close_position(client)
    return outcome


async def mark_price(client: BulkClient) -> float:
    async with client.events(Topic.TICKER) as tickers:
        async for ticker in tickers:
            if ticker.symbol == SYMBOL and ticker.mark_price is not None:
                return float(ticker.mark_price)
    raise RuntimeError("the ticker stream ended")  # pragma: no cover


async def close_position(client: BulkClient) -> None:
    position = client.positions.get(SYMBOL)
    if position is not None and position.size != 0:
        side = Side.SELL if position.size > 0 else Side.BUY
        await client.place_market_order(SYMBOL, side, abs(position.size), reduce_only=True)


if __name__ == "__main__":
    options = command_line(__doc__.split("\n")[0], duration=5.0)
    trio.run(main, options.url, options.duration)
