"""An order-id oracle for simulator tests that shares no code with the client.

Written from docs/protocol.md ("Order ids" and "The signed bytes") alone: struct packing, hashlib
and a base58 written here, so that an id computed wrongly by ``bulk_trio.protocol.signing`` (which
the simulator uses) cannot agree with it. ``tests/test_sim_engine.py`` checks it against the
published vectors in ``tests/data/vectors.json``.
"""

from __future__ import annotations

import hashlib
import math
import struct

_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_TIF_ORDINALS = {"GTC": 0, "IOC": 1, "ALO": 2}
_MARKET, _LIMIT = 0, 1


def base58(raw: bytes) -> str:
    number = int.from_bytes(raw, "big")
    digits = ""
    while number:
        number, digit = divmod(number, 58)
        digits = _ALPHABET[digit] + digits
    return "1" * (len(raw) - len(raw.lstrip(b"\0"))) + digits


def unbase58(text: str) -> bytes:
    number = 0
    for char in text:
        number = number * 58 + _ALPHABET.index(char)
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return b"\0" * (len(text) - len(text.lstrip("1"))) + body


def fixed(value: float) -> int:
    """u64 of round-half-away-from-zero(value * 1e8), the product taken in binary64."""
    return math.floor(float(value) * 1e8 + 0.5)


def _text(value: str) -> bytes:
    raw = value.encode()
    return struct.pack("<Q", len(raw)) + raw


def _order_id(discriminant: int, body: bytes, seqno: int, nonce: int, account: str) -> str:
    key = unbase58(account)
    assert len(key) == 32
    message = struct.pack("<II", seqno, discriminant) + body + key + struct.pack("<Q", nonce)
    return base58(hashlib.sha256(message).digest())


def limit_order_id(
    symbol: str,
    is_buy: bool,
    price: float,
    size: float,
    *,
    tif: str = "GTC",
    reduce_only: bool = False,
    iso: bool = False,
    seqno: int,
    nonce: int,
    account: str,
) -> str:
    body = _text(symbol) + struct.pack(
        "<?QQI??", is_buy, fixed(price), fixed(size), _TIF_ORDINALS[tif.upper()], reduce_only, iso
    )
    return _order_id(_LIMIT, body, seqno, nonce, account)


def market_order_id(
    symbol: str,
    is_buy: bool,
    size: float,
    *,
    reduce_only: bool = False,
    iso: bool = False,
    seqno: int,
    nonce: int,
    account: str,
) -> str:
    body = _text(symbol) + struct.pack("<?Q??", is_buy, fixed(size), reduce_only, iso)
    return _order_id(_MARKET, body, seqno, nonce, account)


def wire_order_id(
    action: dict[str, dict[str, object]], *, seqno: int, nonce: int, account: str
) -> str:
    """The id of a wire ``l`` or ``m`` action (docs/protocol.md JSON)."""
    ((tag, fields),) = action.items()
    common = {
        "reduce_only": bool(fields.get("r", False)),
        "iso": bool(fields.get("i", False)),
        "seqno": seqno,
        "nonce": nonce,
        "account": account,
    }
    symbol, is_buy, size = str(fields["c"]), bool(fields["b"]), float(fields["sz"])  # type: ignore[arg-type]
    if tag == "l":
        return limit_order_id(
            symbol,
            is_buy,
            float(fields["px"]),
            size,
            tif=str(fields["tif"]),
            **common,  # type: ignore[arg-type]
        )
    assert tag == "m"
    return market_order_id(symbol, is_buy, size, **common)  # type: ignore[arg-type]
