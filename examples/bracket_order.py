"""A bracket order: an entry, and once it fills, a stop-loss and a take-profit (one OCO).

    python examples/bracket_order.py              # against an embedded simulator
    python examples/bracket_order.py --url ws://127.0.0.1:12001 --duration 60

It buys at market with ``place_bracket``: one transaction whose entry, on its first fill, places a
range order protecting the new long, with a stop-loss BRACKET_BPS below the mark and a take-profit
as far above it. It then prints every update of those orders until one exit fires or the time is
up. On exit it cancels what is left and closes the position.
"""

from __future__ import annotations

import attrs
import trio
from _support import command_line, ensure_funds, exchange_url, trading_key

from bulk_trio import BulkClient, OrderState, Side, Topic, open_bulk_client

SYMBOL = "BTC-USD"
SIZE = 0.01
BRACKET_BPS = 50  # the stop-loss and the take-profit lie 0.5 % from the mark


@attrs.define
class Outcome:
    """What happened, for the summary (and the example's test)."""

    entry_status: str = ""
    exits: dict[str, str] = attrs.Factory(dict)  # order id -> last status of each exit leg
    stop_loss: float = 0.0
    take_profit: float = 0.0


async def mark_price(client: BulkClient) -> float:
    async with client.events(Topic.TICKER) as tickers:
        async for ticker in tickers:
            if ticker.symbol == SYMBOL and ticker.mark_price is not None:
                return float(ticker.mark_price)
    raise RuntimeError("the ticker stream ended")  # pragma: no cover


async def main(url: str | None = None, duration: float = 5.0) -> Outcome:
    outcome = Outcome()
    async with (
        exchange_url(url) as exchange,
        open_bulk_client(exchange, symbols=[SYMBOL], signer=trading_key()) as client,
    ):
        await ensure_funds(client)
        mark = await mark_price(client)
        outcome.stop_loss = round(mark * (1 - BRACKET_BPS / 10_000), 1)
        outcome.take_profit = round(mark * (1 + BRACKET_BPS / 10_000), 1)
        async with client.events(Topic.ORDER) as orders:
            entry = await client.place_bracket(
                SYMBOL, Side.BUY, SIZE, None, outcome.stop_loss, outcome.take_profit
            )
            outcome.entry_status = entry.raw_status or entry.status.value
            print(
                f"entry {outcome.entry_status}: exits at {outcome.stop_loss} / "
                f"{outcome.take_profit}"
            )
            with trio.move_on_after(duration):
                async for order in orders:
                    if watch_exit(order, outcome):
                        break
        await client.cancel_all([SYMBOL])
        await close_position(client)
    return outcome


def watch_exit(order: OrderState, outcome: Outcome) -> bool:
    """Record an update of an exit leg; True once one of them has finished."""
    if order.order_type != "range":
        return False
    outcome.exits[order.order_id] = order.raw_status
    trigger = order.trigger.price if order.trigger is not None else None
    print(f"exit {order.order_id[:8]}.. {order.raw_status} (trigger {trigger})")
    return order.raw_status == "filled"


async def close_position(client: BulkClient) -> None:
    position = client.positions.get(SYMBOL)
    if position is not None and position.size != 0:
        side = Side.SELL if position.size > 0 else Side.BUY
        await client.place_market_order(SYMBOL, side, abs(position.size), reduce_only=True)


if __name__ == "__main__":
    options = command_line(__doc__.split("\n")[0], duration=5.0)
    trio.run(main, options.url, options.duration)
