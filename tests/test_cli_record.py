"""``bulk-trio record`` against the simulator, ``bulk-trio sim --replay`` as a real process that
replays it to the first client, and their bad arguments."""

from __future__ import annotations

import gzip
import re
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import trio

from bulk_trio.cli import main
from bulk_trio.recording import RecordedFrame, decode_frame, decode_header
from bulk_trio.sim import open_simulator
from cli_support import cli
from ws_peer import open_peer

TIMEOUT = 30


def frame_types(path: Path) -> dict[str, int]:
    lines = gzip.decompress(path.read_bytes()).splitlines(keepends=True)
    counts: dict[str, int] = {}
    for number, line in enumerate(lines[1:], start=2):
        record = decode_frame(line, number)
        assert isinstance(record, RecordedFrame)
        kind = orjson.loads(record.text)["type"]
        counts[kind] = counts.get(kind, 0) + 1
    return counts


async def test_record_writes_the_markets_frames_for_its_duration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "markets.rec.gz"
    with trio.fail_after(TIMEOUT):
        async with open_simulator(seed=2, symbols=["BTC-USD", "ETH-USD"]) as sim:
            argv = ("record", "btc-usd", "ETH-USD", "--url", sim.url, "--out", str(out))
            assert await cli(*argv, "--duration", "0.6", "--candles", "1m") == 0
    header = decode_header(gzip.decompress(out.read_bytes()).split(b"\n", 1)[0] + b"\n")
    assert header.symbols == ("BTC-USD", "ETH-USD") and header.url == sim.url
    counts = frame_types(out)
    for kind in ("ticker", "l2Delta", "l2Snapshot", "trades", "candle"):
        assert counts.get(kind, 0) > 0, (kind, counts)
    err = capsys.readouterr().err
    assert f"recording BTC-USD, ETH-USD from {sim.url} to {out} for 0.6 s" in err
    written = re.search(r"(\d+) frames in", err)
    assert written is not None and int(written.group(1)) == sum(counts.values())


def test_record_will_not_overwrite_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "old.rec.gz"
    out.write_bytes(b"precious")
    assert main(["record", "BTC-USD", "--out", str(out), "--url", "ws://127.0.0.1:9"]) == 2
    assert out.read_bytes() == b"precious"
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["record", "--out", "x.gz"], id="no-symbol"),
        pytest.param(["record", "BTC-USD"], id="no-out"),
        pytest.param(["record", "BTC-USD", "--out", "x.gz", "--duration", "0"], id="duration"),
        pytest.param(["sim", "--replay", "x.gz", "--speed", "0"], id="speed-zero"),
        pytest.param(["sim", "--replay", "x.gz", "--speed", "fast"], id="speed-text"),
    ],
)
def test_bad_arguments_are_one_line_and_a_usage_status(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("bulk-trio")


def test_replaying_a_file_that_is_not_a_recording_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.rec.gz"
    assert main(["sim", "--port", "0", "--replay", str(missing)]) == 2
    not_gzip = tmp_path / "notes.txt"
    not_gzip.write_text("hello\n")
    assert main(["sim", "--port", "0", "--replay", str(not_gzip)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"bulk-trio sim: cannot read recording {missing}")
    assert lines[1].startswith(f"bulk-trio sim: cannot read recording {not_gzip}")


async def test_sim_replays_a_recording_to_the_first_client(tmp_path: Path) -> None:
    out = tmp_path / "btc.rec.gz"
    with trio.fail_after(TIMEOUT):
        async with open_simulator(seed=9, symbols=["BTC-USD"]) as sim:
            argv = ("record", "BTC-USD", "--url", sim.url, "--out", str(out), "--duration", "0.7")
            assert await cli(*argv) == 0
    recorded_marks = [
        orjson.loads(record.text)["data"]["ticker"]["markPrice"]
        for n, line in enumerate(gzip.decompress(out.read_bytes()).splitlines(True)[1:], 2)
        if isinstance(record := decode_frame(line, n), RecordedFrame)
        and record.text.startswith('{"type":"ticker"')
    ]
    command = [sys.executable, "-m", "bulk_trio", "sim", "--port", "0", "--replay", str(out)]
    with trio.fail_after(TIMEOUT):
        process = await trio.lowlevel.open_process(
            [*command, "--speed", "4"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            assert process.stdout is not None
            banner = (await process.stdout.receive_some(4096)).decode()
            match = re.search(r"ws://127\.0\.0\.1:(\d+)", banner)
            assert match, banner
            assert "BTC-USD" in banner
            async with open_peer(match.group(0)) as peer:
                await peer.subscribe({"type": "ticker", "symbol": "BTC-USD"})
                marks = []
                # After its end the replay repeats the last ticker, so this loop ends.
                while len(marks) < len(recorded_marks) + 1:
                    ticker = await peer.expect_type("ticker", "ticker.BTC-USD")
                    marks.append(ticker["data"]["ticker"]["markPrice"])
            # The replay starts on the connection, a moment before this client's subscription
            # reaches it: the first recorded ticker may go by unseen; all the others arrive.
            later = recorded_marks[1:]
            assert len(later) >= 2
            assert any(marks[i : i + len(later)] == later for i in range(len(marks)))
            process.send_signal(signal.SIGINT)
            assert await process.wait() == 130  # Ctrl-C, as for every command
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()


async def test_an_unwritable_file_is_one_line_and_a_failure_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "no such directory" / "btc.rec.gz"
    with trio.fail_after(TIMEOUT):
        async with open_simulator(seed=2, symbols=["BTC-USD"]) as sim:
            assert await cli("record", "BTC-USD", "--url", sim.url, "--out", str(out)) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines == [f"bulk-trio record: cannot write {out}: No such file or directory"]


async def test_ctrl_c_ends_a_recording_with_a_complete_file(tmp_path: Path) -> None:
    out = tmp_path / "btc.rec.gz"
    with trio.fail_after(TIMEOUT):
        async with open_simulator(seed=4, symbols=["BTC-USD"]) as sim:
            command = [sys.executable, "-m", "bulk_trio", "record", "BTC-USD", "--url", sim.url]
            process = await trio.lowlevel.open_process(
                [*command, "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            try:
                assert process.stderr is not None
                said = b""
                while b"recording BTC-USD" not in said:
                    chunk = await process.stderr.receive_some(4096)
                    assert chunk, said
                    said += chunk
                sim.step_feed()  # something to record beyond the first frames
                sim.publish_market_data()
                process.send_signal(signal.SIGINT)
                assert await process.wait() == 130
                while chunk := await process.stderr.receive_some(4096):
                    said += chunk
            finally:
                if process.returncode is None:
                    process.kill()
                    await process.wait()
    assert b"frames in" in said and b"Traceback" not in said
    counts = frame_types(out)  # gzip.decompress fails on a cut-off stream
    assert counts["l2Delta"] > 0 and counts["ticker"] > 0


def test_an_unknown_candle_interval_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["record", "BTC-USD", "--out", "x.gz", "--candles", "1m,7m", "--url", "ws://127.0.0.1:9"]
    assert main(argv) == 2
    assert "unknown interval '7m'" in capsys.readouterr().err
