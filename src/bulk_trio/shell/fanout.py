"""Per-topic broadcast from the receiver task to bounded trio memory channels (DESIGN §3).

The receiver task calls :meth:`Fanout.publish` for every event, so publishing is synchronous and
never waits for a consumer: a slow consumer must not delay order acknowledgements or other
subscribers. When a subscriber's buffer is full the topic decides what happens:

- market-data topics drop the subscriber's *oldest* buffered item (the newest data is what matters)
  and count the drop;
- lossless topics (account streams and ``ERROR``) must never lose an event silently: they get a
  larger buffer, and if it still overflows the subscriber's channel is ended, the
  :class:`~bulk_trio.errors.SubscriberOverflow` is kept on the subscription, and the overflow is
  announced on ``Topic.ERROR``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import attrs
import trio

from ..enums import Topic
from ..errors import ClientClosed, SubscriberOverflow

DEFAULT_MARKET_DATA_BUFFER = 1024
DEFAULT_LOSSLESS_BUFFER = 65536


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


class Subscriber:
    """One subscriber of one topic: a bounded memory channel plus its counters.

    ``receive_channel`` is the real :class:`trio.MemoryReceiveChannel` (the class is ``@final``),
    so consumers use it exactly like any trio channel.
    """

    __slots__ = (
        "_closed",
        "_delivered",
        "_dropped",
        "_evictor",
        "_fanout",
        "_send",
        "capacity",
        "name",
        "overflow_error",
        "receive_channel",
        "topic",
    )

    def __init__(self, fanout: Fanout, topic: Topic, name: str, capacity: int) -> None:
        send, receive = trio.open_memory_channel[Any](capacity)
        self._fanout = fanout
        self._send = send
        # A receive endpoint of our own lets publish() evict the oldest item of a full market-data
        # channel, even if the consumer has cloned its endpoint and closed the original.
        self._evictor = receive.clone() if topic.is_market_data else None
        self._delivered = 0
        self._dropped = 0
        self._closed = False
        self.receive_channel = receive
        self.topic = topic
        self.name = name
        self.capacity = capacity
        self.overflow_error: SubscriberOverflow | None = None

    def __repr__(self) -> str:
        return f"<Subscriber {self.name!r} topic={self.topic.value} capacity={self.capacity}>"

    @property
    def closed(self) -> bool:
        """True once the subscription no longer receives items."""
        return self._closed

    def stats(self) -> SubscriberStats:
        """The subscriber's counters and how full its buffer is right now."""
        return SubscriberStats(
            topic=self.topic,
            name=self.name,
            delivered=self._delivered,
            dropped=self._dropped,
            buffered=self._send.statistics().current_buffer_used,
            capacity=self.capacity,
            overflowed=self.overflow_error is not None,
        )

    def close(self) -> None:
        """Stop delivering to this subscriber. Idempotent.

        Only the sending side (and our eviction endpoint) is closed: a consumer still iterating
        ``receive_channel`` gets what is buffered and then a normal end of iteration, rather than
        a ``ClosedResourceError`` in the middle of its loop.
        """
        if self._closed:
            return
        self._closed = True
        self._fanout._forget(self)
        self._send.close()
        if self._evictor is not None:
            self._evictor.close()

    def _offer(self, item: object) -> None:
        """Put ``item`` in the channel without blocking, applying the topic's overflow policy."""
        try:
            self._send.send_nowait(item)
        except trio.WouldBlock:
            if self._evictor is None:
                self._overflow()
                return
            if self._abandoned():
                self.close()
                return
            self._evictor.receive_nowait()
            self._dropped += 1
            self._send.send_nowait(item)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            # The consumer closed its receive channel: nobody will ever read this subscriber.
            self.close()
            return
        self._delivered += 1

    def _abandoned(self) -> bool:
        """True when the consumer closed every receive endpoint it had.

        Our eviction endpoint keeps a market-data channel open, so send_nowait() alone cannot
        tell; reading the statistics costs several sends, hence it is not done on every publish.
        """
        own_endpoints = 0 if self._evictor is None else 1
        return self._send.statistics().open_receive_channels <= own_endpoints

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
    """Broadcasts each published item to every subscriber of its topic."""

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
        return subscription

    def publish(self, topic: Topic, item: object) -> None:
        """Deliver ``item`` to every subscriber of ``topic``. Synchronous; never blocks."""
        subscribers = self._subscribers.get(topic)
        if subscribers is None:
            return
        for subscription in subscribers:
            subscription._offer(item)

    def publish_error(self, item: object) -> None:
        """Publish on ``Topic.ERROR``. An overflowing ERROR subscriber is closed, not announced."""
        self.publish(Topic.ERROR, item)

    def subscriber_count(self, topic: Topic) -> int:
        """How many live subscribers ``topic`` has (consumers that closed their end not counted)."""
        self._forget_abandoned()
        return len(self._subscribers.get(topic, ()))

    def stats(self) -> list[SubscriberStats]:
        """Counters of every live subscriber, grouped by topic in subscription order."""
        self._forget_abandoned()
        return [s.stats() for subscribers in self._subscribers.values() for s in subscribers]

    def close(self) -> None:
        """End every subscriber's channel (consumers drain it, then their loops end).

        Later :meth:`subscribe` calls raise ``ClientClosed``; later publishes reach nobody.
        """
        self._closed = True
        everyone = [s for subscribers in self._subscribers.values() for s in subscribers]
        for subscription in everyone:
            subscription.close()

    def _forget(self, subscription: Subscriber) -> None:
        remaining = tuple(
            s for s in self._subscribers.get(subscription.topic, ()) if s is not subscription
        )
        if remaining:
            self._subscribers[subscription.topic] = remaining
        else:
            self._subscribers.pop(subscription.topic, None)

    def _forget_abandoned(self) -> None:
        # Market-data channels are only checked for an abandoned consumer when their buffer
        # fills (see Subscriber._abandoned); counts must be exact whenever someone asks.
        abandoned = [
            s for subscribers in self._subscribers.values() for s in subscribers if s._abandoned()
        ]
        for subscription in abandoned:
            subscription.close()


@contextlib.asynccontextmanager
async def open_subscription(
    fanout: Fanout, topic: Topic, *, buffer: int | None = None, name: str | None = None
) -> AsyncIterator[trio.MemoryReceiveChannel[Any]]:
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
    # bool is an int, and trio would accept math.inf: neither is a meaningful bounded buffer.
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{field} must be an integer >= 1, not {value!r}")
    return value
