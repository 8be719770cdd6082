"""Exceptions raised by bulk-trio.

Everything the client raises on its own account is a :class:`BulkError`. Bad input from the user
is a plain :class:`ValueError` (raised before anything is signed or sent), and timeouts are
:class:`trio.TooSlowError`, as Trio code expects.
"""

from __future__ import annotations


class BulkError(Exception):
    """Base class of every bulk-trio error."""


class ConnectError(BulkError):
    """The connection to the exchange could not be opened (the reason is in the message)."""


class ConnectionLost(BulkError):
    """The connection dropped while a request was in flight.

    The outcome of the request is unknown: the exchange may or may not have executed it. Check
    the open orders (resynchronised from the account snapshot after the reconnect) before retrying.
    """


class ClientClosed(BulkError):
    """The client was used after its ``async with`` block ended."""


class ExchangeError(BulkError):
    """The exchange answered a request with an error (a non-ok post reply or an ``error`` frame)."""

    def __init__(self, message: str, *, raw: object = None) -> None:
        super().__init__(message)
        self.message = message
        self.raw = raw


class ProtocolViolation(BulkError):
    """The exchange sent something this client cannot make sense of.

    Raised by the WebSocket frame reader for a frame that breaks RFC 6455; ``close_code`` is the
    close code the connection is failed with (1002 protocol error, 1007 bad UTF-8, 1009 too big).
    The client turns it into a reconnect: it never reaches user code as such.
    """

    def __init__(self, message: str, close_code: int = 1002) -> None:
        super().__init__(message)
        self.reason = message
        self.close_code = close_code


class SubscriberOverflow(BulkError):
    """A subscriber of a lossless topic (account streams, errors) fell too far behind.

    Its channel is closed with this error rather than silently losing an order or fill event.
    """


class HttpError(BulkError):
    """An HTTP API request failed with a non-2xx status (after any retries).

    ``endpoint`` is what was called (``"GET /ticker/BTC-USD"``), ``status`` the HTTP status,
    ``code`` and ``message`` the exchange's error body when it sent one (docs/http-api.md).
    """

    def __init__(self, endpoint: str, status: int, code: str | None, message: str) -> None:
        detail = f"{code}: {message}" if code else message
        super().__init__(f"{endpoint} failed with HTTP {status}: {detail}")
        self.endpoint = endpoint
        self.status = status
        self.code = code
        self.message = message


class OrderOutcomeUnknown(ConnectionLost):
    """``POST /order`` timed out, got 408 or 5xx, or lost its connection after sending.

    The transaction may or may not have executed. It was not re-signed: ``payload`` is the
    signed body, which can be sent again unchanged (its nonce makes a duplicate harmless), or
    check the open orders first.
    """

    def __init__(self, message: str, *, endpoint: str, status: int | None, payload: object) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.status = status
        self.payload = payload


class NotConnected(ConnectionLost):
    """The client is between connections; the request was NOT sent (its outcome is known)."""


class ReconnectGaveUp(BulkError):
    """The reconnect attempts allowed by ``max_attempts`` are used up."""


class MarketRuleViolation(ValueError):
    """An order or leverage setting the market refuses; ``rule`` names which rule it breaks
    (tick, lot, min_notional or leverage; see ``bulk_trio.markets.RULES``) and the message says
    by how much. A ``ValueError``: raised before anything is signed or sent."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
