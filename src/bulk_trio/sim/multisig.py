"""Multisig accounts: signers, a threshold, and proposals that run once enough signers agree.

A multisig account is an account of its own (it can hold margin and trade) that no single key can
sign for. A signer proposes actions (``msp``, which counts as the proposer's approval); signers
approve (``msa``) or reject (``msr``); the proposer may cancel (``msc``). Once ``threshold``
signers approved, the proposal is ready; any signer may execute it (``mse``) after the time lock
(counted from the proposal) and before it expires, and its actions then run as the multisig
account. A proposal that can no longer reach the threshold is rejected. The policy changes only
through a proposal of the multisig's own (``msu`` executed as the multisig). Times are the engine's
clock; the proposal fields reported are in milliseconds, as the HTTP API's proposals.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import attrs

from ..actions import BaseAction
from ..protocol.keys import b58encode

_SECOND_NS = 10**9
_MS_NS = 10**6


class MultisigRefused(ValueError):
    """The request cannot apply; the message says why."""


class ProposalExpired(MultisigRefused):
    """The proposal's lifetime ended before it was executed."""

    def __init__(self, multisig: Multisig, proposal: Proposal) -> None:
        super().__init__(f"proposal {proposal.proposal_id} expired")
        self.multisig = multisig
        self.proposal = proposal


@attrs.define
class MultisigPolicy:
    signers: tuple[str, ...]
    threshold: int
    time_lock_secs: int
    lifetime_secs: int


@attrs.define(eq=False)
class Proposal:
    proposal_id: int
    proposer: str
    actions: tuple[BaseAction, ...]
    created_ns: int
    execute_after_ns: int
    expires_ns: int
    approvals: list[str] = attrs.field(factory=list)
    rejections: list[str] = attrs.field(factory=list)
    status: str = "pending"
    """pending, ready, executed, failed, expired, cancelled or rejected."""

    @property
    def is_open(self) -> bool:
        return self.status in ("pending", "ready")


@attrs.define(eq=False)
class Multisig:
    pubkey: str
    creator: str
    policy: MultisigPolicy
    proposals: dict[int, Proposal] = attrs.field(factory=dict)
    next_id: int = 1


def derive_multisig(creator: str, serial: int) -> str:
    digest = hashlib.sha256(
        b"bulk-trio-sim multisig " + creator.encode() + serial.to_bytes(8, "little")
    )
    return b58encode(digest.digest())


class MultisigBook:
    """Every multisig account of one engine."""

    def __init__(self) -> None:
        self._accounts: dict[str, Multisig] = {}
        self._serial = 0

    def __contains__(self, pubkey: str) -> bool:
        return pubkey in self._accounts

    def get(self, pubkey: str) -> Multisig:
        multisig = self._accounts.get(pubkey)
        if multisig is None:
            raise MultisigRefused("not a multisig account")
        return multisig

    def create(self, creator: str, policy: MultisigPolicy) -> Multisig:
        self._serial += 1
        multisig = Multisig(derive_multisig(creator, self._serial), creator, policy)
        self._accounts[multisig.pubkey] = multisig
        return multisig

    def propose(
        self,
        pubkey: str,
        proposer: str,
        actions: Sequence[BaseAction],
        *,
        lifetime_secs: int | None,
        now_ns: int,
    ) -> Proposal:
        multisig = self._as_signer(pubkey, proposer)
        policy = multisig.policy
        lifetime = policy.lifetime_secs if lifetime_secs is None else lifetime_secs
        proposal = Proposal(
            multisig.next_id,
            proposer,
            tuple(actions),
            now_ns,
            now_ns + policy.time_lock_secs * _SECOND_NS,
            now_ns + lifetime * _SECOND_NS,
        )
        multisig.next_id += 1
        multisig.proposals[proposal.proposal_id] = proposal
        self._vote(multisig, proposal, proposer, approve=True)
        return proposal

    def vote(
        self, pubkey: str, voter: str, proposal_id: int, *, approve: bool, now_ns: int
    ) -> Proposal:
        multisig = self._as_signer(pubkey, voter)
        proposal = self._open(multisig, proposal_id, now_ns)
        if voter in proposal.approvals or voter in proposal.rejections:
            raise MultisigRefused("this signer has voted on the proposal already")
        self._vote(multisig, proposal, voter, approve=approve)
        return proposal

    def cancel(self, pubkey: str, voter: str, proposal_id: int, *, now_ns: int) -> Proposal:
        multisig = self._as_signer(pubkey, voter)
        proposal = self._open(multisig, proposal_id, now_ns)
        if proposal.proposer != voter:
            raise MultisigRefused("only the proposer can cancel a proposal")
        proposal.status = "cancelled"
        return proposal

    def executable(self, pubkey: str, voter: str, proposal_id: int, *, now_ns: int) -> Proposal:
        """The proposal, if ``voter`` may execute it now (it stays ``ready`` until
        :meth:`finish`)."""
        multisig = self._as_signer(pubkey, voter)
        proposal = self._open(multisig, proposal_id, now_ns)
        if proposal.status != "ready":
            raise MultisigRefused(
                f"proposal has {len(proposal.approvals)} of {multisig.policy.threshold} approvals"
            )
        if now_ns < proposal.execute_after_ns:
            raise MultisigRefused("the proposal's time lock has not passed yet")
        return proposal

    def finish(self, proposal: Proposal, *, ok: bool) -> None:
        proposal.status = "executed" if ok else "failed"

    def update(self, pubkey: str, policy: MultisigPolicy) -> None:
        self.get(pubkey).policy = policy

    def _as_signer(self, pubkey: str, signer: str) -> Multisig:
        multisig = self.get(pubkey)
        if signer not in multisig.policy.signers:
            raise MultisigRefused("the account is not a signer of this multisig")
        return multisig

    def _open(self, multisig: Multisig, proposal_id: int, now_ns: int) -> Proposal:
        proposal = multisig.proposals.get(proposal_id)
        if proposal is None:
            raise MultisigRefused(f"no proposal {proposal_id}")
        if proposal.is_open and now_ns >= proposal.expires_ns:
            proposal.status = "expired"
            raise ProposalExpired(multisig, proposal)
        if not proposal.is_open:
            raise MultisigRefused(f"proposal {proposal_id} is {proposal.status}")
        return proposal

    def _vote(self, multisig: Multisig, proposal: Proposal, voter: str, *, approve: bool) -> None:
        policy = multisig.policy
        (proposal.approvals if approve else proposal.rejections).append(voter)
        if len(proposal.approvals) >= policy.threshold:
            proposal.status = "ready"
        elif len(proposal.rejections) > len(policy.signers) - policy.threshold:
            proposal.status = "rejected"  # the threshold can no longer be reached


def proposal_body(multisig: Multisig, proposal: Proposal) -> dict[str, object]:
    """The body of a ``proposal*`` status (docs/protocol.md)."""
    return {
        "multisig": multisig.pubkey,
        "proposalId": proposal.proposal_id,
        "status": proposal.status,
        "approvals": len(proposal.approvals),
        "rejections": len(proposal.rejections),
        "threshold": multisig.policy.threshold,
        "executeAfter": proposal.execute_after_ns // _MS_NS,
        "expiresAt": proposal.expires_ns // _MS_NS,
        "proposer": proposal.proposer,
    }
