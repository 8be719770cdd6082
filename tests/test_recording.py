"""The record file format (bulk_trio.recording): lines that round-trip, and damage that is
reported line by line without losing the rest."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bulk_trio.recording import (
    FORMAT_NAME,
    RecordedFrame,
    RecordingError,
    RecordingHeader,
    RecordingProblem,
    decode_frame,
    decode_header,
    encode_frame,
    encode_frames,
    encode_header,
)

HEADER = RecordingHeader(
    url="wss://exchange-wss.bulk.trade",
    symbols=("BTC-USD", "ETH-USD"),
    started_ns=1_770_906_894_450_242_133,
    bulk_trio="0.1.0",
)
TICKER = '{"type":"ticker","topic":"ticker.BTC-USD","data":{"ticker":{"symbol":"BTC-USD"}}}'


def test_the_header_is_one_json_line_that_reads_back() -> None:
    line = encode_header(HEADER)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert orjson.loads(line)["format"] == FORMAT_NAME
    assert decode_header(line) == HEADER


@pytest.mark.parametrize(
    ("line", "complaint"),
    [
        (b"1770906894450242133 {}\n", "not JSON"),
        (b'{"format": "something else"}\n', "no 'bulk-trio-recording'"),
        (b"[1, 2]\n", "no 'bulk-trio-recording'"),
        (b'{"format": "bulk-trio-recording", "version": 2}\n', "version 2 is not supported"),
        (
            b'{"format": "bulk-trio-recording", "version": 1, "url": "ws://x", "symbols": "BTC",'
            b' "started_ns": 1, "bulk_trio": "0.1"}\n',
            "symbols must be a list",
        ),
        (
            b'{"format": "bulk-trio-recording", "version": 1, "url": "ws://x", "symbols": [],'
            b' "started_ns": "now", "bulk_trio": "0.1"}\n',
            "started_ns must be an integer",
        ),
    ],
)
def test_a_file_that_is_not_a_recording_is_refused_with_the_reason(
    line: bytes, complaint: str
) -> None:
    with pytest.raises(RecordingError, match=complaint):
        decode_header(line)


def test_a_plain_frame_is_written_verbatim_after_its_receive_time() -> None:
    line = encode_frame(1_770_906_894_450_242_133, TICKER)
    assert line == b"1770906894450242133 " + TICKER.encode() + b"\n"
    assert decode_frame(line, 2) == RecordedFrame(1_770_906_894_450_242_133, TICKER)


@pytest.mark.parametrize(
    "text", ['{"type":\n"ticker"}', "a\rb", '"quoted"', "", "é ü 中 \u2028 end", "  lead"]
)
def test_frames_that_could_break_a_line_round_trip(text: str) -> None:
    line = encode_frame(5, text)
    assert line.count(b"\n") == 1 and line.endswith(b"\n") and b"\r" not in line
    assert decode_frame(line, 7) == RecordedFrame(5, text)


@given(stamp=st.integers(min_value=0, max_value=2**64), text=st.text())
def test_any_frame_round_trips(stamp: int, text: str) -> None:
    line = encode_frame(stamp, text)
    assert line.count(b"\n") == 1
    assert decode_frame(line, 2) == RecordedFrame(stamp, text)


def test_a_batch_is_its_frames_in_order_with_one_time() -> None:
    lines = encode_frames(9, ["a", "b\nc", "d"]).splitlines(keepends=True)
    assert [decode_frame(line, n) for n, line in enumerate(lines, start=2)] == [
        RecordedFrame(9, "a"),
        RecordedFrame(9, "b\nc"),
        RecordedFrame(9, "d"),
    ]


@pytest.mark.parametrize(
    ("line", "complaint"),
    [
        (b'1770906894450242133 {"type":"tick', "cut off"),
        (b'{"type":"ticker"}\n', "receive time"),
        (b"-5 {}\n", "receive time"),
        (b"12\n", "receive time"),
        (b"12 \xff\xfe{}\n", "UTF-8"),
        (b'12 "unterminated\n', "JSON string"),
    ],
)
def test_a_damaged_line_is_a_problem_naming_its_line(line: bytes, complaint: str) -> None:
    problem = decode_frame(line, 41)
    assert isinstance(problem, RecordingProblem)
    assert problem.line == 41 and complaint in problem.reason


def test_a_damaged_line_does_not_stop_the_lines_after_it() -> None:
    body = encode_frame(1, "first") + b"garbage\n" + encode_frame(2, "third")
    read = [decode_frame(line, n) for n, line in enumerate(body.splitlines(True), start=2)]
    assert read[0] == RecordedFrame(1, "first")
    assert isinstance(read[1], RecordingProblem) and read[1].line == 3
    assert read[2] == RecordedFrame(2, "third")
