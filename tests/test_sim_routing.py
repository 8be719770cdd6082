"""The simulator's sans-IO request parsing and event routing, without sockets."""

from __future__ import annotations

import json

import pytest

from bulk_trio.actions import LimitOrder, MarketOrder
from bulk_trio.enums import Side
from bulk_trio.protocol.keys import b58encode
from bulk_trio.sim.client_requests import (
    BadRequest,
    PostRequest,
    StreamRequest,
    parse_post,
    parse_request,
    parse_unsubscribe,
)
from bulk_trio.sim.engine import Engine
from bulk_trio.sim.routing import EventRouter, TopicIndex

A, B = (b58encode(bytes([n]) * 32) for n in (1, 2))
BTC = "BTC-USD"


def router_for(engine: Engine, topics: set[str]) -> EventRouter:
    return EventRouter(
        engine, engine.symbols, candle_history=5, subscribed=topics.__contains__, clock=lambda: 7
    )


@pytest.fixture
def engine() -> Engine:
    engine = Engine([BTC], initial_prices={BTC: 100.0})
    for account in (A, B):
        engine.fund(account, 1_000_000.0, now_ns=0)
    return engine


def test_requests_are_parsed_or_refused_with_a_reason() -> None:
    assert parse_request('{"method": "post", "id": 1}', max_chars=100) == (
        "post",
        {"method": "post", "id": 1},
    )
    for message, reason in [
        (b"{}", "binary frames"),
        ("x" * 101, "over the 100 limit"),
        ("{", "not valid JSON"),
        ("[]", "must be a JSON object"),
        ('{"method": "ping"}', "unknown method 'ping'"),
    ]:
        with pytest.raises(BadRequest, match=reason):
            parse_request(message, max_chars=100)
    assert parse_unsubscribe({"topic": "ticker.BTC-USD"}) == "ticker.BTC-USD"
    with pytest.raises(BadRequest, match="topic string"):
        parse_unsubscribe({"topic": 3})


def test_a_post_needs_an_id_and_an_action_body() -> None:
    body = {"type": "action", "payload": {"actions": []}}
    assert parse_post({"id": 4, "request": body}) == PostRequest(4, {"actions": []})
    assert parse_post({"id": 4, "request": {"type": "query"}}) == PostRequest(4, None)
    for bad_id in (None, -1, True, "4"):
        with pytest.raises(BadRequest, match="non-negative integer id"):
            parse_post({"id": bad_id, "request": body})


def test_topic_index_keeps_subscribers_per_topic() -> None:
    index: TopicIndex[str] = TopicIndex()
    index.add("ticker.BTC-USD", 1, "first")
    index.add("ticker.BTC-USD", 2, "second")
    assert index.subscribers("ticker.BTC-USD") == ("first", "second")
    index.discard("ticker.BTC-USD", 1)
    index.discard("ticker.BTC-USD", 2)
    assert "ticker.BTC-USD" not in index
    assert index.subscribers("ticker.BTC-USD") == ()


def test_events_go_only_to_topics_somebody_listens_to(engine: Engine) -> None:
    engine.submit_trusted(A, [LimitOrder(BTC, Side.SELL, 101.0, 1.0)], now_ns=1)
    taken = engine.submit_trusted(B, [MarketOrder(BTC, Side.BUY, 1.0)], now_ns=2).events
    listened = {f"account.{A}", "trades.BTC-USD", "candle.BTC-USD.1m"}
    routed = list(router_for(engine, listened).route(taken, muted=False))
    topics = [topic for topic, _ in routed]
    assert f"account.{B}" not in topics and "l2Delta.BTC-USD" not in topics
    # Account frames in the engine's order, then one trades frame and the candle it moved.
    assert topics[-2:] == ["trades.BTC-USD", "candle.BTC-USD.1m"]
    assert set(topics[:-2]) == {f"account.{A}"}
    kinds = [json.loads(frame)["data"]["type"] for _, frame in routed[:-2]]
    assert kinds[:2] == ["fill", "orderUpdate"]
    trades = json.loads(routed[-2][1])["data"]
    assert [(t["px"], t["sz"]) for t in trades] == [(101.0, 1.0)]


def test_muted_market_data_still_builds_candles(engine: Engine) -> None:
    engine.submit_trusted(A, [LimitOrder(BTC, Side.SELL, 101.0, 1.0)], now_ns=1)
    events = engine.submit_trusted(B, [MarketOrder(BTC, Side.BUY, 1.0)], now_ns=60_000_000_000)
    router = router_for(engine, {"trades.BTC-USD", "l2Delta.BTC-USD", f"account.{B}"})
    topics = [topic for topic, _ in router.route(events.events, muted=True)]
    assert topics and set(topics) == {f"account.{B}"}
    (bar,) = router.candles.backfill(BTC, "1m")
    assert (bar.close, bar.volume, bar.trades) == (101.0, 1.0, 1)


def test_a_subscription_starts_with_what_it_shows(engine: Engine) -> None:
    engine.submit_trusted(A, [LimitOrder(BTC, Side.BUY, 99.0, 2.0)], now_ns=1)
    router = router_for(engine, set())
    book = StreamRequest("l2Snapshot", "l2Snapshot.BTC-USD", BTC, nlevels=1)
    (frame,) = router.initial(book, muted=False)
    shown = json.loads(frame)["data"]["book"]
    assert (shown["timestamp"], shown["levels"]) == (7, [[{"px": 99.0, "sz": 2.0, "n": 1}], []])
    assert router.initial(book, muted=True) == []
    account = StreamRequest("account", f"account.{A}", user=A)
    (snapshot,) = router.initial(account, muted=True)  # account data is never muted
    assert json.loads(snapshot)["data"]["type"] == "accountSnapshot"
