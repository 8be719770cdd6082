"""Small input rules shared across the core: one definition each, so they cannot drift apart.

* :func:`check_symbol` is the one symbol rule of actions and subscriptions alike;
* :func:`finite` is the one "a real, finite number" rule of actions and the inventory;
* :func:`json_type` names a decoded JSON value in error messages (codec and simulator).
"""

from __future__ import annotations

import math
import numbers

__all__ = ["check_symbol", "finite", "json_type"]

# Symbols seen valid once; a bot sends the same few symbols on every order.
_KNOWN_SYMBOLS: set[str] = set()
_MAX_KNOWN_SYMBOLS = 4096


def check_symbol(symbol: object, *, field: str = "symbol") -> str:
    """``symbol`` if it is a non-empty UTF-8 string without whitespace, else ``ValueError``.

    Whitespace is refused because topic strings (``ticker.<symbol>``) and the exchange's symbols
    never contain it: ``"BTC USD"`` is always a typo.
    """
    if isinstance(symbol, str) and symbol in _KNOWN_SYMBOLS:
        return symbol
    if not isinstance(symbol, str) or not symbol:
        raise ValueError(f"{field} must be a non-empty string, got {symbol!r}")
    if any(char.isspace() for char in symbol):
        raise ValueError(f"{field} must not contain whitespace, got {symbol!r}")
    try:
        symbol.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{field} is not encodable as UTF-8") from None
    if len(_KNOWN_SYMBOLS) < _MAX_KNOWN_SYMBOLS:
        _KNOWN_SYMBOLS.add(symbol)
    return symbol


def finite(value: object, field: str) -> float:
    """``value`` as a finite float; ``ValueError`` naming ``field`` for anything else.

    Only real numbers count: not a bool, not a numeric string.
    """
    if isinstance(value, float):
        if math.isfinite(value):
            return float(value)
        raise ValueError(f"{field} must be a finite number, got {value!r}")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{field} must be a number, got {value!r}")
    try:
        number = float(value)
    except (OverflowError, ValueError):
        raise ValueError(f"{field} must be a finite number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{field} must be a finite number, got {value!r}")
    return number


def json_type(value: object) -> str:
    """A short description of a decoded JSON value for an error message (``number 1.5``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return f"number {value!r}"
    if isinstance(value, str):
        return f"string {value[:40]!r}"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__
