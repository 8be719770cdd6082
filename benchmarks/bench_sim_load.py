"""Load on the exchange simulator: many clients, the feed running, signed orders at a steady rate.

The simulator runs as ``bulk-trio sim`` in its own process (as a user runs it; ``--in-process``
puts it in this process instead), 3 symbols with the synthetic feed on. ``--clients`` connections
(default 20) each subscribe to the tickers, l2Delta and trades of every symbol and to their own
account, and together send ``--rate`` signed transactions per second (default 200): mostly limit
orders away from the touch, cancels of their oldest order, and a few small market orders that
trade. Everything is on 127.0.0.1 and bounded: ``--seconds`` of sending (default 60, ``--quick``
10), then at most 10 s for the last replies.

Reported: orders acknowledged per second, acknowledgement latency p50/p99, the interval between
tickers as clients see them p50/p99 (a server falling behind shows as growing intervals), frames
per second delivered to the clients, dropped connections (must be 0), and CPU use of the simulator
process and of the load generator. Usage::

    .venv/bin/python benchmarks/bench_sim_load.py [--quick] [--seconds 60] [--clients 20]
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import attrs
import orjson
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, connect_websocket_url

from bulk_trio.actions import Action, CancelOrder, Faucet, LimitOrder, MarketOrder
from bulk_trio.protocol.signing import TransactionSigner

SYMBOLS = ("BTC-USD", "ETH-USD", "SOL-USD")
START_PRICES = {"BTC-USD": 100_000.0, "ETH-USD": 3_500.0, "SOL-USD": 150.0}
ORDER_NOTIONAL = 2_000.0
OPEN_ORDERS_PER_CLIENT = 4
MARKET_ORDER_EVERY = 10
DRAIN_SECONDS = 10.0


@attrs.define
class Totals:
    """What every client adds its observations to (one process, one thread: no locking)."""

    sent: int = 0
    acked: int = 0
    refused: int = 0
    ack_latencies: list[float] = attrs.field(factory=list)
    ticker_intervals: list[float] = attrs.field(factory=list)
    frames: int = 0
    frames_by_type: dict[str, int] = attrs.field(factory=dict)
    dropped: int = 0
    first_ack: float | None = None
    last_ack: float | None = None
    sending_done: bool = False
    finished: bool = False
    """Set before the clients close their connections: closing is not a drop."""
    settled: trio.Event = attrs.field(factory=trio.Event)
    """Set once sending is over and every request has its reply (or a connection dropped)."""

    def check_settled(self) -> None:
        if self.dropped or (self.sending_done and self.acked >= self.sent):
            self.settled.set()


class LoadClient:
    """One connection: subscribes, sends its share of orders at a fixed pace, reads everything."""

    def __init__(self, ws: WebSocketConnection, signer: TransactionSigner, totals: Totals) -> None:
        self.ws = ws
        self.signer = signer
        self.totals = totals
        self.rng = random.Random(signer.public_key)
        self.marks = dict(START_PRICES)
        self.pending: dict[int, tuple[float, Action]] = {}
        self.open_orders: deque[tuple[str, str]] = deque()
        self.last_ticker: dict[str, float] = {}
        self.ids = itertools.count(1)
        self.subscribed = trio.Event()

    async def fund_and_subscribe(self) -> None:
        """Fund the account with a signed faucet request (id 0), then subscribe."""
        payload = self.signer.sign_transaction([Faucet(self.signer.public_key)])
        message = {"method": "post", "request": {"type": "action", "payload": payload}, "id": 0}
        await self.ws.send_message(orjson.dumps(message).decode())
        subs: list[dict[str, object]] = [
            {"type": kind, "symbol": symbol}
            for symbol in SYMBOLS
            for kind in ("ticker", "l2Delta", "trades")
        ]
        subs.append({"type": "account", "user": self.signer.public_key})
        await self.ws.send_message(
            orjson.dumps({"method": "subscribe", "subscription": subs}).decode()
        )

    def next_action(self, count: int) -> Action:
        symbol = self.rng.choice(SYMBOLS)
        mark = self.marks[symbol]
        size = round(ORDER_NOTIONAL / mark, 4)
        if count % MARKET_ORDER_EVERY == MARKET_ORDER_EVERY - 1:
            return MarketOrder(symbol, self.rng.choice(("buy", "sell")), size)
        if len(self.open_orders) >= OPEN_ORDERS_PER_CLIENT:
            open_symbol, oid = self.open_orders.popleft()
            return CancelOrder(open_symbol, oid)
        is_buy = self.rng.random() < 0.5
        away = 0.003 + self.rng.random() * 0.01  # rest 0.3 % - 1.3 % away from the mark
        price = round(mark * (1 - away if is_buy else 1 + away), 2)
        return LimitOrder(symbol, "buy" if is_buy else "sell", price, size)

    async def send_orders(self, rate: float, deadline: float, offset: float) -> None:
        await self.subscribed.wait()
        interval = 1.0 / rate
        next_at = trio.current_time() + offset
        for count in itertools.count():
            if next_at >= deadline:
                return
            await trio.sleep_until(next_at)
            action = self.next_action(count)
            request_id = next(self.ids)
            payload = self.signer.sign_transaction([action])
            message = {
                "method": "post",
                "request": {"type": "action", "payload": payload},
                "id": request_id,
            }
            self.pending[request_id] = (trio.current_time(), action)
            await self.ws.send_message(orjson.dumps(message).decode())
            self.totals.sent += 1
            next_at += interval

    async def receive(self) -> None:
        try:
            while True:
                self.handle(orjson.loads(await self.ws.get_message()), trio.current_time())
        except ConnectionClosed:
            if not self.totals.finished:
                self.totals.dropped += 1
                self.totals.check_settled()

    def handle(self, frame: dict[str, object], now: float) -> None:
        totals = self.totals
        kind = str(frame.get("type"))
        totals.frames += 1
        totals.frames_by_type[kind] = totals.frames_by_type.get(kind, 0) + 1
        if kind == "ticker":
            ticker = frame["data"]["ticker"]  # type: ignore[index]
            symbol = ticker["symbol"]
            if ticker["markPrice"]:
                self.marks[symbol] = ticker["markPrice"]
            previous = self.last_ticker.get(symbol)
            if previous is not None:
                totals.ticker_intervals.append(now - previous)
            self.last_ticker[symbol] = now
        elif kind == "post" and frame.get("id") != 0:
            self.acknowledged(frame, now)
        elif kind == "subscriptionResponse":
            self.subscribed.set()

    def acknowledged(self, frame: dict[str, object], now: float) -> None:
        sent_at, action = self.pending.pop(frame["id"], (None, None))  # type: ignore[arg-type]
        if sent_at is None:
            return
        totals = self.totals
        totals.acked += 1
        totals.ack_latencies.append(now - sent_at)
        totals.first_ack = totals.first_ack or now
        totals.last_ack = now
        totals.check_settled()
        payload = frame["data"]["payload"]  # type: ignore[index]
        if payload["status"] != "ok":
            totals.refused += 1
            return
        [status] = payload["response"]["data"]["statuses"]
        body = status.get("resting")
        if body is not None and isinstance(action, LimitOrder):
            self.open_orders.append((action.symbol, body["oid"]))


@asynccontextmanager
async def simulator_process(seed: int) -> AsyncIterator[tuple[str, int | None]]:
    """``bulk-trio sim`` on a free loopback port; yields its URL and pid; SIGINT at the end."""
    command = [sys.executable, "-m", "bulk_trio", "sim", "--port", "0", "--seed", str(seed)]
    process = await trio.lowlevel.open_process(command, stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None
        banner = b""
        while b"\n" not in banner:
            chunk = await process.stdout.receive_some(4096)
            if not chunk:
                raise RuntimeError(f"the simulator exited: {banner!r}")
            banner += chunk
        match = re.search(rb"ws://127\.0\.0\.1:\d+", banner)
        assert match, banner
        yield match.group(0).decode(), process.pid
    finally:
        process.send_signal(signal.SIGINT)  # as Ctrl-C
        with trio.move_on_after(10):
            await process.wait()
        if process.returncode is None:
            process.kill()


@asynccontextmanager
async def simulator_here(seed: int) -> AsyncIterator[tuple[str, int | None]]:
    from bulk_trio.sim import open_simulator

    async with open_simulator(symbols=SYMBOLS, seed=seed) as sim:
        yield sim.url, os.getpid()


@asynccontextmanager
async def simulator_elsewhere(url: str, pid: int | None) -> AsyncIterator[tuple[str, int | None]]:
    yield url, pid


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process (Linux /proc); NaN when unknown."""
    if pid is None:
        return float("nan")
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def run(args: argparse.Namespace) -> None:
    totals = Totals()
    signers = [TransactionSigner.generate_account(domain="testnet") for _ in range(args.clients)]
    if args.url:
        simulator = simulator_elsewhere(args.url, args.pid)
    elif args.in_process:
        simulator = simulator_here(args.seed)
    else:
        simulator = simulator_process(args.seed)
    async with simulator as (url, sim_pid), trio.open_nursery() as nursery:
        clients = []
        for signer in signers:
            ws = await connect_websocket_url(nursery, url)
            client = LoadClient(ws, signer, totals)
            clients.append(client)
            nursery.start_soon(client.receive)
            await client.fund_and_subscribe()
        for client in clients:
            await client.subscribed.wait()
        sim_cpu, own_cpu = cpu_seconds(sim_pid), time.process_time()
        started = trio.current_time()
        deadline = started + args.seconds
        per_client = args.rate / args.clients
        async with trio.open_nursery() as senders:
            for index, client in enumerate(clients):
                offset = index / args.rate  # spread the clients over one interval
                senders.start_soon(client.send_orders, per_client, deadline, offset)
        totals.sending_done = True
        totals.check_settled()
        with trio.move_on_after(DRAIN_SECONDS):
            await totals.settled.wait()
        elapsed = trio.current_time() - started
        sim_cpu = cpu_seconds(sim_pid) - sim_cpu
        own_cpu = time.process_time() - own_cpu
        totals.finished = True
        for client in clients:
            await client.ws.aclose()
        nursery.cancel_scope.cancel()
    report(args, totals, elapsed, sim_cpu, own_cpu)


def report(
    args: argparse.Namespace, totals: Totals, elapsed: float, sim_cpu: float, own_cpu: float
) -> None:
    ack_span = (totals.last_ack or 0) - (totals.first_ack or 0)
    latencies_ms = [seconds * 1000 for seconds in totals.ack_latencies]
    intervals_ms = [seconds * 1000 for seconds in totals.ticker_intervals]
    where = "in this process" if args.in_process else "own process"
    print(
        f"simulator load: {args.clients} clients, target {args.rate:g} orders/s for "
        f"{args.seconds:g} s, 3 symbols, feed on, simulator in its {where}"
    )
    print(f"  orders sent            {totals.sent}  (refused {totals.refused})")
    print(f"  orders acked           {totals.acked}  = {totals.acked / max(ack_span, 1e-9):.1f}/s")
    print(
        f"  ack latency            p50 {percentile(latencies_ms, 0.5):.2f} ms   "
        f"p99 {percentile(latencies_ms, 0.99):.2f} ms   max {max(latencies_ms, default=0):.2f} ms"
    )
    print(
        f"  ticker interval        p50 {percentile(intervals_ms, 0.5):.1f} ms   "
        f"p99 {percentile(intervals_ms, 0.99):.1f} ms   (nominal 200 ms)"
    )
    print(
        f"  frames to clients      {totals.frames}  = {totals.frames / elapsed:.0f}/s   "
        + ", ".join(f"{k} {v}" for k, v in sorted(totals.frames_by_type.items()))
    )
    print(f"  dropped connections    {totals.dropped}")
    print(
        f"  CPU                    simulator {sim_cpu / elapsed * 100:.0f}% of a core, "
        f"load generator {own_cpu / elapsed * 100:.0f}%"
        + ("  (same process: one figure)" if args.in_process else "")
    )
    if totals.ticker_intervals:
        print(f"  ticker interval mean   {statistics.fmean(intervals_ms):.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--quick", action="store_true", help="10 seconds")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--rate", type=float, default=200.0, help="orders per second in total")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--in-process", action="store_true", help="run the simulator in here")
    parser.add_argument("--url", help="load a simulator already running at this URL instead")
    parser.add_argument("--pid", type=int, help="with --url: its process id, for the CPU figure")
    args = parser.parse_args()
    if args.quick:
        args.seconds = 10.0
    if args.clients < 1 or args.rate <= 0 or args.seconds <= 0:
        parser.error("--clients, --rate and --seconds must be positive")
    trio.run(run, args)


if __name__ == "__main__":
    main()
