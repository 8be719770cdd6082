"""The replay's pacing: read a recording and feed it to :class:`~bulk_trio.sim.replay.ReplayFeed`
at the recorded rhythm, scaled by ``speed``, publishing what each frame causes.

Everything the market does is decided in the sans-IO core (bulk_trio.sim.replay); this module only
reads the file (in a worker thread, a chunk of lines at a time), waits, and publishes.
"""

from __future__ import annotations

import gzip
import logging
import time
import zlib

import trio

from ...recording import (
    RecordedFrame,
    RecordingError,
    RecordingHeader,
    decode_frame,
    decode_header,
)
from .. import frames
from ..faults import FaultState
from ..replay import ReplayFeed, ReplayOutput, replay_offset
from .server import ExchangeServer

log = logging.getLogger("bulk_trio.sim")

CHUNK_LINES = 2_000
"""Lines read per trip to the worker thread."""
PAUSE_POLL = 0.05
"""How often a paused or silenced replay looks whether it may go on."""
_READ_ERRORS = (OSError, EOFError, zlib.error)
"""What a damaged gzip stream raises (BadGzipFile is an OSError; a cut-off one an EOFError)."""


def read_header(path: str) -> RecordingHeader:
    """The recording's header; RecordingError (a ValueError) says what is wrong with the file."""
    file = _open(path)
    try:
        return _header(path, file)
    finally:
        file.close()


def _open(path: str) -> gzip.GzipFile:
    try:
        return gzip.open(path, "rb")
    except OSError as exc:
        raise RecordingError(f"cannot read recording {path}: {exc.strerror or exc}") from None


def _header(path: str, file: gzip.GzipFile) -> RecordingHeader:
    try:
        first = file.readline()
    except _READ_ERRORS as exc:
        raise RecordingError(f"cannot read recording {path}: {exc}") from None
    try:
        return decode_header(first)
    except RecordingError as exc:
        raise RecordingError(f"{path}: {exc}") from None


def check_speed(speed: float) -> float:
    if isinstance(speed, bool) or not isinstance(speed, int | float) or not speed > 0:
        raise ValueError(
            f"speed must be a number > 0 (math.inf: as fast as possible), got {speed!r}"
        )
    return float(speed)


class Replayer:
    """Plays one recording into the simulator once. Created and run by ``open_simulator``."""

    def __init__(
        self,
        path: str,
        *,
        feed: ReplayFeed,
        server: ExchangeServer,
        faults: FaultState,
        speed: float,
    ) -> None:
        self.path = path
        self.feed = feed
        self.speed = check_speed(speed)
        self.problems = 0
        """Lines of the file and frames skipped as damaged (each one logged)."""
        self.started = trio.Event()
        self.finished = trio.Event()
        self._server = server
        self._faults = faults
        self._line = 1  # the header
        self._ended = False
        self._damage: str | None = None
        # The header and the first lines are read here, before the replay runs: a bad file
        # fails open_simulator, and a short recording needs no worker thread at all.
        self._file = _open(path)
        try:
            _header(path, self._file)
            self._first_lines = self._read_chunk()
        except BaseException:
            self._file.close()
            raise

    async def run(self) -> None:
        """Wait for :attr:`started`, replay the whole file, close it, set :attr:`finished`."""
        try:
            await self.started.wait()
            log.info("simulator: replaying %s at speed %g", self.path, self.speed)
            self._report_damage()  # found while reading ahead; the replay goes up to it
            await self._replay(self._first_lines)
        finally:
            self._file.close()  # a file opened for reading: nothing to flush
        counts = self.feed.counts
        log.info(
            "simulator: replay of %s finished: %d frames, %d skipped",
            self.path,
            counts.frames,
            self.problems,
        )
        self.finished.set()

    async def _read(self) -> list[bytes]:
        if self._ended:  # no trip to a thread for nothing
            return []
        lines = await trio.to_thread.run_sync(self._read_chunk)
        self._report_damage()
        return lines

    def _report_damage(self) -> None:
        if self._damage is not None:
            self._report(self._damage)
            self._damage = None

    async def _replay(self, lines: list[bytes]) -> None:
        origin = trio.current_time()
        first_ns: int | None = None
        while lines:
            for line in lines:
                self._line += 1
                record = decode_frame(line, self._line)
                if not isinstance(record, RecordedFrame):
                    self._report(f"line {record.line}: {record.reason}")
                    continue
                if first_ns is None:
                    first_ns = record.received_ns
                # At speed inf the due time is always now: this only lets other tasks run.
                await trio.sleep_until(
                    origin + replay_offset(first_ns, record.received_ns, self.speed)
                )
                origin += await self._wait_while_held()
                self._publish(self.feed.apply(record.text, time.time_ns()))
            lines = await self._read()

    async def _wait_while_held(self) -> float:
        """While the feed is paused or silenced, wait; returns for how long (so that the
        recorded spacing resumes from here instead of catching up in a burst)."""
        began = trio.current_time()
        # pause_feed() flips a plain flag (sim/faults.py): a slow poll is all it needs.
        while self._faults.feed_paused or self._faults.silence.active(trio.current_time()):  # noqa: ASYNC110
            await trio.sleep(PAUSE_POLL)
        return trio.current_time() - began

    def _read_chunk(self) -> list[bytes]:
        """Up to CHUNK_LINES lines (runs in a worker thread). A damaged or cut-off gzip stream
        ends the replay there, reported; what came before it is replayed."""
        lines: list[bytes] = []
        if self._ended:
            return lines
        try:
            for _ in range(CHUNK_LINES):
                line = self._file.readline()
                if not line:
                    self._ended = True
                    break
                lines.append(line)
        except _READ_ERRORS as exc:
            self._ended = True
            self._damage = f"the rest of the file, which is damaged ({exc})"
        return lines

    def _report(self, problem: str) -> None:
        self.problems += 1
        log.warning("simulator: replay of %s: skipped %s", self.path, problem)

    def _publish(self, out: ReplayOutput) -> None:
        if out.problem is not None:
            self._report(f"a frame ({out.problem})")
        if out.events:
            self._server.publish_events(out.events)
        for symbol, text in out.tickers:
            self._server.publish_market_frame(frames.market_topic("ticker", symbol), text)
        if out.snapshots:
            self._server.publish_snapshots(out.snapshots)
