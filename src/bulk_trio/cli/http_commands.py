"""The HTTP API commands: ``markets``, ``history fills|orders`` and ``candles SYMBOL INTERVAL``.

Each makes its requests through :func:`bulk_trio.open_bulk_http` against ``--http-url`` (or the
``--network`` preset's HTTP base URL: by default a local node or ``bulk-trio sim``), prints a
table, or with ``--json`` one JSON document on stdout, and exits. Failures are one line on stderr.
"""

from __future__ import annotations

import argparse
import datetime
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from ..http_models import HistoryFill
from ..models import Candle, OrderState
from ..protocol.subscriptions import check_pubkey, wire_interval
from ..shell.http import BulkHttpClient, open_bulk_http
from .account_keys import find_signer
from .connect import market_symbol, trusting
from .endpoint import NETWORK_HELP, NETWORKS, command_http_url
from .output import add_json_option, print_json
from .runtime import EXIT_OK, UsageError, run_interruptible

__all__ = ["register_http_commands"]

DEFAULT_TIMEOUT = 10.0
DEFAULT_HISTORY_ROWS = 50


# -- output ------------------------------------------------------------------------------------


def _number(value: float) -> str:
    return f"{value:.8f}".rstrip("0").rstrip(".") if value == value else "nan"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    for line in (header, *rows):
        print(
            "  ".join(
                str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)
            ).rstrip()
        )


def _time_ns(ns: int) -> str:
    if not ns:
        return "-"
    moment = datetime.datetime.fromtimestamp(ns / 1e9, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


# -- markets -----------------------------------------------------------------------------------


def run_markets(args: argparse.Namespace) -> int:
    url = command_http_url(args)

    async def fetch() -> Any:
        async with _open_http(url, args) as http:
            return await http.exchange_info()

    markets = run_interruptible(fetch)
    if args.json:
        print_json(markets)
        return EXIT_OK
    _table(
        ("symbol", "tick", "lot", "min notional", "max leverage", "status"),
        [
            (
                m.symbol,
                _number(m.tick_size),
                _number(m.lot_size),
                _number(m.min_notional),
                _number(m.max_leverage),
                m.status,
            )
            for m in markets
        ],
    )
    return EXIT_OK


# -- history -----------------------------------------------------------------------------------


def _account(args: argparse.Namespace) -> str:
    if args.pubkey is not None:
        try:
            return check_pubkey(args.pubkey.strip(), field="--pubkey")
        except ValueError as problem:
            raise UsageError(str(problem)) from None
    signer = find_signer(args.key_file, "testnet")  # only its public key is used
    if signer is None:
        raise UsageError("history needs --pubkey PUBKEY, or a key (BULK_PRIVATE_KEY or --key-file)")
    return signer.public_key


def run_history(args: argparse.Namespace) -> int:
    url = command_http_url(args)
    user = _account(args)
    wanted: int = args.limit

    async def fetch() -> list[Any]:
        rows: list[Any] = []
        async with _open_http(url, args) as http:
            pages = http.iter_fills if args.kind == "fills" else http.iter_order_history
            async for row in pages(user, limit=min(wanted, 1000)):
                rows.append(row)
                if len(rows) >= wanted:
                    break
        return rows

    rows = run_interruptible(fetch)
    if args.json:
        print_json(rows)
        return EXIT_OK
    if not rows:
        print(f"no {'fills' if args.kind == 'fills' else 'finished orders'} for {user}")
        return EXIT_OK
    if args.kind == "fills":
        _fills_table(user, rows)
    else:
        _orders_table(rows)
    return EXIT_OK


def _fills_table(user: str, rows: Sequence[HistoryFill]) -> None:
    lines = []
    for row in rows:
        fill = row.for_account(user)
        lines.append(
            (
                _time_ns(fill.timestamp),
                fill.symbol,
                fill.side.value,
                _number(fill.size),
                _number(fill.price),
                "maker" if fill.is_maker else "taker",
                _number(row.fee),
                fill.order_id,
            )
        )
    _table(("time (UTC)", "symbol", "side", "size", "price", "role", "fee", "order id"), lines)


def _orders_table(rows: Sequence[OrderState]) -> None:
    _table(
        ("time (UTC)", "symbol", "side", "status", "size", "filled", "price", "order id"),
        [
            (
                _time_ns(o.timestamp),
                o.symbol,
                o.side.value,
                o.raw_status or o.status.value,
                _number(o.original_size),
                _number(o.filled_size),
                _number(o.price),
                o.order_id,
            )
            for o in rows
        ],
    )


# -- candles -----------------------------------------------------------------------------------


def run_candles(args: argparse.Namespace) -> int:
    url = command_http_url(args)
    symbol = market_symbol(args.symbol)
    try:
        interval = wire_interval(args.interval)
    except ValueError as problem:
        raise UsageError(str(problem)) from None

    async def fetch() -> list[Candle]:
        async with _open_http(url, args) as http:
            return await http.klines(symbol, interval, limit=args.limit)

    candles = run_interruptible(fetch)
    if args.json:
        print_json(candles)
        return EXIT_OK
    if not candles:
        print(f"no {interval} candles for {symbol}")
        return EXIT_OK
    _table(
        ("open (UTC)", "open", "high", "low", "close", "volume", "trades"),
        [
            (
                _time_ns(c.open_time * 1_000_000),
                _number(c.open),
                _number(c.high),
                _number(c.low),
                _number(c.close),
                _number(c.volume),
                str(c.trades),
            )
            for c in candles
        ],
    )
    return EXIT_OK


# -- registration ------------------------------------------------------------------------------


def _count(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, got {value}")
        return value

    return parse


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def _open_http(url: str, args: argparse.Namespace) -> AbstractAsyncContextManager[BulkHttpClient]:
    """The HTTP client for a command, trusting ``--ca-file`` for an https:// URL if given."""
    ca_file = getattr(args, "ca_file", None)
    if ca_file is not None and not url.startswith("https://"):
        raise UsageError(f"--ca-file is for https:// URLs (TLS); {url} is not one")
    context = None if ca_file is None else trusting(ca_file)
    return open_bulk_http(url, timeout=args.timeout, ssl_context=context)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--http-url", metavar="URL", help="HTTP API base URL, with /api/v1 (default: see --network)"
    )
    parser.add_argument("--network", choices=NETWORKS, default=None, help=NETWORK_HELP)
    parser.add_argument(
        "--ca-file",
        metavar="PATH",
        help="trust the certificate authorities in this PEM file for an https:// URL (a "
        "corporate CA, or the one `bulk-trio sim --tls` prints) instead of the system's",
    )
    add_json_option(parser)
    parser.add_argument(
        "--timeout", type=_seconds, default=DEFAULT_TIMEOUT, help="seconds per request (default 10)"
    )
    parser.add_argument("--verbose", action="store_true", help="log what happens on stderr")


def register_http_commands(commands: argparse._SubParsersAction[Any]) -> None:
    """Add ``markets``, ``history`` and ``candles`` to the ``bulk-trio`` command."""
    markets = commands.add_parser(
        "markets",
        help="list markets: tick, lot, minimum notional, maximum leverage",
        description="Print every market's trading rules from the HTTP API (GET /exchangeInfo).",
    )
    _common(markets)
    markets.set_defaults(run=run_markets)

    history = commands.add_parser(
        "history",
        help="an account's fills or finished orders",
        description="Print an account's most recent fills or finished orders, newest first, "
        "from the HTTP API (POST /account), following pages as needed.",
    )
    history.add_argument("kind", choices=("fills", "orders"))
    history.add_argument("--pubkey", metavar="PUBKEY", help="the account (default: your key's)")
    history.add_argument(
        "--key-file", metavar="PATH", help="read the key whose account to show from PATH"
    )
    history.add_argument(
        "--limit",
        type=_count(1, 100_000),
        default=DEFAULT_HISTORY_ROWS,
        help=f"at most this many rows (default {DEFAULT_HISTORY_ROWS})",
    )
    _common(history)
    history.set_defaults(run=run_history)

    candles = commands.add_parser(
        "candles",
        help="candles of a market",
        description="Print a market's most recent candles, oldest first (GET /klines).",
    )
    candles.add_argument("symbol", help="market, e.g. BTC-USD")
    candles.add_argument("interval", help="1m, 5m, 15m, 1h, 4h, 1d, ... (also 1min, 5min)")
    candles.add_argument(
        "--limit", type=_count(1, 1000), default=20, help="how many candles (default 20)"
    )
    _common(candles)
    candles.set_defaults(run=run_candles)
