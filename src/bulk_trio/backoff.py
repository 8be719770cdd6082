"""How long to wait before the next reconnect attempt (docs/guides/lifecycle.md). Sans-IO.

The delays are 1, 2, 4, ... seconds capped at 30, each scaled by a random jitter factor so that
many clients dropped at once do not all come back in the same instant. A connection that stayed up
for a healthy period starts the sequence again; one that dropped quickly does not, so a server
that accepts and then immediately drops us still gets the full backoff.
"""

from __future__ import annotations

import math
from random import Random

from .errors import ReconnectGaveUp


class Backoff:
    """The reconnect delay sequence. The caller owns the clock and the sleeping."""

    def __init__(
        self,
        initial: float = 1.0,
        factor: float = 2.0,
        maximum: float = 30.0,
        jitter: float = 0.1,
        healthy_after: float = 60.0,
        max_attempts: int | None = None,
        random: Random | None = None,
    ) -> None:
        _require("initial", initial, initial > 0, "> 0")
        _require("factor", factor, factor >= 1, ">= 1")
        _require("maximum", maximum, maximum >= initial, ">= initial")
        _require("jitter", jitter, 0 <= jitter < 1, "in [0, 1)")
        _require("healthy_after", healthy_after, healthy_after >= 0, ">= 0")
        if max_attempts is not None and (
            isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 0
        ):
            raise ValueError(f"max_attempts must be None or an integer >= 0, not {max_attempts!r}")
        self._initial = float(initial)
        self._factor = float(factor)
        self._maximum = float(maximum)
        self._jitter = float(jitter)
        self._healthy_after = float(healthy_after)
        self._max_attempts = max_attempts
        self._random = random if random is not None else Random()
        self._attempts = 0
        # Kept as running state rather than initial * factor**attempts: after ~1000 attempts
        # (8 hours at the cap) the power would overflow a float.
        self._next_base = self._initial
        self._connected_at: float | None = None

    @property
    def attempts(self) -> int:
        """Delays handed out since the sequence last started (at creation or after a reset)."""
        return self._attempts

    def next_delay(self) -> float:
        """The seconds to wait before the next attempt; raises :class:`ReconnectGaveUp` when
        ``max_attempts`` delays have already been handed out."""
        if self._max_attempts is not None and self._attempts >= self._max_attempts:
            raise ReconnectGaveUp(
                f"gave up reconnecting after {self._attempts} attempts (max_attempts)"
            )
        base = self._next_base
        self._next_base = min(base * self._factor, self._maximum)
        self._attempts += 1
        if not self._jitter:
            return base
        low, high = 1.0 - self._jitter, 1.0 + self._jitter
        # Clamped because uniform() may round a hair past its bounds.
        scale = min(max(self._random.uniform(low, high), low), high)
        return base * scale

    def connected(self, now: float) -> None:
        """A connection became usable at ``now`` (any monotonic clock, in seconds)."""
        self._connected_at = now

    def disconnected(self, now: float) -> None:
        """The connection ended at ``now``; restart the sequence if it had been up long enough.

        Calling it without a preceding :meth:`connected` (a failed connect) changes nothing.
        """
        connected_at, self._connected_at = self._connected_at, None
        if connected_at is not None and now - connected_at >= self._healthy_after:
            self.reset()

    def reset(self) -> None:
        """Start the sequence again at ``initial`` with no attempts counted."""
        self._attempts = 0
        self._next_base = self._initial


def _require(field: str, value: float, ok: bool, rule: str) -> None:
    if not ok or not math.isfinite(value):
        raise ValueError(f"{field} must be finite and {rule}, not {value!r}")
