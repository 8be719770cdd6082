"""The exchange's per-connection limits, and the client's side of them, without I/O.

BULK disconnects a connection that sends more than 1,000 messages in a second or holds more than
100 subscriptions (docs/protocol.md). The client shapes what it sends with a :class:`TokenBucket`
so that a burst of orders is delayed, never refused and never cut off, and refuses a 101st
subscription with :func:`check_subscription_room` before anything is sent. Times are passed in
(seconds on any monotonic clock); the transport (shell/transport.py) does the waiting.
"""

from __future__ import annotations

from collections.abc import Iterable

EXCHANGE_MAX_MESSAGES_PER_SECOND = 1000
EXCHANGE_MAX_SUBSCRIPTIONS = 100
DEFAULT_MAX_MESSAGES_PER_SECOND = 900
"""The client's default: 10% under the exchange's limit, a margin for the network bunching up
messages that left evenly (the exchange counts them as they arrive)."""

_EPSILON = 1e-9  # refills are float sums: a token 1e-12 short of whole is whole


class TokenBucket:
    """At most ``limit`` messages in any one-second window, with bursts allowed.

    The bucket holds up to ``burst`` tokens (a tenth of the limit, at least one) and refills at
    ``limit - burst`` per second, so a window of one second never holds more than ``limit``
    messages: the burst it started with plus one second of refill.
    """

    __slots__ = ("_last", "_tokens", "burst", "rate")

    def __init__(self, limit: int, *, now: float) -> None:
        _check_integer_limit(limit)
        self.burst = max(1, limit // 10)
        self.rate = float(limit - self.burst)
        self._tokens = float(self.burst)
        self._last = now

    def take(self, now: float) -> float:
        """Take a token if one is there and return 0.0; otherwise take nothing and return the
        seconds until one will be (ask again then: another sender may have been first)."""
        if now > self._last:
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.rate)
            self._last = now
        if self._tokens >= 1.0 - _EPSILON:
            self._tokens = max(0.0, self._tokens - 1.0)
            return 0.0
        return (1.0 - self._tokens) / self.rate


def check_rate_limit(limit: int | None) -> None:
    """ValueError unless ``limit`` is None (no limiter) or a usable messages-per-second limit."""
    if limit is None:
        return
    _check_integer_limit(limit)
    if limit > EXCHANGE_MAX_MESSAGES_PER_SECOND:
        raise ValueError(
            f"max_messages_per_second={limit} is over the exchange's limit of "
            f"{EXCHANGE_MAX_MESSAGES_PER_SECOND} per connection: it would disconnect the client"
        )


def _check_integer_limit(limit: object) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 2:
        raise ValueError(f"max_messages_per_second must be an integer >= 2 or None, got {limit!r}")


def check_subscription_room(
    current: Iterable[str], new: Iterable[str], limit: int = EXCHANGE_MAX_SUBSCRIPTIONS
) -> None:
    """ValueError when subscribing to the topics ``new`` on top of ``current`` would hold more
    than ``limit`` distinct topics on one connection (the exchange disconnects above it)."""
    held = set(current)
    adding = set(new) - held
    total = len(held) + len(adding)
    if total > limit:
        raise ValueError(
            f"too many subscriptions: {total} topics on one connection, the exchange allows "
            f"{limit} and disconnects above that; unsubscribe from something first, or open "
            "another client for the rest"
        )
