"""Connecting a ``bulk-trio`` command to the exchange, and checking that a symbol is a market.

One-shot commands (account, order, cancel) fail fast: they do not reconnect, so a dropped
connection is reported instead of retried behind the user's back. ``watch`` reconnects forever.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator

import trio

from ..backoff import Backoff
from ..enums import Topic
from ..errors import ConnectError, ExchangeError
from ..models import L2Delta, Ticker
from ..protocol.signing import TransactionSigner
from ..protocol.subscriptions import check_symbol
from ..shell.client import BulkClient, open_bulk_client
from .endpoint import LOCAL_NODE_URL, Endpoint
from .runtime import CommandFailed, UsageError


def market_symbol(text: str) -> str:
    """A symbol as typed (``btc-usd``) in the exchange's spelling (``BTC-USD``); UsageError if it
    cannot be one."""
    try:
        return check_symbol(text.strip().upper())
    except ValueError as problem:
        raise UsageError(str(problem)) from None


@contextlib.asynccontextmanager
async def open_command_client(
    endpoint: Endpoint,
    *,
    timeout: float,
    signer: TransactionSigner | None = None,
    reconnect: bool = False,
    debug: bool = False,
) -> AsyncIterator[BulkClient]:
    """A client subscribed to nothing but the signer's account (if any); ``timeout`` bounds the
    connection attempt and every request."""
    opening = open_bulk_client(
        endpoint.url,
        ssl_context=None if endpoint.ca_file is None else trusting(endpoint.ca_file),
        symbols=(),
        signer=signer,
        default_timeout=timeout,
        connect_timeout=timeout,
        backoff=Backoff() if reconnect else Backoff(max_attempts=0),
        debug=debug,
    )
    async with contextlib.AsyncExitStack() as stack:
        try:
            client = await stack.enter_async_context(opening)
        except ConnectError as problem:
            if endpoint.url != LOCAL_NODE_URL:
                raise
            # The default URL of testnet and devnet: most likely nothing runs locally yet.
            hint = "is a local node or `bulk-trio sim` running?"
            raise CommandFailed(f"{problem} ({hint})") from None
        yield client


def trusting(ca_file: str) -> ssl.SSLContext:
    """An SSL context that trusts the certificate authorities in ``ca_file`` (and only them);
    CommandFailed naming the file when it cannot be read or holds no certificate."""
    try:
        return ssl.create_default_context(cafile=ca_file)
    except FileNotFoundError:
        raise CommandFailed(f"--ca-file {ca_file}: no such file") from None
    except (OSError, ssl.SSLError) as problem:
        reason = getattr(problem, "strerror", None) or str(problem)
        raise CommandFailed(f"--ca-file {ca_file}: not a PEM certificate file ({reason})") from None


async def require_market(client: BulkClient, symbol: str, timeout: float) -> Ticker:
    """Subscribe to ``symbol``'s ticker and return the first one: proof that the market exists,
    checked before anything is signed. CommandFailed when the exchange refuses the subscription
    (the simulator does for an unknown symbol) or sends no ticker within ``timeout``."""
    async with client.events(Topic.TICKER, name="market check") as tickers:
        try:
            await client.subscribe_ticker(symbol)
        except ExchangeError as refusal:
            raise CommandFailed(f"the exchange does not list {symbol}: {refusal.message}") from None
        with trio.move_on_after(timeout):
            async for ticker in tickers:
                if isinstance(ticker, Ticker) and ticker.symbol == symbol:
                    return ticker
    raise CommandFailed(
        f"no ticker for {symbol} from {client.url} within {timeout:g} s: is it a listed market?"
    )


async def subscribe_book(client: BulkClient, symbol: str, timeout: float) -> None:
    """Subscribe to ``symbol``'s book changes (l2Delta) and return once the full book that the
    subscription starts with is in the client's book; CommandFailed after ``timeout``."""
    async with client.events(Topic.L2DELTA, name="first book") as deltas:
        await client.subscribe_orderbook_delta(symbol)
        with trio.move_on_after(timeout):
            async for delta in deltas:
                if isinstance(delta, L2Delta) and delta.symbol == symbol and delta.is_snapshot:
                    return
    raise CommandFailed(f"no order book for {symbol} from {client.url} within {timeout:g} s")
