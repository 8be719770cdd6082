"""A tiny WebSocket client for the simulator tests, written from the protocol notes alone.

It uses trio-websocket and ``json`` only, never ``bulk_trio.protocol.codec``, so that the simulator
is checked against the document rather than against the client it is meant to test. The
exchange's documented JSON examples live here too, with :func:`assert_shape` to compare a frame to
one.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from trio_websocket import ConnectionClosed, WebSocketConnection, open_websocket_url

Frame = dict[str, Any]


class Peer:
    """One connection. Every frame received is kept in :attr:`history`, in arrival order; the
    ``expect*`` methods consume frames in order, setting aside the ones they skip so that a later
    ``expect`` still finds them."""

    def __init__(self, ws: WebSocketConnection) -> None:
        self.ws = ws
        self.history: list[Frame] = []
        self._unread: deque[Frame] = deque()
        self._ids = itertools.count(1)

    async def send(self, message: Frame | str) -> None:
        await self.ws.send_message(message if isinstance(message, str) else json.dumps(message))

    async def recv_text(self) -> str:
        """The next raw frame from the socket (bypasses the unread queue and the history)."""
        message = await self.ws.get_message()
        assert isinstance(message, str), "the protocol uses text frames only"
        return message

    async def _read(self) -> Frame:
        frame = json.loads(await self.recv_text())
        assert isinstance(frame, dict), frame
        self.history.append(frame)
        return frame

    async def next(self) -> Frame:
        """The next frame, unread ones first."""
        return self._unread.popleft() if self._unread else await self._read()

    async def expect(self, predicate: Callable[[Frame], bool]) -> Frame:
        """The first frame (unread ones first) for which ``predicate`` holds."""
        for index, frame in enumerate(self._unread):
            if predicate(frame):
                del self._unread[index]
                return frame
        while True:
            frame = await self._read()
            if predicate(frame):
                return frame
            self._unread.append(frame)

    async def expect_type(self, kind: str, topic: str | None = None) -> Frame:
        return await self.expect(
            lambda f: f.get("type") == kind and (topic is None or f.get("topic") == topic)
        )

    async def expect_account(self, subtype: str, user: str | None = None) -> Frame:
        def matches(frame: Frame) -> bool:
            data = frame.get("data")
            return (
                frame.get("type") == "account"
                and isinstance(data, dict)
                and data.get("type") == subtype
                and (user is None or frame.get("topic") == f"account.{user}")
            )

        return await self.expect(matches)

    async def subscribe(self, *subscriptions: Frame) -> list[str]:
        """Subscribe and return the topics of the subscriptionResponse."""
        await self.send({"method": "subscribe", "subscription": list(subscriptions)})
        reply = await self.expect(lambda f: f.get("type") in ("subscriptionResponse", "error"))
        assert reply["type"] == "subscriptionResponse", reply
        topics = reply["topics"]
        assert isinstance(topics, list)
        return topics

    async def post(self, payload: Frame) -> Frame:
        """Send a signed transaction and return the ``post`` reply that echoes its id."""
        request_id = next(self._ids)
        await self.send(
            {"method": "post", "request": {"type": "action", "payload": payload}, "id": request_id}
        )
        return await self.expect(lambda f: f.get("type") == "post" and f.get("id") == request_id)

    async def marker(self) -> None:
        """Round-trip a request whose answer is queued behind everything sent to us so far.

        After it returns, every frame the server had queued for this connection at the time is in
        :attr:`history`: the way to show that something was *not* sent, without sleeping.
        """
        await self.send({"method": "unsubscribe", "topic": "marker.never-subscribed"})
        await self.expect(lambda f: f.get("type") == "error" and "marker" in f["error"]["message"])

    def seen(self, predicate: Callable[[Frame], bool]) -> list[Frame]:
        return [frame for frame in self.history if predicate(frame)]


@asynccontextmanager
async def open_peer(url: str) -> AsyncIterator[Peer]:
    async with open_websocket_url(url, max_message_size=16 << 20) as ws:
        yield Peer(ws)


async def closed(peer: Peer) -> bool:
    """Read until the connection ends; True once it has (frames on the way are kept)."""
    try:
        while True:
            await peer._read()
    except ConnectionClosed:
        return True


# ---------------------------------------------------------------------------------------------
# The documented examples of requests and server messages (copied verbatim), and a shape comparison.

EXAMPLES: dict[str, Frame] = {
    name: json.loads(text)
    for name, text in {
        "subscriptionResponse": """
{"type": "subscriptionResponse", "topics": ["ticker.BTC-USD", "trades.BTC-USD"]}""",
        "unsubscribeResponse": """
{"type":"unsubscribeResponse","topic":"ticker.BTC-USD"}""",
        "ticker": """
{"type":"ticker","topic":"ticker.BTC-USD","data":{"ticker":{
  "symbol":"BTC-USD","lastPrice":102777.5,"markPrice":102780.0,"oraclePrice":102775.0,
  "priceChange":2777.5,"priceChangePercent":2.77,"highPrice":103500.0,"lowPrice":101000.0,
  "volume":1234.56,"quoteVolume":126543210.0,"openInterest":5432.1,"fundingRate":0.0001,
  "regime":1,"regimeDt":93,"regimeVol":0.35,"regimeMv":0.02,"fairBookPx":102779.0,
  "fairVol":0.28,"fairBias":0.001,"timestamp":1704067200000000000}}}""",
        "trades": """
{"type":"trades","topic":"trades.BTC-USD","data":[{"s":"BTC-USD","px":100010.5,"sz":0.25,"time":1704067200123,
  "b":true,"side":true,"maker":"<base58>","taker":"<base58>"}]}""",
        "l2Snapshot": """
{"type":"l2Snapshot","topic":"l2Snapshot.BTC-USD","data":{"book":{
  "updateType":"snapshot","symbol":"BTC-USD","timestamp":1770906894450242133,
  "levels":[[{"px":102777.0,"sz":1.5,"n":3},{"px":102776.5,"sz":2.3,"n":5}],
            [{"px":102780.0,"sz":2.0,"n":4},{"px":102780.5,"sz":1.2,"n":3}]]}}}""",
        "candle": """
{"type":"candle","topic":"candle.BTC-USD.1m","data":{"candle":{
  "t":1699564800000,"T":1699564860000,"o":102000.0,"h":102100.0,"l":101900.0,"c":101950.0,"v":1.6,"n":3}}}""",
        "accountSnapshot": """
{"type":"account","topic":"account.FuueqefENiGEW6uMqZQgmwjzgpnb85EgUcZa5Em4PQh7","data":{
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
  "builderCodeApprovals":[{"recipient":"<base58>","maxFee":5}]}}""",
        "orderUpdate": """
{"type":"account","topic":"account.<pk>","data":{"type":"orderUpdate","ts":1770918312787284000,"ot":"limit",
  "status":"rejectedRiskLimit","sym":"BTC-USD","oid":"EF2bxQ5pp3CDFAwRi44ExXb32sRmByByYxjwLYBfvRKQ",
  "px":100001.37,"origSz":-0.02474,"sz":-0.02474,"fillSz":0.0,"vwap":0.0,"mk":true,"r":false,"tif":"gtc",
  "reason":"no oracle / fair price reference yet for: BTC-USD"}}""",
        "fill": """
{"type":"account","data":{"type":"fill","symbol":"BTC-USD","orderId":"<oid>","price":100000.0,"size":0.1,
  "isBuy":true,"maker":false,"timestamp":1704067200123456789,"counterpartyHint":"...","reason":null}}""",
        "post": """
{"type":"post","id":17,"data":{"type":"action","payload":{"status":"ok","response":{"type":"order",
  "data":{"statuses":[{"resting":{"oid":"Fpa3oVuL3UzjNANAMZZdmrn6D1Zhk83GmBuJpuAWG51F"}},
                      {"filled":{"oid":"...","totalSz":0.1,"avgPx":102500.0}},
                      {"error":{"message":"..."}}]}}}}}""",
        "postError": """
{"type":"post","id":17,"data":{"payload":{"status":"error","message":"..."}}}""",
        "error": """
{"type":"error","error":{"message":"invalid subscription"}}""",
    }.items()
}

# Keys the examples show that the protocol notes mark as optional or source-specific.
OPTIONAL_KEYS = frozenset(
    {
        "reason",  # orderUpdate: "optional reason"
        "counterpartyHint",  # fill: "only in S5"
        "trigger",  # orderUpdate and open orders: "optional trigger object for conditionals"
    }
)
# Keys the simulator may add beyond an example, with where they are documented.
DOCUMENTED_EXTRA_KEYS = frozenset(
    {
        "topic",  # all account messages carry a topic (the fill example omits it)
        "orderType",  # the long open-order form lists orderType
        "type",  # the brief's post failure body keeps data.type == "action"
    }
)
NULLABLE_KEYS = frozenset(
    {"lastPrice", "markPrice", "oraclePrice", "highPrice", "lowPrice", "fairBookPx", "reason"}
)


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return type(value).__name__


def assert_shape(actual: object, example: object, path: str = "$") -> None:
    """``actual`` has the keys and JSON types of ``example``, recursively. Lists are compared
    element by element against the example's first element (an empty list matches any)."""
    if isinstance(example, dict):
        assert isinstance(actual, dict), f"{path}: expected an object, got {actual!r}"
        missing = set(example) - set(actual) - OPTIONAL_KEYS
        extra = set(actual) - set(example) - DOCUMENTED_EXTRA_KEYS - OPTIONAL_KEYS
        assert not missing, f"{path}: missing keys {sorted(missing)}"
        assert not extra, f"{path}: unexpected keys {sorted(extra)}"
        for key, value in actual.items():
            if key in example and not (value is None and key in NULLABLE_KEYS):
                if example[key] is None:
                    continue
                assert_shape(value, example[key], f"{path}.{key}")
    elif isinstance(example, list):
        assert isinstance(actual, list), f"{path}: expected an array, got {actual!r}"
        if example:
            for index, item in enumerate(actual):
                assert_shape(item, example[0], f"{path}[{index}]")
    else:
        assert _kind(actual) == _kind(example), (
            f"{path}: expected a JSON {_kind(example)} like {example!r}, got {actual!r}"
        )


def assert_post_shape(reply: object) -> None:
    """A ``post`` reply has the envelope of the documented example, and every status is a single-key
    object ``{name: body}`` with an object body (the example's statuses differ from each other,
    so they are not compared element by element)."""
    envelope = json.loads(json.dumps(EXAMPLES["post"]))
    envelope["data"]["payload"]["response"]["data"]["statuses"] = []
    assert_shape(reply, envelope)
    assert isinstance(reply, dict)
    for status in reply["data"]["payload"]["response"]["data"]["statuses"]:
        assert isinstance(status, dict), status
        assert len(status) == 1, status
        assert isinstance(next(iter(status.values())), dict), status


def simulator_errors(records: list[logging.LogRecord]) -> list[str]:
    """Error-level log lines of the simulator: it logs (and survives) its own bugs, so a test
    that passes while one was logged must still fail."""
    return [
        record.getMessage()
        for record in records
        if record.name.startswith("bulk_trio.sim") and record.levelno >= logging.ERROR
    ]
