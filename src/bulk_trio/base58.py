"""Bitcoin-alphabet base58, the text form of every public key, order id and signature on BULK.

A core helper (no protocol knowledge): the action models validate public keys with it and
``protocol`` encodes signatures with it. The signature of every transaction is encoded here, on
the signing hot path, so the encoder works four base58 digits at a time: ``58**4`` fits in one
CPython internal digit (30 bits), which keeps each big-number division on CPython's single-digit
fast path, and a table turns each half of a four-digit chunk into two characters at once.
"""

from __future__ import annotations

import functools

__all__ = ["ALPHABET", "b58decode", "b58encode", "decode_32"]

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_DIGIT_VALUES = {char: value for value, char in enumerate(ALPHABET)}
_DIGIT_PAIRS = [high + low for high in ALPHABET for low in ALPHABET]
_PAIR_BASE = 58**2
_CHUNK_BASE = 58**4  # 11_316_496 < 2**30: one CPython digit

# The longest base58 text of 32 bytes is ceil(32 * log(256) / log(58)) = 44 characters.
_MAX_TEXT_32 = 44


def b58encode(data: bytes) -> str:
    """Base58 text of ``data``; every leading zero byte becomes a leading ``1``."""
    significant = data.lstrip(b"\0")
    number = int.from_bytes(significant, "big")
    pairs = _DIGIT_PAIRS
    out: list[str] = []
    append = out.append
    while number:
        number, chunk = divmod(number, _CHUNK_BASE)
        # % and // of a one-digit int are cheaper than a divmod that builds a tuple.
        append(pairs[chunk % _PAIR_BASE])
        append(pairs[chunk // _PAIR_BASE])
    out.reverse()
    # The last chunk is zero-padded; a zero digit is "1", and the number itself starts non-zero.
    digits = "".join(out).lstrip("1")
    return "1" * (len(data) - len(significant)) + digits


def b58decode(text: str) -> bytes:
    """The bytes of base58 ``text``. Raises ``ValueError`` (without echoing ``text``) if invalid."""
    if not isinstance(text, str):
        raise ValueError(f"expected base58 text, got {type(text).__name__}")
    number = 0
    try:
        for char in text:
            number = number * 58 + _DIGIT_VALUES[char]
    except KeyError:
        raise ValueError("not valid base58 text") from None
    leading_zeros = len(text) - len(text.lstrip("1"))
    return b"\0" * leading_zeros + number.to_bytes((number.bit_length() + 7) // 8, "big")


@functools.lru_cache(maxsize=4096)
def _decode_32(text: str) -> bytes:
    if len(text) > _MAX_TEXT_32:
        raise ValueError("too long for 32 bytes")
    raw = b58decode(text)
    if len(raw) != 32:
        raise ValueError(f"decodes to {len(raw)} bytes, not 32")
    return raw


def decode_32(text: object, *, field: str) -> bytes:
    """The 32 raw bytes of a base58 public key or order id; ``ValueError`` naming ``field``.

    Results are cached: the same accounts, agents and order ids come back again and again.
    """
    if not isinstance(text, str):
        raise ValueError(f"{field} must be a base58 string, got {type(text).__name__}")
    try:
        return _decode_32(text)
    except ValueError as error:
        # Not echoed: a private key pasted into the wrong field must not end up in a log.
        raise ValueError(f"{field} must be base58 of exactly 32 bytes ({error})") from None
