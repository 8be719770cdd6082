"""The exchange's per-connection limits: the client keeps under them, the simulator enforces them.

BULK disconnects a connection above 1,000 messages per second or 100 subscriptions
(docs/protocol.md). A burst of orders must be delayed by the client, never refused and never cut
off; the wait counts against each request's timeout; a 101st subscription is a ValueError before
anything is sent. The simulator disconnects as the exchange does, so a client that did not keep
to the limits would fail these tests rather than fail live.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence

import pytest
import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st
from trio_websocket import ConnectionClosed

from bulk_trio import Side, TransactionSigner, open_bulk_client
from bulk_trio.actions import LimitOrder
from bulk_trio.backoff import Backoff
from bulk_trio.limits import (
    DEFAULT_MAX_MESSAGES_PER_SECOND,
    EXCHANGE_MAX_MESSAGES_PER_SECOND,
    TokenBucket,
    check_rate_limit,
    check_subscription_room,
)
from bulk_trio.protocol.subscriptions import CANDLE_INTERVALS
from bulk_trio.sim import Simulator, open_simulator
from bulk_trio.sim.message_window import MessageWindow
from fake_exchange import FakeExchange
from ws_peer import open_peer

# -- the token bucket (core) ------------------------------------------------------------------


def most_in_one_second(times: Sequence[float]) -> int:
    """The most of ``times`` (sorted) inside any half-open window of one second."""
    most = start = 0
    for end, at in enumerate(times):
        while at - times[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


def send_greedily(bucket: TokenBucket, wanted: Sequence[float]) -> list[float]:
    """When each message goes out if the sender asks at ``wanted`` and waits as told."""
    sent: list[float] = []
    clock = 0.0
    for at in wanted:
        clock = max(clock, at)
        while wait := bucket.take(clock):
            assert wait > 0
            clock += wait
        sent.append(clock)
    return sent


@given(
    limit=st.integers(2, 1000),
    gaps=st.lists(st.floats(0, 0.05, allow_nan=False), min_size=1, max_size=600),
)
def test_no_second_ever_holds_more_than_the_limit(limit: int, gaps: list[float]) -> None:
    wanted = [sum(gaps[: i + 1]) for i in range(len(gaps))]
    sent = send_greedily(TokenBucket(limit, now=0.0), wanted)
    assert most_in_one_second(sent) <= limit
    assert all(out >= asked for out, asked in zip(sent, wanted, strict=True))


@given(limit=st.integers(10, 1000), count=st.integers(1, 3000))
def test_a_burst_is_delayed_no_more_than_the_limit_requires(limit: int, count: int) -> None:
    bucket = TokenBucket(limit, now=0.0)
    sent = send_greedily(bucket, [0.0] * count)
    # The burst allowance goes at once, the rest at the refill rate: never slower than that.
    expected_last = max(0, count - bucket.burst) / bucket.rate
    assert sent[-1] == pytest.approx(expected_last, abs=1e-6)
    assert sent[: bucket.burst] == [0.0] * min(count, bucket.burst)


def test_a_steady_rate_under_the_limit_is_never_delayed() -> None:
    bucket = TokenBucket(900, now=0.0)
    step = 1 / 800
    assert all(bucket.take(i * step) == 0.0 for i in range(5000))


def test_limits_are_checked() -> None:
    check_rate_limit(None)
    check_rate_limit(DEFAULT_MAX_MESSAGES_PER_SECOND)
    assert DEFAULT_MAX_MESSAGES_PER_SECOND < EXCHANGE_MAX_MESSAGES_PER_SECOND
    for bad in (0, 1, True, 2.5, "900"):
        with pytest.raises(ValueError, match="integer >= 2"):
            check_rate_limit(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="over the exchange's limit of 1000"):
        check_rate_limit(1001)


def test_the_subscription_room_counts_distinct_topics() -> None:
    held = [f"ticker.S{i}" for i in range(99)]
    check_subscription_room(held, ["ticker.S0", "trades.S0"])  # one new: 100 in all
    with pytest.raises(ValueError, match=r"101 topics on one connection.*allows 100"):
        check_subscription_room(held, ["trades.S0", "trades.S1"])


def test_the_simulators_window_refuses_the_message_one_too_many() -> None:
    window = MessageWindow(3)
    assert [window.allow(t) for t in (0.0, 0.1, 0.2)] == [True, True, True]
    assert not window.allow(0.99)  # a 4th within a second of the 1st
    assert window.allow(1.0)  # the 1st has left the window
    assert not window.allow(1.05)


# -- the client's limiter (shell, MockClock) --------------------------------------------------


@pytest.fixture
def signer() -> TransactionSigner:
    return TransactionSigner.generate_account(domain="testnet")


def order(index: int) -> LimitOrder:
    return LimitOrder("BTC-USD", Side.BUY, 100.0 + index, 0.01)


@pytest.fixture
async def exchange(nursery: trio.Nursery) -> FakeExchange:
    fake = FakeExchange(nursery)
    fake.max_messages_per_second = 20
    return fake


async def test_a_burst_of_orders_is_shaped_not_refused(
    exchange: FakeExchange, signer: TransactionSigner, autojump_clock: trio.testing.MockClock
) -> None:
    async with open_bulk_client(
        "ws://fake", symbols=[], signer=signer, connector=exchange.connector, stale_after=None
    ) as client:
        outcomes: list[object] = []

        async def place(index: int) -> None:
            outcomes.append(await client.place_orders(order(index), timeout=60))

        started = trio.current_time()
        async with trio.open_nursery() as nursery:
            for index in range(100):
                nursery.start_soon(place, index)
        elapsed = trio.current_time() - started
    peer = exchange.peers[0]
    posts = [
        at
        for at, msg in zip(peer.received_at, peer.received, strict=True)
        if msg.get("method") == "post"
    ]
    assert len(outcomes) == len(posts) == 100  # every order went out and was answered
    assert most_in_one_second(peer.received_at) <= 20
    assert elapsed == pytest.approx((100 - 2) / 18, rel=0.05)  # burst 2, then 18 per second


async def test_waiting_for_the_limiter_counts_against_the_timeout(
    exchange: FakeExchange, signer: TransactionSigner, autojump_clock: trio.testing.MockClock
) -> None:
    async with open_bulk_client(
        "ws://fake", symbols=[], signer=signer, connector=exchange.connector, stale_after=None
    ) as client:
        answered: list[int] = []
        timed_out: list[int] = []

        async def place(index: int) -> None:
            try:
                await client.place_orders(order(index), timeout=1.0)
                answered.append(index)
            except trio.TooSlowError:
                timed_out.append(index)

        async with trio.open_nursery() as nursery:
            for index in range(60):
                nursery.start_soon(place, index)
    posts = [m for m in exchange.peers[0].received if m.get("method") == "post"]
    # Within one second: the burst of 2 and 18 more; the rest timed out still waiting, unsent.
    assert 18 <= len(answered) <= 21
    assert len(answered) + len(timed_out) == 60
    assert len(posts) == len(answered)


# -- the simulator enforces the limits (real sockets) -----------------------------------------

SYMBOLS = ["BTC-USD", "ETH-USD", "SOL-USD", "XRP-USD", "DOGE-USD"]
INTERVALS = CANDLE_INTERVALS  # 16: with 4 more kinds, 5 symbols make exactly 100 topics


@pytest.fixture
async def strict_sim(signer: TransactionSigner) -> AsyncIterator[Simulator]:
    async with open_simulator(
        symbols=SYMBOLS,
        seed=5,
        fund={signer.public_key: 1_000_000.0},
        takers=False,
        max_messages_per_second=100,
    ) as simulator:
        yield simulator


async def close_reason(url: str, messages: list[str]) -> tuple[int | None, str | None]:
    """Send ``messages`` as fast as possible; the close code and reason the server ends with."""
    with trio.fail_after(10):
        async with open_peer(url) as peer:
            try:
                for message in messages:
                    await peer.send(message)
                while True:
                    await peer.recv_text()
            except ConnectionClosed as closed:
                return closed.reason.code, closed.reason.reason
    raise AssertionError("the connection stayed open")  # pragma: no cover


async def test_the_simulator_disconnects_above_the_message_rate(strict_sim: Simulator) -> None:
    unsubscribe = '{"method": "unsubscribe", "topic": "ticker.BTC-USD"}'  # cheap, and answered
    code, reason = await close_reason(strict_sim.url, [unsubscribe] * 150)
    assert code == 1008 and reason is not None and "more than 100 messages in one second" in reason
    assert strict_sim.stats.limit_disconnects == 1


async def test_the_simulator_disconnects_at_the_101st_subscription(strict_sim: Simulator) -> None:
    entries: list[dict[str, str]] = [
        {"type": kind, "symbol": symbol}
        for symbol in SYMBOLS
        for kind in ("ticker", "trades", "l2Snapshot", "l2Delta")
    ]
    entries += [
        {"type": "candle", "symbol": symbol, "interval": interval}
        for symbol in SYMBOLS
        for interval in INTERVALS
    ]
    assert len(entries) == 100  # allowed, as many as the exchange allows
    one_more = {"type": "account", "user": TransactionSigner.generate_account().public_key}
    requests = [
        json.dumps({"method": "subscribe", "subscription": entries}),
        json.dumps({"method": "subscribe", "subscription": [one_more]}),
    ]
    code, reason = await close_reason(strict_sim.url, requests)
    assert code == 1008 and reason is not None and "too many subscriptions" in reason


async def test_a_burst_through_the_limiter_is_never_disconnected(
    strict_sim: Simulator, signer: TransactionSigner
) -> None:
    async with open_bulk_client(
        strict_sim.url, symbols=["BTC-USD"], signer=signer, max_messages_per_second=80
    ) as client:
        replies = []

        async def place(index: int) -> None:
            replies.append(await client.place_orders(order(index), timeout=10))

        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                for index in range(120):
                    nursery.start_soon(place, index)
        assert len(replies) == 120
        assert client.reconnects == 0 and client.last_disconnect_reason is None
    assert strict_sim.stats.limit_disconnects == 0


async def test_a_burst_without_the_limiter_is_cut_off(
    strict_sim: Simulator, signer: TransactionSigner
) -> None:
    # What the simulator's enforcement is for: the same burst, unshaped, fails as it would live.
    async with open_bulk_client(
        strict_sim.url,
        symbols=["BTC-USD"],
        signer=signer,
        max_messages_per_second=None,
        backoff=Backoff(initial=0.05, maximum=0.1, jitter=0.0),
    ) as client:

        async def place(index: int) -> None:
            try:
                await client.place_orders(order(index), timeout=5)
            except Exception:
                pass  # lost with the connection: ConnectionLost or NotConnected

        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                for index in range(150):
                    nursery.start_soon(place, index)
        assert strict_sim.stats.limit_disconnects >= 1
        assert client.last_disconnect_reason is not None
        assert "1008" in client.last_disconnect_reason


async def test_the_client_refuses_a_101st_subscription_before_sending_it(
    strict_sim: Simulator,
) -> None:
    async with open_bulk_client(strict_sim.url, symbols=SYMBOLS) as client:
        with trio.fail_after(20):
            for symbol in SYMBOLS:
                await client.subscribe_trades(symbol)
                await client.subscribe_orderbook_snapshot(symbol)
                await client.subscribe_orderbook_delta(symbol)
                for interval in INTERVALS:
                    await client.subscribe_candles(symbol, interval)
        assert sum(len(s.topics) for s in client.subscriptions) == 100
        with pytest.raises(ValueError, match="101 topics on one connection"):
            await client.subscribe_account(TransactionSigner.generate_account().public_key)
        assert sum(len(s.topics) for s in client.subscriptions) == 100
        assert client.reconnects == 0
    assert strict_sim.stats.limit_disconnects == 0


def test_a_client_with_too_many_symbols_is_refused_up_front() -> None:
    symbols = [f"S{i}-USD" for i in range(101)]
    with pytest.raises(ValueError, match="101 topics"):
        trio.run(enter_client, symbols)


async def enter_client(symbols: list[str]) -> None:
    async with open_bulk_client("ws://127.0.0.1:1", symbols=symbols):
        pass  # pragma: no cover
