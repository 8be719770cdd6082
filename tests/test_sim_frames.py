"""The simulator's frames against the exchange's documented examples in tests/ws_peer.py (no
sockets here)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bulk_trio.sim import frames
from bulk_trio.sim.candles import CandleBar
from bulk_trio.sim.events import (
    AccountView,
    ActionStatus,
    Filled,
    LevelChanged,
    LeverageChanged,
    MarginView,
    MarketStats,
    OrderView,
    PositionFigures,
    TradeExecuted,
)
from ws_peer import EXAMPLES, assert_shape

USER = "FuueqefENiGEW6uMqZQgmwjzgpnb85EgUcZa5Em4PQh7"
OTHER = "FAe4sisG95oZ42w7buUn5qEE4TAnfTTFPiguZUHmhiF"
NS = 1_704_067_200_000_000_000


def decode(text: str) -> dict[str, Any]:
    frame = json.loads(text)
    assert isinstance(frame, dict)
    return frame


def stats(**overrides: Any) -> MarketStats:
    values: dict[str, Any] = {
        "symbol": "BTC-USD",
        "last_price": 102_777.5,
        "mark_price": 102_780,  # an int on purpose: the wire must still say 102780.0
        "oracle_price": 102_775.0,
        "open_24h": 100_000.0,
        "high_24h": 103_500.0,
        "low_24h": 101_000.0,
        "volume_24h": 1234.56,
        "quote_volume_24h": 126_543_210.0,
        "open_interest": 5432.1,
        "funding_rate": 0.0001,
    }
    return MarketStats(**(values | overrides))


def order(**overrides: Any) -> OrderView:
    values: dict[str, Any] = {
        "account": USER,
        "order_id": "Fpa3oVuL3UzjNANAMZZdmrn6D1Zhk83GmBuJpuAWG51F",
        "symbol": "BTC-USD",
        "is_buy": False,
        "price": 102_000.0,
        "original_size": 0.3,
        "remaining_size": 0.2,
        "filled_size": 0.1,
        "vwap": 102_000.0,
        "status": "working",
        "order_type": "limit",
        "tif": "gtc",
        "reduce_only": False,
        "is_maker": True,
        "timestamp": NS,
    }
    return OrderView(**(values | overrides))


def position() -> PositionFigures:
    return PositionFigures(
        account=USER,
        symbol="BTC-USD",
        size=-0.5,
        entry_price=100_000.0,
        fair_price=101_000.0,
        notional=50_500.0,
        realized_pnl=500.0,
        unrealized_pnl=-500.0,
        leverage=5.0,
        liquidation_price=120_000.0,
        fees=10.0,
        maintenance_margin=1000.0,
    )


def margin() -> MarginView:
    return MarginView(USER, 100_000.0, 95_000.0, 5000.0, 50_000.0, 1234.5, 567.8, 12.34, 5.67)


# -- control replies -------------------------------------------------------------------------


def test_subscription_and_unsubscribe_responses_match_the_protocol_examples() -> None:
    response = decode(frames.subscription_response(["ticker.BTC-USD", "trades.BTC-USD"]))
    assert response == EXAMPLES["subscriptionResponse"]
    assert decode(frames.unsubscribe_response("ticker.BTC-USD")) == EXAMPLES["unsubscribeResponse"]


def test_error_frame_matches_the_protocol_example() -> None:
    assert decode(frames.error("invalid subscription")) == EXAMPLES["error"]


def test_post_ok_lists_one_single_key_status_per_action_in_order() -> None:
    statuses = [
        ActionStatus("resting", {"oid": "Fpa3oVuL3UzjNANAMZZdmrn6D1Zhk83GmBuJpuAWG51F"}),
        ActionStatus("filled", {"oid": "...", "totalSz": 0.1, "avgPx": 102500.0}),
        ActionStatus("error", {"message": "..."}),
    ]
    reply = decode(frames.post_ok(17, statuses))
    assert reply == EXAMPLES["post"]


def test_post_error_carries_the_message_and_echoes_the_id() -> None:
    reply = decode(frames.post_error(17, "Invalid signature"))
    assert_shape(reply, EXAMPLES["postError"])
    assert reply["id"] == 17
    assert reply["data"] == {
        "type": "action",
        "payload": {"status": "error", "message": "Invalid signature"},
    }


# -- market data -----------------------------------------------------------------------------


def test_ticker_has_every_field_of_the_protocol_example() -> None:
    frame = decode(frames.ticker("BTC-USD", stats(), timestamp=NS, fair_book_price=102_779))
    assert_shape(frame, EXAMPLES["ticker"])
    ticker = frame["data"]["ticker"]
    assert ticker["markPrice"] == 102_780.0
    assert ticker["priceChange"] == pytest.approx(2777.5)
    assert ticker["priceChangePercent"] == pytest.approx(2.7775)
    assert ticker["timestamp"] == NS
    assert ticker["regime"] == 1


def test_ticker_of_a_market_without_trades_sends_null_prices_and_no_change() -> None:
    quiet = stats(last_price=None, open_24h=None, high_24h=None, low_24h=None)
    ticker = decode(frames.ticker("BTC-USD", quiet, timestamp=NS))["data"]["ticker"]
    assert ticker["lastPrice"] is None
    assert ticker["highPrice"] is None
    assert ticker["priceChange"] == 0.0
    assert ticker["fairBookPx"] is None
    assert_shape(decode(frames.ticker("BTC-USD", quiet, timestamp=NS)), EXAMPLES["ticker"])


def test_trades_frame_is_a_list_with_both_side_flags() -> None:
    executed = [
        TradeExecuted("BTC-USD", 100_010.5, 0.25, True, OTHER, USER, 1_704_067_200_123),
        TradeExecuted("BTC-USD", 100_011, 1, False, USER, OTHER, 1_704_067_200_124),
    ]
    frame = decode(frames.trades("BTC-USD", executed))
    assert_shape(frame, EXAMPLES["trades"])
    first, second = frame["data"]
    assert first == {
        "s": "BTC-USD",
        "px": 100010.5,
        "sz": 0.25,
        "time": 1704067200123,
        "b": True,
        "side": True,
        "maker": OTHER,
        "taker": USER,
    }
    assert second["b"] is False
    assert second["side"] is False
    assert isinstance(second["px"], float)
    assert isinstance(second["sz"], float)


def test_l2_snapshot_matches_the_protocol_example() -> None:
    bids = [(102_777.0, 1.5, 3), (102_776.5, 2.3, 5)]
    asks = [(102_780.0, 2.0, 4), (102_780.5, 1.2, 3)]
    frame = decode(frames.book("l2Snapshot", "BTC-USD", bids, asks, timestamp=1770906894450242133))
    assert frame == EXAMPLES["l2Snapshot"]


@pytest.mark.parametrize("is_bid", [True, False])
def test_a_delta_carries_one_level_on_its_side_and_nothing_on_the_other(is_bid: bool) -> None:
    change = LevelChanged("BTC-USD", is_bid, 102_777.0, 0.0, 0)
    frame = decode(frames.level_delta(change, timestamp=NS))
    assert_shape(frame, EXAMPLES["l2Snapshot"])
    assert frame["type"] == "l2Delta"
    assert frame["topic"] == "l2Delta.BTC-USD"
    book = frame["data"]["book"]
    assert book["updateType"] == "delta"
    level = [{"px": 102777.0, "sz": 0.0, "n": 0}]
    assert book["levels"] == ([level, []] if is_bid else [[], level])


def test_candle_matches_the_protocol_example_with_the_subscribed_spelling() -> None:
    bar = CandleBar(1699564800000, 1699564860000, 102_000, 102_100.0, 101_900.0, 101_950.0, 1.6, 3)
    assert decode(frames.candle("BTC-USD", "1m", bar)) == EXAMPLES["candle"]
    assert decode(frames.candle("BTC-USD", "1min", bar))["topic"] == "candle.BTC-USD.1min"


def test_aggregation_buckets_bids_down_and_asks_up() -> None:
    bids = [(102_777.4, 1.0, 1), (102_776.6, 2.0, 2), (102_775.9, 0.5, 1)]
    asks = [(102_780.1, 1.0, 1), (102_780.5, 2.0, 3), (102_781.2, 4.0, 1)]
    assert frames.aggregate_levels(bids, 1.0, is_bid=True) == [
        (102_777.0, 1.0, 1),
        (102_776.0, 2.0, 2),
        (102_775.0, 0.5, 1),
    ]
    assert frames.aggregate_levels(asks, 0.5, is_bid=False) == [
        (102_780.5, 3.0, 4),
        (102_781.5, 4.0, 1),
    ]


def test_aggregation_keeps_a_price_already_on_the_bucket_grid() -> None:
    # 102777.3 / 0.1 is 1027772.9999999999 in binary: it must stay in its own bucket.
    assert frames.aggregate_levels([(102_777.3, 1.0, 1)], 0.1, is_bid=True) == [(102_777.3, 1.0, 1)]


@settings(max_examples=60, deadline=None)
@given(
    ticks=st.lists(st.integers(1, 10_000), min_size=1, max_size=30, unique=True),
    bucket_ticks=st.integers(1, 50),
    is_bid=st.booleans(),
)
def test_aggregation_preserves_size_and_order(
    ticks: list[int], bucket_ticks: int, is_bid: bool
) -> None:
    tick, bucket = 0.5, bucket_ticks * 0.5
    levels = [(t * tick, 1.0, 1) for t in sorted(ticks, reverse=is_bid)]
    merged = frames.aggregate_levels(levels, bucket, is_bid=is_bid)
    assert sum(size for _, size, _ in merged) == pytest.approx(len(levels))
    assert sum(count for _, _, count in merged) == len(levels)
    prices = [price for price, _, _ in merged]
    assert prices == sorted(prices, reverse=is_bid)
    assert len(set(prices)) == len(prices)
    for price, _, _ in merged:
        assert math.isclose(price / bucket, round(price / bucket), abs_tol=1e-9)
    # A bucket never advertises a better price than the orders in it.
    best_in = levels[0][0]
    assert (prices[0] <= best_in) if is_bid else (prices[0] >= best_in)


# -- account stream --------------------------------------------------------------------------


def test_account_snapshot_matches_the_protocol_example_in_the_long_form() -> None:
    view = AccountView(
        margin=margin(),
        positions=(position(),),
        open_orders=(order(),),
        leverage=(("BTC-USD", 5.0), ("ETH-USD", 3.0)),
    )
    frame = decode(frames.account_snapshot(USER, view))
    assert_shape(frame, EXAMPLES["accountSnapshot"])
    assert frame["topic"] == f"account.{USER}"
    data = frame["data"]
    (open_order,) = data["openOrders"]
    # Long form: positive sizes, the side in isBuy (decision 6).
    assert open_order["isBuy"] is False
    assert (open_order["size"], open_order["originalSize"]) == (0.2, 0.3)
    assert open_order["filledSize"] == 0.1
    assert open_order["orderType"] == "limit"
    assert data["positions"][0]["size"] == -0.5
    assert data["leverageSettings"] == [
        {"symbol": "BTC-USD", "leverage": 5.0},
        {"symbol": "ETH-USD", "leverage": 3.0},
    ]


def test_account_snapshot_of_an_empty_account_has_empty_lists() -> None:
    view = AccountView(margin=margin(), positions=(), open_orders=(), leverage=())
    data = decode(frames.account_snapshot(USER, view))["data"]
    assert (data["positions"], data["openOrders"], data["leverageSettings"]) == ([], [], [])


def test_order_update_uses_the_short_form_with_signed_sizes() -> None:
    frame = decode(frames.order_update(order(reason="insufficient margin")))
    assert_shape(frame, EXAMPLES["orderUpdate"])
    data = frame["data"]
    assert frame["topic"] == f"account.{USER}"
    assert (data["origSz"], data["sz"], data["fillSz"]) == (-0.3, -0.2, 0.1)
    assert data["reason"] == "insufficient margin"
    buy = decode(frames.order_update(order(is_buy=True)))["data"]
    assert (buy["origSz"], buy["sz"]) == (0.3, 0.2)
    assert "reason" not in buy


def test_fill_matches_the_protocol_example() -> None:
    event = Filled(USER, "BTC-USD", "oid1", 100_000.0, 0.1, True, False, 1704067200123456789)
    frame = decode(frames.fill(event))
    assert_shape(frame, EXAMPLES["fill"])
    assert frame["topic"] == f"account.{USER}"
    assert frame["data"]["isBuy"] is True
    assert frame["data"]["maker"] is False


def test_position_margin_and_leverage_updates_carry_their_objects_flat_in_data() -> None:
    snapshot = EXAMPLES["accountSnapshot"]["data"]
    position_frame = decode(frames.position_update(position()))
    assert position_frame["data"]["type"] == "positionUpdate"
    assert_shape(
        position_frame["data"], {"type": "positionUpdate", **snapshot["positions"][0]}, "$.data"
    )
    margin_frame = decode(frames.margin_update(margin()))
    assert_shape(margin_frame["data"], {"type": "marginUpdate", **snapshot["margin"]}, "$.data")
    assert margin_frame["data"]["totalBalance"] == 100_000.0
    leverage_frame = decode(frames.leverage_update(LeverageChanged(USER, (("BTC-USD", 3.0),))))
    assert leverage_frame["data"] == {
        "type": "leverageUpdate",
        "leverage": [{"symbol": "BTC-USD", "leverage": 3.0}],
    }
    for frame in (position_frame, margin_frame, leverage_frame):
        assert frame["type"] == "account"
        assert frame["topic"] == f"account.{USER}"
