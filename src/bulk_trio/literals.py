"""The plain strings the API accepts in place of its enums, as ``Literal`` types.

``place_limit_order("BTC-USD", "buy", ...)``, ``TransactionSigner(key, domain="testnet")`` and
``subscribe_candles("BTC-USD", "5m")`` take these strings as well as the enums, and a type
checker catches a misspelled one (``"by"``, ``"tesnet"``, ``"5mins"``) before it is run.
tests/test_literals.py keeps each list equal to what the code accepts at run time.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

SideName: TypeAlias = Literal["buy", "sell", "BUY", "SELL"]
"""A :class:`~bulk_trio.Side` as a string (either case)."""

TimeInForceName: TypeAlias = Literal["GTC", "IOC", "ALO", "gtc", "ioc", "alo"]
"""A :class:`~bulk_trio.TimeInForce` as a string (either case)."""

DomainName: TypeAlias = Literal["mainnet", "testnet", "devnet"]
"""A signature domain (docs/protocol.md)."""

CandleInterval: TypeAlias = Literal[
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
    "1min",
    "3min",
    "5min",
    "15min",
    "30min",
]
"""A candle interval in either spelling (``"5m"`` or ``"5min"``); ``"1M"`` is a month."""
