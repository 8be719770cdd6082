"""Record a market for a while, then replay it into the simulator and trade against it.

    python examples/record_and_replay.py               # records an embedded simulator
    python examples/record_and_replay.py --url wss://exchange-wss.bulk.trade --duration 60

The recording goes to a temporary file (docs/guides/replay.md describes the format). The replay
runs twenty times faster than the recording; as soon as the replayed book is there the example
buys 0.01 BTC at market, and its position's P&L then follows the recorded mark price.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import attrs
import trio
from _support import NETWORK, command_line, exchange_url, trading_key

from bulk_trio import BulkClient, Side, Topic, open_bulk_client, open_recorder
from bulk_trio.sim import open_simulator

SYMBOL = "BTC-USD"
SPEED = 20.0


@attrs.define
class Outcome:
    """What the example did, for the summary at the end (and for its test)."""

    frames: int = 0
    entry_price: float | None = None
    last_mark: float | None = None
    unrealized_pnl: float | None = None


async def record(url: str, path: Path, duration: float) -> int:
    """Record ``SYMBOL``'s tickers, trades and books for ``duration`` seconds."""
    async with (
        open_bulk_client(url, symbols=[]) as client,
        open_recorder(client, path, symbols=[SYMBOL]) as recorder,
    ):
        await trio.sleep(duration)
    return recorder.frames


async def wait_for_book(client: BulkClient) -> None:
    async with client.events(Topic.L2DELTA) as deltas:
        async for _ in deltas:
            book = client.get_book(SYMBOL)
            if book is not None and book.best_bid() and book.best_ask():
                return


async def replay_and_trade(path: Path, outcome: Outcome) -> None:
    signer = trading_key()
    async with (
        open_simulator(
            network=NETWORK,
            replay=path,
            speed=SPEED,
            feed=False,
            fund={signer.public_key: 100_000.0},
        ) as sim,
        open_bulk_client(sim.url, symbols=[SYMBOL], signer=signer) as client,
    ):
        await client.subscribe_orderbook_delta(SYMBOL)
        sim.start_replay()
        await wait_for_book(client)
        bought = await client.place_market_order(SYMBOL, Side.BUY, 0.01)
        print(f"bought 0.01 {SYMBOL}: {bought.status.value} at {bought.meta.get('avgPx')}")
        await sim.wait_replay_finished()
        await client.subscribe_account()  # a fresh snapshot: the position at the end
        position = client.positions.get(SYMBOL)
        ticker = client.get_ticker(SYMBOL)
        if position is not None:
            outcome.entry_price = position.entry_price
            outcome.unrealized_pnl = position.unrealized_pnl
        outcome.last_mark = ticker.mark_price if ticker else None


async def main(url: str | None = None, duration: float = 10.0) -> Outcome:
    outcome = Outcome()
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "market.rec.gz"
        async with exchange_url(url, seed=7) as endpoint:
            outcome.frames = await record(endpoint, path, duration)
        print(f"recorded {outcome.frames} frames from {url or 'the simulator'}")
        await replay_and_trade(path, outcome)
    print(
        f"replayed at {SPEED:g}x: entry {outcome.entry_price}, last mark {outcome.last_mark}, "
        f"unrealized P&L {outcome.unrealized_pnl}"
    )
    return outcome


if __name__ == "__main__":
    arguments = command_line(__doc__.splitlines()[0], duration=10.0)
    trio.run(main, arguments.url, arguments.duration)
