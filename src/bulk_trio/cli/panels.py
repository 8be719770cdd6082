"""The ``watch`` and ``demo`` views as text: a :class:`MarketPicture` in, lines out.

:func:`render` lays out a full-screen frame of styled segments for :mod:`terminal`;
:func:`top_of_book`, :func:`ladder` and :func:`log_line` are the plain-text forms used when the
output is not a terminal. Pure functions: easy to test, and the same picture always reads the same.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from ..enums import ConnectionState, Side
from ..fixedpoint import to_fixed
from ..models import BookLevel, Trade
from . import text
from .picture import LogEntry, MarketPicture
from .terminal import BOLD, CYAN, DIM, GREEN, HEADER, RED, YELLOW, Line

_STATE_STYLE = {
    ConnectionState.LIVE: "1;42;30",
    ConnectionState.CONNECTING: "1;43;30",
    ConnectionState.BACKOFF: "1;41;37",
    ConnectionState.CLOSED: "1;41;37",
}
_LOG_STYLE = {"step": "1;36", "ok": GREEN, "info": "", "warn": YELLOW, "fail": "1;31"}
_TWO_COLUMNS_FROM = 90  # narrower terminals get the trades under the book
_BOOK_WIDTH = 58
_MIN_LOG_ROWS = 4
_NARROW_TRADE_ROWS = 6


# -- the full-screen frame ---------------------------------------------------------------------


def render(picture: MarketPicture, width: int, height: int) -> list[Line]:
    """One frame of the live view in at most ``height`` lines.

    What a person needs most survives a small terminal: the header, the top of the book, the
    position and at least the last few log entries. The ladder gets as many levels as fit (up to
    the picture's depth), then the trades, and the log takes whatever is left.
    """
    top = [*_header(picture, width), _ticker(picture), []]
    bottom: list[Line] = []
    if picture.orders is not None:
        bottom = [*_orders(picture), [], *_position(picture), []]
    spare = height - len(top) - len(bottom) - 1 - _MIN_LOG_ROWS
    # A ladder is a title, a column header, the spread line and two rows per level.
    book = _book(picture, max(1, min(picture.depth, (spare - 3) // 2)))
    if width >= _TWO_COLUMNS_FROM:
        middle = _side_by_side(book, _trades(picture, len(book)), _BOOK_WIDTH)
    else:
        trade_rows = min(_NARROW_TRADE_ROWS, spare - len(book) - 1)
        middle = [*book, [], *_trades(picture, trade_rows)] if trade_rows >= 2 else book
    lines = [*top, *middle, [], *bottom][: max(0, height - _MIN_LOG_ROWS)]
    return lines + _log(picture, height - len(lines), width)


def _header(picture: MarketPicture, width: int) -> list[Line]:
    state = picture.connection
    wanted: Line = [
        (f" {picture.title} ", HEADER),
        (f" {picture.symbol} ", BOLD),
        (f" {picture.url} ", DIM),
        (f" {state.value.upper()} ", _STATE_STYLE[state]),
        (f"  reconnects {picture.reconnects}", "" if picture.reconnects == 0 else YELLOW),
        (f"   {text.clock()[:8]}   Ctrl-C to stop", DIM),
    ]
    # On a narrow terminal the least needed parts go first (the hint, the URL, the title), so
    # that the connection state, which says whether the screen can be trusted, stays visible.
    line = wanted
    for least_needed in (5, 2, 0):
        if sum(len(segment) for segment, _ in line) < width:
            break
        line = [
            segment for index, segment in enumerate(line) if segment is not wanted[least_needed]
        ]
    lines = [line]
    if picture.disconnect_reason is not None and state is not ConnectionState.CLOSED:
        lines.append([(f" last disconnect: {picture.disconnect_reason}", YELLOW)])
    return lines


def _ticker(picture: MarketPicture) -> Line:
    ticker = picture.ticker
    if ticker is None:
        return [(" waiting for the first ticker...", DIM)]
    change = ticker.price_change_percent
    return [
        (" mark ", DIM),
        (text.price(ticker.mark_price), BOLD),
        ("  oracle ", DIM),
        (text.price(ticker.oracle_price), ""),
        ("  last ", DIM),
        (text.price(ticker.last_price), ""),
        ("  24h ", DIM),
        (f"{change:+.2f}%", GREEN if change >= 0 else RED),
        ("  volume ", DIM),
        (text.size(ticker.volume), ""),
        ("  open interest ", DIM),
        (text.size(ticker.open_interest), ""),
        ("  funding ", DIM),
        (f"{ticker.funding_rate * 100:+.4f}%", ""),
    ]


def _book(picture: MarketPicture, levels: int) -> list[Line]:
    title: Line = [(f" ORDER BOOK ({levels} levels a side)", HEADER)]
    if not picture.book_valid:
        return [title, [(" waiting for the book...", DIM)]]
    mine = _own_sizes(picture)
    lines: list[Line] = [title, [("          price         size  orders", DIM)]]
    for level in reversed(picture.asks[:levels]):
        lines.append(_level(level, RED, mine.get((Side.SELL, to_fixed(level.price)))))
    lines.append(_spread(picture))
    for level in picture.bids[:levels]:
        lines.append(_level(level, GREEN, mine.get((Side.BUY, to_fixed(level.price)))))
    return lines


def _own_sizes(picture: MarketPicture) -> dict[tuple[Side, int], float]:
    """Our resting size per (side, price tick), to mark our orders in the ladder."""
    sizes: dict[tuple[Side, int], float] = {}
    for order in picture.orders or ():
        key = (order.side, to_fixed(order.price))
        sizes[key] = sizes.get(key, 0.0) + order.size
    return sizes


def _level(level: BookLevel, style: str, own: float | None) -> Line:
    line: Line = [
        (f" {text.price(level.price):>14} {text.size(level.size):>12} {level.count:>7}", style)
    ]
    if own is not None:
        line.append((f"  < yours {text.size(own)}", "1;33"))
    return line


def _spread(picture: MarketPicture) -> Line:
    spread = picture.spread
    if spread is None:
        return [(" ---- one side of the book is empty ----", DIM)]
    mid = (picture.asks[0].price + picture.bids[0].price) / 2
    bps = spread / mid * 10_000 if mid else 0.0
    spread_text = text.price(spread, like=mid)
    row = f" ---- spread {spread_text} ({bps:.1f} bps)  mid {text.price(mid)} ----"
    return [(row, CYAN)]


def _trades(picture: MarketPicture, rows: int) -> list[Line]:
    lines: list[Line] = [[(" LAST TRADES", HEADER)]]
    if not picture.trades:
        lines.append([(" none yet", DIM)])
    for item in picture.trades[: max(0, rows - 1)]:
        lines.append(_trade(item))
    return lines


def _trade(item: Trade) -> Line:
    style = GREEN if item.side is Side.BUY else RED
    return [(f" {text.clock(item.time / 1000)}  ", DIM), (text.trade(item), style)]


def _orders(picture: MarketPicture) -> list[Line]:
    orders = picture.orders or ()
    lines: list[Line] = [[(f" OPEN ORDERS ({len(orders)})", HEADER)]]
    if not orders:
        lines.append([(" none", DIM)])
    for order in orders:
        style = GREEN if order.side is Side.BUY else RED
        lines.append([(" " + text.order(order), style)])
    return lines


def _position(picture: MarketPicture) -> list[Line]:
    lines: list[Line] = [[(" POSITION AND P&L", HEADER)]]
    view = picture.position
    if view is None:
        return lines
    net = picture.pnl.net if picture.pnl is not None else None
    lines.append([(" " + text.position_view(view), BOLD if view.size else "")])
    margin = picture.margin
    lines.append(
        [
            (" net P&L ", DIM),
            (text.signed_money(net), GREEN if (net or 0) >= 0 else RED),
            ("   balance ", DIM),
            (text.money(margin.total_balance if margin else None), ""),
            ("   available ", DIM),
            (text.money(margin.available_balance if margin else None), ""),
            ("   margin used ", DIM),
            (text.money(margin.margin_used if margin else None), ""),
            ("   fees ", DIM),
            (text.money(margin.fees if margin else None), ""),
        ]
    )
    return lines


def _log(picture: MarketPicture, rows: int, width: int) -> list[Line]:
    """The title and the newest entries that fit in ``rows``, long ones wrapped."""
    room = max(20, width - 16)  # what is left after the timestamp column
    body: list[Line] = []
    for entry in reversed(picture.log):
        if len(body) >= rows - 1:
            break
        style = _LOG_STYLE[entry.level]
        indent = "" if entry.level == "step" else "  "
        pieces = textwrap.wrap(
            entry.text, room, initial_indent=indent, subsequent_indent=indent + "  "
        ) or [""]
        stamp = f" {text.clock(entry.time)} "
        block: list[Line] = [[(stamp, DIM), (pieces[0], style)]]
        block += [[(" " * len(stamp), ""), (piece, style)] for piece in pieces[1:]]
        # An entry too long for what is left shows its beginning, not its end.
        body[:0] = block[: rows - 1 - len(body)]
    if rows <= 1:
        return []
    return [[(f" {picture.log_title}", HEADER)], *body]


def _side_by_side(left: Sequence[Line], right: Sequence[Line], left_width: int) -> list[Line]:
    lines: list[Line] = []
    for index in range(max(len(left), len(right))):
        line = _fit(left[index] if index < len(left) else [], left_width)
        lines.append(line + (list(right[index]) if index < len(right) else []))
    return lines


def _fit(line: Line, width: int) -> Line:
    """``line`` clipped or padded to exactly ``width`` visible characters."""
    fitted: Line = []
    room = width
    for content, style in line:
        piece = content[:room]
        room -= len(piece)
        fitted.append((piece, style))
    fitted.append((" " * room, ""))
    return fitted


# -- plain text --------------------------------------------------------------------------------


def top_of_book(picture: MarketPicture) -> str:
    """``BTC-USD bid 99,980.0 x 0.2000 | ask 100,020.0 x 0.2000 | spread 40.0 | mark ...``."""
    if not picture.book_valid:
        book = "book not received yet"
    else:
        like = picture.bids[0].price if picture.bids else None
        spread = text.price(picture.spread, like=like)
        best = f"{_best_text('bid', picture.bids)} | {_best_text('ask', picture.asks)}"
        book = f"{best} | spread {spread}"
    ticker = picture.ticker
    mark = text.price(ticker.mark_price if ticker else None)
    last = text.price(ticker.last_price if ticker else None)
    return f"{picture.symbol} {book} | mark {mark} | last {last}"


def _best_text(name: str, levels: Sequence[BookLevel]) -> str:
    if not levels:
        return f"no {name}s"
    return f"{name} {text.price(levels[0].price)} x {text.size(levels[0].size)}"


def ladder(picture: MarketPicture) -> list[str]:
    """The book as plain lines: asks (worst first), the spread, bids (best first)."""
    if not picture.book_valid:
        return [f"{picture.symbol}: no book received"]
    lines = [f"{picture.symbol} book, {picture.depth} levels a side:"]
    for level in reversed(picture.asks):
        lines.append(f"  ask {text.price(level.price):>14} {text.size(level.size):>12}")
    like = picture.bids[0].price if picture.bids else None
    lines.append(f"  ---- spread {text.price(picture.spread, like=like)} ----")
    for level in picture.bids:
        lines.append(f"  bid {text.price(level.price):>14} {text.size(level.size):>12}")
    return lines


def log_line(entry: LogEntry) -> str:
    """``12:00:01.234 step  step 4/11: fund the account``: one line of the plain output."""
    return f"{text.clock(entry.time)} {entry.level:<4}  {entry.text}"
