"""``bulk-trio watch``: plain output against the simulator (in-process and as a real process that
sees its connection dropped and restored), its errors, and the live view's frames."""

from __future__ import annotations

import codecs
import io
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest
import trio

from bulk_trio.actions import LimitOrder
from bulk_trio.cli import main, text
from bulk_trio.cli.panels import render
from bulk_trio.cli.picture import LogEntry, MarketPicture
from bulk_trio.cli.terminal import Line, Screen, paint_line
from bulk_trio.enums import ConnectionState, OrderStatus, Side, TimeInForce
from bulk_trio.inventory import Pnl, PositionView
from bulk_trio.models import BookLevel, Margin, OrderState, Ticker, Trade
from bulk_trio.protocol.signing import TransactionSigner
from bulk_trio.sim import Simulator, open_simulator
from cli_support import cli

TIMEOUT = 30
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with open_simulator(seed=5) as simulator:
        yield simulator


async def test_plain_watch_prints_the_book_and_ends_with_the_ladder(
    sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ("watch", "btc-usd", "--url", sim.url, "--depth", "3", "--duration", "0.3")
    assert await cli(*argv) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    out = captured.out
    assert "\x1b[" not in out  # not a terminal: no escape sequences
    assert f"watching BTC-USD on {sim.url}" in out
    assert re.search(r"book  BTC-USD bid [\d,.]+ x [\d.]+ \| ask [\d,.]+ x [\d.]+ \| spread", out)
    ladder = out[out.index("BTC-USD book, 3 levels a side:") :].splitlines()
    assert [line.split()[0] for line in ladder[1:]] == ["ask"] * 3 + ["----"] + ["bid"] * 3
    asks = [float(line.split()[1].replace(",", "")) for line in ladder[1:4]]
    bids = [float(line.split()[1].replace(",", "")) for line in ladder[5:8]]
    assert asks == sorted(asks, reverse=True) and bids == sorted(bids, reverse=True)
    assert asks[-1] > bids[0]


async def test_watch_of_an_unknown_symbol_is_one_line(
    sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await cli("watch", "DOGE-USD", "--url", sim.url, "--duration", "5") == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("bulk-trio watch: the exchange does not list DOGE-USD")


def test_bad_depth_and_url_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["watch", "BTC-USD", "--depth", "0"]) == 2
    assert main(["watch", "BTC-USD", "--url", "127.0.0.1:12001"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    assert "depth must be between 1 and 100" in lines[0]
    assert "--url must be a ws:// or wss:// URL" in lines[1]


class Transcript:
    """What a process prints, line by line. Each search starts after the line the previous one
    matched, so lines that arrive together in one read are all seen."""

    def __init__(self, stream: trio.abc.ReceiveStream) -> None:
        self._stream = stream
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self.lines: list[str] = []
        self._partial = ""
        self._checked = 0

    async def until(self, pattern: str) -> str:
        """Read until a line matches ``pattern``; return it."""
        while True:
            while self._checked < len(self.lines):
                line = self.lines[self._checked]
                self._checked += 1
                if re.search(pattern, line):
                    return line
            chunk = await self._stream.receive_some(65536)
            printed = "".join(self.lines) + self._partial
            assert chunk, f"the process ended before printing {pattern!r}:\n{printed}"
            *complete, self._partial = (self._partial + self._decoder.decode(chunk)).split("\n")
            self.lines.extend(line + "\n" for line in complete)


async def test_watch_shows_trades_and_reconnects_visibly(sim: Simulator) -> None:
    taker = TransactionSigner.generate_account(domain="testnet").public_key
    sim.fund(taker, 100_000.0)
    command = [sys.executable, "-m", "bulk_trio", "watch", "BTC-USD", "--url", sim.url]
    with trio.fail_after(TIMEOUT):
        process = await trio.lowlevel.open_process(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            assert process.stdout is not None and process.stderr is not None
            printed = Transcript(process.stdout)
            await printed.until("watching BTC-USD")

            # Take exactly the best ask, so that the trade is one line of known size and price (a
            # fixed size could sweep two levels and print as two smaller trades).
            (price, size, _), *_ = sim.engine.book("BTC-USD")[1]
            take = LimitOrder("BTC-USD", Side.BUY, price, size, time_in_force="IOC")
            sim.submit_trusted(taker, [take])
            taken = re.escape(f"{text.size(size)} @ {text.price(price)}")
            await printed.until(rf"trade BTC-USD buy\s+{taken}")

            sim.drop_connections()
            await printed.until("connection backoff")
            await printed.until(r"connection live again \(reconnect #1\)")
            await printed.until(r"book  BTC-USD bid")

            # Ctrl-C ends watch like every command: status 130 and one line, no traceback.
            process.send_signal(signal.SIGINT)
            assert await process.wait() == 130
            errors = (await process.stderr.receive_some(65536)).decode()
            assert errors == "bulk-trio watch: interrupted\n"
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()


# -- the live view -----------------------------------------------------------------------------


def picture(**changes: Any) -> MarketPicture:
    now = time.time()
    order = OrderState(
        order_id="7YzQnbw3EBKzYwv2ARLbAAaNkEK2a8YoyhZzWpDEWcP4",
        symbol="BTC-USD",
        side=Side.BUY,
        status=OrderStatus.RESTING,
        price=99_950.0,
        size=0.01,
        original_size=0.01,
        time_in_force=TimeInForce.ALO,
    )
    base = MarketPicture(
        title="bulk-trio demo",
        url="ws://127.0.0.1:12001",
        symbol="BTC-USD",
        connection=ConnectionState.LIVE,
        ticker=Ticker("BTC-USD", 100_001.0, 100_000.5, 100_000.0),
        bids=tuple(BookLevel(99_980.0 - 10 * i, 0.2, 1) for i in range(10)),
        asks=tuple(BookLevel(100_020.0 + 10 * i, 0.3, 2) for i in range(10)),
        book_valid=True,
        depth=10,
        trades=(Trade("BTC-USD", 100_020.0, 0.05, Side.BUY, int(now * 1000)),),
        log_title="STEPS",
        log=tuple(LogEntry(now, "ok", f"entry number {i} " + "x" * 150) for i in range(30)),
        orders=(order,),
        position=PositionView(
            symbol="BTC-USD", size=0.02, entry_price=100_010.0, realized_pnl=0.0, mark=100_000.5
        ),
        pnl=Pnl(realized=0.0, unrealized=-0.19),
        margin=Margin(total_balance=100_000.0, available_balance=99_600.0, fees=0.6),
    )
    return attrs.evolve(base, **changes)


def visible(lines: list[Line], width: int) -> list[str]:
    """What a terminal ``width`` columns wide shows of ``lines``."""
    return [ANSI.sub("", paint_line(line, width)) for line in lines]


@pytest.mark.parametrize(("width", "height"), [(120, 40), (80, 24), (200, 60), (40, 12)])
def test_a_frame_fits_the_terminal_and_keeps_the_newest_log(width: int, height: int) -> None:
    frame = render(picture(), width, height)
    assert len(frame) <= height
    assert "entry number 29" in "\n".join(visible(frame, 10_000))


def test_the_frame_shows_book_trades_orders_position_and_log() -> None:
    screen = "\n".join(visible(render(picture(), 120, 40), 119))
    for expected in (
        "bulk-trio demo",
        " LIVE ",
        "ORDER BOOK",
        "100,020.0",  # best ask
        "99,980.0",  # best bid
        "spread 40.0 (4.0 bps)",
        "99,950.0       0.2000       1  < yours 0.0100",  # our order marked in the ladder
        "LAST TRADES",
        "buy  0.0500 @ 100,020.0",
        "OPEN ORDERS (1)",
        "7YzQnbw3..  BTC-USD buy  0.0100 @ 99,950.0 ALO  resting",
        "BTC-USD long 0.0200 @ 100,010.0",
        "net P&L -0.19",
        "STEPS",
        "entry number 29",  # the newest log entry
    ):
        assert expected in screen, expected
    assert "entry number 0 " not in screen  # the oldest has scrolled away


def test_the_frame_shows_a_lost_connection() -> None:
    lost = picture(
        connection=ConnectionState.BACKOFF,
        reconnects=2,
        disconnect_reason="server closed the connection",
        book_valid=False,
        bids=(),
        asks=(),
    )
    screen = "\n".join(visible(render(lost, 120, 40), 119))
    assert " BACKOFF " in screen
    assert "reconnects 2" in screen
    assert "last disconnect: server closed the connection" in screen
    assert "waiting for the book" in screen


@pytest.mark.parametrize("width", [120, 60, 40, 24])
def test_a_narrow_terminal_still_shows_the_connection_state(width: int) -> None:
    lost = picture(connection=ConnectionState.BACKOFF, reconnects=3)
    header = visible(render(lost, width, 24), width - 1)[0]
    assert "BTC-USD" in header and " BACKOFF " in header
    assert ("reconnects 3" in header) == (width >= 40)
    # What goes first on a narrow terminal is what a person needs least.
    assert ("Ctrl-C to stop" in header) == (width >= 120)


def draw_once(monkeypatch: pytest.MonkeyPatch, no_color: str | None) -> str:
    if no_color is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", no_color)
    stream = io.StringIO()
    with Screen(stream) as screen:
        screen.draw(render(picture(connection=ConnectionState.BACKOFF), 120, 40))
    return stream.getvalue()


def test_no_color_draws_without_colours(monkeypatch: pytest.MonkeyPatch) -> None:
    colours = re.compile(r"\x1b\[(?:[0-9]+;)*(?:3[0-9]|4[0-9]|9[0-7])(?:;[0-9]+)*m")
    assert colours.search(draw_once(monkeypatch, None))
    assert colours.search(draw_once(monkeypatch, ""))  # empty means unset (no-color.org)
    plain = draw_once(monkeypatch, "1")
    assert not colours.search(plain)
    assert "\x1b[1m" in plain  # bold is not a colour: headings stay readable
    assert " BACKOFF " in ANSI.sub("", plain)
