"""examples/http_api.py, run as a user would, does what docs/guides/http.md says it does."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import trio

from bulk_trio import OrderStatus

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


async def test_the_http_example_trades_and_recovers_its_fills(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.delenv("BULK_PRIVATE_KEY", raising=False)
    example = importlib.import_module("http_api")
    with trio.fail_after(30):
        outcome = await example.main()
    assert outcome.bid_status is OrderStatus.RESTING
    assert outcome.bid / outcome.tick_size == pytest.approx(round(outcome.bid / outcome.tick_size))
    assert outcome.fills_recovered >= 1  # the market buy, found again through history
    assert outcome.candles >= 1
    assert outcome.open_at_exit == 0
    assert "fill buy" in capsys.readouterr().out
