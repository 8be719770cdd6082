"""The HTTP API over TLS: the simulator serves https:// beside wss://, and the client's
``ssl_context`` verifies both, including the markets ``open_bulk_client(markets=...)`` loads."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

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
from bulk_trio.cli import main
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


async def test_cli_http_commands_trust_a_ca_file(
    tls_sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert tls_sim.ca_pem is not None
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(tls_sim.ca_pem)
    argv = ["markets", "--http-url", tls_sim.http_url, "--json"]
    with trio.fail_after(TIMEOUT):
        status = await trio.to_thread.run_sync(main, [*argv, "--ca-file", str(ca_file)])
        assert status == 0
        assert [row["symbol"] for row in json.loads(capsys.readouterr().out)] == SYMBOLS
        # Without it the system's trust store refuses the throwaway authority, and says so.
        assert await trio.to_thread.run_sync(main, argv) != 0
        assert "certificate verify failed" in capsys.readouterr().err
        plain = ["markets", "--http-url", "http://127.0.0.1:1/api/v1", "--ca-file", str(ca_file)]
        assert await trio.to_thread.run_sync(main, plain) == 2
        assert "--ca-file is for https:// URLs" in capsys.readouterr().err
