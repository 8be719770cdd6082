"""Market rules: rounding onto the grid towards the passive side, and the named rule checks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bulk_trio import LimitOrder, MarketOrder, ModifyOrder, Side, UpdateLeverage
from bulk_trio.actions import OnFill, RangeOrder, StopOrder, TakeProfitOrder, TrailingStop
from bulk_trio.errors import MarketRuleViolation
from bulk_trio.fixedpoint import to_fixed
from bulk_trio.markets import Market, markets_by_symbol, order_problem

BTC = Market(symbol="BTC-USD", tick_size=0.5, lot_size=0.001, min_notional=10, max_leverage=10)


def test_round_price_moves_towards_the_passive_side() -> None:
    assert BTC.round_price(90000.123, Side.BUY) == 90000.0
    assert BTC.round_price(90000.123, "sell") == 90000.5
    assert BTC.round_price(90000.5, Side.BUY) == 90000.5  # on the grid: unchanged
    assert BTC.round_price(90000.5, Side.SELL) == 90000.5


def test_round_size_never_rounds_up() -> None:
    assert BTC.round_size(0.12345) == 0.123
    assert BTC.round_size(1e-7) == 0.0
    assert BTC.round_size(2.0) == 2.0


@pytest.mark.parametrize(
    ("price", "size", "rule"),
    [
        (90000.123, 0.1, "tick"),
        (90000.0, 1e-7, "lot"),
        (90000.0, 0.0015, "lot"),
        (1000.0, 0.001, "min_notional"),
    ],
)
def test_the_check_names_the_broken_rule(price: float, size: float, rule: str) -> None:
    with pytest.raises(MarketRuleViolation) as caught:
        BTC.check_order(price, size)
    assert caught.value.rule == rule
    assert "BTC-USD" in str(caught.value)
    assert isinstance(caught.value, ValueError)  # what the trading methods promise


def test_a_valid_order_passes_and_a_market_order_skips_price_rules() -> None:
    BTC.check_order(90000.5, 0.001)
    BTC.check_order(None, 0.002)
    assert BTC.problem(size=0.0005) is not None


def test_leverage_is_capped_by_the_market() -> None:
    BTC.check_leverage(10)
    with pytest.raises(MarketRuleViolation) as caught:
        BTC.check_leverage(11)
    assert caught.value.rule == "leverage"
    assert "maximum leverage is 10" in str(caught.value)


def test_order_problem_checks_each_action_kind() -> None:
    markets = markets_by_symbol([BTC])
    assert order_problem(markets, LimitOrder("BTC-USD", "buy", 90000.1, 0.1)).rule == "tick"  # type: ignore[union-attr]
    assert order_problem(markets, MarketOrder("BTC-USD", "buy", 0.0001)).rule == "lot"  # type: ignore[union-attr]
    assert order_problem(markets, ModifyOrder("BTC-USD", "1" * 32, 0.0001)) is not None
    assert order_problem(markets, UpdateLeverage({"BTC-USD": 20})).rule == "leverage"  # type: ignore[union-attr]
    assert order_problem(markets, LimitOrder("ETH-USD", "buy", 1.234567, 0.1)) is None  # no rules


def test_conditional_orders_meet_lot_and_tick_but_trigger_prices_need_no_tick() -> None:
    markets = markets_by_symbol([BTC])

    def rule(action: object) -> str | None:
        problem = order_problem(markets, action)
        return None if problem is None else problem.rule

    # What each places when it triggers: its size in lots, its limit prices on the tick grid.
    assert rule(StopOrder("BTC-USD", False, 0.0015, 90_000.0)) == "lot"
    assert rule(TakeProfitOrder("BTC-USD", True, 0.1, 110_000.0, limit_price=110_000.2)) == "tick"
    assert rule(RangeOrder("BTC-USD", True, 0.1, 90_000.0, 110_000.0, take_profit_limit=1.1)) == (
        "tick"
    )
    assert rule(RangeOrder("BTC-USD", True, 0.1, 90_000.0, 110_000.0, stop_loss_limit=0.3)) == (
        "tick"
    )
    assert rule(TrailingStop("BTC-USD", True, 0.0001, 50, 10)) == "lot"
    assert rule(TrailingStop("BTC-USD", True, 0.1, 50, 10, limit_price=9.9)) == "tick"
    # Trigger prices are levels, not orders; no limit price means a market-style order.
    assert rule(StopOrder("BTC-USD", False, 0.1, 90_000.123)) is None
    assert rule(RangeOrder("BTC-USD", False, 0.1, 110_000.3, 90_000.7)) is None
    assert (
        rule(TakeProfitOrder("ETH-USD", True, 1e-7, 1.0, limit_price=1.23456)) is None
    )  # no rules
    # An on-fill order places its trigger order at once: that one is checked.
    follow_up = StopOrder("BTC-USD", False, 0.1, 90_000.0)
    assert rule(OnFill(LimitOrder("BTC-USD", "buy", 100_000.2, 0.1), [follow_up])) == "tick"
    assert rule(OnFill(LimitOrder("BTC-USD", "buy", 100_000.5, 0.1), [follow_up])) is None


def test_markets_by_symbol_refuses_duplicates_and_strangers() -> None:
    with pytest.raises(ValueError, match="given twice"):
        markets_by_symbol([BTC, BTC])
    with pytest.raises(ValueError, match="Market values"):
        markets_by_symbol(["BTC-USD"])  # type: ignore[list-item]


def test_bad_rules_are_refused() -> None:
    with pytest.raises(ValueError, match="tick_size"):
        Market(symbol="X", tick_size=0, lot_size=1)
    with pytest.raises(ValueError, match="min_notional"):
        Market(symbol="X", tick_size=1, lot_size=1, min_notional=-1)


ticks = st.sampled_from([0.5, 0.1, 0.01, 0.25, 1.0, 5.0])


@given(tick=ticks, price=st.floats(min_value=0.01, max_value=1e6))
def test_rounded_prices_are_on_the_grid_and_never_more_aggressive(
    tick: float, price: float
) -> None:
    market = Market(symbol="X-USD", tick_size=tick, lot_size=0.001)
    bid = market.round_price(price, Side.BUY)
    ask = market.round_price(price, Side.SELL)
    assert market.problem(price=bid) is None
    assert market.problem(price=ask) is None
    assert to_fixed(bid) <= to_fixed(price) <= to_fixed(ask)
    assert to_fixed(ask) - to_fixed(bid) in (0, to_fixed(tick))
