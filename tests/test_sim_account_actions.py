"""Builder codes, sub-accounts, transfers and multisig in the simulator engine."""

from __future__ import annotations

import json

import pytest

from bulk_trio.actions import (
    Action,
    AgentWallet,
    ApproveBuilderCode,
    BuilderCode,
    CancelAll,
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
    RemoveSubAccount,
    RenameSubAccount,
    RevokeBuilderCode,
    Transfer,
)
from bulk_trio.enums import Side
from bulk_trio.protocol.keys import b58encode
from bulk_trio.protocol.signing import TransactionSigner
from bulk_trio.sim import frames
from bulk_trio.sim.engine import Engine
from bulk_trio.sim.events import ActionStatus, Submission

BTC = "BTC-USD"
NOW = 1_700_000_000_000_000_000
SECOND = 10**9
MASTER = TransactionSigner(b"\x31" * 32, domain="testnet")
A, B, BUILDER, C = MASTER.public_key, *(b58encode(bytes([n]) * 32) for n in (2, 3, 4))
FUNDS = 10_000.0


@pytest.fixture
def engine() -> Engine:
    engine = Engine([BTC], initial_prices={BTC: 100.0}, maker_fee_bps=1.0, taker_fee_bps=3.0)
    for account in (A, B):
        engine.fund(account, FUNDS, now_ns=NOW)
    return engine


def run(engine: Engine, account: str, *actions: Action, now_ns: int = NOW) -> Submission:
    submission = engine.submit_trusted(account, list(actions), now_ns=now_ns)
    assert submission.ok
    assert len(submission.statuses) == len(actions)
    return submission


def one(engine: Engine, account: str, action: Action, now_ns: int = NOW) -> ActionStatus:
    (status,) = run(engine, account, action, now_ns=now_ns).statuses
    return status


def balance(engine: Engine, account: str) -> float:
    return engine.account_view(account).margin.total_balance


def assert_money_is_conserved(engine: Engine, accounts: list[str], deposits: float) -> None:
    # Trading fees leave the accounts for the exchange; everything else only moves between them.
    equity = sum(balance(engine, a) for a in accounts)
    assert equity + engine.trading_fees == pytest.approx(deposits)
    assert engine.deposited == deposits


# -- builder codes ---------------------------------------------------------------------------


def test_an_order_with_an_unapproved_or_too_high_builder_fee_is_refused(engine: Engine) -> None:
    order = LimitOrder(BTC, Side.BUY, 99.0, 1.0, builder_code=BuilderCode(BUILDER, 5))
    status = one(engine, A, order)
    assert (status.name, status.body["reason"]) == (
        "rejectedInvalid",
        "builder code is not approved by the account",
    )
    assert one(engine, A, ApproveBuilderCode(BUILDER, 4)).name == "modified"
    status = one(engine, A, order)
    assert status.name == "rejectedInvalid"
    assert "above the approved 4 bps" in str(status.body["reason"])
    assert one(engine, A, ApproveBuilderCode(BUILDER, 5)).name == "modified"
    assert one(engine, A, order).name == "resting"


def test_the_builder_fee_is_charged_and_credited_on_every_fill(engine: Engine) -> None:
    run(engine, A, ApproveBuilderCode(BUILDER, 10))
    run(engine, B, LimitOrder(BTC, Side.SELL, 100.0, 2.0))
    before = balance(engine, A)
    run(engine, A, MarketOrder(BTC, Side.BUY, 2.0, builder_code=BuilderCode(BUILDER, 10)))
    trading_fee = 200.0 * 3 / 10_000
    builder_fee = 200.0 * 10 / 10_000
    assert balance(engine, BUILDER) == pytest.approx(builder_fee)
    assert balance(engine, A) == pytest.approx(before - trading_fee - builder_fee)
    assert engine.account_view(A).margin.fees == pytest.approx(trading_fee + builder_fee)
    assert_money_is_conserved(engine, [A, B, BUILDER], 2 * FUNDS)


def test_revoking_stops_new_orders_and_payments_of_resting_ones(engine: Engine) -> None:
    run(engine, A, ApproveBuilderCode(BUILDER, 10))
    coded = LimitOrder(BTC, Side.BUY, 99.0, 1.0, builder_code=BuilderCode(BUILDER, 10))
    assert one(engine, A, coded).name == "resting"
    assert one(engine, A, RevokeBuilderCode(BUILDER)).name == "modified"
    assert one(engine, A, RevokeBuilderCode(BUILDER)).name == "error"
    assert one(engine, A, coded).name == "rejectedInvalid"
    run(engine, B, MarketOrder(BTC, Side.SELL, 1.0))
    assert balance(engine, BUILDER) == 0.0


def test_the_account_snapshot_lists_the_approvals(engine: Engine) -> None:
    run(engine, A, ApproveBuilderCode(BUILDER, 7), ApproveBuilderCode(C, 3))
    assert engine.account_view(A).builder_codes == ((BUILDER, 7), (C, 3))
    data = json.loads(frames.account_snapshot(A, engine.account_view(A)))["data"]
    assert data["builderCodeApprovals"] == [
        {"recipient": BUILDER, "maxFee": 7},
        {"recipient": C, "maxFee": 3},
    ]


# -- sub-accounts and transfers --------------------------------------------------------------


def create_sub(engine: Engine, name: str = "hedge", margin: float | None = 1_000.0) -> str:
    status = one(engine, A, CreateSubAccount(name, margin))
    assert status.name == "createSubAccount"
    assert (status.body["master"], status.body["name"]) == (A, name)
    return str(status.body["sub"])


def test_a_sub_account_is_an_account_of_its_own_funded_by_its_master(engine: Engine) -> None:
    sub = create_sub(engine)
    assert balance(engine, sub) == 1_000.0
    assert balance(engine, A) == FUNDS - 1_000.0
    run(engine, B, LimitOrder(BTC, Side.SELL, 100.0, 1.0))
    run(engine, sub, MarketOrder(BTC, Side.BUY, 1.0))
    assert [p.size for p in engine.account_view(sub).positions] == [1.0]
    assert engine.account_view(A).positions == ()
    assert_money_is_conserved(engine, [A, B, sub], 2 * FUNDS)


def test_the_master_signs_for_its_sub_account_and_strangers_cannot(engine: Engine) -> None:
    sub = create_sub(engine)
    order = LimitOrder(BTC, Side.BUY, 90.0, 1.0)
    payload = MASTER.sign_transaction([order], nonce=1, account=sub)
    submission = engine.submit(payload, now_ns=NOW)
    assert submission.ok, submission.message
    assert [o.account for o in engine.open_orders(sub)] == [sub]
    stranger = TransactionSigner(b"\x32" * 32, domain="testnet")
    refused = engine.submit(stranger.sign_transaction([order], nonce=2, account=sub), now_ns=NOW)
    assert (refused.ok, refused.message) == (False, "Unauthorized signer")


def test_internal_transfers_move_margin_inside_the_family_only(engine: Engine) -> None:
    sub = create_sub(engine, margin=None)
    status = one(engine, A, Transfer(A, sub, 250.0))
    assert status == ActionStatus(
        "transfer", {"from": A, "to": sub, "symbol": "USDC", "amount": 250.0}
    )
    assert one(engine, A, Transfer(sub, A, 50.0)).name == "transfer"  # the master moves it back
    assert (balance(engine, A), balance(engine, sub)) == (FUNDS - 200.0, 200.0)
    failed = one(engine, A, Transfer(A, B, 10.0))
    assert failed.name == "transferFailed"
    assert "stays between an account and its sub-accounts" in str(failed.body["message"])
    assert one(engine, B, Transfer(sub, B, 10.0, external=True)).name == "transferFailed"


def test_external_transfers_leave_the_family(engine: Engine) -> None:
    assert one(engine, A, Transfer(A, C, 100.0, external=True)).name == "transfer"
    assert balance(engine, C) == 100.0
    sub = create_sub(engine, margin=None)
    failed = one(engine, A, Transfer(A, sub, 1.0, external=True))
    assert "must leave the account's family" in str(failed.body["message"])


def test_a_transfer_never_overdraws_nor_breaches_margin(engine: Engine) -> None:
    failed = one(engine, A, Transfer(A, C, FUNDS + 1, external=True))
    assert failed.name == "transferFailed"
    assert "insufficient margin" in str(failed.body["message"])
    run(engine, A, LimitOrder(BTC, Side.BUY, 100.0, 400.0))  # 40 000 at 5x: 8 000 of margin
    assert one(engine, A, Transfer(A, C, 2_500.0, external=True)).name == "transferFailed"
    assert one(engine, A, Transfer(A, C, 2_000.0, external=True)).name == "transfer"
    assert engine.account_view(A).margin.available_balance == pytest.approx(0.0)
    assert one(engine, A, CreateSubAccount("x", 1.0)).name == "createSubAccountFailed"


def test_rename_and_remove_a_sub_account(engine: Engine) -> None:
    sub = create_sub(engine)
    other = create_sub(engine, "other", None)
    assert one(engine, A, RenameSubAccount(sub, "other")).name == "renameSubAccountFailed"
    assert one(engine, A, RenameSubAccount(sub, "carry")) == ActionStatus(
        "renameSubAccount", {"master": A, "account": sub, "name": "carry"}
    )
    assert one(engine, B, RemoveSubAccount(sub)).name == "removeSubAccountFailed"
    run(engine, sub, LimitOrder(BTC, Side.BUY, 90.0, 1.0))
    failed = one(engine, A, RemoveSubAccount(sub))
    assert failed.body == {"message": "the sub-account has open orders"}
    run(engine, sub, CancelAll([]))
    assert one(engine, A, RemoveSubAccount(sub)) == ActionStatus(
        "removeSubAccount", {"account": sub, "marginMoved": 1_000.0}
    )
    assert balance(engine, A) == FUNDS
    assert not engine.is_funded(sub)
    assert engine.is_funded(other)


def test_a_sub_account_cannot_own_sub_accounts(engine: Engine) -> None:
    sub = create_sub(engine)
    failed = one(engine, sub, CreateSubAccount("nested"))
    assert failed == ActionStatus(
        "createSubAccountFailed", {"message": "a sub-account cannot own sub-accounts"}
    )


# -- multisig --------------------------------------------------------------------------------


def create_multisig(engine: Engine, *, time_lock: int = 0, lifetime: int = 3_600) -> str:
    status = one(engine, A, CreateMultisig([A, B, C], 2, time_lock, lifetime))
    assert status.name == "multisigCreated"
    assert status.body["signersLen"] == 3
    multisig = str(status.body["pubkey"])
    run(engine, A, Transfer(A, multisig, 1_000.0, external=True))
    return multisig


def test_a_proposal_runs_as_the_multisig_once_approved_and_unlocked(engine: Engine) -> None:
    multisig = create_multisig(engine, time_lock=60)
    proposal = MultisigPropose(multisig, [Transfer(multisig, C, 400.0, external=True)])
    created = one(engine, A, proposal)
    assert created.name == "proposalCreated"
    assert (created.body["proposalId"], created.body["approvals"]) == (1, 1)
    assert one(engine, C, MultisigExecute(multisig, 1)).name == "error"  # 1 of 2 approvals
    ready = one(engine, B, MultisigApprove(multisig, 1))
    assert (ready.name, ready.body["status"]) == ("proposalReadyForExecution", "ready")
    locked = one(engine, C, MultisigExecute(multisig, 1))
    assert "time lock" in str(locked.body["message"])
    executed = one(engine, C, MultisigExecute(multisig, 1), now_ns=NOW + 61 * SECOND)
    assert executed.name == "proposalExecuted"
    assert executed.body["statuses"] == [
        {"transfer": {"from": multisig, "to": C, "symbol": "USDC", "amount": 400.0}}
    ]
    assert (balance(engine, multisig), balance(engine, C)) == (600.0, 400.0)
    again = one(engine, C, MultisigExecute(multisig, 1), now_ns=NOW + 62 * SECOND)
    assert again.body == {"message": "proposal 1 is executed"}


def test_non_signers_cannot_propose_or_vote(engine: Engine) -> None:
    multisig = create_multisig(engine)
    outsider = b58encode(b"\x09" * 32)
    failed = one(engine, outsider, MultisigPropose(multisig, [Transfer(multisig, C, 1.0, True)]))
    assert failed == ActionStatus(
        "error", {"message": "the account is not a signer of this multisig"}
    )
    one(engine, A, MultisigPropose(multisig, [Transfer(multisig, C, 1.0, True)]))
    assert one(engine, outsider, MultisigApprove(multisig, 1)).name == "error"
    assert one(engine, A, MultisigApprove(multisig, 1)).name == "error"  # voted already


def test_rejections_cancellation_and_expiry_close_proposals(engine: Engine) -> None:
    multisig = create_multisig(engine, lifetime=10)
    payment = [Transfer(multisig, C, 1.0, external=True)]
    run(engine, A, MultisigPropose(multisig, payment))
    assert one(engine, B, MultisigReject(multisig, 1)).body["status"] == "pending"
    rejected = one(engine, C, MultisigReject(multisig, 1))
    assert (rejected.name, rejected.body["status"]) == ("proposalRejected", "rejected")

    run(engine, A, MultisigPropose(multisig, payment))
    assert one(engine, B, MultisigCancel(multisig, 2)).name == "error"  # not the proposer
    assert one(engine, A, MultisigCancel(multisig, 2)).body["status"] == "cancelled"

    run(engine, A, MultisigPropose(multisig, payment))
    late = one(engine, B, MultisigApprove(multisig, 3), now_ns=NOW + 11 * SECOND)
    assert (late.name, late.body["status"]) == ("proposalExpired", "expired")
    assert balance(engine, C) == 0.0


def test_the_policy_changes_only_through_a_proposal(engine: Engine) -> None:
    multisig = create_multisig(engine)
    update = MultisigUpdate(multisig, [A, B], 1, 0, 3_600)
    assert one(engine, A, update).name == "error"
    run(engine, A, MultisigPropose(multisig, [update]))
    run(engine, B, MultisigApprove(multisig, 1))
    assert one(engine, A, MultisigExecute(multisig, 1)).name == "proposalExecuted"
    created = one(engine, A, MultisigPropose(multisig, [Transfer(multisig, C, 5.0, True)]))
    assert created.body["status"] == "ready"  # one approval is enough now
    assert one(engine, C, MultisigApprove(multisig, 2)).name == "error"  # C is no signer now


def test_a_proposal_whose_actions_are_invalid_fails(engine: Engine) -> None:
    multisig = create_multisig(engine)
    run(engine, A, MultisigPropose(multisig, [LimitOrder("DOGE-USD", Side.BUY, 1.0, 1.0)]))
    run(engine, B, MultisigApprove(multisig, 1))
    failed = one(engine, A, MultisigExecute(multisig, 1))
    assert (failed.name, failed.body["status"]) == ("proposalFailed", "failed")


def test_the_masters_agent_may_sign_for_the_sub_account_too(engine: Engine) -> None:
    sub = create_sub(engine)
    agent = TransactionSigner(b"\x33" * 32, domain="testnet")
    grant = engine.submit(
        MASTER.sign_transaction([AgentWallet(agent.public_key)], nonce=1), now_ns=NOW
    )
    assert grant.ok and grant.statuses[0].name == "agentWallet"
    order = LimitOrder(BTC, Side.BUY, 90.0, 1.0)
    submission = engine.submit(agent.sign_transaction([order], nonce=2, account=sub), now_ns=NOW)
    assert submission.ok, submission.message
    assert [o.account for o in engine.open_orders(sub)] == [sub]
