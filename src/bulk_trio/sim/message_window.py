"""The exchange's message-rate limit as the simulator enforces it, without I/O.

BULK disconnects a connection that sends more than 1,000 messages per second (docs/protocol.md).
How the exchange counts is not documented; the simulator takes the strictest reading, a sliding
window: a message is over the limit when the ``limit`` messages before it all arrived less than
one second earlier. A client that keeps under the limit in every window (the client's
``TokenBucket`` does) is never cut off; one that bursts above it is, in tests as live.
"""

from __future__ import annotations

from collections import deque


class MessageWindow:
    """Arrival times of a connection's last ``limit`` messages."""

    __slots__ = ("_arrivals", "_limit", "_seconds")

    def __init__(self, limit: int, seconds: float = 1.0) -> None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit!r}")
        self._limit = limit
        self._seconds = seconds
        self._arrivals: deque[float] = deque(maxlen=limit)

    def allow(self, now: float) -> bool:
        """Count a message arriving at ``now``; False when it is one too many for the window
        (it is not counted then: the connection is about to be closed anyway)."""
        arrivals = self._arrivals
        if len(arrivals) == self._limit and now - arrivals[0] < self._seconds:
            return False
        arrivals.append(now)
        return True
