"""What the command-line tests share: running ``bulk-trio`` in-process, pointing it at a
simulator, and handing it a key the documented way (``BULK_PRIVATE_KEY``)."""

from __future__ import annotations

import pytest
import trio

from bulk_trio.cli import main
from bulk_trio.protocol.signing import TransactionSigner
from bulk_trio.sim import Simulator


async def cli(*argv: str) -> int:
    """``bulk-trio ARGV...`` in a worker thread (it runs its own trio.run); its exit status."""
    return await trio.to_thread.run_sync(main, list(argv))


def at(sim: Simulator) -> list[str]:
    """The options that point a command at ``sim``."""
    return ["--url", sim.url, "--network", "testnet"]


def key_in_environment(monkeypatch: pytest.MonkeyPatch) -> TransactionSigner:
    """A fresh testnet key in BULK_PRIVATE_KEY, and no BULK_URL/BULK_NETWORK from the shell
    that runs the tests."""
    key = TransactionSigner.generate_account(domain="testnet")
    monkeypatch.setenv("BULK_PRIVATE_KEY", key.private_key)
    monkeypatch.delenv("BULK_URL", raising=False)
    monkeypatch.delenv("BULK_NETWORK", raising=False)
    return key
