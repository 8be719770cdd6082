"""Per-topic broadcast from the receiver task to bounded event channels (docs/guides/channels.md).

The receiver task calls :meth:`Fanout.publish` for every event, so publishing is synchronous and
never waits for a consumer: a slow consumer must not delay order acknowledgements or other
subscribers. When a subscriber's buffer is full the topic decides what happens:

- market-data topics drop the subscriber's *oldest* buffered item (the newest data is what matters)
  and count the drop;
- lossless topics (account streams, ``ERROR`` and ``STATUS``) must never lose an event silently:
  they get a larger buffer, and if it still overflows the subscriber's channel is ended, the
  :class:`~bulk_trio.errors.SubscriberOverflow` is kept on the subscription, and the overflow is
  announced on ``Topic.ERROR``.

Consumers read an :class:`EventChannel`. The receiver publishes a whole socket read (hundreds of
frames) per scheduler pass, so a channel that cost a scheduler pass per item (~10 µs each, as a
trio memory channel does) would fall behind a busy feed. An :class:`EventChannel` hands out what
is already buffered without a scheduler pass, checking for cancellation on every item, and takes
a full pass at least every ``YIELD_INTERVAL`` seconds so that the receiver and every other task
keep their turn.
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any, Generic, TypeVar

import attrs
import trio

from ..enums import Topic
from ..errors import ClientClosed, SubscriberOverflow

DEFAULT_MARKET_DATA_BUFFER = 1024
DEFAULT_LOSSLESS_BUFFER = 65536
YIELD_INTERVAL = 0.001
"""Longest time (s) an :class:`EventChannel` consumer runs on buffered items before it yields."""

T = TypeVar("T")
# How long a consumer has held the loop is wall-clock time, whatever clock the trio run uses
# (a MockClock stands still while tasks run); perf_counter is also cheaper to read.
_now = time.perf_counter
Listener = Callable[[Any], None]


@attrs.frozen
class SubscriberStats:
    """A snapshot of one subscriber's counters.

    ``delivered`` counts items put into the channel (including any later dropped as the oldest);
    ``dropped`` counts items the subscriber will never see.
    """

    topic: Topic
    name: str
    delivered: int
    dropped: int
    buffered: int
    capacity: int
    overflowed: bool


class EventChannel(trio.abc.ReceiveChannel[T], Generic[T]):
    """The receiving end of one subscription: ``async for``, ``receive()``, ``receive_nowait()``,
    ``clone()`` and ``aclose()`` behave as on a trio memory channel.

    The difference is the cost of an item that is already buffered: ``async for`` and
    ``receive()`` return it after a cancellation check only, without a scheduler pass, until the
    consumer has run for ``YIELD_INTERVAL`` (1 ms) since its last pass; then they take a full pass.
    So a consumer keeps up with a burst, never holds the loop for long, and is cancelled at once.
    """

    __slots__ = ("_closed", "_subscriber", "_turn_ends")

    def __init__(self, subscriber: Subscriber) -> None:
        self._subscriber = subscriber
        self._closed = False
        self._turn_ends = -float("inf")  # the first receive takes a scheduler pass
        subscriber._endpoints += 1

    def __repr__(self) -> str:
        return f"<EventChannel of {self._subscriber!r}>"

    def receive_nowait(self) -> T:
        """The oldest buffered item; ``trio.WouldBlock`` if none (``EndOfChannel`` once ended)."""
        if self._closed:
            raise trio.ClosedResourceError("this channel was closed")
        subscriber = self._subscriber
        if subscriber._buffer:
            item: T = subscriber._buffer.popleft()
            return item
        if subscriber._ended:
            raise trio.EndOfChannel
        raise trio.WouldBlock

    async def receive(self) -> T:
        """The oldest buffered item, waiting for one if need be."""
        if self._closed:
            raise trio.ClosedResourceError("this channel was closed")
        buffer = self._subscriber._buffer
        if buffer:
            if _now() < self._turn_ends:
                await trio.lowlevel.checkpoint_if_cancelled()
                item: T = buffer.popleft()
                return item
            await trio.lowlevel.checkpoint()
        return await self._wait()

    async def __anext__(self) -> T:
        # receive()'s fast path repeated here: one coroutine frame less per item of a burst.
        if self._closed:
            raise trio.ClosedResourceError("this channel was closed")
        buffer = self._subscriber._buffer
        if buffer:
            if _now() < self._turn_ends:
                await trio.lowlevel.checkpoint_if_cancelled()
                item: T = buffer.popleft()
                return item
            await trio.lowlevel.checkpoint()
        try:
            return await self._wait()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None

    async def _wait(self) -> T:
        """Called after a scheduler pass or to take one: wait for an item, start a new turn."""
        subscriber = self._subscriber
        buffer = subscriber._buffer
        while not buffer:
            if self._closed:
                raise trio.ClosedResourceError("this channel was closed")
            if subscriber._ended:
                raise trio.EndOfChannel
            await subscriber._park(self)
        if self._closed:
            raise trio.ClosedResourceError("this channel was closed")
        self._turn_ends = _now() + YIELD_INTERVAL
        item: T = buffer.popleft()
        return item

    def clone(self) -> EventChannel[T]:
        """Another endpoint of the same subscription (items go to whichever endpoint asks first)."""
        if self._closed:
            raise trio.ClosedResourceError("this channel was closed")
        return EventChannel(self._subscriber)

    def close(self) -> None:
        """Close this endpoint; once every endpoint is closed the subscription ends. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._subscriber._endpoint_closed(self)

    async def aclose(self) -> None:
        self.close()
        await trio.lowlevel.checkpoint()


class Subscriber:
    """One subscriber of one topic: a bounded buffer, its counters and its receive endpoints."""

    __slots__ = (
        "_buffer",
        "_delivered",
        "_dropped",
        "_ended",
        "_endpoints",
        "_fanout",
        "_lossless",
        "_waiting",
        "capacity",
        "name",
        "overflow_error",
        "receive_channel",
        "topic",
    )

    def __init__(self, fanout: Fanout, topic: Topic, name: str, capacity: int) -> None:
        self._fanout = fanout
        self._buffer: deque[Any] = deque()
        self._lossless = not topic.is_market_data
        self._delivered = 0
        self._dropped = 0
        self._ended = False
        self._endpoints = 0
        # Tasks parked in a receive, with the endpoint each waits on (a dict keeps them in order).
        self._waiting: dict[trio.lowlevel.Task, EventChannel[Any]] = {}
        self.topic = topic
        self.name = name
        self.capacity = capacity
        self.overflow_error: SubscriberOverflow | None = None
        self.receive_channel: EventChannel[Any] = EventChannel(self)

    def __repr__(self) -> str:
        return f"<Subscriber {self.name!r} topic={self.topic.value} capacity={self.capacity}>"

    @property
    def closed(self) -> bool:
        """True once the subscription no longer receives items."""
        return self._ended

    def stats(self) -> SubscriberStats:
        """The subscriber's counters and how full its buffer is right now."""
        return SubscriberStats(
            topic=self.topic,
            name=self.name,
            delivered=self._delivered,
            dropped=self._dropped,
            buffered=len(self._buffer),
            capacity=self.capacity,
            overflowed=self.overflow_error is not None,
        )

    def close(self) -> None:
        """Stop delivering to this subscriber. Idempotent.

        A consumer still iterating its channel gets what is buffered and then a normal end of
        iteration, rather than an error in the middle of its loop.
        """
        if self._ended:
            return
        self._ended = True
        self._fanout._forget(self)
        self._wake_all()

    def _offer(self, item: object) -> None:
        """Put ``item`` in the buffer without blocking, applying the topic's overflow policy."""
        buffer = self._buffer
        if len(buffer) >= self.capacity:
            if self._lossless:
                self._overflow()
                return
            buffer.popleft()
            self._dropped += 1
        buffer.append(item)
        self._delivered += 1
        if self._waiting:
            task = next(iter(self._waiting))
            del self._waiting[task]
            trio.lowlevel.reschedule(task)

    async def _park(self, endpoint: EventChannel[Any]) -> None:
        task = trio.lowlevel.current_task()
        self._waiting[task] = endpoint

        def abort(_: object) -> trio.lowlevel.Abort:
            self._waiting.pop(task, None)
            return trio.lowlevel.Abort.SUCCEEDED

        await trio.lowlevel.wait_task_rescheduled(abort)

    def _wake_all(self, endpoint: EventChannel[Any] | None = None) -> None:
        """Wake the parked tasks (only those waiting on ``endpoint`` if given)."""
        for task, waits_on in list(self._waiting.items()):
            if endpoint is None or waits_on is endpoint:
                del self._waiting[task]
                trio.lowlevel.reschedule(task)

    def _endpoint_closed(self, endpoint: EventChannel[Any]) -> None:
        self._endpoints -= 1
        self._wake_all(endpoint)  # a task parked on it gets ClosedResourceError
        if self._endpoints == 0:
            # Nobody can read this subscriber any more: stop delivering and free the buffer.
            self._buffer.clear()
            self.close()

    def _overflow(self) -> None:
        error = SubscriberOverflow(
            f"subscriber {self.name!r} of topic {self.topic.value!r} fell behind: its buffer of "
            f"{self.capacity} items was full, so its channel was closed rather than lose an event"
        )
        self.overflow_error = error
        self._dropped += 1
        self.close()
        # An ERROR subscriber's own overflow is only recorded: announcing it on ERROR could
        # overflow the next ERROR subscriber, and so on.
        if self.topic is not Topic.ERROR:
            self._fanout.publish_error(error)


class Fanout:
    """Broadcasts each published item to every subscriber and listener of its topic."""

    def __init__(
        self,
        *,
        market_data_buffer: int = DEFAULT_MARKET_DATA_BUFFER,
        lossless_buffer: int = DEFAULT_LOSSLESS_BUFFER,
    ) -> None:
        self._market_data_buffer = _check_buffer("market_data_buffer", market_data_buffer)
        self._lossless_buffer = _check_buffer("lossless_buffer", lossless_buffer)
        # Tuples, replaced on every (un)subscribe: publish() iterates them while a subscriber may
        # unregister itself, and the common case (no change) costs nothing.
        self._subscribers: dict[Topic, tuple[Subscriber, ...]] = {}
        self._listeners: dict[Topic, tuple[Listener, ...]] = {}
        self._on_close: list[Callable[[], None]] = []
        self._created = 0
        self._closed = False

    def subscribe(
        self, topic: Topic, *, buffer: int | None = None, name: str | None = None
    ) -> Subscriber:
        """Register a new subscriber of ``topic``.

        ``buffer`` defaults to the market-data or lossless size, by topic. Raises
        :class:`~bulk_trio.errors.ClientClosed` after :meth:`close`.
        """
        if not isinstance(topic, Topic):
            raise ValueError(f"topic must be a Topic, not {topic!r}")
        if buffer is None:
            capacity = self._market_data_buffer if topic.is_market_data else self._lossless_buffer
        else:
            capacity = _check_buffer("buffer", buffer)
        if self._closed:
            raise ClientClosed("cannot subscribe: the client is closed")
        self._created += 1
        if name is None:
            name = f"{topic.value}#{self._created}"
        subscription = Subscriber(self, topic, name, capacity)
        self._subscribers[topic] = (*self._subscribers.get(topic, ()), subscription)
        self._add_listener(topic, subscription._offer)
        return subscription

    def listen(self, topic: Topic, listener: Listener) -> Callable[[], None]:
        """Call ``listener(item)`` synchronously for every item published on ``topic``.

        For consumers that keep state rather than a queue (the latest-value streams). The
        listener must be quick and must not raise. Returns the function that removes it.
        """
        if self._closed:
            raise ClientClosed("cannot listen: the client is closed")
        self._add_listener(topic, listener)
        return lambda: self._remove_listener(topic, listener)

    def on_close(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback()`` when the fanout closes (at once if it has); returns its remover."""
        if self._closed:
            callback()
            return lambda: None
        self._on_close.append(callback)
        return lambda: self._on_close.remove(callback) if callback in self._on_close else None

    def publish(self, topic: Topic, item: object) -> None:
        """Deliver ``item`` to every subscriber of ``topic``. Synchronous; never blocks."""
        listeners = self._listeners.get(topic)
        if listeners is None:
            return
        for listener in listeners:
            listener(item)

    def publish_error(self, item: object) -> None:
        """Publish on ``Topic.ERROR``. An overflowing ERROR subscriber is closed, not announced."""
        self.publish(Topic.ERROR, item)

    def subscriber_count(self, topic: Topic) -> int:
        """How many live subscribers ``topic`` has (consumers that closed their end not counted)."""
        return len(self._subscribers.get(topic, ()))

    def stats(self) -> list[SubscriberStats]:
        """Counters of every live subscriber, grouped by topic in subscription order."""
        return [s.stats() for subscribers in self._subscribers.values() for s in subscribers]

    def close(self) -> None:
        """End every subscriber's channel (consumers drain it, then their loops end).

        Later :meth:`subscribe` calls raise ``ClientClosed``; later publishes reach nobody.
        """
        self._closed = True
        everyone = [s for subscribers in self._subscribers.values() for s in subscribers]
        for subscription in everyone:
            subscription.close()
        self._listeners.clear()
        callbacks, self._on_close = self._on_close, []
        for callback in callbacks:
            callback()

    def _add_listener(self, topic: Topic, listener: Listener) -> None:
        self._listeners[topic] = (*self._listeners.get(topic, ()), listener)

    def _remove_listener(self, topic: Topic, listener: Listener) -> None:
        remaining = tuple(x for x in self._listeners.get(topic, ()) if x != listener)
        if remaining:
            self._listeners[topic] = remaining
        else:
            self._listeners.pop(topic, None)

    def _forget(self, subscription: Subscriber) -> None:
        topic = subscription.topic
        remaining = tuple(s for s in self._subscribers.get(topic, ()) if s is not subscription)
        if remaining:
            self._subscribers[topic] = remaining
        else:
            self._subscribers.pop(topic, None)
        self._remove_listener(topic, subscription._offer)


@contextlib.asynccontextmanager
async def open_subscription(
    fanout: Fanout, topic: Topic, *, buffer: int | None = None, name: str | None = None
) -> AsyncIterator[EventChannel[Any]]:
    """Subscribe for the duration of an ``async with`` block and yield the receive channel.

    On exit the subscription and its channel are closed. If a lossless subscriber overflowed, its
    :class:`~bulk_trio.errors.SubscriberOverflow` is raised here, so the user learns that events
    were lost even if their loop simply ended; an exception already leaving the block wins.
    """
    subscription = fanout.subscribe(topic, buffer=buffer, name=name)
    try:
        yield subscription.receive_channel
    finally:
        subscription.close()
        subscription.receive_channel.close()
    if subscription.overflow_error is not None:
        raise subscription.overflow_error


def _check_buffer(field: str, value: int) -> int:
    # bool is an int, and math.inf is no bounded buffer: neither is a meaningful size.
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{field} must be an integer >= 1, not {value!r}")
    return value
