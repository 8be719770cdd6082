"""Base58 text and Ed25519 key material (docs/protocol.md).

BULK writes every public key, order id and signature as Bitcoin-alphabet base58. The encoder here
works on whole 10-digit chunks because encoding the 64-byte signature digit by digit costs about as
much as computing the signature itself.
"""

from __future__ import annotations

import functools

import nacl.bindings

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_DIGIT_VALUES = {char: value for value, char in enumerate(ALPHABET)}
_DIGIT_PAIRS = [high + low for high in ALPHABET for low in ALPHABET]
_PAIR_BASE = 58**2
_CHUNK_BASE = 58**10  # five digit pairs; still a machine-sized int

# The longest base58 text of n bytes is ceil(n * log(256) / log(58)) characters.
_MAX_TEXT_32 = 44
_MAX_TEXT_64 = 88

SEED_SIZE = 32
PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64


def b58encode(data: bytes) -> str:
    """Base58 text of ``data``; every leading zero byte becomes a leading ``1``."""
    significant = data.lstrip(b"\0")
    number = int.from_bytes(significant, "big")
    pairs: list[str] = []
    while number:
        number, chunk = divmod(number, _CHUNK_BASE)
        # Unrolled: five pairs per chunk, least significant first.
        chunk, p0 = divmod(chunk, _PAIR_BASE)
        chunk, p1 = divmod(chunk, _PAIR_BASE)
        chunk, p2 = divmod(chunk, _PAIR_BASE)
        p4, p3 = divmod(chunk, _PAIR_BASE)
        pairs += (
            _DIGIT_PAIRS[p0],
            _DIGIT_PAIRS[p1],
            _DIGIT_PAIRS[p2],
            _DIGIT_PAIRS[p3],
            _DIGIT_PAIRS[p4],
        )
    pairs.reverse()
    # The last chunk is zero-padded; a zero digit is "1", and the number itself starts non-zero.
    digits = "".join(pairs).lstrip("1")
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


def public_key_of_seed(seed: bytes) -> bytes:
    """The Ed25519 public key of a 32-byte seed."""
    public_key, _ = nacl.bindings.crypto_sign_seed_keypair(seed)
    return bytes(public_key)


def parse_private_key(private_key: str | bytes) -> bytes:
    """The 32-byte Ed25519 seed held by ``private_key``.

    Accepts base58 text or raw bytes of either a 32-byte seed or a 64-byte Solana keypair
    (seed ‖ public key). A keypair whose second half is not the seed's public key is refused, as the
    newest official signers do. Error messages never contain the key.
    """
    if isinstance(private_key, str):
        if len(private_key) > _MAX_TEXT_64:
            raise ValueError("private_key is too long to be a 32-byte seed or a 64-byte keypair")
        try:
            raw = b58decode(private_key)
        except ValueError:
            raise ValueError("private_key is not valid base58") from None
    elif isinstance(private_key, bytes | bytearray | memoryview):
        raw = bytes(private_key)
    else:
        raise ValueError(
            f"private_key must be base58 text or bytes, not {type(private_key).__name__}"
        )
    if len(raw) == SEED_SIZE:
        return raw
    if len(raw) == SEED_SIZE + PUBLIC_KEY_SIZE:
        seed, public_key = raw[:SEED_SIZE], raw[SEED_SIZE:]
        if public_key_of_seed(seed) != public_key:
            raise ValueError("private_key is a 64-byte keypair whose public half does not match")
        return seed
    raise ValueError(
        f"private_key must be a 32-byte seed or a 64-byte keypair, not {len(raw)} bytes"
    )
