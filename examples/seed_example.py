"""The official SDK's "full example", in Trio: on every ticker, rest a post-only bid 10 bps under
the mark; on every fill, print the net P&L; cancel everything at the end.

    python examples/seed_example.py              # against an embedded simulator
    python examples/seed_example.py --url ws://127.0.0.1:12001 --duration 30

What changes from asyncio: the client is an ``async with`` block that owns its tasks, handlers run
in that block's nursery (each in its own task, so awaiting an order inside one is fine), and the
program's life is the block's body instead of ``sleep(inf)`` plus ``disconnect()``.
"""

from __future__ import annotations

import attrs
import trio
from _support import command_line, ensure_funds, exchange_url, run_for, trading_key

from bulk_trio import (
    BulkClient,
    BulkError,
    Fill,
    Side,
    Ticker,
    TimeInForce,
    Topic,
    open_bulk_client,
)

SYMBOL = "BTC-USD"
SIZE = 0.01
BPS_UNDER_MARK = 10


@attrs.define
class Outcome:
    """What happened, for the summary (and the example's test)."""

    placed: list[str] = attrs.Factory(list)
    errors: list[str] = attrs.Factory(list)
    fills: int = 0
    net_pnl: float = 0.0
    open_at_exit: int = -1


class BidEveryTicker:
    """The two handlers of the seed example, plus a clean stop.

    ``stop()`` waits for an order that is already on its way, so that the final cancel-all cannot
    overtake it and leave one bid behind.
    """

    def __init__(self, client: BulkClient, outcome: Outcome) -> None:
        self.client = client
        self.outcome = outcome
        self._placing = trio.Lock()
        self._stopped = False

    async def on_ticker(self, ticker: Ticker) -> None:
        if ticker.symbol != SYMBOL or ticker.mark_price is None:
            return
        bid = round(ticker.mark_price * (1 - BPS_UNDER_MARK / 10_000), 1)
        async with self._placing:
            if self._stopped:
                return
            try:
                response = await self.client.place_limit_order(
                    SYMBOL, Side.BUY, bid, SIZE, time_in_force=TimeInForce.ALO
                )
            except (BulkError, trio.TooSlowError) as problem:
                self.outcome.errors.append(str(problem))
                print(f"Order error: {problem}")
                return
        if response.order_id is not None:
            self.outcome.placed.append(response.order_id)
        print(f"Resting bid @ {bid:.1f} -> order_id={response.order_id} ({response.status.value})")

    def on_fill(self, fill: Fill) -> None:
        self.outcome.fills += 1
        pnl = self.client.get_pnl()
        print(f"Fill {fill.size} @ {fill.price} | net PnL={pnl.net:.2f}")

    async def stop(self) -> None:
        async with self._placing:
            self._stopped = True


async def main(
    url: str | None = None, duration: float = 10.0, *, stop: trio.Event | None = None
) -> Outcome:
    """Run for ``duration`` seconds, or until ``stop`` is set."""
    outcome = Outcome()
    signer = trading_key()
    async with (
        exchange_url(url) as endpoint,
        open_bulk_client(endpoint, symbols=[SYMBOL], signer=signer) as client,
    ):
        await ensure_funds(client)
        await client.subscribe_orderbook_snapshot(SYMBOL, nlevels=5)
        await client.subscribe_orderbook_delta(SYMBOL)
        strategy = BidEveryTicker(client, outcome)
        client.on(Topic.TICKER, strategy.on_ticker)
        client.on(Topic.FILL, strategy.on_fill)
        try:
            await run_for(duration, stop)
        finally:
            with trio.CancelScope(shield=True):  # also on Ctrl-C: leave nothing resting
                await strategy.stop()
                await client.cancel_all()
                outcome.open_at_exit = len(client.get_orders())
                outcome.net_pnl = client.get_pnl().net
    print(
        f"placed {len(outcome.placed)} bids, {outcome.fills} fills, net P&L {outcome.net_pnl:.2f}; "
        f"{outcome.open_at_exit} orders open after cancel_all"
    )
    return outcome


if __name__ == "__main__":
    arguments = command_line(__doc__.splitlines()[0], duration=10.0)
    trio.run(main, arguments.url, arguments.duration)
