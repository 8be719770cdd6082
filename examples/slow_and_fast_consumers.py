"""Backpressure, shown: a fast and a slow consumer of the same topic, side by side.

    python examples/slow_and_fast_consumers.py   # against an embedded simulator

Every ``client.events(topic)`` is a channel of its own with a bounded buffer. The receiver task
never waits for a consumer: when a market-data channel is full its OLDEST item is dropped and
counted, so a slow consumer sees fewer, but always the newest, tickers, and costs the fast one
nothing. (Account topics never drop; see docs/guides/channels.md.) ``client.channel_stats()``
reports, per consumer, what was delivered, dropped and is still buffered.
"""

from __future__ import annotations

import trio
from _support import command_line, exchange_url, run_for

from bulk_trio import BulkClient, SubscriberStats, Topic, open_bulk_client

SYMBOLS = ["BTC-USD", "ETH-USD", "SOL-USD"]
SLOW_BUFFER = 4
SLOW_SECONDS_PER_TICKER = 0.5
Started = trio.TaskStatus[None]


async def fast(client: BulkClient, seen: dict[str, int], *, task_status: Started) -> None:
    async with client.events(Topic.TICKER, name="fast") as tickers:
        task_status.started()
        async for _ in tickers:
            seen["fast"] += 1


async def slow(client: BulkClient, seen: dict[str, int], *, task_status: Started) -> None:
    async with client.events(Topic.TICKER, name="slow", buffer=SLOW_BUFFER) as tickers:
        task_status.started()
        async for ticker in tickers:
            seen["slow"] += 1
            print(f"slow consumer got {ticker.symbol} mark {ticker.mark_price:,.2f}")
            await trio.sleep(SLOW_SECONDS_PER_TICKER)  # stands for slow work (a disk, a model)


def print_stats(stats: list[SubscriberStats]) -> None:
    print(f"{'consumer':8} {'delivered':>9} {'dropped':>7} {'buffered':>8} {'capacity':>8}")
    for item in stats:
        print(
            f"{item.name:8} {item.delivered:>9} {item.dropped:>7} {item.buffered:>8} "
            f"{item.capacity:>8}"
        )


async def main(
    url: str | None = None,
    duration: float = 5.0,
    *,
    stop: trio.Event | None = None,
    seen: dict[str, int] | None = None,
) -> dict[str, SubscriberStats]:
    """Run for ``duration`` seconds, or until ``stop`` is set; count into ``seen`` if given."""
    seen = {"fast": 0, "slow": 0} if seen is None else seen
    async with (
        exchange_url(url) as endpoint,
        open_bulk_client(endpoint, symbols=SYMBOLS) as client,
        trio.open_nursery() as nursery,
    ):
        await nursery.start(fast, client, seen)
        await nursery.start(slow, client, seen)
        await run_for(duration, stop)
        # Read the counters while both channels are still open.
        stats = {item.name: item for item in client.channel_stats() if item.name in seen}
        nursery.cancel_scope.cancel()
    print_stats(list(stats.values()))
    print(f"the fast consumer handled {seen['fast']} tickers, the slow one {seen['slow']}")
    return stats


if __name__ == "__main__":
    arguments = command_line(__doc__.splitlines()[0], duration=5.0)
    trio.run(main, arguments.url, arguments.duration)
