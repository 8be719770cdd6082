"""BULK's signed-byte format: bincode with fixed-width little-endian integers (docs/protocol.md).

Each function returns the bytes of one value; an action body is these pieces joined. ``Layout``
names the message layouts of docs/protocol.md ("The signed bytes"), which differ in an envelope
prefix and in a few optional trailing fields of order bodies.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Callable, Sequence

from ..base58 import decode_32
from ..fixedpoint import to_fixed

U32_MAX = 2**32 - 1
U64_MAX = 2**64 - 1

_U8 = struct.Struct("<B").pack
_I16 = struct.Struct("<h").pack
_U32 = struct.Struct("<I").pack
_U64 = struct.Struct("<Q").pack
_F64 = struct.Struct("<d").pack

TRUE = b"\x01"
FALSE = b"\x00"
NONE = b"\x00"
SOME = b"\x01"


class Layout(enum.Enum):
    """A message layout ("signing schema"); the value is the envelope's version byte (0 = none).

    Members are declared in keychain 0.1.31's order of precedence: when several features are
    present, the one with the highest value decides (see ``signing.choose_layout``). V6 has only
    been observed for transfers; order bodies under V6 are assumed to take their V4 shapes.
    """

    LEGACY = 0
    V2 = 2
    V3 = 3
    V4 = 4
    V6 = 6

    @property
    def is_versioned(self) -> bool:
        return self is not Layout.LEGACY

    @property
    def prefix(self) -> bytes:
        """Eight 0xFF bytes, ``bulk-actions``, the version byte; empty for the legacy layout.

        Eight 0xFF bytes read as a u64 action count are impossible: that is how the two differ.
        """
        return _PREFIXES[self]


_PREFIXES = {
    layout: (b"\xff" * 8 + b"bulk-actions" + bytes([layout.value])) if layout.value else b""
    for layout in Layout
}


def u8(value: int) -> bytes:
    return _packed(_U8, value, "u8")


def i16(value: int) -> bytes:
    return _packed(_I16, value, "i16")


def u32(value: int) -> bytes:
    return _packed(_U32, value, "u32")


def u64(value: int) -> bytes:
    return _packed(_U64, value, "u64")


def boolean(value: bool) -> bytes:
    return TRUE if value else FALSE


def f64(value: float) -> bytes:
    """IEEE-754 binary64, as the exchange writes modify sizes, leverages and faucet amounts."""
    return _F64(value)


def fx(value: float, *, field: str = "value") -> bytes:
    """The 1e8 fixed point of a price or size as a u64 (``fixedpoint.to_fixed``)."""
    return _U64(to_fixed(value, field=field))


def string(text: str) -> bytes:
    """u64 length in UTF-8 *bytes* (not characters), then the UTF-8 bytes."""
    data = text.encode("utf-8")
    return _U64(len(data)) + data


def vec(items: Sequence[bytes]) -> bytes:
    """u64 element count, then the already-encoded elements."""
    return _U64(len(items)) + b"".join(items)


def option(encoded: bytes | None) -> bytes:
    """``00`` for None, ``01`` followed by the already-encoded value otherwise."""
    return NONE if encoded is None else SOME + encoded


def packer(fields: str) -> Callable[..., bytes]:
    """One call that writes several fixed-width fields, e.g. ``packer("?QQI??")``.

    Formats are :mod:`struct` codes, little-endian and unpadded: ``?`` bool, ``B`` u8, ``h`` i16,
    ``I`` u32, ``Q`` u64, ``d`` f64. Hot bodies use it: one call instead of one per field.
    """
    return struct.Struct("<" + fields).pack


def pubkey(text: str, *, field: str = "pubkey") -> bytes:
    """The 32 raw bytes of a base58 public key or order id (no length prefix)."""
    return decode_32(text, field=field)


def _packed(pack: Callable[[int], bytes], value: int, kind: str) -> bytes:
    try:
        return pack(value)
    except struct.error:
        raise ValueError(f"{value!r} does not fit in a {kind}") from None
