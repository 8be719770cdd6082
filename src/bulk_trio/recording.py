"""The record file format: what ``open_recorder`` writes and the simulator's replay reads.

Sans-IO: this module turns headers and frames into lines of bytes and back; the shell does the
files and the compression (docs/guides/replay.md describes the whole file). A recording is one
line per record, ``\\n``-terminated, UTF-8:

* line 1, the header: a JSON object ``{"format": "bulk-trio-recording", "version": 1, "url": ...,
  "symbols": [...], "started_ns": ..., "bulk_trio": "<version>"}``;
* every other line, one received frame: ``<received_ns> <payload>``, the wall-clock receive time in
  nanoseconds since the epoch, one space, then the frame's text exactly as received. A frame whose
  text contains a line break (or starts with ``"``) is written as a JSON string literal instead, so
  the payload always fits on its line and a reader can always tell the two forms apart.

A damaged line (cut off by a crash, a bad time, bad UTF-8) is returned as a
:class:`RecordingProblem` and the reader carries on with the next line: one bad line never loses
the rest of a recording.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import orjson

FORMAT_NAME = "bulk-trio-recording"
FORMAT_VERSION = 1


class RecordingError(ValueError):
    """The file is not a recording this version can read (its header is missing or wrong)."""


@attrs.frozen
class RecordingHeader:
    """The first line of a recording: where and when it was made, and by what."""

    url: str
    symbols: tuple[str, ...]
    started_ns: int
    """Wall-clock time the recording started, in nanoseconds since the epoch."""
    bulk_trio: str
    """The bulk-trio version that wrote it."""
    version: int = FORMAT_VERSION
    """The format version; this bulk-trio reads and writes version 1."""


@attrs.frozen
class RecordedFrame:
    """One frame as the client received it."""

    received_ns: int
    """Wall-clock receive time, nanoseconds since the epoch."""
    text: str


@attrs.frozen
class RecordingProblem:
    """A line that could not be read; it was skipped. ``line`` counts from 1 (the header)."""

    line: int
    reason: str


def encode_header(header: RecordingHeader) -> bytes:
    """The header line, newline included."""
    return (
        orjson.dumps(
            {
                "format": FORMAT_NAME,
                "version": header.version,
                "url": header.url,
                "symbols": list(header.symbols),
                "started_ns": header.started_ns,
                "bulk_trio": header.bulk_trio,
            }
        )
        + b"\n"
    )


def decode_header(line: bytes) -> RecordingHeader:
    """Read the header line, or raise :class:`RecordingError` saying what is wrong with it."""
    try:
        fields = orjson.loads(line)
    except orjson.JSONDecodeError:
        raise RecordingError("not a bulk-trio recording: the first line is not JSON") from None
    if not isinstance(fields, dict) or fields.get("format") != FORMAT_NAME:
        raise RecordingError(f"not a bulk-trio recording: the first line has no {FORMAT_NAME!r}")
    version = fields.get("version")
    if version != FORMAT_VERSION:
        raise RecordingError(
            f"recording format version {version!r} is not supported (this bulk-trio reads "
            f"version {FORMAT_VERSION})"
        )
    url, symbols = fields.get("url"), fields.get("symbols")
    started, written_by = fields.get("started_ns"), fields.get("bulk_trio")
    if not isinstance(url, str) or not isinstance(written_by, str):
        raise RecordingError("recording header: url and bulk_trio must be strings")
    if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
        raise RecordingError("recording header: symbols must be a list of strings")
    if isinstance(started, bool) or not isinstance(started, int):
        raise RecordingError("recording header: started_ns must be an integer")
    return RecordingHeader(url, tuple(symbols), started, written_by, version)


def encode_frame(received_ns: int, text: str) -> bytes:
    """One record line, newline included."""
    if "\n" in text or "\r" in text or text.startswith('"'):
        payload = orjson.dumps(text)
    else:
        payload = text.encode()
    return b"%d %s\n" % (received_ns, payload)


def encode_frames(received_ns: int, texts: Sequence[str]) -> bytes:
    """The lines of frames received together (one read of the socket), in order."""
    return b"".join(encode_frame(received_ns, text) for text in texts)


def decode_frame(line: bytes, number: int) -> RecordedFrame | RecordingProblem:
    """Read record line ``number`` (as the file gave it, with or without its newline)."""
    if not line.endswith(b"\n"):
        return RecordingProblem(number, "line cut off (the recording was interrupted?)")
    stamp, space, payload = line[:-1].partition(b" ")
    if not space or not stamp.isdigit():
        return RecordingProblem(number, "line does not start with a receive time and a space")
    if payload.startswith(b'"'):
        try:
            text = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return RecordingProblem(number, "quoted frame is not a valid JSON string")
        if not isinstance(text, str):  # pragma: no cover - a JSON text starting with " is a string
            return RecordingProblem(number, "quoted frame is not a string")
    else:
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError:
            return RecordingProblem(number, "frame is not valid UTF-8")
    return RecordedFrame(int(stamp), text)
