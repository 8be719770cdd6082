"""Signing throughput: transactions per second for a one-limit-order transaction.

Prints, from the same run on the same machine:

* bulk-trio ``TransactionSigner.sign_transaction`` of a prebuilt order (payload dict included);
* bulk-trio building the ``LimitOrder`` and signing it, as a bot placing a new order does;
* the floor: PyNaCl ``SigningKey.sign`` of the same message bytes, nothing else (and, below it,
  ``nacl.bindings.crypto_sign``, which bulk-trio calls to skip the wrapper objects);
* the official SDK (``bulk-client`` 0.1.2, package ``bulk_api``) signing the same order the way
  its ``place_orders`` does, when a Python with that SDK is available. It runs in a subprocess so
  that bulk-trio never imports it. Make one with::

      python3 -m venv /tmp/bulk-sdk-venv
      /tmp/bulk-sdk-venv/bin/pip install bulk-client==0.1.2 requests

Each figure is the median of several timed runs. Usage::

    .venv/bin/python benchmarks/bench_signing.py [--runs 7] [--count 20000] [--sdk-python PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import nacl.signing
from nacl.bindings import crypto_sign

from bulk_trio.actions import LimitOrder
from bulk_trio.enums import Side
from bulk_trio.protocol.keys import b58decode
from bulk_trio.protocol.signing import TransactionSigner

# The seed 00 01 .. 1f of the signing vectors; nothing secret.
SEED_HEX = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
DEFAULT_SDK_PYTHON = "/tmp/bulk-sdk-venv/bin/python"

SDK_SCRIPT = """
import json, statistics, sys, time
import base58
from bulk_api.common import Side
from bulk_api.common.signer import TransactionSigner
from bulk_api.messages.trade import LimitOrder

seed_hex, runs, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
signer = TransactionSigner(base58.b58encode(bytes.fromhex(seed_hex)).decode())
order = LimitOrder(symbol="BTC-USD", side=Side.BUY, price=100000.0, size=0.1)
account = signer.public_key

def sign_once():
    # What BulkWebSocketClient.place_orders does before sending.
    nonce = time.time_ns()
    order.seqno, order.nonce, order.pubkey = 0, nonce, account
    tx = {"actions": [order.to_api()], "nonce": f"{nonce}", "account": account, "signer": account}
    return signer.sign_transaction(tx)

rates = []
for _ in range(runs):
    start = time.perf_counter()
    for _ in range(count):
        sign_once()
    rates.append(count / (time.perf_counter() - start))
print(json.dumps(statistics.median(rates)))
"""


def median_rates(
    operations: dict[str, Callable[[], object]], runs: int, count: int
) -> dict[str, float]:
    """Median rate of each operation; runs interleave so that load drift hits all alike."""
    rates: dict[str, list[float]] = {name: [] for name in operations}
    for _ in range(runs):
        for name, operation in operations.items():
            start = time.perf_counter()
            for _ in range(count):
                operation()
            rates[name].append(count / (time.perf_counter() - start))
    return {name: statistics.median(values) for name, values in rates.items()}


def sdk_rate(python: str, runs: int, count: int) -> float | None:
    if not Path(python).exists():
        return None
    completed = subprocess.run(
        [python, "-c", SDK_SCRIPT, SEED_HEX, str(runs), str(count)],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        print(f"official SDK run failed:\n{completed.stderr.strip()}", file=sys.stderr)
        return None
    return float(json.loads(completed.stdout))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--sdk-python", default=DEFAULT_SDK_PYTHON)
    args = parser.parse_args()

    seed = bytes.fromhex(SEED_HEX)
    signer = TransactionSigner(seed, domain="mainnet")
    order = LimitOrder("BTC-USD", Side.BUY, 100000.0, 0.1)
    nonce = time.time_ns()
    message = signer.message_bytes(order, nonce=nonce)
    nacl_key = nacl.signing.SigningKey(seed)
    payload = signer.sign_transaction(order, nonce=nonce)
    if nacl_key.sign(message).signature != b58decode(payload["signature"]):
        raise SystemExit("bulk-trio and the floor do not sign the same bytes")

    secret_key = seed + bytes(nacl_key.verify_key)
    floor_name = "PyNaCl SigningKey.sign of the same bytes (floor)"
    sdk_name = "official SDK bulk-client 0.1.2 (to_api + sign_transaction)"
    results: dict[str, float | None] = dict(
        median_rates(
            {
                floor_name: lambda: nacl_key.sign(message),
                "PyNaCl bindings.crypto_sign, no wrapper": lambda: crypto_sign(message, secret_key),
                "bulk-trio sign_transaction (prebuilt order)": lambda: signer.sign_transaction(
                    order
                ),
                "bulk-trio build LimitOrder + sign_transaction": lambda: signer.sign_transaction(
                    LimitOrder("BTC-USD", Side.BUY, 100000.0, 0.1)
                ),
            },
            args.runs,
            args.count,
        )
    )
    results[sdk_name] = sdk_rate(args.sdk_python, args.runs, args.count)

    floor = results[floor_name]
    sdk = results[sdk_name]
    print(f"one-limit-order transaction, {len(message)}-byte message")
    print(f"median of {args.runs} runs x {args.count} signatures\n")
    print(f"{'':58} {'tx/s':>9} {'vs floor':>9} {'vs SDK':>8}")
    for name, rate in results.items():
        if rate is None:
            print(f"{name:58} {'not measured (no SDK python at ' + args.sdk_python + ')'}")
            continue
        vs_floor = f"{rate / floor:.2f}" if floor else "-"
        vs_sdk = f"{rate / sdk:.2f}" if sdk else "-"
        print(f"{name:58} {rate:9,.0f} {vs_floor:>9} {vs_sdk:>8}")


if __name__ == "__main__":
    main()
