"""``bulk-trio order`` with --stop, --take-profit, --trail and --bracket: the options become the
right action, and every mistake is a usage error before anything is signed."""

from __future__ import annotations

import pytest
import trio

from bulk_trio.actions import (
    BaseAction,
    LimitOrder,
    MarketOrder,
    OnFill,
    RangeOrder,
    StopOrder,
    TakeProfitOrder,
    TrailingStop,
)
from bulk_trio.cli import build_parser, main
from bulk_trio.cli.order_types import describe_order_type, order_type_action
from bulk_trio.cli.runtime import UsageError
from bulk_trio.enums import Side
from bulk_trio.sim import open_simulator
from cli_support import key_in_environment

BTC = "BTC-USD"


def action_of(*argv: str) -> BaseAction | None:
    args = build_parser().parse_args(["order", BTC, *argv])
    return order_type_action(args, BTC)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        # The exit of a long sells when the price falls: d = is_above = False.
        (["sell", "0.5", "--stop", "95000"], StopOrder(BTC, False, 0.5, 95_000.0)),
        (
            ["buy", "0.5", "--stop", "105000", "--price", "105100"],
            StopOrder(BTC, True, 0.5, 105_000.0, 105_100.0),
        ),
        (["sell", "0.5", "--take-profit", "110000"], TakeProfitOrder(BTC, True, 0.5, 110_000.0)),
        (["buy", "0.5", "--take-profit", "90000"], TakeProfitOrder(BTC, False, 0.5, 90_000.0)),
        (["sell", "0.5", "--trail", "150"], TrailingStop(BTC, True, 0.5, 150, 10)),
        (["buy", "0.5", "--trail", "5"], TrailingStop(BTC, False, 0.5, 5, 5)),
        (
            ["sell", "0.5", "--trail", "150", "--step", "25", "--price", "90000"],
            TrailingStop(BTC, True, 0.5, 150, 25, 90_000.0),
        ),
        (
            ["buy", "0.5", "--price", "100000", "--tif", "alo", "--bracket", "95000", "105000"],
            OnFill(
                LimitOrder(BTC, Side.BUY, 100_000.0, 0.5, time_in_force="ALO"),
                [RangeOrder(BTC, True, 0.5, 95_000.0, 105_000.0)],
            ),
        ),
        (
            ["sell", "0.5", "--bracket", "105000", "95000"],
            OnFill(
                MarketOrder(BTC, Side.SELL, 0.5), [RangeOrder(BTC, False, 0.5, 105_000.0, 95_000.0)]
            ),
        ),
        (["buy", "0.5", "--price", "100000"], None),  # a plain limit order: trade.py's own path
    ],
)
def test_options_become_the_action(argv: list[str], expected: BaseAction | None) -> None:
    action = action_of(*argv)
    assert action == expected
    if action is not None:
        assert describe_order_type(action)


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["sell", "0.5", "--stop", "95000", "--reduce-only"], "--reduce-only"),
        (["sell", "0.5", "--stop", "95000", "--tif", "IOC"], "--tif"),
        (["sell", "0.5", "--step", "5"], "--trail"),
        (["sell", "0.5", "--trail", "0"], "trail_bps"),
        (["sell", "0.5", "--trail", "10", "--step", "20"], "step_bps"),
        (["sell", "0.5", "--stop", "-1"], "trigger_price"),
        (["buy", "0.5", "--price", "100", "--bracket", "101", "110"], "STOP_LOSS < price"),
        (["sell", "0.5", "--price", "100", "--bracket", "90", "110"], "TAKE_PROFIT < price"),
        (["buy", "0.5", "--bracket", "110", "90"], "stop_loss_price"),
        (["buy", "0.5", "--tif", "IOC", "--bracket", "90", "110"], "--price"),
    ],
)
def test_mistakes_are_usage_errors(argv: list[str], problem: str) -> None:
    with pytest.raises(UsageError, match=problem.replace("<", ".")):
        action_of(*argv)


def test_order_types_exclude_each_other() -> None:
    with pytest.raises(UsageError, match="not allowed with argument --stop"):
        build_parser().parse_args(["order", BTC, "sell", "1", "--stop", "1", "--trail", "5"])


# -- end to end, against the simulator ----------------------------------------------------------


async def test_a_bracket_from_the_command_line_rests_its_exits(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key = key_in_environment(monkeypatch)
    with trio.fail_after(30):
        async with open_simulator(
            seed=3, fund={key.public_key: 1e6}, feed=False, takers=False
        ) as sim:
            sim.set_mark(BTC, 100_000.0)
            argv = ["order", BTC, "buy", "0.01", "--bracket", "95000", "105000"]
            argv += ["--url", sim.url, "--network", "testnet"]
            status = await trio.to_thread.run_sync(main, argv)
            output = capsys.readouterr().out
            assert status == 0, output
            assert "bracket BTC-USD buy" in output and "stop-loss 95,000" in output
            assert sim.engine.account_view(key.public_key).positions != ()
