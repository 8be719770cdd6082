"""An in-memory BULK peer for fast unit tests of the client shell (no sockets, MockClock-friendly).

It answers the WebSocket handshake, acknowledges subscriptions, and lets a test push frames or
cut the connection. Loopback tests against the real simulator cover the protocol itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import trio
import trio.testing
from wsproto import ConnectionState, ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Ping,
    Request,
    TextMessage,
)

from bulk_trio.shell.transport import WebSocketTransport, handshake


class FakePeer:
    """The exchange's end of one in-memory connection."""

    def __init__(
        self,
        stream: trio.testing.MemoryStream | trio.abc.Stream,
        *,
        confirm: bool = True,
        stream_data: bool = False,
        refuse_topics: frozenset[str] = frozenset(),
    ) -> None:
        self.stream = stream
        self.ws = WSConnection(ConnectionType.SERVER)
        self.received: list[dict[str, Any]] = []
        self.received_at: list[float] = []
        self.answer_pings = True
        self.closed = trio.Event()
        self.message_arrived = trio.Event()  # replaced after each message from the client
        self.post_reply: Callable[[int], dict[str, Any] | None] = ack_reply
        self.confirm = confirm  # False: an older deployment, which never sends subscriptionResponse
        self.stream_data = stream_data  # send a first ticker frame for each ticker subscription
        self.refuse_topics = refuse_topics  # answer a subscribe naming one of them with an error

    async def send(self, message: dict[str, Any] | str) -> None:
        text = message if isinstance(message, str) else json.dumps(message)
        await self.stream.send_all(self.ws.send(TextMessage(data=text)))

    async def drop(self) -> None:
        await trio.aclose_forcefully(self.stream)
        self.closed.set()

    async def serve(self) -> None:
        try:
            while True:
                data = await self.stream.receive_some(65536)
                if not data:
                    break
                self.ws.receive_data(data)
                for event in self.ws.events():
                    await self._handle(event)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            self.closed.set()

    async def _handle(self, event: object) -> None:
        if isinstance(event, Request):
            await self.stream.send_all(self.ws.send(AcceptConnection()))
        elif isinstance(event, Ping) and self.answer_pings:
            await self.stream.send_all(self.ws.send(event.response()))
        elif isinstance(event, CloseConnection):
            if self.ws.state is ConnectionState.REMOTE_CLOSING:  # else it answers our own close
                await self.stream.send_all(self.ws.send(event.response()))
        elif isinstance(event, TextMessage):
            message = json.loads(event.data)
            self.received.append(message)
            self.received_at.append(trio.current_time())
            self.message_arrived.set()
            self.message_arrived = trio.Event()
            if message.get("method") == "subscribe":
                subscriptions = message["subscription"]
                topics = [topic for s in subscriptions for topic in _topics(s)]
                if self.refuse_topics.intersection(topics):
                    await self.send({"type": "error", "error": {"message": "subscription refused"}})
                    return
                if self.confirm:
                    await self.send({"type": "subscriptionResponse", "topics": topics})
                for topic in topics:
                    if topic.startswith("account."):
                        await self.send(empty_account_snapshot(topic))
                    elif topic.startswith("ticker.") and self.stream_data:
                        await self.send(ticker_frame(topic.removeprefix("ticker.")))
            elif message.get("method") == "post":
                reply = self.post_reply(message["id"])
                if reply is not None:  # None: the reply is withheld
                    await self.send(reply)


def _topics(subscription: dict[str, Any]) -> list[str]:
    user = subscription.get("user")
    if user is not None:
        return [f"account.{u}" for u in (user if isinstance(user, list) else [user])]
    return [f"{subscription['type']}.{subscription['symbol']}"]


def ack_reply(request_id: int) -> dict[str, Any]:
    """An acknowledgement without statuses (docs/protocol.md, decision 7)."""
    return {"type": "post", "id": request_id, "data": {"type": "ack", "ok": True}}


def ticker_frame(symbol: str = "BTC-USD") -> dict[str, Any]:
    return {
        "type": "ticker",
        "topic": f"ticker.{symbol}",
        "data": {
            "ticker": {
                "symbol": symbol,
                "lastPrice": 100.0,
                "markPrice": 100.0,
                "oraclePrice": 100.0,
                "timestamp": 1,
            }
        },
    }


def error_reply(request_id: int) -> dict[str, Any]:
    """An ``error`` frame, which carries no request id (docs/protocol.md)."""
    return {"type": "error", "error": {"message": f"refused (request {request_id})"}}


def empty_account_snapshot(topic: str) -> dict[str, Any]:
    return {
        "type": "account",
        "topic": topic,
        "data": {"type": "accountSnapshot", "margin": {"totalBalance": 0.0}},
    }


class FakeExchange:
    """Hands out in-memory connections through ``connector``; ``refuse`` makes them fail."""

    def __init__(self, nursery: trio.Nursery) -> None:
        self._nursery = nursery
        self.peers: list[FakePeer] = []
        self.attempts: list[float] = []
        self.refuse = 0
        self.connected = trio.Event()
        self.confirm = True
        self.stream_data = False
        self.refuse_topics: frozenset[str] = frozenset()
        self.max_messages_per_second: int | None = None  # the client's limiter, when a test sets it

    async def connector(self, url: str, *, max_message_size: int) -> WebSocketTransport:
        from bulk_trio.errors import ConnectError

        self.attempts.append(trio.current_time())
        if self.refuse:
            self.refuse -= 1
            raise ConnectError(f"cannot connect to {url}: refused (fake)")
        client_end, server_end = trio.testing.memory_stream_pair()
        peer = FakePeer(
            server_end,
            confirm=self.confirm,
            stream_data=self.stream_data,
            refuse_topics=self.refuse_topics,
        )
        self.peers.append(peer)
        self._nursery.start_soon(peer.serve)
        transport = await handshake(
            client_end,
            "fake",
            max_message_size=max_message_size,
            max_messages_per_second=self.max_messages_per_second,
        )
        self.connected.set()
        self.connected = trio.Event()
        return transport
