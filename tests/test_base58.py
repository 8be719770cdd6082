"""bulk-trio's base58 codec against an independent oracle, the ``base58`` package.

bulk-trio encodes every signature with its own codec (bulk_trio.base58: four digits per step,
several times faster than the package); the package is a test-only dependency and serves as the
reference the fast codec must agree with, byte for byte, on every input.
"""

from __future__ import annotations

import base58 as oracle
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bulk_trio.base58 import ALPHABET, b58decode, b58encode, decode_32

MANY = settings(max_examples=500, deadline=None)

# Leading zero bytes are the one irregular case of base58 (each becomes a "1"), so they are drawn
# on purpose; 32 and 64 bytes are the sizes of keys, order ids and signatures.
with_leading_zeros = st.tuples(st.integers(0, 4), st.binary(max_size=70)).map(
    lambda parts: b"\0" * parts[0] + parts[1]
)
keys_and_signatures = st.sampled_from([32, 64]).flatmap(
    lambda size: st.binary(min_size=size, max_size=size)
)


@MANY
@given(st.one_of(with_leading_zeros, keys_and_signatures))
@example(b"")
@example(b"\0")
@example(b"\0" * 64)
@example(b"\xff" * 64)
@example(b"\0\0\x01")
def test_encoding_matches_the_oracle(data: bytes) -> None:
    assert b58encode(data) == oracle.b58encode(data).decode("ascii")


@MANY
@given(st.one_of(with_leading_zeros, keys_and_signatures))
def test_decoding_matches_the_oracle_and_round_trips(data: bytes) -> None:
    text = oracle.b58encode(data).decode("ascii")
    assert b58decode(text) == oracle.b58decode(text) == data


@MANY
@given(st.text(ALPHABET, max_size=90))
def test_any_base58_text_decodes_like_the_oracle(text: str) -> None:
    assert b58decode(text) == oracle.b58decode(text)


@pytest.mark.parametrize("text", ["0", "O", "I", "l", "abc+"])
def test_characters_outside_the_alphabet_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not valid base58"):
        b58decode(text)
    with pytest.raises(ValueError, match="Invalid character"):
        oracle.b58decode(text)


def test_non_ascii_text_is_refused() -> None:
    with pytest.raises(ValueError, match="not valid base58"):
        b58decode("ü")


def test_decode_32_names_the_field_and_never_echoes_the_text() -> None:
    secret = oracle.b58encode(bytes(range(64))).decode()
    with pytest.raises(ValueError, match="account") as refused:
        decode_32(secret, field="account")
    assert secret not in str(refused.value)
