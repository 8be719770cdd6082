"""``open_recorder``: write every frame a client receives, with its receive time, to a file.

The file is the record format of bulk_trio.recording, gzip-compressed (docs/guides/replay.md).
The recorder taps the client's connection for the raw frame text before it is decoded, so it
records exactly what arrived; the receive path pays one list test per socket read when nothing
records. Encoding, compression and disk writes happen in a worker thread, never in the task that
receives, and a sync flush every ``flush_interval`` seconds keeps everything up to the last flush
readable if the process dies mid-recording.
"""

from __future__ import annotations

import gzip
import importlib.metadata
import os
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

import trio

from ..literals import CandleInterval
from ..recording import RecordingHeader, encode_frames, encode_header
from .client import BulkClient

__all__ = ["Recorder", "open_recorder"]

COMPRESS_LEVEL = 6
"""zlib's default level. Standard-library gzip keeps up with far more than a feed sends: the
worker thread encodes and compresses 300,000-900,000 simulator frames/s, ~25x smaller
(benchmarks/bench_replay.py), so no compression library has to earn a place as a dependency."""


def _version() -> str:
    try:
        return importlib.metadata.version("bulk-trio")
    except importlib.metadata.PackageNotFoundError:  # running from a source tree
        return "unknown"


class Recorder:
    """A running recording; get one from :func:`open_recorder`."""

    def __init__(self, path: str, header: RecordingHeader, file: gzip.GzipFile) -> None:
        self.path = path
        self.header = header
        self.frames = 0
        """Frames received so far (all of them reach the file when the block ends)."""
        self.error: OSError | None = None
        """Why writing failed, if it did: the recording stopped there (raised at the end)."""
        self._file = file
        self._pending: list[tuple[int, Sequence[str]]] = []
        self._wakeup = trio.Event()

    def __repr__(self) -> str:
        return f"<Recorder {self.path} {self.frames} frames>"

    def tap(self, batch: Sequence[str]) -> None:
        """The connection's raw-frame tap: stamp the batch and hand it to the writer."""
        if self.error is None:
            self._pending.append((time.time_ns(), batch))
            self.frames += len(batch)
            self._wakeup.set()

    async def write_until_cancelled(self, flush_interval: float) -> None:
        """Write batches as they come. A failing disk stops the recording (its error is raised
        when the block ends), never the client."""
        flushed_at = trio.current_time()
        while self.error is None:
            await self._wakeup.wait()
            self._wakeup = trio.Event()
            await self._write_pending()
            if trio.current_time() - flushed_at >= flush_interval:
                await self._in_thread(self._file.flush)
                flushed_at = trio.current_time()

    async def finish(self) -> None:
        """Write what is left and close the file; raise the write error, if there was one."""
        await self._write_pending()
        try:
            await trio.to_thread.run_sync(self._file.close)
        except OSError as exc:
            self.error = self.error or exc
        if self.error is not None:
            raise self.error

    async def _write_pending(self) -> None:
        pending, self._pending = self._pending, []
        if pending and self.error is None:
            await self._in_thread(self._write, pending)

    def _write(self, pending: list[tuple[int, Sequence[str]]]) -> None:
        self._file.write(b"".join(encode_frames(stamp, texts) for stamp, texts in pending))

    async def _in_thread(self, work: Callable[..., object], *args: object) -> None:
        try:
            await trio.to_thread.run_sync(work, *args)
        except OSError as exc:
            self.error = exc


def _header_symbols(client: BulkClient) -> tuple[str, ...]:
    """The symbols of the client's market-data subscriptions, in subscription order."""
    symbols: dict[str, None] = {}
    for subscription in client.subscriptions:
        symbol = subscription.to_wire().get("symbol")
        if isinstance(symbol, str):
            symbols[symbol] = None
    return tuple(symbols)


def _open_file(path: str, header: bytes) -> gzip.GzipFile:
    file = gzip.open(path, "wb", compresslevel=COMPRESS_LEVEL)  # noqa: SIM115 - the Recorder closes it
    try:
        file.write(header)
        file.flush()
    except BaseException:
        file.close()
        raise
    return file


@asynccontextmanager
async def open_recorder(
    client: BulkClient,
    path: str | os.PathLike[str],
    *,
    symbols: Sequence[str] | None = None,
    candles: Sequence[CandleInterval] = (),
    flush_interval: float = 1.0,
) -> AsyncIterator[Recorder]:
    """Record every frame ``client`` receives to ``path`` (gzip) for the duration of the block.

    With ``symbols``, the recorder first subscribes the client to their tickers, trades, l2Delta
    and l2Snapshot streams (and candles of each interval in ``candles``); without, it records
    whatever the client is subscribed to. Everything the connection receives is written,
    account frames and replies included; the simulator's replay uses the market data. The
    subscriptions stay when the block ends; the file is complete once it has ended.

    ``bulk-trio sim --replay`` and ``open_simulator(replay=path)`` play the file back.
    """
    if isinstance(symbols, str):
        raise ValueError("symbols must be a list of symbols, not one string")
    if not (flush_interval > 0):
        raise ValueError(
            f"flush_interval must be a positive number of seconds, got {flush_interval!r}"
        )
    path = os.fspath(path)
    header = RecordingHeader(
        url=client.url,
        symbols=tuple(symbols) if symbols is not None else _header_symbols(client),
        started_ns=time.time_ns(),
        bulk_trio=_version(),
    )
    file = await trio.to_thread.run_sync(_open_file, path, encode_header(header))
    recorder = Recorder(path, header, file)
    taps = client._connection.frame_taps
    taps.append(recorder.tap)  # before subscribing: the first frames are the books
    user_error: BaseException | None = None
    try:
        for symbol in symbols or ():
            await client.subscribe_ticker(symbol)
            await client.subscribe_trades(symbol)
            await client.subscribe_orderbook_delta(symbol)
            await client.subscribe_orderbook_snapshot(symbol)
            for interval in candles:
                await client.subscribe_candles(symbol, interval)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(recorder.write_until_cancelled, flush_interval)
            try:
                yield recorder
            except BaseException as exc:  # re-raised below, outside the nursery, unwrapped
                user_error = exc
            finally:
                nursery.cancel_scope.cancel()
    finally:
        if recorder.tap in taps:
            taps.remove(recorder.tap)
        with trio.CancelScope(shield=True):
            await recorder.finish()
    if user_error is not None:
        raise user_error
