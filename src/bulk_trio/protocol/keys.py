"""Ed25519 key material (docs/protocol.md): private keys in their accepted forms, public keys.

The base58 codec lives in :mod:`bulk_trio.base58` and is re-exported here for existing imports.
"""

from __future__ import annotations

import nacl.bindings

from ..base58 import ALPHABET, b58decode, b58encode, decode_32

__all__ = [
    "ALPHABET",
    "PUBLIC_KEY_SIZE",
    "SEED_SIZE",
    "SIGNATURE_SIZE",
    "b58decode",
    "b58encode",
    "decode_32",
    "parse_private_key",
    "public_key_of_seed",
]

# The longest base58 text of 64 bytes is ceil(64 * log(256) / log(58)) = 88 characters.
_MAX_TEXT_64 = 88

SEED_SIZE = 32
PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64


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
