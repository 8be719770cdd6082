"""The spellings docs/protocol.md's decisions 4-7 tell the client to accept, and the malformed
frames it must turn into a ProtocolError that names the problem."""

from __future__ import annotations

import pytest

from bulk_trio.enums import OrderStatus, Side, TimeInForce
from bulk_trio.models import (
    AccountSnapshot,
    BookLevel,
    Candle,
    ErrorMessage,
    Fill,
    L2Delta,
    L2Snapshot,
    LeverageSetting,
    LeverageUpdate,
    MarginUpdate,
    OrderState,
    PositionUpdate,
    PostReply,
    ProtocolError,
    Ticker,
    TradeBatch,
    UnknownMessage,
)
from bulk_trio.protocol.codec import EXCERPT_CHARS, decode

PK = "FuueqefENiGEW6uMqZQgmwjzgpnb85EgUcZa5Em4PQh7"


def account_frame(data: str, topic: str = f"account.{PK}") -> str:
    return f'{{"type":"account","topic":"{topic}","data":{data}}}'


# --- ticker ------------------------------------------------------------------------------------


def test_ticker_null_and_missing_prices_are_none() -> None:
    frame = (
        '{"type":"ticker","topic":"ticker.BTC-USD","data":{"ticker":{"symbol":"BTC-USD",'
        '"lastPrice":null,"markPrice":null,"oraclePrice":null,"timestamp":5}}}'
    )
    ticker = decode(frame)
    assert ticker == Ticker("BTC-USD", None, None, None, timestamp=5)


def test_integral_float_timestamps_are_integers() -> None:
    frame = '{"type":"ticker","data":{"ticker":{"symbol":"X","timestamp":1.7e18}}}'
    ticker = decode(frame)
    assert isinstance(ticker, Ticker)
    assert ticker.timestamp == 1_700_000_000_000_000_000
    assert isinstance(ticker.timestamp, int)


def test_ticker_accepts_numeric_strings_and_integers() -> None:
    frame = (
        '{"type":"ticker","data":{"ticker":{"symbol":"ETH-USD","lastPrice":"3000.5",'
        '"markPrice":3001,"oraclePrice":"3e3","volume":"12","timestamp":"1704067200000000000"}}}'
    )
    ticker = decode(frame)
    assert isinstance(ticker, Ticker)
    assert (ticker.last_price, ticker.mark_price, ticker.oracle_price) == (3000.5, 3001.0, 3000.0)
    assert isinstance(ticker.mark_price, float)
    assert ticker.volume == 12.0
    assert ticker.timestamp == 1704067200000000000


# --- trades ------------------------------------------------------------------------------------


def test_trades_nested_data_envelope_and_side_key() -> None:
    frame = (
        '{"type":"trades","topic":"trades.BTC-USD","data":{"data":['
        '{"s":"BTC-USD","px":1.5,"sz":2,"time":10,"side":false},'
        '{"s":"BTC-USD","px":"1.75","sz":"0.5","time":11,"side":true}]}}'
    )
    batch = decode(frame)
    assert isinstance(batch, TradeBatch)
    assert [(t.price, t.size, t.side, t.time) for t in batch.trades] == [
        (1.5, 2.0, Side.SELL, 10),
        (1.75, 0.5, Side.BUY, 11),
    ]


def test_trades_b_wins_over_side_when_both_present() -> None:
    frame = (
        '{"type":"trades","topic":"trades.X","data":[{"s":"X","px":1,"sz":1,"time":1,'
        '"b":false,"side":true}]}'
    )
    batch = decode(frame)
    assert isinstance(batch, TradeBatch)
    assert batch.trades[0].side is Side.SELL


def test_trades_symbol_falls_back_to_topic() -> None:
    frame = '{"type":"trades","topic":"trades.SOL-USD","data":[{"px":1,"sz":1,"time":1,"b":true}]}'
    batch = decode(frame)
    assert isinstance(batch, TradeBatch)
    assert batch.symbol == "SOL-USD"
    assert batch.trades[0].symbol == "SOL-USD"


def test_trades_without_topic_take_the_symbol_of_the_trades() -> None:
    frame = '{"type":"trades","data":[{"s":"ETH-USD","px":1,"sz":1,"time":1,"b":true}]}'
    batch = decode(frame)
    assert isinstance(batch, TradeBatch)
    assert batch.symbol == "ETH-USD"


def test_trades_empty_list_with_topic() -> None:
    assert decode('{"type":"trades","topic":"trades.X","data":[]}') == TradeBatch("X", ())


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        (',"reason":"adl"', "adl"),
        (',"reason":"liquidation","liq":true', "liquidation"),
        (',"liq":true', "liquidation"),
        (',"liq":false', None),
    ],
)
def test_trade_reason(extra: str, reason: str | None) -> None:
    trade = f'{{"px":1,"sz":1,"time":1,"b":true{extra}}}'
    frame = f'{{"type":"trades","topic":"trades.X","data":[{trade}]}}'
    batch = decode(frame)
    assert isinstance(batch, TradeBatch)
    assert batch.trades[0].reason == reason
    assert batch.trades[0].is_liquidation is (reason is not None)


# --- books -------------------------------------------------------------------------------------


def test_l2_delta_one_sided_and_snapshot_flag() -> None:
    delta = (
        '{"type":"l2Delta","topic":"l2Delta.BTC-USD","data":{"book":{"updateType":"delta",'
        '"symbol":"BTC-USD","timestamp":7,"levels":[[],[{"px":100.5,"sz":0,"n":0}]]}}}'
    )
    assert decode(delta) == L2Delta("BTC-USD", 7, (), (BookLevel(100.5, 0.0, 0),), False)
    first = delta.replace('"delta"', '"snapshot"')
    decoded = decode(first)
    assert isinstance(decoded, L2Delta)
    assert decoded.is_snapshot


def test_l2_delta_without_update_type_is_a_patch() -> None:
    frame = (
        '{"type":"l2Delta","topic":"l2Delta.X","data":{"book":{"symbol":"X","timestamp":1,'
        '"levels":[[{"px":1,"sz":2}],[]]}}}'
    )
    decoded = decode(frame)
    assert decoded == L2Delta("X", 1, (BookLevel(1.0, 2.0, 0),), (), False)


def test_l2_symbol_falls_back_to_topic_and_numbers_may_be_strings() -> None:
    frame = (
        '{"type":"l2Snapshot","topic":"l2Snapshot.ETH-USD","data":{"book":{'
        '"timestamp":"9","levels":[[{"px":"10.5","sz":"1e-3","n":"2"}],[]]}}}'
    )
    assert decode(frame) == L2Snapshot("ETH-USD", 9, (BookLevel(10.5, 0.001, 2),), ())


# --- candles -----------------------------------------------------------------------------------


def test_candle_payload_directly_in_data() -> None:
    frame = (
        '{"type":"candle","topic":"candle.ETH-USD.5m","data":{"t":1,"T":2,"o":"3","h":4,'
        '"l":2.5,"c":3.5,"v":10}}'
    )
    assert decode(frame) == Candle("ETH-USD", "5m", 1, 2, 3.0, 4.0, 2.5, 3.5, 10.0, 0)


@pytest.mark.parametrize(("wire", "model"), [("1min", "1m"), ("15min", "15m"), ("7x", "7x")])
def test_candle_interval_from_topic(wire: str, model: str) -> None:
    frame = (
        f'{{"type":"candle","topic":"candle.BTC-USD.{wire}","data":{{"candle":'
        '{"t":1,"T":2,"o":1,"h":1,"l":1,"c":1,"v":0,"n":0}}}'
    )
    candle = decode(frame)
    assert isinstance(candle, Candle)
    assert (candle.symbol, candle.interval) == ("BTC-USD", model)


# --- account -----------------------------------------------------------------------------------

SHORT_SELL_ORDER = (
    '{"ts":5,"ot":"limit","status":"resting","sym":"BTC-USD","oid":"o1","px":"100","origSz":-2,'
    '"sz":-1.5,"fillSz":0.5,"vwap":100,"mk":false,"r":true,"tif":"IOC"}'
)


def test_snapshot_open_order_in_short_spelling_with_signed_sizes() -> None:
    frame = account_frame(
        '{"type":"accountSnapshot","margin":{"totalBalance":1},"openOrders":['
        + SHORT_SELL_ORDER
        + "]}"
    )
    snapshot = decode(frame)
    assert isinstance(snapshot, AccountSnapshot)
    (order,) = snapshot.open_orders
    assert order == OrderState(
        order_id="o1",
        symbol="BTC-USD",
        side=Side.SELL,
        status=OrderStatus.RESTING,
        price=100.0,
        size=1.5,
        original_size=2.0,
        filled_size=0.5,
        vwap=100.0,
        order_type="limit",
        is_maker=False,
        reduce_only=True,
        time_in_force=TimeInForce.IOC,
        timestamp=5,
        account=PK,
        raw_status="resting",
    )


def test_snapshot_without_lists_is_empty_and_authoritative() -> None:
    snapshot = decode(account_frame('{"type":"accountSnapshot","margin":{"totalBalance":0}}'))
    assert isinstance(snapshot, AccountSnapshot)
    assert (snapshot.positions, snapshot.open_orders, snapshot.leverage_settings) == ((), (), ())
    assert snapshot.builder_code_approvals == ()


@pytest.mark.parametrize(
    ("fields", "side"),
    [
        ('"isBuy":false,"size":0.1,"originalSize":0.1', Side.SELL),
        ('"isBuy":true,"size":-0.1', Side.BUY),  # isBuy wins over the sign
        ('"size":0.1', Side.BUY),
        ('"sz":0,"origSz":-3', Side.SELL),  # fully filled: the original size keeps the sign
    ],
)
def test_order_side(fields: str, side: Side) -> None:
    frame = account_frame(
        f'{{"type":"orderUpdate","orderId":"o","symbol":"X","status":"filled",{fields}}}'
    )
    order = decode(frame)
    assert isinstance(order, OrderState)
    assert order.side is side
    assert order.size >= 0
    assert order.original_size >= 0


def test_order_update_canceled_spelling_and_unknown_status() -> None:
    base = '{"type":"orderUpdate","oid":"o","coin":"X","isBuy":true,"status":"STATUS"}'
    cancelled = decode(account_frame(base.replace("STATUS", "canceledRiskLimit")))
    assert isinstance(cancelled, OrderState)
    assert cancelled.status is OrderStatus.CANCELLED_RISK_LIMIT
    assert cancelled.raw_status == "canceledRiskLimit"
    assert not cancelled.is_open
    unknown = decode(account_frame(base.replace("STATUS", "frozen")))
    assert isinstance(unknown, OrderState)
    assert (unknown.status, unknown.raw_status) == (OrderStatus.UNKNOWN, "frozen")
    assert unknown.symbol == "X"


def test_order_update_unknown_tif_keeps_the_order() -> None:
    frame = account_frame(
        '{"type":"orderUpdate","oid":"o","sym":"X","sz":1,"status":"resting","tif":"fok"}'
    )
    order = decode(frame)
    assert isinstance(order, OrderState)
    assert order.time_in_force is None


def test_fill_short_spelling_coin_alias_and_sign() -> None:
    frame = account_frame(
        '{"type":"fill","coin":"ETH-USD","oid":"o2","px":"2000","sz":-0.25,"mk":true,"ts":9}'
    )
    assert decode(frame) == Fill(
        symbol="ETH-USD",
        order_id="o2",
        price=2000.0,
        size=0.25,
        side=Side.SELL,
        is_maker=True,
        timestamp=9,
        account=PK,
    )


def test_margin_update() -> None:
    frame = account_frame(
        '{"type":"marginUpdate","totalBalance":10,"availableBalance":"8","marginUsed":2,'
        '"notional":20,"realizedPnl":-1,"unrealizedPnl":0.5,"fees":0.1,"funding":null,"x":1}'
    )
    assert decode(frame) == MarginUpdate(
        total_balance=10.0,
        available_balance=8.0,
        margin_used=2.0,
        notional=20.0,
        realized_pnl=-1.0,
        unrealized_pnl=0.5,
        fees=0.1,
        funding=0.0,
        account=PK,
    )


def test_position_update_aliases() -> None:
    frame = account_frame(
        '{"type":"positionUpdate","coin":"BTC-USD","size":-0.5,"price":100000,'
        '"fairPrice":99000,"lambda":0.1,"leverage":null}'
    )
    position = decode(frame)
    assert isinstance(position, PositionUpdate)
    assert (position.symbol, position.size, position.entry_price) == ("BTC-USD", -0.5, 100000.0)
    assert (position.fair_price, position.risk_lambda, position.leverage) == (99000.0, 0.1, None)
    assert position.side is Side.SELL
    assert position.account == PK


def test_leverage_update() -> None:
    frame = account_frame(
        '{"type":"leverageUpdate","leverage":[{"symbol":"BTC-USD","leverage":5},'
        '{"coin":"ETH-USD","leverage":"2.5"}]}'
    )
    assert decode(frame) == LeverageUpdate(
        account=PK,
        settings=(
            LeverageSetting(symbol="BTC-USD", leverage=5.0),
            LeverageSetting(symbol="ETH-USD", leverage=2.5),
        ),
    )


def test_unknown_account_subtype() -> None:
    frame = account_frame('{"type":"riskUpdate","x":1}')
    message = decode(frame)
    assert message == UnknownMessage(type="account", subtype="riskUpdate")
    assert isinstance(message, UnknownMessage)
    assert message.raw["data"] == {"type": "riskUpdate", "x": 1}


# --- post replies ------------------------------------------------------------------------------


def post_frame(statuses: str) -> str:
    return (
        '{"type":"post","id":3,"data":{"type":"action","payload":{"status":"ok",'
        f'"response":{{"type":"order","data":{{"statuses":{statuses}}}}}}}}}}}'
    )


def test_post_status_variants() -> None:
    reply = decode(
        post_frame(
            '[{"cancelled":{"oid":"a"}},{"canceledIOC":{"oid":"b","filledSz":1}},'
            '{"rejectedInvalid":{"oid":"c","reason":"bad px"}},{"error":"plain text"},'
            '{"brandNew":{"oid":"d"}},{"cancelAllRejected":null}]'
        )
    )
    assert isinstance(reply, PostReply)
    assert reply.ok
    statuses = [(s.status, s.order_id, s.message, s.raw_status) for s in reply.statuses]
    assert statuses == [
        (OrderStatus.CANCELLED, "a", None, "cancelled"),
        (OrderStatus.CANCELLED_IOC, "b", None, "canceledIOC"),
        (OrderStatus.REJECTED_INVALID, "c", "bad px", "rejectedInvalid"),
        (OrderStatus.ERROR, None, "plain text", "error"),
        (OrderStatus.UNKNOWN, "d", None, "brandNew"),
        (OrderStatus.CANCEL_ALL_REJECTED, None, None, "cancelAllRejected"),
    ]
    assert reply.statuses[1].meta == {"oid": "b", "filledSz": 1}


def test_post_empty_statuses() -> None:
    assert decode(post_frame("[]")) == PostReply(request_id=3, ok=True, statuses=())


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ('{"status":"err","response":"Account not found"}', "Account not found"),
        ('{"status":"error"}', "request failed with status 'error'"),
    ],
)
def test_post_failure_messages(payload: str, message: str) -> None:
    reply = decode(f'{{"type":"post","id":4,"data":{{"payload":{payload}}}}}')
    assert reply == PostReply(request_id=4, ok=False, message=message)


def test_post_ack_without_ok_is_ok() -> None:
    assert decode('{"type":"post","id":1,"data":{"type":"ack"}}') == PostReply(
        request_id=1, ok=True, is_ack=True
    )


# --- other -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ('{"type":"error","error":"plain"}', "plain"),
        ('{"type":"error","message":"top level"}', "top level"),
    ],
)
def test_error_variants(frame: str, message: str) -> None:
    assert decode(frame) == ErrorMessage(message=message)


def test_unknown_type_is_kept() -> None:
    message = decode('{"type":"risk","topic":"risk.X","data":{"a":1}}')
    assert message == UnknownMessage(type="risk")
    assert isinstance(message, UnknownMessage)
    assert message.raw == {"type": "risk", "topic": "risk.X", "data": {"a": 1}}


def test_bytes_and_extra_fields() -> None:
    frame = (
        b'{"type":"l2Delta","extra":[1,{"x":null}],"topic":"l2Delta.X","data":{"book":'
        b'{"symbol":"X","timestamp":1,"levels":[[],[]],"seq":99},"more":true}}'
    )
    assert decode(frame) == L2Delta("X", 1, (), ())


# --- malformed frames --------------------------------------------------------------------------

TICKER = '{"type":"ticker","data":{"ticker":{"symbol":"X",FIELDS}}}'
BOOK = (
    '{"type":"l2Delta","topic":"l2Delta.X","data":{"book":{"symbol":"X","timestamp":1,'
    '"levels":LEVELS}}}'
)
TRADE = '{"type":"trades","topic":"trades.X","data":[{"px":1,"sz":1,"time":1,FIELDS}]}'
CANDLE = '{"type":"candle","topic":"TOPIC","data":{"candle":{"t":1,"T":2,"o":1,"h":1,"l":1,"v":1}}}'
POST_OK = '{"type":"post","id":1,"data":{"payload":{"status":"ok","response":{"data":DATA}}}}'

MALFORMED = [
    ("not json", "malformed JSON"),
    ('{"type":"ticker"', "malformed JSON"),
    ("", "malformed JSON"),
    ("[1, 2]", "expected a JSON object, got array"),
    ('"ticker"', "expected a JSON object, got string"),
    ("{}", "type missing"),
    ('{"type":7}', "type: expected a string, got number 7"),
    ('{"type":"ticker","data":{"ticker":{"lastPrice":1}}}', "ticker: data.ticker.symbol missing"),
    ('{"type":"ticker"}', "ticker: data missing"),
    ('{"type":"ticker","data":[]}', "ticker: data: expected an object, got array"),
    ('{"type":"ticker","data":"x"}', "ticker: data: unexpected string 'x'"),
    (
        TICKER.replace("FIELDS", '"lastPrice":true'),
        "data.ticker.lastPrice: expected a number, got bool",
    ),
    (
        TICKER.replace("FIELDS", '"markPrice":"abc"'),
        "data.ticker.markPrice: expected a number, got string 'abc'",
    ),
    (TICKER.replace("FIELDS", '"volume":"NaN"'), "data.ticker.volume: expected a number"),
    (
        TICKER.replace("FIELDS", '"timestamp":1.5'),
        "data.ticker.timestamp: expected an integer, got number 1.5",
    ),
    (
        TICKER.replace("FIELDS", '"regime":[1]'),
        "data.ticker.regime: expected an integer, got array",
    ),
    (
        '{"type":"ticker","data":{"ticker":{"symbol":5}}}',
        "ticker: data.ticker.symbol: expected a string, got number 5",
    ),
    (TRADE.replace(",FIELDS", ""), "trades: data[0].b/side missing"),
    (TRADE.replace("FIELDS", '"b":1'), "trades: data[0].b: expected true or false, got number 1"),
    (TRADE.replace('"px":1,', "").replace("FIELDS", '"b":true'), "trades: data[0].px missing"),
    (
        TRADE.replace("FIELDS", '"b":true,"sz":false'),
        "trades: data[0].sz: expected a number, got bool",
    ),
    ('{"type":"trades","data":[{"px":1,"sz":1,"time":1,"b":true}]}', "trades: data[0].s missing"),
    ('{"type":"trades","data":[]}', "trades: data: is empty and there is no topic"),
    ('{"type":"trades","topic":"trades.X","data":{"trades":[]}}', "trades: data.data missing"),
    (
        '{"type":"trades","topic":"trades.X","data":{"data":{}}}',
        "trades: data.data: expected an array, got object",
    ),
    (BOOK.replace("LEVELS", "[[]]"), "l2Delta: data.book.levels[1] missing"),
    (
        BOOK.replace("LEVELS", "[{},[]]"),
        "l2Delta: data.book.levels[0]: expected an array of levels, got object",
    ),
    (BOOK.replace("LEVELS", '[[{"px":1}],[]]'), "l2Delta: data.book.levels[0][0].sz missing"),
    (
        BOOK.replace("LEVELS", '[[],[{"px":1,"sz":1},{"px":true,"sz":1}]]'),
        "l2Delta: data.book.levels[1][1].px: expected a number, got bool",
    ),
    (
        BOOK.replace("LEVELS", "[[[1,2]],[]]"),
        "l2Delta: data.book.levels[0][0]: expected an object, got array",
    ),
    (
        BOOK.replace("LEVELS", '[[{"px":1,"sz":1,"n":0.5}],[]]'),
        "levels[0][0].n: expected an integer",
    ),
    (
        BOOK.replace('"timestamp":1,', "").replace("LEVELS", "[[],[]]"),
        "l2Delta: data.book.timestamp missing",
    ),
    (
        '{"type":"l2Snapshot","data":{"book":{"timestamp":1,"levels":[[],[]]}}}',
        "l2Snapshot: data.book.symbol missing",
    ),
    (CANDLE.replace("TOPIC", "candle.BTC-USD.1m"), "candle: data.candle.c missing"),
    (
        CANDLE.replace("TOPIC", "candle.BTC-USD"),
        "candle: topic: expected 'candle.<symbol>.<interval>'",
    ),
    (CANDLE.replace('"topic":"TOPIC",', ""), "candle: topic missing"),
    (account_frame('{"margin":{}}'), "account: data.type missing"),
    (account_frame('{"type":"accountSnapshot"}'), "accountSnapshot: data.margin missing"),
    (
        account_frame('{"type":"accountSnapshot","margin":{}}'),
        "accountSnapshot: data.margin.totalBalance missing",
    ),
    (
        account_frame('{"type":"accountSnapshot","margin":{"totalBalance":1},"openOrders":{}}'),
        "accountSnapshot: data.openOrders: expected an array, got object",
    ),
    (
        account_frame(
            '{"type":"accountSnapshot","margin":{"totalBalance":1},"openOrders":[{"orderId":"o","status":"placed","isBuy":true}]}'
        ),
        "accountSnapshot: data.openOrders[0].symbol/sym/coin missing",
    ),
    (
        account_frame(
            '{"type":"accountSnapshot","margin":{"totalBalance":1},"positions":[{"symbol":"X","size":1}]}'
        ),
        "accountSnapshot: data.positions[0].price missing",
    ),
    (
        account_frame(
            '{"type":"accountSnapshot","margin":{"totalBalance":1},"builderCodeApprovals":[{"recipient":"r"}]}'
        ),
        "data.builderCodeApprovals[0].maxFee/max_fee missing",
    ),
    (
        account_frame('{"type":"orderUpdate","sym":"X","status":"resting","sz":1}'),
        "orderUpdate: data.orderId/oid missing",
    ),
    (
        account_frame('{"type":"orderUpdate","oid":"o","sym":"X","sz":1}'),
        "orderUpdate: data.status missing",
    ),
    (
        account_frame('{"type":"orderUpdate","oid":"o","sym":"X","status":"filled","sz":0}'),
        "orderUpdate: data.isBuy: missing, and the sizes are zero",
    ),
    (
        account_frame('{"type":"orderUpdate","oid":"o","sym":"X","status":"filled","isBuy":"yes"}'),
        "orderUpdate: data.isBuy: expected true or false, got string 'yes'",
    ),
    (
        account_frame(
            '{"type":"orderUpdate","oid":"o","sym":"X","status":"filled","sz":1,"tif":3}'
        ),
        "orderUpdate: data.tif: expected a string, got number 3",
    ),
    (
        account_frame('{"type":"fill","symbol":"X","orderId":"o","size":1}'),
        "fill: data.price/px missing",
    ),
    (
        account_frame('{"type":"positionUpdate","symbol":"X","size":true,"price":1}'),
        "positionUpdate: data.size: expected a number, got bool",
    ),
    (
        account_frame('{"type":"marginUpdate","totalBalance":"lots"}'),
        "marginUpdate: data.totalBalance: expected a number",
    ),
    (account_frame('{"type":"leverageUpdate"}'), "leverageUpdate: data.leverage missing"),
    (
        account_frame('{"type":"leverageUpdate","leverage":[{"symbol":"X"}]}'),
        "leverageUpdate: data.leverage[0].leverage missing",
    ),
    ('{"type":"post","data":{"type":"ack","ok":true}}', "post: id missing"),
    (
        '{"type":"post","id":"x","data":{"type":"ack"}}',
        "post: id: expected an integer, got string 'x'",
    ),
    (
        '{"type":"post","id":1,"data":{"type":"ack","ok":"yes"}}',
        "post: data.ok: expected true or false",
    ),
    (
        '{"type":"post","id":1,"data":{"payload":{"response":{}}}}',
        "post: data.payload.status missing",
    ),
    (POST_OK.replace("DATA", "{}"), "post: data.payload.response.data.statuses missing"),
    (
        POST_OK.replace("DATA", '{"statuses":[{"resting":{},"filled":{}}]}'),
        "post: data.payload.response.data.statuses[0]: expected one status name, got 2 keys",
    ),
    (
        POST_OK.replace("DATA", '{"statuses":[{"resting":{"oid":5}}]}'),
        "post: data.payload.response.data.statuses[0].resting.oid: expected a string",
    ),
    (
        POST_OK.replace("DATA", '{"statuses":["resting"]}'),
        "statuses[0]: expected a {status: body} object, got string 'resting'",
    ),
    (
        '{"type":"subscriptionResponse","topics":"ticker.X"}',
        "subscriptionResponse: topics: expected an array, got string",
    ),
    (
        '{"type":"subscriptionResponse","topics":["a",1]}',
        "subscriptionResponse: topics[1]: expected a string, got number 1",
    ),
    ('{"type":"unsubscribeResponse"}', "unsubscribeResponse: topic missing"),
    ('{"type":"error"}', "error: error/message missing"),
    ('{"type":"error","error":{"msg":"x"}}', "error: error.message missing"),
]


@pytest.mark.parametrize(("frame", "reason"), MALFORMED)
def test_malformed_frames_name_the_problem(frame: str, reason: str) -> None:
    result = decode(frame)
    assert isinstance(result, ProtocolError), result
    assert reason in result.reason
    assert result.message == result.reason
    assert result.excerpt == frame[:EXCERPT_CHARS]


def test_invalid_utf8_bytes() -> None:
    result = decode(b'{"type":"ticker","x":"\xff\xfe"}')
    assert isinstance(result, ProtocolError)
    assert result.reason.startswith("malformed JSON")
    assert result.excerpt.startswith('{"type":"ticker"')


def test_excerpt_is_bounded_and_printable() -> None:
    frame = '{"type":"ticker","pad":"' + "x" * 1000 + '\ud800"}'
    result = decode(frame)
    assert isinstance(result, ProtocolError)
    assert len(result.excerpt) <= EXCERPT_CHARS
    result.excerpt.encode("utf-8")  # no lone surrogate survives into the excerpt


def test_post_status_sizes_are_absolute_whether_signed_or_not() -> None:
    # docs/http-api.md decision 10: the exchange signs these sizes (a sell is negative).
    reply = decode(
        post_frame(
            '[{"filled":{"oid":"a","totalSz":-0.25,"avgPx":100.0}},'
            '{"working":{"oid":"b","filledSz":-1,"remainingSz":-2.5,"vwap":99.0}},'
            '{"cancelledIOC":{"oid":"c","filledSz":0.0}},'
            '{"partiallyFilled":{"oid":"d","totalSz":0.75,"avgPx":101.0}},'
            '{"working":{"oid":"e","filledSz":"-1","remainingSz":null}}]'
        )
    )
    assert isinstance(reply, PostReply)
    metas = [dict(status.meta) for status in reply.statuses]
    assert metas == [
        {"oid": "a", "totalSz": 0.25, "avgPx": 100.0},
        {"oid": "b", "filledSz": 1, "remainingSz": 2.5, "vwap": 99.0},
        {"oid": "c", "filledSz": 0.0},
        {"oid": "d", "totalSz": 0.75, "avgPx": 101.0},
        {"oid": "e", "filledSz": "-1", "remainingSz": None},  # not numbers: left as they came
    ]
