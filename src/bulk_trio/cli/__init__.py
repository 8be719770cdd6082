"""The ``bulk-trio`` command (also ``python -m bulk_trio``).

One subcommand per job, each registered by a ``_add_<name>`` function that declares its options
and gives its parser a ``run`` callable from the module that does the work (``demo``,
``watch``, ``trade``, ``keys``); ``main`` only parses, dispatches and reports.
Problems the user can fix are reported as one line on stderr with a non-zero exit status, never as
a traceback (``--verbose`` adds one), and never with a private key in it.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import NoReturn

from .. import __version__
from .account_keys import KEY_ENV, hide_pasted_keys, run_keygen
from .demo import run_demo
from .endpoint import NETWORK_ENV, NETWORK_HELP, NETWORKS, URL_ENV
from .http_commands import register_http_commands
from .manage import run_agent, run_faucet, run_leverage, run_modify
from .order_types import add_order_type_options
from .output import add_json_option
from .record import run_record
from .runtime import (
    EXIT_CLOSED_PIPE,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    Interrupted,
    UsageError,
    explain,
    redact,
    remember_secret,
    unwrap,
    verbose_logging,
)
from .sim import add_sim_command
from .trade import run_account, run_cancel, run_cancel_all, run_order
from .watch import run_watch

__all__ = ["EXIT_FAILURE", "EXIT_OK", "EXIT_USAGE", "UsageError", "build_parser", "main"]

DEFAULT_TIMEOUT = 10.0


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that reports mistakes as a UsageError instead of exiting with usage."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see --help)")


Runner = Callable[[argparse.Namespace], int]


# -- shared option types ----------------------------------------------------------------------


def _positive(kind: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{kind} must be a number, got {text!r}") from None
        if not (value > 0 and math.isfinite(value)):
            raise argparse.ArgumentTypeError(f"{kind} must be a positive number, got {text!r}")
        return value

    return parse


def _number(kind: str) -> Callable[[str], float]:
    """A float; range checks are left to the action classes, which name the field."""

    def parse(text: str) -> float:
        try:
            return float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{kind} must be a number, got {text!r}") from None

    return parse


def _levels(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"depth must be a whole number, got {text!r}") from None
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError(f"depth must be between 1 and 100, got {value}")
    return value


def _add_endpoint_options(parser: argparse.ArgumentParser, *, signing: bool) -> None:
    parser.add_argument("--url", help="WebSocket URL of the exchange (default: see --network)")
    parser.add_argument("--network", choices=NETWORKS, default=None, help=NETWORK_HELP)
    parser.add_argument(
        "--ca-file",
        metavar="PATH",
        help="trust the certificate authorities in this PEM file for a wss:// URL (a corporate "
        "CA, or the one `bulk-trio sim --tls` prints) instead of the system's",
    )
    if signing:
        parser.add_argument(
            "--key-file",
            metavar="PATH",
            help="read the private key from PATH (default: the BULK_PRIVATE_KEY environment "
            "variable); a key is never accepted as an argument",
        )
    parser.add_argument(
        "--timeout",
        type=_positive("timeout"),
        default=DEFAULT_TIMEOUT,
        help=f"seconds to wait for the exchange (default: {DEFAULT_TIMEOUT:g})",
    )
    _add_verbose(parser)


def _add_verbose(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--verbose", action="store_true", help="debug logging and tracebacks (never the key)"
    )


# -- demo and watch ----------------------------------------------------------------------------


def _add_demo(commands: argparse._SubParsersAction[_Parser]) -> None:
    parser = commands.add_parser(
        "demo",
        help="watch a client trade on the embedded simulator (no network, no keys)",
        description="Start the exchange simulator in-process, create and fund a key, and trade: "
        "a ladder of bids, an atomic cancel-replace, a fill, P&L, cancel everything, close. "
        "Shown as a live terminal view, or as timestamped lines when the output is not a "
        "terminal or with --no-live.",
    )
    parser.add_argument(
        "--duration",
        type=_positive("duration"),
        default=15.0,
        help="roughly how long the demo takes, in seconds (default: 15)",
    )
    parser.add_argument(
        "--no-live", action="store_true", help="plain timestamped lines instead of the live view"
    )
    parser.add_argument("--seed", type=int, default=None, help="make the price path reproducible")
    _add_verbose(parser)
    parser.set_defaults(run=run_demo)


def _add_watch(commands: argparse._SubParsersAction[_Parser]) -> None:
    parser = commands.add_parser(
        "watch",
        help="live view of one market",
        description="Show one market live: the book ladder, the spread, the last trades, the "
        "ticker and the connection state (reconnecting when the connection drops). Plain "
        "timestamped lines when the output is not a terminal or with --no-live.",
    )
    parser.add_argument("symbol", metavar="SYMBOL", help="the market, e.g. BTC-USD")
    parser.add_argument(
        "--depth", type=_levels, default=10, help="book levels per side (default: 10)"
    )
    parser.add_argument(
        "--duration",
        type=_positive("duration"),
        default=None,
        help="stop after this many seconds (default: run until Ctrl-C)",
    )
    parser.add_argument(
        "--no-live", action="store_true", help="plain timestamped lines instead of the live view"
    )
    _add_endpoint_options(parser, signing=False)
    parser.set_defaults(run=run_watch)


# -- record ------------------------------------------------------------------------------------


def _add_record(commands: argparse._SubParsersAction[_Parser]) -> None:
    parser = commands.add_parser(
        "record",
        help="record markets to a file that bulk-trio sim --replay plays back",
        description="Subscribe to the tickers, trades and books (l2Delta and l2Snapshot) of each "
        "SYMBOL and write every frame with its receive time to FILE (gzip, one line per frame: "
        "docs/guides/replay.md), reconnecting if the connection drops. Stops after --duration "
        "or on Ctrl-C; the file is complete either way.",
    )
    parser.add_argument("symbols", metavar="SYMBOL", nargs="+", help="a market, e.g. BTC-USD")
    parser.add_argument("--out", required=True, metavar="FILE", help="the file to write")
    parser.add_argument(
        "--duration",
        type=_positive("duration"),
        default=None,
        help="stop after this many seconds (default: run until Ctrl-C)",
    )
    parser.add_argument(
        "--candles",
        type=lambda text: [part.strip() for part in text.split(",") if part.strip()],
        default=None,
        metavar="INTERVALS",
        help="also record candles of these comma-separated intervals, e.g. 1m,5m",
    )
    _add_endpoint_options(parser, signing=False)
    parser.set_defaults(run=run_record)


# -- keys and account --------------------------------------------------------------------------


def _add_keygen(commands: argparse._SubParsersAction[_Parser]) -> None:
    parser = commands.add_parser(
        "keygen",
        help="create a new key",
        description="Create a new Ed25519 key. The public key goes to stdout; the private key "
        "is written to a new file readable only by you (--out), or printed only if you ask "
        "for it (--show-private-key). The same key works on every network.",
    )
    parser.add_argument(
        "--out", metavar="PATH", help="write the private key to PATH (mode 0600, never overwritten)"
    )
    parser.add_argument(
        "--show-private-key", action="store_true", help="print the private key too (careful)"
    )
    parser.add_argument(
        "--network",
        choices=NETWORKS,
        default=None,
        help="the network the printed next step uses (default: local)",
    )
    add_json_option(parser)
    parser.set_defaults(run=run_keygen)


def _add_account(commands: argparse._SubParsersAction[_Parser]) -> None:
    parser = commands.add_parser(
        "account",
        help="print an account's margin, positions and open orders",
        description="Print the margin, positions and open orders of your key's account, or of "
        "any account with --pubkey (account streams are public), then exit.",
    )
    parser.add_argument("--pubkey", metavar="PUBKEY", help="the account to show (default: yours)")
    _add_endpoint_options(parser, signing=True)
    add_json_option(parser)
    parser.set_defaults(run=run_account)


# -- trading -----------------------------------------------------------------------------------


def _add_order(commands: argparse._SubParsersAction[_Parser]) -> None:
    parser = commands.add_parser(
        "order",
        help="place a limit, market, stop, take-profit, trailing or bracket order",
        description="Place one order: a limit order with --price, a market order without; "
        "--stop, --take-profit, --trail or --bracket make it a conditional order (then --price "
        "is its limit price, or a bracket's entry price). "
        "Prints the exchange's status and the order id.",
    )
    parser.add_argument("symbol", metavar="SYMBOL", help="the market, e.g. BTC-USD")
    parser.add_argument("side", type=str.lower, choices=("buy", "sell"))
    parser.add_argument("size", type=_number("size"), metavar="SIZE")
    parser.add_argument("--price", type=_number("price"), help="limit price (omit for market)")
    parser.add_argument(
        "--tif",
        type=str.upper,
        choices=("GTC", "IOC", "ALO"),
        help="time in force of a limit order (default: GTC; ALO = post-only)",
    )
    parser.add_argument("--reduce-only", action="store_true", help="only reduce the position")
    add_order_type_options(parser, _number)
    _add_endpoint_options(parser, signing=True)
    add_json_option(parser)
    parser.set_defaults(run=run_order)


def _add_cancel(commands: argparse._SubParsersAction[_Parser]) -> None:
    parser = commands.add_parser(
        "cancel",
        help="cancel orders by id",
        description="Cancel one or more orders of SYMBOL, in one transaction.",
    )
    parser.add_argument("symbol", metavar="SYMBOL")
    parser.add_argument("order_ids", nargs="+", metavar="ORDER_ID")
    _add_endpoint_options(parser, signing=True)
    add_json_option(parser)
    parser.set_defaults(run=run_cancel)


def _add_cancel_all(commands: argparse._SubParsersAction[_Parser]) -> None:
    parser = commands.add_parser(
        "cancel-all",
        help="cancel every open order (of the given symbols)",
        description="Cancel every open order of the account, or only those of the SYMBOLs.",
    )
    parser.add_argument("symbols", nargs="*", metavar="SYMBOL")
    _add_endpoint_options(parser, signing=True)
    add_json_option(parser)
    parser.set_defaults(run=run_cancel_all)


# -- account management ------------------------------------------------------------------------


def _add_faucet(commands: argparse._SubParsersAction[_Parser]) -> None:
    parser = commands.add_parser(
        "faucet",
        help="ask a test network's faucet for funds",
        description="Ask the faucet of testnet or devnet to credit your account (or --to "
        "another one). Signed with your key; mainnet has no faucet.",
    )
    parser.add_argument("--to", metavar="PUBKEY", help="the account to credit (default: yours)")
    parser.add_argument(
        "--amount", type=_number("amount"), help="a custom amount (whitelisted accounts only)"
    )
    _add_endpoint_options(parser, signing=True)
    add_json_option(parser)
    parser.set_defaults(run=run_faucet)


def _add_modify(commands: argparse._SubParsersAction[_Parser]) -> None:
    parser = commands.add_parser(
        "modify",
        help="change the size of a resting order",
        description="Change the size of one of your resting orders of SYMBOL.",
    )
    parser.add_argument("symbol", metavar="SYMBOL")
    parser.add_argument("order_id", metavar="ORDER_ID")
    parser.add_argument("size", type=_number("size"), metavar="SIZE", help="the new total size")
    _add_endpoint_options(parser, signing=True)
    add_json_option(parser)
    parser.set_defaults(run=run_modify)


def _add_leverage(commands: argparse._SubParsersAction[_Parser]) -> None:
    parser = commands.add_parser(
        "leverage",
        help="set the maximum leverage of a market",
        description="Set your account's maximum leverage for SYMBOL.",
    )
    parser.add_argument("symbol", metavar="SYMBOL")
    parser.add_argument("leverage", type=_number("leverage"), metavar="LEVERAGE", help="e.g. 5")
    _add_endpoint_options(parser, signing=True)
    add_json_option(parser)
    parser.set_defaults(run=run_leverage)


def _add_agent(commands: argparse._SubParsersAction[_Parser]) -> None:
    parser = commands.add_parser(
        "agent",
        help="let another key sign for your account, or stop it",
        description="Authorize an agent key to sign for your account (add), or revoke it "
        "(remove). Signed with your key.",
    )
    actions = parser.add_subparsers(
        dest="agent_command", metavar="add|remove", required=True, parser_class=_Parser
    )
    for name, summary in (("add", "authorize AGENT"), ("remove", "revoke AGENT")):
        sub = actions.add_parser(name, help=summary, description=f"{summary.capitalize()}.")
        sub.add_argument("agent", metavar="AGENT", help="the agent's public key")
        _add_endpoint_options(sub, signing=True)
        add_json_option(sub)
        sub.set_defaults(run=run_agent)


# -- dispatch ----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="bulk-trio",
        description="A Trio client for the BULK exchange.",
        epilog=f"Environment: {KEY_ENV} (the key of signing commands), {URL_ENV} and "
        f"{NETWORK_ENV} (defaults for --url and --network), NO_COLOR. Exit status: 0 done, "
        "1 failed on the network or refused by the exchange, 2 bad usage or input, "
        "130 interrupted, 141 output pipe closed.",
    )
    parser.add_argument("--version", action="version", version=f"bulk-trio {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for add in (
        _add_demo,
        _add_watch,
        add_sim_command,
        _add_record,
        _add_keygen,
        _add_account,
        _add_order,
        _add_cancel,
        _add_cancel_all,
        _add_faucet,
        _add_modify,
        _add_leverage,
        _add_agent,
    ):
        add(commands)
    register_http_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    _remember_environment_key()
    parser = build_parser()
    arguments = sys.argv[1:] if argv is None else list(argv)
    try:
        args = parser.parse_args(arguments)
    except UsageError as problem:
        return _report(_hiding_keys(problem, arguments), EXIT_USAGE, verbose=False)
    run: Runner | None = getattr(args, "run", None)
    if run is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    verbose = bool(getattr(args, "verbose", False))
    prefix = f"bulk-trio {args.command}"
    try:
        with verbose_logging(verbose):
            return run(args)
    except UsageError as problem:
        hidden = _hiding_keys(problem, arguments)
        return _report(hidden, EXIT_USAGE, verbose=verbose, prefix=prefix)
    except (Interrupted, KeyboardInterrupt):
        # KeyboardInterrupt: Ctrl-C outside the commands' own signal handling.
        print(f"{prefix}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        error = unwrap(exc)
        if isinstance(error, BrokenPipeError):
            return _stdout_closed()
        line = explain(error)
        if line is None:
            line = f"unexpected error: {type(error).__name__}: {error}"
            if not verbose:
                line += " (run with --verbose for details)"
        return _report(error, EXIT_FAILURE, verbose=verbose, prefix=prefix, line=line)


def _hiding_keys(problem: UsageError, arguments: Sequence[str]) -> UsageError:
    # A usage error quotes what the user typed (argparse's "unrecognized arguments: ...", a
    # --key-file path): a private key pasted as an argument must not come back.
    return UsageError(hide_pasted_keys(str(problem), arguments))


def _stdout_closed() -> int:
    """The reader of our output went away (``bulk-trio watch | head``): end quietly. Python would
    otherwise complain once more when it flushes stdout at exit, so stdout now goes nowhere."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass  # stdout is not a file descriptor (a test's capture): nothing to flush at exit
    return EXIT_CLOSED_PIPE


def _remember_environment_key() -> None:
    # Before parsing: a key pasted as an argument by mistake must not come back in an error.
    key = os.environ.get(KEY_ENV)
    if key:
        remember_secret(key)


def _report(
    problem: BaseException,
    status: int,
    *,
    verbose: bool,
    prefix: str | None = None,
    line: str | None = None,
) -> int:
    """Print ``problem`` as one line on stderr (after its traceback with --verbose)."""
    if verbose:
        print(redact("".join(traceback.format_exception(problem))), file=sys.stderr, end="")
    message = str(problem) if line is None else line
    if prefix is not None and not message.startswith("bulk-trio"):
        message = f"{prefix}: {message}"
    # A message is one line by contract; a stray newline must not make it two.
    print(redact(" ".join(message.split("\n"))), file=sys.stderr)
    return status
