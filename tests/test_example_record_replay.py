"""examples/record_and_replay.py, run for a moment, records, replays and trades."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import trio

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


async def test_the_example_trades_against_its_own_recording(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.delenv("BULK_PRIVATE_KEY", raising=False)
    example = importlib.import_module("record_and_replay")
    with trio.fail_after(30):
        outcome = await example.main(duration=0.6)
    assert outcome.frames > 0
    assert outcome.entry_price is not None and outcome.entry_price > 0
    assert outcome.last_mark is not None and outcome.unrealized_pnl is not None
    # The P&L is the replayed mark's move from the entry, for 0.01 BTC.
    expected = (outcome.last_mark - outcome.entry_price) * 0.01
    assert outcome.unrealized_pnl == pytest.approx(expected, abs=1e-6)
