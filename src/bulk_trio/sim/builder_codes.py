"""Builder codes: which builders an account approved, up to which fee, and what a fill pays.

An account approves a builder (``abc``) with the highest fee in basis points it accepts, and may
revoke it (``rbc``). An order carrying a builder code is refused unless its builder is approved at
that fee or more. Each fill of such an order pays ``notional * fee / 10_000`` from the order's
account to the builder, as long as the approval still stands: a revoked or lowered approval stops
the payments of orders already resting.
"""

from __future__ import annotations

_BPS = 10_000


class BuilderApprovals:
    """Approvals of every account: ``{account: {builder: max fee in bps}}``."""

    def __init__(self) -> None:
        self._approved: dict[str, dict[str, int]] = {}

    def approve(self, account: str, builder: str, max_fee: int) -> None:
        self._approved.setdefault(account, {})[builder] = max_fee

    def revoke(self, account: str, builder: str) -> bool:
        """False if ``builder`` was not approved."""
        return self._approved.get(account, {}).pop(builder, None) is not None

    def approvals(self, account: str) -> tuple[tuple[str, int], ...]:
        """``(builder, max fee)`` pairs, in approval order."""
        return tuple(self._approved.get(account, {}).items())

    def problem(self, account: str, builder: str, fee: int) -> str | None:
        """Why an order of ``account`` may not carry this code, or None."""
        approved = self._approved.get(account, {}).get(builder)
        if approved is None:
            return "builder code is not approved by the account"
        if fee > approved:
            return f"builder fee {fee} bps is above the approved {approved} bps"
        return None

    def fee(self, account: str, builder: str, fee_bps: int, notional: float) -> float:
        """What a fill of ``notional`` pays the builder now (0 once the approval is gone)."""
        if self.problem(account, builder, fee_bps) is not None:
            return 0.0
        return notional * fee_bps / _BPS
