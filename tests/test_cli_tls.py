"""``--ca-file`` and ``bulk-trio sim --tls``: the command line over wss://, and its TLS failures
as one readable line."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from bulk_trio.cli import main
from bulk_trio.protocol.signing import TransactionSigner
from bulk_trio.sim import Simulator, open_simulator

PUBKEY = TransactionSigner.generate_account(domain="testnet").public_key


@pytest.fixture
async def tls_sim() -> AsyncIterator[Simulator]:
    async with open_simulator(seed=3, fund={PUBKEY: 1234.0}, tls=True) as simulator:
        yield simulator


@pytest.fixture
def ca_file(tls_sim: Simulator, tmp_path: Path) -> str:
    assert tls_sim.ca_pem is not None
    path = tmp_path / "ca.pem"
    path.write_bytes(tls_sim.ca_pem)
    return str(path)


async def account(*argv: str) -> int:
    command = ["account", "--pubkey", PUBKEY, "--timeout", "5", *argv]
    return await trio.to_thread.run_sync(main, command)


async def test_ca_file_trusts_the_servers_authority(
    tls_sim: Simulator, ca_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await account("--url", tls_sim.url, "--ca-file", ca_file) == 0
    assert "balance 1,234.00" in capsys.readouterr().out


async def test_without_it_the_failure_is_one_line_naming_the_certificate(
    tls_sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await account("--url", tls_sim.url) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert "certificate verify failed" in line
    assert "internal error" not in line


@pytest.mark.parametrize(
    ("contents", "reason"),
    [(None, "no such file"), (b"not a certificate\n", "not a PEM certificate file")],
)
async def test_a_bad_ca_file_is_named(
    tls_sim: Simulator,
    tmp_path: Path,
    contents: bytes | None,
    reason: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "ca.pem"
    if contents is not None:
        path.write_bytes(contents)
    assert await account("--url", tls_sim.url, "--ca-file", str(path)) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert f"--ca-file {path}: {reason}" in line


def test_ca_file_with_a_plain_url_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["account", "--pubkey", PUBKEY, "--url", "ws://127.0.0.1:1", "--ca-file", "x.pem"]
    assert main(argv) == 2
    assert "--ca-file is for wss:// URLs" in capsys.readouterr().err


async def test_sim_tls_prints_its_url_and_ca_file_for_clients() -> None:
    command = [sys.executable, "-m", "bulk_trio", "sim", "--port", "0", "--tls"]
    with trio.fail_after(30):
        process = await trio.lowlevel.open_process(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            assert process.stdout is not None
            lines = b""
            while lines.count(b"\n") < 2:
                chunk = await process.stdout.receive_some(4096)
                assert chunk, lines
                lines += chunk
            url = re.search(r"wss://127\.0\.0\.1:\d+", lines.decode())
            ca = re.search(r"certificate authority: (\S+)", lines.decode())
            assert url and ca, lines
            assert (await trio.Path(ca.group(1)).read_bytes()).startswith(b"-----BEGIN CERTIFICATE")
            argv = ("--url", url.group(0), "--ca-file", ca.group(1))
            assert await account(*argv) == 0
            process.send_signal(signal.SIGINT)
            assert await process.wait() == 130  # stopped by Ctrl-C, like every command
            assert not await trio.Path(ca.group(1)).exists()  # a throwaway: gone with the simulator
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
