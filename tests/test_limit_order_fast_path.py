"""The fast paths of a one-limit-order transaction equal the general ones, byte for byte.

``LimitOrder`` writes its slots directly when every argument is already valid, and
``TransactionSigner.sign_transaction`` writes the message of a lone limit order in one ``struct``
call (benchmarks/bench_signing.py). Neither may change what a user gets: the same order, the same
signed bytes and payload, and for bad input the same ``ValueError`` naming the field.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nacl.signing import SigningKey

from bulk_trio.actions import (
    LimitOrder,
    _builder_code,
    _flag,
    _quantity,
    _side,
    _symbol,
    _time_in_force,
)
from bulk_trio.base58 import b58encode, decode_32
from bulk_trio.enums import Side, TimeInForce
from bulk_trio.protocol.action_bytes import single_limit_message
from bulk_trio.protocol.signing import DOMAINS, TransactionSigner, encode_message

SEED = bytes(range(32))

symbols = st.sampled_from(["BTC-USD", "ETH-USD", "SOL-USD", "Ü-USD"])
sides = st.sampled_from([Side.BUY, Side.SELL])
# Floats around and beyond the fast path's bounds (one tick, 1e11) as well as ordinary ones.
quantities = st.one_of(
    st.floats(min_value=1e-9, max_value=1e12, allow_nan=False, allow_infinity=False),
    st.sampled_from([5e-9, 4.9999999e-9, 1e-8, 1e11 - 1e-5, 1e11, 1.8e11, 0.1, 100000.0]),
)
flags = st.booleans()
tifs = st.sampled_from(list(TimeInForce))
order_arguments = st.tuples(symbols, sides, quantities, quantities, flags, tifs, flags)


def reference_order(*args: Any) -> LimitOrder:
    """The order as the validators alone build it: the general path."""
    symbol, side, price, size, reduce_only, tif, iso = args
    order = object.__new__(LimitOrder)
    order.__attrs_init__(
        _symbol(symbol),
        _side(side),
        _quantity(price, "price"),
        _quantity(size, "size"),
        _flag(reduce_only, "reduce_only"),
        _time_in_force(tif),
        _flag(iso, "iso"),
        _builder_code(None),
    )
    return order


def raised(call: Any) -> str | None:
    try:
        call()
    except ValueError as error:
        return str(error)
    return None


@given(order_arguments)
def test_fast_construction_equals_the_validated_one(args: tuple[Any, ...]) -> None:
    expected = raised(lambda: reference_order(*args))
    got = raised(lambda: LimitOrder(*args))
    assert got == expected
    if expected is None:
        order, reference = LimitOrder(*args), reference_order(*args)
        assert order == reference
        assert hash(order) == hash(reference)
        assert repr(order) == repr(reference)
        assert order.to_wire() == reference.to_wire()


bad_values = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, -1.0, 0.0, 1e-10, 2e11, True, "1.5", None]),
    st.floats(max_value=0.0),
)


@given(bad_values, st.sampled_from(["price", "size"]))
def test_bad_price_or_size_raises_the_validators_error(bad: Any, field: str) -> None:
    args: dict[str, Any] = {"price": 100.0, "size": 1.0, field: bad}
    with pytest.raises(ValueError, match=field) as caught:
        LimitOrder("BTC-USD", Side.BUY, args["price"], args["size"])
    assert str(caught.value) == raised(lambda: _quantity(bad, field))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"side": "up"}, "side"),
        ({"side": 1}, "side"),
        ({"reduce_only": 1}, "reduce_only"),
        ({"iso": None}, "iso"),
        ({"time_in_force": "FOK"}, "FOK"),
        ({"time_in_force": 0}, "time_in_force"),
        ({"symbol": "BTC USD"}, "symbol"),
        ({"symbol": ""}, "symbol"),
    ],
)
def test_bad_arguments_still_raise_naming_the_field(kwargs: dict[str, Any], field: str) -> None:
    arguments: dict[str, Any] = {"symbol": "BTC-USD", "side": Side.BUY, "price": 1.0, "size": 1.0}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=field):
        LimitOrder(**arguments)


def test_string_arguments_take_the_general_path_to_the_same_order() -> None:
    fast = LimitOrder("BTC-USD", Side.SELL, 101.5, 0.25, time_in_force=TimeInForce.IOC)
    assert LimitOrder("BTC-USD", "sell", 101.5, 0.25, time_in_force="IOC") == fast
    assert LimitOrder("BTC-USD", Side.SELL, 101.5, 0.25, False, "IOC") == fast


nonces = st.integers(min_value=0, max_value=2**64 - 1)
domains = st.sampled_from(["mainnet", "testnet", "devnet", None])


@given(order_arguments, nonces, domains)
def test_fast_signing_equals_the_general_path(
    order_args: tuple[Any, ...], nonce: int, domain: str | None
) -> None:
    try:
        order = LimitOrder(*order_args)
    except ValueError:
        return  # out of range for the 1e8 fixed point; covered above
    signer = TransactionSigner(SEED, domain=domain)
    # The reference payload from the general message builder and PyNaCl's own signing key.
    message = encode_message([order], nonce=nonce, account=signer.public_key, domain=domain)
    expected = {
        "actions": [order.to_wire()],
        "nonce": nonce,
        "account": signer.public_key,
        "signer": signer.public_key,
        "signature": b58encode(SigningKey(SEED).sign(message).signature),
    }
    # Every form of the call that means "one limit order for my own account", including the
    # one-element list with account= that the client's place_limit_order passes.
    assert signer.sign_transaction(order, nonce=nonce) == expected
    assert signer.sign_transaction([order], nonce=nonce, account=signer.public_key) == expected
    assert signer.sign_transaction((order,), nonce=nonce) == expected
    assert signer.message_bytes(order, nonce=nonce) == message
    account = decode_32(signer.public_key, field="account")
    tail = account + (bytes([DOMAINS[domain]]) if domain else b"")
    assert single_limit_message(order, nonce, tail) == message


@given(order_arguments, nonces, domains)
def test_an_agent_signing_for_another_account_signs_that_account(
    order_args: tuple[Any, ...], nonce: int, domain: str | None
) -> None:
    try:
        order = LimitOrder(*order_args)
    except ValueError:
        return
    agent = TransactionSigner(SEED, domain=domain)
    account = TransactionSigner(bytes(32)).public_key
    message = encode_message([order], nonce=nonce, account=account, domain=domain)
    for actions in (order, [order]):
        payload = agent.sign_transaction(actions, nonce=nonce, account=account)
        assert payload["account"] == account
        assert payload["signer"] == agent.public_key
        assert payload["signature"] == b58encode(SigningKey(SEED).sign(message).signature)
    with pytest.raises(ValueError, match="account"):
        agent.sign_transaction(order, nonce=nonce, account="not base58 0OIl")


def test_fast_signing_uses_a_fresh_nonce_per_order() -> None:
    signer = TransactionSigner(SEED)
    payloads = [signer.sign_transaction(LimitOrder("BTC-USD", Side.BUY, 100.0, 0.1)) for _ in "ab"]
    assert payloads[0]["nonce"] < payloads[1]["nonce"]
    assert payloads[0]["signature"] != payloads[1]["signature"]


def test_an_explicit_nonce_beyond_u64_is_refused_before_signing() -> None:
    signer = TransactionSigner(SEED)
    with pytest.raises(ValueError, match="nonce"):
        signer.sign_transaction(LimitOrder("BTC-USD", Side.BUY, 100.0, 0.1), nonce=2**64)
