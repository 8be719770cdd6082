"""A full-screen terminal view drawn with plain ANSI escape sequences (no curses, no extra package).

A frame is a list of lines, each a list of ``(text, style)`` segments, where ``style`` is an SGR
parameter string such as ``"1;32"`` (bold green) or ``""``. :class:`Screen` switches to the
terminal's alternate screen, hides the cursor, redraws whole frames in place, and puts everything
back when its ``with`` block ends, whether it ends normally, with an error or on Ctrl-C.
With ``NO_COLOR`` set (https://no-color.org) it draws without colours; bold and dim stay.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TextIO

import trio

Segment = tuple[str, str]
Line = list[Segment]

BOLD = "1"
DIM = "2"
RED = "31"
GREEN = "32"
YELLOW = "33"
CYAN = "36"
HEADER = "1;36"

_CSI = "\x1b["
_ENTER = _CSI + "?1049h" + _CSI + "?25l" + _CSI + "H" + _CSI + "2J"  # alt screen, hide cursor
_LEAVE = _CSI + "0m" + _CSI + "?25h" + _CSI + "?1049l"  # reset style, show cursor, main screen
_FALLBACK_SIZE = (100, 30)


def supports_live_view(stream: TextIO) -> bool:
    """True when ``stream`` is a terminal that understands cursor movement."""
    try:
        interactive = stream.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False
    return interactive and os.environ.get("TERM", "") != "dumb"


def colour_wanted() -> bool:
    """False when the user set ``NO_COLOR`` to anything but the empty string."""
    return not os.environ.get("NO_COLOR", "")


def without_colour(style: str) -> str:
    """``style`` without its colour parameters (SGR 30-49 and 90-107), keeping bold, dim, ..."""
    kept = [p for p in style.split(";") if p and not (30 <= int(p) <= 49 or 90 <= int(p) <= 107)]
    return ";".join(kept)


def paint_line(line: Line, width: int, *, colour: bool = True) -> str:
    """``line`` as escape sequences, clipped to ``width`` visible characters."""
    out: list[str] = []
    room = width
    for text, style in line:
        if room <= 0:
            break
        piece = text[:room]
        room -= len(piece)
        sgr = style if colour else without_colour(style)
        out.append(f"{_CSI}{sgr}m{piece}{_CSI}0m" if sgr else piece)
    return "".join(out)


class Screen:
    """The terminal, taken over for a live view. Use as a context manager."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._active = False
        self._colour = colour_wanted()

    def __enter__(self) -> Screen:
        self._write(_ENTER)
        self._active = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.restore()

    def restore(self) -> None:
        """Give the terminal back as it was (idempotent)."""
        if self._active:
            self._active = False
            self._write(_LEAVE)

    def size(self) -> tuple[int, int]:
        """(columns, rows), read on every frame so that a resized window is followed."""
        try:
            columns, rows = os.get_terminal_size(self._stream.fileno())
        except (AttributeError, ValueError, OSError):
            return _FALLBACK_SIZE
        return (columns or _FALLBACK_SIZE[0], rows or _FALLBACK_SIZE[1])

    def draw(self, lines: Sequence[Line]) -> None:
        """Replace the screen's content with ``lines`` in one write (no flicker)."""
        if not self._active:
            return
        columns, rows = self.size()
        # One column short of the edge: writing the last column makes some terminals wrap.
        painted = [
            paint_line(line, columns - 1, colour=self._colour) + _CSI + "K" for line in lines[:rows]
        ]
        self._write(_CSI + "H" + "\r\n".join(painted) + _CSI + "J")

    def _write(self, text: str) -> None:
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):
            pass  # the terminal went away; there is nobody left to show anything to


async def keep_drawing(
    screen: Screen, frame: Callable[[int, int], Sequence[Line]], interval: float = 0.2
) -> None:
    """Redraw ``frame(columns, rows)`` every ``interval`` seconds until cancelled."""
    while True:
        columns, rows = screen.size()
        screen.draw(frame(columns, rows))
        await trio.sleep(interval)
