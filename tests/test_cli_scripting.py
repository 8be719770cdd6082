"""The ``bulk-trio`` command used from scripts: ``--version``, ``--json``, the ``BULK_URL`` and
``BULK_NETWORK`` environment variables, exit statuses, a closed pipe, and what it never prints
(a key pasted as an argument). Against a simulator in the test, through ``cli.main`` in a worker
thread (it runs its own ``trio.run``) or as a real process where the process matters.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from collections.abc import AsyncIterator

import orjson
import pytest
import trio

import bulk_trio
from bulk_trio.actions import BaseAction, CancelAll, LimitOrder
from bulk_trio.cli import main
from bulk_trio.cli.account_keys import HIDDEN_ARGUMENT, looks_like_key
from bulk_trio.cli.trade import did_what_was_asked
from bulk_trio.enums import OrderStatus
from bulk_trio.models import OrderResponse
from bulk_trio.protocol.signing import TransactionSigner
from bulk_trio.sim import Simulator, open_simulator
from cli_support import at, cli, key_in_environment

FUNDS = 10_000.0
TIMEOUT = 30


@pytest.fixture
def signer(monkeypatch: pytest.MonkeyPatch) -> TransactionSigner:
    """A fresh key in BULK_PRIVATE_KEY, and no BULK_URL/BULK_NETWORK from the caller's shell."""
    return key_in_environment(monkeypatch)


@pytest.fixture
async def sim(signer: TransactionSigner) -> AsyncIterator[Simulator]:
    async with open_simulator(seed=5, fund={signer.public_key: FUNDS}) as simulator:
        yield simulator


def json_of(output: str) -> dict[str, object]:
    """The one JSON document that ``output`` must be."""
    document = orjson.loads(output)
    assert isinstance(document, dict)
    return document


# -- --version ---------------------------------------------------------------------------------


def test_version_is_the_installed_distributions() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bulk_trio", "--version"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # One version, written once: the package, its metadata and the command agree.
    assert bulk_trio.__version__ == importlib.metadata.version("bulk-trio")
    assert done.stdout == f"bulk-trio {bulk_trio.__version__}\n"


# -- --json ------------------------------------------------------------------------------------


async def test_account_as_json(
    sim: Simulator, signer: TransactionSigner, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await cli("order", "BTC-USD", "buy", "0.01", "--price", "90000", *at(sim)) == 0
    capsys.readouterr()

    assert await cli("account", "--json", *at(sim)) == 0
    captured = capsys.readouterr()
    document = json_of(captured.out)
    assert captured.err == ""
    assert document["network"] == "testnet" and document["url"] == sim.url
    account = document["account"]
    assert isinstance(account, dict)
    assert account["account"] == signer.public_key
    assert account["margin"]["total_balance"] == pytest.approx(FUNDS)
    (order,) = account["open_orders"]
    assert (order["symbol"], order["side"], order["price"]) == ("BTC-USD", "buy", 90000.0)
    assert order["status"] == "resting"
    assert {o.order_id for o in sim.engine.open_orders(signer.public_key)} == {order["order_id"]}


async def test_order_and_cancel_as_json(
    sim: Simulator, signer: TransactionSigner, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ("order", "BTC-USD", "buy", "0.01", "--price", "90000", "--json", *at(sim))
    assert await cli(*argv) == 0
    document = json_of(capsys.readouterr().out)
    assert document["ok"] is True
    (result,) = document["results"]
    assert result["status"] == "resting" and result["ok"] is True
    assert result["action"] == LimitOrder("BTC-USD", "buy", 90000.0, 0.01).to_wire()
    order_id = result["order_id"]
    assert [o.order_id for o in sim.engine.open_orders(signer.public_key)] == [order_id]

    assert await cli("cancel", "BTC-USD", order_id, "--json", *at(sim)) == 0
    (result,) = json_of(capsys.readouterr().out)["results"]
    assert (result["status"], result["order_id"]) == ("cancelled", order_id)
    assert sim.engine.open_orders(signer.public_key) == []


async def test_a_refused_order_in_json_is_data_on_stdout_and_one_line_on_stderr(
    sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ("order", "BTC-USD", "buy", "5", "--price", "100000", "--json", *at(sim))
    assert await cli(*argv) == 1
    captured = capsys.readouterr()
    document = json_of(captured.out)
    assert document["ok"] is False
    (result,) = document["results"]
    assert result["status"] == "rejectedRiskLimit" and result["ok"] is False
    assert len(captured.err.splitlines()) == 1
    assert "insufficient margin" in captured.err


async def test_an_error_in_json_mode_is_not_json(
    signer: TransactionSigner, capsys: pytest.CaptureFixture[str]
) -> None:
    with trio.socket.socket() as probe:
        await probe.bind(("127.0.0.1", 0))
        url = f"ws://127.0.0.1:{probe.getsockname()[1]}"
    assert await cli("account", "--json", "--url", url, "--timeout", "5") == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"bulk-trio account: cannot connect to {url}")


def test_keygen_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keygen", "--show-private-key", "--json"]) == 0
    document = json_of(capsys.readouterr().out)
    assert set(document) == {"public_key", "private_key"}
    assert TransactionSigner(str(document["private_key"])).public_key == document["public_key"]


# -- BULK_URL and BULK_NETWORK -----------------------------------------------------------------


async def test_the_environment_names_the_exchange(
    sim: Simulator,
    signer: TransactionSigner,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BULK_URL", sim.url)
    monkeypatch.setenv("BULK_NETWORK", "testnet")
    assert await cli("order", "BTC-USD", "buy", "0.01", "--price", "90000") == 0
    assert capsys.readouterr().out.startswith("resting order_id=")
    assert len(sim.engine.open_orders(signer.public_key)) == 1


async def test_a_wrong_network_names_the_option_that_fixes_it(
    sim: Simulator,
    signer: TransactionSigner,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The simulator verifies testnet signatures; the shell says devnet.
    monkeypatch.setenv("BULK_URL", sim.url)
    monkeypatch.setenv("BULK_NETWORK", "devnet")
    assert await cli("order", "BTC-USD", "buy", "0.01", "--price", "90000") == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert "Invalid signature" in line
    assert "signed for devnet" in line and "--network" in line and "BULK_NETWORK" in line
    assert sim.engine.open_orders(signer.public_key) == []

    # --network on the command line wins over the environment.
    argv = ("order", "BTC-USD", "buy", "0.01", "--price", "90000", "--network", "testnet")
    assert await cli(*argv) == 0
    assert capsys.readouterr().out.startswith("resting order_id=")
    assert len(sim.engine.open_orders(signer.public_key)) == 1


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        pytest.param("BULK_NETWORK", "moonnet", "BULK_NETWORK must be one of", id="network"),
        pytest.param("BULK_URL", "http://127.0.0.1:9", "BULK_URL must be a ws://", id="url"),
        pytest.param("BULK_URL", "wss://mainnet-ws1.bulk.trade", "--network mainnet", id="main"),
    ],
)
def test_a_bad_environment_is_a_usage_error_naming_the_variable(
    variable: str,
    value: str,
    says: str,
    signer: TransactionSigner,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(variable, value)
    assert main(["order", "BTC-USD", "buy", "0.01"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert says in line


# -- an order that did nothing -----------------------------------------------------------------


async def test_a_reduce_only_order_that_executed_nothing_is_a_failure(
    sim: Simulator, signer: TransactionSigner, capsys: pytest.CaptureFixture[str]
) -> None:
    # No position: a reduce-only sell has nothing to reduce.
    assert await cli("order", "BTC-USD", "sell", "0.01", "--reduce-only", *at(sim)) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith("cancelledReduceOnly order_id=")

    argv = ("order", "BTC-USD", "sell", "0.01", "--reduce-only", "--json", *at(sim))
    assert await cli(*argv) == 1
    document = json_of(capsys.readouterr().out)
    assert document["ok"] is False


# -- what never comes back ---------------------------------------------------------------------


def test_a_key_pasted_as_an_argument_is_not_echoed(
    signer: TransactionSigner, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The usual mistake: the key is not in the environment but pasted on the command line.
    monkeypatch.delenv("BULK_PRIVATE_KEY")
    keypair_json = orjson.dumps(list(range(64))).decode()
    pasted = [
        (signer.private_key, "unrecognized arguments"),
        (keypair_json, "unrecognized arguments"),
        # argparse reads --key as an abbreviation of --key-file, then the file is not found.
        (f"--key={signer.private_key}", "--key-file"),
    ]
    for argument, says in pasted:
        assert main(["order", "BTC-USD", "buy", "0.01", argument]) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        (line,) = captured.err.splitlines()
        assert says in line and HIDDEN_ARGUMENT in line
        assert signer.private_key not in line and keypair_json not in line


def test_what_looks_like_a_key() -> None:
    key = TransactionSigner.generate_account().private_key
    assert looks_like_key(key) and looks_like_key(f"--key={key}")
    assert looks_like_key("[" + ",".join(["7"] * 64) + "]")
    for ordinary in ("BTC-USD", "0.01", "--price", "ws://127.0.0.1:12001", "/home/me/.bulk/key"):
        assert not looks_like_key(ordinary)


# -- pipes -------------------------------------------------------------------------------------


async def test_a_closed_pipe_ends_the_command_quietly(sim: Simulator) -> None:
    """``bulk-trio watch BTC-USD | head -1``: when the reader goes, watch ends, without a word."""
    command = [sys.executable, "-m", "bulk_trio", "watch", "BTC-USD", "--url", sim.url]
    with trio.fail_after(TIMEOUT):
        process = await trio.lowlevel.open_process(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            assert process.stdout is not None and process.stderr is not None
            first = await process.stdout.receive_some(65536)
            assert first, "watch printed nothing"
            await process.stdout.aclose()  # what `head -1` does after its line
            # watch prints the book every second, so the next write meets the closed pipe.
            assert await process.wait() == 141
            errors = (await process.stderr.receive_some(65536)).decode()
            assert errors == ""
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()


def test_a_pipe_closed_before_the_first_line() -> None:
    reader, writer = os.pipe()
    os.close(reader)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bulk_trio", "keygen", "--show-private-key"],
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    finally:
        os.close(writer)
    assert done.returncode == 141
    # Only keygen's own warning; no traceback, no "Exception ignored".
    assert done.stderr.startswith("warning: the private key is printed")
    assert len(done.stderr.splitlines()) == 1


ORDER = LimitOrder("BTC-USD", "sell", 100_000.0, 0.05, reduce_only=True, time_in_force="IOC")


@pytest.mark.parametrize(
    ("action", "status", "detail", "ok"),
    [
        pytest.param(ORDER, OrderStatus.CANCELLED_REDUCE_ONLY, {}, False, id="reduce-only-nothing"),
        pytest.param(ORDER, OrderStatus.CANCELLED_IOC, {"totalSz": 0.0}, False, id="ioc-nothing"),
        pytest.param(ORDER, OrderStatus.CANCELLED_IOC, {"totalSz": 0.02}, True, id="ioc-partly"),
        pytest.param(ORDER, OrderStatus.PARTIALLY_FILLED, {}, True, id="partially-filled"),
        pytest.param(ORDER, OrderStatus.RESTING, {}, True, id="resting"),
        pytest.param(ORDER, OrderStatus.REJECTED_CROSSING, {}, False, id="rejected"),
        pytest.param(CancelAll(), OrderStatus.CANCELLED, {}, True, id="a-cancel-is-not-an-order"),
    ],
)
def test_an_order_that_ended_without_executing_is_not_success(
    action: BaseAction, status: OrderStatus, detail: dict[str, float], ok: bool
) -> None:
    response = OrderResponse(status=status, order_id="oid", meta=detail, raw_status=status.value)
    assert did_what_was_asked(action, response) is ok
