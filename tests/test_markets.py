"""Market rules: rounding onto the grid towards the passive side, and the named rule checks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bulk_trio import LimitOrder, MarketOrder, ModifyOrder, Side, UpdateLeverage
from bulk_trio.fixedpoint import to_fixed
from bulk_trio.markets import Market, MarketRuleViolation, markets_by_symbol, order_problem

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
