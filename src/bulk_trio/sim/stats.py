"""The simulator's counters, for tests and benchmarks."""

from __future__ import annotations

import attrs


@attrs.define
class SimStats:
    """Counters for tests and benchmarks. They only ever grow."""

    frames_sent: int = 0
    posts_handled: int = 0
    bad_requests: int = 0
    """Requests answered with an ``error`` frame."""
    connections_accepted: int = 0
    connections_refused: int = 0
    connections_dropped: int = 0
    """Connections closed by fault injection (drop_connections, drop_after, restart)."""
    slow_disconnects: int = 0
    """Connections closed because their send queue overflowed."""
    limit_disconnects: int = 0
    """Connections closed for sending too many messages per second or subscribing too much."""
    ping_timeouts: int = 0
    feed_steps: int = 0
