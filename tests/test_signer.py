"""TransactionSigner: keys, nonces, payloads, agent signing, verification and key hygiene."""

from __future__ import annotations

import pickle
from typing import Any

import nacl.signing
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bulk_trio.actions import (
    BuilderCode,
    CancelAll,
    CancelOrder,
    LimitOrder,
    MarketOrder,
    StopOrder,
    action_from_wire,
)
from bulk_trio.enums import Side
from bulk_trio.protocol.keys import b58decode, b58encode
from bulk_trio.protocol.signing import (
    TransactionSigner,
    encode_message,
    order_id,
    order_ids,
    verify_signature,
)

FAST = settings(max_examples=60, deadline=None)

SEED = bytes(range(32))
SEED_B58 = b58encode(SEED)
PUBLIC = "FAe4sisG95oZ42w7buUn5qEE4TAnfTTFPiguZUHmhiF"
KEYPAIR_B58 = b58encode(SEED + b58decode(PUBLIC))
OTHER_PUBLIC = "GmaDrppBC7P5ARKV8g3djiwP89vz1jLK23V2GBjuAEGB"
SECRETS = [SEED_B58, KEYPAIR_B58, SEED.hex(), KEYPAIR_B58[:40]]

ORDER = LimitOrder("BTC-USD", Side.BUY, 100000.0, 0.1)


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


# ---------------------------------------------------------------------------------------------
# Keys


@pytest.mark.parametrize(
    "key",
    [SEED_B58, KEYPAIR_B58, SEED, SEED + b58decode(PUBLIC)],
    ids=["seed-base58", "keypair-base58", "seed-bytes", "keypair-bytes"],  # keys stay out of logs
)
def test_every_key_form_gives_the_same_account(key: str | bytes) -> None:
    signer = TransactionSigner(key)
    assert signer.public_key == PUBLIC
    assert signer.private_key == SEED_B58
    assert signer.domain == "mainnet"


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        (b58encode(SEED + b58decode(OTHER_PUBLIC)), "does not match"),
        (SEED_B58 + "0", "base58"),
        (SEED_B58[:-3], "32-byte seed or a 64-byte keypair"),
        (KEYPAIR_B58 + KEYPAIR_B58, "too long"),
        (12345, "base58 text or bytes"),
    ],
    ids=["mismatched-keypair", "bad-base58", "wrong-length", "too-long", "not-text"],
)
def test_bad_keys_are_refused_without_echoing_them(key: Any, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as caught:
        TransactionSigner(key)
    assert_no_secret(str(caught.value))
    assert str(key) not in str(caught.value)
    # Nothing chained either: a traceback must not show a decoder's error about the key.
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__


def test_repr_and_str_show_only_the_public_key_and_domain() -> None:
    for key in (SEED_B58, KEYPAIR_B58):
        signer = TransactionSigner(key, domain="testnet")
        for text in (repr(signer), str(signer), f"{signer}"):
            assert PUBLIC in text
            assert "testnet" in text
            assert_no_secret(text)


def test_signer_refuses_to_be_pickled() -> None:
    with pytest.raises(TypeError, match="private key") as caught:
        pickle.dumps(TransactionSigner(SEED_B58))
    assert_no_secret(str(caught.value))


def test_private_key_passed_as_account_is_not_echoed() -> None:
    signer = TransactionSigner(SEED_B58)
    with pytest.raises(ValueError, match="account") as caught:
        signer.sign_transaction(ORDER, account=KEYPAIR_B58)
    assert_no_secret(str(caught.value))


def test_generate_account_makes_distinct_working_keys() -> None:
    first = TransactionSigner.generate_account(domain="devnet")
    second = TransactionSigner.generate_account()
    assert first.public_key != second.public_key
    assert first.domain == "devnet"
    assert TransactionSigner(first.private_key).public_key == first.public_key


@pytest.mark.parametrize("domain", ["MAINNET", "prod", 1, ""])
def test_unknown_domain_is_refused(domain: Any) -> None:
    with pytest.raises(ValueError, match="domain"):
        TransactionSigner(SEED_B58, domain=domain)


def test_swapped_arguments_do_not_echo_the_key() -> None:
    with pytest.raises(ValueError, match="domain") as caught:
        TransactionSigner("mainnet", SEED_B58)
    assert_no_secret(str(caught.value))


def test_domains_change_only_the_last_byte() -> None:
    messages = {
        domain: TransactionSigner(SEED_B58, domain=domain).message_bytes(ORDER, nonce=7)
        for domain in ("mainnet", "testnet", "devnet", None)
    }
    legacy = messages[None]
    assert messages["mainnet"] == legacy + b"\x01"
    assert messages["testnet"] == legacy + b"\x02"
    assert messages["devnet"] == legacy + b"\x03"


# ---------------------------------------------------------------------------------------------
# Nonces


def test_nonces_increase_even_when_the_clock_stands_still(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bulk_trio.protocol.signing.time.time_ns", lambda: 1_000)
    signer = TransactionSigner(SEED_B58)
    assert [signer.next_nonce() for _ in range(3)] == [1_000, 1_001, 1_002]
    nonces = [signer.sign_transaction(ORDER)["nonce"] for _ in range(3)]
    assert nonces == [1_003, 1_004, 1_005]


@FAST
@given(st.lists(st.none() | st.integers(min_value=0, max_value=2**63), min_size=1, max_size=8))
def test_automatic_nonces_exceed_every_earlier_nonce(explicit: list[int | None]) -> None:
    signer = TransactionSigner(SEED_B58)
    used: list[int] = []
    for requested in explicit:
        nonce = signer.sign_transaction(ORDER, nonce=requested)["nonce"]
        if requested is None:
            assert all(nonce > earlier for earlier in used)
        else:
            assert nonce == requested
        used.append(nonce)


@pytest.mark.parametrize("nonce", [-1, 2**64, True, 1.0, "5"])
def test_bad_nonce_is_refused(nonce: Any) -> None:
    with pytest.raises(ValueError, match="nonce"):
        TransactionSigner(SEED_B58).sign_transaction(ORDER, nonce=nonce)


# ---------------------------------------------------------------------------------------------
# Payloads and signatures

symbols = st.sampled_from(["BTC-USD", "ETH-USD", "SOL-USD", "ÆØÅ-USD"])
sizes = st.floats(min_value=1e-8, max_value=1e6, allow_nan=False, allow_infinity=False)
hashes = st.binary(min_size=32, max_size=32).map(b58encode)
transactions = st.lists(
    st.one_of(
        st.builds(LimitOrder, symbols, st.sampled_from(Side), sizes, sizes),
        st.builds(
            MarketOrder, symbols, st.sampled_from(Side), sizes, slippage_bps=st.none() | sizes
        ),
        st.builds(CancelOrder, symbols, hashes),
        st.builds(CancelAll, st.lists(symbols, max_size=2)),
        st.builds(StopOrder, symbols, st.booleans(), sizes, sizes, st.none() | sizes),
    ),
    min_size=1,
    max_size=4,
)


@FAST
@given(
    transactions,
    st.integers(min_value=0, max_value=2**64 - 1),
    st.sampled_from(["mainnet", "testnet", "devnet", None]),
    st.booleans(),
)
def test_exchange_side_reencoding_verifies_with_pynacl(
    actions: list[Any], nonce: int, domain: str | None, as_agent: bool
) -> None:
    signer = TransactionSigner(SEED_B58, domain=domain)
    account = OTHER_PUBLIC if as_agent else None
    payload = signer.sign_transaction(actions, nonce=nonce, account=account)
    assert payload["signer"] == PUBLIC
    assert payload["account"] == (OTHER_PUBLIC if as_agent else PUBLIC)
    assert payload["nonce"] == nonce

    # What a server does: parse the JSON text and re-encode the signed bytes from it.
    received = orjson.loads(orjson.dumps(payload))
    message = encode_message(
        [action_from_wire(action) for action in received["actions"]],
        nonce=received["nonce"],
        account=received["account"],
        domain=domain,
    )
    assert message == signer.message_bytes(actions, nonce=nonce, account=account)
    verify_key = nacl.signing.VerifyKey(b58decode(received["signer"]))
    verify_key.verify(message, b58decode(received["signature"]))
    assert verify_signature(message, received["signature"], received["signer"])
    tampered = message[:-1] + bytes([message[-1] ^ 1])
    assert not verify_signature(tampered, received["signature"], received["signer"])


def test_agent_signing_puts_the_account_in_message_and_order_id() -> None:
    signer = TransactionSigner(SEED_B58)
    own = signer.message_bytes(ORDER, nonce=5)
    as_agent = signer.message_bytes(ORDER, nonce=5, account=OTHER_PUBLIC)
    assert own[-33:-1] == b58decode(PUBLIC)
    assert as_agent[-33:-1] == b58decode(OTHER_PUBLIC)
    assert order_id(ORDER, seqno=0, nonce=5, account=OTHER_PUBLIC) != order_id(
        ORDER, seqno=0, nonce=5, account=PUBLIC
    )


def test_a_single_action_is_a_one_action_transaction() -> None:
    signer = TransactionSigner(SEED_B58)
    assert signer.sign_transaction(ORDER, nonce=9) == signer.sign_transaction([ORDER], nonce=9)


@pytest.mark.parametrize(
    "actions",
    [[], [{"l": {}}], "BTC-USD", None],
)
def test_bad_action_lists_are_refused(actions: Any) -> None:
    with pytest.raises(ValueError, match="actions"):
        TransactionSigner(SEED_B58).sign_transaction(actions)
    with pytest.raises(ValueError, match="actions"):
        encode_message(actions, nonce=1, account=PUBLIC, domain="mainnet")


garbage = st.one_of(
    st.none(), st.integers(), st.text(max_size=100), st.binary(max_size=100), st.just("1" * 10_000)
)


@FAST
@given(garbage, garbage, garbage)
def test_verify_signature_never_raises(message: Any, signature: Any, signer: Any) -> None:
    assert verify_signature(message, signature, signer) is False


def test_verify_signature_refuses_a_wrong_signer() -> None:
    signer = TransactionSigner(SEED_B58)
    payload = signer.sign_transaction(ORDER, nonce=3)
    message = signer.message_bytes(ORDER, nonce=3)
    assert verify_signature(message, payload["signature"], PUBLIC)
    assert not verify_signature(message, payload["signature"], OTHER_PUBLIC)


# ---------------------------------------------------------------------------------------------
# Order ids


def test_order_ids_follow_the_transaction_index() -> None:
    actions = [CancelAll(), ORDER, MarketOrder("BTC-USD", "sell", 1), StopOrder("X", True, 1, 1)]
    ids = order_ids(actions, nonce=11, account=PUBLIC)
    assert ids[0] is None
    assert ids[3] is None
    assert ids[1] == order_id(ORDER, seqno=1, nonce=11, account=PUBLIC)
    assert ids[1] != order_id(ORDER, seqno=0, nonce=11, account=PUBLIC)
    assert len(set(ids[1:3])) == 2


def test_builder_code_does_not_change_the_order_id() -> None:
    coded = LimitOrder("BTC-USD", Side.BUY, 100000.0, 0.1, builder_code=BuilderCode(PUBLIC, 3))
    assert order_id(coded, seqno=0, nonce=1, account=PUBLIC) == order_id(
        ORDER, seqno=0, nonce=1, account=PUBLIC
    )


@pytest.mark.parametrize("seqno", [-1, 2**32, True])
def test_bad_seqno_is_refused(seqno: Any) -> None:
    with pytest.raises(ValueError, match="seqno"):
        order_id(ORDER, seqno=seqno, nonce=1, account=PUBLIC)
