"""Soak: a client trading against the simulator for N minutes through injected faults.

Not part of the test suite: run it by hand (and before a release) to see the client hold its
contracts over time, as a user's bot would have to::

    .nox/tests/bin/python benchmarks/soak.py --minutes 10 [--seed 7] [--tls]

One in-process simulator (3 symbols, the synthetic feed and takers on) and one trading client
written as a user writes it: a loop placing limit orders around the touch (some cross and fill),
market orders, cancels of its own open orders and the odd cancel-all, each awaited with a
timeout. Meanwhile a fault injector picks, every few seconds, one of the simulator's faults
(sim/shell/simulator.py): dropped connections (at once, or after a number of frames), silences
that outlast the client's stale-feed limit, restarts with downtime, refused reconnects, withheld
and delayed replies, and bursts of corrupted frames.

Reported: reconnects; request outcomes by class (answered by status, refused, timed out, lost
with the connection, not sent while disconnected); malformed frames skipped; process memory
(RSS, client and simulator together, and with --trace-memory each one's live allocations) over
time; and at the end, with faults stopped and the
market still, whether the client's open orders, positions, margin and inventory equal the
simulator's. Fills the client saw are compared with the fills the simulator made for the account,
with how many of them were recovered from the HTTP fill history after reconnects and how many
gaps were announced; the inventory's realized P&L must equal the simulator's unless a gap was.
Exit status 0 when the end state matches, 1 otherwise.
"""

from __future__ import annotations

import argparse
import collections
import math
import random
import sys
import time
import tracemalloc
from collections.abc import Awaitable
from typing import Any

import trio

from bulk_trio import (
    ConnectionLost,
    ConnectionStatus,
    ExchangeError,
    Fill,
    ProtocolError,
    Side,
    StatusKind,
    Topic,
    TransactionSigner,
    open_bulk_client,
)
from bulk_trio.backoff import Backoff
from bulk_trio.enums import ConnectionState
from bulk_trio.models import OrderResponse
from bulk_trio.shell.client import BulkClient
from bulk_trio.shell.connection import NotConnected
from bulk_trio.sim import Simulator, open_simulator
from bulk_trio.sim.events import Filled

SYMBOLS = ["BTC-USD", "ETH-USD", "SOL-USD"]
FUNDS = 1_000_000.0
SIZES = {"BTC-USD": 0.01, "ETH-USD": 0.1, "SOL-USD": 1.0}
STALE_AFTER = 2.0  # seconds: a silence longer than this makes the client reconnect
CORRUPTED = [
    '{"type": "ticker", "topic": "ticker.BTC-USD", "data": {"ticker": {"symb',  # cut off
    '{"type": "account", "topic": "account.x", "data": {"type": "fill", "fill": 7}}',
    '{"type": "l2Delta", "topic": "l2Delta.ETH-USD", "data": {"book": "nonsense"}}',
    "\u0000\u0001 not json at all",
    '{"type": "post", "id": "not-a-number", "data": {}}',
    "[1, 2, 3]",
]


class Tally:
    """What happened, counted."""

    def __init__(self) -> None:
        self.outcomes: collections.Counter[str] = collections.Counter()
        self.faults: collections.Counter[str] = collections.Counter()
        self.fills_seen = 0
        self.fills_made = 0
        self.fills_recovered = 0
        self.gaps: list[str] = []
        self.malformed_sent = 0
        self.malformed_skipped = 0
        self.memory: list[tuple[float, float, str]] = []  # (minutes, RSS MiB, traced split)


def rss_mib() -> float:
    """Resident memory of this process (Linux /proc; NaN elsewhere)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return math.nan


async def request(tally: Tally, call: Awaitable[OrderResponse]) -> OrderResponse | None:
    """Await one request, as a bot does, and count its outcome by class."""
    try:
        response = await call
    except NotConnected:
        tally.outcomes["not sent (disconnected)"] += 1
    except ConnectionLost:
        tally.outcomes["lost with the connection (outcome unknown)"] += 1
    except ExchangeError:
        tally.outcomes["refused by the exchange"] += 1
    except trio.TooSlowError:
        tally.outcomes["timed out"] += 1
    else:
        tally.outcomes[f"answered: {response.status.value}"] += 1
        return response
    return None


async def trade(client: BulkClient, sim: Simulator, tally: Tally, rng: random.Random) -> None:
    """The bot: a user's loop of orders, market orders and cancels."""
    while True:
        await trio.sleep(rng.uniform(0.02, 0.08))
        symbol = rng.choice(SYMBOLS)
        size = SIZES[symbol]
        ticker = client.get_ticker(symbol)
        mark = ticker.mark_price if ticker is not None else None
        roll = rng.random()
        if roll < 0.55 and mark:
            side = rng.choice([Side.BUY, Side.SELL])
            # Mostly away from the touch (rests), sometimes through it (fills).
            offset = rng.uniform(-0.002, 0.006) * mark
            wanted = mark - offset if side is Side.BUY else mark + offset
            price = client.markets[symbol].round_price(wanted, side)  # on the tick grid
            await request(tally, client.place_limit_order(symbol, side, price, size, timeout=3))
        elif roll < 0.65:
            side = rng.choice([Side.BUY, Side.SELL])
            await request(tally, client.place_market_order(symbol, side, size, timeout=3))
        elif roll < 0.98:
            orders = client.get_orders()
            if orders:
                order = rng.choice(orders)
                cancel = client.cancel_order(
                    symbol=order.symbol, order_id=order.order_id, timeout=3
                )
                await request(tally, cancel)
        else:
            await request(tally, client.cancel_all(timeout=3))


async def inject_faults(sim: Simulator, tally: Tally, rng: random.Random, every: float) -> None:
    """One fault every ``every`` seconds on average, each undone by itself or here."""
    while True:
        await trio.sleep(rng.uniform(0.5 * every, 1.5 * every))
        fault = rng.choice(
            ["drop", "drop_after", "silence", "restart", "refuse", "withhold", "delay", "corrupt"]
        )
        tally.faults[fault] += 1
        if fault == "drop":
            sim.drop_connections()
        elif fault == "drop_after":
            sim.drop_after(rng.randint(5, 300))
        elif fault == "silence":
            sim.silence(rng.uniform(STALE_AFTER + 0.5, STALE_AFTER + 3))
        elif fault == "restart":
            await sim.restart(downtime=rng.uniform(0.0, 1.5))
        elif fault == "refuse":
            sim.refuse_connections(rng.uniform(0.5, 2.0))
            sim.drop_connections()
        elif fault == "withhold":
            sim.withhold_replies()
            await trio.sleep(rng.uniform(0.5, 4.0))  # longer than the request timeout at times
            sim.release_replies()
        elif fault == "delay":
            sim.delay_replies(rng.uniform(0.2, 1.0))
            await trio.sleep(rng.uniform(1.0, 3.0))
            sim.delay_replies(0)
        else:
            burst = rng.randint(20, 600)
            for index in range(burst):
                sim.send_malformed(CORRUPTED[index % len(CORRUPTED)])
            tally.malformed_sent += burst * sim.connection_count  # none while disconnected


def traced_split() -> str:
    """With --trace-memory: live allocations by the part of the package that made them (the
    innermost bulk_trio frame of each), so the client's memory shows apart from the simulator's
    that shares the process."""
    if not tracemalloc.is_tracing():
        return ""
    parts = {"client": 0, "simulator": 0}
    for stat in tracemalloc.take_snapshot().statistics("traceback"):
        for frame in stat.traceback:
            if "/bulk_trio/sim/" in frame.filename:
                parts["simulator"] += stat.size
                break
            if "/bulk_trio/" in frame.filename:
                parts["client"] += stat.size
                break
    client, simulator = parts["client"] / 1024, parts["simulator"] / 1024
    return f"  (client {client:8.1f} KiB, simulator {simulator:8.1f} KiB)"


def sample(tally: Tally, started: float) -> None:
    tally.memory.append(((time.monotonic() - started) / 60, rss_mib(), traced_split()))


async def sample_memory(tally: Tally, started: float, every: float) -> None:
    while True:
        sample(tally, started)
        await trio.sleep(every)


def count_fills_at_the_source(sim: Simulator, account: str, tally: Tally) -> None:
    """Count every fill the simulator makes for ``account``, whether or not the client hears it:
    every engine event reaches the server's ``publish_events`` (post replies and the feed)."""
    server = sim._server
    publish = server.publish_events

    def counting(events: Any) -> None:
        events = list(events)
        tally.fills_made += sum(1 for e in events if isinstance(e, Filled) and e.account == account)
        publish(events)

    server.publish_events = counting  # type: ignore[method-assign]


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


def compare(client: BulkClient, sim: Simulator, account: str) -> list[tuple[str, bool, str]]:
    """(what, equal, detail) for the end-state comparisons."""
    view = sim.engine.account_view(account)
    results: list[tuple[str, bool, str]] = []

    theirs_orders = {o.order_id: o for o in view.open_orders}
    ours_orders = dict(client.open_orders)
    same_ids = set(theirs_orders) == set(ours_orders)
    results.append(
        (
            "open orders",
            same_ids,
            f"client {len(ours_orders)}, simulator {len(theirs_orders)}",
        )
    )

    theirs_positions = {p.symbol: p.size for p in view.positions}
    ours_positions = {s: p.size for s, p in client.positions.items() if p.size}
    same_positions = theirs_positions.keys() == ours_positions.keys() and all(
        close(ours_positions[s], theirs_positions[s]) for s in theirs_positions
    )
    results.append(
        ("positions", same_positions, f"client {ours_positions}, simulator {theirs_positions}")
    )

    margin = client.margin
    theirs_margin = view.margin
    fields = ("total_balance", "available_balance", "margin_used", "realized_pnl", "fees")
    same_margin = margin is not None and all(
        close(getattr(margin, f), getattr(theirs_margin, f)) for f in fields
    )
    detail = (
        f"total balance client {margin.total_balance:.6f}, "
        f"simulator {theirs_margin.total_balance:.6f}"
        if margin is not None
        else "client has no margin"
    )
    results.append(("margin", same_margin, detail))

    inventory = {s: v.size for s, v in client.inventory.positions.items() if v.size}
    same_inventory = inventory.keys() == theirs_positions.keys() and all(
        close(inventory[s], theirs_positions[s]) for s in theirs_positions
    )
    results.append(("inventory positions", same_inventory, f"client {inventory}"))
    return results


def realized_pnl(client: BulkClient, sim: Simulator, account: str) -> tuple[bool, str]:
    """Realized P&L of the inventory vs the simulator's (fills missed while disconnected are
    recovered from the HTTP fill history, docs/guides/lifecycle.md)."""
    ours = client.get_pnl().realized
    theirs = sim.engine.account_view(account).margin.realized_pnl
    return close(ours, theirs), f"client {ours:.6f}, simulator {theirs:.6f}"


async def settle(client: BulkClient, sim: Simulator) -> None:
    """Stop the faults' effects, still the market, and let the client catch up."""
    sim.release_replies()
    sim.delay_replies(0)
    sim.silence(0)
    sim.refuse_connections(0)
    sim.pause_feed()
    with trio.fail_after(60):
        while client.connection_state is not ConnectionState.LIVE:
            await client.wait_for_state(ConnectionState.LIVE)
        # Nothing moves now; wait until the account stream has been quiet for a while.
        await trio.sleep(2.0)
        if client.connection_state is not ConnectionState.LIVE:  # dropped by a late drop_after
            await client.wait_for_state(ConnectionState.LIVE)
            await trio.sleep(2.0)


async def soak(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    signer = TransactionSigner.generate_account(domain="testnet")
    tally = Tally()
    started = time.monotonic()
    async with open_simulator(
        symbols=SYMBOLS, seed=args.seed, fund={signer.public_key: FUNDS}, tls=args.tls
    ) as sim:
        count_fills_at_the_source(sim, signer.public_key, tally)
        async with open_bulk_client(
            sim.url,
            symbols=SYMBOLS,
            signer=signer,
            ssl_context=sim.ssl_context,
            markets=sim.http_url,  # the trading rules (tick sizes), as a user loads them
            http_url=sim.http_url,  # where fills missed while disconnected are recovered from
            default_timeout=3.0,
            heartbeat_interval=2.0,
            heartbeat_timeout=1.0,
            stale_after=STALE_AFTER,
            backoff=Backoff(initial=0.1, maximum=1.0),
        ) as client:

            def on_fill(fill: Fill) -> None:
                tally.fills_seen += 1
                tally.fills_recovered += fill.recovered

            def on_status(status: ConnectionStatus) -> None:
                if status.kind is StatusKind.GAP:
                    tally.gaps.append(status.reason or "")

            def on_error(error: object) -> None:
                if isinstance(error, ProtocolError):
                    tally.malformed_skipped += 1

            client.on(Topic.FILL, on_fill)
            client.on(Topic.ERROR, on_error)
            client.on(Topic.STATUS, on_status)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(trade, client, sim, tally, rng)
                nursery.start_soon(inject_faults, sim, tally, rng, args.fault_every)
                nursery.start_soon(sample_memory, tally, started, args.memory_every)
                await trio.sleep(args.minutes * 60)
                nursery.cancel_scope.cancel()
            await settle(client, sim)
            await trio.sleep(0.5)  # the handlers' last batch
            sample(tally, started)
            results = compare(client, sim, signer.public_key)
            pnl = realized_pnl(client, sim, signer.public_key)
            reconnects = client.reconnects
            last_reason = client.last_disconnect_reason
    elapsed = time.monotonic() - started
    return report(args, tally, results, pnl, reconnects, last_reason, elapsed)


def report(
    args: argparse.Namespace,
    tally: Tally,
    results: list[tuple[str, bool, str]],
    pnl: tuple[bool, str],
    reconnects: int,
    last_reason: str | None,
    elapsed: float,
) -> int:
    print(
        f"soak: {args.minutes:g} min against the simulator ({'wss' if args.tls else 'ws'}), "
        f"seed {args.seed}, {elapsed:.0f} s in all"
    )
    print(f"faults injected: {sum(tally.faults.values())} ({dict(sorted(tally.faults.items()))})")
    print(f"reconnects: {reconnects} (last reason: {last_reason})")
    print(f"requests: {sum(tally.outcomes.values())}")
    for outcome, count in sorted(tally.outcomes.items(), key=lambda item: -item[1]):
        print(f"  {count:7d}  {outcome}")
    print(
        f"corrupted frames: {tally.malformed_sent} queued for the client's open connections, "
        f"{tally.malformed_skipped} reported and skipped by the client"
    )
    print(
        f"fills: {tally.fills_made} made by the simulator for the account, "
        f"{tally.fills_seen} seen by the client"
    )
    print(
        f"fills recovered: {tally.fills_recovered} (of those seen), "
        f"gaps announced: {len(tally.gaps)}{': ' + tally.gaps[-1] if tally.gaps else ''}"
    )
    print("memory (RSS, client and simulator in one process):")
    for minutes, mib, split in tally.memory:
        print(f"  {minutes:6.1f} min  {mib:7.1f} MiB{split}")
    ok = True
    print("end state, client vs simulator:")
    for what, equal, detail in results:
        ok &= equal
        print(f"  {'EQUAL  ' if equal else 'DIFFER '} {what}: {detail}")
    equal, detail = pnl
    # A gap (announced on Topic.STATUS) is the one case where the P&L may differ, by design.
    ok &= equal or bool(tally.gaps)
    note = "" if equal or not tally.gaps else " (after an announced gap)"
    print(f"  {'EQUAL  ' if equal else 'DIFFER '} inventory realized P&L: {detail}{note}")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=2.0, help="how long to trade")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--fault-every", type=float, default=4.0, help="seconds between faults")
    parser.add_argument("--memory-every", type=float, default=30.0, help="seconds between samples")
    parser.add_argument("--tls", action="store_true", help="over wss:// (the simulator's CA)")
    parser.add_argument(
        "--trace-memory",
        action="store_true",
        help="also split memory between client and simulator (tracemalloc: slower)",
    )
    args = parser.parse_args()
    if args.trace_memory:
        tracemalloc.start(8)
    return trio.run(soak, args)


if __name__ == "__main__":
    sys.exit(main())
