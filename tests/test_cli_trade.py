"""``bulk-trio keygen``, ``account``, ``order``, ``cancel``, ``cancel-all`` through ``cli.main``,
against a simulator in the test; every mistake a person can make is one line, and the private key
never appears in any output.

``main`` runs its own ``trio.run``, so the async tests call it in a worker thread.
"""

from __future__ import annotations

import os
import re
import socket
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from bulk_trio.cli import main
from bulk_trio.cli.endpoint import LOCAL_NODE_URL, MAINNET_URL, Endpoint, resolve_endpoint
from bulk_trio.cli.runtime import UsageError
from bulk_trio.protocol.keys import b58decode
from bulk_trio.protocol.signing import TransactionSigner
from bulk_trio.sim import Simulator, open_simulator
from cli_support import at, cli, key_in_environment

FUNDS = 10_000.0


@pytest.fixture
def signer(monkeypatch: pytest.MonkeyPatch) -> TransactionSigner:
    """A fresh key, given to the commands the documented way: BULK_PRIVATE_KEY."""
    return key_in_environment(monkeypatch)


@pytest.fixture
async def sim(signer: TransactionSigner) -> AsyncIterator[Simulator]:
    async with open_simulator(seed=3, fund={signer.public_key: FUNDS}) as simulator:
        yield simulator


def order_id_in(output: str) -> str:
    match = re.search(r"order_id=(\w+)", output)
    assert match, output
    return match.group(1)


def open_order_ids(sim: Simulator, signer: TransactionSigner) -> set[str]:
    return {order.order_id for order in sim.engine.open_orders(signer.public_key)}


def position_of(sim: Simulator, signer: TransactionSigner) -> float:
    positions = sim.engine.account_view(signer.public_key).positions
    return sum(p.size for p in positions if p.symbol == "BTC-USD")


def assert_clean(captured: pytest.CaptureResult[str], signer: TransactionSigner) -> None:
    for stream in (captured.out, captured.err):
        assert signer.private_key not in stream
        assert "Traceback" not in stream


# -- trading ---------------------------------------------------------------------------------


async def test_limit_order_shows_in_account_and_cancels(
    sim: Simulator, signer: TransactionSigner, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await cli("order", "btc-usd", "buy", "0.01", "--price", "90000", *at(sim)) == 0
    out = capsys.readouterr().out
    assert out.startswith("resting order_id=")
    assert "BTC-USD buy 0.0100 @ 90,000.0 GTC" in out
    placed = order_id_in(out)
    assert open_order_ids(sim, signer) == {placed}

    assert await cli("account", *at(sim)) == 0
    listing = capsys.readouterr().out
    assert signer.public_key in listing
    assert "balance 10,000.00" in listing
    assert "open orders (1)" in listing
    assert placed in listing

    assert await cli("cancel", "BTC-USD", placed, *at(sim)) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(f"cancelled order_id={placed}")
    assert open_order_ids(sim, signer) == set()
    assert_clean(captured, signer)


async def test_market_order_fills_and_reduce_only_closes(
    sim: Simulator, signer: TransactionSigner, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await cli("order", "BTC-USD", "buy", "0.02", *at(sim)) == 0
    out = capsys.readouterr().out
    assert out.startswith("filled order_id=")
    assert "@ market" in out and "filled 0.0200 @ avg" in out
    assert position_of(sim, signer) == pytest.approx(0.02)

    # Reduce-only is clamped to the position: selling "0.05" only closes the 0.02.
    assert await cli("order", "BTC-USD", "sell", "0.05", "--reduce-only", *at(sim)) == 0
    assert "filled 0.0200" in capsys.readouterr().out
    assert position_of(sim, signer) == 0


async def test_post_only_and_cancel_all_of_one_symbol(
    sim: Simulator, signer: TransactionSigner, capsys: pytest.CaptureFixture[str]
) -> None:
    for price in ("90000", "90001"):
        argv = ("order", "BTC-USD", "buy", "0.01", "--price", price, "--tif", "alo", *at(sim))
        assert await cli(*argv) == 0
    assert await cli("order", "ETH-USD", "buy", "0.1", "--price", "3000", *at(sim)) == 0
    assert "ALO" in capsys.readouterr().out

    assert await cli("cancel-all", "BTC-USD", *at(sim)) == 0
    assert capsys.readouterr().out.startswith("cancelled 2 order(s)")
    remaining = sim.engine.open_orders(signer.public_key)
    assert [order.symbol for order in remaining] == ["ETH-USD"]

    assert await cli("cancel-all", *at(sim)) == 0
    assert capsys.readouterr().out.startswith("cancelled 1 order(s)")
    assert open_order_ids(sim, signer) == set()


async def test_account_of_any_pubkey_needs_no_key(
    sim: Simulator,
    signer: TransactionSigner,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("BULK_PRIVATE_KEY")
    assert await cli("account", "--pubkey", signer.public_key, *at(sim)) == 0
    out = capsys.readouterr().out
    assert f"account   {signer.public_key}" in out
    assert "positions (0)" in out


async def test_key_file_in_solana_json_form(
    sim: Simulator,
    signer: TransactionSigner,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.delenv("BULK_PRIVATE_KEY")
    keypair = b58decode(signer.private_key) + b58decode(signer.public_key)
    key_file = tmp_path / "id.json"
    key_file.write_bytes(orjson.dumps(list(keypair)))
    key_file.chmod(0o600)
    assert await cli("account", "--key-file", str(key_file), *at(sim)) == 0
    assert signer.public_key in capsys.readouterr().out


async def test_a_refused_order_is_one_line_on_stderr(
    sim: Simulator, signer: TransactionSigner, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ("order", "BTC-USD", "buy", "5", "--price", "100000", *at(sim))
    assert await cli(*argv) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("rejectedRiskLimit order_id=")
    assert "insufficient margin" in lines[0]
    assert open_order_ids(sim, signer) == set()


# -- mistakes a person makes -------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    ("argv", "status", "says"),
    [
        pytest.param(["order", "XBT-USD", "buy", "0.01"], 1, "XBT-USD", id="unknown-symbol"),
        pytest.param(["order", "BTC-USD", "buy", "-1"], 2, "size", id="negative-size"),
        pytest.param(["order", "BTC-USD", "buy", "0"], 2, "size", id="zero-size"),
        pytest.param(["order", "BTC-USD", "buy", "lots"], 2, "size", id="size-not-a-number"),
        pytest.param(["order", "BTC-USD", "hold", "1"], 2, "side", id="bad-side"),
        pytest.param(
            ["order", "BTC-USD", "buy", "0.01", "--price", "-5"], 2, "price", id="negative-price"
        ),
        pytest.param(["order", "BTC-USD", "buy", "0.01", "--tif", "IOC"], 2, "--tif", id="tif"),
        pytest.param(["order", "BTC USD", "buy", "0.01"], 2, "symbol", id="symbol-with-space"),
        pytest.param(["cancel", "BTC-USD", "abc"], 2, "oid", id="bad-order-id"),
        pytest.param(["cancel-all", "DOGE-USD"], 1, "DOGE-USD", id="cancel-all-unknown-symbol"),
        pytest.param(["account", "--pubkey", "nope"], 2, "--pubkey", id="bad-pubkey"),
    ],
)
async def test_person_errors_are_one_line_without_the_key(
    argv: list[str],
    status: int,
    says: str,
    sim: Simulator,
    signer: TransactionSigner,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert await cli(*argv, *at(sim)) == status
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"bulk-trio {argv[0]}")
    assert says in lines[0]
    assert_clean(captured, signer)
    assert open_order_ids(sim, signer) == set()


@pytest.mark.parametrize("verbose", [False, True], ids=["quiet", "verbose"])
async def test_unreachable_url_is_one_line(
    verbose: bool, signer: TransactionSigner, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"ws://127.0.0.1:{closed_port()}"
    extra = ["--verbose"] if verbose else []
    argv = ["order", "BTC-USD", "buy", "0.01", "--url", url, "--timeout", "5", *extra]
    assert await cli(*argv) == 1
    captured = capsys.readouterr()
    last = captured.err.splitlines()[-1]
    assert last.startswith(f"bulk-trio order: cannot connect to {url}")
    if not verbose:
        assert len(captured.err.splitlines()) == 1
    assert signer.private_key not in captured.out + captured.err


def test_no_key_bad_key_and_a_key_in_the_arguments(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, signer: TransactionSigner
) -> None:
    # No network is reached in any of these: the mistakes are caught first.
    url = ["--url", "ws://127.0.0.1:9", "--network", "testnet"]
    monkeypatch.delenv("BULK_PRIVATE_KEY")
    assert main(["order", "BTC-USD", "buy", "0.01", *url]) == 2
    assert "BULK_PRIVATE_KEY" in capsys.readouterr().err

    garbage = "0OIl" + signer.private_key[4:]  # not base58, but key-like
    monkeypatch.setenv("BULK_PRIVATE_KEY", garbage)
    assert main(["order", "BTC-USD", "buy", "0.01", *url, "--verbose"]) == 2
    captured = capsys.readouterr()
    assert "BULK_PRIVATE_KEY does not hold a valid private key" in captured.err
    assert garbage not in captured.out + captured.err

    # Pasted where the size goes: refused, and not echoed back.
    monkeypatch.setenv("BULK_PRIVATE_KEY", signer.private_key)
    assert main(["order", "BTC-USD", "buy", signer.private_key, *url]) == 2
    captured = capsys.readouterr()
    assert len(captured.err.splitlines()) == 1
    assert_clean(captured, signer)

    missing = ["--key-file", "/nonexistent/key"]
    assert main(["cancel-all", *url, *missing]) == 2
    assert "--key-file /nonexistent/key" in capsys.readouterr().err


def test_mainnet_is_never_the_accidental_default() -> None:
    assert resolve_endpoint(None, None, signing=True) == Endpoint(LOCAL_NODE_URL, "testnet")
    assert resolve_endpoint("mainnet", None, signing=True) == Endpoint(MAINNET_URL, "mainnet")
    with pytest.raises(UsageError, match="--network mainnet"):
        resolve_endpoint(None, MAINNET_URL, signing=True)
    with pytest.raises(UsageError, match="--network mainnet"):
        resolve_endpoint("testnet", "wss://mainnet-ws1.bulk.trade/", signing=True)
    # docs/http-api.md pairs exchange-ws1 with the testnet domain: signing for testnet is right.
    testnet = resolve_endpoint("testnet", "wss://exchange-ws1.bulk.trade/", signing=True)
    assert testnet.network == "testnet"
    with pytest.raises(UsageError, match="--network staging"):
        resolve_endpoint("mainnet", "wss://staging-ws.bulk.trade", signing=True)
    # The official SDK's default host signs for a domain no source states: say which.
    with pytest.raises(UsageError, match="not known"):
        resolve_endpoint(None, "wss://exchange-wss.bulk.trade", signing=True)
    assert resolve_endpoint("mainnet", "wss://exchange-wss.bulk.trade", signing=True).network == (
        "mainnet"
    )
    assert resolve_endpoint("devnet", None, signing=True) == Endpoint(
        "wss://staging-ws.bulk.trade", "devnet"
    )
    # Reading is harmless: a mainnet URL may be watched without naming the network.
    assert resolve_endpoint(None, MAINNET_URL, signing=False).url == MAINNET_URL
    with pytest.raises(UsageError, match="ws://"):
        resolve_endpoint(None, "https://exchange-wss.bulk.trade", signing=False)


def test_trading_on_a_mainnet_url_needs_the_network_named(
    capsys: pytest.CaptureFixture[str], signer: TransactionSigner
) -> None:
    assert main(["order", "BTC-USD", "buy", "0.01", "--url", MAINNET_URL]) == 2
    line = capsys.readouterr().err.strip()
    assert line == (
        f"bulk-trio order: {MAINNET_URL} is BULK mainnet: add --network mainnet to trade there "
        "(refusing to sign for testnet)"
    )


# -- keygen ------------------------------------------------------------------------------------


def test_keygen_writes_a_private_file_and_never_overwrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file = tmp_path / "bulk.key"
    assert main(["keygen", "--out", str(key_file)]) == 0
    captured = capsys.readouterr()
    public_key = captured.out.strip()
    private_key = key_file.read_text().strip()
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert TransactionSigner(private_key).public_key == public_key
    assert private_key not in captured.out + captured.err

    assert main(["keygen", "--out", str(key_file)]) == 1
    captured = capsys.readouterr()
    assert captured.err.strip() == (
        f"bulk-trio keygen: {key_file} already exists; refusing to overwrite a key file"
    )
    assert key_file.read_text().strip() == private_key


def test_keygen_prints_the_private_key_only_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keygen"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "--out PATH" in captured.err

    assert main(["keygen", "--show-private-key"]) == 0
    captured = capsys.readouterr()
    # Each of the two lines says which key it holds.
    public_line, private_line = captured.out.splitlines()
    assert public_line.startswith("public key: ")
    assert private_line.startswith("private key: ")
    public_key, private_key = public_line.split()[-1], private_line.split()[-1]
    assert TransactionSigner(private_key).public_key == public_key
    assert "warning" in captured.err
