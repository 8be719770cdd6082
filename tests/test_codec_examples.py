"""Every server message example of the exchange's protocol notes, decoded from its literal text.

The JSON below is copied from the document (not built with a helper), so that the codec is checked
against the specification rather than against another part of this project.
"""

from __future__ import annotations

import pytest

from bulk_trio.enums import OrderStatus, Side, TimeInForce
from bulk_trio.models import (
    AccountSnapshot,
    BookLevel,
    BuilderCodeApproval,
    Candle,
    ErrorMessage,
    Fill,
    L2Snapshot,
    LeverageSetting,
    Margin,
    OrderState,
    PostReply,
    SubscriptionResponse,
    Ticker,
    TradeBatch,
    UnsubscribeResponse,
)
from bulk_trio.protocol.codec import decode

PK = "FuueqefENiGEW6uMqZQgmwjzgpnb85EgUcZa5Em4PQh7"
OID = "Fpa3oVuL3UzjNANAMZZdmrn6D1Zhk83GmBuJpuAWG51F"

# --- the examples, verbatim (post failure: the T1 mock shape with N and the text filled in) ----

SUBSCRIPTION_RESPONSE = (
    '{"type": "subscriptionResponse", "topics": ["ticker.BTC-USD", "trades.BTC-USD"]}'
)

UNSUBSCRIBE_RESPONSE = '{"type":"unsubscribeResponse","topic":"ticker.BTC-USD"}'

TICKER = """{"type":"ticker","topic":"ticker.BTC-USD","data":{"ticker":{
  "symbol":"BTC-USD","lastPrice":102777.5,"markPrice":102780.0,"oraclePrice":102775.0,
  "priceChange":2777.5,"priceChangePercent":2.77,"highPrice":103500.0,"lowPrice":101000.0,
  "volume":1234.56,"quoteVolume":126543210.0,"openInterest":5432.1,"fundingRate":0.0001,
  "regime":1,"regimeDt":93,"regimeVol":0.35,"regimeMv":0.02,"fairBookPx":102779.0,
  "fairVol":0.28,"fairBias":0.001,"timestamp":1704067200000000000}}}"""

TRADES = """{"type":"trades","topic":"trades.BTC-USD","data":[{"s":"BTC-USD","px":100010.5,"sz":0.25,"time":1704067200123,
  "b":true,"side":true,"maker":"<base58>","taker":"<base58>"}]}"""  # noqa: E501 (verbatim from the protocol notes)

L2_SNAPSHOT = """{"type":"l2Snapshot","topic":"l2Snapshot.BTC-USD","data":{"book":{
  "updateType":"snapshot","symbol":"BTC-USD","timestamp":1770906894450242133,
  "levels":[[{"px":102777.0,"sz":1.5,"n":3},{"px":102776.5,"sz":2.3,"n":5}],
            [{"px":102780.0,"sz":2.0,"n":4},{"px":102780.5,"sz":1.2,"n":3}]]}}}"""

CANDLE = """{"type":"candle","topic":"candle.BTC-USD.1m","data":{"candle":{
  "t":1699564800000,"T":1699564860000,"o":102000.0,"h":102100.0,"l":101900.0,"c":101950.0,"v":1.6,"n":3}}}"""

ACCOUNT_SNAPSHOT = """{"type":"account","topic":"account.FuueqefENiGEW6uMqZQgmwjzgpnb85EgUcZa5Em4PQh7","data":{
  "type":"accountSnapshot",
  "margin":{"totalBalance":100000.0,"availableBalance":95000.0,"marginUsed":5000.0,"notional":50000.0,
            "realizedPnl":1234.5,"unrealizedPnl":567.8,"fees":12.34,"funding":5.67},
  "positions":[{"symbol":"BTC-USD","size":0.5,"price":100000.0,"fairPrice":101000.0,"notional":50500.0,
     "realizedPnl":500.0,"unrealizedPnl":500.0,"leverage":5.0,"liquidationPrice":95000.0,"fees":10.0,
     "funding":2.5,"maintenanceMargin":1000.0,"lambda":0.05,"riskAllocation":5000.0,"allocMargin":2500.0}],
  "openOrders":[{"symbol":"BTC-USD","orderId":"Fpa3oVuL3UzjNANAMZZdmrn6D1Zhk83GmBuJpuAWG51F","price":102000.0,
     "originalSize":0.1,"size":0.1,"filledSize":0.0,"vwap":0.0,"isBuy":true,"maker":true,"reduceOnly":false,
     "tif":"gtc","status":"placed","timestamp":1763316177219383423}],
  "leverageSettings":[{"symbol":"BTC-USD","leverage":5.0},{"symbol":"ETH-USD","leverage":3.0}],
  "builderCodeApprovals":[{"recipient":"<base58>","maxFee":5}]}}"""  # noqa: E501 (verbatim from the protocol notes)

ORDER_UPDATE = """{"type":"account","topic":"account.<pk>","data":{"type":"orderUpdate","ts":1770918312787284000,"ot":"limit",
  "status":"rejectedRiskLimit","sym":"BTC-USD","oid":"EF2bxQ5pp3CDFAwRi44ExXb32sRmByByYxjwLYBfvRKQ",
  "px":100001.37,"origSz":-0.02474,"sz":-0.02474,"fillSz":0.0,"vwap":0.0,"mk":true,"r":false,"tif":"gtc",
  "reason":"no oracle / fair price reference yet for: BTC-USD"}}"""  # noqa: E501 (verbatim from the protocol notes)

FILL = """{"type":"account","data":{"type":"fill","symbol":"BTC-USD","orderId":"<oid>","price":100000.0,"size":0.1,
  "isBuy":true,"maker":false,"timestamp":1704067200123456789,"counterpartyHint":"...","reason":null}}"""  # noqa: E501 (verbatim from the protocol notes)

POST_SUCCESS = """{"type":"post","id":17,"data":{"type":"action","payload":{"status":"ok","response":{"type":"order",
  "data":{"statuses":[{"resting":{"oid":"Fpa3oVuL3UzjNANAMZZdmrn6D1Zhk83GmBuJpuAWG51F"}},
                      {"filled":{"oid":"...","totalSz":0.1,"avgPx":102500.0}},
                      {"error":{"message":"..."}}]}}}}}"""  # noqa: E501 (verbatim from the protocol notes)

POST_FAILURE = (
    '{"type":"post","id":9,"data":{"payload":{"status":"error","message":"Invalid signature"}}}'
)

ERROR = '{"type":"error","error":{"message":"invalid subscription"}}'

# The notes write ``"ok":true|false``; one of the two, with an id filled in.
POST_ACK = '{"type":"post","id":5,"data":{"type":"ack","ok":true,"message":"..."}}'

EXAMPLES: dict[str, str] = {
    "subscriptionResponse": SUBSCRIPTION_RESPONSE,
    "unsubscribeResponse": UNSUBSCRIBE_RESPONSE,
    "ticker": TICKER,
    "trades": TRADES,
    "l2Snapshot": L2_SNAPSHOT,
    "candle": CANDLE,
    "accountSnapshot": ACCOUNT_SNAPSHOT,
    "orderUpdate": ORDER_UPDATE,
    "fill": FILL,
    "postSuccess": POST_SUCCESS,
    "postFailure": POST_FAILURE,
    "postAck": POST_ACK,
    "error": ERROR,
}
"""Every example frame by name; the fuzz tests mutate these."""


def test_subscription_response() -> None:
    frame = SUBSCRIPTION_RESPONSE
    assert decode(frame) == SubscriptionResponse(topics=("ticker.BTC-USD", "trades.BTC-USD"))


def test_unsubscribe_response() -> None:
    frame = UNSUBSCRIBE_RESPONSE
    assert decode(frame) == UnsubscribeResponse(topic="ticker.BTC-USD")


def test_ticker() -> None:
    frame = TICKER
    assert decode(frame) == Ticker(
        symbol="BTC-USD",
        last_price=102777.5,
        mark_price=102780.0,
        oracle_price=102775.0,
        price_change=2777.5,
        price_change_percent=2.77,
        high_price=103500.0,
        low_price=101000.0,
        volume=1234.56,
        quote_volume=126543210.0,
        open_interest=5432.1,
        funding_rate=0.0001,
        timestamp=1704067200000000000,
        regime=1,
        regime_dt=93.0,
        regime_vol=0.35,
        regime_mv=0.02,
        fair_book_price=102779.0,
        fair_vol=0.28,
        fair_bias=0.001,
    )


def test_trades() -> None:
    frame = TRADES
    batch = decode(frame)
    assert isinstance(batch, TradeBatch)
    assert batch.symbol == "BTC-USD"
    (trade,) = batch.trades
    assert (trade.symbol, trade.price, trade.size, trade.time) == (
        "BTC-USD",
        100010.5,
        0.25,
        1704067200123,
    )
    assert trade.side is Side.BUY
    assert (trade.maker, trade.taker) == ("<base58>", "<base58>")
    assert trade.reason is None
    assert not trade.is_liquidation


def test_l2_snapshot() -> None:
    frame = L2_SNAPSHOT
    assert decode(frame) == L2Snapshot(
        symbol="BTC-USD",
        timestamp=1770906894450242133,
        bids=(BookLevel(102777.0, 1.5, 3), BookLevel(102776.5, 2.3, 5)),
        asks=(BookLevel(102780.0, 2.0, 4), BookLevel(102780.5, 1.2, 3)),
    )


def test_candle() -> None:
    frame = CANDLE
    assert decode(frame) == Candle(
        symbol="BTC-USD",
        interval="1m",
        open_time=1699564800000,
        close_time=1699564860000,
        open=102000.0,
        high=102100.0,
        low=101900.0,
        close=101950.0,
        volume=1.6,
        trades=3,
    )


def test_account_snapshot() -> None:
    frame = ACCOUNT_SNAPSHOT
    snapshot = decode(frame)
    assert isinstance(snapshot, AccountSnapshot)
    assert snapshot.account == PK
    assert snapshot.margin == Margin(
        total_balance=100000.0,
        available_balance=95000.0,
        margin_used=5000.0,
        notional=50000.0,
        realized_pnl=1234.5,
        unrealized_pnl=567.8,
        fees=12.34,
        funding=5.67,
    )
    (position,) = snapshot.positions
    assert (position.symbol, position.size, position.entry_price) == ("BTC-USD", 0.5, 100000.0)
    assert position.side is Side.BUY
    assert (position.fair_price, position.notional) == (101000.0, 50500.0)
    assert (position.realized_pnl, position.unrealized_pnl) == (500.0, 500.0)
    assert (position.leverage, position.liquidation_price) == (5.0, 95000.0)
    assert (position.fees, position.funding, position.maintenance_margin) == (10.0, 2.5, 1000.0)
    assert (position.risk_lambda, position.risk_allocation, position.alloc_margin) == (
        0.05,
        5000.0,
        2500.0,
    )
    assert snapshot.open_orders == (
        OrderState(
            order_id=OID,
            symbol="BTC-USD",
            side=Side.BUY,
            status=OrderStatus.PLACED,
            price=102000.0,
            size=0.1,
            original_size=0.1,
            filled_size=0.0,
            vwap=0.0,
            order_type="limit",
            is_maker=True,
            reduce_only=False,
            time_in_force=TimeInForce.GTC,
            timestamp=1763316177219383423,
            account=PK,
            raw_status="placed",
        ),
    )
    assert snapshot.open_orders[0].is_open
    assert snapshot.leverage_settings == (
        LeverageSetting(symbol="BTC-USD", leverage=5.0),
        LeverageSetting(symbol="ETH-USD", leverage=3.0),
    )
    assert snapshot.builder_code_approvals == (
        BuilderCodeApproval(recipient="<base58>", max_fee=5),
    )


def test_order_update() -> None:
    frame = ORDER_UPDATE
    assert decode(frame) == OrderState(
        order_id="EF2bxQ5pp3CDFAwRi44ExXb32sRmByByYxjwLYBfvRKQ",
        symbol="BTC-USD",
        side=Side.SELL,
        status=OrderStatus.REJECTED_RISK_LIMIT,
        price=100001.37,
        size=0.02474,
        original_size=0.02474,
        filled_size=0.0,
        vwap=0.0,
        order_type="limit",
        is_maker=True,
        reduce_only=False,
        time_in_force=TimeInForce.GTC,
        timestamp=1770918312787284000,
        reason="no oracle / fair price reference yet for: BTC-USD",
        account="<pk>",
        raw_status="rejectedRiskLimit",
    )


def test_fill() -> None:
    frame = FILL
    assert decode(frame) == Fill(
        symbol="BTC-USD",
        order_id="<oid>",
        price=100000.0,
        size=0.1,
        side=Side.BUY,
        is_maker=False,
        timestamp=1704067200123456789,
        account="",  # this example has no topic
        counterparty_hint="...",
        reason=None,
    )


def test_post_success() -> None:
    frame = POST_SUCCESS
    reply = decode(frame)
    assert isinstance(reply, PostReply)
    assert (reply.request_id, reply.ok, reply.is_ack, reply.message) == (17, True, False, None)
    resting, filled, error = reply.statuses
    assert (resting.status, resting.order_id, resting.raw_status) == (
        OrderStatus.RESTING,
        OID,
        "resting",
    )
    assert (filled.status, filled.order_id) == (OrderStatus.FILLED, "...")
    assert filled.meta == {"oid": "...", "totalSz": 0.1, "avgPx": 102500.0}
    assert (error.status, error.order_id, error.message) == (OrderStatus.ERROR, None, "...")
    assert error.is_error
    assert not resting.is_error


def test_post_failure() -> None:
    frame = POST_FAILURE
    assert decode(frame) == PostReply(request_id=9, ok=False, message="Invalid signature")


@pytest.mark.parametrize("ok", [True, False])
def test_post_ack(ok: bool) -> None:
    frame = POST_ACK if ok else POST_ACK.replace("true", "false")
    assert decode(frame) == PostReply(request_id=5, ok=ok, message="...", is_ack=True)


def test_error() -> None:
    frame = ERROR
    message = decode(frame)
    assert message == ErrorMessage(message="invalid subscription")
    assert isinstance(message, ErrorMessage)
    assert message.raw == {"type": "error", "error": {"message": "invalid subscription"}}
