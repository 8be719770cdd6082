"""The reconnect delay policy: 1, 2, 4, ... capped at 30 s, jittered, reset when healthy."""

from __future__ import annotations

import itertools
from random import Random
from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from bulk_trio.backoff import Backoff
from bulk_trio.errors import BulkError, ReconnectGaveUp


def delays(backoff: Backoff, count: int) -> list[float]:
    return [backoff.next_delay() for _ in range(count)]


def test_default_sequence_doubles_from_one_second_up_to_thirty() -> None:
    assert delays(Backoff(jitter=0), 8) == [1, 2, 4, 8, 16, 30, 30, 30]


def test_custom_sequence() -> None:
    assert delays(Backoff(initial=0.5, factor=3, maximum=10, jitter=0), 5) == [
        0.5,
        1.5,
        4.5,
        10,
        10,
    ]


def test_attempts_counts_the_delays_handed_out() -> None:
    backoff = Backoff()
    assert backoff.attempts == 0
    delays(backoff, 3)
    assert backoff.attempts == 3


def test_a_very_long_outage_stays_at_the_cap() -> None:
    backoff = Backoff(jitter=0)
    delays(backoff, 5000)  # 2.0 ** 5000 would overflow a float
    assert backoff.next_delay() == 30


@settings(max_examples=60, deadline=None)
@given(
    initial=st.floats(min_value=0.01, max_value=5),
    factor=st.floats(min_value=1, max_value=4),
    extra=st.floats(min_value=0, max_value=100),
    jitter=st.floats(min_value=0, max_value=0.99),
    seed=st.integers(),
)
def test_jittered_delays_stay_within_their_bounds(
    initial: float, factor: float, extra: float, jitter: float, seed: int
) -> None:
    maximum = initial + extra
    jittered = Backoff(initial, factor, maximum, jitter, random=Random(seed))
    plain = Backoff(initial, factor, maximum, jitter=0)
    for _ in range(12):
        delay, nominal = jittered.next_delay(), plain.next_delay()
        assert nominal * (1 - jitter) <= delay <= nominal * (1 + jitter)
        assert delay <= maximum * (1 + jitter)
        assert delay > 0


def test_jitter_actually_varies_the_delays() -> None:
    backoff = Backoff(initial=10, factor=1, maximum=10, jitter=0.5, random=Random(1))
    assert len(set(delays(backoff, 20))) > 1


def test_a_seeded_random_makes_the_delays_reproducible() -> None:
    assert delays(Backoff(random=Random(42)), 6) == delays(Backoff(random=Random(42)), 6)


def test_a_healthy_connection_restarts_the_sequence() -> None:
    backoff = Backoff(jitter=0, healthy_after=60)
    assert delays(backoff, 4) == [1, 2, 4, 8]
    backoff.connected(100.0)
    backoff.disconnected(160.0)
    assert backoff.attempts == 0
    assert delays(backoff, 2) == [1, 2]


def test_a_connection_that_dropped_quickly_keeps_backing_off() -> None:
    backoff = Backoff(jitter=0, healthy_after=60)
    assert delays(backoff, 4) == [1, 2, 4, 8]
    backoff.connected(100.0)
    backoff.disconnected(159.5)
    assert backoff.attempts == 4
    assert backoff.next_delay() == 16


def test_a_failed_connect_without_a_connection_changes_nothing() -> None:
    backoff = Backoff(jitter=0)
    backoff.connected(0.0)
    backoff.disconnected(1000.0)  # healthy: resets
    delays(backoff, 2)
    backoff.disconnected(5000.0)  # no connection since: must not reuse the old start time
    assert backoff.next_delay() == 4


def test_reset_restarts_the_sequence() -> None:
    backoff = Backoff(jitter=0)
    delays(backoff, 3)
    backoff.reset()
    assert (backoff.attempts, backoff.next_delay()) == (0, 1)


def test_gives_up_after_max_attempts() -> None:
    backoff = Backoff(jitter=0, max_attempts=3)
    assert delays(backoff, 3) == [1, 2, 4]
    with pytest.raises(ReconnectGaveUp, match="3 attempts"):
        backoff.next_delay()
    with pytest.raises(ReconnectGaveUp):  # and keeps refusing
        backoff.next_delay()
    assert issubclass(ReconnectGaveUp, BulkError)


def test_a_healthy_connection_also_restores_the_attempt_budget() -> None:
    backoff = Backoff(jitter=0, max_attempts=2)
    delays(backoff, 2)
    backoff.connected(0.0)
    backoff.disconnected(60.0)
    assert delays(backoff, 2) == [1, 2]


def test_max_attempts_zero_never_retries() -> None:
    with pytest.raises(ReconnectGaveUp):
        Backoff(max_attempts=0).next_delay()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("initial", 0),
        ("initial", float("nan")),
        ("factor", 0.5),
        ("maximum", 0.5),  # below initial
        ("maximum", float("inf")),
        ("jitter", -0.1),
        ("jitter", 1.0),
        ("healthy_after", -1),
        ("max_attempts", -1),
        ("max_attempts", 2.5),
        ("max_attempts", True),
    ],
)
def test_arguments_are_validated(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=field):
        Backoff(**{field: value})


async def test_a_reconnect_loop_sleeps_exactly_the_backoff_delays(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A loop shaped like the client's: connect, back off, retry. The fourth attempt gets a
    healthy 120 s session, which restarts the delays; then attempts fail until max_attempts."""
    backoff = Backoff(random=Random(3), healthy_after=60, max_attempts=3)
    attempt_times: list[float] = []
    promised: list[float] = []

    async def connect_once() -> None:
        attempt_times.append(trio.current_time())
        if len(attempt_times) == 4:
            backoff.connected(trio.current_time())
            await trio.sleep(120)  # the session; MockClock makes it instant

    async def reconnect_until_giving_up() -> None:
        while True:
            await connect_once()
            backoff.disconnected(trio.current_time())
            delay = backoff.next_delay()
            promised.append(delay)
            await trio.sleep(delay)

    with pytest.raises(ReconnectGaveUp):
        await reconnect_until_giving_up()

    assert len(attempt_times) == 7
    gaps = [later - earlier for earlier, later in itertools.pairwise(attempt_times)]
    expected_gaps = list(promised)
    expected_gaps[3] += 120
    assert gaps == pytest.approx(expected_gaps)
    # 1, 2, 4 s (each jittered by at most 10 %), then after the healthy session 1, 2, 4 s again.
    for delay, nominal in zip(promised, [1, 2, 4, 1, 2, 4], strict=True):
        assert nominal * 0.9 <= delay <= nominal * 1.1
