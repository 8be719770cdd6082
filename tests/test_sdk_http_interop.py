"""The official SDK's HTTP client (``bulk-client`` 0.1.2, ``bulk_api.BulkHttpClient``) against
the simulator's HTTP API: markets, ticker, klines, the book and the account read, an order placed
and cancelled.

The SDK runs in its own Python (it must never be importable by bulk-trio), found or made the way
``benchmarks/bench_client.py`` does it: ``BULK_SDK_PYTHON``, ``/tmp/bulk-sdk-venv``, or
``.bench-venv-sdk/`` in the repository (created with pip on first use). The test is skipped, with
the reason, when no such Python can be had. The SDK is synchronous (``requests``), so it runs in a
subprocess while the simulator serves in this test's Trio loop.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from bulk_trio import MarketOrder, Side, TransactionSigner
from bulk_trio.sim import Simulator, open_simulator

REPO = Path(__file__).resolve().parent.parent
SDK_VERSION = "0.1.2"
CANDIDATES = (Path("/tmp/bulk-sdk-venv/bin/python"), REPO / ".bench-venv-sdk" / "bin" / "python")
TIMEOUT = 60

SDK_SCRIPT = r"""
import json, sys
from bulk_api.api.bulk_http import BulkHttpClient
from bulk_api.common import Side
from bulk_api.messages.trade import CancelOrder, LimitOrder

url, key, pubkey = sys.argv[1:4]
client = BulkHttpClient(base_url=url, private_key=key)
out = {}
info = client.get_exchange_info()
out["symbols"] = [m["symbol"] for m in info]
out["tick"] = info[0]["tickSize"]
out["mark"] = client.get_ticker("BTC-USD")["markPrice"]
out["klines"] = len(client.get_klines("BTC-USD", "1m"))
book = client.get_orderbook("BTC-USD", nlevels=5)
out["best_bid"] = book["levels"][0][0]["px"]
account = client.get_full_account(pubkey)  # the SDK returns the first row
out["balance"] = account["fullAccount"]["margin"]["totalBalance"]
placed = client.place_orders([LimitOrder("BTC-USD", Side.BUY, 90000.0, 0.01)])
status = placed["response"]["data"]["statuses"][0]
out["placed"] = status
oid = next(iter(status.values()))["oid"]
out["open"] = [row["openOrder"]["orderId"] for row in client.get_open_orders(pubkey)]
cancelled = client.place_orders([CancelOrder("BTC-USD", oid)])
out["cancelled"] = cancelled["response"]["data"]["statuses"][0]
out["open_after"] = len(client.get_open_orders(pubkey))
print(json.dumps(out))
"""


def _has_sdk(python: Path) -> bool:
    if not python.exists():
        return False
    probe = "import importlib.metadata as m, bulk_api; print(m.version('bulk-client'))"
    done = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=False)
    return done.returncode == 0 and done.stdout.strip() == SDK_VERSION


def sdk_python() -> Path:
    """A Python with the official SDK, made if need be; skips the test when none can be had."""
    explicit = os.environ.get("BULK_SDK_PYTHON")
    for candidate in ([Path(explicit)] if explicit else []) + list(CANDIDATES):
        if _has_sdk(candidate):
            return candidate
    local = CANDIDATES[1]
    steps = [
        [sys.executable, "-m", "venv", str(local.parent.parent)],
        # 0.1.2 imports requests without declaring it.
        [str(local), "-m", "pip", "install", "--quiet", f"bulk-client=={SDK_VERSION}", "requests"],
    ]
    for step in steps:
        try:
            done = subprocess.run(step, capture_output=True, text=True, check=False, timeout=180)
        except subprocess.TimeoutExpired:
            pytest.skip(f"cannot make a Python with bulk-client {SDK_VERSION}: {step[2]} timed out")
        if done.returncode != 0:
            why = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            pytest.skip(f"cannot make a Python with bulk-client {SDK_VERSION}: {why[0]}")
    if not _has_sdk(local):
        pytest.skip(f"bulk-client {SDK_VERSION} does not import in {local}")
    return local


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    # The 0.1.2 SDK signs without the signature domain byte (docs/protocol.md decision 1).
    async with open_simulator(
        symbols=("BTC-USD", "ETH-USD"),
        seed=2,
        feed=False,
        takers=False,
        allow_legacy_signatures=True,
    ) as simulator:
        yield simulator


async def test_the_official_sdk_reads_and_trades_over_http(sim: Simulator) -> None:
    python = await trio.to_thread.run_sync(sdk_python)
    signer = TransactionSigner.generate_account(domain=None)
    sim.fund(signer.public_key, 100_000.0)
    # Something traded, so that klines has a candle to serve.
    sim.submit_trusted(signer.public_key, [MarketOrder("BTC-USD", Side.BUY, 0.001)])
    with trio.fail_after(TIMEOUT):
        done = await trio.run_process(
            [str(python), "-c", SDK_SCRIPT, sim.http_url, signer.private_key, signer.public_key],
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    out = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert out["symbols"] == ["BTC-USD", "ETH-USD"] and out["tick"] == 0.1
    assert out["mark"] == 100_000.0 and out["klines"] == 1
    assert out["best_bid"] == sim.engine.book("BTC-USD", 1)[0][0][0]
    assert out["balance"] == pytest.approx(100_000.0, rel=1e-3)
    assert list(out["placed"]) == ["resting"]
    oid = out["placed"]["resting"]["oid"]
    assert out["open"] == [oid]
    assert out["cancelled"] == {"cancelled": {"oid": oid}}
    assert out["open_after"] == 0
