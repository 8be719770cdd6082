"""``bulk-trio sim``: run the local exchange simulator until Ctrl-C."""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import sys
import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING, TypeVar

import trio

from ..protocol.keys import decode_32
from .runtime import EXIT_FAILURE, EXIT_INTERRUPTED, UsageError

if TYPE_CHECKING:
    from ..sim import Simulator

SIM_HOST = "127.0.0.1"  # the simulator only ever listens on loopback
SIM_DEFAULT_PORT = 12001  # the local development node's WebSocket port (docs/protocol.md)

_ParserT = TypeVar("_ParserT", bound=argparse.ArgumentParser)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"port must be a number, got {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be between 0 and 65535, got {port}")
    return port


def _symbols(text: str) -> list[str]:
    symbols = [symbol.strip() for symbol in text.split(",")]
    if not all(symbols):
        raise argparse.ArgumentTypeError(f"symbols must be a comma-separated list, got {text!r}")
    if len(set(symbols)) != len(symbols):
        raise argparse.ArgumentTypeError(f"symbols must not repeat, got {text!r}")
    return symbols


def _funding(text: str) -> tuple[str, float]:
    pubkey, separator, amount_text = text.rpartition(":")
    if not separator:
        raise argparse.ArgumentTypeError(f"--fund takes PUBKEY:AMOUNT, got {text!r}")
    try:
        decode_32(pubkey, field="--fund public key")
    except ValueError as problem:
        raise argparse.ArgumentTypeError(str(problem)) from None
    try:
        amount = float(amount_text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--fund amount must be a number, got {text!r}") from None
    if not (amount > 0 and math.isfinite(amount)):
        raise argparse.ArgumentTypeError(f"--fund amount must be positive, got {text!r}")
    return pubkey, amount


def add_sim_command(commands: argparse._SubParsersAction[_ParserT]) -> None:
    """Declare ``bulk-trio sim`` and its options."""
    parser = commands.add_parser(
        "sim",
        help="run the local exchange simulator",
        description="Run a simulated BULK exchange on ws://127.0.0.1:PORT until Ctrl-C.",
    )
    parser.add_argument("--port", type=_port, default=SIM_DEFAULT_PORT, help="0 picks a free one")
    parser.add_argument(
        "--http-port",
        type=_port,
        default=None,
        help="port of the HTTP API (default: one below --port, as on a BULK node; 0 with --port 0)",
    )
    parser.add_argument(
        "--network",
        choices=("mainnet", "testnet", "devnet"),
        default="testnet",
        help="the signature domain accepted (default: testnet)",
    )
    parser.add_argument(
        "--symbols",
        type=_symbols,
        default=None,
        help="comma-separated markets (default: BTC-USD,ETH-USD,SOL-USD, or the replay's)",
    )
    parser.add_argument(
        "--fund",
        type=_funding,
        action="append",
        default=[],
        metavar="PUBKEY:AMOUNT",
        help="credit an account at start (repeatable)",
    )
    parser.add_argument(
        "--allow-legacy-signatures",
        action="store_true",
        help="also accept signatures without the domain byte (old official SDK)",
    )
    parser.add_argument("--seed", type=int, default=None, help="make the price path reproducible")
    parser.add_argument(
        "--tls",
        action="store_true",
        help="serve wss:// with a throwaway certificate authority, written to a file for "
        "clients' --ca-file (needs: pip install 'bulk-trio[sim-tls]')",
    )
    _add_replay_options(parser)
    parser.set_defaults(run=run_sim)


def _add_replay_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--replay",
        metavar="FILE",
        default=None,
        help="replay a recording (bulk-trio record) as the market instead of the synthetic one; "
        "it starts when the first client connects",
    )
    parser.add_argument(
        "--speed",
        type=_speed,
        default=1.0,
        help="replay speed: 2 plays twice as fast, inf as fast as possible (default: 1)",
    )


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"speed must be a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"speed must be above 0 (or inf), got {text!r}")
    return value


async def _start_replay_on_first_connection(sim: Simulator) -> None:
    await sim.wait_for_connections(1)
    sim.start_replay()
    await sim.wait_replay_finished()
    print("bulk-trio simulator: the replay has ended; the market stands still", flush=True)


async def _serve_sim(args: argparse.Namespace) -> None:
    from ..sim import open_simulator

    replaying = args.replay is not None
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with (
            open_simulator(
                host=SIM_HOST,
                port=args.port,
                http_port=args.http_port if args.http_port is not None else max(0, args.port - 1),
                network=args.network,
                symbols=args.symbols,
                seed=args.seed,
                allow_legacy_signatures=args.allow_legacy_signatures,
                fund=dict(args.fund),
                tls=args.tls,
                replay=args.replay,
                speed=args.speed,
                feed=not replaying,
            ) as sim,
            trio.open_nursery() as nursery,
        ):
            with _ca_file(sim.ca_pem) as ca_file:
                print(
                    f"bulk-trio simulator listening on {sim.url} and {sim.http_url} "
                    f"({sim.network}; {', '.join(sim.symbols)}) - Ctrl-C to stop",
                    flush=True,
                )
                if ca_file is not None:
                    print(f"its certificate authority: {ca_file} (clients: --ca-file)", flush=True)
                if replaying:
                    print(
                        f"bulk-trio simulator: replaying {args.replay} at speed {args.speed:g} "
                        "from the first connection",
                        flush=True,
                    )
                    nursery.start_soon(_start_replay_on_first_connection, sim)
                async for _ in signals:
                    break
                nursery.cancel_scope.cancel()
    print("bulk-trio simulator stopped", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _ca_file(pem: bytes | None) -> Iterator[str | None]:
    """The simulator's throwaway certificate authority in a file for the run (None: no TLS)."""
    if pem is None:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="bulk-trio-sim-") as folder:
        path = os.path.join(folder, "ca.pem")
        with open(path, "wb") as file:
            file.write(pem)
        yield path


def run_sim(args: argparse.Namespace) -> int:
    try:
        trio.run(_serve_sim, args)
    except OSError as problem:
        reason = problem.strerror or str(problem)
        print(f"bulk-trio sim: cannot listen on {SIM_HOST}:{args.port}: {reason}", file=sys.stderr)
        return EXIT_FAILURE
    except (ValueError, RuntimeError) as problem:  # RuntimeError: --tls without trustme
        raise UsageError(f"bulk-trio sim: {problem}") from None
    # The simulator only stops on SIGINT or SIGTERM: status 130, like every command (docs/cli.md).
    return EXIT_INTERRUPTED
