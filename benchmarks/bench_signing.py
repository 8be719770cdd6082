"""Signing throughput: transactions per second for a one-limit-order transaction.

Prints, from the same run on the same machine:

* bulk-trio ``TransactionSigner.sign_transaction`` of a prebuilt order (payload dict included);
* bulk-trio building the ``LimitOrder`` and signing it the way ``BulkClient.place_limit_order``
  calls the signer (a one-element list and the account): what a bot's one-line order does before
  sending; and the same plus the order id the client precomputes for the reply;
* the reference signer bulk-keychain 0.1.31 (Rust, a test-only dependency of bulk-trio) signing the
  same order from the dict a user writes, with its default (which also computes the order id) and
  with order ids turned off (like for like), when it is installed;
* the floor: PyNaCl ``SigningKey.sign`` of the same message bytes, nothing else (and, below it,
  ``nacl.bindings.crypto_sign``, which bulk-trio calls to skip the wrapper objects);
* the official SDK (``bulk-client`` 0.1.2, package ``bulk_api``) signing the same order the way
  its ``place_orders`` does, when a Python with that SDK is available. It runs in a subprocess so
  that bulk-trio never imports it. Make one with::

      python3 -m venv /tmp/bulk-sdk-venv
      /tmp/bulk-sdk-venv/bin/pip install bulk-client==0.1.2 requests

Every call signs a different order (its own price from one list that all signers share, and a new
nonce from each signer's clock), as a bot's stream of orders does, so no signer can reuse work
from the previous call. Each operation runs in many short bursts, interleaved with the others so
that load from other processes hits all alike; a round's figure is its best burst (the one least
disturbed), and ``--rounds`` independent rounds give the median and the spread of each ratio in
one invocation. Usage::

    python3 dev.py bench -- signing
    .venv/bin/python benchmarks/bench_signing.py [--rounds 5] [--runs 60] [--count 100]
        [--sdk-python PATH]

On the shared 2-core development machine (docs/performance.md), like for like, bulk-trio builds
and signs at 1.04 x keychain (median of 5 rounds, each round 1.04 to 1.05); before the fast path
of a lone limit order, the same script gave 0.93 x.
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
from bulk_trio.protocol.signing import TransactionSigner, order_ids

try:
    import bulk_keychain
except ImportError:  # a test-only dependency: the benchmark still runs without it
    bulk_keychain = None

# The seed 00 01 .. 1f of the signing vectors; nothing secret.
SEED_HEX = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
DEFAULT_SDK_PYTHON = "/tmp/bulk-sdk-venv/bin/python"

SDK_SCRIPT = """
import json, sys, time
import base58
from bulk_api.common import Side
from bulk_api.common.signer import TransactionSigner
from bulk_api.messages.trade import LimitOrder

seed_hex, runs, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
signer = TransactionSigner(base58.b58encode(bytes.fromhex(seed_hex)).decode())
order = LimitOrder(symbol="BTC-USD", side=Side.BUY, price=100000.0, size=0.1)
account = signer.public_key

def sign_once(price):
    # What BulkWebSocketClient.place_orders does before sending.
    nonce = time.time_ns()
    order.price = price
    order.seqno, order.nonce, order.pubkey = 0, nonce, account
    tx = {"actions": [order.to_api()], "nonce": f"{nonce}", "account": account, "signer": account}
    return signer.sign_transaction(tx)

rates = []
for _ in range(runs):
    start = time.perf_counter()
    for index in range(count):
        sign_once(100000.0 + 0.5 * index)
    rates.append(count / (time.perf_counter() - start))
print(json.dumps(max(rates)))
"""


def best_rates(
    operations: dict[str, Callable[[float], object]], prices: list[float], runs: int
) -> dict[str, float]:
    """Best burst rate of each operation; bursts interleave so that load hits all alike.

    A burst calls the operation once per price: every call signs a different order, as a bot
    does, so nothing computed for one order can be reused for the next.
    """
    rates: dict[str, list[float]] = {name: [] for name in operations}
    for _ in range(runs):
        for name, operation in operations.items():
            start = time.perf_counter()
            for price in prices:
                operation(price)
            rates[name].append(len(prices) / (time.perf_counter() - start))
    return {name: max(values) for name, values in rates.items()}


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


def keychain_operations(seed: bytes) -> dict[str, Callable[[float], object]]:
    """keychain signing the order from the dict a user writes, with and without its order id."""
    if bulk_keychain is None:
        return {}
    with_id = bulk_keychain.Signer(bulk_keychain.Keypair(seed), "mainnet")
    without_id = bulk_keychain.Signer(bulk_keychain.Keypair(seed), "mainnet")
    without_id.set_compute_order_id(False)

    def order(price: float) -> dict[str, object]:
        return {
            "type": "order",
            "symbol": "BTC-USD",
            "is_buy": True,
            "price": price,
            "size": 0.1,
            "order_type": {"type": "limit", "tif": "GTC"},
        }

    # Like bulk-trio's, keychain's default nonce is the time in ns, new on every call.
    return {
        KEYCHAIN_DEFAULT: lambda price: with_id.sign(order(price)),
        KEYCHAIN_NO_ID: lambda price: without_id.sign(order(price)),
    }


KEYCHAIN_DEFAULT = "bulk-keychain 0.1.31 Signer.sign (default: + order id)"
KEYCHAIN_NO_ID = "bulk-keychain 0.1.31 Signer.sign, order id off"
TRIO_PREBUILT = "bulk-trio sign_transaction (prebuilt order)"
TRIO_BUILD = "bulk-trio build LimitOrder + sign_transaction"
TRIO_WITH_ID = "bulk-trio build + sign + order id"


def distinct_prices(count: int) -> list[float]:
    """``count`` different limit prices, one per signature of a burst."""
    return [100000.0 + 0.5 * index for index in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=60, help="bursts per round")
    parser.add_argument("--count", type=int, default=100, help="signatures per burst")
    parser.add_argument("--sdk-python", default=DEFAULT_SDK_PYTHON)
    args = parser.parse_args()

    seed = bytes.fromhex(SEED_HEX)
    signer = TransactionSigner(seed, domain="mainnet")
    account = signer.public_key
    prices = distinct_prices(args.count)
    nonce = time.time_ns()
    nacl_key = nacl.signing.SigningKey(seed)
    for price in (prices[0], prices[-1]):
        order = LimitOrder("BTC-USD", Side.BUY, price, 0.1)
        message = signer.message_bytes(order, nonce=nonce)
        payload = signer.sign_transaction(order, nonce=nonce)
        if nacl_key.sign(message).signature != b58decode(payload["signature"]):
            raise SystemExit("bulk-trio and the floor do not sign the same bytes")
        if bulk_keychain is not None:
            reference = bulk_keychain.Signer(bulk_keychain.Keypair(seed), "mainnet")
            theirs = reference.sign(
                {
                    "type": "order",
                    "symbol": "BTC-USD",
                    "is_buy": True,
                    "price": price,
                    "size": 0.1,
                    "order_type": {"type": "limit", "tif": "GTC"},
                },
                nonce=nonce,
            )
            if theirs["signature"] != payload["signature"]:
                raise SystemExit("bulk-trio and bulk-keychain do not sign the same bytes")

    # What a user's one-line place_limit_order does before sending: build the order, then sign
    # it the way BulkClient._post calls the signer (a one-element list and the account).
    def build_and_sign(price: float) -> object:
        built = LimitOrder("BTC-USD", Side.BUY, price, 0.1)
        return signer.sign_transaction([built], nonce=None, account=account)

    # The same plus the order id the client precomputes (session.reconcile_reply).
    def sign_with_id(price: float) -> object:
        built = LimitOrder("BTC-USD", Side.BUY, price, 0.1)
        signed = signer.sign_transaction([built], nonce=None, account=account)
        return signed, order_ids([built], nonce=signed["nonce"], account=signed["account"])

    # The prebuilt rows and the floors still take a different order (message) per call.
    prebuilt = {price: LimitOrder("BTC-USD", Side.BUY, price, 0.1) for price in prices}
    messages = {price: signer.message_bytes(prebuilt[price], nonce=nonce) for price in prices}
    secret_key = seed + bytes(nacl_key.verify_key)
    floor_name = "PyNaCl SigningKey.sign of the same bytes (floor)"
    sdk_name = "official SDK bulk-client 0.1.2 (to_api + sign_transaction)"
    operations: dict[str, Callable[[float], object]] = {
        floor_name: lambda price: nacl_key.sign(messages[price]),
        "PyNaCl bindings.crypto_sign, no wrapper": lambda price: crypto_sign(
            messages[price], secret_key
        ),
        TRIO_PREBUILT: lambda price: signer.sign_transaction(prebuilt[price]),
        TRIO_BUILD: build_and_sign,
        TRIO_WITH_ID: sign_with_id,
        **keychain_operations(seed),
    }
    rounds = [best_rates(operations, prices, args.runs) for _ in range(args.rounds)]
    results: dict[str, float | None] = {
        name: statistics.median(found[name] for found in rounds) for name in operations
    }
    results[sdk_name] = sdk_rate(args.sdk_python, args.rounds * args.runs, args.count)

    floor = results[floor_name]
    keychain = results.get(KEYCHAIN_DEFAULT)
    print(f"one-limit-order transaction, {len(messages[prices[0]])}-byte message")
    print(
        f"{args.rounds} rounds of {args.runs} interleaved bursts x {args.count} signatures, "
        "each of a different order; per operation: the median over rounds of each round's "
        "best burst\n"
    )
    print(f"{'':58} {'tx/s':>9} {'vs floor':>9} {'vs keychain':>12}")
    for name, rate in results.items():
        if rate is None:
            print(f"{name:58} {'not measured (no SDK python at ' + args.sdk_python + ')'}")
            continue
        vs_floor = f"{rate / floor:.2f}" if floor else "-"
        vs_keychain = f"{rate / keychain:.2f}" if keychain else "-"
        print(f"{name:58} {rate:9,.0f} {vs_floor:>9} {vs_keychain:>12}")
    if bulk_keychain is None:
        print("\nbulk-keychain is not installed (python3 dev.py bench installs it): no ratio")
        return
    pairs = [
        (TRIO_BUILD, KEYCHAIN_NO_ID, "both without order id: like for like"),
        (TRIO_WITH_ID, KEYCHAIN_DEFAULT, "both with order id"),
        (TRIO_BUILD, KEYCHAIN_DEFAULT, "each signer's default call"),
        (TRIO_PREBUILT, KEYCHAIN_NO_ID, "prebuilt order, keychain without order id"),
    ]
    print("\nratio bulk-trio / bulk-keychain (above 1.00: bulk-trio is faster), one per round")
    for ours, theirs, what in pairs:
        ratios = [found[ours] / found[theirs] for found in rounds]
        each = " ".join(f"{ratio:.2f}" for ratio in ratios)
        print(f"  {ours} / {theirs}: median {statistics.median(ratios):.2f}  [{each}]  ({what})")


if __name__ == "__main__":
    main()
