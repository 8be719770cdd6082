"""The 1e8 fixed point that BULK uses for prices and sizes (docs/protocol.md, "FX").

``to_fixed`` is the one place that turns a float into ticks: the signer writes it into signed bytes
and the order book keys its levels by it, so a price means the same integer everywhere.
"""

from __future__ import annotations

import math

SCALE = 100_000_000
U64_MAX = 2**64 - 1
_FAST_LIMIT = 1e19  # far enough below U64_MAX (about 1.8e19) that rounding cannot overflow


def to_fixed(value: float, *, field: str = "value") -> int:
    """``round_half_away_from_zero(float(value) * 1e8)`` as Rust's ``f64::round`` computes it.

    The product is taken in binary64 (so ``0.1`` gives 10000000 and ``2.69500001`` gives 269500001);
    only exact .5 products differ from Python's ``round`` (half to even). Raises ``ValueError``
    naming ``field`` for NaN, infinities, negatives and values beyond u64.
    """
    if type(value) is float:
        # The common case, without the checks below: a float whose product is in range.
        product = value * SCALE
        if 0.0 <= product < _FAST_LIMIT:
            whole = int(product)
            return whole + 1 if product - whole >= 0.5 else whole
    if isinstance(value, bool):
        raise ValueError(f"{field} must be a number, not a bool")
    try:
        product = float(value) * SCALE
    except (TypeError, ValueError):
        raise ValueError(f"{field} must be a number, got {value!r}") from None
    if not math.isfinite(product):
        raise ValueError(f"{field} must be finite, got {value!r}")
    if product < 0:
        raise ValueError(f"{field} must not be negative, got {value!r}")
    whole = math.floor(product)
    # product - whole is exact in binary64, so the half-way test is exact too.
    ticks = whole + 1 if product - whole >= 0.5 else whole
    if ticks > U64_MAX:
        limit = U64_MAX / SCALE
        raise ValueError(f"{field} {value!r} overflows the 1e8 fixed point (max {limit:g})")
    return ticks


def from_fixed(ticks: int) -> float:
    """The float nearest to ``ticks / 1e8``."""
    return ticks / SCALE
