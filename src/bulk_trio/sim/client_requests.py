"""What a client may send the simulator, checked: the request envelope, subscriptions, posts.

Every check raises :class:`BadRequest` with a message that says what was wrong; the server answers
it with an ``error`` frame and keeps the connection. Nothing here knows about sockets.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import attrs
import orjson

from ..protocol.keys import decode_32
from . import frames
from .candles import INTERVAL_MS, INTERVAL_SPELLINGS

MAX_REQUEST_CHARS = 1 << 20
"""Largest request handled; a bigger one gets an ``error`` frame and the connection stays up."""
MAX_SUBSCRIPTIONS = 100
"""Per connection, as docs/protocol.md documents for the exchange."""
METHODS = ("subscribe", "unsubscribe", "post")

POST_SHAPE_PROBLEM = 'post request must be {"type": "action", "payload": {...transaction...}}'


class BadRequest(ValueError):
    """A request the server answers with an ``error`` frame; the message says what was wrong."""


@attrs.frozen
class StreamRequest:
    """One validated subscription; ``topic`` is its key on the connection."""

    kind: str
    topic: str
    symbol: str | None = None
    nlevels: int | None = None
    aggregation: float | None = None
    interval: str | None = None
    """The canonical interval (``1m``); the topic keeps the client's spelling."""
    user: str | None = None


@attrs.frozen
class PostRequest:
    """A ``post`` with a usable id; ``payload`` is None when the body has the wrong shape (that
    is answered with a post error carrying the id, not with an ``error`` frame)."""

    request_id: int
    payload: dict[str, Any] | None


def parse_request(message: str | bytes, *, max_chars: int) -> tuple[str, dict[str, Any]]:
    """``(method, request)`` of one client frame."""
    if isinstance(message, bytes):
        raise BadRequest("binary frames are not supported: send JSON text frames")
    if len(message) > max_chars:
        raise BadRequest(f"request of {len(message)} characters is over the {max_chars} limit")
    try:
        request = orjson.loads(message)
    except orjson.JSONDecodeError:
        raise BadRequest("request is not valid JSON") from None
    if not isinstance(request, dict):
        raise BadRequest("a request must be a JSON object")
    method = request.get("method")
    if not isinstance(method, str) or method not in METHODS:
        raise BadRequest(f"unknown method {method!r} (expected subscribe, unsubscribe or post)")
    return method, request


def parse_unsubscribe(request: Mapping[str, object]) -> str:
    """The topic an ``unsubscribe`` names."""
    topic = request.get("topic")
    if not isinstance(topic, str):
        raise BadRequest(f"unsubscribe needs a topic string, got {topic!r}")
    return topic


def parse_post(request: Mapping[str, object]) -> PostRequest:
    request_id = request.get("id")
    if isinstance(request_id, bool) or not isinstance(request_id, int) or request_id < 0:
        raise BadRequest(f"post needs a non-negative integer id, got {request_id!r}")
    body = request.get("request")
    payload = body.get("payload") if isinstance(body, dict) else None
    if not isinstance(body, dict) or body.get("type") != "action" or not isinstance(payload, dict):
        return PostRequest(request_id, None)
    return PostRequest(request_id, payload)


_MARKET_KINDS = frozenset({"ticker", "trades", "l2Snapshot", "l2Delta", "candle"})


def _symbol(entry: Mapping[str, object], symbols: frozenset[str]) -> str:
    symbol = entry.get("symbol")
    if symbol is None:
        raise BadRequest(f"{entry.get('type')} subscription needs a symbol")
    if not isinstance(symbol, str):
        raise BadRequest(f"symbol must be a string, got {symbol!r}")
    if symbol not in symbols:
        raise BadRequest(f"unknown symbol {symbol!r} (this simulator lists {sorted(symbols)})")
    return symbol


def _pubkey(user: object) -> str:
    try:
        decode_32(user, field="user")  # never echoes the text: it may be a misplaced private key
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    assert isinstance(user, str)
    return user


def _nlevels(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise BadRequest(f"nlevels must be a positive integer, got {value!r}")
    return value


def _aggregation(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequest(f"aggregation must be a number, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise BadRequest(f"aggregation must be positive, got {value!r}")
    return float(value)


def parse_subscriptions(entries: object, symbols: frozenset[str]) -> list[StreamRequest]:
    """Validate the ``subscription`` array of a subscribe request (docs/protocol.md).

    All or nothing: the first bad entry raises :class:`BadRequest` and nothing is subscribed.
    An account entry with a list of users yields one subscription per user.
    """
    if not isinstance(entries, list) or not entries:
        raise BadRequest("subscription must be a non-empty array of subscription objects")
    parsed: list[StreamRequest] = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise BadRequest(f"a subscription must be an object, got {entry!r}")
        kind = entry.get("type")
        if kind == "account":
            users = entry.get("user")
            listed = users if isinstance(users, list) else [users]
            if not listed:
                raise BadRequest("account subscription needs at least one user")
            for user in listed:
                pubkey = _pubkey(user)
                parsed.append(StreamRequest("account", frames.account_topic(pubkey), user=pubkey))
            continue
        if not isinstance(kind, str) or kind not in _MARKET_KINDS:
            raise BadRequest(f"unknown subscription type {kind!r}")
        symbol = _symbol(entry, symbols)
        if kind == "candle":
            spelling = entry.get("interval")
            canonical = INTERVAL_SPELLINGS.get(spelling) if isinstance(spelling, str) else None
            if spelling is None or canonical is None:
                raise BadRequest(
                    f"candle interval must be one of {list(INTERVAL_MS)}, got {spelling!r}"
                )
            topic = frames.candle_topic(symbol, str(spelling))
            parsed.append(StreamRequest(kind, topic, symbol=symbol, interval=canonical))
        elif kind == "l2Snapshot":
            nlevels = _nlevels(entry.get("nlevels"))
            aggregation = _aggregation(entry.get("aggregation"))
            topic = frames.market_topic(kind, symbol)
            parsed.append(StreamRequest(kind, topic, symbol, nlevels, aggregation))
        else:
            parsed.append(StreamRequest(kind, frames.market_topic(kind, symbol), symbol=symbol))
    return parsed
