"""Whether a received ``post`` payload may execute (docs/protocol.md, decision 8).

:meth:`TransactionGate.admit` takes the untrusted JSON payload and either returns the parsed
:class:`Envelope` or raises :class:`TransactionRefused` with a message for the reply. The checks,
in order: shape of the envelope; every action parses; the Ed25519 signature verifies with the
``signer`` key over the message re-encoded from the received actions under some candidate layout;
the signer is the account, an agent the account authorized, or (for a sub-account) its master or
one of the master's agents; the nonce is new for the account;
the account has been funded (unless the transaction only holds faucet actions). A nonce is recorded
as soon as signature and signer check out, so a transaction refused later cannot be replayed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import attrs

from ..actions import Action, Faucet
from ..checks import json_type
from ..fixedpoint import U64_MAX
from ..protocol.action_wire import action_from_wire
from ..protocol.keys import b58decode, decode_32
from ..protocol.signing import Layout, encode_message, verify_signature

_CANDIDATE_LAYOUTS = (Layout.LEGACY, Layout.V2, Layout.V3, Layout.V4, Layout.V6)
_MAX_SIGNATURE_TEXT = 88  # base58 of 64 bytes
_MAX_NONCE_TEXT = 20  # digits of 2**64 - 1
_NONCE_MEMORY = 100_000
"""Nonces remembered per account; older ones fall behind a low-water mark (see NonceBook)."""


class TransactionRefused(Exception):
    """The whole transaction is refused; ``str(error)`` is the message for the reply."""


@attrs.frozen
class Envelope:
    """A transaction whose shape is valid (not yet verified)."""

    actions: tuple[Action, ...]
    nonce: int
    account: str
    signer: str
    signature: str


def parse_envelope(payload: object) -> Envelope:
    """Check a ``post`` payload's shape and parse its actions (TransactionRefused if wrong)."""
    if not isinstance(payload, Mapping):
        raise TransactionRefused(f"payload must be an object, got {json_type(payload)}")
    for key in ("actions", "nonce", "account", "signer", "signature"):
        if key not in payload:
            raise TransactionRefused(f"payload is missing {key!r}")
    raw_actions = payload["actions"]
    if not isinstance(raw_actions, list) or not raw_actions:
        raise TransactionRefused("actions must be a non-empty list")
    nonce = _parse_nonce(payload["nonce"])
    account = _parse_key(payload["account"], "account")
    signer = _parse_key(payload["signer"], "signer")
    signature = payload["signature"]
    if not isinstance(signature, str) or len(signature) > _MAX_SIGNATURE_TEXT:
        raise TransactionRefused("signature must be base58 of 64 bytes")
    try:
        if len(b58decode(signature)) != 64:
            raise ValueError
    except ValueError:
        raise TransactionRefused("signature must be base58 of 64 bytes") from None
    actions = tuple(_parse_action(index, raw) for index, raw in enumerate(raw_actions))
    return Envelope(actions, nonce, account, signer, signature)


def _parse_action(index: int, raw: object) -> Action:
    try:
        return action_from_wire(raw)
    except ValueError as error:
        raise TransactionRefused(f"actions[{index}]: {error}") from None
    except (TypeError, KeyError, AttributeError, IndexError, OverflowError) as error:
        # Untrusted input must never crash the engine, whatever the parser makes of it.
        raise TransactionRefused(
            f"actions[{index}]: malformed action ({type(error).__name__})"
        ) from None


def _parse_nonce(value: object) -> int:
    if isinstance(value, bool):
        raise TransactionRefused("nonce must be an integer or a decimal string, not a bool")
    if isinstance(value, int):
        nonce = value
    elif (
        isinstance(value, str)
        and 0 < len(value) <= _MAX_NONCE_TEXT
        and value.isascii()
        and value.isdigit()
    ):
        nonce = int(value)
    else:
        raise TransactionRefused("nonce must be an integer or a decimal string")
    if not 0 <= nonce <= U64_MAX:
        raise TransactionRefused("nonce must fit in an unsigned 64-bit integer")
    return nonce


def _parse_key(value: object, field: str) -> str:
    try:
        decode_32(value, field=field)
    except ValueError as error:
        raise TransactionRefused(str(error)) from None
    assert isinstance(value, str)  # decode_32 accepted it
    return value


def signature_matches(envelope: Envelope, *, domain: str | None, allow_legacy: bool) -> bool:
    """True if the signature verifies over the received actions under any candidate layout."""
    domains: list[str | None] = [domain]
    if allow_legacy and domain is not None:
        domains.append(None)
    for candidate_domain in domains:
        for layout in _CANDIDATE_LAYOUTS:
            try:
                message = encode_message(
                    envelope.actions,
                    nonce=envelope.nonce,
                    account=envelope.account,
                    domain=candidate_domain,
                    layout=layout,
                )
            except ValueError:
                continue  # these actions cannot be written in this layout
            if verify_signature(message, envelope.signature, envelope.signer):
                return True
    return False


class NonceBook:
    """The nonces each account has used.

    Only the newest ``memory`` nonces of an account are kept; anything at or below the largest
    forgotten one is refused too, so memory stays bounded without ever accepting a replay.
    """

    def __init__(self, memory: int = _NONCE_MEMORY) -> None:
        self._memory = memory
        self._used: dict[str, set[int]] = {}
        self._floor: dict[str, int] = {}

    def check(self, account: str, nonce: int) -> None:
        if nonce in self._used.get(account, ()):
            raise TransactionRefused(f"nonce already used: {nonce}")
        floor = self._floor.get(account)
        if floor is not None and nonce <= floor:
            raise TransactionRefused(
                f"nonce already used or too old: {nonce} (use a nonce above {floor})"
            )

    def record(self, account: str, nonce: int) -> None:
        used = self._used.setdefault(account, set())
        used.add(nonce)
        if len(used) > self._memory:
            kept = sorted(used)[len(used) // 2 :]
            self._floor[account] = kept[0] - 1
            self._used[account] = set(kept)


class AgentBook:
    """Which agent keys each account has authorized to sign for it."""

    def __init__(self) -> None:
        self._agents: dict[str, set[str]] = {}

    def authorize(self, account: str, agent: str) -> None:
        self._agents.setdefault(account, set()).add(agent)

    def revoke(self, account: str, agent: str) -> bool:
        """Remove an agent; False if it was not authorized."""
        agents = self._agents.get(account)
        if not agents or agent not in agents:
            return False
        agents.discard(agent)
        return True

    def of(self, account: str) -> list[str]:
        """The agents ``account`` has authorized, sorted."""
        return sorted(self._agents.get(account, ()))

    def may_sign(self, account: str, signer: str, *, master: str | None = None) -> bool:
        """The account itself, its agents, and, for a sub-account, its master and the master's
        agents."""
        if signer == account or signer in self._agents.get(account, ()):
            return True
        return master is not None and (signer == master or signer in self._agents.get(master, ()))


class TransactionGate:
    """Admission control for signed transactions of one simulated network."""

    def __init__(self, *, domain: str | None, allow_legacy_signatures: bool) -> None:
        self.domain = domain
        self.allow_legacy_signatures = allow_legacy_signatures
        self.nonces = NonceBook()
        self.agents = AgentBook()
        self.master_of: Callable[[str], str | None] = lambda account: None
        """Set by the engine once sub-accounts exist: a master may sign for its sub-accounts."""

    def admit(self, payload: object, *, is_funded: Callable[[str], bool]) -> Envelope:
        envelope = parse_envelope(payload)
        if not signature_matches(
            envelope, domain=self.domain, allow_legacy=self.allow_legacy_signatures
        ):
            raise TransactionRefused("Invalid signature")
        master = self.master_of(envelope.account)
        if not self.agents.may_sign(envelope.account, envelope.signer, master=master):
            raise TransactionRefused("Unauthorized signer")
        self.nonces.check(envelope.account, envelope.nonce)
        self.nonces.record(envelope.account, envelope.nonce)
        if not is_funded(envelope.account) and not _only_faucets(envelope.actions):
            raise TransactionRefused("Account not found")
        return envelope


def _only_faucets(actions: Sequence[Action]) -> bool:
    return all(isinstance(action, Faucet) for action in actions)
