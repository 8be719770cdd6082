"""What every ``bulk-trio`` subcommand shares at run time: exit statuses, the two kinds of failure a
person sees as one line, turning library errors into that line, and stopping on Ctrl-C.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import trio

from ..errors import BulkError, ReconnectGaveUp

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for a command stopped by Ctrl-C
EXIT_CLOSED_PIPE = 141  # 128 + SIGPIPE, what other tools report when their reader goes away

T = TypeVar("T")


class UsageError(Exception):
    """Bad command-line input or environment (exit status 2); the message is the one line shown."""


class CommandFailed(Exception):
    """The command ran and failed: network, exchange, file system (exit status 1)."""


class Interrupted(Exception):
    """SIGINT or SIGTERM stopped the command; its clean-up has run."""


def explain(error: BaseException) -> str | None:
    """The one line a person needs for ``error``, or None when it is a bug (not their doing)."""
    if isinstance(error, UsageError | CommandFailed):
        return str(error)
    if isinstance(error, ReconnectGaveUp):
        return f"the connection was lost and not re-established ({error})"
    if isinstance(error, BulkError):  # written for people: "cannot connect to ...", "refused: ..."
        return str(error)
    if isinstance(error, trio.TooSlowError):
        return "timed out waiting for the exchange"
    if isinstance(error, OSError):
        return error.strerror or str(error)
    return None


def unwrap(error: BaseException) -> BaseException:
    """The one real error inside (nested) exception groups; the group itself if there are several.

    Cancellations are left out: they only say that a sibling task failed first.
    """
    if not isinstance(error, BaseExceptionGroup):
        return error
    leaves: list[BaseException] = []

    def collect(exc: BaseException) -> None:
        if isinstance(exc, BaseExceptionGroup):
            for inner in exc.exceptions:
                collect(inner)
        elif not isinstance(exc, trio.Cancelled):
            leaves.append(exc)

    collect(error)
    return leaves[0] if len(leaves) == 1 else error


def run_interruptible(work: Callable[[], Awaitable[T]]) -> T:
    """``trio.run(work)``, raising :class:`Interrupted` if SIGINT or SIGTERM stopped it first.

    The signal cancels ``work`` (so its ``finally`` blocks and ``async with`` exits run, which is
    what restores the terminal and closes connections) instead of raising KeyboardInterrupt at an
    arbitrary point. Signals can only be caught in the main thread; elsewhere (tests that run a
    command in a worker thread) ``work`` simply runs.
    """
    try:
        return trio.run(_until_signalled, work)
    except BaseExceptionGroup as group:
        raise unwrap(group) from None


async def _until_signalled(work: Callable[[], Awaitable[T]]) -> T:
    if threading.current_thread() is not threading.main_thread():
        return await work()
    outcome: list[T] = []
    signalled = False
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:

            async def stop_on_signal() -> None:
                nonlocal signalled
                async for _ in signals:
                    signalled = True
                    nursery.cancel_scope.cancel()
                    return

            async def run_work() -> None:
                outcome.append(await work())
                nursery.cancel_scope.cancel()

            nursery.start_soon(stop_on_signal)
            nursery.start_soon(run_work)
    if signalled or not outcome:
        raise Interrupted
    return outcome[0]


@contextlib.contextmanager
def rerouted_logger(
    handlers: list[logging.Handler],
    *,
    propagate: bool,
    level: int | None = None,
    name: str = "bulk_trio",
) -> Iterator[None]:
    """Give logger ``name`` these handlers (and ``level``) for the block, then restore it."""
    logger = logging.getLogger(name)
    saved = (list(logger.handlers), logger.propagate, logger.level)
    logger.handlers = handlers
    logger.propagate = propagate
    if level is not None:
        logger.setLevel(level)
    try:
        yield
    finally:
        logger.handlers, logger.propagate = saved[0], saved[1]
        logger.setLevel(saved[2])


@contextlib.contextmanager
def verbose_logging(enabled: bool) -> Iterator[None]:
    """bulk-trio's log while a command runs: with ``--verbose`` everything down to debug on stderr
    (secrets redacted); without it nothing, since the command reports its own failure in one line
    and a library warning printed beside it would make two."""
    handler: logging.Handler = logging.NullHandler()
    if enabled:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    existing = logging.getLogger("bulk_trio").handlers
    level = logging.DEBUG if enabled else None
    with rerouted_logger([*existing, handler], propagate=enabled, level=level):
        yield


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


# -- secrets -----------------------------------------------------------------------------------

_SECRETS: set[str] = set()
_MIN_SECRET_LENGTH = 8  # shorter "keys" are invalid anyway, and would redact ordinary words


def remember_secret(text: str) -> None:
    """Never print ``text`` (a private key as the user supplied it) from now on."""
    secret = text.strip()
    if len(secret) >= _MIN_SECRET_LENGTH:
        _SECRETS.add(secret)


def redact(text: str) -> str:
    """``text`` with every remembered secret replaced: the last line of defence for anything the
    command prints about a failure (messages, tracebacks, debug logs)."""
    for secret in _SECRETS:
        text = text.replace(secret, "<private key>")
    return text
