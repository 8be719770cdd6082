"""bulk-trio's client beside the official asyncio SDK: market-data throughput and order latency.

Both clients are measured in one invocation, against the same servers, on 127.0.0.1 only:

1. **Events per second.** A firehose server (its own process) answers a client's subscriptions to
   the ticker, l2Snapshot, l2Delta and trades of one symbol, sends a full book, then ``--frames``
   prebuilt frames as fast as the socket takes them (about 60% one-level l2Delta, 30% ticker, 10%
   trades, built with the simulator's frame builders in ``bulk_trio.sim.frames``), then a sentinel
   ticker of another symbol. Each client decodes every frame, keeps its book and tickers, and hands
   every event to one consumer per topic (ticker, l2Snapshot, l2Delta, trades) that counts it.
   bulk-trio's consumers are written as users write them (``CONSUMERS``):

   * ``async-for`` (the headline): a task per topic, ``async with client.events(topic) as
     events: async for event in events: count(event)``, default buffers;
   * ``async-for+idle``: the same beside a subscriber of every topic that never reads, while an
     order is placed every 5 ms (answered at once by the server, between two sends of the feed)
     and a task sleeps 10 ms at a time: the orders' round trips, the time from the receiver
     reading a reply to the caller holding it, and the sleeper's wake-up delays are reported;
   * ``handlers``: ``open_bulk_client(handlers=...)``; ``on``: ``client.on(topic, handler)``;
   * ``batch``: ``async for`` plus ``receive_nowait()`` of whatever else is buffered;
   * the SDK: callbacks registered with ``on``, called inline by its receive loop.

   Events/s = (events counted - 1) / time from the first counted event to the last. bulk-trio
   never makes the socket wait for a consumer: a market-data channel that is full drops its oldest
   item, so the table also says how many events reached the consumers. The median over rounds is
   reported, and against the SDK the median of the per-round ratios; rounds alternate between the
   contenders, so load drift hits them alike.
2. **Order round trip.** A simulator (``open_simulator`` in its own process, legacy signatures
   allowed because the SDK signs without a domain byte, both accounts funded) takes ``--orders``
   signed limit orders from each client, one after another, priced far below the market so that
   they rest; each is timed from the call to the returned response (signing included for both).

The firehose server drives wsproto on a trio socket and sends bytes framed once at start-up:
trio-websocket's ``send_message`` per frame would cap the feed near the clients' own rates, and
the benchmark would measure the server. Its trades frames carry the list under ``data.data``: the
SDK reads only that envelope (bulk-trio reads both: docs/protocol.md, decision 4), while the
simulator's builder writes ``data`` as the list.

Every contender runs in a worker process of its own (this script with ``--worker``, or the SDK's
Python with a small script), fed commands on stdin. The SDK (``bulk-client`` 0.1.2, package
``bulk_api``) gets its own Python so that bulk-trio never imports it: ``--sdk-python``, else
``/tmp/bulk-sdk-venv/bin/python`` when it has that version, else ``.bench-venv-sdk/`` in the
repository root, created on first use with ``python -m venv`` and ``pip install
bulk-client==0.1.2``. Without it bulk-trio runs alone. ``--baseline DIR`` also measures the
bulk-trio whose package is under ``DIR/src`` (e.g. a ``git worktree`` of an older commit) in the
same rounds. ``--profile`` prints where bulk-trio's time goes: each stage of the receive path
timed alone on the same frames, then cProfile of one firehose grouped by component. Usage::

    .venv/bin/python benchmarks/bench_client.py [--quick] [--rounds 5] [--frames 100000]
        [--orders 300] [--profile] [--baseline DIR] [--sdk-python PATH] [--no-sdk]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
import orjson
import trio
import trio.testing
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Ping, Request, TextMessage
from wsproto.frame_protocol import FrameProtocol
from wsproto.utilities import RemoteProtocolError

from bulk_trio.enums import Side, Topic
from bulk_trio.models import Ticker
from bulk_trio.protocol.signing import TransactionSigner
from bulk_trio.shell.client import BulkClient, open_bulk_client
from bulk_trio.sim import frames, open_simulator
from bulk_trio.sim.events import ActionStatus, LevelChanged, MarketStats, TradeExecuted

REPO = Path(__file__).resolve().parent.parent
SDK_VERSION = "0.1.2"
TMP_SDK_PYTHON = Path("/tmp/bulk-sdk-venv/bin/python")
LOCAL_SDK_VENV = REPO / ".bench-venv-sdk"

SYMBOL = "BTC-USD"
SENTINEL_SYMBOL = "END-USD"
"""The last frame is a ticker of this symbol: not counted, it tells a consumer the feed is over."""
MID = 100_000.0
BOOK_LEVELS = 20
FEED_SEED = 20_240_611
T0_NS = 1_770_906_894_450_242_133
MAKER = "FuueqefENiGEW6uMqZQgmwjzgpnb85EgUcZa5Em4PQh7"
TAKER = "FAe4sisG95oZ42w7buUn5qEE4TAnfTTFPiguZUHmhiF"
CHUNK = 256 * 1024
RUN_TIMEOUT = 120.0

# Two fixed demo seeds (nothing secret): one account per client on the simulator.
BULK_TRIO_SEED = bytes(range(32)).hex()
SDK_SEED = bytes(range(32, 64)).hex()
ORDER_PRICE = 50_000.0  # half the simulator's BTC price: buy orders there rest
ORDER_SIZE = 0.001
ORDER_WARMUP = 10


# ---------------------------------------------------------------------------------------------
# The feed: realistic frames from the simulator's builders


def _stats(mid: float, rng: random.Random) -> MarketStats:
    return MarketStats(
        symbol=SYMBOL,
        last_price=mid + rng.choice((-0.5, 0.0, 0.5)),
        mark_price=mid,
        oracle_price=mid + 0.5,
        open_24h=MID - 1_000.0,
        high_24h=mid + 700.0,
        low_24h=mid - 1_700.0,
        volume_24h=1_234.5 + rng.random(),
        quote_volume_24h=123_456_789.0,
        open_interest=5_432.1,
        funding_rate=0.0001,
    )


def _sdk_trades_envelope(frame: str) -> str:
    # The SDK iterates data.data; both envelopes are valid BULK (docs/protocol.md, decision 4).
    message = orjson.loads(frame)
    message["data"] = {"data": message["data"]}
    return orjson.dumps(message).decode()


def firehose_frames(count: int, seed: int = FEED_SEED) -> list[str]:
    """``count`` market-data frames of one symbol: a random walk with one-level deltas near it."""
    rng = random.Random(seed)
    mid = MID
    timestamp = T0_NS
    out: list[str] = []
    for _ in range(count):
        timestamp += rng.randint(1_000, 50_000)
        kind = rng.random()
        if kind < 0.6:
            is_bid = rng.random() < 0.5
            offset = rng.randint(1, 2 * BOOK_LEVELS) * 0.5
            price = mid - offset if is_bid else mid + offset
            deleted = rng.random() < 0.2
            size = 0.0 if deleted else round(rng.uniform(0.001, 5.0), 4)
            change = LevelChanged(SYMBOL, is_bid, price, size, 0 if deleted else rng.randint(1, 9))
            out.append(frames.level_delta(change, timestamp=timestamp))
        elif kind < 0.9:
            mid += rng.choice((-0.5, 0.0, 0.5))
            stats = _stats(mid, rng)
            out.append(
                frames.ticker(
                    SYMBOL, stats, timestamp=timestamp, fair_book_price=mid, volatility=0.5
                )
            )
        else:
            trade = TradeExecuted(
                SYMBOL,
                mid + rng.choice((-0.5, 0.5)),
                round(rng.uniform(0.001, 2.0), 4),
                rng.random() < 0.5,
                MAKER,
                TAKER,
                timestamp // 1_000_000,
            )
            out.append(_sdk_trades_envelope(frames.trades(SYMBOL, [trade])))
    return out


def opening_frames() -> list[str]:
    """The full book both ways: an l2Snapshot, then the snapshot an l2Delta stream starts with."""
    bids = [(MID - 0.5 * i, 1.0 + 0.1 * i, 3) for i in range(1, BOOK_LEVELS + 1)]
    asks = [(MID + 0.5 * i, 1.0 + 0.1 * i, 3) for i in range(1, BOOK_LEVELS + 1)]
    return [
        frames.book("l2Snapshot", SYMBOL, bids, asks, timestamp=T0_NS),
        frames.book("l2Delta", SYMBOL, bids, asks, timestamp=T0_NS, update_type="snapshot"),
    ]


def sentinel_frame() -> str:
    stats = attrs.evolve(_stats(MID, random.Random(0)), symbol=SENTINEL_SYMBOL)
    return frames.ticker(SENTINEL_SYMBOL, stats, timestamp=T0_NS)


def wire_bytes(texts: list[str]) -> bytes:
    """Text frames as a server sends them (unmasked), framed once so the feed costs no CPU."""
    framer = FrameProtocol(client=False, extensions=[])
    return b"".join(bytes(framer.send_data(text, True)) for text in texts)


def wire_chunks(texts: list[str]) -> list[bytes]:
    """The same, cut into sends of about ``CHUNK`` bytes on frame boundaries, so that a reply
    to an order can be sent between two of them."""
    framer = FrameProtocol(client=False, extensions=[])
    chunks: list[bytes] = []
    pending: list[bytes] = []
    size = 0
    for text in texts:
        frame = bytes(framer.send_data(text, True))
        pending.append(frame)
        size += len(frame)
        if size >= CHUNK:
            chunks.append(b"".join(pending))
            pending, size = [], 0
    if pending:
        chunks.append(b"".join(pending))
    return chunks


# ---------------------------------------------------------------------------------------------
# The servers, each run in a process of its own (``--serve-firehose``, ``--serve-sim``)

SUBSCRIPTIONS_NEEDED = frozenset({"ticker", "l2Snapshot", "l2Delta", "trades"})


class FirehoseConnection:
    """One client: handshake, answer subscriptions, and once all four are in, the firehose."""

    def __init__(self, stream: trio.SocketStream, feed: list[bytes], opening: bytes) -> None:
        self.stream = stream
        self.ws = WSConnection(ConnectionType.SERVER)
        self.feed = feed
        self.opening = opening
        self.send_lock = trio.Lock()
        self.subscribed: set[str] = set()
        self.started = False
        self.fragments: list[str] = []

    async def send(self, data: bytes | memoryview) -> None:
        async with self.send_lock:
            await self.stream.send_all(data)

    async def stream_feed(self) -> None:
        await self.send(self.opening)
        for chunk in self.feed:
            await self.send(chunk)

    async def serve(self) -> None:
        async with trio.open_nursery() as nursery:
            while True:
                data = await self.stream.receive_some(65536)
                if not data:
                    break
                self.ws.receive_data(data)
                if not await self.handle_events(nursery):
                    break
            nursery.cancel_scope.cancel()

    async def handle_events(self, nursery: trio.Nursery) -> bool:
        for event in self.ws.events():
            if isinstance(event, Request):
                await self.send(self.ws.send(AcceptConnection()))
            elif isinstance(event, TextMessage):
                self.fragments.append(event.data)
                if event.message_finished:
                    await self.on_message("".join(self.fragments), nursery)
                    self.fragments.clear()
            elif isinstance(event, Ping):
                await self.send(self.ws.send(event.response()))
            elif isinstance(event, CloseConnection):
                await self.send(self.ws.send(event.response()))
                return False
        return True

    async def on_message(self, text: str, nursery: trio.Nursery) -> None:
        message = json.loads(text)
        if message.get("method") == "post":
            # Accepted at once, interleaved with the feed: what is timed is the client's side.
            reply = frames.post_ok(message["id"], [ActionStatus("resting", {})])
            await self.send(self.ws.send(TextMessage(data=reply)))
            return
        if message.get("method") != "subscribe":
            return
        topics = []
        accounts = []
        for subscription in message["subscription"]:
            kind = subscription["type"]
            if kind == "account":
                accounts.append(subscription["user"])
                topics.append(frames.account_topic(subscription["user"]))
                continue
            self.subscribed.add(kind)
            topics.append(f"{kind}.{subscription.get('symbol', '')}")
        await self.send(self.ws.send(TextMessage(data=frames.subscription_response(topics))))
        for user in accounts:
            await self.send(self.ws.send(TextMessage(data=empty_account_snapshot(user))))
        if not self.started and self.subscribed >= SUBSCRIPTIONS_NEEDED:
            self.started = True
            nursery.start_soon(self.stream_feed)


def empty_account_snapshot(user: str) -> str:
    """What a client with a signer waits for on entry: an account with nothing in it."""
    fields = "totalBalance availableBalance marginUsed notional realizedPnl unrealizedPnl fees"
    margin = dict.fromkeys([*fields.split(), "funding"], 0.0)
    data = {"type": "accountSnapshot", "margin": margin, "positions": [], "openOrders": []}
    topic = frames.account_topic(user)
    return json.dumps({"type": "account", "topic": topic, "data": {**data, "leverageSettings": []}})


async def serve_firehose(count: int) -> None:
    feed = wire_chunks([*firehose_frames(count), sentinel_frame()])
    opening = wire_bytes(opening_frames())
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    print(listeners[0].socket.getsockname()[1], flush=True)

    async def handle(stream: trio.SocketStream) -> None:
        try:
            await FirehoseConnection(stream, feed, opening).serve()
        except* (trio.BrokenResourceError, trio.ClosedResourceError, RemoteProtocolError):
            pass  # the client went away (alone or inside the connection's nursery): next one
        finally:
            await trio.aclose_forcefully(stream)

    await trio.serve_listeners(handle, listeners)


async def serve_simulator() -> None:
    funded = {
        TransactionSigner(bytes.fromhex(seed)).public_key: 10_000_000.0
        for seed in (BULK_TRIO_SEED, SDK_SEED)
    }
    async with open_simulator(
        symbols=[SYMBOL], seed=1, allow_legacy_signatures=True, fund=funded
    ) as sim:
        print(sim.url, flush=True)
        await trio.sleep_forever()


@contextmanager
def server_process(*args: str) -> Iterator[str]:
    """Run this script in a server mode; yield the first line it prints (its port or URL)."""
    process = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if not line:
            raise RuntimeError(f"server {' '.join(args)} did not start")
        yield line
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# ---------------------------------------------------------------------------------------------
# bulk-trio's side (run by ``--worker``; ``--profile`` runs it in the main process)


@attrs.frozen
class FirehoseResult:
    events: int
    rate: float
    dropped: int = 0
    """Events the measured consumers lost (oldest dropped)."""
    idle_dropped: int = 0
    """Events the never-reading subscriber lost, counted (it holds only its last 1024)."""
    late_ms: list[float] = attrs.field(factory=list)
    """How late a task sleeping 10 ms at a time woke up, each time, during the burst."""
    orders_ms: list[float] = attrs.field(factory=list)
    """Round trips of orders placed one after another during the burst."""
    reply_ms: list[float] = attrs.field(factory=list)
    """For the same orders: from the receiver reading the reply frame to the caller having it."""
    longest_step_ms: dict[str, float] = attrs.field(factory=dict)
    """Per task (by function name), the CPU time of its longest step: how long it held the loop."""


class EventCounter:
    """Counts events and notes when the first and the last one arrived."""

    def __init__(self) -> None:
        self.count = 0
        self.first_at = 0.0
        self.last_at = 0.0

    def hit(self, _item: object) -> None:
        now = time.perf_counter()
        if not self.count:
            self.first_at = now
        self.count += 1
        self.last_at = now

    def rate(self) -> float:
        seconds = self.last_at - self.first_at
        return (self.count - 1) / seconds if seconds > 0 else 0.0


# The consumers measured, each as a user would write it. "async-for" is the headline.
CONSUMERS = ("async-for", "async-for+idle", "handlers", "on", "batch")
IDLE = "never-read"


async def count_events(
    client: BulkClient,
    topic: Topic,
    handle: Callable[[Any], None],
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """The plain consumer: ``async for`` over a channel with default buffers."""
    async with client.events(topic) as events:
        task_status.started()
        async for event in events:
            handle(event)


async def drain_batches(
    client: BulkClient,
    topic: Topic,
    handle: Callable[[Any], None],
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """The batch reader: after each awaited item, take everything already buffered."""
    async with client.events(topic) as channel:
        task_status.started()
        async for item in channel:
            handle(item)
            while True:
                try:
                    item = channel.receive_nowait()
                except (trio.WouldBlock, trio.EndOfChannel):
                    break
                handle(item)


async def never_read(
    client: BulkClient, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """A subscriber of every measured topic that never reads: it must cost the others nothing."""
    async with (
        client.events(Topic.TICKER, name=IDLE),
        client.events(Topic.L2SNAPSHOT, name=IDLE),
        client.events(Topic.L2DELTA, name=IDLE),
        client.events(Topic.TRADES, name=IDLE),
    ):
        task_status.started()
        await trio.sleep_forever()


async def measure_lateness(lateness: list[float], done: trio.Event) -> None:
    """Sleep 10 ms at a time until ``done``; note how late each wake-up was."""
    while not done.is_set():
        deadline = trio.current_time() + 0.010
        await trio.sleep_until(deadline)
        lateness.append(trio.current_time() - deadline)


async def place_orders_during(
    client: BulkClient, done: trio.Event, round_trips: list[float], replies: list[float]
) -> None:
    """One order after another until ``done``; each timed, and its reply-to-caller delay too."""
    resolved_at: dict[int, float] = {}
    requests = client._requests  # instrumentation only: when the receiver handed the reply over
    original_resolve = requests.resolve

    def timed_resolve(request_id: int, reply: Any) -> bool:
        resolved_at[request_id] = time.perf_counter()
        return original_resolve(request_id, reply)

    requests.resolve = timed_resolve  # type: ignore[method-assign,assignment]
    price = ORDER_PRICE
    while not done.is_set():
        start = time.perf_counter()
        await client.place_limit_order(SYMBOL, Side.BUY, price, ORDER_SIZE)
        end = time.perf_counter()
        round_trips.append(end - start)
        replies.append(end - resolved_at[max(resolved_at)])
        price += 0.5
        await trio.sleep(0.005)


class StepTimer(trio.abc.Instrument):
    """The longest single step of each task, in CPU time of this thread: how long a task held
    the event loop, without the time the operating system gave to other processes."""

    def __init__(self) -> None:
        self.started = 0.0
        self.longest: dict[str, float] = {}

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self.started = time.thread_time()

    def after_task_step(self, task: trio.lowlevel.Task) -> None:
        spent = time.thread_time() - self.started
        name = task.name.rsplit(".", 1)[-1]
        if spent > self.longest.get(name, 0.0):
            self.longest[name] = spent


async def bulk_trio_firehose(url: str, consumer: str) -> FirehoseResult:
    counter = EventCounter()
    finished = trio.Event()

    def on_ticker(ticker: Ticker) -> None:
        if ticker.symbol == SENTINEL_SYMBOL:
            finished.set()
        else:
            counter.hit(ticker)

    consumers: dict[Topic, Callable[[Any], None]] = {
        Topic.TICKER: on_ticker,
        Topic.L2SNAPSHOT: counter.hit,
        Topic.L2DELTA: counter.hit,
        Topic.TRADES: counter.hit,
    }
    handlers = consumers if consumer == "handlers" else None
    # The isolation variant also places orders and runs a sleeper during the burst; the headline
    # variant measures the consumers alone.
    isolation = consumer == "async-for+idle"
    signer = None
    if isolation:
        signer = TransactionSigner(bytes.fromhex(BULK_TRIO_SEED), domain="testnet")
    lateness: list[float] = []
    steps = StepTimer()
    if isolation:
        trio.lowlevel.add_instrument(steps)
    round_trips: list[float] = []
    replies: list[float] = []
    async with (
        open_bulk_client(url, symbols=[SYMBOL], handlers=handlers, signer=signer) as client,
        trio.open_nursery() as nursery,
    ):
        if consumer == "on":
            for topic, handle in consumers.items():
                client.on(topic, handle)
        elif consumer != "handlers":
            reader = drain_batches if consumer == "batch" else count_events
            for topic, handle in consumers.items():
                await nursery.start(reader, client, topic, handle)
        if isolation:
            await nursery.start(never_read, client)
        await client.subscribe_orderbook_snapshot(SYMBOL)
        await client.subscribe_orderbook_delta(SYMBOL)
        await client.subscribe_trades(SYMBOL)
        if isolation:
            nursery.start_soon(measure_lateness, lateness, finished)
            nursery.start_soon(place_orders_during, client, finished, round_trips, replies)
        with trio.fail_after(RUN_TIMEOUT):
            await finished.wait()
            # The other consumers may still hold events in their channels: let them drain.
            await trio.testing.wait_all_tasks_blocked()
        book = client.get_book(SYMBOL)
        if book is None or not book.is_valid:
            raise RuntimeError("bulk-trio's book was not kept: the feed is not what it should be")
        stats = client.channel_stats()
        dropped = sum(s.dropped for s in stats if s.name != IDLE)
        idle_dropped = sum(s.dropped for s in stats if s.name == IDLE)
        nursery.cancel_scope.cancel()
    return FirehoseResult(
        counter.count,
        counter.rate(),
        dropped,
        idle_dropped,
        [x * 1e3 for x in lateness],
        [x * 1e3 for x in round_trips],
        [x * 1e3 for x in replies],
        {name: seconds * 1e3 for name, seconds in steps.longest.items()},
    )


async def bulk_trio_orders(url: str, count: int, first_price: float) -> list[float]:
    signer = TransactionSigner(bytes.fromhex(BULK_TRIO_SEED), domain="testnet")
    latencies: list[float] = []
    async with open_bulk_client(url, symbols=[SYMBOL], signer=signer) as client:
        for index in range(ORDER_WARMUP + count):
            price = first_price + 0.5 * index
            start = time.perf_counter()
            response = await client.place_limit_order(SYMBOL, Side.BUY, price, ORDER_SIZE)
            elapsed = time.perf_counter() - start
            if response.status.name != "RESTING":
                raise RuntimeError(f"bulk-trio order did not rest: {response}")
            if index >= ORDER_WARMUP:
                latencies.append(elapsed)
    return latencies


def bulk_trio_worker() -> None:
    """Answer one JSON line per command read from stdin (the same protocol as the SDK worker)."""
    for line in sys.stdin:
        command, *args = line.split()
        try:
            if command == "firehose":
                result: dict[str, Any] = attrs.asdict(trio.run(bulk_trio_firehose, *args))
            elif command == "orders":
                count, price = int(args[1]), float(args[2])
                result = {"latencies": trio.run(bulk_trio_orders, args[0], count, price)}
            else:
                break
        except Exception as exc:
            result = {"error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(result), flush=True)


# ---------------------------------------------------------------------------------------------
# The SDK's side: a worker script run by the SDK's Python

SDK_WORKER = r"""
import asyncio, json, sys, time
import base58
from bulk_api import BulkWebSocketClient, Topic
from bulk_api.common import Side
from bulk_api.common.signer import TransactionSigner

SYMBOL, SENTINEL = sys.argv[1], sys.argv[2]
TIMEOUT, WARMUP_ORDERS, SIZE = float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])


class Counter:
    def __init__(self):
        self.count, self.first_at, self.last_at = 0, 0.0, 0.0

    def hit(self, _item):
        now = time.perf_counter()
        if not self.count:
            self.first_at = now
        self.count += 1
        self.last_at = now


async def firehose(url):
    counter = Counter()
    finished = asyncio.Event()

    def on_ticker(ticker):
        if ticker.symbol == SENTINEL:
            finished.set()
        else:
            counter.hit(ticker)

    client = BulkWebSocketClient(url, symbols=[SYMBOL])
    client.on(Topic.TICKER, on_ticker)
    client.on(Topic.L2SNAPSHOT, counter.hit)
    client.on(Topic.L2DELTA, counter.hit)
    client.on(Topic.TRADES, counter.hit)
    if not await client.connect():
        raise RuntimeError("the SDK could not connect")
    # What the SDK expects: an l2Snapshot subscription creates the book that deltas update.
    await client.subscribe_orderbook_snapshot(SYMBOL)
    await client.subscribe_orderbook_delta(SYMBOL)
    await client.subscribe_trades([SYMBOL])
    await asyncio.wait_for(finished.wait(), TIMEOUT)
    book = client.get_book(SYMBOL)
    if book is None or book.get_best_bid() is None:
        raise RuntimeError("the SDK's book was not kept")
    await client.disconnect()
    seconds = counter.last_at - counter.first_at
    rate = (counter.count - 1) / seconds if seconds > 0 else 0.0
    return {"events": counter.count, "rate": rate, "dropped": 0}


async def orders(url, seed_hex, count, first_price):
    signer = TransactionSigner(base58.b58encode(bytes.fromhex(seed_hex)).decode())
    client = BulkWebSocketClient(url, symbols=[SYMBOL], signer=signer)
    if not await client.connect():
        raise RuntimeError("the SDK could not connect")
    await asyncio.sleep(0.5)  # the SDK does not wait for its subscriptions: let them settle
    latencies = []
    for index in range(WARMUP_ORDERS + count):
        price = first_price + 0.5 * index
        start = time.perf_counter()
        response = await client.place_limit_order(SYMBOL, Side.BUY, price, SIZE)
        elapsed = time.perf_counter() - start
        if response.status.name != "RESTING":
            raise RuntimeError(f"SDK order did not rest: {response}")
        if index >= WARMUP_ORDERS:
            latencies.append(elapsed)
    await client.disconnect()
    return {"latencies": latencies}


for line in sys.stdin:
    command, *args = line.split()
    try:
        if command == "firehose":
            result = asyncio.run(firehose(args[0]))
        elif command == "orders":
            result = asyncio.run(orders(args[0], args[1], int(args[2]), float(args[3])))
        else:
            break
    except Exception as exc:
        result = {"error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(result), flush=True)
"""


class Worker:
    """A contender's process: send it a command, read back one JSON line."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.name = name
        self.process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )

    def run(self, *command: object) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(" ".join(str(part) for part in command) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.name} worker died (its stderr is above)")
        result: dict[str, Any] = json.loads(line)
        if "error" in result:
            raise RuntimeError(f"{self.name} {command[0]} failed: {result['error']}")
        return result

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def bulk_trio_worker_process(name: str, source: Path | None) -> Worker:
    env = None
    if source is not None:
        env = {**os.environ, "PYTHONPATH": str(source / "src")}
    return Worker(name, [sys.executable, __file__, "--worker"], env)


def sdk_worker_process(python: str) -> Worker:
    settings = [SYMBOL, SENTINEL_SYMBOL, RUN_TIMEOUT, ORDER_WARMUP, ORDER_SIZE]
    return Worker("SDK", [python, "-c", SDK_WORKER, *map(str, settings)])


def _sdk_version(python: Path) -> tuple[str | None, str]:
    """(bulk-client's version, or None if ``python`` cannot import it; what went wrong)."""
    if not python.exists():
        return None, f"{python} does not exist"
    probe = "import importlib.metadata as m, bulk_api; print(m.version('bulk-client'))"
    completed = subprocess.run(
        [str(python), "-c", probe], capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        return None, (completed.stderr.strip().splitlines() or ["no output"])[-1]
    return completed.stdout.strip(), ""


def find_sdk_python(explicit: str | None) -> str | None:
    """A Python with bulk-client 0.1.2, creating ``.bench-venv-sdk/`` if need be; None if none."""
    if explicit is not None:
        version, why = _sdk_version(Path(explicit))
        if version != SDK_VERSION:
            print(f"--sdk-python {explicit}: no bulk-client {SDK_VERSION} ({why or version})")
            return None
        return explicit
    local = LOCAL_SDK_VENV / "bin" / "python"
    for candidate in (TMP_SDK_PYTHON, local):
        if _sdk_version(candidate)[0] == SDK_VERSION:
            return str(candidate)
    print(f"creating {LOCAL_SDK_VENV} with bulk-client=={SDK_VERSION} (once) ...", flush=True)
    # 0.1.2 imports requests without declaring it.
    packages = [f"bulk-client=={SDK_VERSION}", "requests"]
    steps = [
        [sys.executable, "-m", "venv", str(LOCAL_SDK_VENV)],
        [str(local), "-m", "pip", "install", "--quiet", *packages],
    ]
    for step in steps:
        completed = subprocess.run(step, capture_output=True, text=True, check=False)
        if completed.returncode != 0:
            why = (completed.stderr or completed.stdout).strip().splitlines()[-5:]
            print(f"cannot set up the official SDK ({' '.join(step[:4])}):", *why, sep="\n  ")
            return None
    version, why = _sdk_version(local)
    if version != SDK_VERSION:
        print(f"the official SDK in {LOCAL_SDK_VENV} does not import: {why or version}")
        return None
    return str(local)


# ---------------------------------------------------------------------------------------------
# Profile: where bulk-trio's time goes


def _per_frame(action: Callable[[], object], frame_count: int, repeats: int = 7) -> float:
    """Microseconds per frame of ``action`` over ``frame_count`` frames, best of ``repeats``."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return best / frame_count * 1e6


def stage_costs(frame_count: int) -> list[tuple[str, float]]:
    """Each stage of bulk-trio's receive path timed alone on the firehose's frames (us/frame)."""
    from wsproto.connection import Connection

    from bulk_trio.protocol.codec import decode
    from bulk_trio.protocol.websocket_frames import FrameReader
    from bulk_trio.shell.fanout import Fanout
    from bulk_trio.shell.transport import RECEIVE_SIZE
    from bulk_trio.state import ClientState

    texts = firehose_frames(frame_count)
    wire = wire_bytes(texts)
    reads = [wire[start : start + RECEIVE_SIZE] for start in range(0, len(wire), RECEIVE_SIZE)]
    messages = [decode(text) for text in texts]
    opening = [decode(text) for text in opening_frames()]
    topics = (Topic.TICKER, Topic.L2DELTA, Topic.TRADES)

    def wsproto_parse() -> None:
        connection = Connection(ConnectionType.CLIENT)
        for data in reads:
            connection.receive_data(data)
            for _event in connection.events():
                pass

    def frame_reader() -> None:
        reader, out = FrameReader(1 << 30), list[str]()
        for data in reads:
            reader.feed(data, out)

    def decode_all() -> None:
        for text in texts:
            decode(text)

    def parse_json() -> None:
        for text in texts:
            orjson.loads(text)

    def apply_all(subscribers: bool) -> Callable[[], None]:
        def run() -> None:
            fanout = Fanout(market_data_buffer=2 * frame_count)
            if subscribers:
                for topic in topics:
                    fanout.subscribe(topic)
            state = ClientState(fanout.publish)
            state.book(SYMBOL)
            for message in opening:
                state.apply(message)
            for message in messages:
                state.apply(message)

        return run

    def consume_all() -> float:
        fanout = Fanout(market_data_buffer=2 * frame_count)
        channel = fanout.subscribe(Topic.L2DELTA).receive_channel
        for message in messages:
            fanout.publish(Topic.L2DELTA, message)
        counter = EventCounter()
        start = time.perf_counter()
        while True:
            try:
                counter.hit(channel.receive_nowait())
            except trio.WouldBlock:
                return time.perf_counter() - start

    return [
        (
            "wsproto parsing (what the transport used before)",
            _per_frame(wsproto_parse, frame_count),
        ),
        ("transport: frame reader", _per_frame(frame_reader, frame_count)),
        ("decode: codec.decode", _per_frame(decode_all, frame_count)),
        ("  of which orjson.loads", _per_frame(parse_json, frame_count)),
        ("state.apply: book, ticker, inventory mark", _per_frame(apply_all(False), frame_count)),
        (
            "state.apply, publishing to 3 subscribers",
            _per_frame(apply_all(True), frame_count),
        ),
        (
            "consumer: receive_nowait + count",
            min(consume_all() for _ in range(7)) / frame_count * 1e6,
        ),
    ]


# cProfile reports functions, not stacks: each function's own time goes to the first group whose
# file (or, for trio's channels, function) matches.
PROFILE_GROUPS: list[tuple[str, Callable[[str, str], bool]]] = [
    ("consumer (channel receive + count)", lambda f, n: "receive" in n and "_channel" in f),
    ("consumer (channel receive + count)", lambda f, n: "bench_client" in f),
    ("fanout publish", lambda f, n: "fanout.py" in f or "_channel" in f),
    ("transport (frame reader, socket read)", lambda f, n: "transport.py" in f),
    ("decode (orjson, codec, models)", lambda f, n: "codec.py" in f or "orjson" in n),
    ("decode (orjson, codec, models)", lambda f, n: "attrs generated" in f + n),
    ("book", lambda f, n: "book.py" in f or "fixedpoint.py" in f),
    ("state apply", lambda f, n: "state.py" in f or "inventory.py" in f),
    ("receive loop (connection.py)", lambda f, n: "connection.py" in f),
    ("wsproto", lambda f, n: "wsproto" in f),
    ("trio scheduler + socket I/O", lambda f, n: "trio" in f or "socket" in n or "poll" in n),
]


def profile_bulk_trio(url: str, frame_count: int) -> None:
    # This machine's speed drifts by tens of percent from one minute to the next: time the whole
    # path right before its stages, so that the two are comparable.
    whole_path = trio.run(bulk_trio_firehose, url, "channels")
    print(f"\nwhere bulk-trio's time goes, per frame of the firehose ({frame_count:,} frames)")
    print(f"0. the whole path (channels consumer), just now: {1e6 / whole_path.rate:.2f} us")
    print("1. each stage alone, best of 7 (no I/O, no scheduler):")
    for name, micros in stage_costs(min(frame_count, 30_000)):
        print(f"   {name:52} {micros:6.2f} us")

    profiler = cProfile.Profile()
    profiler.enable()
    trio.run(bulk_trio_firehose, url, "channels")
    profiler.disable()
    raw: dict[tuple[str, int, str], tuple[Any, ...]] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]

    def group_of(filename: str, name: str) -> str:
        return next((g for g, matches in PROFILE_GROUPS if matches(filename, name)), "other")

    totals: dict[str, float] = {}
    for (filename, _line, name), (
        _calls,
        _primitive,
        own_time,
        _cumulative,
        callers,
    ) in raw.items():
        if filename == "~" and callers:
            # A built-in (dict.get, len, orjson.loads, ...): charge it to whoever called it.
            for (caller_file, _caller_line, caller_name), edge in callers.items():
                group = group_of(caller_file, caller_name + " " + name)
                totals[group] = totals.get(group, 0.0) + edge[2]
        else:
            group = group_of(filename, name)
            totals[group] = totals.get(group, 0.0) + own_time
    whole = sum(totals.values())
    print("2. one firehose (channels consumer) under cProfile, own time by component")
    print("   (cProfile charges every call, so it inflates code made of many small calls):")
    for group, seconds in sorted(totals.items(), key=lambda item: -item[1]):
        print(f"   {group:52} {seconds / whole:6.1%} {seconds / frame_count * 1e6:6.2f} us")


# ---------------------------------------------------------------------------------------------
# Main


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


@attrs.define
class Contender:
    name: str
    worker: Worker
    consumer: str = "-"
    rates: list[float] = attrs.field(factory=list)
    delivered: list[float] = attrs.field(factory=list)
    idle_dropped: list[int] = attrs.field(factory=list)
    late_ms: list[float] = attrs.field(factory=list)
    late_all_ms: list[float] = attrs.field(factory=list)
    longest_steps: list[dict[str, float]] = attrs.field(factory=list)
    burst_orders_ms: list[float] = attrs.field(factory=list)
    burst_replies_ms: list[float] = attrs.field(factory=list)
    latencies: list[float] = attrs.field(factory=list)
    places_orders: bool = False

    @property
    def label(self) -> str:
        return self.name if self.consumer == "-" else f"{self.name}, {self.consumer}"


def expected_events(frame_count: int) -> int:
    """Every feed frame is one event; the opening l2Snapshot and l2Delta snapshot are two more."""
    return frame_count + 2


def measure(args: argparse.Namespace, contenders: list[Contender], frame_count: int) -> None:
    order_count = args.orders or (90 if args.quick else 300)
    rounds = args.rounds or (3 if args.quick else 5)
    with server_process("--serve-firehose", str(frame_count)) as port:
        url = f"ws://127.0.0.1:{port}"
        for number in range(1, rounds + 1):
            line = []
            for contender in contenders:
                result = contender.worker.run("firehose", url, contender.consumer)
                contender.rates.append(result["rate"])
                contender.delivered.append(result["events"] / expected_events(frame_count))
                contender.idle_dropped.append(result.get("idle_dropped", 0))
                if result.get("late_ms"):
                    contender.late_ms.append(max(result["late_ms"]))
                    contender.late_all_ms += result["late_ms"]
                if result.get("longest_step_ms"):
                    contender.longest_steps.append(result["longest_step_ms"])
                contender.burst_orders_ms += result.get("orders_ms", [])
                contender.burst_replies_ms += result.get("reply_ms", [])
                line.append(f"{contender.label} {result['rate']:,.0f}")
            print(f"round {number} (events/s): " + "; ".join(line), flush=True)
        if args.profile:
            profile_bulk_trio(url, frame_count)

    with server_process("--serve-sim") as sim_url:
        per_round = max(1, order_count // rounds)
        for number in range(rounds):
            # Each account gets its own prices, so no order ever meets another.
            for offset, contender in enumerate(c for c in contenders if c.places_orders):
                price = ORDER_PRICE - 5_000.0 * offset + number * per_round
                if contender.name == "official SDK":
                    reply = contender.worker.run("orders", sim_url, SDK_SEED, per_round, price)
                else:
                    reply = contender.worker.run("orders", sim_url, per_round, price)
                contender.latencies += reply["latencies"]


def _ms(values: list[float], fraction: float) -> str:
    return f"{percentile(values, fraction):.2f}" if values else "-"


def report(contenders: list[Contender], frame_count: int) -> None:
    sdk = next((c for c in contenders if c.name == "official SDK"), None)
    expected = expected_events(frame_count)
    print(f"\nmarket data: {expected:,} events per round, delivered per second (median of rounds)")
    print(f"{'':34} {'events/s':>10} {'delivered':>10} {'vs SDK':>7} {'idle drops':>11}")
    for contender in contenders:
        rate = statistics.median(contender.rates)
        delivered = statistics.median(contender.delivered)
        # Each round measures every contender back to back: the median of the per-round ratios
        # is steadier on a loaded machine than the ratio of the medians.
        ratio = "-"
        if sdk is not None:
            pairs = zip(contender.rates, sdk.rates, strict=True)
            ratios = [mine / theirs for mine, theirs in pairs]
            ratio = f"{statistics.median(ratios):.2f}"
        idle = statistics.median(contender.idle_dropped) if contender.idle_dropped else 0
        idle_text = f"{idle:,.0f}" if contender.consumer == "async-for+idle" else "-"
        print(f"{contender.label:34} {rate:10,.0f} {delivered:10.2%} {ratio:>7} {idle_text:>11}")

    print("\nduring the burst, beside a never-reading reader (ms): orders every 5 ms, a sleeper")
    print(
        f"{'':26} {'rt p50':>7} {'rt p99':>7} {'reply p50':>9} {'reply p99':>9}"
        f" {'late p50':>8} {'late p99':>8} {'late max':>8}"
    )
    for contender in contenders:
        if not contender.late_ms:
            continue
        orders, replies = contender.burst_orders_ms, contender.burst_replies_ms
        late = statistics.median(contender.late_ms)
        lates = contender.late_all_ms
        print(
            f"{contender.label:26} {_ms(orders, 0.5):>7} {_ms(orders, 0.99):>7} "
            f"{_ms(replies, 0.5):>9} {_ms(replies, 0.99):>9} "
            f"{_ms(lates, 0.5):>8} {_ms(lates, 0.99):>8} {late:8.2f}"
        )
    print(
        "(rt: place -> response; reply: receiver reads the reply frame -> caller has it;"
        " late: wake-up delay of the sleeper, p50/p99 of all, max = median of each round's worst)"
    )

    for contender in contenders:
        if not contender.longest_steps:
            continue
        groups = {"receiver": "_receive", "consumers": "count_events", "handlers": "_run_handler"}
        parts = []
        for label, function in groups.items():
            worst = [steps[function] for steps in contender.longest_steps if function in steps]
            if worst:
                parts.append(f"{label} {statistics.median(worst):.2f}")
        print(f"longest step of a task, CPU ms (median of rounds): {', '.join(parts)}")

    print("\norder round trip on an idle simulator, place -> response (ms)")
    print(f"{'':34} {'p50':>7} {'p99':>7} {'p50 vs SDK':>11} {'p99 vs SDK':>11}")
    sdk_p50 = percentile(sdk.latencies, 0.5) if sdk else None
    sdk_p99 = percentile(sdk.latencies, 0.99) if sdk else None
    for contender in contenders:
        if not contender.latencies:
            continue
        p50, p99 = percentile(contender.latencies, 0.5), percentile(contender.latencies, 0.99)
        vs50 = f"{p50 / sdk_p50:.2f}" if sdk_p50 else "-"
        vs99 = f"{p99 / sdk_p99:.2f}" if sdk_p99 else "-"
        print(f"{contender.name:34} {p50 * 1e3:7.2f} {p99 * 1e3:7.2f} {vs50:>11} {vs99:>11}")
    print(
        "(events/s: higher is better; round trip: lower is better; 'vs SDK' = bulk-trio / SDK,"
        " for events/s the median of the per-round ratios)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds, 30k frames, 90 orders")
    parser.add_argument("--rounds", type=int, default=None, help="default 5")
    parser.add_argument("--frames", type=int, default=None, help="default 100000")
    parser.add_argument("--orders", type=int, default=None, help="per client, default 300")
    parser.add_argument("--profile", action="store_true", help="where bulk-trio's time goes")
    parser.add_argument("--baseline", type=Path, help="also measure the bulk-trio in DIR/src")
    parser.add_argument("--sdk-python", help="a Python with bulk-client 0.1.2")
    parser.add_argument("--no-sdk", action="store_true", help="measure bulk-trio alone")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-firehose", type=int, metavar="FRAMES", help=argparse.SUPPRESS)
    parser.add_argument("--serve-sim", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        bulk_trio_worker()
        return
    if args.serve_firehose is not None:
        trio.run(serve_firehose, args.serve_firehose)
        return
    if args.serve_sim:
        trio.run(serve_simulator)
        return

    frame_count = args.frames or (30_000 if args.quick else 100_000)
    sample = firehose_frames(2_000)
    mean_size = statistics.fmean(len(frame.encode()) for frame in sample)
    print(
        f"firehose: {SYMBOL}, 60% l2Delta / 30% ticker / 10% trades, {mean_size:.0f} bytes a frame"
    )
    sdk_python = None if args.no_sdk else find_sdk_python(args.sdk_python)
    print(f"official SDK: {sdk_python or 'not available, bulk-trio runs alone'}")

    contenders: list[Contender] = []
    sources: list[tuple[str, Path | None]] = [("bulk-trio", None)]
    if args.baseline is not None:
        sources.append((f"bulk-trio at {args.baseline}", args.baseline))
    for name, source in sources:
        worker = bulk_trio_worker_process(name, source)
        for consumer in CONSUMERS:
            contenders.append(Contender(name, worker, consumer, places_orders=consumer == "batch"))
    if sdk_python:
        sdk_worker = sdk_worker_process(sdk_python)
        contenders.append(Contender("official SDK", sdk_worker, places_orders=True))
    try:
        measure(args, contenders, frame_count)
    finally:
        for worker in {id(c.worker): c.worker for c in contenders}.values():
            worker.close()
    report(contenders, frame_count)
    command = " ".join([sys.executable, "benchmarks/bench_client.py", *sys.argv[1:]])
    print(f"\nreproduce, in {REPO}: {command}")


if __name__ == "__main__":
    main()
