"""Every example, run for a moment, does what it is there to show."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import pytest
import trio

from bulk_trio import LimitOrder, OrderStatus, Side, TimeInForce, Topic, open_bulk_client
from bulk_trio.protocol.signing import TransactionSigner
from bulk_trio.sim import Simulator, open_simulator

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TIMEOUT = 30


@pytest.fixture
def load(monkeypatch: pytest.MonkeyPatch) -> type[ModuleType]:
    """Import an example module by name (they import their shared ``_support`` module)."""
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.delenv("BULK_PRIVATE_KEY", raising=False)
    return importlib.import_module  # type: ignore[return-value]


async def test_market_data_reads_tickers_a_book_and_trades(load: type[ModuleType]) -> None:
    market_data = load("market_data")
    enough = trio.Event()

    class Watched(market_data.Seen):  # type: ignore[misc,name-defined]
        """The example's own counters; the run stops once they show what this test checks."""

        def __setattr__(self, name: str, value: object) -> None:
            super().__setattr__(name, value)
            counts = [getattr(self, field, None) for field in ("tickers", "book_updates")]
            prices = [getattr(self, field, None) for field in ("best_bid", "best_ask")]
            if all(counts) and None not in prices:
                enough.set()

    with trio.fail_after(TIMEOUT):
        seen = await market_data.main(duration=2 * TIMEOUT, stop=enough, seen=Watched())
    assert seen.tickers > 0
    assert seen.book_updates > 0
    assert seen.best_bid < seen.best_ask


async def test_seed_example_rests_bids_and_cancels_them_all(
    load: type[ModuleType], monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_example = load("seed_example")
    trader = TransactionSigner.generate_account(domain="testnet")
    monkeypatch.setenv("BULK_PRIVATE_KEY", trader.private_key)
    two_bids_resting = trio.Event()

    async def watch_bids(sim: Simulator, *, task_status: trio.TaskStatus[None]) -> None:
        async with (
            open_bulk_client(sim.url, symbols=[]) as watcher,
            watcher.events(Topic.ORDER) as orders,
        ):
            await watcher.subscribe_account(trader.public_key)
            task_status.started()
            resting: set[str] = set()
            async for order in orders:
                if order.side is Side.BUY and order.status is OrderStatus.RESTING:
                    resting.add(order.order_id)
                    if len(resting) >= 2:
                        two_bids_resting.set()

    with trio.fail_after(TIMEOUT):
        async with open_simulator() as sim, trio.open_nursery() as nursery:
            await nursery.start(watch_bids, sim)
            # Runs until the exchange shows two of its bids resting (tickers come every 200 ms).
            outcome = await seed_example.main(
                url=sim.url, duration=2 * TIMEOUT, stop=two_bids_resting
            )
            nursery.cancel_scope.cancel()
    assert len(outcome.placed) >= 2
    assert outcome.errors == []
    assert outcome.open_at_exit == 0


async def test_slow_consumer_drops_the_fast_one_does_not(load: type[ModuleType]) -> None:
    consumers = load("slow_and_fast_consumers")
    slow_has_dropped = trio.Event()

    class Counts(dict[str, int]):
        """The example's own counters. The fast reader sees every ticker, so once it is more
        than a buffer ahead of what the slow one took, the slow one has dropped some."""

        def __setitem__(self, key: str, value: int) -> None:
            super().__setitem__(key, value)
            if self["fast"] > self["slow"] + consumers.SLOW_BUFFER:
                slow_has_dropped.set()

    with trio.fail_after(TIMEOUT):
        counts = Counts(fast=0, slow=0)
        stats = await consumers.main(duration=2 * TIMEOUT, stop=slow_has_dropped, seen=counts)
    fast, slow = stats["fast"], stats["slow"]
    assert fast.dropped == 0
    assert slow.dropped > 0
    assert slow.capacity == consumers.SLOW_BUFFER
    # Both were offered the same tickers; only what the slow one could not keep up with is lost.
    assert slow.delivered == fast.delivered


async def test_market_maker_stops_buying_at_its_inventory_limit(
    load: type[ModuleType], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A seller hits every bid the market maker rests: its position climbs to the limit and no
    further, it quotes no bid while there, and it leaves nothing resting."""
    market_maker = load("market_maker")
    maker = TransactionSigner.generate_account(domain="testnet")
    monkeypatch.setenv("BULK_PRIVATE_KEY", maker.private_key)
    seller = TransactionSigner.generate_account(domain="testnet").public_key
    limit = market_maker.MAX_POSITION
    bids_at_limit: list[float] = []
    requoted_at_limit = trio.Event()

    async def hit_every_bid(sim: Simulator, *, task_status: trio.TaskStatus[None]) -> None:
        async with (
            open_bulk_client(sim.url, symbols=[]) as watcher,
            watcher.events(Topic.ORDER) as orders,
        ):
            await watcher.subscribe_account(maker.public_key)
            task_status.started()
            limit_reached_before = False
            async for order in orders:
                position = sim.engine.account_view(maker.public_key).positions
                at_limit = sum(p.size for p in position) >= limit - 1e-9
                resting_ask = order.status is OrderStatus.RESTING and order.side is Side.SELL
                if resting_ask and limit_reached_before:
                    requoted_at_limit.set()  # a quote placed once at the limit: enough seen
                limit_reached_before = limit_reached_before or at_limit
                if order.side is not Side.BUY or order.status is not OrderStatus.RESTING:
                    continue
                if at_limit:
                    bids_at_limit.append(order.price)
                sweep = LimitOrder(
                    "BTC-USD", Side.SELL, order.price, 1.0, time_in_force=TimeInForce.IOC
                )
                sim.submit_trusted(seller, [sweep])

    with trio.fail_after(TIMEOUT):
        # A still market (no walk, no takers): only the seller trades with the market maker.
        async with open_simulator(feed=False, takers=False, fund={seller: 1e7}) as sim:
            async with trio.open_nursery() as nursery:
                await nursery.start(hit_every_bid, sim)
                report = await market_maker.main(
                    url=sim.url, duration=2 * TIMEOUT, stop=requoted_at_limit
                )
                nursery.cancel_scope.cancel()
            final = sim.engine.account_view(maker.public_key)

    assert report.max_abs_position == pytest.approx(limit)
    assert report.final_position == pytest.approx(limit)
    assert sum(p.size for p in final.positions) == pytest.approx(limit)
    assert bids_at_limit == []
    assert report.open_at_exit == 0
    assert final.open_orders == ()


async def test_examples_run_as_scripts() -> None:
    """Each example runs as ``python examples/<name>.py`` (each starts its own simulator)."""
    names = [
        *("market_data", "seed_example", "market_maker", "slow_and_fast_consumers"),
        *("bracket_order", "trailing_stop", "oco_range", "sub_account"),
    ]
    results: dict[str, trio.CompletedProcess[bytes]] = {}

    async def run(name: str) -> None:
        results[name] = await trio.run_process(
            [sys.executable, str(EXAMPLES / f"{name}.py"), "--duration", "0.3"],
            capture_stdout=True,
            capture_stderr=True,
            check=False,
            env={"PATH": "", "PYTHONPATH": ""},
        )

    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            for name in names:
                nursery.start_soon(run, name)
    for name in names:
        result = results[name]
        assert result.returncode == 0, (name, result.stderr.decode())
        assert result.stderr == b"", name
        assert result.stdout, name


# -- order types and accounts (docs/guides/orders.md) -------------------------------------------


async def move_mark_once_placed(
    sim: Simulator,
    account: str,
    order_type: str,
    marks: list[float],
    *,
    task_status: trio.TaskStatus[None],
) -> None:
    """Once ``account`` has an open order of ``order_type``, walk the mark through ``marks``,
    waiting for an update of that order after each step."""
    async with (
        open_bulk_client(sim.url, symbols=[]) as watcher,
        watcher.events(Topic.ORDER) as orders,
    ):
        await watcher.subscribe_account(account)
        task_status.started()
        steps = iter(marks)
        async for order in orders:
            if order.order_type == order_type:
                mark = next(steps, None)
                if mark is None:
                    return
                sim.set_mark("BTC-USD", mark)


@pytest.mark.parametrize(
    ("name", "order_type", "marks"),
    [
        ("bracket_order", "range", [99_000.0]),  # below the stop-loss: the long is stopped out
        ("oco_range", "range", [101_000.0]),  # above the take-profit
        ("trailing_stop", "trailing", [100_600.0, 101_200.0, 99_000.0]),  # up, up, then down
    ],
)
async def test_conditional_examples_exit_when_the_mark_moves(
    load: type[ModuleType],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    order_type: str,
    marks: list[float],
) -> None:
    example = load(name)
    trader = TransactionSigner.generate_account(domain="testnet")
    monkeypatch.setenv("BULK_PRIVATE_KEY", trader.private_key)
    with trio.fail_after(TIMEOUT):
        async with open_simulator(feed=False, takers=False, fund={trader.public_key: 1e6}) as sim:
            sim.set_mark("BTC-USD", 100_000.0)
            async with trio.open_nursery() as nursery:
                account = trader.public_key
                await nursery.start(move_mark_once_placed, sim, account, order_type, marks)
                outcome = await example.main(url=sim.url, duration=TIMEOUT / 2)
                nursery.cancel_scope.cancel()
            final = sim.engine.account_view(trader.public_key)
    if name == "trailing_stop":
        assert outcome.last_status == "filled"
        assert len(outcome.triggers) >= 2  # it followed the mark up before it fired
        assert outcome.triggers == sorted(outcome.triggers)
    else:
        assert "filled" in (outcome.exits if name == "bracket_order" else outcome.legs).values()
    assert final.positions == () and final.open_orders == ()


async def test_sub_account_example_funds_and_trades(load: type[ModuleType]) -> None:
    example = load("sub_account")
    with trio.fail_after(TIMEOUT):
        outcome = await example.main()
    assert outcome.sub_account
    assert outcome.funded == example.FUNDING
    assert outcome.order_status == "resting"
    assert outcome.returned == "transfer"
