"""The table of signed posts waiting for the reply that carries their ``id``.

The caller registers an id, sends the post, and waits under its own ``trio.fail_after``; the
receiver task resolves the id when the reply arrives. Either side may come first, and the caller
may give up (timeout, cancellation) at any moment, so a reply can arrive for an id nobody waits
for any more: :meth:`PendingRequests.resolve` then returns ``False`` for the caller to log.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

import trio


class PendingRequest:
    """One in-flight request. Use it as a context manager so that the table forgets the id however
    the wait ends: ``with table.register(rid) as pending: ...; reply = await pending.wait()``."""

    __slots__ = ("_done", "_failure", "_table", "_value", "request_id")

    def __init__(self, table: PendingRequests, request_id: int) -> None:
        self._table = table
        self._done = trio.Event()
        self._value: Any = None
        self._failure: BaseException | None = None
        self.request_id = request_id

    def __repr__(self) -> str:
        state = "done" if self._done.is_set() else "waiting"
        return f"<PendingRequest id={self.request_id} {state}>"

    @property
    def done(self) -> bool:
        """True once the request was resolved or failed (whether or not anyone waited)."""
        return self._done.is_set()

    async def wait(self) -> Any:
        """The reply, once it arrives; raises the failure if the request failed instead."""
        await self._done.wait()
        if self._failure is not None:
            raise self._failure
        return self._value

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._table._forget(self)

    def _finish(self, value: Any, failure: BaseException | None) -> None:
        self._value = value
        self._failure = failure
        self._done.set()


class PendingRequests:
    """Request ids in flight, in the order they were registered."""

    def __init__(self) -> None:
        self._last_id = 0
        self._pending: dict[int, PendingRequest] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def next_id(self) -> int:
        """A fresh request id: 1, 2, 3, ... for the life of the table (never reused, so a late
        reply can never be mistaken for the answer to a newer request)."""
        self._last_id += 1
        return self._last_id

    def in_flight_ids(self) -> list[int]:
        """The ids still waiting for a reply, oldest first."""
        return list(self._pending)

    def register(self, request_id: int) -> PendingRequest:
        """Start waiting for ``request_id``. Register before sending: the reply may come first."""
        if request_id in self._pending:
            raise ValueError(f"request_id {request_id} is already in flight")
        pending = PendingRequest(self, request_id)
        self._pending[request_id] = pending
        return pending

    def resolve(self, request_id: int, value: Any) -> bool:
        """Hand ``value`` to the waiter of ``request_id``; False if nobody waits for it any more."""
        pending = self._pending.pop(request_id, None)
        if pending is None:
            return False
        pending._finish(value, None)
        return True

    def fail(self, request_id: int, exc: BaseException) -> bool:
        """Make the waiter of ``request_id`` raise ``exc``; False if nobody waits for it."""
        pending = self._pending.pop(request_id, None)
        if pending is None:
            return False
        pending._finish(None, exc)
        return True

    def fail_all(self, exc_factory: Callable[[int], BaseException]) -> int:
        """Fail every request in flight, oldest first, and return how many there were.

        ``exc_factory(request_id)`` builds one exception per waiter: raising a single instance in
        several tasks would splice their tracebacks together. Should the factory raise, the
        requests not yet failed stay in the table rather than wait forever unnoticed.
        """
        request_ids = list(self._pending)
        for request_id in request_ids:
            failure = exc_factory(request_id)
            self._pending.pop(request_id)._finish(None, failure)
        return len(request_ids)

    def discard(self, request_id: int) -> None:
        """Stop waiting for ``request_id`` (no error if it is not in flight)."""
        self._pending.pop(request_id, None)

    def _forget(self, pending: PendingRequest) -> None:
        # Only that very entry: never remove a different request registered under the same id
        # after this one was resolved.
        if self._pending.get(pending.request_id) is pending:
            del self._pending[pending.request_id]
