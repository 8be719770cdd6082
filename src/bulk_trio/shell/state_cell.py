"""The connection's life cycle (:class:`~bulk_trio.enums.ConnectionState`) as a value that can
be read and awaited."""

from __future__ import annotations

import trio

from ..enums import ConnectionState


class StateCell:
    """Holds the current :class:`ConnectionState`; ``wait_for`` sleeps until it takes a value."""

    def __init__(self, initial: ConnectionState = ConnectionState.CONNECTING) -> None:
        self._value = initial
        self._changed = trio.Event()

    @property
    def value(self) -> ConnectionState:
        return self._value

    def set(self, value: ConnectionState) -> None:
        if value is self._value:
            return
        self._value = value
        self._changed.set()
        self._changed = trio.Event()

    async def wait_for(self, *states: ConnectionState) -> ConnectionState:
        """Return as soon as the state is one of ``states`` (at once if it already is)."""
        if not states:
            raise ValueError("wait_for needs at least one ConnectionState")
        while self._value not in states:
            await self._changed.wait()
        return self._value

    async def wait_change(self) -> ConnectionState:
        """Return the next state the connection moves to."""
        await self._changed.wait()
        return self._value
