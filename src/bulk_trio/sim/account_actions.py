"""The account actions of the simulator: builder-code approvals, sub-accounts, transfers and
multisig. Each returns one status with the exchange's names (docs/protocol.md, statuses).

The state and rules live in :mod:`.builder_codes`, :mod:`.subaccounts` and :mod:`.multisig`; this
module applies an action to them and to the :class:`Ledger`, and words the status. Actions a
multisig proposal carries run through ``run_as``, the engine's nested execution.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeAlias

from ..actions import (
    ApproveBuilderCode,
    BaseAction,
    CreateMultisig,
    CreateSubAccount,
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
from ..enums import OrderStatus
from .accounts import Ledger
from .builder_codes import BuilderApprovals
from .events import ActionStatus
from .multisig import (
    MultisigBook,
    MultisigPolicy,
    MultisigRefused,
    ProposalExpired,
    proposal_body,
)
from .subaccounts import AccountTree, transfer_problem

AccountAction: TypeAlias = (
    ApproveBuilderCode
    | RevokeBuilderCode
    | CreateSubAccount
    | RemoveSubAccount
    | RenameSubAccount
    | Transfer
    | CreateMultisig
    | MultisigPropose
    | MultisigApprove
    | MultisigReject
    | MultisigCancel
    | MultisigExecute
    | MultisigUpdate
)
"""The actions :class:`AccountDesk` applies (usable with ``isinstance``)."""
MARGIN_SYMBOL = "USDC"
"""The margin asset transfers report (the exchange's only one)."""

RunAs = Callable[[str, Sequence[BaseAction]], tuple[ActionStatus, ...]]
"""Run actions as an account inside the current transaction; their statuses."""


def _status(status: OrderStatus, body: dict[str, object]) -> ActionStatus:
    return ActionStatus(status.value, body)


def _error(message: str) -> ActionStatus:
    return _status(OrderStatus.ERROR, {"message": message})


class AccountDesk:
    """Applies account actions for one engine."""

    def __init__(
        self, ledger: Ledger, builders: BuilderApprovals, *, has_orders: Callable[[str], bool]
    ) -> None:
        self.ledger = ledger
        self.builders = builders
        self.tree = AccountTree()
        self.multisigs = MultisigBook()
        self._has_orders = has_orders

    def may_sign(self, account: str, signer: str) -> bool:
        """A master signs for its sub-accounts (agents are the gate's business)."""
        return self.tree.controls(signer, account)

    def execute(
        self, action: AccountAction, *, account: str, now_ns: int, run_as: RunAs
    ) -> ActionStatus:
        if isinstance(action, ApproveBuilderCode):
            self.builders.approve(account, action.to, action.fee)
            return _status(OrderStatus.MODIFIED, {"builderCode": action.to, "maxFee": action.fee})
        if isinstance(action, RevokeBuilderCode):
            if not self.builders.revoke(account, action.to):
                return _error("builder code is not approved")
            return _status(OrderStatus.MODIFIED, {"builderCode": action.to, "maxFee": 0})
        if isinstance(action, CreateSubAccount):
            return self._create_sub_account(action, account)
        if isinstance(action, RemoveSubAccount):
            return self._remove_sub_account(action, account)
        if isinstance(action, RenameSubAccount):
            try:
                self.tree.rename(account, action.sub_account, action.name)
            except ValueError as problem:
                return _status(OrderStatus.RENAME_SUB_ACCOUNT_FAILED, {"message": str(problem)})
            body = {"master": account, "account": action.sub_account, "name": action.name}
            return _status(OrderStatus.RENAME_SUB_ACCOUNT, dict(body))
        if isinstance(action, Transfer):
            return self._transfer(action, account)
        return self._multisig(action, account, now_ns, run_as)

    # -- sub-accounts and transfers ---------------------------------------------------------

    def _create_sub_account(self, action: CreateSubAccount, account: str) -> ActionStatus:
        def failed(message: str) -> ActionStatus:
            return _status(OrderStatus.CREATE_SUB_ACCOUNT_FAILED, {"message": message})

        margin = action.margin_amount or 0.0
        spare = self.ledger.transferable(account)
        if margin > spare:
            return failed(f"insufficient margin: {spare:.8g} can be transferred")
        try:
            sub = self.tree.create(account, action.name)
        except ValueError as problem:
            return failed(str(problem))
        self.ledger.open_account(sub)
        if margin:
            self.ledger.move(account, sub, margin)
        body = {"master": account, "sub": sub, "name": action.name, "margin": margin}
        return _status(OrderStatus.CREATE_SUB_ACCOUNT, dict(body))

    def _remove_sub_account(self, action: RemoveSubAccount, account: str) -> ActionStatus:
        def failed(message: str) -> ActionStatus:
            return _status(OrderStatus.REMOVE_SUB_ACCOUNT_FAILED, {"message": message})

        sub = action.sub_account
        if sub not in self.tree.sub_accounts(account):
            return failed("not a sub-account of this account")
        state = self.ledger.peek(sub)
        if state is not None and any(position.size for position in state.positions.values()):
            return failed("the sub-account has open positions")
        if self._has_orders(sub):
            return failed("the sub-account has open orders")
        balance = state.balance if state is not None else 0.0
        if balance < 0:
            return failed("the sub-account owes fees")
        if balance:
            self.ledger.move(sub, account, balance)
        self.tree.remove(account, sub)
        self.ledger.close_account(sub)
        return _status(OrderStatus.REMOVE_SUB_ACCOUNT, {"account": sub, "marginMoved": balance})

    def _transfer(self, action: Transfer, account: str) -> ActionStatus:
        problem = transfer_problem(
            self.tree,
            account=account,
            source=action.source,
            destination=action.destination,
            amount=action.amount,
            external=action.external,
            spare=self.ledger.transferable(action.source),
        )
        if problem:
            return _status(OrderStatus.TRANSFER_FAILED, {"message": problem})
        self.ledger.move(action.source, action.destination, action.amount)
        body: dict[str, object] = {
            "from": action.source,
            "to": action.destination,
            "symbol": action.symbol or MARGIN_SYMBOL,
            "amount": action.amount,
        }
        return _status(OrderStatus.TRANSFER, body)

    # -- multisig ---------------------------------------------------------------------------

    def _multisig(
        self, action: BaseAction, account: str, now_ns: int, run_as: RunAs
    ) -> ActionStatus:
        book = self.multisigs
        try:
            if isinstance(action, CreateMultisig):
                policy = MultisigPolicy(
                    action.signers,
                    action.threshold,
                    action.time_lock_secs,
                    action.proposal_lifetime_secs,
                )
                multisig = book.create(account, policy)
                self.ledger.open_account(multisig.pubkey)
                body: dict[str, object] = {
                    "pubkey": multisig.pubkey,
                    "threshold": policy.threshold,
                    "signersLen": len(policy.signers),
                    "timeLockSecs": policy.time_lock_secs,
                    "lifetimeSecs": policy.lifetime_secs,
                    "creator": account,
                }
                return _status(OrderStatus.MULTISIG_CREATED, body)
            if isinstance(action, MultisigUpdate):
                if account != action.multisig:
                    raise MultisigRefused(
                        "a multisig's policy changes only through one of its own proposals"
                    )
                book.update(
                    action.multisig,
                    MultisigPolicy(
                        action.signers,
                        action.threshold,
                        action.time_lock_secs,
                        action.proposal_lifetime_secs,
                    ),
                )
                return _status(OrderStatus.MODIFIED, {"multisig": action.multisig})
            if isinstance(action, MultisigPropose):
                proposal = book.propose(
                    action.multisig,
                    account,
                    action.actions,
                    lifetime_secs=action.lifetime_secs,
                    now_ns=now_ns,
                )
                status = OrderStatus.PROPOSAL_CREATED
            elif isinstance(action, MultisigApprove | MultisigReject):
                approve = isinstance(action, MultisigApprove)
                proposal = book.vote(
                    action.multisig, account, action.proposal_id, approve=approve, now_ns=now_ns
                )
                status = _vote_status(proposal.status, approve=approve)
            elif isinstance(action, MultisigCancel):
                proposal = book.cancel(action.multisig, account, action.proposal_id, now_ns=now_ns)
                status = OrderStatus.PROPOSAL_CANCELLED
            else:
                assert isinstance(action, MultisigExecute)
                proposal = book.executable(
                    action.multisig, account, action.proposal_id, now_ns=now_ns
                )
                results = run_as(action.multisig, proposal.actions)
                refused = all(r.name == OrderStatus.REJECTED_INVALID.value for r in results)
                book.finish(proposal, ok=not refused)
                body = proposal_body(book.get(action.multisig), proposal)
                body["statuses"] = [{r.name: r.body} for r in results]
                name = OrderStatus.PROPOSAL_FAILED if refused else OrderStatus.PROPOSAL_EXECUTED
                return _status(name, body)
        except ProposalExpired as expired:
            body = proposal_body(expired.multisig, expired.proposal)
            return _status(OrderStatus.PROPOSAL_EXPIRED, body | {"message": str(expired)})
        except MultisigRefused as problem:
            if isinstance(action, CreateMultisig):
                return _status(OrderStatus.MULTISIG_CREATED_FAILED, {"message": str(problem)})
            return _error(str(problem))
        body = proposal_body(book.get(action.multisig), proposal)
        body["signer"] = account
        return _status(status, body)


def _vote_status(state: str, *, approve: bool) -> OrderStatus:
    if state == "ready":
        return OrderStatus.PROPOSAL_READY_FOR_EXECUTION
    if state == "rejected":
        return OrderStatus.PROPOSAL_REJECTED
    return OrderStatus.PROPOSAL_APPROVED if approve else OrderStatus.PROPOSAL_REJECTED
