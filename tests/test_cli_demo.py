"""``bulk-trio demo``: the README's main job, run as a real process (plain lines for CI, and the
live view on a pseudo-terminal, also stopped with Ctrl-C), a failing step, and the terminal
being given back."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios

import pytest
import trio

from bulk_trio.cli import main
from bulk_trio.cli.terminal import Screen, supports_live_view
from bulk_trio.errors import ExchangeError
from bulk_trio.shell.client import BulkClient

TIMEOUT = 60
DEMO = [sys.executable, "-m", "bulk_trio", "demo"]
ENTER_ALTERNATE_SCREEN = "\x1b[?1049h"
LEAVE_ALTERNATE_SCREEN = "\x1b[?1049l"
SHOW_CURSOR = "\x1b[?25h"


async def test_plain_demo_runs_every_step_and_exits_0() -> None:
    with trio.fail_after(TIMEOUT):
        result = await trio.run_process(
            [*DEMO, "--no-live", "--duration", "1", "--seed", "11"],
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
    out, err = result.stdout.decode(), result.stderr.decode()
    assert result.returncode == 0, err
    assert err == ""
    assert "\x1b[" not in out
    steps = re.findall(r"step (\d+)/11: ", out)
    assert steps == [str(n) for n in range(1, 12)]
    for evidence in (
        "faucet credited 100,000.00 USD",
        "3 post-only bids of 0.01 BTC in one transaction",
        "one transaction: cancelled the bid at",
        "market buy of 0.02 BTC filled at",
        "fill: buy 0.0200 BTC-USD",
        "net P&L",
        "one cancel-all cancelled",
        "closed by a reduce-only market sell: realized P&L",
        "demo complete: no open orders, position closed",
    ):
        assert evidence in out, evidence


def test_a_failing_step_is_one_line_and_status_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def dry_faucet(self: BulkClient, *args: object, **kwargs: object) -> None:
        raise ExchangeError("the exchange refused the request: the faucet is dry")

    monkeypatch.setattr(BulkClient, "request_faucet", dry_faucet)
    assert main(["demo", "--no-live", "--duration", "0.2"]) == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "bulk-trio demo: step 4/11 (fund the account from the faucet) failed: "
        "the exchange refused the request: the faucet is dry"
    ]
    assert "step 5/11" not in captured.out


def test_without_a_terminal_the_demo_falls_back_to_plain_lines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo", "--duration", "0.2", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert "\x1b[" not in out
    assert "demo complete" in out


# -- the live view on a pseudo-terminal ----------------------------------------------------------


async def run_on_terminal(
    argv: list[str], *, interrupt_when: str | None = None
) -> tuple[int, str, str]:
    """Run ``argv`` with a 120x40 pseudo-terminal as stdout; return its status, output and
    standard error.

    With ``interrupt_when``, send SIGINT once the output contains that text.
    """
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    output = b""
    try:
        process = await trio.lowlevel.open_process(
            argv, stdin=subprocess.DEVNULL, stdout=terminal, stderr=subprocess.PIPE
        )
        os.close(terminal)
        terminal = -1
        stream = trio.lowlevel.FdStream(os.dup(controller))
        try:
            interrupted = False
            while True:
                try:
                    chunk = await stream.receive_some(65536)
                except trio.BrokenResourceError:  # EIO: the process closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
                if interrupt_when and not interrupted and interrupt_when.encode() in output:
                    process.send_signal(signal.SIGINT)
                    interrupted = True
            status = await process.wait()
            assert process.stderr is not None
            errors = await process.stderr.receive_some(65536)
        finally:
            await stream.aclose()
            if process.returncode is None:
                process.kill()
                await process.wait()
    finally:
        os.close(controller)
        if terminal != -1:
            os.close(terminal)
    return status, output.decode(errors="replace"), errors.decode()


async def test_live_demo_draws_the_view_and_restores_the_terminal() -> None:
    with trio.fail_after(TIMEOUT):
        status, output, errors = await run_on_terminal([*DEMO, "--duration", "1", "--seed", "4"])
    assert status == 0, errors
    assert errors == ""
    assert output.startswith(ENTER_ALTERNATE_SCREEN)
    view, _, after = output.rpartition(LEAVE_ALTERNATE_SCREEN)
    assert SHOW_CURSOR in view[-20:]
    for panel in ("ORDER BOOK", "LAST TRADES", "OPEN ORDERS", "POSITION AND P&L", "STEPS"):
        assert panel in view
    # Back on the normal screen, the story stays in the scrollback.
    assert "\x1b[" not in after
    assert "step 11/11: close the position" in after
    assert "demo complete" in after


async def test_ctrl_c_in_the_live_demo_restores_the_terminal() -> None:
    with trio.fail_after(TIMEOUT):
        status, output, errors = await run_on_terminal(
            [*DEMO, "--duration", "6"], interrupt_when="step 2/11"
        )
    assert status == 130
    assert errors == "bulk-trio demo: interrupted\n"
    assert ENTER_ALTERNATE_SCREEN in output
    assert LEAVE_ALTERNATE_SCREEN in output
    assert output.rindex(LEAVE_ALTERNATE_SCREEN) > output.rindex("\x1b[H")  # after the last draw
    assert "demo complete" not in output


def test_the_screen_is_given_back_when_the_view_fails() -> None:
    terminal = io.StringIO()
    with pytest.raises(KeyboardInterrupt), Screen(terminal):
        raise KeyboardInterrupt
    written = terminal.getvalue()
    assert written.startswith(ENTER_ALTERNATE_SCREEN)
    assert written.endswith(SHOW_CURSOR + LEAVE_ALTERNATE_SCREEN)


def test_only_a_real_terminal_gets_the_live_view(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not supports_live_view(io.StringIO())
    controller, terminal = pty.openpty()
    try:
        with os.fdopen(os.dup(terminal), "w") as stream:
            monkeypatch.setenv("TERM", "xterm-256color")
            assert supports_live_view(stream)
            monkeypatch.setenv("TERM", "dumb")
            assert not supports_live_view(stream)
    finally:
        os.close(controller)
        os.close(terminal)
