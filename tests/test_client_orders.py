"""The client's order-type and account methods: each signs exactly its action, refuses bad input
before anything is signed, and (where the simulator implements the action) works end to end."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import trio

from bulk_trio import (
    ApproveBuilderCode,
    BulkClient,
    CancelAll,
    CancelOrder,
    CreateMultisig,
    CreateSubAccount,
    LimitOrder,
    MarketOrder,
    MultisigApprove,
    MultisigCancel,
    MultisigExecute,
    MultisigPropose,
    MultisigReject,
    MultisigUpdate,
    OnFill,
    OrderResponse,
    RangeOrder,
    RemoveSubAccount,
    RenameSubAccount,
    RevokeBuilderCode,
    Side,
    StopOrder,
    TakeProfitOrder,
    TrailingStop,
    TransactionSigner,
    Transfer,
)
from bulk_trio.actions import BaseAction
from bulk_trio.backoff import Backoff
from bulk_trio.protocol.action_wire import action_from_wire
from bulk_trio.protocol.signing import encode_message, verify_signature
from bulk_trio.shell.client import open_bulk_client
from bulk_trio.sim import Simulator, open_simulator
from fake_exchange import FakeExchange

BTC = "BTC-USD"
OTHER = "2UQQp5TdJqkmmQvGnzHJM3thgebNJdqSqZDqfSCxHdCV"
THIRD = "3F5qRPtKg8GhGNnbd3qCj6nVJxWsGxq7pvH84okYLAqf"
TIMEOUT = 10

Call = Callable[[BulkClient], Awaitable[OrderResponse]]


# The seed 00 01 .. 1f of the signing vectors, and its account; nothing secret.
ACCOUNT = "FAe4sisG95oZ42w7buUn5qEE4TAnfTTFPiguZUHmhiF"


@pytest.fixture
def signer() -> TransactionSigner:
    return TransactionSigner(bytes(range(32)), domain="testnet")


@pytest.fixture
async def fake_client(
    nursery: trio.Nursery, signer: TransactionSigner
) -> AsyncIterator[tuple[BulkClient, FakeExchange]]:
    fake = FakeExchange(nursery)
    async with open_bulk_client(
        "ws://fake",
        symbols=[BTC],
        signer=signer,
        connector=fake.connector,
        heartbeat_interval=None,
        stale_after=None,
        backoff=Backoff(jitter=0.0),
    ) as client:
        yield client, fake


def sent_posts(fake: FakeExchange) -> list[dict[str, Any]]:
    return [message for message in fake.peers[0].received if message.get("method") == "post"]


# What each method must sign: (the call, the one action it stands for).
CASES: list[tuple[str, Call, BaseAction]] = [
    (
        "stop",
        lambda c: c.place_stop_order(BTC, False, 0.5, 95_000.0, slippage_bps=25),
        StopOrder(BTC, False, 0.5, 95_000.0, slippage_bps=25),
    ),
    (
        "take_profit",
        lambda c: c.place_take_profit(BTC, True, 0.5, 105_000.0, 104_900.0),
        TakeProfitOrder(BTC, True, 0.5, 105_000.0, 104_900.0),
    ),
    (
        "range",
        lambda c: c.place_range_order(BTC, True, 0.5, 95_000.0, 105_000.0, tp_slippage_bps=5),
        RangeOrder(BTC, True, 0.5, 95_000.0, 105_000.0, tp_slippage_bps=5),
    ),
    (
        "trailing",
        lambda c: c.place_trailing_stop(BTC, True, 0.5, 150, 10),
        TrailingStop(BTC, True, 0.5, 150, 10),
    ),
    (
        "bracket_limit",
        lambda c: c.place_bracket(BTC, "buy", 0.5, 100_000.0, 95_000.0, 105_000.0),
        OnFill(
            LimitOrder(BTC, Side.BUY, 100_000.0, 0.5),
            [RangeOrder(BTC, True, 0.5, 95_000.0, 105_000.0)],
        ),
    ),
    (
        "bracket_market_short",
        lambda c: c.place_bracket(BTC, Side.SELL, 0.5, None, 105_000.0, 95_000.0),
        OnFill(
            MarketOrder(BTC, Side.SELL, 0.5),
            [RangeOrder(BTC, False, 0.5, 105_000.0, 95_000.0)],
        ),
    ),
    ("approve", lambda c: c.approve_builder_code(OTHER, 7), ApproveBuilderCode(OTHER, 7)),
    ("revoke", lambda c: c.revoke_builder_code(OTHER), RevokeBuilderCode(OTHER)),
    ("create_sub", lambda c: c.create_sub_account("bots", 250.0), CreateSubAccount("bots", 250.0)),
    ("remove_sub", lambda c: c.remove_sub_account(OTHER), RemoveSubAccount(OTHER)),
    ("rename_sub", lambda c: c.rename_sub_account(OTHER, "mm"), RenameSubAccount(OTHER, "mm")),
    ("transfer", lambda c: c.transfer(OTHER, 125.0), Transfer(ACCOUNT, OTHER, 125.0)),
    (
        "transfer_from_sub",
        lambda c: c.transfer(THIRD, 1.5, source=OTHER, external=True, symbol="USDC"),
        Transfer(OTHER, THIRD, 1.5, True, "USDC"),
    ),
    (
        "create_multisig",
        lambda c: c.create_multisig([OTHER, THIRD], 2, 60, 3_600),
        CreateMultisig([OTHER, THIRD], 2, 60, 3_600),
    ),
    (
        "propose",
        lambda c: c.multisig_propose(OTHER, CancelOrder(BTC, THIRD), lifetime_secs=600),
        MultisigPropose(OTHER, [CancelOrder(BTC, THIRD)], 600),
    ),
    ("approve_ms", lambda c: c.multisig_approve(OTHER, 3), MultisigApprove(OTHER, 3)),
    ("reject_ms", lambda c: c.multisig_reject(OTHER, 3), MultisigReject(OTHER, 3)),
    ("cancel_ms", lambda c: c.multisig_cancel(OTHER, 3), MultisigCancel(OTHER, 3)),
    ("execute_ms", lambda c: c.multisig_execute(OTHER, 3), MultisigExecute(OTHER, 3)),
    (
        "update_ms",
        lambda c: c.multisig_update(OTHER, [THIRD], 1, 0, 60),
        MultisigUpdate(OTHER, [THIRD], 1, 0, 60),
    ),
]


@pytest.mark.parametrize(("call", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_each_method_signs_exactly_its_action(
    fake_client: tuple[BulkClient, FakeExchange],
    signer: TransactionSigner,
    call: Call,
    expected: BaseAction,
) -> None:
    client, fake = fake_client
    assert signer.public_key == ACCOUNT
    with trio.fail_after(TIMEOUT):
        await call(client)
    (post,) = sent_posts(fake)
    payload = post["request"]["payload"]
    assert payload["actions"] == [expected.to_wire()]
    # What the exchange does: rebuild the message from the JSON and check the signature.
    received = [action_from_wire(wire) for wire in payload["actions"]]
    assert received == [expected]
    message = encode_message(
        received, nonce=payload["nonce"], account=payload["account"], domain="testnet"
    )
    assert verify_signature(message, payload["signature"], payload["signer"])


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c: c.place_stop_order(BTC, False, 0.5, -1.0), "trigger_price"),
        (lambda c: c.place_range_order(BTC, True, 0.5, 105_000.0, 95_000.0), "stop_loss_price"),
        (lambda c: c.place_trailing_stop(BTC, True, 0.5, 0, 0), "trail_bps"),
        (lambda c: c.place_bracket(BTC, "buy", 0.5, 100.0, 101.0, 110.0), "stop_loss < price"),
        (lambda c: c.place_bracket(BTC, "sell", 0.5, 100.0, 101.0, 110.0), "take_profit < price"),
        (lambda c: c.place_bracket("BTC USD", "buy", 0.5, None, 1.0, 2.0), "symbol"),
        (lambda c: c.approve_builder_code(OTHER, 16), "fee"),
        (lambda c: c.revoke_builder_code("not-a-key"), "to"),
        (lambda c: c.create_sub_account(""), "name"),
        (lambda c: c.transfer(OTHER, 0.0), "amount"),
        (lambda c: c.create_multisig([OTHER], 2, 0, 60), "threshold"),
        (lambda c: c.multisig_propose(OTHER, []), "actions"),
        (lambda c: c.multisig_execute(OTHER, -1), "proposal_id"),
    ],
)
async def test_bad_input_is_refused_before_anything_is_signed(
    fake_client: tuple[BulkClient, FakeExchange], call: Call, field: str
) -> None:
    client, fake = fake_client
    with trio.fail_after(TIMEOUT), pytest.raises(ValueError, match=field):
        await call(client)
    assert sent_posts(fake) == []


# ---------------------------------------------------------------------------------------------
# End to end against the simulator (real loopback sockets)


@pytest.fixture
async def sim(signer: TransactionSigner) -> AsyncIterator[Simulator]:
    # Each test gets its own simulator, so the fixed test key starts with a fresh account.
    async with open_simulator(
        symbols=[BTC], seed=5, fund={signer.public_key: 1_000_000.0}, feed=False, takers=False
    ) as simulator:
        yield simulator


async def approvals(sim: Simulator, signer: TransactionSigner) -> list[tuple[str, int]]:
    """The builder-code approvals of the account snapshot a new connection receives."""
    async with open_bulk_client(sim.url, symbols=[BTC], signer=signer) as client:
        snapshot = client.account_snapshot
        assert snapshot is not None
        return [(a.recipient, a.max_fee) for a in snapshot.builder_code_approvals]


async def test_builder_code_approval_shows_in_the_snapshot_and_revocation_removes_it(
    sim: Simulator, signer: TransactionSigner
) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_bulk_client(sim.url, symbols=[BTC], signer=signer) as client:
            approved = await client.approve_builder_code(OTHER, 5)
        assert not approved.is_error, approved
        assert await approvals(sim, signer) == [(OTHER, 5)]
        async with open_bulk_client(sim.url, symbols=[BTC], signer=signer) as client:
            revoked = await client.revoke_builder_code(OTHER)
        assert not revoked.is_error, revoked
        assert await approvals(sim, signer) == []


async def test_a_stop_order_rests_until_the_mark_crosses_it(
    sim: Simulator, signer: TransactionSigner
) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_bulk_client(sim.url, symbols=[BTC], signer=signer) as client:
            await client.place_market_order(BTC, Side.BUY, 0.01)
            stop = await client.place_stop_order(BTC, False, 0.01, 95_000.0)
            assert stop.raw_status == "resting" and stop.order_id is not None
            resting = client.get_order_map()[stop.order_id]
            assert resting.order_type == "stop"
            assert resting.trigger is not None and resting.trigger.price == 95_000.0


async def test_a_two_of_two_multisig_proposal_runs_once_both_approve(sim: Simulator) -> None:
    alice = TransactionSigner.generate_account(domain="testnet")
    bob = TransactionSigner.generate_account(domain="testnet")
    for signer in (alice, bob):
        sim.fund(signer.public_key, 1_000.0)
    with trio.fail_after(TIMEOUT):
        async with (
            open_bulk_client(sim.url, symbols=[BTC], signer=alice) as as_alice,
            open_bulk_client(sim.url, symbols=[BTC], signer=bob) as as_bob,
        ):
            created = await as_alice.create_multisig([alice.public_key, bob.public_key], 2, 0, 600)
            assert not created.is_error, created
            multisig = str(created.meta["pubkey"])
            proposed = await as_alice.multisig_propose(multisig, CancelAll([BTC]))
            assert not proposed.is_error, proposed
            proposal = int(proposed.meta["proposalId"])  # type: ignore[call-overload]
            early = await as_bob.multisig_execute(multisig, proposal)
            assert early.is_error  # one approval of two: not yet
            assert not (await as_bob.multisig_approve(multisig, proposal)).is_error
            executed = await as_bob.multisig_execute(multisig, proposal)
            assert executed.raw_status == "proposalExecuted", executed
