"""Replay throughput: recorded frames per second through the replay feed, against decoding alone.

The stream is what a client subscribed to one symbol's ticker, trades, l2Delta and l2Snapshot
streams receives from the simulator's synthetic market (one ticker and one snapshot per feed step),
built without sockets. Three figures, measured in one process on the same frames:

* ``decode``: ``bulk_trio.protocol.codec.decode`` of each frame, the baseline (a replay must at
  least read every frame);
* ``record lines``: writing each frame as a record line and reading it back (bulk_trio.recording);
* ``record to gzip``: what the recorder's worker thread does, encoding batches of 50 frames and
  compressing them at the recorder's level (the client's receiving task only queues the batch);
* ``replay``: ``ReplayFeed.apply`` of each frame into a fresh engine (decode, rebuild the book,
  keep the house orders in step), i.e. how fast ``speed=math.inf`` can go before the server's cost.

Run: ``python benchmarks/bench_replay.py`` (or ``nox -s bench -- replay``); ``--help`` for options.
"""

from __future__ import annotations

import argparse
import gzip
import io
import statistics
import time
from collections.abc import Callable

from bulk_trio.protocol.codec import decode
from bulk_trio.recording import decode_frame, encode_frame, encode_frames
from bulk_trio.shell.recorder import COMPRESS_LEVEL
from bulk_trio.sim import frames
from bulk_trio.sim.engine import Engine
from bulk_trio.sim.events import LevelChanged, TradeExecuted
from bulk_trio.sim.feed import MarketFeed
from bulk_trio.sim.replay import ReplayFeed

SYMBOL = "BTC-USD"


def recorded_stream(steps: int, seed: int) -> list[str]:
    """The frames a recording client would have received over ``steps`` feed steps."""
    engine = Engine([SYMBOL], initial_prices={SYMBOL: 100_000.0})
    feed = MarketFeed(engine, seed=seed, takers=True)
    feed.open(0)
    bids, asks = engine.book(SYMBOL)
    texts = [frames.book("l2Delta", SYMBOL, bids, asks, timestamp=0)]
    for step in range(1, steps + 1):
        now_ns = step * 250_000_000
        trades: list[TradeExecuted] = []
        for event in feed.step(now_ns):
            if isinstance(event, LevelChanged):
                texts.append(frames.level_delta(event, timestamp=now_ns))
            elif isinstance(event, TradeExecuted):
                trades.append(event)
        if trades:
            texts.append(frames.trades(SYMBOL, trades))
        texts.append(frames.ticker(SYMBOL, engine.market(SYMBOL), timestamp=now_ns))
        texts.append(frames.book("l2Snapshot", SYMBOL, *engine.book(SYMBOL), timestamp=now_ns))
    return texts


def decode_all(texts: list[str]) -> None:
    for text in texts:
        decode(text)


def round_trip_lines(texts: list[str]) -> None:
    for number, text in enumerate(texts, start=2):
        decode_frame(encode_frame(1_770_000_000_000_000_000 + number, text), number)


def record_to_gzip(texts: list[str]) -> None:
    with gzip.GzipFile(fileobj=io.BytesIO(), mode="wb", compresslevel=COMPRESS_LEVEL) as file:
        for start in range(0, len(texts), 50):
            file.write(encode_frames(1_770_000_000_000_000_000, texts[start : start + 50]))


def replay_all(texts: list[str]) -> None:
    feed = ReplayFeed(Engine([SYMBOL], initial_prices={SYMBOL: 100_000.0}))
    feed.open(0)
    for number, text in enumerate(texts):
        feed.apply(text, number)


def rate(work: Callable[[list[str]], None], texts: list[str], repeats: int) -> float:
    """Median frames per second over ``repeats`` runs."""
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        work(texts)
        rates.append(len(texts) / (time.perf_counter() - started))
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2_000, help="feed steps (default: 2000)")
    parser.add_argument("--repeats", type=int, default=5, help="runs per figure (default: 5)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    texts = recorded_stream(args.steps, args.seed)
    raw = b"".join(encode_frame(1_770_000_000_000_000_000, text) for text in texts)
    packed = gzip.compress(raw, compresslevel=COMPRESS_LEVEL)
    print(
        f"{len(texts)} recorded frames ({args.steps} feed steps of one symbol): "
        f"{len(raw) / 1e6:.1f} MB of lines, {len(packed) / 1e6:.2f} MB gzipped "
        f"({len(raw) / len(packed):.1f}x smaller)"
    )
    baseline = rate(decode_all, texts, args.repeats)
    print(f"decode (baseline)  {baseline:>10,.0f} frames/s")
    for name, work in (
        ("record lines", round_trip_lines),
        ("record to gzip", record_to_gzip),
        ("replay", replay_all),
    ):
        figure = rate(work, texts, args.repeats)
        print(f"{name:<18} {figure:>10,.0f} frames/s  ({figure / baseline:.2f}x decode)")


if __name__ == "__main__":
    main()
