"""Conditional orders: orders that wait off the book until the mark price reaches a trigger.

A stop (``st``), a take-profit (``tp``), each leg of a range (``rng``, one-cancels-other), a
trailing stop (``trl``) and a trigger basket (``trig``) are held here, per symbol, in the order they
were placed. The engine asks which are due whenever a mark price may have moved (``set_mark``, an
oracle price, the synthetic feed, the end of every transaction), fires each at most once, and
turns the order it carries into a market or limit order. Nothing here matches or touches margin.

The wire flag ``d`` of stops and take-profits is read as docs/protocol.md's decisions section says:
see :class:`StopFlag`, the one switch for it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from typing import TypeAlias

import attrs

from ..actions import (
    BaseAction,
    BuilderCode,
    RangeOrder,
    StopOrder,
    TakeProfitOrder,
    TrailingStop,
    TriggerBasket,
)
from .matching import BookOrder

_BPS = 10_000

ConditionalAction: TypeAlias = (
    StopOrder | TakeProfitOrder | RangeOrder | TrailingStop | TriggerBasket
)


class StopFlag(enum.Enum):
    """How the ``d`` flag of ``st``/``tp`` is read (the sources disagree; docs/protocol.md).

    ``IS_ABOVE`` (the default, bulk-client's and the 0.1.2 SDK's name): ``d`` says the order
    triggers when the mark is at or above the trigger price. A stop then buys when it triggers
    above (it protects a short) and sells below; a take-profit sells above (it takes a long's
    profit) and buys below.

    ``IS_BUY`` (the keychain signer's name): ``d`` is the side of the order that results. A stop
    buys above or sells below, as with ``IS_ABOVE``; a take-profit buys below and sells above, so
    ``d`` means the opposite of ``IS_ABOVE`` for take-profits only.
    """

    IS_ABOVE = "is_above"
    IS_BUY = "is_buy"


def stop_trigger(kind: str, d_flag: bool, flag: StopFlag) -> tuple[bool, bool]:
    """``(fires_above, is_buy)`` of a stop (``kind="stop"``) or take-profit (``"takeProfit"``)."""
    if kind == "stop":
        return d_flag, d_flag  # both readings agree on stops
    if flag is StopFlag.IS_ABOVE:
        return d_flag, not d_flag
    return not d_flag, d_flag


@attrs.frozen
class Leg:
    """One order a conditional action parks: what it trades once triggered, and when."""

    kind: str
    """The wire ``ot``: stop, takeProfit, range, trailing or trigger."""
    symbol: str
    is_buy: bool
    size: float
    fires_above: bool
    level: float
    limit: float | None = None
    slippage_bps: float | None = None
    builder_code: BuilderCode | None = None
    reduce_only: bool = False
    trail_bps: float = 0.0
    step_bps: float = 0.0
    anchor: float | None = None
    actions: tuple[BaseAction, ...] = ()


def legs_of(action: ConditionalAction, *, flag: StopFlag, mark: float | None) -> list[Leg]:
    """The orders ``action`` parks: one, or for a range its stop-loss and take-profit legs (in
    that order), which cancel each other. ValueError says why it cannot wait (a trailing stop
    needs a mark to trail)."""
    if isinstance(action, StopOrder | TakeProfitOrder):
        kind = "stop" if isinstance(action, StopOrder) else "takeProfit"
        fires_above, is_buy = stop_trigger(kind, action.is_above, flag)
        leg = Leg(kind, action.symbol, is_buy, action.size, fires_above, action.trigger_price)
        return [
            attrs.evolve(
                leg,
                limit=action.limit_price,
                slippage_bps=action.slippage_bps,
                builder_code=action.builder_code,
            )
        ]
    if isinstance(action, RangeOrder):
        # Both legs close the protected position: a long's stop-loss fires below, its
        # take-profit above; a short's the other way round.
        long = action.is_buy
        return [
            Leg(
                "range",
                action.symbol,
                not long,
                action.size,
                fires_above,
                level,
                limit=limit,
                slippage_bps=slippage,
                builder_code=action.builder_code,
                reduce_only=True,
            )
            for fires_above, level, limit, slippage in (
                (not long, action.stop_loss_price, action.stop_loss_limit, action.sl_slippage_bps),
                (long, action.take_profit_price, action.take_profit_limit, action.tp_slippage_bps),
            )
        ]
    if isinstance(action, TrailingStop):
        if mark is None:
            raise ValueError(f"no mark price for {action.symbol} yet to trail")
        long = action.protects_long
        return [
            Leg(
                "trailing",
                action.symbol,
                not long,
                action.size,
                not long,
                trailing_level(mark, action.trail_bps, protects_long=long),
                limit=action.limit_price,
                slippage_bps=action.slippage_bps,
                builder_code=action.builder_code,
                reduce_only=True,
                trail_bps=float(action.trail_bps),
                step_bps=float(action.step_bps),
                anchor=mark,
            )
        ]
    # A trigger basket trades nothing itself: it runs its actions.
    return [
        Leg(
            "trigger",
            action.symbol,
            True,
            0.0,
            action.is_above,
            action.trigger_price,
            actions=action.actions,
        )
    ]


@attrs.define(eq=False)
class Conditional:
    """One waiting conditional order. ``order`` is what it places when it fires (its status is
    ``resting`` meanwhile); a trigger basket has an order too, only for its id and views."""

    order: BookOrder
    fires_above: bool
    """Fires when the mark is at or above ``level`` (else at or below)."""
    level: float
    limit: float | None
    """None: the triggered order is a market order (within ``slippage_bps`` if set)."""
    slippage_bps: float | None = None
    sibling: str | None = None
    """The other leg of a range order: cancelled (``siblingCancelled``) when this one fires."""
    trail_bps: float = 0.0
    step_bps: float = 0.0
    anchor: float | None = None
    """Trailing stops: the best mark seen (highest for a long's stop, lowest for a short's)."""
    actions: tuple[BaseAction, ...] = ()
    """Trigger baskets: the actions run when it fires."""

    @classmethod
    def waiting(cls, order: BookOrder, leg: Leg) -> Conditional:
        return cls(
            order,
            leg.fires_above,
            leg.level,
            leg.limit,
            leg.slippage_bps,
            trail_bps=leg.trail_bps,
            step_bps=leg.step_bps,
            anchor=leg.anchor,
            actions=leg.actions,
        )

    @property
    def is_trailing(self) -> bool:
        return self.anchor is not None

    def due(self, mark: float) -> bool:
        return mark >= self.level if self.fires_above else mark <= self.level

    def follow(self, mark: float) -> bool:
        """Move a trailing stop's anchor (and level) to a better mark once it improved by at
        least ``step_bps``; True if it moved."""
        if self.anchor is None:
            return False
        step = self.step_bps / _BPS
        if self.fires_above:  # protects a short: follows the lowest mark
            better = mark < self.anchor and mark <= self.anchor * (1 - step)
        else:
            better = mark > self.anchor and mark >= self.anchor * (1 + step)
        if not better:
            return False
        self.anchor = mark
        self.level = trailing_level(mark, self.trail_bps, protects_long=not self.fires_above)
        return True

    def spec(self) -> dict[str, object]:
        """The wire ``trigger`` object: ``{isAbove, px, lim, oco, trb, stb}`` as they apply."""
        spec: dict[str, object] = {"isAbove": self.fires_above, "px": self.level}
        if self.limit is not None:
            spec["lim"] = self.limit
        if self.sibling is not None:
            spec["oco"] = self.sibling
        if self.is_trailing:
            spec["trb"] = self.trail_bps
            spec["stb"] = self.step_bps
        return spec


def trailing_level(anchor: float, trail_bps: float, *, protects_long: bool) -> float:
    """The trigger price ``trail_bps`` behind the best mark ``anchor``."""
    factor = 1 - trail_bps / _BPS if protects_long else 1 + trail_bps / _BPS
    return anchor * factor


class ConditionalBook:
    """Every waiting conditional order, by id, by symbol (in placement order) and by account."""

    def __init__(self) -> None:
        self._by_id: dict[str, Conditional] = {}
        self._by_symbol: dict[str, dict[str, Conditional]] = {}
        self._by_account: dict[str, dict[str, Conditional]] = {}

    def __contains__(self, order_id: str) -> bool:
        return order_id in self._by_id

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, order_id: str) -> Conditional | None:
        return self._by_id.get(order_id)

    def add(self, conditional: Conditional) -> None:
        order = conditional.order
        self._by_id[order.order_id] = conditional
        self._by_symbol.setdefault(order.symbol, {})[order.order_id] = conditional
        self._by_account.setdefault(order.account, {})[order.order_id] = conditional

    def remove(self, order_id: str) -> Conditional | None:
        """Take an order out (None if it is not waiting: fired, cancelled or unknown)."""
        conditional = self._by_id.pop(order_id, None)
        if conditional is not None:
            order = conditional.order
            del self._by_symbol[order.symbol][order_id]
            del self._by_account[order.account][order_id]
        return conditional

    def of_account(self, account: str) -> list[Conditional]:
        return list(self._by_account.get(account, {}).values())

    def orders(self) -> Iterator[BookOrder]:
        for conditional in self._by_id.values():
            yield conditional.order

    def follow(self, symbol: str, mark: float) -> list[Conditional]:
        """Trailing stops of ``symbol`` whose level moved with ``mark``."""
        return [c for c in self._by_symbol.get(symbol, {}).values() if c.follow(mark)]

    def due(self, symbol: str, mark: float) -> Sequence[Conditional]:
        """Orders of ``symbol`` that ``mark`` triggers, in placement order. They stay here until
        :meth:`remove`: firing one may cancel another that was due too (its OCO sibling)."""
        return [c for c in self._by_symbol.get(symbol, {}).values() if c.due(mark)]
