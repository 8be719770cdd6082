"""The order types a person places by hand, as options of ``bulk-trio order``.

``--stop``, ``--take-profit``, ``--trail`` and ``--bracket`` turn the order into a stop,
take-profit, trailing stop or bracket (docs/cli.md). This module only reads the options and builds
the action (so every mistake is a usage error before anything is signed); ``trade.run_order``
sends it like any other order.

The side is the side of the order that will trade: ``sell`` for the exits of a long, ``buy`` for
those of a short. A stop sells when the price falls to its trigger (buys when it rises); a
take-profit sells when the price rises to it (buys when it falls); a trailing stop that sells
protects a long.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from ..actions import (
    BaseAction,
    LimitOrder,
    MarketOrder,
    OnFill,
    RangeOrder,
    StopOrder,
    TakeProfitOrder,
    TrailingStop,
)
from ..enums import Side
from . import text
from .runtime import UsageError

DEFAULT_STEP_BPS = 10


def add_order_type_options(
    parser: argparse.ArgumentParser, number: Callable[[str], Callable[[str], float]]
) -> None:
    """The options of ``order`` that choose an order type; ``number(kind)`` parses a float."""
    kinds = parser.add_mutually_exclusive_group()
    kinds.add_argument(
        "--stop",
        type=number("stop trigger price"),
        metavar="TRIGGER",
        help="a stop order: trade when the price crosses TRIGGER (a sell when it falls to it, "
        "a buy when it rises); at market, or at --price",
    )
    kinds.add_argument(
        "--take-profit",
        type=number("take-profit trigger price"),
        metavar="TRIGGER",
        help="a take-profit order: trade when the price reaches TRIGGER (a sell when it rises "
        "to it, a buy when it falls); at market, or at --price",
    )
    kinds.add_argument(
        "--trail",
        type=_basis_points("trail"),
        metavar="BPS",
        help="a trailing stop BPS basis points behind the best price (a sell protects a long); "
        "at market, or at --price",
    )
    kinds.add_argument(
        "--bracket",
        type=number("bracket price"),
        nargs=2,
        metavar=("STOP_LOSS", "TAKE_PROFIT"),
        help="a bracket: the order (limit with --price, else market) plus, once it fills, a "
        "stop-loss and a take-profit for the same size; when one fires the other is cancelled",
    )
    parser.add_argument(
        "--step",
        type=_basis_points("step"),
        metavar="BPS",
        help=f"with --trail: move the stop in steps of BPS (default {DEFAULT_STEP_BPS}, "
        "or the trail if smaller)",
    )


def _basis_points(kind: str) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            return int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{kind} must be a whole number of basis points, got {value!r}"
            ) from None

    return parse


def order_type_action(args: argparse.Namespace, symbol: str) -> BaseAction | None:
    """The stop, take-profit, trailing stop or bracket that ``args`` ask for; None for a plain
    limit or market order. Bad combinations and bad values are a :class:`UsageError`."""
    chosen = [
        option
        for option, value in (
            ("--stop", args.stop),
            ("--take-profit", args.take_profit),
            ("--trail", args.trail),
            ("--bracket", args.bracket),
        )
        if value is not None
    ]
    if args.step is not None and args.trail is None:
        raise UsageError("--step applies to a trailing stop: give --trail too")
    if not chosen:
        return None
    (option,) = chosen  # argparse keeps them mutually exclusive
    if args.reduce_only:
        raise UsageError(f"--reduce-only does not apply to {option}")
    if args.tif is not None and option != "--bracket":
        raise UsageError(f"--tif does not apply to {option}: its --price is a limit price")
    sells = args.side == "sell"
    try:
        if args.stop is not None:
            return StopOrder(symbol, not sells, args.size, args.stop, args.price)
        if args.take_profit is not None:
            return TakeProfitOrder(symbol, sells, args.size, args.take_profit, args.price)
        if args.trail is not None:
            step = args.step if args.step is not None else min(DEFAULT_STEP_BPS, args.trail)
            return TrailingStop(symbol, sells, args.size, args.trail, step, args.price)
        return _bracket(args, symbol)
    except ValueError as problem:
        raise UsageError(str(problem)) from None


def _bracket(args: argparse.Namespace, symbol: str) -> OnFill:
    stop_loss, take_profit = args.bracket
    entry: LimitOrder | MarketOrder
    if args.price is None:
        if args.tif is not None:
            raise UsageError("--tif applies to a limit entry: give --price too")
        entry = MarketOrder(symbol, args.side, args.size)
    else:
        entry = LimitOrder(
            symbol, args.side, args.price, args.size, time_in_force=args.tif or "GTC"
        )
        buys = entry.side is Side.BUY
        if not (
            stop_loss < args.price < take_profit if buys else take_profit < args.price < stop_loss
        ):
            wanted = (
                "STOP_LOSS < price < TAKE_PROFIT" if buys else "TAKE_PROFIT < price < STOP_LOSS"
            )
            raise UsageError(f"a {args.side} bracket needs {wanted}")
    exits = RangeOrder(symbol, entry.side is Side.BUY, args.size, stop_loss, take_profit)
    return OnFill(entry, [exits])


def describe_order_type(action: BaseAction) -> str | None:
    """One line about a stop, take-profit, trailing stop or bracket; None for other actions."""
    if isinstance(action, StopOrder | TakeProfitOrder):
        kind = "stop" if isinstance(action, StopOrder) else "take-profit"
        side = "buy" if action.is_above == isinstance(action, StopOrder) else "sell"
        limit = "market" if action.limit_price is None else text.price(action.limit_price)
        return (
            f"{kind} {action.symbol} {side} {text.size(action.size)} "
            f"when {text.price(action.trigger_price)}, then @ {limit}"
        )
    if isinstance(action, TrailingStop):
        side = "sell" if action.protects_long else "buy"
        return (
            f"trailing stop {action.symbol} {side} {text.size(action.size)} "
            f"{action.trail_bps} bps behind, step {action.step_bps} bps"
        )
    if isinstance(action, OnFill):
        entry = action.trigger
        at = text.price(entry.price) if isinstance(entry, LimitOrder) else "market"
        exits = action.actions[0]
        if isinstance(exits, RangeOrder):
            return (
                f"bracket {entry.symbol} {entry.side.value} {text.size(entry.size)} @ {at}, "
                f"stop-loss {text.price(exits.stop_loss_price)}, "
                f"take-profit {text.price(exits.take_profit_price)}"
            )
    return None
