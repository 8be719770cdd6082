"""What a user's plain consumers get from a burst, and the latest-value streams.

The burst tests feed the client through the in-memory exchange: the frames are written in one go,
so the client reads them as a real busy socket delivers them (64 KiB, a few hundred frames, per
read). No assertion here is about time; the rates are in benchmarks/bench_client.py.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import attrs
import pytest
import trio
import trio.testing
from wsproto.events import TextMessage

from bulk_trio import BookLevel, BookView, Candle, ConnectionState, Side, Ticker, Topic
from bulk_trio.protocol.signing import TransactionSigner
from bulk_trio.shell.client import BulkClient, open_bulk_client
from bulk_trio.shell.fanout import YIELD_INTERVAL, Fanout
from bulk_trio.sim import frames
from bulk_trio.sim.events import LevelChanged, MarketStats, TradeExecuted
from fake_exchange import FakeExchange, FakePeer

SYMBOL = "BTC-USD"
SENTINEL = "END-USD"
BURST = 20_000  # frames: enough to overflow 1024-item buffers many times over if a reader lags
TIMEOUT = 30
MAKER = "FuueqefENiGEW6uMqZQgmwjzgpnb85EgUcZa5Em4PQh7"
TAKER = "FAe4sisG95oZ42w7buUn5qEE4TAnfTTFPiguZUHmhiF"
MEASURED = (Topic.TICKER, Topic.L2SNAPSHOT, Topic.L2DELTA, Topic.TRADES)


def _stats(symbol: str, mid: float) -> MarketStats:
    return MarketStats(symbol, mid, mid, mid, mid, mid + 10, mid - 10, 1.0, 1.0, 1.0, 0.0)


def _ticker(symbol: str, mid: float, timestamp: int = 1) -> str:
    return frames.ticker(symbol, _stats(symbol, mid), timestamp=timestamp)


def _book(kind: str, mid: float) -> str:
    bids = [(mid - i, 1.0, 1) for i in range(1, 6)]
    asks = [(mid + i, 1.0, 1) for i in range(1, 6)]
    return frames.book(kind, SYMBOL, bids, asks, timestamp=1)


def _delta(is_bid: bool, price: float, size: float) -> str:
    return frames.level_delta(LevelChanged(SYMBOL, is_bid, price, size, 1), timestamp=2)


def burst_frames(count: int) -> tuple[list[str], dict[Topic, int]]:
    """``count`` frames (60% l2Delta, 30% ticker, 10% trades) after a snapshot of each kind."""
    rng = random.Random(9)
    texts = [_book("l2Snapshot", 100.0), _book("l2Delta", 100.0)]
    expected = {Topic.TICKER: 0, Topic.L2SNAPSHOT: 1, Topic.L2DELTA: 1, Topic.TRADES: 0}
    for index in range(count):
        kind = rng.random()
        if kind < 0.6:
            texts.append(_delta(rng.random() < 0.5, 100.0 + rng.choice((-3, 3)), 2.0))
            expected[Topic.L2DELTA] += 1
        elif kind < 0.9:
            texts.append(_ticker(SYMBOL, 100.0, timestamp=index))
            expected[Topic.TICKER] += 1
        else:
            trade = TradeExecuted(SYMBOL, 100.0, 0.1, True, MAKER, TAKER, index)
            texts.append(frames.trades(SYMBOL, [trade]))
            expected[Topic.TRADES] += 1
    texts.append(_ticker(SENTINEL, 1.0))
    return texts, expected


@pytest.fixture(scope="module")
def burst() -> tuple[list[str], dict[Topic, int]]:
    return burst_frames(BURST)


async def send_all_at_once(peer: FakePeer, texts: list[str]) -> None:
    await peer.stream.send_all(b"".join(peer.ws.send(TextMessage(data=text)) for text in texts))


@pytest.fixture
def fake(nursery: trio.Nursery) -> FakeExchange:
    return FakeExchange(nursery)


@asynccontextmanager
async def client_of(fake: FakeExchange, **options: Any) -> AsyncIterator[BulkClient]:
    async with open_bulk_client(
        "ws://fake", symbols=[SYMBOL], connector=fake.connector, stale_after=None, **options
    ) as client:
        yield client


class Counts:
    """What the user's consumers count, per topic, and when the sentinel has been seen."""

    def __init__(self) -> None:
        self.by_topic = dict.fromkeys(MEASURED, 0)
        self.finished = trio.Event()

    def counter(self, topic: Topic) -> Callable[[Any], None]:
        def count(event: Any) -> None:
            if topic is Topic.TICKER and event.symbol == SENTINEL:
                self.finished.set()
            else:
                self.by_topic[topic] += 1

        return count


async def count_with_async_for(
    client: BulkClient,
    topic: Topic,
    count: Callable[[Any], None],
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    async with client.events(topic) as events:
        task_status.started()
        async for event in events:
            count(event)


async def never_read(
    client: BulkClient, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    async with client.events(Topic.L2DELTA, name="idle"), client.events(Topic.TICKER, name="idle"):
        task_status.started()
        await trio.sleep_forever()


# -- the plain consumer keeps up -----------------------------------------------------------------


@pytest.mark.parametrize("style", ["async for", "handlers=", "on()", "async for + idle reader"])
async def test_plain_consumers_receive_every_event_of_a_burst(
    fake: FakeExchange, burst: tuple[list[str], dict[Topic, int]], style: str
) -> None:
    texts, expected = burst
    counts = Counts()
    handlers = {topic: counts.counter(topic) for topic in MEASURED}
    options = {"handlers": handlers} if style == "handlers=" else {}
    with trio.fail_after(TIMEOUT):
        async with client_of(fake, **options) as client, trio.open_nursery() as nursery:
            if style == "on()":
                for topic, handler in handlers.items():
                    client.on(topic, handler)
            elif style != "handlers=":
                for topic, handler in handlers.items():
                    await nursery.start(count_with_async_for, client, topic, handler)
            if style.endswith("idle reader"):
                await nursery.start(never_read, client)
            await send_all_at_once(fake.peers[-1], texts)
            await counts.finished.wait()
            await trio.testing.wait_all_tasks_blocked()
            stats = client.channel_stats()
            nursery.cancel_scope.cancel()

    assert counts.by_topic == expected
    readers = [s for s in stats if s.name != "idle"]
    assert [s.dropped for s in readers] == [0] * len(readers)
    idle = {s.topic: s for s in stats if s.name == "idle"}
    if idle:
        # The reader that never reads keeps only the newest, and says how many it lost.
        delta = idle[Topic.L2DELTA]
        assert delta.buffered == delta.capacity == 1024
        assert delta.dropped == expected[Topic.L2DELTA] - delta.capacity


async def test_an_order_placed_during_a_burst_is_answered(
    fake: FakeExchange, burst: tuple[list[str], dict[Topic, int]]
) -> None:
    texts, expected = burst
    counts = Counts()
    signer = TransactionSigner(bytes(range(32)))
    with trio.fail_after(TIMEOUT):
        async with client_of(fake, signer=signer) as client, trio.open_nursery() as nursery:
            for topic in MEASURED:
                await nursery.start(count_with_async_for, client, topic, counts.counter(topic))
            half = len(texts) // 2
            await send_all_at_once(fake.peers[-1], texts[:half])
            response = await client.place_limit_order(SYMBOL, Side.BUY, 90.0, 0.1)
            await send_all_at_once(fake.peers[-1], texts[half:])
            await counts.finished.wait()
            await trio.testing.wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()
    assert response.order_id is not None
    assert counts.by_topic == expected


# -- isolation and cancellation, on the channel itself --------------------------------------------


async def test_cancelling_inside_the_loop_stops_it_at_the_next_item_and_keeps_the_rest() -> None:
    fanout = Fanout()
    subscriber = fanout.subscribe(Topic.L2DELTA)
    for i in range(1000):
        fanout.publish(Topic.L2DELTA, i)
    taken: list[int] = []
    with trio.CancelScope() as scope:
        async for item in subscriber.receive_channel:
            taken.append(item)
            if item == 4:
                scope.cancel()
    assert scope.cancelled_caught
    assert taken == [0, 1, 2, 3, 4]
    assert subscriber.receive_channel.receive_nowait() == 5  # nothing lost to the cancellation


async def test_a_consumer_draining_a_long_backlog_lets_other_tasks_run() -> None:
    fanout = Fanout()
    subscriber = fanout.subscribe(Topic.ORDER)
    backlog = 200_000
    for i in range(backlog):
        fanout.publish(Topic.ORDER, i)
    turns_of_the_other_task = 0
    seen = 0

    async def other_task() -> None:
        nonlocal turns_of_the_other_task
        while True:
            turns_of_the_other_task += 1
            await trio.lowlevel.checkpoint()

    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(other_task)
            await trio.lowlevel.checkpoint()
            started_with = turns_of_the_other_task
            async for _ in subscriber.receive_channel:
                seen += 1
                if seen == backlog:
                    break
            nursery.cancel_scope.cancel()
    # The backlog takes far longer than YIELD_INTERVAL to drain, so the other task got turns.
    assert YIELD_INTERVAL < 0.01
    assert turns_of_the_other_task > started_with + 1


async def test_a_slow_reader_loses_its_oldest_market_data_counted_and_no_account_event() -> None:
    fanout = Fanout(market_data_buffer=8)
    market = fanout.subscribe(Topic.TICKER)
    account = fanout.subscribe(Topic.ORDER)
    market_seen: list[int] = []
    orders_seen: list[int] = []
    for round_number in range(10):
        for i in range(10):  # ten events arrive per round, the reader takes three
            fanout.publish(Topic.TICKER, round_number * 10 + i)
            fanout.publish(Topic.ORDER, round_number * 10 + i)
        for _ in range(3):
            market_seen.append(await market.receive_channel.receive())
            orders_seen.append(await account.receive_channel.receive())
    fanout.close()
    market_seen += [item async for item in market.receive_channel]
    orders_seen += [item async for item in account.receive_channel]

    assert orders_seen == list(range(100))
    stats = market.stats()
    assert stats.dropped == 100 - len(market_seen)
    assert stats.dropped > 0
    assert market_seen == sorted(market_seen)
    assert market_seen[-8:] == list(range(92, 100))  # what was dropped was always the oldest


# -- latest values -------------------------------------------------------------------------------


async def push(peer: FakePeer, *texts: str) -> None:
    for text in texts:
        await peer.send(text)
    await trio.testing.wait_all_tasks_blocked()


async def test_watch_ticker_yields_the_newest_and_skips_what_the_loop_missed(
    fake: FakeExchange,
) -> None:
    with trio.fail_after(TIMEOUT):
        async with client_of(fake) as client:
            peer = fake.peers[-1]
            await push(peer, _ticker(SYMBOL, 100.0))
            async with client.watch(Topic.TICKER, SYMBOL) as tickers:
                stream = aiter(tickers)
                first: Ticker = await anext(stream)  # the current one, at once
                assert first.mark_price == 100.0
                await push(peer, _ticker(SYMBOL, 101.0), _ticker("ETH-USD", 5.0))
                await push(peer, _ticker(SYMBOL, 102.0), _ticker(SYMBOL, 103.0))
                newest = await anext(stream)
                assert (newest.symbol, newest.mark_price) == (SYMBOL, 103.0)
                later: list[Ticker] = []

                async def take() -> None:
                    later.append(await anext(stream))

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(take)
                    await trio.testing.wait_all_tasks_blocked()
                    assert later == []  # no change since the last take: it waits
                    await push(peer, _ticker(SYMBOL, 104.0))
                assert [t.mark_price for t in later] == [104.0]


async def test_watch_candle_is_keyed_by_symbol_and_interval(fake: FakeExchange) -> None:
    def candle(interval: str, close: float) -> str:
        bar = Candle(SYMBOL, interval, 0, 60_000, close, close, close, close, 1.0)
        return frames.candle(SYMBOL, interval, bar)

    with trio.fail_after(TIMEOUT):
        async with client_of(fake) as client:
            peer = fake.peers[-1]
            async with client.watch(Topic.CANDLE, SYMBOL, "1min") as candles:
                await push(peer, candle("1m", 1.0), candle("5m", 2.0))
                got = await anext(aiter(candles))
                assert (got.interval, got.close) == ("1m", 1.0)
            with pytest.raises(ValueError, match="interval"):
                client.watch(Topic.CANDLE, SYMBOL, "7m")
            with pytest.raises(ValueError, match="watch_book"):
                client.watch(Topic.L2DELTA, SYMBOL)  # type: ignore[call-overload]


async def test_watch_book_yields_immutable_views_after_each_change(fake: FakeExchange) -> None:
    with trio.fail_after(TIMEOUT):
        async with client_of(fake) as client:
            peer = fake.peers[-1]
            await client.subscribe_orderbook_delta(SYMBOL)
            async with client.watch_book(SYMBOL, depth=2) as books:
                stream = aiter(books)
                await push(peer, _book("l2Delta", 100.0))
                first: BookView = await anext(stream)
                assert (first.best_bid, first.best_ask, first.mid) == (99.0, 101.0, 100.0)
                assert len(first.bids) == len(first.asks) == 2
                await push(peer, _delta(True, 99.5, 3.0), _delta(False, 100.5, 1.0))
                second = await anext(stream)
                assert second.bids[0] == BookLevel(99.5, 3.0, 1)
                assert second.spread == 1.0
                assert first.best_bid == 99.0  # the earlier view did not change
                with pytest.raises(attrs.exceptions.FrozenInstanceError):
                    first.bids = ()  # type: ignore[misc]


async def test_watch_state_follows_the_connection_to_closed(fake: FakeExchange) -> None:
    states: list[ConnectionState] = []

    async def follow(client: BulkClient, task_status: trio.TaskStatus[None]) -> None:
        async with client.watch_state() as connection_states:
            task_status.started()
            async for state in connection_states:
                states.append(state)

    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery, client_of(fake) as client:
            await nursery.start(follow, client)
            await trio.testing.wait_all_tasks_blocked()
    assert states == [ConnectionState.LIVE, ConnectionState.CLOSED]


@pytest.fixture
def mock_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


async def test_watch_state_sees_a_reconnect_and_skips_nothing_it_was_waiting_for(
    fake: FakeExchange, mock_clock: trio.testing.MockClock
) -> None:
    with trio.fail_after(TIMEOUT):
        async with client_of(fake) as client, client.watch_state() as connection_states:
            states = aiter(connection_states)
            assert await anext(states) is ConnectionState.LIVE
            await fake.peers[-1].drop()
            seen = [await anext(states)]
            while seen[-1] is not ConnectionState.LIVE:
                seen.append(await anext(states))
    assert seen[0] is ConnectionState.BACKOFF
    assert seen[-1] is ConnectionState.LIVE
    assert client.reconnects == 1
