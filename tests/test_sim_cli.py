"""``bulk-trio sim``: a real process on a free port, stopped with Ctrl-C; bad arguments."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys

import pytest
import trio

from bulk_trio.cli import main
from bulk_trio.protocol.signing import TransactionSigner
from ws_peer import open_peer

TIMEOUT = 30


async def read_line(stream: trio.abc.ReceiveStream) -> str:
    data = b""
    while not data.endswith(b"\n"):
        chunk = await stream.receive_some(4096)
        assert chunk, f"the process closed its output after {data!r}"
        data += chunk
    return data.decode()


async def read_all(stream: trio.abc.ReceiveStream) -> str:
    data = b""
    while chunk := await stream.receive_some(65536):
        data += chunk
    return data.decode()


async def test_sim_serves_until_ctrl_c_and_exits_cleanly() -> None:
    account = TransactionSigner.generate_account(domain="testnet").public_key
    command = [
        sys.executable,
        "-m",
        "bulk_trio",
        "sim",
        "--port",
        "0",
        "--network",
        "devnet",
        "--symbols",
        "BTC-USD,DOGE-USD",
        "--fund",
        f"{account}:2500",
        "--seed",
        "4",
    ]
    with trio.fail_after(TIMEOUT):
        process = await trio.lowlevel.open_process(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            assert process.stdout is not None
            assert process.stderr is not None
            banner = await read_line(process.stdout)
            match = re.search(r"ws://127\.0\.0\.1:(\d+)", banner)
            assert match, banner
            assert "devnet" in banner
            assert "DOGE-USD" in banner
            async with open_peer(match.group(0)) as peer:
                await peer.subscribe(
                    {"type": "ticker", "symbol": "DOGE-USD"}, {"type": "account", "user": account}
                )
                ticker = await peer.expect_type("ticker", "ticker.DOGE-USD")
                assert ticker["data"]["ticker"]["markPrice"] > 0
                snapshot = await peer.expect_account("accountSnapshot")
                assert snapshot["data"]["margin"]["totalBalance"] == 2500.0
            # Ctrl-C stops it cleanly, with the status of every command stopped by Ctrl-C.
            process.send_signal(signal.SIGINT)
            assert await process.wait() == 130
            errors = await read_all(process.stderr)
            assert "Traceback" not in errors
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["sim", "--port", "http"], id="port-not-a-number"),
        pytest.param(["sim", "--port", "70000"], id="port-out-of-range"),
        pytest.param(["sim", "--network", "moonnet"], id="unknown-network"),
        pytest.param(["sim", "--symbols", "BTC-USD,,ETH-USD"], id="empty-symbol"),
        pytest.param(["sim", "--symbols", "BTC-USD,BTC-USD"], id="repeated-symbol"),
        pytest.param(["sim", "--fund", "nocolon"], id="fund-without-amount"),
        pytest.param(["sim", "--fund", "abc:100"], id="fund-bad-pubkey"),
        pytest.param(
            ["sim", "--fund", "FAe4sisG95oZ42w7buUn5qEE4TAnfTTFPiguZUHmhiF:-5"], id="fund-negative"
        ),
        pytest.param(
            ["sim", "--fund", "FAe4sisG95oZ42w7buUn5qEE4TAnfTTFPiguZUHmhiF:lots"], id="fund-text"
        ),
        pytest.param(["sim", "--seed", "1.5"], id="seed-not-an-integer"),
        pytest.param(["sim", "--verbose"], id="unknown-option"),
        pytest.param(["simulate"], id="unknown-command"),
    ],
)
def test_bad_arguments_give_one_line_and_a_usage_status(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("bulk-trio")
    assert "Traceback" not in captured.err


def test_a_port_in_use_is_one_line_and_a_failure_status(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["sim", "--port", str(port)]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert f"127.0.0.1:{port}" in lines[0]


def test_no_command_prints_the_commands_and_a_usage_status(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main([]) == 2
    assert "sim" in capsys.readouterr().err
