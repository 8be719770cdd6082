"""What a client can subscribe to (docs/protocol.md), validated before anything is sent.

A :class:`Subscription` knows its wire object (``to_wire``) and the topic strings the server will
answer with (``topics``), so the caller can match ``subscriptionResponse`` topics and later
unsubscribe by topic. Pure data: no I/O, no trio.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import attrs

from ..checks import check_symbol as check_symbol  # the one symbol rule, re-exported
from ..enums import Topic
from .keys import decode_32

# Candle intervals: the documented ``1m`` family is what goes on the wire (decision 5 of
# docs/protocol.md); the ``1min`` spellings of the bulk-client docs are accepted as aliases.
CANDLE_INTERVALS: tuple[str, ...] = (
    "10s",
    "1m",
    "3m",
    "5m",
    "15m",
    "30m",
    "1h",
    "2h",
    "4h",
    "6h",
    "8h",
    "12h",
    "1d",
    "3d",
    "1w",
    "1M",
)
_INTERVAL_ALIASES = {"1min": "1m", "3min": "3m", "5min": "5m", "15min": "15m", "30min": "30m"}
WIRE_INTERVAL: dict[str, str] = {name: name for name in CANDLE_INTERVALS} | _INTERVAL_ALIASES
"""Every accepted interval spelling mapped to the one sent on the wire."""

SUBSCRIBABLE: frozenset[Topic] = frozenset(
    {Topic.TICKER, Topic.TRADES, Topic.L2SNAPSHOT, Topic.L2DELTA, Topic.CANDLE, Topic.ACCOUNT}
)
_NEEDS_SYMBOL = SUBSCRIBABLE - {Topic.ACCOUNT}


def wire_interval(interval: object) -> str:
    """The wire spelling of a candle interval (``"5min"`` -> ``"5m"``); ValueError if unknown.

    Case matters: ``"1M"`` is a month, ``"1m"`` a minute.
    """
    wire = WIRE_INTERVAL.get(interval) if isinstance(interval, str) else None
    if wire is None:
        accepted = ", ".join(CANDLE_INTERVALS)
        raise ValueError(f"interval {interval!r} is not a candle interval (one of {accepted})")
    return wire


# -- topic strings: the one place the client builds them (docs/protocol.md, "Topic strings") --


def market_topic(kind: Topic, symbol: str) -> str:
    """``<kind>.<symbol>``, e.g. ``ticker.BTC-USD``; candles use :func:`candle_topic`."""
    return f"{kind.value}.{symbol}"


def candle_topic(symbol: str, interval: str) -> str:
    """``candle.<symbol>.<interval>`` (the wire spelling of the interval, ``1m``)."""
    return f"candle.{symbol}.{interval}"


def account_topic(account: str) -> str:
    """``account.<base58 pubkey>``."""
    return f"account.{account}"


def check_pubkey(pubkey: object, *, field: str = "user") -> str:
    """``pubkey`` if it is the base58 text of 32 bytes, else ValueError (never echoing the text:
    a private key pasted here by mistake must not end up in a log)."""
    decode_32(pubkey, field=field)
    assert isinstance(pubkey, str)  # decode_32 accepts only text
    return pubkey


def _check_nlevels(nlevels: object) -> None:
    if nlevels is None:
        return
    if isinstance(nlevels, bool) or not isinstance(nlevels, int) or nlevels <= 0:
        raise ValueError(f"nlevels must be a positive integer, got {nlevels!r}")


def _check_aggregation(aggregation: object) -> None:
    if aggregation is None:
        return
    if isinstance(aggregation, bool) or not isinstance(aggregation, (int, float)):
        raise ValueError(f"aggregation must be a number, got {aggregation!r}")
    if not (math.isfinite(aggregation) and aggregation > 0):
        raise ValueError(f"aggregation must be positive and finite, got {aggregation!r}")


def _float_if_int(value: object) -> object:
    """Send an integral aggregation as a JSON float, as the protocol describes it."""
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


@attrs.frozen
class Subscription:
    """One entry of a ``subscribe`` message. Build it with the classmethods.

    ``user_list`` remembers whether ``account`` was given a list, so that ``to_wire`` sends the
    form the caller chose (one string or an array).
    """

    kind: Topic
    symbol: str | None = None
    nlevels: int | None = None
    aggregation: float | None = attrs.field(default=None, converter=_float_if_int)
    interval: str | None = None
    users: tuple[str, ...] = ()
    user_list: bool = False

    def __attrs_post_init__(self) -> None:
        # Validate here rather than only in the classmethods so that a directly built
        # Subscription can never put something unsendable on the wire.
        if self.kind not in SUBSCRIBABLE:
            raise ValueError(f"kind {self.kind!r} cannot be subscribed to")
        if self.kind is Topic.ACCOUNT:
            if not self.users:
                raise ValueError("user must name at least one account")
            for user in self.users:
                check_pubkey(user)
        else:
            check_symbol(self.symbol)
        if self.kind is Topic.CANDLE and wire_interval(self.interval) != self.interval:
            raise ValueError(f"interval {self.interval!r} is not a wire spelling; use candle()")
        _check_nlevels(self.nlevels)
        _check_aggregation(self.aggregation)

    @classmethod
    def ticker(cls, symbol: str) -> Subscription:
        return cls(Topic.TICKER, symbol=symbol)

    @classmethod
    def trades(cls, symbol: str) -> Subscription:
        return cls(Topic.TRADES, symbol=symbol)

    @classmethod
    def l2_snapshot(
        cls, symbol: str, nlevels: int | None = None, aggregation: float | None = None
    ) -> Subscription:
        return cls(Topic.L2SNAPSHOT, symbol=symbol, nlevels=nlevels, aggregation=aggregation)

    @classmethod
    def l2_delta(cls, symbol: str) -> Subscription:
        return cls(Topic.L2DELTA, symbol=symbol)

    @classmethod
    def candle(cls, symbol: str, interval: str) -> Subscription:
        return cls(Topic.CANDLE, symbol=symbol, interval=wire_interval(interval))

    @classmethod
    def account(cls, user: str | Iterable[str]) -> Subscription:
        """One account (sent as a string) or several (sent as an array, one topic each)."""
        if isinstance(user, str):
            return cls(Topic.ACCOUNT, users=(user,))
        try:
            users = tuple(user)
        except TypeError:
            raise ValueError(f"user must be a pubkey or a list of pubkeys, got {user!r}") from None
        return cls(Topic.ACCOUNT, users=users, user_list=True)

    def to_wire(self) -> dict[str, Any]:
        """The subscription object: ``{"type": kind, ...params}``, optional params left out."""
        wire: dict[str, Any] = {"type": self.kind.value}
        if self.kind is Topic.ACCOUNT:
            wire["user"] = list(self.users) if self.user_list else self.users[0]
            return wire
        wire["symbol"] = self.symbol
        if self.nlevels is not None:
            wire["nlevels"] = self.nlevels
        if self.aggregation is not None:
            wire["aggregation"] = self.aggregation
        if self.interval is not None:
            wire["interval"] = self.interval
        return wire

    @property
    def topics(self) -> tuple[str, ...]:
        """The topics the server answers with: one per symbol, or one per user for accounts."""
        if self.kind is Topic.ACCOUNT:
            return tuple(account_topic(user) for user in self.users)
        assert self.symbol is not None  # checked on construction for every other kind
        if self.kind is Topic.CANDLE:
            assert self.interval is not None
            return (candle_topic(self.symbol, self.interval),)
        return (market_topic(self.kind, self.symbol),)
