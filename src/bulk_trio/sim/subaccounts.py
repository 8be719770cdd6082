"""Sub-accounts and transfers: who owns which account, and which transfers may happen.

A sub-account is an account of its own (positions, orders, margin) owned by one master account;
the master, and the master's agents, may sign for it. Sub-accounts own no sub-accounts. Margin
moves between a master and its sub-accounts with internal transfers, and to any other account with
external ones. The rules, checked before any money moves:

* the transaction's account must be the source or the source's master;
* an internal transfer stays in one family (a master and its sub-accounts); an external one leaves
  it;
* the amount may not exceed what the source can spare: its cash never goes below zero and it keeps
  the margin its positions and orders use (:meth:`Ledger.transferable`).
"""

from __future__ import annotations

import hashlib

from ..protocol.keys import b58encode

MAX_SUB_ACCOUNTS = 50
"""Per master; the exchange documents no number, this keeps a runaway script bounded."""


def derive_sub_account(master: str, serial: int) -> str:
    """The sub-account key the simulator assigns (nobody holds its private key: the master
    signs for it)."""
    digest = hashlib.sha256(
        b"bulk-trio-sim sub-account " + master.encode() + serial.to_bytes(8, "little")
    )
    return b58encode(digest.digest())


class AccountTree:
    """Masters and their sub-accounts, with names."""

    def __init__(self) -> None:
        self._master: dict[str, str] = {}
        self._subs: dict[str, dict[str, str]] = {}  # master -> {sub: name}, in creation order
        self._serial = 0

    def master_of(self, account: str) -> str | None:
        return self._master.get(account)

    def sub_accounts(self, master: str) -> dict[str, str]:
        """``{sub-account: name}`` of ``master``."""
        return dict(self._subs.get(master, {}))

    def family(self, account: str) -> frozenset[str]:
        """The account's master and all of that master's sub-accounts."""
        root = self._master.get(account, account)
        return frozenset({root, *self._subs.get(root, {})})

    def controls(self, signer: str, account: str) -> bool:
        """True if ``signer`` is ``account`` or its master."""
        return signer == account or self._master.get(account) == signer

    def create(self, master: str, name: str) -> str:
        """A new sub-account of ``master``; ValueError says why not."""
        if master in self._master:
            raise ValueError("a sub-account cannot own sub-accounts")
        subs = self._subs.setdefault(master, {})
        if name in subs.values():
            raise ValueError(f"a sub-account named {name!r} exists already")
        if len(subs) >= MAX_SUB_ACCOUNTS:
            raise ValueError(f"at most {MAX_SUB_ACCOUNTS} sub-accounts per account")
        self._serial += 1
        sub = derive_sub_account(master, self._serial)
        subs[sub] = name
        self._master[sub] = master
        return sub

    def rename(self, master: str, sub: str, name: str) -> None:
        subs = self._owned(master, sub)
        if name in (other for key, other in subs.items() if key != sub):
            raise ValueError(f"a sub-account named {name!r} exists already")
        subs[sub] = name

    def remove(self, master: str, sub: str) -> None:
        del self._owned(master, sub)[sub]
        del self._master[sub]

    def _owned(self, master: str, sub: str) -> dict[str, str]:
        subs = self._subs.get(master, {})
        if sub not in subs:
            raise ValueError("not a sub-account of this account")
        return subs


def transfer_problem(
    tree: AccountTree,
    *,
    account: str,
    source: str,
    destination: str,
    amount: float,
    external: bool,
    spare: float,
) -> str | None:
    """Why ``account`` may not move ``amount`` from ``source`` (which can ``spare`` that much)
    to ``destination``, or None."""
    if not tree.controls(account, source):
        return "the source must be the account or one of its sub-accounts"
    if destination == source:
        return "source and destination are the same account"
    same_family = destination in tree.family(source)
    if same_family and external:
        return "an external transfer must leave the account's family (use an internal one)"
    if not same_family and not external:
        return "an internal transfer stays between an account and its sub-accounts"
    if amount > spare:
        return f"insufficient margin: {spare:.8g} can be transferred, {amount:.8g} asked"
    return None
