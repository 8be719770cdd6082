"""``bulk-trio record SYMBOL... --out FILE``: record markets to a file the simulator can replay.

It subscribes to each symbol's tickers, trades, l2Delta and l2Snapshot streams (and candles with
``--candles``) and writes every frame with its receive time (docs/guides/replay.md), reconnecting
for as long as it runs. ``--duration`` or Ctrl-C ends it; either way the file is complete.
``bulk-trio sim --replay FILE`` plays it back.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import get_args

import attrs
import trio

from ..literals import CandleInterval
from ..shell.recorder import Recorder, open_recorder
from .connect import market_symbol, open_command_client
from .endpoint import Endpoint, resolve_endpoint
from .runtime import EXIT_OK, CommandFailed, UsageError, run_interruptible


@attrs.frozen
class RecordOptions:
    endpoint: Endpoint
    symbols: tuple[str, ...]
    out: str
    duration: float | None
    candles: tuple[CandleInterval, ...]
    timeout: float


def run_record(args: argparse.Namespace) -> int:
    out = os.fspath(args.out)
    if os.path.exists(out):
        raise UsageError(f"{out} already exists: choose another --out (nothing was recorded)")
    options = RecordOptions(
        endpoint=resolve_endpoint(args.network, args.url, signing=False),
        symbols=tuple(dict.fromkeys(market_symbol(symbol) for symbol in args.symbols)),
        out=out,
        duration=args.duration,
        candles=_intervals(args.candles or ()),
        timeout=args.timeout,
    )
    recorders: list[Recorder] = []
    try:
        run_interruptible(lambda: _record(options, recorders))
    except OSError as problem:  # the file: network failures arrive as ConnectError
        raise CommandFailed(f"cannot write {out}: {problem.strerror or problem}") from None
    finally:
        for recorder in recorders:
            print(f"bulk-trio record: {recorder.frames} frames in {recorder.path}", file=sys.stderr)
    return EXIT_OK


def _intervals(texts: Sequence[str]) -> tuple[CandleInterval, ...]:
    known: tuple[CandleInterval, ...] = get_args(CandleInterval)
    intervals: list[CandleInterval] = []
    for text in texts:
        if text not in known:
            raise UsageError(f"--candles: unknown interval {text!r} (one of {', '.join(known)})")
        intervals.append(known[known.index(text)])  # the Literal itself, not the user's str
    return tuple(intervals)


async def _record(options: RecordOptions, recorders: list[Recorder]) -> None:
    async with (
        open_command_client(options.endpoint, timeout=options.timeout, reconnect=True) as client,
        open_recorder(
            client, options.out, symbols=options.symbols, candles=options.candles
        ) as recorder,
    ):
        recorders.append(recorder)
        until = "until Ctrl-C" if options.duration is None else f"for {options.duration:g} s"
        print(
            f"bulk-trio record: recording {', '.join(options.symbols)} from "
            f"{options.endpoint.url} to {options.out} {until}",
            file=sys.stderr,
            flush=True,
        )
        if options.duration is None:
            await trio.sleep_forever()
        await trio.sleep(options.duration)
