"""What every example shares: where to connect, which key to trade with, its command line.

By default an example starts the bulk-trio exchange simulator in-process (no network, no keys) and
connects to it; ``--url URL`` connects to another endpoint instead (``bulk-trio sim`` in another
terminal, or a test network). Examples sign for testnet. They trade with the key in
``BULK_PRIVATE_KEY`` if it is set, else with a fresh key funded from the network's faucet.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio

from bulk_trio import BulkClient, Topic, TransactionSigner
from bulk_trio.literals import DomainName
from bulk_trio.sim import open_simulator

NETWORK: DomainName = "testnet"


@asynccontextmanager
async def exchange_url(url: str | None, *, seed: int | None = None) -> AsyncIterator[str]:
    """``url`` itself, or the URL of a simulator that runs for the duration of the block."""
    if url is not None:
        yield url
        return
    async with open_simulator(network=NETWORK, seed=seed) as sim:
        yield sim.url


def trading_key() -> TransactionSigner:
    """The key of ``BULK_PRIVATE_KEY``, or a fresh one (fund it with :func:`ensure_funds`)."""
    key = os.environ.get("BULK_PRIVATE_KEY")
    if key:
        return TransactionSigner(key.strip(), domain=NETWORK)
    return TransactionSigner.generate_account(domain=NETWORK)


async def ensure_funds(client: BulkClient) -> None:
    """Ask the faucet for funds when the account has none, and wait until they arrive."""
    if client.margin is not None and client.margin.total_balance > 0:
        return
    async with client.events(Topic.MARGIN) as margins:
        await client.request_faucet()
        with trio.fail_after(client.default_timeout):
            async for margin in margins:
                if margin.account == client.account and margin.total_balance > 0:
                    return


async def run_for(duration: float, stop: trio.Event | None = None) -> None:
    """Return after ``duration`` seconds, or as soon as ``stop`` is set if one is given."""
    with trio.move_on_after(duration):
        await (trio.Event() if stop is None else stop).wait()


def command_line(description: str, duration: float) -> argparse.Namespace:
    """``--url URL`` and ``--duration SECONDS``, as every example takes them."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--url", help="exchange WebSocket URL (default: an embedded simulator)")
    parser.add_argument(
        "--duration", type=float, default=duration, help=f"seconds to run (default: {duration:g})"
    )
    return parser.parse_args()
