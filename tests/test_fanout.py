"""The fanout: per-topic broadcast that never blocks, drop-oldest for market data, and loud
overflow for lossless topics."""

from __future__ import annotations

from collections import deque
from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from bulk_trio.enums import Topic
from bulk_trio.errors import ClientClosed, SubscriberOverflow
from bulk_trio.shell.fanout import EventChannel, Fanout, SubscriberStats, open_subscription


def drain(rx: EventChannel[Any]) -> tuple[list[Any], bool]:
    """Everything buffered right now, and whether the channel has ended."""
    items: list[Any] = []
    while True:
        try:
            items.append(rx.receive_nowait())
        except trio.WouldBlock:
            return items, False
        except trio.EndOfChannel:
            return items, True


# -- delivery ------------------------------------------------------------------------------------


def test_every_subscriber_gets_every_item_in_order() -> None:
    fanout = Fanout()
    first = fanout.subscribe(Topic.TICKER)
    second = fanout.subscribe(Topic.TICKER)
    other_topic = fanout.subscribe(Topic.TRADES)

    for i in range(10):
        fanout.publish(Topic.TICKER, i)

    assert drain(first.receive_channel) == (list(range(10)), False)
    assert drain(second.receive_channel) == (list(range(10)), False)
    assert drain(other_topic.receive_channel) == ([], False)


def test_publishing_to_a_topic_without_subscribers_does_nothing() -> None:
    fanout = Fanout()
    fanout.publish(Topic.ORDER, "nobody listens")
    fanout.publish_error("nobody listens either")
    assert fanout.subscriber_count(Topic.ORDER) == 0
    assert fanout.stats() == []


async def test_a_waiting_consumer_task_receives_items_as_they_are_published() -> None:
    fanout = Fanout()
    subscription = fanout.subscribe(Topic.FILL)
    received: list[int] = []

    async def consume() -> None:
        async for item in subscription.receive_channel:
            received.append(item)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(consume)
        for i in range(5):
            await trio.testing.wait_all_tasks_blocked()  # the consumer is parked in receive()
            fanout.publish(Topic.FILL, i)
        fanout.close()  # lets the consumer's loop end, so the nursery can exit

    assert received == [0, 1, 2, 3, 4]


def test_default_buffer_sizes_follow_the_topic() -> None:
    fanout = Fanout(market_data_buffer=7, lossless_buffer=99)
    assert fanout.subscribe(Topic.L2DELTA).stats().capacity == 7
    assert fanout.subscribe(Topic.ORDER).stats().capacity == 99
    assert fanout.subscribe(Topic.ERROR).stats().capacity == 99
    assert fanout.subscribe(Topic.TICKER, buffer=3).stats().capacity == 3


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, float("inf"), "3"])
def test_buffer_must_be_a_positive_integer(bad: Any) -> None:
    fanout = Fanout()
    with pytest.raises(ValueError, match="buffer"):
        fanout.subscribe(Topic.TICKER, buffer=bad)
    assert fanout.subscriber_count(Topic.TICKER) == 0


@pytest.mark.parametrize("field", ["market_data_buffer", "lossless_buffer"])
def test_fanout_buffer_sizes_are_validated(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        Fanout(**{field: 0})


def test_topic_must_be_a_topic() -> None:
    with pytest.raises(ValueError, match="topic"):
        Fanout().subscribe("ticker")  # type: ignore[arg-type]


# -- market data: drop the oldest ----------------------------------------------------------------


def test_market_data_drops_the_oldest_item_when_full_and_counts_it() -> None:
    fanout = Fanout()
    subscription = fanout.subscribe(Topic.TICKER, buffer=3, name="slow")
    for i in range(6):
        fanout.publish(Topic.TICKER, i)

    assert subscription.stats() == SubscriberStats(
        topic=Topic.TICKER,
        name="slow",
        delivered=6,
        dropped=3,
        buffered=3,
        capacity=3,
        overflowed=False,
    )
    assert drain(subscription.receive_channel) == ([3, 4, 5], False)
    assert subscription.overflow_error is None
    assert fanout.subscriber_count(Topic.TICKER) == 1


def test_a_slow_market_data_subscriber_does_not_affect_a_fast_one() -> None:
    fanout = Fanout()
    slow = fanout.subscribe(Topic.TRADES, buffer=1)
    fast = fanout.subscribe(Topic.TRADES, buffer=100)
    for i in range(50):
        fanout.publish(Topic.TRADES, i)
    assert drain(slow.receive_channel)[0] == [49]
    assert drain(fast.receive_channel)[0] == list(range(50))
    assert fast.stats().dropped == 0


@settings(max_examples=60, deadline=None)
@given(
    capacity=st.integers(min_value=1, max_value=5),
    steps=st.lists(st.one_of(st.just("take"), st.integers(0, 1000)), max_size=40),
)
def test_market_data_channel_matches_a_bounded_deque(capacity: int, steps: list[str | int]) -> None:
    """Interleaved publishes and reads behave like a deque(maxlen=capacity)."""
    fanout = Fanout()
    subscription = fanout.subscribe(Topic.CANDLE, buffer=capacity)
    model: deque[int] = deque(maxlen=capacity)
    published = dropped = 0
    for step in steps:
        if step == "take":
            expected = model.popleft() if model else None
            try:
                got = subscription.receive_channel.receive_nowait()
            except trio.WouldBlock:
                got = None
            assert got == expected
        else:
            assert isinstance(step, int)
            dropped += len(model) == capacity
            model.append(step)
            published += 1
            fanout.publish(Topic.CANDLE, step)
    stats = subscription.stats()
    assert (stats.delivered, stats.dropped, stats.buffered) == (published, dropped, len(model))
    assert drain(subscription.receive_channel)[0] == list(model)


def test_a_consumer_may_clone_its_channel_and_close_the_original() -> None:
    fanout = Fanout()
    subscription = fanout.subscribe(Topic.TICKER, buffer=2)
    worker = subscription.receive_channel.clone()
    subscription.receive_channel.close()
    for i in range(4):
        fanout.publish(Topic.TICKER, i)  # overflows: the oldest must still be dropped
    assert fanout.subscriber_count(Topic.TICKER) == 1
    assert drain(worker) == ([2, 3], False)


# -- lossless topics: never silently -------------------------------------------------------------


async def test_lossless_overflow_ends_the_channel_after_what_was_buffered() -> None:
    fanout = Fanout()
    errors = fanout.subscribe(Topic.ERROR)
    subscription = fanout.subscribe(Topic.ORDER, buffer=2, name="orders")
    for i in range(3):
        fanout.publish(Topic.ORDER, i)
    fanout.publish(Topic.ORDER, 3)  # after the overflow: not delivered, and no second error

    received = [item async for item in subscription.receive_channel]
    assert received == [0, 1]

    error = subscription.overflow_error
    assert isinstance(error, SubscriberOverflow)
    assert "'order'" in str(error)
    assert "2 items" in str(error)
    assert "orders" in str(error)
    assert drain(errors.receive_channel) == ([error], False)

    assert fanout.subscriber_count(Topic.ORDER) == 0
    stats = subscription.stats()
    assert (stats.delivered, stats.dropped, stats.overflowed) == (2, 1, True)


def test_a_lossless_overflow_leaves_other_subscribers_alone() -> None:
    fanout = Fanout()
    small = fanout.subscribe(Topic.POSITION, buffer=1)
    large = fanout.subscribe(Topic.POSITION, buffer=10)
    for i in range(5):
        fanout.publish(Topic.POSITION, i)
    assert small.overflow_error is not None
    assert large.overflow_error is None
    assert drain(large.receive_channel) == ([0, 1, 2, 3, 4], False)
    assert fanout.subscriber_count(Topic.POSITION) == 1


def test_an_error_subscriber_overflow_is_recorded_not_announced() -> None:
    fanout = Fanout()
    small = fanout.subscribe(Topic.ERROR, buffer=1)
    large = fanout.subscribe(Topic.ERROR, buffer=10)
    fanout.publish_error("first")
    fanout.publish_error("second")

    assert isinstance(small.overflow_error, SubscriberOverflow)
    assert "'error'" in str(small.overflow_error)
    # Only the two published items: the overflow itself is not sent to the other ERROR subscriber.
    assert drain(large.receive_channel) == (["first", "second"], False)
    assert drain(small.receive_channel) == (["first"], True)
    assert fanout.subscriber_count(Topic.ERROR) == 1


def test_an_overflow_announcement_that_overflows_an_error_subscriber_stops_there() -> None:
    fanout = Fanout()
    errors = fanout.subscribe(Topic.ERROR, buffer=1)
    fanout.publish_error("already full")
    fills = fanout.subscribe(Topic.FILL, buffer=1)
    fanout.publish(Topic.FILL, 1)
    fanout.publish(Topic.FILL, 2)  # overflows FILL, whose announcement overflows ERROR

    assert isinstance(fills.overflow_error, SubscriberOverflow)
    assert isinstance(errors.overflow_error, SubscriberOverflow)
    assert drain(errors.receive_channel) == (["already full"], True)
    assert fanout.stats() == []


# -- consumers that leave ------------------------------------------------------------------------


@pytest.mark.parametrize("topic", [Topic.ORDER, Topic.L2SNAPSHOT])
def test_a_consumer_that_closed_its_channel_is_unregistered(topic: Topic) -> None:
    fanout = Fanout()
    subscription = fanout.subscribe(topic, buffer=4)
    fanout.publish(topic, 1)
    subscription.receive_channel.close()
    fanout.publish(topic, 2)
    assert fanout.subscriber_count(topic) == 0
    assert subscription.overflow_error is None
    assert subscription.closed


def test_a_closed_market_data_consumer_is_dropped_when_its_buffer_fills() -> None:
    fanout = Fanout()
    errors = fanout.subscribe(Topic.ERROR)
    subscription = fanout.subscribe(Topic.TICKER, buffer=2)
    subscription.receive_channel.close()
    for i in range(3):
        fanout.publish(Topic.TICKER, i)
    assert subscription.closed  # found out by the publish itself, not by a count
    assert subscription.overflow_error is None
    assert drain(errors.receive_channel) == ([], False)


def test_subscription_close_unregisters_and_is_idempotent() -> None:
    fanout = Fanout()
    subscription = fanout.subscribe(Topic.MARGIN)
    fanout.publish(Topic.MARGIN, "kept")
    subscription.close()
    subscription.close()
    fanout.publish(Topic.MARGIN, "not delivered")
    assert fanout.subscriber_count(Topic.MARGIN) == 0
    assert drain(subscription.receive_channel) == (["kept"], True)


async def test_fanout_close_ends_every_consumer_loop_after_draining() -> None:
    fanout = Fanout()
    subscriptions = [fanout.subscribe(topic) for topic in (Topic.TICKER, Topic.ORDER, Topic.ERROR)]
    for subscription in subscriptions:
        fanout.publish(subscription.topic, subscription.topic.value)
    fanout.close()
    for subscription in subscriptions:
        assert [x async for x in subscription.receive_channel] == [subscription.topic.value]
    assert fanout.stats() == []

    fanout.publish(Topic.TICKER, "after close")  # harmless
    with pytest.raises(ClientClosed):
        fanout.subscribe(Topic.TICKER)


def test_stats_lists_every_live_subscriber_with_a_distinct_default_name() -> None:
    fanout = Fanout()
    fanout.subscribe(Topic.TICKER)
    fanout.subscribe(Topic.TICKER)
    fanout.subscribe(Topic.ORDER, name="my-orders")
    fanout.publish(Topic.TICKER, "t")

    stats = fanout.stats()
    assert [(s.topic, s.delivered) for s in stats] == [
        (Topic.TICKER, 1),
        (Topic.TICKER, 1),
        (Topic.ORDER, 0),
    ]
    names = [s.name for s in stats]
    assert len(set(names)) == 3
    assert names[2] == "my-orders"


# -- open_subscription ---------------------------------------------------------------------------


async def test_open_subscription_yields_a_trio_channel_for_the_block_only() -> None:
    fanout = Fanout()
    async with open_subscription(fanout, Topic.TICKER, buffer=5) as rx:
        assert isinstance(rx, EventChannel)
        assert fanout.subscriber_count(Topic.TICKER) == 1
        fanout.publish(Topic.TICKER, "hello")
        assert await rx.receive() == "hello"
    assert fanout.subscriber_count(Topic.TICKER) == 0
    with pytest.raises(trio.ClosedResourceError):
        rx.receive_nowait()


async def test_open_subscription_raises_the_overflow_on_exit() -> None:
    fanout = Fanout()
    received: list[int] = []

    async def consume_after_overflow() -> None:
        async with open_subscription(fanout, Topic.FILL, buffer=2) as rx:
            for i in range(3):
                fanout.publish(Topic.FILL, i)
            async for item in rx:  # ends normally after the two buffered items
                received.append(item)

    with pytest.raises(SubscriberOverflow, match="'fill'"):
        await consume_after_overflow()
    assert received == [0, 1]


async def test_open_subscription_lets_the_blocks_own_exception_win() -> None:
    fanout = Fanout()

    async def overflow_then_fail() -> None:
        async with open_subscription(fanout, Topic.FILL, buffer=1):
            fanout.publish(Topic.FILL, 1)
            fanout.publish(Topic.FILL, 2)
            raise KeyError("the user's own error")

    with pytest.raises(KeyError):
        await overflow_then_fail()
    assert fanout.subscriber_count(Topic.FILL) == 0


async def test_open_subscription_cleans_up_when_cancelled() -> None:
    fanout = Fanout()
    with trio.CancelScope() as scope:
        async with open_subscription(fanout, Topic.ACCOUNT) as rx:
            scope.cancel()
            await rx.receive()
    assert scope.cancelled_caught
    assert fanout.subscriber_count(Topic.ACCOUNT) == 0
