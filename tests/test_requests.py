"""The pending-request table: replies matched by id, failures, timeouts and late replies."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
)

from bulk_trio.errors import ConnectionLost
from bulk_trio.shell.requests import PendingRequest, PendingRequests


def test_ids_start_at_one_and_increase() -> None:
    table = PendingRequests()
    assert [table.next_id() for _ in range(4)] == [1, 2, 3, 4]


async def test_a_waiter_gets_the_reply_for_its_id() -> None:
    table = PendingRequests()
    replies: dict[int, Any] = {}

    async def request(rid: int, *, task_status: trio.TaskStatus[None]) -> None:
        with table.register(rid) as pending:
            task_status.started()  # registered: the reply may now arrive at any time
            replies[rid] = await pending.wait()

    async with trio.open_nursery() as nursery:
        first, second = table.next_id(), table.next_id()
        await nursery.start(request, first)
        await nursery.start(request, second)
        assert table.in_flight_ids() == [first, second]
        assert table.resolve(second, "reply 2")
        assert table.resolve(first, "reply 1")

    assert replies == {first: "reply 1", second: "reply 2"}
    assert len(table) == 0


async def test_a_reply_that_arrives_before_wait_is_kept() -> None:
    table = PendingRequests()
    with table.register(7) as pending:
        assert table.resolve(7, {"ok": True})
        assert pending.done
        assert len(table) == 0
        assert await pending.wait() == {"ok": True}
        assert await pending.wait() == {"ok": True}  # waiting again is harmless


async def test_a_failure_that_arrives_before_wait_is_raised() -> None:
    table = PendingRequests()
    with table.register(1) as pending:
        assert table.fail(1, ConnectionLost("gone"))
        with pytest.raises(ConnectionLost, match="gone"):
            await pending.wait()


async def test_a_timed_out_waiter_leaves_the_table_and_its_late_reply_is_ignored(
    autojump_clock: trio.testing.MockClock,
) -> None:
    table = PendingRequests()
    rid = table.next_id()

    async def place_order() -> Any:
        with trio.fail_after(5), table.register(rid) as pending:
            return await pending.wait()

    started = trio.current_time()
    with pytest.raises(trio.TooSlowError):
        await place_order()
    assert trio.current_time() - started == pytest.approx(5)
    assert len(table) == 0
    assert table.in_flight_ids() == []
    assert table.resolve(rid, "too late") is False
    assert table.fail(rid, ConnectionLost("too late")) is False


async def test_a_cancelled_waiter_leaves_the_table() -> None:
    table = PendingRequests()
    with trio.CancelScope() as scope, table.register(table.next_id()) as pending:
        scope.cancel()
        await pending.wait()
    assert scope.cancelled_caught
    assert len(table) == 0


async def test_fail_all_fails_every_waiter_at_once_oldest_first() -> None:
    table = PendingRequests()
    outcomes: dict[int, BaseException] = {}
    factory_calls: list[int] = []

    def lost(rid: int) -> ConnectionLost:
        factory_calls.append(rid)
        return ConnectionLost(f"request {rid}: outcome unknown")

    async def request(rid: int, *, task_status: trio.TaskStatus[None]) -> None:
        with table.register(rid) as pending:
            task_status.started()
            try:
                await pending.wait()
            except ConnectionLost as exc:
                outcomes[rid] = exc

    async with trio.open_nursery() as nursery:
        ids = [table.next_id() for _ in range(3)]
        for rid in ids:
            await nursery.start(request, rid)
        await trio.testing.wait_all_tasks_blocked()  # every waiter is parked in wait()
        assert table.fail_all(lost) == 3
        assert len(table) == 0  # emptied at once, before any waiter has run

    assert factory_calls == ids
    assert {rid: str(exc) for rid, exc in outcomes.items()} == {
        rid: f"request {rid}: outcome unknown" for rid in ids
    }
    assert len({id(exc) for exc in outcomes.values()}) == 3  # one exception per waiter


def test_fail_all_keeps_the_rest_in_flight_if_the_factory_raises() -> None:
    table = PendingRequests()
    first, second = table.register(1), table.register(2)

    def broken(rid: int) -> BaseException:
        if rid == 2:
            raise RuntimeError("factory bug")
        return ConnectionLost("lost")

    with pytest.raises(RuntimeError):
        table.fail_all(broken)
    assert first.done
    assert not second.done
    assert table.in_flight_ids() == [2]


def test_new_requests_after_fail_all_work_normally() -> None:
    table = PendingRequests()
    table.register(table.next_id())
    table.fail_all(lambda rid: ConnectionLost("lost"))
    rid = table.next_id()
    assert rid == 2
    pending = table.register(rid)
    assert table.resolve(rid, "ok")
    assert pending.done


def test_unknown_ids_are_reported_not_raised() -> None:
    table = PendingRequests()
    assert table.resolve(99, "reply") is False
    assert table.fail(99, ConnectionLost("x")) is False
    table.discard(99)
    assert len(table) == 0


def test_a_duplicate_reply_is_a_late_reply() -> None:
    table = PendingRequests()
    table.register(1)
    assert table.resolve(1, "first") is True
    assert table.resolve(1, "second") is False


def test_registering_an_id_already_in_flight_is_refused() -> None:
    table = PendingRequests()
    table.register(1)
    with pytest.raises(ValueError, match="request_id"):
        table.register(1)


def test_discard_forgets_the_id() -> None:
    table = PendingRequests()
    pending = table.register(3)
    table.discard(3)
    assert len(table) == 0
    assert table.resolve(3, "late") is False
    assert not pending.done


def test_leaving_an_old_block_does_not_forget_a_newer_request_with_the_same_id() -> None:
    table = PendingRequests()
    with table.register(1) as old:
        table.resolve(1, "done")
        newer = table.register(1)  # allowed: the old one is no longer in flight
    assert old.done
    assert table.in_flight_ids() == [1]
    assert table.resolve(1, "for the newer one")
    assert newer.done


class RequestTableMachine(RuleBasedStateMachine):
    """Random sequences of table operations against a dict model; at the end every waiter must
    get exactly the outcome the model says."""

    in_flight = Bundle("in_flight")

    def __init__(self) -> None:
        super().__init__()
        self.table = PendingRequests()
        self.model: dict[int, PendingRequest] = {}
        self.expected: dict[PendingRequest, tuple[str, Any]] = {}
        self.all: list[PendingRequest] = []

    @rule(target=in_flight)
    def register(self) -> int:
        rid = self.table.next_id()
        pending = self.table.register(rid)
        self.model[rid] = pending
        self.all.append(pending)
        return rid

    @rule(rid=consumes(in_flight), value=st.integers())
    def resolve(self, rid: int, value: int) -> None:
        expected = rid in self.model
        assert self.table.resolve(rid, value) is expected
        if expected:
            self.expected[self.model.pop(rid)] = ("value", value)

    @rule(rid=consumes(in_flight), message=st.text(max_size=5))
    def fail(self, rid: int, message: str) -> None:
        expected = rid in self.model
        assert self.table.fail(rid, ConnectionLost(message)) is expected
        if expected:
            self.expected[self.model.pop(rid)] = ("error", message)

    @rule(rid=st.integers(min_value=1, max_value=100), value=st.integers())
    def resolve_any_id(self, rid: int, value: int) -> None:
        expected = rid in self.model
        assert self.table.resolve(rid, value) is expected
        if expected:
            self.expected[self.model.pop(rid)] = ("value", value)

    @rule(rid=consumes(in_flight))
    def discard(self, rid: int) -> None:
        self.table.discard(rid)
        self.model.pop(rid, None)

    @rule()
    def fail_all(self) -> None:
        assert self.table.fail_all(lambda rid: ConnectionLost(f"lost {rid}")) == len(self.model)
        for rid, pending in self.model.items():
            self.expected[pending] = ("error", f"lost {rid}")
        self.model.clear()

    @invariant()
    def table_matches_model(self) -> None:
        assert len(self.table) == len(self.model)
        assert self.table.in_flight_ids() == list(self.model)
        assert self.table.in_flight_ids() == sorted(self.model)
        for pending in self.all:
            assert pending.done == (pending in self.expected)

    def teardown(self) -> None:
        async def check_outcomes() -> None:
            for pending, (kind, detail) in self.expected.items():
                if kind == "value":
                    assert await pending.wait() == detail
                else:
                    with pytest.raises(ConnectionLost) as info:
                        await pending.wait()
                    assert str(info.value) == detail

        trio.run(check_outcomes)


RequestTableMachine.TestCase.settings = settings(
    max_examples=40, stateful_step_count=25, deadline=None
)
test_request_table_state_machine = RequestTableMachine.TestCase
