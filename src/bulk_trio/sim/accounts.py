"""Simulated accounts: balances, average-cost positions, fees, leverage and cross margin.

Position sizes are kept in 1e8 ticks so that a position is exactly the sum of its fills; entry
prices and P&L come from :mod:`bulk_trio.position_math`, shared with the client's inventory.

Margin model (one cross-margin pool per account, no isolated margin, no funding, no liquidation):

* equity (``total_balance``) = cash balance + unrealized P&L at the mark;
* initial margin = ``|size| * mark / leverage`` per position plus ``remaining * price / leverage``
  per resting order that is not reduce-only (a reduce-only order cannot add exposure);
* ``available_balance`` = equity - initial margin;
* maintenance margin is half the initial margin of a position; ``liquidation_price`` is where the
  equity, if only that position's price moved, would fall to that maintenance margin. It is
  reported, never acted on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import attrs

from ..fixedpoint import from_fixed
from ..position_math import apply_fill, unrealized
from .events import MarginView, PositionFigures
from .matching import BookOrder

MIN_LEVERAGE = 1.0
MAX_LEVERAGE = 50.0
_MAINTENANCE_FRACTION = 0.5  # of the initial margin


@attrs.define
class PositionState:
    size: int = 0
    """Signed ticks: + long, - short."""
    entry_price: float = 0.0
    realized_pnl: float = 0.0
    fees: float = 0.0


@attrs.define
class AccountState:
    account: str
    funded: bool = False
    balance: float = 0.0
    """Cash: deposits + realized P&L - fees + received."""
    realized_pnl: float = 0.0
    fees: float = 0.0
    """Trading fees and builder fees paid."""
    received: float = 0.0
    """Money moved in from other accounts (transfers, builder fees earned) minus money moved out."""
    positions: dict[str, PositionState] = attrs.field(factory=dict)
    leverage: dict[str, float] = attrs.field(factory=dict)
    """Only the symbols the account set explicitly."""
    open_orders: dict[str, BookOrder] = attrs.field(factory=dict)
    """Resting orders, in placement order."""


MarkSource = Callable[[str], float | None]


class Ledger:
    """All accounts of one engine.

    ``mark_of(symbol)`` gives the price positions are valued at (None before the market has one; a
    position is then valued at its entry price). Every mutation remembers which account and which
    position it changed until :meth:`drain_touched`, so the engine can report each change once.
    """

    def __init__(
        self,
        *,
        mark_of: MarkSource,
        default_leverage: float,
        maker_fee_bps: float,
        taker_fee_bps: float,
    ) -> None:
        check_leverage(default_leverage, field="default_leverage")
        self._mark_of = mark_of
        self.default_leverage = default_leverage
        self.maker_fee_rate = maker_fee_bps / 10_000
        self.taker_fee_rate = taker_fee_bps / 10_000
        self._accounts: dict[str, AccountState] = {}
        self.deposited = 0.0
        """Every deposit ever made: with :attr:`trading_fees`, what all equity must add up to."""
        self.trading_fees = 0.0
        """Trading fees collected by the exchange (builder fees go to builders' accounts)."""
        self._holders: dict[str, set[str]] = {}
        self._open_interest: dict[str, int] = {}
        self._touched_accounts: dict[str, None] = {}
        self._touched_positions: dict[tuple[str, str], None] = {}

    # -- lookup ----------------------------------------------------------------------------

    def get(self, account: str) -> AccountState:
        state = self._accounts.get(account)
        if state is None:
            state = self._accounts[account] = AccountState(account)
        return state

    def peek(self, account: str) -> AccountState | None:
        return self._accounts.get(account)

    def leverage(self, account: str, symbol: str) -> float:
        state = self._accounts.get(account)
        if state is None:
            return self.default_leverage
        return state.leverage.get(symbol, self.default_leverage)

    def position_size(self, account: str, symbol: str) -> int:
        state = self._accounts.get(account)
        pos = state.positions.get(symbol) if state else None
        return pos.size if pos else 0

    def reducible(self, account: str, symbol: str, is_buy: bool) -> int:
        """How many ticks an order on this side can trade while only reducing the position."""
        size = self.position_size(account, symbol)
        if (is_buy and size < 0) or (not is_buy and size > 0):
            return abs(size)
        return 0

    def holders(self, symbol: str) -> frozenset[str]:
        """Accounts with an open position in ``symbol``."""
        return frozenset(self._holders.get(symbol, ()))

    def open_interest(self, symbol: str) -> int:
        """Total long size in ticks (equal to the total short size)."""
        return self._open_interest.get(symbol, 0)

    # -- mutations -------------------------------------------------------------------------

    def deposit(self, account: str, amount: float) -> None:
        state = self.get(account)
        state.balance += amount
        state.funded = True
        self.deposited += amount
        self._equity_moved(account)

    def open_account(self, account: str) -> None:
        """Make ``account`` exist and count as funded with no money yet (a sub-account, a
        multisig)."""
        self.get(account).funded = True
        self.touch(account)

    def close_account(self, account: str) -> None:
        """A removed sub-account: it no longer counts as funded (its money was moved out)."""
        self.get(account).funded = False
        self.touch(account)

    def move(self, source: str, destination: str, amount: float) -> None:
        """Move cash between accounts; the caller checks that ``source`` can spare it."""
        sender, receiver = self.get(source), self.get(destination)
        sender.balance -= amount
        sender.received -= amount
        receiver.balance += amount
        receiver.received += amount
        receiver.funded = True
        self._equity_moved(source)
        self._equity_moved(destination)

    def pay_builder(self, payer: str, builder: str, amount: float) -> None:
        """A builder fee: a fee for ``payer``, money received for ``builder``."""
        state = self.get(payer)
        state.balance -= amount
        state.fees += amount
        receiver = self.get(builder)
        receiver.balance += amount
        receiver.received += amount
        self._equity_moved(payer)
        self._equity_moved(builder)

    def transferable(self, account: str) -> float:
        """Most cash ``account`` can send away: never below zero cash, never into margin it uses."""
        state = self._accounts.get(account)
        if state is None:
            return 0.0
        return max(0.0, min(state.balance, self.available(account)))

    def fill(
        self, account: str, symbol: str, signed_ticks: int, price: float, *, maker: bool
    ) -> float:
        """Book one execution against ``account``; returns the fee charged."""
        state = self.get(account)
        pos = state.positions.get(symbol)
        if pos is None:
            pos = state.positions[symbol] = PositionState()
        fee = (
            abs(from_fixed(signed_ticks))
            * price
            * (self.maker_fee_rate if maker else self.taker_fee_rate)
        )
        step = apply_fill(from_fixed(pos.size), pos.entry_price, from_fixed(signed_ticks), price)
        old_size = pos.size
        pos.size += signed_ticks
        pos.entry_price = step.entry_price if pos.size else 0.0
        pos.realized_pnl += step.realized
        pos.fees += fee
        state.realized_pnl += step.realized
        state.fees += fee
        state.balance += step.realized - fee
        self.trading_fees += fee
        self._track_holder(account, symbol, old_size, pos.size)
        self._equity_moved(account)
        self._touched_positions[(account, symbol)] = None
        return fee

    def set_leverage(self, account: str, settings: Iterable[tuple[str, float]]) -> None:
        state = self.get(account)
        for symbol, value in settings:
            state.leverage[symbol] = value
        self.touch(account)

    def touch(self, account: str) -> None:
        """Note that ``account``'s margin changed (e.g. an order of it rested or left the book)."""
        self._touched_accounts[account] = None

    def touch_positions(self, symbol: str) -> None:
        """Note that every position in ``symbol`` was revalued (the mark moved)."""
        for account in self._holders.get(symbol, ()):
            self._equity_moved(account)

    def _equity_moved(self, account: str) -> None:
        """Every open position of ``account`` changes with its equity: its liquidation price
        depends on it. So a mark move in one symbol re-reports the positions in all of them."""
        self._touched_accounts[account] = None
        state = self._accounts.get(account)
        if state is not None:
            for symbol, pos in state.positions.items():
                if pos.size:
                    self._touched_positions[(account, symbol)] = None

    def drain_touched(self) -> tuple[list[tuple[str, str]], list[str]]:
        """The ``(account, symbol)`` positions and the accounts changed since the last drain."""
        positions = list(self._touched_positions)
        accounts = list(self._touched_accounts)
        self._touched_positions.clear()
        self._touched_accounts.clear()
        return positions, accounts

    # -- valuation -------------------------------------------------------------------------

    def mark(self, symbol: str, pos: PositionState) -> float:
        mark = self._mark_of(symbol)
        return pos.entry_price if mark is None else mark

    def initial_margin(self, account: str) -> float:
        state = self._accounts.get(account)
        if state is None:
            return 0.0
        used = 0.0
        for symbol, pos in state.positions.items():
            if pos.size:
                used += (
                    abs(from_fixed(pos.size))
                    * self.mark(symbol, pos)
                    / self.leverage(account, symbol)
                )
        for order in state.open_orders.values():
            used += self.order_margin(order)
        return used

    def order_margin(self, order: BookOrder) -> float:
        if order.reduce_only:
            return 0.0
        notional = from_fixed(order.remaining) * from_fixed(order.price)
        return notional / self.leverage(order.account, order.symbol)

    def equity(self, account: str) -> float:
        state = self._accounts.get(account)
        if state is None:
            return 0.0
        return state.balance + sum(
            unrealized(from_fixed(pos.size), pos.entry_price, self.mark(symbol, pos))
            for symbol, pos in state.positions.items()
            if pos.size
        )

    def available(self, account: str) -> float:
        return self.equity(account) - self.initial_margin(account)

    def margin_view(self, account: str) -> MarginView:
        state = self._accounts.get(account) or AccountState(account)
        equity = self.equity(account)
        used = self.initial_margin(account)
        notional = 0.0
        upnl = 0.0
        for symbol, pos in state.positions.items():
            if pos.size:
                mark = self.mark(symbol, pos)
                notional += abs(from_fixed(pos.size)) * mark
                upnl += unrealized(from_fixed(pos.size), pos.entry_price, mark)
        return MarginView(
            account=account,
            total_balance=equity,
            available_balance=equity - used,
            margin_used=used,
            notional=notional,
            realized_pnl=state.realized_pnl,
            unrealized_pnl=upnl,
            fees=state.fees,
            funding=0.0,
        )

    def position_view(self, account: str, symbol: str) -> PositionFigures:
        state = self._accounts.get(account)
        pos = (state.positions.get(symbol) if state else None) or PositionState()
        size = from_fixed(pos.size)
        mark = self.mark(symbol, pos)
        leverage = self.leverage(account, symbol)
        maintenance = abs(size) * mark / leverage * _MAINTENANCE_FRACTION
        return PositionFigures(
            account=account,
            symbol=symbol,
            size=size,
            entry_price=pos.entry_price,
            fair_price=mark,
            notional=abs(size) * mark,
            realized_pnl=pos.realized_pnl,
            unrealized_pnl=unrealized(size, pos.entry_price, mark),
            leverage=leverage,
            liquidation_price=self._liquidation_price(account, size, mark, leverage),
            fees=pos.fees,
            maintenance_margin=maintenance,
        )

    def _liquidation_price(self, account: str, size: float, mark: float, leverage: float) -> float:
        # Solve equity + size * (p - mark) == |size| * p * m for p (m = maintenance / leverage).
        if size == 0:
            return 0.0
        m = _MAINTENANCE_FRACTION / leverage
        equity = self.equity(account)
        denominator = size * (1 - m) if size > 0 else size * (1 + m)
        return max(0.0, (size * mark - equity) / denominator)

    def _track_holder(self, account: str, symbol: str, old: int, new: int) -> None:
        holders = self._holders.setdefault(symbol, set())
        if new:
            holders.add(account)
        else:
            holders.discard(account)
        self._open_interest[symbol] = self._open_interest.get(symbol, 0) + max(new, 0) - max(old, 0)


def check_leverage(value: float, *, field: str = "leverage") -> None:
    """Raise ValueError naming ``field`` unless ``value`` is within the leverage bounds."""
    if not (MIN_LEVERAGE <= value <= MAX_LEVERAGE):
        raise ValueError(
            f"{field} must be between {MIN_LEVERAGE:g} and {MAX_LEVERAGE:g}, got {value!r}"
        )
