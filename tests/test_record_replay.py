"""Record a market from the simulator, replay it into another one: over real sockets, end to end.

What a user relies on: a client watching the replay sees the ticker, book and trade sequence the
recording client saw, and orders placed against the replay fill against the replayed book.
"""

from __future__ import annotations

import gzip
import math
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
import trio.testing

from bulk_trio import (
    L2Snapshot,
    Side,
    Ticker,
    Topic,
    Trade,
    TransactionSigner,
    open_bulk_client,
    open_recorder,
)
from bulk_trio.recording import (
    RecordedFrame,
    RecordingHeader,
    decode_frame,
    decode_header,
    encode_frame,
    encode_header,
)
from bulk_trio.shell.client import BulkClient
from bulk_trio.sim import open_simulator

SYMBOL = "BTC-USD"
STEPS = 25


@attrs.define
class Seen:
    """What a client's event channels delivered, in order, without the times."""

    tickers: list[Ticker] = attrs.field(factory=list)
    books: list[tuple[tuple[tuple[float, float], ...], ...]] = attrs.field(factory=list)
    trades: list[tuple[float, float, Side]] = attrs.field(factory=list)


async def _collect(client: BulkClient, seen: Seen, *, task_status: Any) -> None:
    async with (
        client.events(Topic.TICKER) as tickers,
        client.events(Topic.L2SNAPSHOT) as books,
        client.events(Topic.TRADES) as trades,
        trio.open_nursery() as nursery,
    ):

        async def follow_tickers() -> None:
            async for ticker in tickers:
                seen.tickers.append(attrs.evolve(ticker, timestamp=0))

        async def follow_books() -> None:
            async for book in books:
                assert isinstance(book, L2Snapshot)
                sides = (book.bids, book.asks)
                seen.books.append(tuple(tuple((lv.price, lv.size) for lv in s) for s in sides))

        async def follow_trades() -> None:
            async for batch in trades:
                seen.trades += [(t.price, t.size, t.side) for t in batch if isinstance(t, Trade)]

        nursery.start_soon(follow_tickers)
        nursery.start_soon(follow_books)
        nursery.start_soon(follow_trades)
        task_status.started()


async def _settle(client: BulkClient) -> None:
    """A round trip: its answer comes after every frame the server queued before it."""
    await client.subscribe_trades(SYMBOL)
    # Every frame before the answer is now in the event channels: wait until their readers have
    # taken it all and are parked again.
    await trio.testing.wait_all_tasks_blocked()


async def _record(path: Path, seen: Seen) -> int:
    async with (
        open_simulator(
            symbols=[SYMBOL], seed=11, feed=False, ticker_interval=None, snapshot_interval=None
        ) as sim,
        open_bulk_client(sim.url, symbols=[]) as client,
        trio.open_nursery() as nursery,
    ):
        await nursery.start(_collect, client, seen)
        async with open_recorder(client, path, symbols=[SYMBOL]) as recorder:
            for _ in range(STEPS):
                sim.step_feed()
                sim.publish_market_data()
            await _settle(client)
        nursery.cancel_scope.cancel()
        return recorder.frames


async def test_a_replay_shows_a_client_the_recorded_tickers_books_and_trades(
    tmp_path: Path,
) -> None:
    path = tmp_path / "btc.rec.gz"
    recorded = Seen()
    with trio.fail_after(30):
        frames = await _record(path, recorded)
    assert len(recorded.tickers) > STEPS and len(recorded.books) > STEPS and recorded.trades
    lines = gzip.decompress(path.read_bytes()).splitlines(keepends=True)
    header = decode_header(lines[0])
    assert header.symbols == (SYMBOL,) and header.url.startswith("ws://127.0.0.1:")
    assert len(lines) == frames + 1
    records = [decode_frame(line, n) for n, line in enumerate(lines[1:], start=2)]
    assert all(isinstance(record, RecordedFrame) for record in records)

    replayed = Seen()
    with trio.fail_after(30):
        async with (
            open_simulator(
                replay=path,
                speed=math.inf,
                feed=False,
                ticker_interval=None,
                snapshot_interval=None,
            ) as sim,
            open_bulk_client(sim.url, symbols=[]) as client,
            trio.open_nursery() as nursery,
        ):
            assert sim.symbols == (SYMBOL,)
            await nursery.start(_collect, client, replayed)
            await client.subscribe_ticker(SYMBOL)
            await client.subscribe_trades(SYMBOL)
            await client.subscribe_orderbook_snapshot(SYMBOL)
            await client.subscribe_orderbook_delta(SYMBOL)
            await _settle(client)
            # Before the replay starts the book is empty: that is the subscription's first frame.
            assert replayed.books == [((), ())] and replayed.tickers == []
            replayed.books.clear()
            sim.start_replay()
            await sim.wait_replay_finished()
            await _settle(client)
            book = client.get_book(SYMBOL)
            assert book is not None
            final = (
                [(lv.price, lv.size) for lv in book.levels(Side.BUY)],
                [(lv.price, lv.size) for lv in book.levels(Side.SELL)],
            )
            nursery.cancel_scope.cancel()

    assert replayed.tickers == recorded.tickers
    assert replayed.books == recorded.books
    assert replayed.trades == recorded.trades
    # The l2Delta stream built the same book as the recording's last snapshot.
    last_bids, last_asks = recorded.books[-1]
    assert final == (list(last_bids), list(last_asks))


async def test_orders_against_a_replay_fill_against_the_replayed_book(tmp_path: Path) -> None:
    path = tmp_path / "btc.rec.gz"
    with trio.fail_after(30):
        await _record(path, Seen())
    signer = TransactionSigner.generate_account(domain="testnet")
    with trio.fail_after(30):
        async with open_simulator(
            replay=path,
            speed=math.inf,
            fund={signer.public_key: 1_000_000.0},
            ticker_interval=None,
            snapshot_interval=None,
        ) as sim:
            await sim.wait_replay_finished()
            (best_bid, *_), (best_ask, *_) = (side[0] for side in sim.engine.book(SYMBOL))
            async with open_bulk_client(sim.url, symbols=[SYMBOL], signer=signer) as client:
                bought = await client.place_market_order(SYMBOL, "buy", 0.01)
                assert bought.status.value == "filled"
                assert bought.meta["avgPx"] == pytest.approx(best_ask)
                resting = await client.place_limit_order(SYMBOL, "sell", best_ask + 50_000, 0.01)
                assert resting.status.value == "resting"
                await _settle(client)
                position = client.positions[SYMBOL]
                assert position.size == pytest.approx(0.01)
                assert position.entry_price == pytest.approx(best_ask)
    assert best_bid < best_ask


async def test_a_recording_cut_off_mid_file_replays_up_to_the_damage(tmp_path: Path) -> None:
    whole = tmp_path / "whole.rec.gz"
    with trio.fail_after(30):
        frames = await _record(whole, Seen())
    cut = tmp_path / "cut.rec.gz"
    cut.write_bytes(whole.read_bytes()[: len(whole.read_bytes()) * 2 // 3])
    with trio.fail_after(30):
        async with open_simulator(
            replay=cut, speed=math.inf, ticker_interval=None, snapshot_interval=None
        ) as sim:
            await sim.wait_replay_finished()
            assert sim.replayer is not None
            assert sim.replayer.problems >= 1  # the damage, reported, not raised
            assert 0 < sim.replayer.feed.counts.frames < frames
            bids, asks = sim.engine.book(SYMBOL)
            assert bids and asks


async def test_bad_replay_arguments_are_refused_before_anything_runs(tmp_path: Path) -> None:
    path = tmp_path / "btc.rec.gz"
    with trio.fail_after(30):
        await _record(path, Seen())
    for speed in (0, -1.0, math.nan):
        with pytest.raises(ValueError, match="speed must be a number > 0"):
            async with open_simulator(replay=path, speed=speed):
                pass  # pragma: no cover - never entered
    notes = tmp_path / "notes.txt.gz"
    notes.write_bytes(gzip.compress(b"shopping list\n"))
    with pytest.raises(ValueError, match="not a bulk-trio recording"):
        async with open_simulator(replay=notes):
            pass  # pragma: no cover - never entered
    with pytest.raises(ValueError, match="cannot read recording"):
        async with open_simulator(replay=tmp_path / "missing.rec.gz"):
            pass  # pragma: no cover - never entered


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


def _hand_made_recording(path: Path) -> None:
    """A book at t0, tickers at t0 + 1 s and t0 + 2 s, a delta at t0 + 3 s."""
    t0 = 1_770_000_000_000_000_000
    second = 1_000_000_000
    ticker = '{"type":"ticker","topic":"ticker.BTC-USD","data":{"ticker":{"symbol":"BTC-USD",'
    ticker += '"markPrice":%s,"lastPrice":%s,"oraclePrice":%s,"timestamp":1}}}'
    book = '{"type":"l2Delta","topic":"l2Delta.BTC-USD","data":{"book":{"updateType":"%s",'
    book += '"symbol":"BTC-USD","timestamp":1,"levels":[%s,%s]}}}'
    header = RecordingHeader("ws://127.0.0.1:1", (SYMBOL,), t0, "test")
    path.write_bytes(
        gzip.compress(
            encode_header(header)
            + encode_frame(
                t0, book % ("snapshot", '[{"px":100,"sz":1,"n":1}]', '[{"px":102,"sz":1,"n":1}]')
            )
            + encode_frame(t0 + second, ticker % (101.0, 101.0, 101.0))
            + encode_frame(t0 + 2 * second, ticker % (102.0, 102.0, 102.0))
            + encode_frame(t0 + 3 * second, book % ("delta", '[{"px":100,"sz":0,"n":0}]', "[]"))
        )
    )


async def test_the_replay_keeps_the_spacing_divided_by_speed_and_holds_while_paused(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    path = tmp_path / "hand.rec.gz"
    _hand_made_recording(path)
    with trio.fail_after(60):
        async with open_simulator(
            replay=path, speed=2.0, feed=False, ticker_interval=None, snapshot_interval=None
        ) as sim:
            replayer = sim.replayer
            assert replayer is not None
            sim.pause_feed()
            sim.start_replay()
            await trio.sleep(10)
            assert replayer.feed.counts.frames == 0  # held while paused
            sim.resume_feed()
            resumed = trio.current_time()
            # Frames are due 0, 0.5, 1.0 and 1.5 s after the replay goes on (speed 2), which
            # notices the resume within one PAUSE_POLL (0.05 s).
            seen = []
            for check in (0.25, 0.75, 1.25, 1.75):
                await trio.sleep_until(resumed + check)
                seen.append((replayer.feed.counts.frames, sim.engine.market(SYMBOL).mark_price))
            assert seen == [(1, 101.0), (2, 101.0), (3, 102.0), (4, 102.0)]
            await sim.wait_replay_finished()
            assert sim.engine.book(SYMBOL) == ([], [(102.0, 1.0, 1)])


async def test_without_symbols_the_recorder_records_the_clients_own_subscriptions(
    tmp_path: Path,
) -> None:
    path = tmp_path / "own.rec.gz"
    with trio.fail_after(30):
        async with (
            open_simulator(symbols=[SYMBOL, "ETH-USD"], seed=3, feed=False) as sim,
            open_bulk_client(sim.url, symbols=["ETH-USD"]) as client,
        ):
            async with open_recorder(client, path) as recorder:
                sim.publish_market_data()
                await _settle(client)
            assert recorder.header.symbols == ("ETH-USD",)
    lines = gzip.decompress(path.read_bytes()).splitlines(keepends=True)
    assert decode_header(lines[0]).symbols == ("ETH-USD",)
    records = [decode_frame(line, number) for number, line in enumerate(lines[1:], start=2)]
    texts = [record.text for record in records if isinstance(record, RecordedFrame)]
    assert any(text.startswith('{"type":"ticker","topic":"ticker.ETH-USD"') for text in texts)
    assert not any("l2Delta" in text for text in texts)  # nothing subscribed on its behalf
