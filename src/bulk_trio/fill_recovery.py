"""Which of the tracked account's fills were missed while disconnected, decided without I/O.

The exchange does not replay account events after a reconnect: a fill that happened while the
socket was down is only in the HTTP fill history (docs/http-api.md, "History"). The
:class:`FillLedger` remembers the fills the client applied, opens a *window* when a live connection
drops, and, given the history rows the shell fetched after the reconnect, says which of them were
missed and in which order every fill of the window must be applied to the inventory so that each
is applied exactly once (docs/guides/lifecycle.md, "Fills missed while disconnected").

The dedup key is ``(order_id, side, price, size, timestamp)``: the fields both a WebSocket
``fill`` (docs/protocol.md, account stream) and a history row (:meth:`HistoryFill.for_account`)
carry. The history's ``tradeId``, ``slot`` and ``sequence`` are absent from the WebSocket fill, so
they cannot be matched. An order id names one order of one account, and all the fills one
transaction makes share its timestamp; two executions with equal keys (one order sweeping two
resting orders of the same price and size in one transaction) are interchangeable for the
inventory, so the ledger counts keys as a multiset: a key seen live once and listed twice in the
history was missed once.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Iterable

import attrs

from .enums import Side
from .models import Fill

FillKey = tuple[str, Side, float, float, int]
"""``(order_id, side, price, size, timestamp)``: see the module docstring."""

DEFAULT_MEMORY = 10_000
"""Keys of recent fills kept for matching (older ones are outside any window still open)."""


def fill_key(fill: Fill) -> FillKey:
    """The key a live fill and its history row share."""
    return (fill.order_id, fill.side, float(fill.price), float(fill.size), int(fill.timestamp))


@attrs.frozen
class RecoveryPlan:
    """What the shell must fetch after a reconnect: ``account``'s history fills from
    ``since_ns`` (exchange nanoseconds, inclusive) on. ``plan_id`` names the attempt: only the
    latest plan's answer is taken (:meth:`FillLedger.resolve`)."""

    plan_id: int
    account: str
    since_ns: int


@attrs.frozen
class RecoveredFills:
    """The outcome of :meth:`FillLedger.resolve`."""

    recovered: tuple[Fill, ...]
    """The missed fills, marked ``recovered``, oldest first: publish each once."""
    replay: tuple[Fill, ...]
    """Every fill of the window, missed or seen live, in exchange time order: the inventory as
    it was when the window opened, plus these, is the account's inventory now."""
    still_down: bool
    """The connection dropped again meanwhile: a new window must open (checkpoint again)."""


class FillLedger:
    """The tracked account's fills: what was applied, what a reconnect must recover.

    ``clock`` gives the wall time in nanoseconds (the start of the first window when no fill has
    been seen yet); ``memory`` bounds the keys kept.
    """

    def __init__(
        self, *, clock: Callable[[], int] = time.time_ns, memory: int = DEFAULT_MEMORY
    ) -> None:
        if memory < 1:
            raise ValueError(f"memory must be >= 1, got {memory!r}")
        self._clock = clock
        self._memory = memory
        self._seen: Counter[FillKey] = Counter()
        self._seen_order: deque[FillKey] = deque()
        # Recovered from the history but possibly still on their way live (the history can answer
        # before the socket delivers a fill made after the reconnect): their live copy is skipped.
        self._expected: Counter[FillKey] = Counter()
        self._expected_order: deque[FillKey] = deque()
        self._newest_ns: int | None = None
        self._since_ns: int | None = None  # when tracking began
        self._window_start: int | None = None
        self._window_fills: list[Fill] = []
        self._down = False
        self._plan_id = 0
        self._account: str | None = None
        self.recovered_total = 0
        """Fills recovered from the history since the ledger began."""

    # -- what the client sees live ------------------------------------------------------------

    def tracking(self, account: str) -> None:
        """The account's state became known (its snapshot): fills before now are in it."""
        if self._account != account:
            self._account = account
            self._since_ns = self._clock()

    def live(self, fill: Fill) -> bool:
        """A live fill of the tracked account: True to apply it, False when it is the live copy
        of a fill already recovered (applied and published then)."""
        key = fill_key(fill)
        if self._expected[key] > 0:
            self._expected[key] -= 1
            if not self._expected[key]:
                del self._expected[key]
            return False
        self._remember(fill, key)
        if self._window_start is not None:
            self._window_fills.append(fill)
        return True

    def _remember(self, fill: Fill, key: FillKey) -> None:
        self._seen[key] += 1
        self._seen_order.append(key)
        if len(self._seen_order) > self._memory:
            _discard(self._seen, self._seen_order.popleft())
        if self._newest_ns is None or fill.timestamp > self._newest_ns:
            self._newest_ns = fill.timestamp

    # -- the window ---------------------------------------------------------------------------

    @property
    def down(self) -> bool:
        """Between a drop and the next reconnect."""
        return self._down

    @property
    def window_open(self) -> bool:
        """A drop opened a window that no recovery has closed yet."""
        return self._window_start is not None

    def connection_lost(self) -> bool:
        """A live connection of a tracked account dropped. True when this opens a window (the
        caller keeps the inventory as it is now, to rebuild it from); False when one is open."""
        self._down = True
        if self._account is None or self._window_start is not None:
            return False
        # Fills arrive in exchange order, so none missed is older than the newest one seen.
        start = self._newest_ns if self._newest_ns is not None else self._since_ns
        self._window_start = start if start is not None else self._clock()
        self._window_fills = []
        return True

    def reconnected(self) -> RecoveryPlan | None:
        """Live again: what to fetch, or None when no window is open."""
        self._down = False
        if self._window_start is None or self._account is None:
            return None
        self._plan_id += 1
        return RecoveryPlan(self._plan_id, self._account, self._window_start)

    def resolve(self, plan: RecoveryPlan, history: Iterable[Fill]) -> RecoveredFills | None:
        """``history``: the account's fills from the plan's start on (all of them, in any order).
        Returns what to apply and publish, or None for an answer a newer plan superseded."""
        if plan.plan_id != self._plan_id or self._window_start is None:
            return None
        start = self._window_start
        unmatched = Counter(self._seen)
        missed: list[Fill] = []
        for fill in sorted(history, key=lambda f: f.timestamp):
            if fill.timestamp < start:
                continue
            key = fill_key(fill)
            if unmatched[key] > 0:
                unmatched[key] -= 1
                continue
            recovered = attrs.evolve(fill, recovered=True)
            missed.append(recovered)
            self._remember(recovered, key)
            self._expected[key] += 1
            self._expected_order.append(key)
            if len(self._expected_order) > self._memory:
                _discard(self._expected, self._expected_order.popleft())
        # Stable: at one timestamp, the missed fills come before those seen after the reconnect.
        replay = sorted([*missed, *self._window_fills], key=lambda f: f.timestamp)
        self.recovered_total += len(missed)
        self._close_window()
        return RecoveredFills(tuple(missed), tuple(replay), still_down=self._down)

    def abandon(self, plan: RecoveryPlan) -> bool:
        """Give the window up (no history, or it failed): its missed fills stay missed. False for
        a plan a newer one superseded or already settled (nothing changes)."""
        if plan.plan_id != self._plan_id or self._window_start is None:
            return False
        self._close_window()
        return True

    def _close_window(self) -> None:
        self._window_start = None
        self._window_fills = []


def _discard(counter: Counter[FillKey], key: FillKey) -> None:
    left = counter[key] - 1
    if left > 0:
        counter[key] = left
    else:
        counter.pop(key, None)
