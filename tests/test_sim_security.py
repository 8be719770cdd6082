"""Admission of signed transactions by the simulator engine (docs/protocol.md: "The signed bytes",
"Reconnection and nonces")."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bulk_trio.actions import (
    AgentWallet,
    CancelAll,
    CancelOrder,
    Faucet,
    LimitOrder,
    MarketOrder,
    ModifyOrder,
    OraclePrice,
    StopOrder,
    UpdateLeverage,
)
from bulk_trio.enums import OrderStatus, Side, TimeInForce
from bulk_trio.protocol.keys import b58encode
from bulk_trio.protocol.signing import TransactionSigner
from bulk_trio.sim.engine import Engine
from bulk_trio.sim.events import ActionStatus
from order_id_oracle import wire_order_id

VECTORS = json.loads((Path(__file__).parent / "data" / "vectors.json").read_text())["vectors"]
BTC = "BTC-USD"
NOW = 1_700_000_000_000_000_000

ALICE = TransactionSigner(b"\x21" * 32, domain="testnet")
AGENT = TransactionSigner(b"\x22" * 32, domain="testnet")
STRANGER = TransactionSigner(b"\x23" * 32, domain="testnet")
ORDER = LimitOrder(BTC, Side.BUY, 99.0, 1.0)


@pytest.fixture
def engine() -> Engine:
    engine = Engine([BTC, "ETH-USD"], initial_prices={BTC: 100.0, "ETH-USD": 10.0})
    engine.fund(ALICE.public_key, 10_000.0, now_ns=NOW)
    return engine


def signed(signer: TransactionSigner, *actions: Any, nonce: int, **kw: Any) -> dict[str, Any]:
    return signer.sign_transaction(list(actions), nonce=nonce, **kw)


def refusal(engine: Engine, payload: object) -> str:
    submission = engine.submit(payload, now_ns=NOW)  # type: ignore[arg-type]
    assert not submission.ok
    assert submission.statuses == ()
    assert submission.events == ()
    assert isinstance(submission.message, str)
    assert submission.message
    return submission.message


# -- valid and tampered transactions ---------------------------------------------------------


def test_a_signed_transaction_runs_and_its_order_id_matches_the_clients(engine: Engine) -> None:
    submission = engine.submit(signed(ALICE, ORDER, nonce=5), now_ns=NOW)
    assert submission.ok
    oid = wire_order_id(ORDER.to_wire(), seqno=0, nonce=5, account=ALICE.public_key)
    assert submission.statuses == (ActionStatus("resting", {"oid": oid}),)
    assert engine.order(oid) is not None


def test_a_decimal_string_nonce_is_accepted(engine: Engine) -> None:
    payload = signed(ALICE, ORDER, nonce=6)
    payload["nonce"] = "6"
    assert engine.submit(payload, now_ns=NOW).ok


def test_numeric_strings_in_actions_verify_like_numbers(engine: Engine) -> None:
    payload = signed(ALICE, ORDER, nonce=7)
    payload["actions"][0]["l"]["px"] = "99.0"
    payload["actions"][0]["l"]["tif"] = "gtc"
    assert engine.submit(payload, now_ns=NOW).ok


@pytest.mark.parametrize(
    "tamper",
    [
        lambda p: p["actions"][0]["l"].update(px=98.0),
        lambda p: p["actions"][0]["l"].update(b=False),
        lambda p: p["actions"].append({"cxa": {"c": []}}),
        lambda p: p.update(nonce=p["nonce"] + 1),
        lambda p: p.update(signer=STRANGER.public_key),
        lambda p: p.update(signature=b58encode(bytes(64))),
    ],
    ids=["price", "side", "extra action", "nonce", "signer", "signature"],
)
def test_a_tampered_transaction_is_refused(engine: Engine, tamper: Any) -> None:
    payload = signed(ALICE, ORDER, nonce=8)
    tamper(payload)
    assert refusal(engine, payload) == "Invalid signature"
    assert engine.open_orders() == []


def test_a_transaction_signed_for_another_domain_is_refused(engine: Engine) -> None:
    mainnet = TransactionSigner(b"\x21" * 32, domain="mainnet")
    assert refusal(engine, signed(mainnet, ORDER, nonce=9)) == "Invalid signature"


def test_the_legacy_no_domain_form_is_accepted_only_when_allowed() -> None:
    legacy = TransactionSigner(b"\x21" * 32, domain=None)
    strict = Engine([BTC], domain="testnet")
    lenient = Engine([BTC], domain="testnet", allow_legacy_signatures=True)
    for engine in (strict, lenient):
        engine.fund(legacy.public_key, 1_000.0, now_ns=NOW)
    payload = signed(legacy, ORDER, nonce=10)
    assert refusal(strict, payload) == "Invalid signature"
    assert lenient.submit(payload, now_ns=NOW).ok
    # ... and the domain form still works on the lenient engine.
    lenient.fund(ALICE.public_key, 1_000.0, now_ns=NOW)
    assert lenient.submit(signed(ALICE, ORDER, nonce=11), now_ns=NOW).ok


def test_versioned_layouts_verify(engine: Engine) -> None:
    slippage = MarketOrder(BTC, Side.BUY, 0.1, slippage_bps=25.0)
    builder = LimitOrder(BTC, Side.BUY, 90.0, 0.1, builder_code={"to": AGENT.public_key, "fee": 3})
    for nonce, action in enumerate((slippage, builder), start=20):
        submission = engine.submit(signed(ALICE, action, nonce=nonce), now_ns=NOW)
        assert submission.ok, submission.message


# -- signer, nonce, funding ------------------------------------------------------------------


def test_an_agent_may_sign_only_while_authorized(engine: Engine) -> None:
    alice = ALICE.public_key
    as_agent = signed(AGENT, ORDER, nonce=30, account=alice)
    assert refusal(engine, as_agent) == "Unauthorized signer"
    grant = engine.submit(signed(ALICE, AgentWallet(AGENT.public_key), nonce=31), now_ns=NOW)
    assert grant.statuses == (ActionStatus("agentWallet", {"agentWallet": AGENT.public_key}),)
    # The refused attempt did not use up nonce 30: the account never signed it.
    submission = engine.submit(as_agent, now_ns=NOW)
    assert submission.ok
    oid = wire_order_id(ORDER.to_wire(), seqno=0, nonce=30, account=alice)
    assert submission.statuses[0].body["oid"] == oid
    assert engine.order(oid).account == alice  # type: ignore[union-attr]
    revoke = signed(ALICE, AgentWallet(AGENT.public_key, delete=True), nonce=32)
    assert engine.submit(revoke, now_ns=NOW).statuses[0].name == "agentWallet"
    assert refusal(engine, signed(AGENT, CancelAll(), nonce=33, account=alice)) == (
        "Unauthorized signer"
    )


def test_an_agent_cannot_appoint_agents(engine: Engine) -> None:
    alice = ALICE.public_key
    engine.submit(signed(ALICE, AgentWallet(AGENT.public_key), nonce=40), now_ns=NOW)
    attempt = signed(AGENT, AgentWallet(STRANGER.public_key), nonce=41, account=alice)
    (status,) = engine.submit(attempt, now_ns=NOW).statuses
    assert status.name == "agentWalletFailed"
    by_stranger = signed(STRANGER, ORDER, nonce=42, account=alice)
    assert refusal(engine, by_stranger) == "Unauthorized signer"


def test_a_nonce_is_used_once_per_account(engine: Engine) -> None:
    payload = signed(ALICE, ORDER, nonce=50)
    assert engine.submit(payload, now_ns=NOW).ok
    assert "nonce already used" in refusal(engine, payload)
    assert "nonce already used" in refusal(engine, signed(ALICE, CancelAll(), nonce=50))
    assert len(engine.open_orders()) == 1
    # Another account may use the same number.
    engine.fund(STRANGER.public_key, 1_000.0, now_ns=NOW)
    assert engine.submit(signed(STRANGER, ORDER, nonce=50), now_ns=NOW).ok


def test_a_forged_transaction_does_not_use_up_the_nonce(engine: Engine) -> None:
    forged = signed(ALICE, ORDER, nonce=60)
    forged["signature"] = signed(STRANGER, ORDER, nonce=60)["signature"]
    assert refusal(engine, forged) == "Invalid signature"
    assert engine.submit(signed(ALICE, ORDER, nonce=60), now_ns=NOW).ok


def test_an_unfunded_account_may_only_ask_the_faucet(engine: Engine) -> None:
    bob = TransactionSigner(b"\x24" * 32, domain="testnet")
    assert not engine.is_funded(bob.public_key)
    assert refusal(engine, signed(bob, ORDER, nonce=70)) == "Account not found"
    mixed = signed(bob, Faucet(bob.public_key), ORDER, nonce=71)
    assert refusal(engine, mixed) == "Account not found"
    assert not engine.is_funded(bob.public_key)
    submission = engine.submit(signed(bob, Faucet(bob.public_key), nonce=72), now_ns=NOW)
    assert submission.statuses == (ActionStatus("deposit", {"amount": 100_000.0}),)
    assert engine.is_funded(bob.public_key)
    assert engine.submit(signed(bob, ORDER, nonce=73), now_ns=NOW).ok


def test_an_invalid_action_in_a_signed_transaction_is_reported_per_action(engine: Engine) -> None:
    doge = LimitOrder("DOGE-USD", Side.BUY, 1.0, 1.0)
    submission = engine.submit(signed(ALICE, ORDER, doge, nonce=80), now_ns=NOW)
    assert submission.ok
    assert [s.name for s in submission.statuses] == ["rejectedInvalid", "rejectedInvalid"]
    assert engine.open_orders() == []


# -- the published vectors -------------------------------------------------------------------


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_every_published_vector_is_accepted(vector: dict[str, Any]) -> None:
    engine = Engine(["BTC-USD", "ETH-USD", "SOL-USD"], domain=vector["signature_domain"])
    account, signer = vector["account"], vector["signer"]
    if not all("faucet" in action for action in vector["actions"]):
        engine.fund(account, 1_000_000.0, now_ns=NOW)
    if signer != account:
        engine.submit_trusted(account, [AgentWallet(signer)], now_ns=NOW)
    submission = engine.submit(copy.deepcopy(vector["wire_transaction"]), now_ns=NOW)
    assert submission.ok, submission.message
    assert len(submission.statuses) == len(vector["actions"])
    for expected in vector["order_ids"] or ():
        if "slippage" in json.dumps(vector["actions"][expected["action_index"]]):
            continue  # decision 3: the exchange assigns those ids
        status = submission.statuses[expected["action_index"]]
        assert status.body["oid"] == expected["order_id"]
    wrong_domain = "mainnet" if vector["signature_domain"] != "mainnet" else "devnet"
    other = Engine(["BTC-USD", "ETH-USD", "SOL-USD"], domain=wrong_domain)
    other.fund(account, 1.0, now_ns=NOW)
    assert refusal(other, copy.deepcopy(vector["wire_transaction"])) == "Invalid signature"


# -- malformed payloads ----------------------------------------------------------------------

VALID = signed(ALICE, ORDER, nonce=90)


def _with(**changes: Any) -> dict[str, Any]:
    payload = copy.deepcopy(VALID)
    for key, value in changes.items():
        if value is _DROP:
            del payload[key]
        else:
            payload[key] = value
    return payload


_DROP = object()


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ([], "object"),
        ("payload", "object"),
        (None, "object"),
        ({}, "actions"),
        (_with(signature=_DROP), "signature"),
        (_with(nonce=_DROP), "nonce"),
        (_with(actions=[]), "actions"),
        (_with(actions={"l": {}}), "actions"),
        (_with(actions=[5]), "actions[0]"),
        (_with(actions=[{"xyz": {}}]), "'xyz'"),
        (_with(actions=[{"l": {"c": BTC}}]), "actions[0]"),
        (_with(actions=[{"l": {**VALID["actions"][0]["l"], "px": "cheap"}}]), "px"),
        (_with(nonce=True), "nonce"),
        (_with(nonce=1.5), "nonce"),
        (_with(nonce=-1), "nonce"),
        (_with(nonce=2**64), "nonce"),
        (_with(nonce="12a"), "nonce"),
        (_with(nonce=""), "nonce"),
        (_with(account="0OIl"), "account"),
        (_with(account="abc"), "account"),
        (_with(account=17), "account"),
        (_with(signer=None), "signer"),
        (_with(signer=b58encode(bytes(31) + b"\x01")[:-1]), "signer"),
        (_with(signature="abc"), "signature"),
        (_with(signature=7), "signature"),
        (_with(signature="1" * 200), "signature"),
    ],
)
def test_a_malformed_payload_is_refused_with_a_reason(
    engine: Engine, payload: object, expected: str
) -> None:
    assert expected in refusal(engine, payload)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
ACTION_TAGS = ["l", "m", "cx", "cxa", "mod", "px", "faucet", "updateUserSettings", "st", "abc"]
FIELDS = ["c", "b", "px", "sz", "tif", "r", "i", "oid", "m", "u", "a", "d", "t", "amount"]
actions_ish = st.dictionaries(
    st.sampled_from(ACTION_TAGS),
    st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6),
    min_size=1,
    max_size=1,
)
payloads = st.fixed_dictionaries(
    {},
    optional={
        "actions": st.lists(actions_ish | json_values, max_size=3) | json_values,
        "nonce": st.integers(-5, 2**65) | json_values,
        "account": st.just(ALICE.public_key) | json_values,
        "signer": st.just(ALICE.public_key) | json_values,
        "signature": st.just(VALID["signature"]) | json_values,
    },
)


@settings(max_examples=150, deadline=None)
@given(payload=payloads | json_values)
def test_submit_never_raises_on_arbitrary_json(payload: object) -> None:
    engine = Engine([BTC])
    submission = engine.submit(payload, now_ns=NOW)  # type: ignore[arg-type]
    if not submission.ok:
        assert submission.message


symbols = st.sampled_from([BTC, "ETH-USD", "DOGE-USD"])
quantities = st.floats(min_value=1e-8, max_value=1e6, allow_nan=False, allow_infinity=False)
oids = st.sampled_from([b58encode(bytes([n]) * 32) for n in (1, 2)])
valid_actions = st.one_of(
    st.builds(
        LimitOrder,
        symbols,
        st.sampled_from(Side),
        quantities,
        quantities,
        st.booleans(),
        st.sampled_from(TimeInForce),
    ),
    st.builds(MarketOrder, symbols, st.sampled_from(Side), quantities, st.booleans()),
    st.builds(CancelOrder, symbols, oids),
    st.builds(ModifyOrder, symbols, oids, quantities),
    st.builds(CancelAll, st.lists(symbols, max_size=2)),
    st.builds(OraclePrice, symbols, quantities, st.integers(0, 2**63)),
    st.builds(Faucet, st.just(ALICE.public_key), st.none() | quantities),
    st.builds(UpdateLeverage, st.dictionaries(symbols, st.floats(0.5, 80.0), min_size=1)),
    st.builds(StopOrder, symbols, st.booleans(), quantities, quantities),
    st.builds(AgentWallet, st.just(AGENT.public_key), st.booleans()),
)
STATUS_NAMES = {status.value for status in OrderStatus} - {OrderStatus.UNKNOWN.value}


@settings(max_examples=60, deadline=None)
@given(batches=st.lists(st.lists(valid_actions, min_size=1, max_size=4), min_size=1, max_size=4))
def test_any_signed_transaction_of_valid_actions_gets_one_status_per_action(
    batches: list[list[Any]],
) -> None:
    engine = Engine([BTC, "ETH-USD"], initial_prices={BTC: 100.0})
    engine.fund(ALICE.public_key, 1_000.0, now_ns=NOW)
    for nonce, actions in enumerate(batches, start=1):
        submission = engine.submit(signed(ALICE, *actions, nonce=nonce), now_ns=NOW + nonce)
        assert submission.ok, submission.message
        assert len(submission.statuses) == len(actions)
        assert {status.name for status in submission.statuses} <= STATUS_NAMES
