"""The HTTP API's bodies to models: every literal response of docs/http-api.md, the alternative
shapes its decisions accept, and errors that name the endpoint and the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from bulk_trio import OrderStatus, ProtocolViolation, Side
from bulk_trio.protocol import http_codec

DATA = Path(__file__).parent / "data" / "http_responses.json"
RESPONSES: dict[str, Any] = orjson.loads(DATA.read_bytes())
USER = "FuueqefENiGEW6uMqZQgmwjzgpnb85EgUcZa5Em4PQh7"


def test_exchange_info_array_and_dict_forms() -> None:
    (btc,) = http_codec.parse_exchange_info(RESPONSES["exchangeInfo"])
    assert (btc.symbol, btc.tick_size, btc.lot_size, btc.min_notional, btc.max_leverage) == (
        "BTC-USD", 0.5, 0.001, 10.0, 10.0,
    )  # fmt: skip
    assert btc.time_in_forces == ("GTC", "IOC")
    (legacy,) = http_codec.parse_exchange_info(RESPONSES["exchangeInfo_dict"])
    assert (legacy.tick_size, legacy.lot_size, legacy.max_leverage) == (0.1, 0.0001, 20.0)


def test_ticker_documented_and_24h_names() -> None:
    ticker = http_codec.parse_ticker(RESPONSES["ticker"], "BTC-USD")
    assert ticker.last_price == 102777.5 and ticker.mark_price == 102780.0
    assert ticker.volume == 1234.56 and ticker.timestamp == 1704067200000000000
    sdk_names = {"symbol": "BTC-USD", "lastPrice": 1.0, "markPrice": None, "oraclePrice": None,
                 "volume24h": 7.0, "highPrice24h": 2.0, "timestamp": 1704067200000}  # fmt: skip
    ticker = http_codec.parse_ticker(sdk_names, "BTC-USD")
    assert (ticker.volume, ticker.high_price, ticker.mark_price) == (7.0, 2.0, None)
    assert ticker.timestamp == 1704067200000 * 1_000_000  # ms normalised to ns (decision 9)


def test_klines_are_candles_oldest_first() -> None:
    candles = http_codec.parse_klines(list(reversed(RESPONSES["klines"])), "BTC-USD", "1m")
    assert [c.open_time for c in candles] == [1699564800000, 1699564860000]
    assert candles[0].close == 101950.0 and candles[1].trades == 5
    assert candles[0].symbol == "BTC-USD" and candles[0].interval == "1m"


def test_klines_params_clamp_the_limit_and_translate_intervals() -> None:
    params = http_codec.klines_params("BTC-USD", "5min", 0, None, 5000)
    assert params == {"symbol": "BTC-USD", "interval": "5m", "limit": 1000, "startTime": 0}
    assert http_codec.klines_params("BTC-USD", "1h", None, None, None)["limit"] == 500
    with pytest.raises(ValueError, match="interval"):
        http_codec.klines_params("BTC-USD", "7m", None, None, None)


@pytest.mark.parametrize(
    "body",
    [
        RESPONSES["l2book"],
        {"symbol": "BTC-USD", "timestamp": 1704067200000000000,
         "levels": [[[102777.0, 1.5, 3], [102776.5, 2.3, 5]],
                    [[102780.0, 2.0, 4], [102780.5, 1.2]]]},
        {"symbol": "BTC-USD", "timestamp": 1704067200000,
         "bids": [[102777.0, 1.5, 3], [102776.5, 2.3, 5]],
         "asks": [[102780.0, 2.0, 4], [102780.5, 1.2, 3]]},
    ],
)  # fmt: skip
def test_l2_book_in_every_documented_shape(body: Any) -> None:
    book = http_codec.parse_l2_book(body, "BTC-USD")
    assert [level.price for level in book.bids] == [102777.0, 102776.5]
    assert [level.price for level in book.asks] == [102780.0, 102780.5]
    assert book.bids[1].size == 2.3 and book.timestamp == 1704067200000000000


def test_stats() -> None:
    stats = http_codec.parse_stats(RESPONSES["stats"])
    assert stats.volume_usd == 126543210.0 and stats.period == "1d"
    assert stats.markets[0].open_interest == 487.8


def test_full_account_current_and_legacy_shapes() -> None:
    account = http_codec.parse_full_account(RESPONSES["fullAccount"], USER)
    assert account is not None
    assert account.margin.total_balance == 100000.0 and account.margin.funding == -5.0
    (position,) = account.positions
    assert (position.symbol, position.size, position.entry_price) == ("BTC-USD", 0.5, 100000.0)
    (order,) = account.open_orders
    assert order.side is Side.BUY and order.status is OrderStatus.RESTING and order.account == USER
    assert [s.leverage for s in account.leverage_settings] == [5.0, 3.0]
    legacy = http_codec.parse_full_account(RESPONSES["fullAccount_legacy"], USER)
    assert legacy is not None and legacy.margin.total_balance == 100000.0
    assert legacy.positions[0].size == -0.25
    assert http_codec.parse_full_account([], USER) is None


def test_open_orders_wrapped_bare_short_keys_and_signed_sizes() -> None:
    (order,) = http_codec.parse_open_orders(RESPONSES["openOrders"], USER)
    assert (
        order.order_id == "Fpa3oVuL3UzjNANAMZZdmrn6D1Zhk83GmBuJpuAWG51F" and order.price == 99000.0
    )
    short = [{"sym": "ETH-USD", "oid": "x", "px": 3000.0, "origSz": -2.0, "sz": -1.5,
              "fillSz": 0.5, "status": "working", "ot": "limit", "ts": 1}]  # fmt: skip
    (sell,) = http_codec.parse_open_orders(short, USER)
    assert sell.side is Side.SELL and sell.size == 1.5 and sell.original_size == 2.0


def test_fee_tier() -> None:
    tier = http_codec.parse_fee_tier(RESPONSES["feeTier"])
    assert tier is not None and (tier.scope, tier.maker_bps, tier.taker_bps) == (
        "BTC-USD",
        1.8,
        3.3,
    )


def test_paginated_history_keeps_u64_values_exact() -> None:
    page = http_codec.parse_history(RESPONSES["fills_page"], "fills", USER)
    (fill,) = page.rows
    assert fill.slot == 18446744073709551615 and fill.sequence == 18446744073709551613
    assert fill.size == 1.25 and fill.reason == "matched"
    assert page.next_cursor == "next_page" and page.has_more
    assert page.start_slot == 9007199254740993  # above 2**53: a float would have lost it


def test_legacy_history_rows() -> None:
    (fill,) = http_codec.parse_history(RESPONSES["fills_legacy"], "fills", USER).rows
    assert fill.timestamp == 1699564800000 * 1_000_000
    taker_view = fill.for_account("taker_pubkey_base58")
    maker_view = fill.for_account("maker_pubkey_base58")
    assert (taker_view.side, taker_view.order_id, taker_view.is_maker) == (
        Side.BUY, "taker_order_hash", False,
    )  # fmt: skip
    assert (maker_view.side, maker_view.order_id, maker_view.is_maker) == (
        Side.SELL, "maker_order_hash", True,
    )  # fmt: skip
    (order,) = http_codec.parse_history(RESPONSES["orderHistory_legacy"], "orderHistory", USER).rows
    assert (
        order.status is OrderStatus.FILLED and order.filled_size == 0.1 and order.side is Side.BUY
    )
    (closed,) = http_codec.parse_history(RESPONSES["positions_legacy"], "positions", USER).rows
    assert closed.quantity == 0.5 and closed.realized_pnl == 1000.0
    (payment,) = http_codec.parse_history(RESPONSES["funding_legacy"], "fundingHistory", USER).rows
    assert payment.payment == 12.5 and payment.slot == 123456789


def test_history_request_bodies() -> None:
    first = http_codec.history_request("fills", USER, limit=17, start_slot=1, end_slot=9)
    assert first == {"type": "fills", "user": USER, "limit": 17, "startSlot": 1, "endSlot": 9}
    follow = http_codec.history_request("fills", USER, cursor="c")
    assert follow == {"type": "fills", "user": USER, "cursor": "c"}
    with pytest.raises(ValueError, match="cursor"):
        http_codec.history_request("fills", USER, cursor="c", start_slot=1)
    with pytest.raises(ValueError, match="limit"):
        http_codec.history_request("fills", USER, limit=5001)


def test_order_replies() -> None:
    ok, statuses, message = http_codec.parse_order_reply(RESPONSES["order_ok"])
    assert ok and message is None and statuses[0].status is OrderStatus.RESTING
    wrapped = {"data": {"payload": RESPONSES["order_ok"]}}
    assert http_codec.parse_order_reply(wrapped)[1] == statuses
    ok, _, message = http_codec.parse_order_reply(RESPONSES["order_bad_signature"])
    assert not ok and message == "bad signature"
    ok, _, message = http_codec.parse_order_reply(RESPONSES["order_unauthorized"])
    assert not ok and message == "unauthorized signer"


def test_order_reply_sizes_are_absolute() -> None:
    # Decision 10: the simulator and the exchange sign them; older answers do not.
    filled = {"filled": {"oid": "x", "totalSz": -0.5, "avgPx": 3.0}}
    body = {"status": "ok", "response": {"type": "order", "data": {"statuses": [filled]}}}
    ok, (status,), _ = http_codec.parse_order_reply(body)
    assert ok and status.meta["totalSz"] == 0.5
    filled["filled"]["totalSz"] = 0.5
    assert http_codec.parse_order_reply(body)[1][0].meta["totalSz"] == 0.5


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'{"error":{"code":"CURSOR_EXPIRED","message":"history changed"}}',
         ("CURSOR_EXPIRED", "history changed")),
        (b'{"error":"Account already funded"}', (None, "Account already funded")),
        (b"upstream broke", (None, "upstream broke")),
        (b"", (None, "no error text")),
    ],
)  # fmt: skip
def test_error_bodies_are_read_defensively(
    content: bytes, expected: tuple[str | None, str]
) -> None:
    assert http_codec.error_detail(content) == expected


def test_a_bad_body_names_the_endpoint_and_the_field() -> None:
    broken = json.loads(json.dumps(RESPONSES["exchangeInfo"]))
    del broken[0]["tickSize"]
    with pytest.raises(ProtocolViolation, match=r"GET /exchangeInfo: \[0\]\.tickSize missing"):
        http_codec.parse_exchange_info(broken)
    with pytest.raises(ProtocolViolation, match=r"GET /ticker/BTC-USD: .*lastPrice"):
        http_codec.parse_ticker({"symbol": "BTC-USD", "lastPrice": "abc"}, "BTC-USD")
    with pytest.raises(ProtocolViolation, match="GET /klines: response is not JSON"):
        http_codec.decode_body("GET /klines", b"<html>")
