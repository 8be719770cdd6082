"""When an HTTP read is tried again, and after how long (docs/http-api.md, decisions 12 and 13).

Sans-IO: the shell asks, sleeps and retries. Reads are retried on 408, 429 and 5xx and on network
failures; a ``POST /order`` never is (its outcome would be unknown, see
:class:`~bulk_trio.errors.OrderOutcomeUnknown`).
"""

from __future__ import annotations

import math

import attrs

__all__ = ["RetryPolicy", "is_retryable_status"]


def is_retryable_status(status: int) -> bool:
    """408 (the executor did not answer in time), 429 (rate limited) and any 5xx."""
    return status in (408, 429) or 500 <= status <= 599


def _retry_after_seconds(header: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header given as a number (an HTTP date is ignored)."""
    if header is None:
        return None
    try:
        seconds = float(header.strip())
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """``retries`` more attempts after the first, ``base * 2**n`` seconds apart, at most ``cap``.

    A server's ``Retry-After`` wins when it asks for longer, still capped at ``cap``.
    """

    retries: int = 3
    base: float = 0.25
    cap: float = 8.0

    def __attrs_post_init__(self) -> None:
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or self.retries < 0:
            raise ValueError(f"retries must be an integer >= 0, got {self.retries!r}")
        for name in ("base", "cap"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number of seconds >= 0, got {value!r}")

    def delay(self, attempt: int, retry_after: str | None = None) -> float | None:
        """Seconds to wait before attempt ``attempt + 1`` (``attempt`` counts from 0), or None
        when no attempts are left."""
        if attempt >= self.retries:
            return None
        wanted = float(self.base * 2.0**attempt)
        asked = _retry_after_seconds(retry_after)
        if asked is not None:
            wanted = max(wanted, asked)
        return min(wanted, self.cap)
