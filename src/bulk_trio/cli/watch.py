"""``bulk-trio watch SYMBOL``: one market, live, from any BULK endpoint (the simulator included).

On a terminal it is a full-screen view: the ladder, the spread, the last trades, the ticker and
the connection state, which changes colour and is logged when the connection drops and comes back.
Elsewhere (a pipe, a file, ``--no-live``) it prints timestamped lines instead: the top of the book
every second, every trade, every change of the connection, and the whole ladder at the end.
It reconnects for as long as it runs; ``--duration`` ends it with status 0, Ctrl-C with 130.
"""

from __future__ import annotations

import argparse
import functools
import logging
import sys
from collections.abc import Callable

import attrs
import trio

from ..models import Trade
from ..shell.client import BulkClient
from . import panels, text
from .connect import market_symbol, open_command_client, require_market, subscribe_book
from .endpoint import Endpoint, command_endpoint
from .output import print_log_entry
from .picture import (
    EventLog,
    MarketPicture,
    TradeTape,
    log_connection_changes,
    take_picture,
)
from .runtime import EXIT_OK, run_interruptible
from .terminal import Line, Screen, keep_drawing, supports_live_view

PLAIN_BOOK_INTERVAL = 1.0


@attrs.frozen
class WatchOptions:
    endpoint: Endpoint
    symbol: str
    depth: int
    duration: float | None
    timeout: float
    live: bool
    verbose: bool


def run_watch(args: argparse.Namespace) -> int:
    options = WatchOptions(
        endpoint=command_endpoint(args, signing=False),
        symbol=market_symbol(args.symbol),
        depth=args.depth,
        duration=args.duration,
        timeout=args.timeout,
        live=not args.no_live and supports_live_view(sys.stdout),
        verbose=args.verbose,
    )
    log = EventLog(echo=None if options.live else print_log_entry)
    # Ctrl-C raises Interrupted once the terminal is restored: status 130, like every command.
    run_interruptible(lambda: _watch(options, log))
    return EXIT_OK


async def _watch(options: WatchOptions, log: EventLog) -> None:
    tape = TradeTape()
    async with open_command_client(
        options.endpoint, timeout=options.timeout, reconnect=True
    ) as client:
        await require_market(client, options.symbol, options.timeout)
        picture = functools.partial(
            take_picture,
            client,
            title="bulk-trio watch",
            url=options.endpoint.url,
            symbol=options.symbol,
            depth=options.depth,
            tape=tape,
            log=log,
        )
        # From here on the library's own warnings (a disconnect, say) belong in the view.
        with log.capture(level=logging.INFO if options.verbose else logging.WARNING):
            async with trio.open_nursery() as nursery:
                on_trades = None if options.live else _trade_printer(log)
                await nursery.start(tape.follow, client, on_trades)
                await _subscribe(client, options.symbol, options.timeout)
                log.ok(f"watching {options.symbol} on {options.endpoint.url}: book and trades")
                nursery.start_soon(log_connection_changes, client, log)
                if options.live:
                    with Screen(sys.stdout) as screen:

                        def frame(width: int, height: int) -> list[Line]:
                            return panels.render(picture(), width, height)

                        nursery.start_soon(keep_drawing, screen, frame)
                        await _run_for(options.duration)
                        nursery.cancel_scope.cancel()
                else:
                    nursery.start_soon(_print_book_every, PLAIN_BOOK_INTERVAL, picture, log)
                    await _run_for(options.duration)
                    nursery.cancel_scope.cancel()
        if not options.live:
            for line in panels.ladder(picture()):
                print(line, flush=True)


async def _subscribe(client: BulkClient, symbol: str, timeout: float) -> None:
    await subscribe_book(client, symbol, timeout)
    await client.subscribe_trades(symbol)


def _trade_printer(log: EventLog) -> Callable[[list[Trade]], None]:
    def on_trades(trades: list[Trade]) -> None:
        for item in trades:
            log.info(f"trade {item.symbol} {text.trade(item)}")

    return on_trades


async def _print_book_every(
    interval: float, picture: Callable[[], MarketPicture], log: EventLog
) -> None:
    while True:
        log.info(f"book  {panels.top_of_book(picture())}")
        await trio.sleep(interval)


async def _run_for(duration: float | None) -> None:
    if duration is None:
        await trio.sleep_forever()
    else:
        await trio.sleep(duration)
