"""``open_bulk_http``: BULK's HTTP API (docs/http-api.md) as a Trio async context manager.

httpx does the HTTP (it runs on Trio through anyio); this module only builds requests, retries
reads, and hands response bodies to the sans-IO parsers of :mod:`bulk_trio.protocol.http_codec`.

    async with open_bulk_http("testnet") as http:
        markets = await http.exchange_info()
        async for fill in http.iter_fills(pubkey):
            ...
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx
import orjson
import trio

from ..actions import BaseAction
from ..errors import (
    ConnectError,
    ExchangeError,
    HttpError,
    OrderOutcomeUnknown,
    ProtocolViolation,
)
from ..http_models import (
    ClosedPosition,
    ExchangeStats,
    FeeTier,
    FundingPayment,
    HistoryFill,
    HistoryPage,
)
from ..http_retry import RetryPolicy, is_retryable_status
from ..markets import Market
from ..models import AccountSnapshot, Candle, L2Snapshot, OrderResponse, OrderState, Ticker
from ..networks import NetworkPreset, network_preset
from ..protocol import http_codec
from ..protocol.keys import decode_32
from ..protocol.signing import TransactionSigner
from ..protocol.subscriptions import check_symbol

__all__ = ["BulkHttpClient", "open_bulk_http"]

Row = TypeVar("Row")
_JSON = {"content-type": "application/json"}
_NOT_FOUND = object()
"""What a read returns for a 404 ACCOUNT_NOT_FOUND, which the account queries turn into
"nothing" (decision 17) instead of an error."""


def _base_url(base_url: str | NetworkPreset) -> str:
    if isinstance(base_url, NetworkPreset) or "://" not in str(base_url):
        return network_preset(base_url).http_url
    url = str(base_url).rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"base_url must be an http:// or https:// URL or a network, got {url!r}")
    return url


@asynccontextmanager
async def open_bulk_http(
    base_url: str | NetworkPreset,
    *,
    timeout: float = 10.0,
    retries: int = 3,
    retry_backoff: float = 0.25,
    max_retry_backoff: float = 8.0,
    headers: Mapping[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> AsyncIterator[BulkHttpClient]:
    """A :class:`BulkHttpClient` for ``base_url`` for the duration of the block.

    ``base_url`` includes ``/api/v1`` (``"http://127.0.0.1:12000/api/v1"``), or is a network name
    or preset (``"testnet"``, see :mod:`bulk_trio.networks`). ``timeout`` bounds each request
    (seconds). Reads are retried ``retries`` times on 408, 429, 5xx and network failures, waiting
    ``retry_backoff`` seconds doubling up to ``max_retry_backoff`` (or what ``Retry-After`` asks).
    ``transport`` replaces httpx's network transport (tests). ``ssl_context`` verifies an
    ``https://`` server (default: the system's trust store; give one that trusts your corporate
    or test certificate authority, e.g. the simulator's ``sim.ssl_context``).
    """
    if not (isinstance(timeout, int | float) and timeout > 0):
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    policy = RetryPolicy(retries=retries, base=retry_backoff, cap=max_retry_backoff)
    url = _base_url(base_url)
    if ssl_context is not None and not url.startswith("https://"):
        raise ValueError(f"ssl_context is given but {url} is not an https:// URL: use https://")
    async with httpx.AsyncClient(
        base_url=url + "/",
        timeout=timeout,
        headers=dict(headers or {}),
        transport=transport,
        follow_redirects=False,
        verify=True if ssl_context is None else ssl_context,
    ) as session:
        yield BulkHttpClient(session, url, policy)


def _describe(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({type(exc).__name__})"
    # httpx often wraps a TLS or socket failure in an error without a message: say the cause
    # ("certificate verify failed", "connection refused") rather than only "ConnectError".
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLError | OSError) and str(cause):
            return f"{type(exc).__name__}: {cause}"
        cause = cause.__cause__ or cause.__context__
    return str(exc) or type(exc).__name__


def _check_user(user: str) -> str:
    decode_32(user, field="user")
    return user


class BulkHttpClient:
    """BULK's HTTP API. Get one from :func:`open_bulk_http`.

    Every method returns typed models; errors are :class:`~bulk_trio.BulkError` subclasses that
    name the endpoint: :class:`~bulk_trio.HttpError` (a non-2xx status after retries),
    :class:`~bulk_trio.ConnectError` (the network failed), :class:`~bulk_trio.ProtocolViolation`
    (a body that cannot be read) and, for :meth:`place_orders`, :class:`~bulk_trio.ExchangeError`
    and :class:`~bulk_trio.OrderOutcomeUnknown`.
    """

    def __init__(self, session: httpx.AsyncClient, base_url: str, policy: RetryPolicy) -> None:
        self._session = session
        self.base_url = base_url
        self.retry_policy = policy

    def __repr__(self) -> str:
        return f"<BulkHttpClient {self.base_url}>"

    # -- transport --------------------------------------------------------------------------

    async def _read(
        self,
        method: str,
        path: str,
        endpoint: str,
        *,
        params: Mapping[str, str | int] | None = None,
        body: Mapping[str, Any] | None = None,
        missing_ok: bool = False,
    ) -> Any:
        """The decoded JSON of a read, retried per the policy; ``_NOT_FOUND`` for a 404 when
        ``missing_ok``."""
        content = None if body is None else orjson.dumps(dict(body))
        attempt = 0
        while True:
            retry_after: str | None = None
            try:
                response = await self._session.request(
                    method,
                    path,
                    params=dict(params) if params else None,
                    content=content,
                    headers=_JSON if content is not None else None,
                )
            except httpx.HTTPError as exc:
                failure: Exception = ConnectError(
                    f"{endpoint} at {self.base_url}: {_describe(exc)}"
                )
            else:
                status = response.status_code
                if 200 <= status < 300:
                    return http_codec.decode_body(endpoint, response.content)
                code, message = http_codec.error_detail(response.content)
                if status == 404 and missing_ok:
                    return _NOT_FOUND
                failure = HttpError(endpoint, status, code, message)
                if not is_retryable_status(status):
                    raise failure
                retry_after = response.headers.get("retry-after")
            delay = self.retry_policy.delay(attempt, retry_after)
            if delay is None:
                raise failure
            attempt += 1
            await trio.sleep(delay)

    # -- market data ------------------------------------------------------------------------

    async def exchange_info(self) -> list[Market]:
        """Every market with its tick size, lot size, minimum notional and maximum leverage."""
        body = await self._read("GET", "exchangeInfo", "GET /exchangeInfo")
        return http_codec.parse_exchange_info(body)

    async def markets(self) -> dict[str, Market]:
        """:meth:`exchange_info` keyed by symbol."""
        return {market.symbol: market for market in await self.exchange_info()}

    async def ticker(self, symbol: str) -> Ticker:
        """24 h statistics, mark, oracle and funding of one market."""
        check_symbol(symbol)
        body = await self._read("GET", f"ticker/{symbol}", f"GET /ticker/{symbol}")
        return http_codec.parse_ticker(body, symbol)

    async def klines(
        self,
        symbol: str,
        interval: str,
        start: int | None = None,
        end: int | None = None,
        limit: int | None = None,
    ) -> list[Candle]:
        """Candles oldest first. ``interval`` as ``1m``/``1min``, ``1h``, ``1d``...; ``start`` and
        ``end`` are milliseconds since the epoch; ``limit`` 1..1000 (default 500)."""
        check_symbol(symbol)
        params = http_codec.klines_params(symbol, interval, start, end, limit)
        body = await self._read("GET", "klines", "GET /klines", params=params)
        return http_codec.parse_klines(body, symbol, str(params["interval"]))

    async def l2_book(self, symbol: str, depth: int | None = None) -> L2Snapshot:
        """The order book now: bids and asks best first, ``depth`` levels per side (default 20
        on the exchange)."""
        check_symbol(symbol)
        params: dict[str, str | int] = {"type": "l2Book", "coin": symbol}
        if depth is not None:
            if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
                raise ValueError(f"depth must be a positive integer, got {depth!r}")
            params["nlevels"] = depth
        body = await self._read("GET", "l2book", "GET /l2book", params=params)
        return http_codec.parse_l2_book(body, symbol)

    async def stats(self, symbol: str | None = None, period: str | None = None) -> ExchangeStats:
        """Exchange-wide and per-market 24 h volume, open interest and funding."""
        params: dict[str, str | int] = {}
        if symbol is not None:
            params["symbol"] = check_symbol(symbol)
        if period is not None:
            params["period"] = period
        body = await self._read("GET", "stats", "GET /stats", params=params)
        return http_codec.parse_stats(body)

    # -- account state ----------------------------------------------------------------------

    async def _account(self, kind: str, body: Mapping[str, Any]) -> Any:
        return await self._read(
            "POST", "account", f"POST /account {kind}", body=body, missing_ok=True
        )

    async def full_account(self, user: str) -> AccountSnapshot | None:
        """Margin, positions, open orders and leverage of ``user``; None for an account the
        exchange has never seen."""
        body = await self._account(
            "fullAccount", {"type": "fullAccount", "user": _check_user(user)}
        )
        return None if body is _NOT_FOUND else http_codec.parse_full_account(body, user)

    async def open_orders(self, user: str) -> list[OrderState]:
        """Open orders of ``user`` (including parked conditional orders)."""
        body = await self._account("openOrders", {"type": "openOrders", "user": _check_user(user)})
        return [] if body is _NOT_FOUND else http_codec.parse_open_orders(body, user)

    async def fee_tier(self, user: str, symbol: str | None = None) -> FeeTier | None:
        """The fee tier of ``user`` (globally, or for ``symbol``)."""
        request: dict[str, Any] = {"type": "feeTier", "user": _check_user(user)}
        if symbol is not None:
            request["symbol"] = check_symbol(symbol)
        body = await self._account("feeTier", request)
        return None if body is _NOT_FOUND else http_codec.parse_fee_tier(body)

    # -- history ----------------------------------------------------------------------------

    async def _history(
        self,
        kind: str,
        user: str,
        limit: int | None,
        cursor: str | None,
        start_slot: int | None,
        end_slot: int | None,
    ) -> HistoryPage[Any]:
        request = http_codec.history_request(
            kind,
            _check_user(user),
            limit=limit,
            cursor=cursor,
            start_slot=start_slot,
            end_slot=end_slot,
        )
        body = await self._account(kind, request)
        if body is _NOT_FOUND:
            return HistoryPage(rows=())
        return http_codec.parse_history(body, kind, user)

    async def _pages(
        self,
        fetch: Callable[..., Any],
        user: str,
        limit: int | None,
        start_slot: int | None,
        end_slot: int | None,
    ) -> AsyncIterator[Any]:
        page = await fetch(user, limit=limit, start_slot=start_slot, end_slot=end_slot)
        seen: set[str] = set()
        while True:
            for row in page.rows:
                yield row
            cursor = page.next_cursor
            if cursor is None:
                return
            if cursor in seen:  # a server that repeats itself would loop forever
                raise ProtocolViolation(f"POST /account: the server repeated cursor {cursor!r}")
            seen.add(cursor)
            page = await fetch(user, limit=limit, cursor=cursor)

    async def fills(
        self,
        user: str,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        start_slot: int | None = None,
        end_slot: int | None = None,
    ) -> HistoryPage[HistoryFill]:
        """One page of executions of ``user``; ``cursor`` (a page's ``next_cursor``) continues
        a query. :meth:`iter_fills` walks every page."""
        return await self._history("fills", user, limit, cursor, start_slot, end_slot)

    async def order_history(
        self,
        user: str,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        start_slot: int | None = None,
        end_slot: int | None = None,
    ) -> HistoryPage[OrderState]:
        """One page of finished orders of ``user`` (filled, cancelled, rejected...)."""
        return await self._history("orderHistory", user, limit, cursor, start_slot, end_slot)

    async def positions_history(
        self,
        user: str,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        start_slot: int | None = None,
        end_slot: int | None = None,
    ) -> HistoryPage[ClosedPosition]:
        """One page of closed positions of ``user``."""
        return await self._history("positions", user, limit, cursor, start_slot, end_slot)

    async def funding_history(
        self,
        user: str,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        start_slot: int | None = None,
        end_slot: int | None = None,
    ) -> HistoryPage[FundingPayment]:
        """One page of funding payments of ``user``."""
        return await self._history("fundingHistory", user, limit, cursor, start_slot, end_slot)

    def iter_fills(
        self,
        user: str,
        *,
        limit: int | None = None,
        start_slot: int | None = None,
        end_slot: int | None = None,
    ) -> AsyncIterator[HistoryFill]:
        """Every execution of ``user`` across all pages (``limit`` rows per request)."""
        return self._pages(self.fills, user, limit, start_slot, end_slot)

    def iter_order_history(
        self,
        user: str,
        *,
        limit: int | None = None,
        start_slot: int | None = None,
        end_slot: int | None = None,
    ) -> AsyncIterator[OrderState]:
        """Every finished order of ``user`` across all pages."""
        return self._pages(self.order_history, user, limit, start_slot, end_slot)

    def iter_positions_history(
        self,
        user: str,
        *,
        limit: int | None = None,
        start_slot: int | None = None,
        end_slot: int | None = None,
    ) -> AsyncIterator[ClosedPosition]:
        """Every closed position of ``user`` across all pages."""
        return self._pages(self.positions_history, user, limit, start_slot, end_slot)

    def iter_funding_history(
        self,
        user: str,
        *,
        limit: int | None = None,
        start_slot: int | None = None,
        end_slot: int | None = None,
    ) -> AsyncIterator[FundingPayment]:
        """Every funding payment of ``user`` across all pages."""
        return self._pages(self.funding_history, user, limit, start_slot, end_slot)

    # -- trading ----------------------------------------------------------------------------

    async def place_orders(
        self,
        signer: TransactionSigner,
        actions: BaseAction | Sequence[BaseAction],
        nonce: int | None = None,
        *,
        account: str | None = None,
    ) -> list[OrderResponse]:
        """Sign ``actions`` as one atomic transaction and ``POST /order`` it; one response per
        action, order ids filled in from the precomputed ids.

        Raises :class:`~bulk_trio.ExchangeError` when the exchange refuses the whole transaction
        (bad signature, unauthorized signer, reused nonce) and
        :class:`~bulk_trio.OrderOutcomeUnknown` when it may or may not have executed (timeout,
        408, 5xx, connection lost after sending): the transaction is never re-signed;
        :meth:`post_signed` sends ``error.payload`` again unchanged.
        """
        batch = [actions] if isinstance(actions, BaseAction) else list(actions)
        payload = signer.sign_transaction(batch, nonce=nonce, account=account)
        statuses = await self.post_signed(payload)
        return http_codec.with_order_ids(statuses, batch, payload)

    async def post_signed(self, payload: Mapping[str, Any]) -> list[OrderResponse]:
        """``POST /order`` a signed transaction, exactly once (see :meth:`place_orders`)."""
        endpoint = "POST /order"
        try:
            content = orjson.dumps(dict(payload))
        except TypeError as exc:
            raise ValueError(f"payload cannot be encoded as JSON: {exc}") from None
        try:
            response = await self._session.post("order", content=content, headers=_JSON)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # Never reached the server: nothing was executed.
            raise ConnectError(f"{endpoint} at {self.base_url}: {_describe(exc)}") from exc
        except httpx.HTTPError as exc:
            raise OrderOutcomeUnknown(
                f"{endpoint}: {_describe(exc)} after the transaction was sent; it may or may "
                "not have executed (check open orders, or send error.payload again unchanged)",
                endpoint=endpoint,
                status=None,
                payload=payload,
            ) from exc
        status = response.status_code
        if status == 408 or status >= 500:
            code, message = http_codec.error_detail(response.content)
            raise OrderOutcomeUnknown(
                f"{endpoint} got HTTP {status} ({code or message}); the transaction may or may "
                "not have executed (check open orders, or send error.payload again unchanged)",
                endpoint=endpoint,
                status=status,
                payload=payload,
            )
        if not 200 <= status < 300:
            code, message = http_codec.error_detail(response.content)
            raise HttpError(endpoint, status, code, message)
        body = http_codec.decode_body(endpoint, response.content)
        ok, statuses, refusal = http_codec.parse_order_reply(body)
        if not ok:
            raise ExchangeError(f"the exchange refused the transaction: {refusal}", raw=body)
        return list(statuses)
