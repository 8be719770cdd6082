"""The HTTP API over TLS: the simulator serves https:// beside wss://, and the client's
``ssl_context`` verifies both, including the markets ``open_bulk_client(markets=...)`` loads."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio

from bulk_trio import (
    ConnectError,
    MarketRuleViolation,
    Side,
    TransactionSigner,
    open_bulk_client,
    open_bulk_http,
)
from bulk_trio.sim import Simulator, open_simulator

SYMBOLS = ["BTC-USD"]
TIMEOUT = 20
SIGNER = TransactionSigner.generate_account(domain="testnet")


@pytest.fixture
async def tls_sim() -> AsyncIterator[Simulator]:
    async with open_simulator(
        symbols=SYMBOLS, seed=5, tls=True, fund={SIGNER.public_key: 100_000.0}
    ) as simulator:
        yield simulator


async def test_open_bulk_client_loads_markets_over_https_with_its_ssl_context(
    tls_sim: Simulator,
) -> None:
    assert tls_sim.http_url.startswith("https://127.0.0.1:")
    with trio.fail_after(TIMEOUT):
        async with open_bulk_client(
            tls_sim.url,
            symbols=SYMBOLS,
            signer=SIGNER,
            ssl_context=tls_sim.ssl_context,
            markets=tls_sim.http_url,
        ) as client:
            assert client.markets["BTC-USD"] == tls_sim.markets["BTC-USD"]
            with pytest.raises(MarketRuleViolation, match="lot"):
                await client.place_market_order("BTC-USD", Side.BUY, 1e-7)


async def test_https_needs_the_certificate_authority_trusted(tls_sim: Simulator) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_bulk_http(tls_sim.http_url, ssl_context=tls_sim.ssl_context) as http:
            assert [market.symbol for market in await http.exchange_info()] == SYMBOLS
        # The system's trust store does not know the simulator's throwaway authority.
        with pytest.raises(ConnectError, match="certificate verify failed"):
            async with open_bulk_http(tls_sim.http_url, retries=0) as http:
                await http.exchange_info()


async def test_an_ssl_context_with_a_plain_http_url_is_refused(tls_sim: Simulator) -> None:
    plain = tls_sim.http_url.replace("https://", "http://")
    with pytest.raises(ValueError, match="not an https:// URL"):
        async with open_bulk_http(plain, ssl_context=tls_sim.ssl_context):
            pass  # pragma: no cover - refused before connecting
