"""The reference signing vectors (tests/data/vectors.json, keychain 0.1.31) reproduce exactly."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from bulk_trio.actions import Action, MarketOrder, UpdateLeverage, action_from_wire
from bulk_trio.protocol.signing import (
    Layout,
    TransactionSigner,
    choose_layout,
    encode_message,
    order_ids,
    verify_signature,
)

VECTORS: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "data" / "vectors.json").read_text()
)["vectors"]
KEY_FORMS = ["signer_private_key_base58", "signer_keypair64_base58"]


def by_name(vector: dict[str, Any]) -> str:
    return str(vector["name"])


def actions_of(vector: dict[str, Any]) -> list[Action]:
    return [action_from_wire(action) for action in vector["actions"]]


def test_there_are_fourteen_vectors() -> None:
    assert len(VECTORS) == 14


@pytest.mark.parametrize("vector", VECTORS, ids=by_name)
@pytest.mark.parametrize("key_form", KEY_FORMS)
def test_message_bytes_and_signature(vector: dict[str, Any], key_form: str) -> None:
    signer = TransactionSigner(vector[key_form], domain=vector["signature_domain"])
    nonce = int(vector["nonce"])
    assert signer.public_key == vector["signer"]
    message = signer.message_bytes(actions_of(vector), nonce=nonce, account=vector["account"])
    assert message.hex() == vector["message_hex"]
    payload = signer.sign_transaction(actions_of(vector), nonce=nonce, account=vector["account"])
    assert payload["signature"] == vector["signature_base58"]
    assert verify_signature(message, payload["signature"], vector["signer"])


@pytest.mark.parametrize("vector", VECTORS, ids=by_name)
def test_encode_message_and_layout(vector: dict[str, Any]) -> None:
    actions = actions_of(vector)
    layout = Layout[vector["layout"].upper()]
    assert choose_layout(actions) is layout
    expected = bytes.fromhex(vector["message_hex"])
    common = {"nonce": int(vector["nonce"]), "account": vector["account"]}
    assert encode_message(actions, domain=vector["signature_domain"], **common) == expected
    assert encode_message(actions, domain=vector["signature_domain"], layout=layout, **common) == (
        expected
    )
    # The legacy no-domain form is the same bytes without the final domain byte.
    assert encode_message(actions, domain=None, **common) == expected[:-1]
    assert expected[-1] == vector["domain_byte"]


@pytest.mark.parametrize("vector", VECTORS, ids=by_name)
def test_order_ids(vector: dict[str, Any]) -> None:
    actions = actions_of(vector)
    expected: list[str | None] = [None] * len(actions)
    for entry in vector["order_ids"] or []:
        assert entry["seqno"] == entry["action_index"]
        expected[entry["action_index"]] = entry["order_id"]
    common = {"nonce": int(vector["nonce"]), "account": vector["account"]}
    assert order_ids(actions, keychain_slippage=True, **common) == expected
    # By default (decision 3) a market order with slippage has no precomputed id.
    defaults = [
        None if isinstance(action, MarketOrder) and action.slippage_bps is not None else oid
        for action, oid in zip(actions, expected, strict=True)
    ]
    assert order_ids(actions, **common) == defaults


def _as_bulk_trio_sends(wire_transaction: dict[str, Any]) -> dict[str, Any]:
    """keychain sends updateUserSettings as a map; bulk-trio sends sorted pairs (decision 9)."""
    expected = copy.deepcopy(wire_transaction)
    for action in expected["actions"]:
        settings = action.get(UpdateLeverage.TAG)
        if settings is not None and isinstance(settings["m"], dict):
            settings["m"] = [
                [symbol, leverage] for symbol, leverage in sorted(settings["m"].items())
            ]
    return expected


@pytest.mark.parametrize("vector", VECTORS, ids=by_name)
@pytest.mark.parametrize("key_form", KEY_FORMS)
def test_signed_payload_equals_wire_transaction(vector: dict[str, Any], key_form: str) -> None:
    signer = TransactionSigner(vector[key_form], domain=vector["signature_domain"])
    payload = signer.sign_transaction(
        actions_of(vector), nonce=int(vector["nonce"]), account=vector["account"]
    )
    assert payload == _as_bulk_trio_sends(vector["wire_transaction"])


@pytest.mark.parametrize("vector", VECTORS, ids=by_name)
def test_wire_actions_round_trip(vector: dict[str, Any]) -> None:
    for action in actions_of(vector):
        assert action_from_wire(action.to_wire()) == action
