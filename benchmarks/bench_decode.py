"""Throughput of ``codec.decode`` on a realistic market-data mix, beside the bare JSON parsers.

The mix is what a busy client receives: about 60% one-level ``l2Delta``, 30% ``ticker`` and 10%
``trades`` frames (about 234 bytes on average), as text, the way trio-websocket hands them over.
Each contender runs over the same frames; the figure reported is the median of several runs.

    .venv/bin/python benchmarks/bench_decode.py [--frames 20000] [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable

import orjson

from bulk_trio.models import ProtocolError
from bulk_trio.protocol.codec import decode

MAKER = "FuueqefENiGEW6uMqZQgmwjzgpnb85EgUcZa5Em4PQh7"
TAKER = "FAe4sisG95oZ42w7buUn5qEE4TAnfTTFPiguZUHmhiF"
SYMBOLS = ("BTC-USD", "ETH-USD", "SOL-USD")
T0_NS = 1_770_906_894_450_242_133


def l2_delta(rng: random.Random, i: int) -> dict[str, object]:
    symbol = rng.choice(SYMBOLS)
    level = {"px": round(rng.uniform(90_000, 110_000), 1), "sz": round(rng.random() * 3, 4)}
    level["n"] = rng.randint(0, 9)
    bids, asks = ([level], []) if rng.random() < 0.5 else ([], [level])
    book = {
        "updateType": "delta",
        "symbol": symbol,
        "timestamp": T0_NS + i,
        "levels": [bids, asks],
    }
    return {"type": "l2Delta", "topic": f"l2Delta.{symbol}", "data": {"book": book}}


def ticker(rng: random.Random, i: int) -> dict[str, object]:
    symbol = rng.choice(SYMBOLS)
    mark = round(rng.uniform(90_000, 110_000), 1)
    fields = {
        "symbol": symbol,
        "lastPrice": mark - 0.5,
        "markPrice": mark,
        "oraclePrice": mark + 0.5,
        "priceChange": 2777.5,
        "priceChangePercent": 2.77,
        "highPrice": mark + 700.0,
        "lowPrice": mark - 1700.0,
        "volume": 1234.56,
        "quoteVolume": 126543210.0,
        "openInterest": 5432.1,
        "fundingRate": 0.0001,
        "timestamp": T0_NS + i,
    }
    return {"type": "ticker", "topic": f"ticker.{symbol}", "data": {"ticker": fields}}


def trades(rng: random.Random, i: int) -> dict[str, object]:
    symbol = rng.choice(SYMBOLS)
    bought = rng.random() < 0.5
    trade = {
        "s": symbol,
        "px": round(rng.uniform(90_000, 110_000), 1),
        "sz": round(rng.random(), 4),
        "time": 1_770_906_894_450 + i,
        "b": bought,
        "side": bought,
        "maker": MAKER,
        "taker": TAKER,
    }
    return {"type": "trades", "topic": f"trades.{symbol}", "data": [trade]}


def make_frames(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    frames = []
    for i in range(count):
        roll = rng.random()
        build = l2_delta if roll < 0.6 else ticker if roll < 0.9 else trades
        frames.append(orjson.dumps(build(rng, i)).decode())
    return frames


def rate(parse: Callable[[str], object], frames: list[str], runs: int) -> float:
    """Median frames per second of ``parse`` over ``frames``."""
    results = []
    for _ in range(runs):
        start = time.perf_counter()
        for frame in frames:
            parse(frame)
        results.append(len(frames) / (time.perf_counter() - start))
    return statistics.median(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    frames = make_frames(args.frames)
    failures = [r for r in map(decode, frames) if isinstance(r, ProtocolError)]
    if failures:
        raise SystemExit(f"benchmark frames do not decode: {failures[0]}")
    mean_bytes = statistics.mean(len(frame.encode()) for frame in frames)

    # Interleave the contenders run by run so that machine noise hits all of them alike.
    contenders: dict[str, Callable[[str], object]] = {
        "codec.decode": decode,
        "orjson.loads": orjson.loads,
        "json.loads": json.loads,
    }
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.runs):
        for name, parse in contenders.items():
            samples[name].append(rate(parse, frames, 1))
    medians = {name: statistics.median(values) for name, values in samples.items()}

    print(f"{len(frames)} frames, mean {mean_bytes:.0f} bytes, median of {args.runs} runs")
    base = medians["codec.decode"]
    for name, value in medians.items():
        print(f"  {name:<13} {value:>11,.0f} frames/s   decode/this = {base / value:.2f}")


if __name__ == "__main__":
    main()
