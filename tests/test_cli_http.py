"""``bulk-trio markets``, ``history`` and ``candles`` against the simulator's HTTP API.

The commands run in a worker thread (``trio.to_thread``), as from a terminal, while the simulator
runs in the test's Trio loop.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
import trio

from bulk_trio import MarketOrder, Side, TransactionSigner, open_bulk_http
from bulk_trio.cli import main
from bulk_trio.sim import Simulator, open_simulator

TIMEOUT = 30


@pytest.fixture
def signer() -> TransactionSigner:
    return TransactionSigner.generate_account(domain="testnet")


@pytest.fixture
async def sim(signer: TransactionSigner) -> AsyncIterator[Simulator]:
    async with open_simulator(
        symbols=("BTC-USD", "ETH-USD"),
        seed=5,
        feed=False,
        takers=False,
        ticker_interval=None,
        snapshot_interval=None,
        fund={signer.public_key: 1_000_000.0},
    ) as simulator:
        yield simulator


async def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with trio.fail_after(TIMEOUT):
        status = await trio.to_thread.run_sync(main, argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


async def test_markets_table_and_json(sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = await run_cli(["markets", "--http-url", sim.http_url], capsys)
    assert status == 0
    header, btc, eth = out.strip().splitlines()
    assert header.split() == [
        "symbol",
        "tick",
        "lot",
        "min",
        "notional",
        "max",
        "leverage",
        "status",
    ]
    assert btc.split() == ["BTC-USD", "0.1", "0.0001", "1", "50", "TRADING"]
    assert eth.split()[0] == "ETH-USD"
    status, out, _ = await run_cli(["markets", "--http-url", sim.http_url, "--json"], capsys)
    document = json.loads(out)
    assert status == 0 and [m["symbol"] for m in document] == ["BTC-USD", "ETH-USD"]
    assert document[0]["tick_size"] == 0.1 and document[0]["max_leverage"] == 50.0


async def test_history_and_candles(
    sim: Simulator, signer: TransactionSigner, capsys: pytest.CaptureFixture[str]
) -> None:
    async with open_bulk_http(sim.http_url) as http:
        with trio.fail_after(TIMEOUT):
            for side in (Side.BUY, Side.SELL):
                await http.place_orders(signer, MarketOrder("BTC-USD", side, 0.01))
    url = ["--http-url", sim.http_url]
    status, out, _ = await run_cli(
        ["history", "fills", "--pubkey", signer.public_key, "--json", *url], capsys
    )
    fills = json.loads(out)
    assert status == 0 and len(fills) == 2
    assert {f["taker"] for f in fills} == {signer.public_key}
    status, out, _ = await run_cli(
        ["history", "fills", "--pubkey", signer.public_key, *url], capsys
    )
    lines = out.strip().splitlines()
    assert status == 0 and len(lines) == 3 and "sell" in lines[1] and "taker" in lines[1]
    status, out, _ = await run_cli(
        ["history", "orders", "--pubkey", signer.public_key, "--limit", "1", *url], capsys
    )
    assert status == 0 and len(out.strip().splitlines()) == 2 and "filled" in out
    status, out, _ = await run_cli(["candles", "btc-usd", "1min", "--json", *url], capsys)
    (candle,) = json.loads(out)
    assert status == 0 and candle["interval"] == "1m" and candle["volume"] == pytest.approx(0.02)
    status, out, _ = await run_cli(["candles", "BTC-USD", "1h", *url], capsys)
    assert status == 0 and len(out.strip().splitlines()) == 2


async def test_failures_are_one_line_on_stderr(
    sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = await run_cli(
        ["candles", "BTC-USD", "7m", "--http-url", sim.http_url], capsys
    )
    assert status == 2 and out == "" and "interval '7m'" in err
    stranger = TransactionSigner.generate_account().public_key
    status, out, err = await run_cli(
        ["history", "fills", "--pubkey", stranger, "--http-url", sim.http_url], capsys
    )
    assert status == 0 and out.startswith("no fills for")
    status, out, err = await run_cli(
        ["markets", "--http-url", "http://127.0.0.1:9/api/v1", "--timeout", "2"], capsys
    )
    assert status == 1 and out == "" and len(err.strip().splitlines()) == 1
    assert "GET /exchangeInfo" in err
    status, _, err = await run_cli(["markets", "--http-url", "ws://127.0.0.1:9"], capsys)
    assert status == 2 and "--http-url must be an http://" in err
