"""Test-wide settings.

Hypothesis explores new examples on every local run, which is how it finds bugs; on CI
(``CI=true``) it is derandomized so a run is reproducible and a landing is never blocked by an
example nobody has seen locally.
"""

from __future__ import annotations

import os
import signal
import threading
import traceback
from collections.abc import Iterator
from types import FrameType
from typing import Any

import pytest
import pytest_timeout
import trio
from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") == "true" else "dev")


# -- a hung Trio test fails alone ---------------------------------------------------------------
#
# pytest-timeout (pyproject.toml: timeout, timeout_method = "signal") raises its failure from a
# SIGALRM handler, wherever the main thread is. In a Trio test that is inside Trio's run loop,
# which the exception leaves half torn down, so the next Trio test fails too ("Attempted to call
# run() from inside a run()"). Here the alarm instead cancels the test's tasks the Trio way,
# notes where each was waiting, and fails the test with that; if the test does not end within
# TIMEOUT_GRACE (a wait that cannot be cancelled, such as a worker thread), pytest-timeout's own
# handler runs after all.

TIMEOUT_GRACE = 5.0


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> bool | None:
    if settings.method != "signal" or threading.current_thread() is not threading.main_thread():
        return None  # pytest-timeout's own timer

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        try:
            token = trio.lowlevel.current_trio_token()
        except RuntimeError:  # not inside trio.run: a synchronous test or fixture
            pytest_timeout.timeout_sigalrm(item, settings)
            return
        signal.signal(signal.SIGALRM, lambda *_: pytest_timeout.timeout_sigalrm(item, settings))
        signal.setitimer(signal.ITIMER_REAL, TIMEOUT_GRACE)
        token.run_sync_soon(_cancel_the_test, item)

    def cancel() -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)

    item.cancel_timeout = cancel  # type: ignore[attr-defined]  # pytest-timeout calls it
    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, settings.timeout)
    return True


def _cancel_the_test(item: pytest.Item) -> None:
    """Runs in Trio's loop: remember where every task waits, then cancel them all."""
    waits: list[str] = []
    tasks = [trio.lowlevel.current_root_task()]
    while tasks:
        task = tasks.pop()
        # Trio's own frames say only "waiting"; the project's say on what.
        frames = [
            (frame, line)
            for frame, line in task.iter_await_frames()
            if not any(f"{os.sep}{lib}{os.sep}" in frame.f_code.co_filename for lib in _QUIET)
        ]
        if frames:
            where = traceback.StackSummary.extract(iter(frames[-3:])).format()
            waits.append(f"task {task.name}:\n" + "".join(where))
        for nursery in task.child_nurseries:
            if task is not trio.lowlevel.current_root_task():
                nursery.cancel_scope.cancel()
            tasks.extend(nursery.child_tasks)
    item.stash[_TIMED_OUT] = "\n".join(waits)


_TIMED_OUT = pytest.StashKey[str]()
_QUIET = ("trio", "pytest_trio", "outcome")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    outcome = yield
    waits = item.stash.get(_TIMED_OUT, None)
    if waits is not None:
        limit = pytest_timeout.get_env_settings(item.config).timeout
        outcome.force_exception(
            pytest.fail.Exception(
                f"Timeout (>{limit}s) from pytest-timeout: the test's tasks were cancelled. "
                f"Where they were waiting:\n{waits}",
                pytrace=False,
            )
        )
