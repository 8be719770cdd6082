"""Signed bodies of every action in every layout (bulk_trio.protocol.action_bytes).

tests/data/action_vectors.json holds message bytes from the two references: the exchange's own
SDK fixtures (legacy and V2 layouts, nested trigger baskets, on-fill and multisig proposals) and
bulk-keychain 0.1.31 (V4 conditionals, V6 transfers, builder-code approvals, sub-accounts). The
randomized comparison with a live keychain is in test_keychain_differential.py.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest

from bulk_trio.actions import (
    ApproveBuilderCode,
    BuilderCode,
    CancelOrder,
    CreateMultisig,
    LimitOrder,
    MarketOrder,
    ModifyOrder,
    MultisigApprove,
    MultisigPropose,
    MultisigUpdate,
    OnFill,
    PythOracle,
    RangeOrder,
    RenameSubAccount,
    StopOrder,
    TrailingStop,
    Transfer,
    TriggerBasket,
    WhitelistFaucet,
)
from bulk_trio.protocol.action_bytes import (
    builder_code_bytes,
    encode_action,
    layout_for,
    signed_body,
)
from bulk_trio.protocol.action_wire import action_from_wire
from bulk_trio.protocol.keys import b58decode
from bulk_trio.protocol.signing import encode_message
from bulk_trio.protocol.wincode import Layout

PUBKEY = "3F5qRPtKg8GhGNnbd3qCj6nVJxWsGxq7pvH84okYLAqf"
OID = "2UQQp5TdJqkmmQvGnzHJM3thgebNJdqSqZDqfSCxHdCV"
VECTORS = json.loads((Path(__file__).parent / "data" / "action_vectors.json").read_text())[
    "vectors"
]


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_reference_message_bytes(vector: dict[str, Any]) -> None:
    actions = [action_from_wire(wire) for wire in vector["actions"]]
    layout = Layout[vector["layout"]]
    message = encode_message(
        actions,
        nonce=vector["nonce"],
        account=vector["account"],
        domain=vector["domain"],
        layout=layout,
    )
    assert message.hex() == vector["message_hex"]
    if vector["source"] == "keychain":
        # keychain's own choice of layout is ours too (decision 2 of docs/protocol.md)
        assert layout_for(actions) is layout


def test_vectors_cover_every_family() -> None:
    tags = {next(iter(wire)) for vector in VECTORS for wire in vector["actions"]}
    assert {"rng", "trl", "trig", "of", "msp", "abc", "rbc", "transfer"} <= tags
    assert {"createSubAccount", "removeSubAccount", "m", "l"} <= tags


def test_symbol_length_counts_utf8_bytes() -> None:
    body = signed_body(CancelOrder("ÉTH-€", OID), Layout.LEGACY)
    encoded = "ÉTH-€".encode()
    assert body[:8] == struct.pack("<Q", len(encoded)) == struct.pack("<Q", 8)
    assert body[8 : 8 + len(encoded)] == encoded


def test_legacy_limit_appends_tagged_builder_code_only_when_present() -> None:
    plain = LimitOrder("BTC-USD", "buy", 1, 1)
    code = BuilderCode(PUBKEY, 7)
    coded = LimitOrder("BTC-USD", "buy", 1, 1, builder_code=code)
    legacy = signed_body(coded, Layout.LEGACY)
    assert legacy == signed_body(plain, Layout.LEGACY) + b"\x01" + builder_code_bytes(code)
    assert builder_code_bytes(code) == b58decode(PUBKEY) + b"\x07"
    assert signed_body(plain, Layout.V3) == signed_body(plain, Layout.LEGACY) + b"\x00"
    assert signed_body(coded, Layout.V3) == legacy


def test_market_versioned_body_carries_both_option_tags() -> None:
    plain = MarketOrder("BTC-USD", "buy", 1)
    assert signed_body(plain, Layout.V2) == signed_body(plain, Layout.LEGACY) + b"\x00\x00"


@pytest.mark.parametrize(
    ("action", "layout", "field"),
    [
        (MarketOrder("BTC-USD", "buy", 1, slippage_bps=25), Layout.LEGACY, "slippage_bps"),
        (StopOrder("BTC-USD", True, 1, 1, slippage_bps=25), Layout.V3, "slippage_bps"),
        (StopOrder("X", True, 1, 1, builder_code=BuilderCode(PUBKEY, 1)), Layout.LEGACY, "builder"),
        (RangeOrder("X", True, 1, 1, 2, tp_slippage_bps=1), Layout.V2, "tp_slippage_bps"),
        (TrailingStop("X", True, 1, 5, 1, slippage_bps=1), Layout.LEGACY, "slippage_bps"),
        (Transfer(PUBKEY, OID, 1, True, "USDC"), Layout.V4, "symbol"),
        (
            TriggerBasket("X", True, 1, [StopOrder("X", True, 1, 1, slippage_bps=2)]),
            Layout.V3,
            "sl",
        ),
    ],
)
def test_layouts_that_cannot_carry_a_field_refuse_to_sign_it(
    action: Any, layout: Layout, field: str
) -> None:
    with pytest.raises(ValueError, match=field):
        signed_body(action, layout)


def test_conditional_bodies_grow_by_layout() -> None:
    stop = StopOrder("BTC-USD", False, 0.5, 90000.0)
    legacy = signed_body(stop, Layout.LEGACY)
    assert signed_body(stop, Layout.V3) == legacy + b"\x00"
    assert signed_body(stop, Layout.V4) == legacy + b"\x00\x00"
    assert legacy.endswith(b"\x00" + b"\x00")  # Option<FX> limit absent, then iso
    oco = RangeOrder("BTC-USD", True, 1, 90, 110)
    assert signed_body(oco, Layout.V4) == signed_body(oco, Layout.LEGACY) + b"\x00" * 3
    trail = TrailingStop("BTC-USD", True, 1, 50, 10)
    # symbol (8 + 7) ‖ b ‖ FX sz, then the two u32 basis points
    assert signed_body(trail, Layout.LEGACY)[24:32] == struct.pack("<II", 50, 10)


def test_transfer_carries_its_symbol_only_in_v6() -> None:
    transfer = Transfer(PUBKEY, OID, 2.0)
    legacy = signed_body(transfer, Layout.LEGACY)
    assert legacy == struct.pack("<I", 0) + b58decode(PUBKEY) + b58decode(OID) + struct.pack(
        "<d", 2.0
    )
    assert signed_body(transfer, Layout.V6) == legacy + b"\x00"
    external = Transfer(PUBKEY, OID, 2.0, external=True, symbol="USDC")
    assert signed_body(external, Layout.V6).endswith(b"\x01" + struct.pack("<Q", 4) + b"USDC")


def test_nested_actions_choose_the_layout() -> None:
    stop = StopOrder("BTC-USD", False, 1, 90)
    entry = LimitOrder("BTC-USD", "buy", 100, 1)
    assert layout_for([OnFill(entry, [stop])]) is Layout.V4
    assert layout_for([TriggerBasket("BTC-USD", True, 1, [entry])]) is Layout.LEGACY
    assert layout_for([MultisigPropose(PUBKEY, [Transfer(PUBKEY, OID, 1)])]) is Layout.V6
    assert layout_for([entry, MarketOrder("X", "buy", 1, slippage_bps=3)]) is Layout.V2
    coded = MarketOrder("X", "buy", 1, builder_code=BuilderCode(PUBKEY, 2), slippage_bps=3)
    assert layout_for([coded]) is Layout.V3
    assert layout_for([Transfer(PUBKEY, OID, 1), stop]) is Layout.V6


def test_multisig_and_admin_bodies() -> None:
    key, other = b58decode(PUBKEY), b58decode(OID)
    policy = struct.pack("<Q", 2) + key + other + struct.pack("<III", 2, 60, 3600)
    assert signed_body(CreateMultisig([PUBKEY, OID], 2, 60, 3600), Layout.LEGACY) == policy
    assert signed_body(MultisigUpdate(OID, [PUBKEY, OID], 2, 60, 3600), Layout.LEGACY) == (
        other + policy
    )
    assert signed_body(MultisigApprove(PUBKEY, 9), Layout.LEGACY) == key + struct.pack("<Q", 9)
    proposal = MultisigPropose(PUBKEY, [ApproveBuilderCode(OID, 4)], lifetime_secs=30)
    assert signed_body(proposal, Layout.LEGACY) == (
        key
        + struct.pack("<Q", 1)
        + encode_action(ApproveBuilderCode(OID, 4), Layout.LEGACY)
        + b"\x01"
        + struct.pack("<I", 30)
    )
    assert encode_action(ApproveBuilderCode(OID, 4), Layout.LEGACY) == (
        struct.pack("<I", 40) + other + b"\x04"
    )
    assert signed_body(RenameSubAccount(OID, "bots"), Layout.LEGACY) == (
        other + struct.pack("<Q", 4) + b"bots"
    )
    assert signed_body(PythOracle([(1, 2, 3, -4)]), Layout.LEGACY) == struct.pack(
        "<QQQQh", 1, 1, 2, 3, -4
    )
    assert signed_body(WhitelistFaucet(PUBKEY, True), Layout.LEGACY) == key + b"\x01"


def test_modify_size_is_binary64_not_fixed_point() -> None:
    body = signed_body(ModifyOrder("BTC-USD", OID, 0.05), Layout.LEGACY)
    assert body.endswith(struct.pack("<d", 0.05))
