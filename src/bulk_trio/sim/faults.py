"""Fault-injection state of the simulator: which replies are held back, and which windows are open.

Plain objects with no I/O: the server asks them what to do and the control handle changes them.
Times are Trio clock values (``trio.current_time()``), passed in by the caller.
"""

from __future__ import annotations

import heapq
import itertools
import math

import attrs


@attrs.frozen
class HeldReply:
    """A post reply not yet sent, addressed to a connection by id (so a dropped one loses it)."""

    connection_id: int
    frame: str


@attrs.define
class Window:
    """A period during which a fault is active (silence, refusing connections)."""

    until: float = -math.inf

    def open_for(self, seconds: float, *, now: float) -> None:
        """Activate for ``seconds`` from ``now`` (``math.inf`` for good, 0 to end it now)."""
        if not seconds >= 0:  # also rejects NaN
            raise ValueError(f"seconds must be >= 0, got {seconds!r}")
        self.until = now + seconds

    def active(self, now: float) -> bool:
        return now < self.until

    def clear(self) -> None:
        self.until = -math.inf


@attrs.define
class ReplyFaults:
    """Post replies that are withheld until released, or delayed by a fixed time.

    Withholding wins over delaying; released replies go out at once, in the order they were held.
    """

    delay: float = 0.0
    withholding: bool = False
    _withheld: list[HeldReply] = attrs.field(factory=list)
    _delayed: list[tuple[float, int, HeldReply]] = attrs.field(factory=list)
    _order: itertools.count[int] = attrs.field(factory=itertools.count)

    def set_delay(self, seconds: float) -> None:
        if not (seconds >= 0 and math.isfinite(seconds)):
            raise ValueError(f"seconds must be a finite number >= 0, got {seconds!r}")
        self.delay = seconds

    def hold(self, connection_id: int, frame: str, *, now: float) -> bool:
        """Keep the reply back if a fault says so; False means: send it now."""
        reply = HeldReply(connection_id, frame)
        if self.withholding:
            self._withheld.append(reply)
            return True
        if self.delay > 0:
            heapq.heappush(self._delayed, (now + self.delay, next(self._order), reply))
            return True
        return False

    def release_withheld(self) -> list[HeldReply]:
        """Stop withholding and hand back everything withheld so far, oldest first."""
        self.withholding = False
        released, self._withheld = self._withheld, []
        return released

    @property
    def withheld_count(self) -> int:
        return len(self._withheld)

    def next_due(self) -> float | None:
        """When the earliest delayed reply is due, or None when nothing is delayed."""
        return self._delayed[0][0] if self._delayed else None

    def pop_due(self, *, now: float) -> list[HeldReply]:
        """The delayed replies whose time has come, in the order they were delayed."""
        due: list[HeldReply] = []
        while self._delayed and self._delayed[0][0] <= now:
            due.append(heapq.heappop(self._delayed)[2])
        return due

    def forget(self, connection_id: int) -> None:
        """Drop every reply held for a connection that is gone."""
        self._withheld = [r for r in self._withheld if r.connection_id != connection_id]
        self._delayed = [d for d in self._delayed if d[2].connection_id != connection_id]
        heapq.heapify(self._delayed)

    def clear(self) -> None:
        """Back to normal: no delay, no withholding, nothing held."""
        self.delay = 0.0
        self.withholding = False
        self._withheld = []
        self._delayed = []


@attrs.define
class FaultState:
    """Everything the control handle can switch on; the server and the feed consult it."""

    replies: ReplyFaults = attrs.field(factory=ReplyFaults)
    silence: Window = attrs.field(factory=Window)
    """While active: no market-data frames at all, and the feed stands still."""
    refusal: Window = attrs.field(factory=Window)
    """While active: new WebSocket handshakes are rejected with HTTP 503."""
    feed_paused: bool = False

    def clear(self) -> None:
        """What a restarted exchange forgets: held replies and every active window."""
        self.replies.clear()
        self.silence.clear()
        self.refusal.clear()
