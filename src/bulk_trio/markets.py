"""What a market accepts: tick size, lot size, minimum notional and maximum leverage.

A :class:`Market` is one entry of ``GET /exchangeInfo`` (docs/http-api.md). It rounds prices and
sizes onto its grid and names the rule an order would break, so that an order the exchange would
refuse is stopped before it is signed. The simulator's engine enforces the same rules with
:func:`order_problem`, so the client's check and the exchange's answer never disagree.

All arithmetic is on the 1e8 fixed point the signer writes (:mod:`bulk_trio.fixedpoint`): a price
is on the tick grid exactly when its signed integer is a multiple of the tick's integer.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import attrs

from .actions import (
    LimitOrder,
    MarketOrder,
    ModifyOrder,
    OnFill,
    RangeOrder,
    StopOrder,
    TakeProfitOrder,
    TrailingStop,
    UpdateLeverage,
)
from .enums import Side
from .errors import MarketRuleViolation
from .fixedpoint import from_fixed, to_fixed

__all__ = ["RULES", "Market", "MarketRuleViolation", "markets_by_symbol", "order_problem"]

RULES = ("tick", "lot", "min_notional", "leverage")
"""The names a :class:`MarketRuleViolation` can carry in ``rule``."""
MAX_USER_LEVERAGE = 50.0
"""Leverage settings are clamped to 1..50 and to the market's cap (docs/http-api.md)."""


def _positive(value: float, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{field} must be a number, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{field} must be a positive finite number, got {value!r}")
    return float(value)


def _non_negative(value: float, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{field} must be a number, got {value!r}")
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{field} must be a finite number >= 0, got {value!r}")
    return float(value)


def _tick_size(value: float) -> float:
    return _positive(value, "tick_size")


def _lot_size(value: float) -> float:
    return _positive(value, "lot_size")


def _min_notional(value: float) -> float:
    return _non_negative(value, "min_notional")


def _max_leverage(value: float) -> float:
    return _positive(value, "max_leverage")


def _text(value: float) -> str:
    return f"{value:.8f}".rstrip("0").rstrip(".")


@attrs.frozen(kw_only=True)
class Market:
    """One market's trading rules (``GET /exchangeInfo``).

    ``tick_size`` is the price step; ``lot_size`` the size step (and so the smallest size);
    ``min_notional`` the smallest ``price * size`` in quote units; ``max_leverage`` the cap on the
    account's leverage setting for this market.
    """

    symbol: str
    tick_size: float = attrs.field(converter=_tick_size)
    lot_size: float = attrs.field(converter=_lot_size)
    min_notional: float = attrs.field(default=0.0, converter=_min_notional)
    max_leverage: float = attrs.field(default=MAX_USER_LEVERAGE, converter=_max_leverage)
    base_asset: str = ""
    quote_asset: str = "USDC"
    status: str = "TRADING"
    price_precision: int | None = None
    size_precision: int | None = None
    order_types: tuple[str, ...] = ()
    time_in_forces: tuple[str, ...] = ()

    @property
    def _tick(self) -> int:
        return max(1, to_fixed(self.tick_size, field="tick_size"))

    @property
    def _lot(self) -> int:
        return max(1, to_fixed(self.lot_size, field="lot_size"))

    # -- rounding ---------------------------------------------------------------------------

    def round_price(self, price: float, side: Side | str) -> float:
        """``price`` on the tick grid, moved towards the passive side: a buy rounds down and a
        sell rounds up, so rounding never makes an order more aggressive than asked."""
        side = Side(side.lower()) if isinstance(side, str) else side
        ticks = to_fixed(price, field="price")
        below = ticks - ticks % self._tick
        if side is Side.BUY or below == ticks:
            return from_fixed(below)
        return from_fixed(below + self._tick)

    def round_size(self, size: float) -> float:
        """``size`` rounded down to a whole number of lots (never more than asked; 0.0 when it
        is less than one lot)."""
        ticks = to_fixed(size, field="size")
        return from_fixed(ticks - ticks % self._lot)

    # -- checks -----------------------------------------------------------------------------

    def problem(
        self, *, price: float | None = None, size: float | None = None
    ) -> MarketRuleViolation | None:
        """The first rule an order of ``price`` and ``size`` breaks (tick, lot, minimum
        notional), or None. ``price=None`` (a market order) skips the tick and notional rules."""
        if price is not None:
            ticks = to_fixed(price, field="price")
            if ticks % self._tick:
                return MarketRuleViolation(
                    "tick",
                    f"{self.symbol}: price {_text(from_fixed(ticks))} is not a multiple of the "
                    f"tick size {_text(self.tick_size)} (buy at "
                    f"{_text(self.round_price(price, Side.BUY))} or sell at "
                    f"{_text(self.round_price(price, Side.SELL))})",
                )
        if size is not None:
            lots = to_fixed(size, field="size")
            if lots % self._lot or lots == 0:
                return MarketRuleViolation(
                    "lot",
                    f"{self.symbol}: size {_text(from_fixed(lots))} is not a whole number of lots "
                    f"of {_text(self.lot_size)} (nearest below: {_text(self.round_size(size))})",
                )
        if price is not None and size is not None and self.min_notional > 0:
            notional = from_fixed(to_fixed(price, field="price")) * from_fixed(
                to_fixed(size, field="size")
            )
            if notional < self.min_notional * (1 - 1e-12):
                return MarketRuleViolation(
                    "min_notional",
                    f"{self.symbol}: notional {_text(notional)} (price x size) is below the "
                    f"minimum notional {_text(self.min_notional)}",
                )
        return None

    def leverage_problem(self, leverage: float) -> MarketRuleViolation | None:
        """Why ``leverage`` cannot be set on this market (above its cap or outside 1..50)."""
        cap = min(self.max_leverage, MAX_USER_LEVERAGE)
        if not (isinstance(leverage, int | float) and 1.0 <= leverage <= cap):
            return MarketRuleViolation(
                "leverage",
                f"{self.symbol}: leverage {leverage!r} is outside 1..{_text(cap)} "
                f"(the market's maximum leverage is {_text(self.max_leverage)})",
            )
        return None

    def check_order(self, price: float | None, size: float | None) -> None:
        """Raise :class:`MarketRuleViolation` (a ValueError) naming the rule the order breaks."""
        problem = self.problem(price=price, size=size)
        if problem is not None:
            raise problem

    def check_leverage(self, leverage: float) -> None:
        """Raise :class:`MarketRuleViolation` with rule ``leverage`` if it cannot be set."""
        problem = self.leverage_problem(leverage)
        if problem is not None:
            raise problem


def markets_by_symbol(markets: Iterable[Market] | Mapping[str, Market]) -> dict[str, Market]:
    """``{symbol: market}`` from a list of markets (or such a mapping); refuses duplicates."""
    items = markets.values() if isinstance(markets, Mapping) else markets
    by_symbol: dict[str, Market] = {}
    for market in items:
        if not isinstance(market, Market):
            raise ValueError(f"markets must be Market values, got {type(market).__name__}")
        if market.symbol in by_symbol:
            raise ValueError(f"market {market.symbol!r} is given twice")
        by_symbol[market.symbol] = market
    return by_symbol


def order_problem(markets: Mapping[str, Market], action: object) -> MarketRuleViolation | None:
    """The market rule a trading action breaks, or None (also None for a symbol without rules).

    Limit orders are checked for tick, lot and minimum notional; market orders and modifies for
    lot; leverage updates against each market's cap. Conditional orders (stop, take-profit,
    range, trailing stop) are checked like the order they place when they trigger: lot for the
    size, tick for each limit price; their trigger prices are levels, not orders, and need no
    tick. An on-fill order is checked for the order it places at once; its follow-up actions
    are checked when they run. Other actions pass.
    """
    if isinstance(action, OnFill):
        action = action.trigger
    if isinstance(action, LimitOrder):
        market = markets.get(action.symbol)
        return None if market is None else market.problem(price=action.price, size=action.size)
    if isinstance(action, MarketOrder | ModifyOrder):
        market = markets.get(action.symbol)
        return None if market is None else market.problem(size=action.size)
    if isinstance(action, StopOrder | TakeProfitOrder | RangeOrder | TrailingStop):
        market = markets.get(action.symbol)
        return None if market is None else _conditional_problem(market, action)
    if isinstance(action, UpdateLeverage):
        for symbol, leverage in action.settings:
            market = markets.get(symbol)
            problem = None if market is None else market.leverage_problem(leverage)
            if problem is not None:
                return problem
    return None


def _conditional_problem(
    market: Market, action: StopOrder | TakeProfitOrder | RangeOrder | TrailingStop
) -> MarketRuleViolation | None:
    limits: tuple[float | None, ...]
    if isinstance(action, RangeOrder):
        limits = (action.stop_loss_limit, action.take_profit_limit)
    else:
        limits = (action.limit_price,)
    problem = market.problem(size=action.size)
    for limit in limits:
        if problem is None and limit is not None:
            problem = market.problem(price=limit)
    return problem
