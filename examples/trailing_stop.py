"""A trailing stop that follows the price up and sells when it turns.

    python examples/trailing_stop.py              # against an embedded simulator
    python examples/trailing_stop.py --url ws://127.0.0.1:12001 --duration 60

It buys SIZE at market, then protects the long with ``place_trailing_stop``: a stop TRAIL_BPS
behind the best mark since it was placed, moved in steps of STEP_BPS. It prints the stop's trigger
price each time the exchange moves it, until the stop fires or the time is up. On exit it cancels
what is left and closes the position.
"""

from __future__ import annotations

import attrs
import trio
from _support import command_line, ensure_funds, exchange_url, trading_key

from bulk_trio import BulkClient, Side, Topic, open_bulk_client

SYMBOL = "BTC-USD"
SIZE = 0.01
TRAIL_BPS = 30
STEP_BPS = 5


@attrs.define
class Outcome:
    """What happened, for the summary (and the example's test)."""

    stop_status: str = ""
    stop_id: str | None = None
    triggers: list[float] = attrs.Factory(list)  # the stop's trigger price, as it moved
    last_status: str = ""


async def main(url: str | None = None, duration: float = 5.0) -> Outcome:
    outcome = Outcome()
    async with (
        exchange_url(url) as exchange,
        open_bulk_client(exchange, symbols=[SYMBOL], signer=trading_key()) as client,
    ):
        await ensure_funds(client)
        await client.place_market_order(SYMBOL, Side.BUY, SIZE)
        async with client.events(Topic.ORDER) as orders:
            stop = await client.place_trailing_stop(SYMBOL, True, SIZE, TRAIL_BPS, STEP_BPS)
            outcome.stop_status, outcome.stop_id = stop.raw_status, stop.order_id
            print(f"trailing stop {stop.raw_status} order_id={stop.order_id}")
            with trio.move_on_after(duration):
                async for order in orders:
                    if order.order_id != outcome.stop_id:
                        continue
                    outcome.last_status = order.raw_status
                    if order.trigger is not None and order.trigger.price not in outcome.triggers:
                        outcome.triggers.append(order.trigger.price)
                        print(f"stop at {order.trigger.price:.1f} ({order.raw_status})")
                    if order.status.is_terminal():
                        break
        await client.cancel_all([SYMBOL])
        await close_position(client)
    return outcome


async def close_position(client: BulkClient) -> None:
    position = client.positions.get(SYMBOL)
    if position is not None and position.size != 0:
        side = Side.SELL if position.size > 0 else Side.BUY
        await client.place_market_order(SYMBOL, side, abs(position.size), reduce_only=True)


if __name__ == "__main__":
    options = command_line(__doc__.split("\n")[0], duration=5.0)
    trio.run(main, options.url, options.duration)
