"""Order book updates per second: bulk_trio.book.OrderBook against a naive sorted()-per-read book.

Each update applies one prebuilt one-level L2Delta (the shape l2Delta streams send; see
docs/protocol.md, "What the server sends") and then reads the top of the book (best bid and best
ask), as a quoting loop would. The naive
baseline keeps a dict keyed by float price per side and sorts it on every read; it runs in the same
process on the same messages, so the ratio is the figure to compare across machines.

Run: ``python benchmarks/bench_book.py`` (or ``nox -s bench -- book``); ``--help`` for options.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable, Sequence

from bulk_trio.book import OrderBook
from bulk_trio.enums import Side
from bulk_trio.fixedpoint import to_fixed
from bulk_trio.models import BookLevel, L2Delta, L2Snapshot

SYMBOL = "BTC-USD"
TICK_SIZE = 0.5


def make_stream(updates: int, seed: int, depth: int) -> tuple[L2Snapshot, list[L2Delta]]:
    """A starting book of ``depth`` levels a side around 100000, then one-level deltas.

    The mid wanders a tick at a time; most changes land near the top of the book (geometric
    distance), about a quarter are deletes, and levels the mid moves across are deleted, so the
    best level is replaced often, which is what makes a cached best price work for its keep.
    """
    rng = random.Random(seed)
    mid_ticks = 200_000  # 100000.0 / TICK_SIZE
    bids = {mid_ticks - 1 - i: rng.uniform(0.1, 5.0) for i in range(depth)}
    asks = {mid_ticks + 1 + i: rng.uniform(0.1, 5.0) for i in range(depth)}

    def level(ticks: int, size: float) -> tuple[BookLevel, ...]:
        return (BookLevel(ticks * TICK_SIZE, round(size, 4), rng.randint(1, 9)),)

    snapshot = L2Snapshot(
        SYMBOL,
        0,
        tuple(BookLevel(t * TICK_SIZE, round(s, 4), 1) for t, s in bids.items()),
        tuple(BookLevel(t * TICK_SIZE, round(s, 4), 1) for t, s in asks.items()),
    )
    deltas: list[L2Delta] = []
    while len(deltas) < updates:
        timestamp = len(deltas) + 1
        if rng.random() < 0.02:
            mid_ticks += rng.choice((-1, 1))
            # Levels now on the wrong side of the mid go away, one delta each.
            for t in [t for t in bids if t >= mid_ticks]:
                del bids[t]
                deltas.append(L2Delta(SYMBOL, timestamp, level(t, 0.0), ()))
            for t in [t for t in asks if t <= mid_ticks]:
                del asks[t]
                deltas.append(L2Delta(SYMBOL, timestamp, (), level(t, 0.0)))
            continue
        is_bid = rng.random() < 0.5
        distance = min(int(rng.expovariate(0.25)), 2 * depth)
        ticks = mid_ticks - 1 - distance if is_bid else mid_ticks + 1 + distance
        side = bids if is_bid else asks
        size = 0.0 if ticks in side and rng.random() < 0.35 else rng.uniform(0.01, 5.0)
        if size:
            side[ticks] = size
        else:
            del side[ticks]
        levels = level(ticks, size)
        deltas.append(
            L2Delta(SYMBOL, timestamp, levels, ())
            if is_bid
            else L2Delta(SYMBOL, timestamp, (), levels)
        )
    return snapshot, deltas[:updates]


class NaiveBook:
    """The baseline: dicts keyed by float price, sorted on every best-price read."""

    def __init__(self, snapshot: L2Snapshot) -> None:
        self.bids = {level.price: (level.size, level.count) for level in snapshot.bids}
        self.asks = {level.price: (level.size, level.count) for level in snapshot.asks}

    def apply_delta(self, delta: L2Delta) -> None:
        for levels, side in ((delta.bids, self.bids), (delta.asks, self.asks)):
            for level in levels:
                if level.size == 0:
                    side.pop(level.price, None)
                else:
                    side[level.price] = (level.size, level.count)

    def best_bid(self) -> float | None:
        return sorted(self.bids)[-1] if self.bids else None

    def best_ask(self) -> float | None:
        return sorted(self.asks)[0] if self.asks else None


def run_orderbook(snapshot: L2Snapshot, deltas: Sequence[L2Delta]) -> float:
    book = OrderBook.from_snapshot(snapshot)
    apply_delta, best_bid, best_ask = book.apply_delta, book.best_bid, book.best_ask
    start = time.perf_counter()
    for delta in deltas:
        apply_delta(delta)
        best_bid()
        best_ask()
    return time.perf_counter() - start


def run_set_level(snapshot: L2Snapshot, deltas: Sequence[L2Delta]) -> float:
    """OrderBook.set_level with the (side, price, size) already unpacked: no message handling."""
    book = OrderBook.from_snapshot(snapshot)
    updates = [(Side.BUY, d.bids[0]) if d.bids else (Side.SELL, d.asks[0]) for d in deltas]
    flat = [(side, level.price, level.size) for side, level in updates]
    set_level, best_bid, best_ask = book.set_level, book.best_bid, book.best_ask
    start = time.perf_counter()
    for side, price, size in flat:
        set_level(side, price, size)
        best_bid()
        best_ask()
    return time.perf_counter() - start


def run_core(snapshot: L2Snapshot, deltas: Sequence[L2Delta]) -> float:
    """The data structure alone: the book's private per-side dicts fed integer keys.

    No message, no float-to-tick conversion: the figure to set beside docs/performance.md's
    "dict keyed by integer ticks with a cached best price".
    """
    book = OrderBook.from_snapshot(snapshot)
    bids, asks = book._bids, book._asks
    flat = []
    for delta in deltas:
        side, level = (bids, delta.bids[0]) if delta.bids else (asks, delta.asks[0])
        flat.append((side.set, side.sign * to_fixed(level.price), level.size, level.count))
    bid_best, ask_best = bids.best_key, asks.best_key
    start = time.perf_counter()
    for set_level, key, size, count in flat:
        set_level(key, size, count)
        bid_best()
        ask_best()
    return time.perf_counter() - start


def run_naive(snapshot: L2Snapshot, deltas: Sequence[L2Delta]) -> float:
    book = NaiveBook(snapshot)
    apply_delta, best_bid, best_ask = book.apply_delta, book.best_bid, book.best_ask
    start = time.perf_counter()
    for delta in deltas:
        apply_delta(delta)
        best_bid()
        best_ask()
    return time.perf_counter() - start


def check_agreement(snapshot: L2Snapshot, deltas: Sequence[L2Delta]) -> None:
    """Both books must end in the same state, or the comparison means nothing."""
    book, naive = OrderBook.from_snapshot(snapshot), NaiveBook(snapshot)
    for delta in deltas:
        book.apply_delta(delta)
        naive.apply_delta(delta)
        if (book.best_bid(), book.best_ask()) != (naive.best_bid(), naive.best_ask()):
            raise SystemExit(f"books disagree after delta at t={delta.timestamp}")


RUNNERS: dict[str, Callable[[L2Snapshot, Sequence[L2Delta]], float]] = {
    "OrderBook.apply_delta(L2Delta)": run_orderbook,
    "OrderBook.set_level(side, px, sz)": run_set_level,
    "core: integer keys, best-key reads": run_core,
    "naive dict + sorted() per read": run_naive,
}
BASELINE = "naive dict + sorted() per read"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--depth", type=int, default=50, help="levels a side in the snapshot")
    args = parser.parse_args()

    snapshot, deltas = make_stream(args.updates, args.seed, args.depth)
    check_agreement(snapshot, deltas)
    deletes = sum(1 for d in deltas if (d.bids or d.asks)[0].size == 0)
    print(
        f"{len(deltas):,} one-level deltas ({deletes / len(deltas):.0%} deletes), "
        f"{args.depth} levels a side to start, best bid + best ask read after each; "
        f"median of {args.repeats} rounds"
    )
    # Each round runs every variant once, so load from other processes on a shared machine
    # hits them alike; the ratio is the median of the per-round ratios.
    rates: dict[str, list[float]] = {name: [] for name in RUNNERS}
    for _ in range(args.repeats):
        for name, runner in RUNNERS.items():
            rates[name].append(len(deltas) / runner(snapshot, deltas))
    baseline = rates[BASELINE]
    for name, samples in rates.items():
        ratio = statistics.median(rate / base for rate, base in zip(samples, baseline, strict=True))
        print(
            f"  {name:<36} {statistics.median(samples) / 1e6:6.2f} M updates/s"
            f"   {ratio:5.1f}x baseline"
        )


if __name__ == "__main__":
    main()
