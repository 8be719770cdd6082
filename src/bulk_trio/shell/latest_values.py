"""Latest-value streams: ``async for`` over the newest value of something, skipping what the
consumer was too busy to see (docs/guides/channels.md, "Latest values").

A :class:`LatestValue` holds no queue, only a "changed since you last looked" flag, so it can never
overflow and never makes the receiver wait; the value itself is read when the consumer takes it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable
from typing import Any, Generic, TypeVar

import trio

from ..enums import ConnectionState, Topic
from .fanout import Fanout
from .state_cell import StateCell

T = TypeVar("T")


class LatestValue(Generic[T]):
    """An async iterator that yields ``read()`` each time the value changed since the last take.

    ``read`` returns the current value, or None when there is nothing to show yet (then the
    stream waits for the next change). Each step is one scheduler pass: a latest-value consumer
    takes at most one value per pass, whatever the rate of changes.
    """

    __slots__ = ("_changed", "_ended", "_read", "_waiter")

    def __init__(self, read: Callable[[], T | None], *, changed: bool) -> None:
        self._read = read
        self._changed = changed
        self._ended = False
        self._waiter: trio.lowlevel.Task | None = None

    def changed(self) -> None:
        """Mark the value as changed and wake the consumer. Synchronous; never blocks."""
        self._changed = True
        self._wake()

    def end(self) -> None:
        """End the stream: the consumer's loop stops (after a change it has not taken yet)."""
        self._ended = True
        self._wake()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            trio.lowlevel.reschedule(waiter)

    def __aiter__(self) -> LatestValue[T]:
        return self

    async def __anext__(self) -> T:
        await trio.lowlevel.checkpoint()
        while True:
            if self._changed:
                self._changed = False
                value = self._read()
                if value is not None:
                    return value
                continue
            if self._ended:
                raise StopAsyncIteration
            if self._waiter is not None:
                raise trio.BusyResourceError("another task is already reading this stream")
            self._waiter = trio.lowlevel.current_task()

            def abort(_: object) -> trio.lowlevel.Abort:
                self._waiter = None
                return trio.lowlevel.Abort.SUCCEEDED

            await trio.lowlevel.wait_task_rescheduled(abort)


@contextlib.asynccontextmanager
async def watch_topics(
    fanout: Fanout,
    topics: Iterable[Topic],
    accept: Callable[[Any], bool],
    read: Callable[[], T | None],
) -> AsyncIterator[LatestValue[T]]:
    """A :class:`LatestValue` of ``read()`` that changes whenever an item of ``topics`` that
    ``accept`` approves is published; it starts with the current value if ``read`` has one."""
    stream = LatestValue(read, changed=read() is not None)

    def on_item(item: Any) -> None:
        if accept(item):
            stream.changed()

    removers = [fanout.listen(topic, on_item) for topic in topics]
    removers.append(fanout.on_close(stream.end))
    try:
        yield stream
    finally:
        for remove in removers:
            remove()


@contextlib.asynccontextmanager
async def watch_connection(cell: StateCell) -> AsyncIterator[AsyncIterator[ConnectionState]]:
    """The connection's state now, then each state it moves to (skipping states the consumer was
    too busy to see), ending after ``CLOSED``."""

    async def states() -> AsyncGenerator[ConnectionState, None]:
        last: ConnectionState | None = None
        while last is not ConnectionState.CLOSED:
            value = cell.value
            if value is last:
                await cell.wait_change()
                continue
            last = value
            await trio.lowlevel.checkpoint()
            yield value

    stream = states()
    try:
        yield stream
    finally:
        await stream.aclose()
