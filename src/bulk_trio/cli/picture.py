"""What the ``watch`` and ``demo`` views show, gathered from a connected client.

The client keeps the latest state (books, tickers, orders, positions); :func:`take_picture` copies
what a view needs into one immutable :class:`MarketPicture` a few times a second. Two things the
client does not keep are kept here: the recent public trades (:class:`TradeTape`) and a log of what
happened (:class:`EventLog`), which the live view shows as a panel and the plain mode prints as
timestamped lines.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Literal

import attrs
import trio

from ..enums import ConnectionState, Side, Topic
from ..inventory import Pnl, PositionView
from ..models import BookLevel, Fill, Margin, OrderState, Ticker, Trade
from ..shell.client import BulkClient
from . import text
from .runtime import rerouted_logger

LogLevel = Literal["step", "ok", "info", "warn", "fail"]


@attrs.frozen
class LogEntry:
    time: float
    """Seconds since the epoch."""
    level: LogLevel
    text: str


class EventLog:
    """The last ``capacity`` entries; ``echo`` (if given) also receives each one as it is added."""

    def __init__(self, capacity: int = 500, echo: Callable[[LogEntry], None] | None = None) -> None:
        self._entries: deque[LogEntry] = deque(maxlen=capacity)
        self._echo = echo

    def add(self, level: LogLevel, text: str) -> None:
        entry = LogEntry(time.time(), level, text)
        self._entries.append(entry)
        if self._echo is not None:
            self._echo(entry)

    def step(self, text: str) -> None:
        self.add("step", text)

    def ok(self, text: str) -> None:
        self.add("ok", text)

    def info(self, text: str) -> None:
        self.add("info", text)

    def warn(self, text: str) -> None:
        self.add("warn", text)

    def entries(self) -> tuple[LogEntry, ...]:
        return tuple(self._entries)

    @contextlib.contextmanager
    def capture(
        self, logger_name: str = "bulk_trio", level: int = logging.WARNING
    ) -> Iterator[None]:
        """Route ``logger_name``'s records here instead of stderr for the duration of the block.

        While a live view owns the terminal a log line written to stderr would tear it, so the
        library's warnings (a disconnect, a refused request) become entries of the view's log.
        """
        with rerouted_logger([_LogHandler(self)], propagate=False, level=level, name=logger_name):
            yield


class _LogHandler(logging.Handler):
    def __init__(self, log: EventLog) -> None:
        super().__init__()
        self._log = log

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # a bad format string in someone's log call must not stop the view
            text = str(record.msg)
        self._log.add("warn" if record.levelno >= logging.WARNING else "info", text)


class TradeTape:
    """The most recent public trades, newest first."""

    def __init__(self, capacity: int = 50) -> None:
        self._trades: deque[Trade] = deque(maxlen=capacity)

    def add(self, trades: Iterable[Trade]) -> None:
        for item in trades:
            self._trades.appendleft(item)

    def recent(self) -> tuple[Trade, ...]:
        return tuple(self._trades)

    async def follow(
        self,
        client: BulkClient,
        on_trades: Callable[[list[Trade]], None] | None = None,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Keep the tape from ``client``'s trades (start with ``nursery.start``: the channel is
        open once it returns, so no trade of a later subscription is missed)."""
        async with client.events(Topic.TRADES, name="trade tape") as batches:
            task_status.started()
            async for batch in batches:
                self.add(batch)
                if on_trades is not None:
                    on_trades(batch)


@attrs.frozen
class MarketPicture:
    """Everything one frame of a view shows. ``orders`` is None for a view that does not trade."""

    title: str
    url: str
    symbol: str
    connection: ConnectionState
    reconnects: int = 0
    disconnect_reason: str | None = None
    ticker: Ticker | None = None
    bids: tuple[BookLevel, ...] = ()
    asks: tuple[BookLevel, ...] = ()
    book_valid: bool = False
    depth: int = 10
    trades: tuple[Trade, ...] = ()
    log_title: str = "EVENTS"
    log: tuple[LogEntry, ...] = ()
    orders: tuple[OrderState, ...] | None = None
    position: PositionView | None = None
    pnl: Pnl | None = None
    margin: Margin | None = None

    @property
    def spread(self) -> float | None:
        if not self.bids or not self.asks:
            return None
        return self.asks[0].price - self.bids[0].price


def take_picture(
    client: BulkClient | None,
    *,
    title: str,
    url: str,
    symbol: str,
    depth: int,
    tape: TradeTape,
    log: EventLog,
    log_title: str = "EVENTS",
    trading: bool = False,
) -> MarketPicture:
    """A picture of ``client`` now; with no client yet, a picture of a connection being made."""
    if client is None:
        return MarketPicture(
            title,
            url,
            symbol,
            ConnectionState.CONNECTING,
            depth=depth,
            log_title=log_title,
            log=log.entries(),
            orders=() if trading else None,
        )
    book = client.get_book(symbol)
    valid = book is not None and book.is_valid
    orders = None
    if trading:
        # Highest price first, as they sit in the ladder.
        orders = tuple(sorted(client.get_orders(symbol), key=lambda o: -o.price))
    return MarketPicture(
        title=title,
        url=url,
        symbol=symbol,
        connection=client.connection_state,
        reconnects=client.reconnects,
        disconnect_reason=client.last_disconnect_reason,
        ticker=client.get_ticker(symbol),
        bids=tuple(book.levels(Side.BUY, depth)) if book is not None and valid else (),
        asks=tuple(book.levels(Side.SELL, depth)) if book is not None and valid else (),
        book_valid=valid,
        depth=depth,
        trades=tape.recent(),
        log_title=log_title,
        log=log.entries(),
        orders=orders,
        position=client.inventory.position(symbol) if trading else None,
        pnl=client.get_pnl() if trading else None,
        margin=client.margin if trading else None,
    )


async def log_connection_changes(client: BulkClient, log: EventLog) -> None:
    """Add an entry to ``log`` each time the connection changes state (runs until cancelled)."""
    state = client.connection_state
    while True:
        others = [other for other in ConnectionState if other is not state]
        state = await client.wait_for_state(*others)
        # Why it dropped, and when the next attempt is, the client logs itself (a warning).
        if state is ConnectionState.BACKOFF:
            log.warn("connection backoff: waiting to reconnect")
        elif state is ConnectionState.LIVE:
            log.ok(f"connection live again (reconnect #{client.reconnects})")
        else:
            log.info(f"connection {state.value}")


async def log_fills(
    client: BulkClient,
    log: EventLog,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Add an entry to ``log`` for every fill of the client's account."""
    async with client.events(Topic.FILL, name="fill log") as fills:
        task_status.started()
        async for fill in fills:
            if client.account is None or fill.account in ("", client.account):
                log.info(_fill_text(fill))


def _fill_text(fill: Fill) -> str:
    role = "maker" if fill.is_maker else "taker"
    return (
        f"fill: {fill.side.value} {text.size(fill.size)} {fill.symbol} @ {text.price(fill.price)}"
        f" ({role}, order {text.short_id(fill.order_id)})"
    )
