"""Signed transactions: the message bytes (docs/protocol.md), Ed25519 signatures, order ids
and :class:`TransactionSigner`.

The message is ``[layout prefix] ‖ u64 count ‖ (u32 discriminant ‖ body)* ‖ u64 nonce ‖
32-byte account ‖ [domain byte]``. The signer's own key is not in it: an agent wallet signs the
account's bytes, and the ``signer`` field of the payload says who signed.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Sequence
from typing import Any, TypeAlias

import nacl.bindings
import nacl.exceptions
import nacl.utils

from ..actions import BaseAction, LimitOrder
from ..literals import DomainName
from . import wincode
from .action_bytes import encode_action, layout_for, order_id_body, single_limit_message
from .keys import (
    SEED_SIZE,
    SIGNATURE_SIZE,
    b58decode,
    b58encode,
    decode_32,
    parse_private_key,
)
from .wincode import Layout

__all__ = [
    "DOMAINS",
    "Layout",
    "TransactionSigner",
    "choose_layout",
    "encode_message",
    "order_id",
    "order_ids",
    "verify_signature",
]

DOMAINS = {"mainnet": 1, "testnet": 2, "devnet": 3}
"""Signature domains and the byte that ends a message signed for them (decision 1)."""

_MAX_SIGNATURE_TEXT = 88  # base58 of 64 bytes is at most 88 characters

Actions: TypeAlias = BaseAction | Sequence[BaseAction]
"""One action, or a list of them (one transaction, executed atomically in order).

Typed with the common base class so that a mixed list literal type-checks as it is written."""


_crypto_sign = nacl.bindings.crypto_sign


def _action_list(actions: Actions) -> Sequence[BaseAction]:
    if isinstance(actions, BaseAction):
        return (actions,)
    if not isinstance(actions, list | tuple):
        kind = type(actions).__name__
        raise ValueError(f"actions must be an action or a list of actions, got {kind}")
    for index, action in enumerate(actions):
        if not isinstance(action, BaseAction):
            raise ValueError(f"actions[{index}] must be an action, got {type(action).__name__}")
    if not actions:
        raise ValueError("actions must not be empty")
    return actions


def _checked_nonce(nonce: object) -> int:
    if isinstance(nonce, bool) or not isinstance(nonce, int):
        raise ValueError(f"nonce must be an integer, got {nonce!r}")
    if not 0 <= nonce <= wincode.U64_MAX:
        raise ValueError(f"nonce must fit in a u64, got {nonce}")
    return nonce


def _account_bytes(account: str | bytes) -> bytes:
    if isinstance(account, bytes) and len(account) == 32:
        return account
    return decode_32(account, field="account")


def _domain_suffix(domain: str | None) -> bytes:
    if domain is None:
        return b""
    byte = DOMAINS.get(domain) if isinstance(domain, str) else None
    if byte is None:
        # Not echoed: with swapped arguments, the "domain" is the private key.
        raise ValueError(f"domain must be one of {sorted(DOMAINS)} or None")
    return bytes((byte,))


def choose_layout(actions: Actions) -> Layout:
    """The layout keychain 0.1.31 picks, which is also decision 2 of docs/protocol.md.

    First match wins: V6 for a transfer, V4 for any stop, take-profit, range or trailing stop, V3
    for any builder code, V2 for a market order with slippage, else legacy; nested actions count.
    """
    return layout_for(_action_list(actions))


_U64 = wincode.packer("Q")
_ID_HEAD = wincode.packer("II")  # seqno, discriminant
_sha256 = hashlib.sha256


def _message(
    actions: Sequence[BaseAction], layout: Layout, nonce: int, account: bytes, suffix: bytes
) -> bytes:
    """The message of already validated parts (the signing hot path)."""
    # The legacy layout has no prefix; testing it by identity skips a lookup keyed by the enum.
    prefix = b"" if layout is Layout.LEGACY else layout.prefix
    if len(actions) == 1:
        return b"".join(
            (
                prefix,
                _U64(1),
                encode_action(actions[0], layout),
                _U64(nonce),
                account,
                suffix,
            )
        )
    parts = [prefix, _U64(len(actions))]
    parts += [encode_action(action, layout) for action in actions]
    parts += (_U64(nonce), account, suffix)
    return b"".join(parts)


def encode_message(
    actions: Actions,
    *,
    nonce: int,
    account: str | bytes,
    domain: str | None,
    layout: Layout | None = None,
) -> bytes:
    """The exact bytes that are signed for ``actions``.

    ``account`` is the trading account (base58 or its 32 raw bytes), also when an agent signs.
    ``domain`` is ``"mainnet"``, ``"testnet"`` or ``"devnet"`` (suffix byte 1/2/3), or ``None`` for
    the legacy form without a suffix byte. ``layout=None`` uses :func:`choose_layout`; a layout that
    cannot express an action (slippage in the legacy layout, say) raises ``ValueError``.
    """
    action_list = _action_list(actions)
    if layout is None:
        layout = layout_for(action_list)
    elif not isinstance(layout, Layout):
        raise ValueError(f"layout must be a Layout or None, got {layout!r}")
    return _message(
        action_list,
        layout,
        _checked_nonce(nonce),
        _account_bytes(account),
        _domain_suffix(domain),
    )


def verify_signature(message: bytes, signature_b58: str, signer_b58: str) -> bool:
    """True if ``signature_b58`` is ``signer_b58``'s Ed25519 signature of ``message``.

    Never raises: any malformed input (wrong types, bad base58, wrong lengths) is just ``False``.
    """
    if not isinstance(message, bytes | bytearray | memoryview):
        return False
    if not isinstance(signature_b58, str) or len(signature_b58) > _MAX_SIGNATURE_TEXT:
        return False
    try:
        signature = b58decode(signature_b58)
        public_key = decode_32(signer_b58, field="signer")
        if len(signature) != SIGNATURE_SIZE:
            return False
        nacl.bindings.crypto_sign_open(signature + bytes(message), public_key)
    except (ValueError, TypeError, nacl.exceptions.CryptoError):
        return False
    return True


def order_id(
    action: BaseAction,
    *,
    seqno: int,
    nonce: int,
    account: str | bytes,
    keychain_slippage: bool = False,
) -> str | None:
    """The id the exchange gives the order ``action`` at index ``seqno`` of a transaction.

    ``base58(sha256(u32 seqno ‖ u32 discriminant ‖ legacy body without builder code ‖ account ‖
    u64 nonce))``. Only limit and market orders have precomputable ids; anything else gives
    ``None``. So does a market order with slippage (decision 3: sources disagree on its id), unless
    ``keychain_slippage=True`` asks for the id keychain 0.1.31 computes for it.
    """
    body = order_id_body(action, keychain_slippage=keychain_slippage)
    if body is None:
        return None
    if isinstance(seqno, bool) or not isinstance(seqno, int) or not 0 <= seqno <= wincode.U32_MAX:
        raise ValueError(f"seqno must be an integer that fits in a u32, got {seqno!r}")
    preimage = b"".join(
        (
            _ID_HEAD(seqno, action.DISCRIMINANT),
            body,
            _account_bytes(account),
            _U64(_checked_nonce(nonce)),
        )
    )
    return b58encode(_sha256(preimage).digest())


def order_ids(
    actions: Actions, *, nonce: int, account: str | bytes, keychain_slippage: bool = False
) -> list[str | None]:
    """:func:`order_id` of every action of a transaction; the seqno is the index in the list."""
    account_bytes = _account_bytes(account)
    return [
        order_id(
            action,
            seqno=seqno,
            nonce=nonce,
            account=account_bytes,
            keychain_slippage=keychain_slippage,
        )
        for seqno, action in enumerate(_action_list(actions))
    ]


class TransactionSigner:
    """Signs transactions for one Ed25519 key and one signature domain.

    ``private_key`` is base58 (or raw bytes) of a 32-byte seed or of a 64-byte keypair
    (seed ‖ public key). The key never appears in ``repr``/``str`` or in error messages, and the
    signer refuses to be pickled; :attr:`private_key` hands out the seed only when asked by name.
    """

    __slots__ = (
        "_domain",
        "_domain_suffix",
        "_last_nonce",
        "_nonce_lock",
        "_own_tail",
        "_public_key",
        "_public_key_bytes",
        "_secret_key",
    )

    def __init__(self, private_key: str | bytes, domain: DomainName | None = "mainnet") -> None:
        self._domain_suffix = _domain_suffix(domain)
        self._domain = domain
        seed = parse_private_key(private_key)
        public_key, secret_key = nacl.bindings.crypto_sign_seed_keypair(seed)
        self._secret_key: bytes = secret_key
        self._public_key_bytes: bytes = public_key
        self._public_key = b58encode(public_key)
        # What ends every message this signer signs for its own account.
        self._own_tail = public_key + self._domain_suffix
        self._last_nonce = 0
        # Trio code is single-threaded, but a signer may be shared with worker threads.
        self._nonce_lock = threading.Lock()

    @classmethod
    def generate_account(cls, domain: DomainName | None = "mainnet") -> TransactionSigner:
        """A signer for a fresh random key (tests and throwaway accounts)."""
        return cls(nacl.utils.random(SEED_SIZE), domain=domain)

    @property
    def public_key(self) -> str:
        """Base58 public key: the account address, and the ``signer`` of every payload."""
        return self._public_key

    @property
    def domain(self) -> str | None:
        return self._domain

    @property
    def private_key(self) -> str:
        """Base58 of the 32-byte seed. Handle with care: whoever holds it controls the account."""
        return b58encode(self._secret_key[:SEED_SIZE])

    def __repr__(self) -> str:
        return f"TransactionSigner(public_key={self._public_key!r}, domain={self._domain!r})"

    def __getstate__(self) -> Any:
        raise TypeError(
            "TransactionSigner holds a private key and is not picklable; "
            "pass signer.private_key explicitly if another process must sign"
        )

    def next_nonce(self) -> int:
        """A nonce greater than every earlier one of this signer: the time in ns, or last + 1."""
        with self._nonce_lock:
            nonce = time.time_ns()
            if nonce <= self._last_nonce:
                nonce = self._last_nonce + 1
            self._last_nonce = nonce
        return nonce

    def _use_nonce(self, nonce: int | None) -> int:
        if nonce is None:
            return self.next_nonce()
        nonce = _checked_nonce(nonce)
        # An explicit nonce is used as given; later automatic ones must still exceed it.
        with self._nonce_lock:
            self._last_nonce = max(self._last_nonce, nonce)
        return nonce

    def _account(self, account: str | None) -> tuple[str, bytes]:
        if account is None or account == self._public_key:
            return self._public_key, self._public_key_bytes
        return account, decode_32(account, field="account")

    def message_bytes(self, actions: Actions, *, nonce: int, account: str | None = None) -> bytes:
        """The bytes :meth:`sign_transaction` would sign (``account=None``: this signer's key)."""
        action_list = _action_list(actions)
        _, account_bytes = self._account(account)
        layout = layout_for(action_list)
        return _message(
            action_list, layout, _checked_nonce(nonce), account_bytes, self._domain_suffix
        )

    def sign_transaction(
        self, actions: Actions, *, nonce: int | None = None, account: str | None = None
    ) -> dict[str, Any]:
        """The signed wire payload ``{actions, nonce, account, signer, signature}``.

        ``nonce=None`` takes :meth:`next_nonce`. ``account=None`` trades for this signer's own
        account; another account means this signer acts as that account's agent wallet.
        """
        # Every order is signed here, so the common case (one limit order without builder code,
        # alone or as the one-element list that the client's place_limit_order passes) takes no
        # detours: its message comes from one struct call. benchmarks/bench_signing.py measures
        # it against keychain.
        order = actions[0] if type(actions) is list and len(actions) == 1 else actions
        if type(order) is LimitOrder and order.builder_code is None:
            if account is None or account == self._public_key:
                account_text, tail = self._public_key, self._own_tail
            else:  # an agent wallet signing for the account
                account_text, account_bytes = self._account(account)
                tail = account_bytes + self._domain_suffix
            nonce = self.next_nonce() if nonce is None else self._use_nonce(nonce)
            message = single_limit_message(order, nonce, tail)
            # crypto_sign returns signature ‖ message; the signature is the first 64 bytes.
            signature = _crypto_sign(message, self._secret_key)[:SIGNATURE_SIZE]
            return {
                "actions": [order.to_wire()],
                "nonce": nonce,
                "account": account_text,
                "signer": self._public_key,
                "signature": b58encode(signature),
            }
        action_list = (actions,) if isinstance(actions, BaseAction) else _action_list(actions)
        if account is None:
            account_text, account_bytes = self._public_key, self._public_key_bytes
        else:
            account_text, account_bytes = self._account(account)
        layout = layout_for(action_list)
        nonce = self.next_nonce() if nonce is None else self._use_nonce(nonce)
        message = _message(action_list, layout, nonce, account_bytes, self._domain_suffix)
        # crypto_sign returns signature ‖ message; the signature is the first 64 bytes.
        signature = _crypto_sign(message, self._secret_key)[:SIGNATURE_SIZE]
        return {
            "actions": [action.to_wire() for action in action_list],
            "nonce": nonce,
            "account": account_text,
            "signer": self._public_key,
            "signature": b58encode(signature),
        }
