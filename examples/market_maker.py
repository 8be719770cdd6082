"""A simple two-sided market maker with an inventory limit.

    python examples/market_maker.py              # against an embedded simulator
    python examples/market_maker.py --url ws://127.0.0.1:12001 --duration 60

It quotes a post-only bid and ask around the mark price, a little inside the rest of the book so
that it trades. Its quotes lean against its position (long: both quotes move down, to sell more
readily than buy), a side whose fill could take the position past MAX_POSITION is made smaller or
not quoted at all, and every requote is one atomic transaction that cancels the old quotes and
places the new ones. On exit it cancels everything.

Not a profitable strategy: an example of the shapes a real one takes in bulk-trio.
"""

from __future__ import annotations

import math

import attrs
import trio
from _support import command_line, ensure_funds, exchange_url, run_for, trading_key

from bulk_trio import (
    BulkClient,
    CancelOrder,
    LimitOrder,
    Side,
    TimeInForce,
    Topic,
    open_bulk_client,
)

SYMBOL = "BTC-USD"
CLIP = 0.01
"""Size of each quote (BTC)."""
MAX_POSITION = 0.03
"""The position (long or short) the quotes may never take us beyond (BTC)."""
HALF_SPREAD_BPS = 1.0
SKEW_BPS = 1.5
"""How far both quotes move against a full MAX_POSITION of inventory."""
REQUOTE_BPS = 0.5
"""Move the quotes only when the mark moved more than this, or the position changed."""
PRICE_STEP = 0.1


@attrs.define
class Report:
    requotes: int = 0
    fills: int = 0
    max_abs_position: float = 0.0
    final_position: float = 0.0
    open_at_exit: int = -1


class MarketMaker:
    def __init__(self, client: BulkClient, report: Report) -> None:
        self.client = client
        self.report = report
        self._quoted_fair: float | None = None
        self._quoted_position: float | None = None

    @property
    def position(self) -> float:
        return self.client.inventory.position(SYMBOL).size

    def quotes(self, fair: float) -> list[LimitOrder]:
        """The bid and ask around ``fair`` for the current position; a side is left out when even a
        small fill there would break the inventory limit."""
        position = self.position
        skew = -SKEW_BPS * position / MAX_POSITION
        orders = []
        room_to_buy = round(MAX_POSITION - position, 8)
        room_to_sell = round(MAX_POSITION + position, 8)
        if room_to_buy > 0:
            bid = _round_down(fair * (1 + (skew - HALF_SPREAD_BPS) / 10_000))
            orders.append(_post_only(Side.BUY, bid, min(CLIP, room_to_buy)))
        if room_to_sell > 0:
            ask = _round_up(fair * (1 + (skew + HALF_SPREAD_BPS) / 10_000))
            orders.append(_post_only(Side.SELL, ask, min(CLIP, room_to_sell)))
        return orders

    def wants_requote(self, fair: float) -> bool:
        if self._quoted_fair is None or self.position != self._quoted_position:
            return True
        return abs(fair - self._quoted_fair) / fair * 10_000 > REQUOTE_BPS

    async def requote(self, fair: float) -> None:
        """Cancel what rests and place the new quotes in ONE transaction: there is no moment
        with both old and new quotes resting (which could double the inventory taken)."""
        actions: list[CancelOrder | LimitOrder] = [
            CancelOrder(SYMBOL, order.order_id, side=order.side)
            for order in self.client.get_orders(SYMBOL)
        ]
        actions += self.quotes(fair)
        if not actions:
            return
        responses = await self.client.place_orders(actions)
        self.report.requotes += 1
        self._quoted_fair, self._quoted_position = fair, self.position
        placed = ", ".join(
            f"{action.side.value} {action.size} @ {action.price} -> {response.status.value}"
            for action, response in zip(actions, responses, strict=False)
            if isinstance(action, LimitOrder)
        )
        print(f"requote #{self.report.requotes} position {self.position:+.4f}: {placed}")

    async def run(self) -> None:
        async with self.client.events(Topic.TICKER) as tickers:
            async for ticker in tickers:
                # Quote around the exchange's mark, not the book's mid: our own quotes move the
                # mid, and quoting around them would chase our own tail.
                fair = ticker.mark_price
                if ticker.symbol == SYMBOL and fair is not None and self.wants_requote(fair):
                    await self.requote(fair)

    async def count_fills(self) -> None:
        async with self.client.events(Topic.FILL) as fills:
            async for fill in fills:
                self.report.fills += 1
                position = self.position
                self.report.max_abs_position = max(self.report.max_abs_position, abs(position))
                print(
                    f"fill {fill.side.value} {fill.size} @ {fill.price}: position {position:+.4f}"
                )


def _post_only(side: Side, price: float, size: float) -> LimitOrder:
    return LimitOrder(SYMBOL, side, price, size, time_in_force=TimeInForce.ALO)


def _round_down(price: float) -> float:
    return round(math.floor(price / PRICE_STEP) * PRICE_STEP, 8)


def _round_up(price: float) -> float:
    return round(math.ceil(price / PRICE_STEP) * PRICE_STEP, 8)


async def main(
    url: str | None = None, duration: float = 20.0, *, stop: trio.Event | None = None
) -> Report:
    """Run for ``duration`` seconds, or until ``stop`` is set."""
    report = Report()
    signer = trading_key()
    async with (
        exchange_url(url) as endpoint,
        open_bulk_client(endpoint, symbols=[SYMBOL], signer=signer) as client,
    ):
        await ensure_funds(client)
        maker = MarketMaker(client, report)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(maker.count_fills)
                nursery.start_soon(maker.run)
                await run_for(duration, stop)
                nursery.cancel_scope.cancel()
        finally:
            with trio.CancelScope(shield=True):  # also on Ctrl-C: leave nothing resting
                await client.cancel_all([SYMBOL])
                report.open_at_exit = len(client.get_orders(SYMBOL))
                report.final_position = maker.position
    print(
        f"{report.requotes} requotes, {report.fills} fills, position {report.final_position:+.4f} "
        f"(limit {MAX_POSITION}), {report.open_at_exit} orders open after cancel_all"
    )
    return report


if __name__ == "__main__":
    arguments = command_line(__doc__.splitlines()[0], duration=20.0)
    trio.run(main, arguments.url, arguments.duration)
