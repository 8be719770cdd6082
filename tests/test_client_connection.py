"""The client's real connection loop against an in-memory peer, with MockClock: replay,
backoff, status events, confirmation by data, error frames without an id."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import pytest
import trio
import trio.testing

from bulk_trio import (
    BulkClient,
    ConnectError,
    ConnectionStatus,
    ExchangeError,
    Side,
    StatusKind,
    Subscription,
    Topic,
    TransactionSigner,
)
from bulk_trio.backoff import Backoff
from bulk_trio.enums import ConnectionState
from bulk_trio.errors import ReconnectGaveUp
from bulk_trio.protocol.keys import b58encode
from bulk_trio.shell.client import open_bulk_client
from bulk_trio.shell.connection import ConnectionSettings
from fake_exchange import FakeExchange, error_reply

WATCHED = b58encode(bytes(range(32)))
OTHER = b58encode(bytes(range(1, 33)))


@pytest.fixture
def mock_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


@pytest.fixture
def fake(nursery: trio.Nursery) -> FakeExchange:
    return FakeExchange(nursery)


def client_of(fake: FakeExchange, **options: Any):  # type: ignore[no-untyped-def]
    settings: dict[str, Any] = {
        "symbols": ["BTC-USD"],
        "connector": fake.connector,
        "heartbeat_interval": None,
        "stale_after": None,
        "backoff": Backoff(jitter=0.0, healthy_after=60.0),
    }
    settings.update(options)
    return open_bulk_client("ws://fake", **settings)


def subscribed(peer_received: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for m in peer_received if m.get("method") == "subscribe" for s in m["subscription"]]


# -- replay and backoff through the real loop -----------------------------------------------------


async def test_a_subscription_made_in_backoff_is_replayed_on_the_next_connection(
    fake: FakeExchange, mock_clock: trio.testing.MockClock
) -> None:
    async with client_of(fake) as client:
        fake.refuse = 1
        await fake.peers[0].drop()
        with trio.fail_after(600):  # virtual seconds
            await client.wait_for_state(ConnectionState.BACKOFF)
        with trio.fail_after(1):
            await client.subscribe_trades("ETH-USD")  # returns at once: only recorded
        assert Subscription.trades("ETH-USD") in client.subscriptions
        with trio.fail_after(600):
            await client.wait_connected()
        assert {"type": "trades", "symbol": "ETH-USD"} in subscribed(fake.peers[-1].received)


async def test_a_subscription_made_during_the_replay_is_sent_once_live(
    fake: FakeExchange, mock_clock: trio.testing.MockClock
) -> None:
    async with client_of(fake) as client:
        fake.confirm = False  # the next connection's replay waits for us to confirm it
        await fake.peers[0].drop()
        with trio.fail_after(600):
            await client.wait_for_state(ConnectionState.BACKOFF)
            await client.wait_for_state(ConnectionState.CONNECTING)
            await fake.connected.wait()
        with trio.fail_after(1):
            await client.subscribe_trades("ETH-USD")  # recorded: the replay is already sent
        peer = fake.peers[-1]
        await peer.send({"type": "subscriptionResponse", "topics": ["ticker.BTC-USD"]})
        with trio.fail_after(600):
            await client.wait_connected()
            while {"type": "trades", "symbol": "ETH-USD"} not in subscribed(peer.received):
                await peer.message_arrived.wait()


async def test_a_healthy_period_restarts_the_backoff_at_the_first_delay(
    fake: FakeExchange, mock_clock: trio.testing.MockClock
) -> None:
    async with client_of(fake) as client:
        fake.refuse = 2
        first_drop = trio.current_time()
        await fake.peers[0].drop()
        with trio.fail_after(600):
            await client.wait_for_state(ConnectionState.BACKOFF)
            await client.wait_connected()
        assert [t - first_drop for t in fake.attempts[1:]] == pytest.approx([1.0, 3.0, 7.0])
        await trio.sleep(100)  # healthy for longer than healthy_after
        second_drop = trio.current_time()
        await fake.peers[-1].drop()
        with trio.fail_after(600):
            await client.wait_for_state(ConnectionState.BACKOFF)
            await client.wait_connected()
        assert fake.attempts[-1] - second_drop == pytest.approx(1.0)  # not 8 s


async def test_max_reconnects_counts_consecutive_failures_not_a_lifetime(
    fake: FakeExchange, mock_clock: trio.testing.MockClock
) -> None:
    backoff = Backoff(jitter=0.0, healthy_after=60.0, max_attempts=2)
    survived: list[int] = []

    async def live_through_outages() -> None:
        async with client_of(fake, backoff=backoff) as client:
            for outage in range(1, 4):  # three outages of two attempts each: all survived
                fake.refuse = 1
                await fake.peers[-1].drop()
                with trio.fail_after(600):
                    await client.wait_for_state(ConnectionState.BACKOFF)
                    await client.wait_connected()
                assert client.reconnects == outage
                survived.append(outage)
                await trio.sleep(100)
            fake.refuse = 3  # then one more than allowed in a row
            await fake.peers[-1].drop()
            with trio.fail_after(600):
                await trio.sleep_forever()

    with pytest.raises(ReconnectGaveUp):
        await live_through_outages()
    assert survived == [1, 2, 3]


# -- status events --------------------------------------------------------------------------------


async def test_status_events_tell_the_connections_life_in_order(
    fake: FakeExchange, mock_clock: trio.testing.MockClock
) -> None:
    first: list[ConnectionStatus] = []
    seen: list[ConnectionStatus] = []

    async def watch(client: BulkClient, task_status: trio.TaskStatus[None]) -> None:
        async with client.events(Topic.STATUS) as statuses:
            task_status.started()
            async for status in statuses:  # ends after CLOSED, when the block has ended
                seen.append(status)

    async with (
        trio.open_nursery() as outside,
        client_of(fake, handlers={Topic.STATUS: first.append}) as client,
    ):
        await outside.start(watch, client)
        fake.refuse = 1
        await fake.peers[0].drop()
        with trio.fail_after(600):
            await client.wait_for_state(ConnectionState.BACKOFF)
            await client.wait_connected()
        await trio.sleep(1)  # the handler's turn
    assert first[0] == ConnectionStatus(kind=StatusKind.LIVE)
    kinds = [status.kind for status in seen]
    assert kinds == [
        StatusKind.DISCONNECTED,
        StatusKind.RETRYING,
        StatusKind.RETRYING,
        StatusKind.RESYNCED,
        StatusKind.CLOSED,
    ]
    assert seen[0].reason is not None and "closed" in seen[0].reason
    assert [(s.delay, s.attempt) for s in seen[1:3]] == [(1.0, 1), (2.0, 2)]
    assert "refused" in (seen[2].reason or "")
    assert seen[3].reconnects == 1 and seen[4].reconnects == 1


# -- subscriptions confirmed by data --------------------------------------------------------------


async def test_a_server_that_streams_without_confirming_is_usable(
    fake: FakeExchange, mock_clock: trio.testing.MockClock
) -> None:
    fake.confirm = False
    fake.stream_data = True
    signer = TransactionSigner.generate_account(domain="testnet")
    with trio.fail_after(600):
        async with client_of(fake, signer=signer) as client:
            assert client.is_connected and client.margin is not None
            await client.subscribe_ticker("ETH-USD")  # confirmed by its first ticker
            assert client.get_ticker("ETH-USD") is not None


async def test_a_subscription_with_no_answer_at_all_still_times_out(
    fake: FakeExchange, mock_clock: trio.testing.MockClock
) -> None:
    fake.confirm = False
    with pytest.raises(ConnectError, match="did not confirm the subscriptions in time"):
        async with client_of(fake, default_timeout=5.0):
            pytest.fail("the block must not be entered")  # pragma: no cover


async def test_a_later_subscription_with_no_answer_times_out(
    fake: FakeExchange, mock_clock: trio.testing.MockClock
) -> None:
    async with client_of(fake, default_timeout=5.0) as client:
        fake.peers[0].confirm = False
        with pytest.raises(trio.TooSlowError):
            await client.subscribe_ticker("ETH-USD")


async def test_a_replayed_subscription_refused_keeps_the_client_retrying(
    fake: FakeExchange, mock_clock: trio.testing.MockClock
) -> None:
    async with client_of(fake) as client, client.events(Topic.STATUS) as statuses:
        fake.refuse_topics = frozenset({"ticker.BTC-USD"})
        await fake.peers[0].drop()
        with trio.fail_after(600):
            while (status := await statuses.receive()).kind is not StatusKind.RETRYING:
                pass
            while (status := await statuses.receive()).kind is not StatusKind.RETRYING:
                pass
        assert "not ready: subscription refused" in (status.reason or "")
        assert not client.is_connected
        fake.refuse_topics = frozenset()
        with trio.fail_after(600):
            await client.wait_connected()
        assert Subscription.ticker("BTC-USD") in client.subscriptions  # still replayed


async def test_a_subscription_refused_on_the_first_connection_is_a_connect_error(
    fake: FakeExchange,
) -> None:
    fake.refuse_topics = frozenset({"ticker.BTC-USD"})
    with trio.fail_after(10), pytest.raises(ConnectError, match="subscription refused"):
        async with client_of(fake):
            pytest.fail("the block must not be entered")  # pragma: no cover


# -- error frames without an id -------------------------------------------------------------------


async def test_an_error_frame_fails_the_only_request_in_flight(
    fake: FakeExchange, mock_clock: trio.testing.MockClock
) -> None:
    signer = TransactionSigner.generate_account(domain="testnet")
    async with client_of(fake, signer=signer, default_timeout=30.0) as client:
        fake.peers[0].post_reply = error_reply
        started = trio.current_time()
        with pytest.raises(ExchangeError, match="refused"):
            await client.place_limit_order("BTC-USD", Side.BUY, 100.0, 1.0)
        assert trio.current_time() - started < 30.0  # answered, not timed out


async def test_an_error_frame_with_two_requests_in_flight_fails_neither(
    fake: FakeExchange, mock_clock: trio.testing.MockClock
) -> None:
    signer = TransactionSigner.generate_account(domain="testnet")
    outcomes: list[type[BaseException]] = []
    async with client_of(fake, signer=signer, default_timeout=30.0) as client:
        peer = fake.peers[0]
        replies: list[Callable[[int], dict[str, Any] | None]] = [lambda _: None, error_reply]
        peer.post_reply = lambda request_id: replies.pop(0)(request_id)

        async def place(price: float) -> None:
            try:
                await client.place_limit_order("BTC-USD", Side.BUY, price, 1.0)
            except (ExchangeError, trio.TooSlowError) as exc:
                outcomes.append(type(exc))

        async with client.events(Topic.ERROR) as errors, trio.open_nursery() as nursery:
            nursery.start_soon(place, 100.0)
            await trio.sleep(1)
            nursery.start_soon(place, 101.0)
            with trio.fail_after(5):
                await errors.receive()  # published, for the program to see
    assert outcomes == [trio.TooSlowError, trio.TooSlowError]  # no outcome claimed


# -- the tracked account --------------------------------------------------------------------------


async def test_subscribing_a_list_of_accounts_tracks_the_first(
    fake: FakeExchange, mock_clock: trio.testing.MockClock
) -> None:
    async with client_of(fake) as client, client.events(Topic.ACCOUNT) as snapshots:
        assert client.account is None
        await client.subscribe_account([WATCHED, OTHER])
        assert client.account == WATCHED
        with trio.fail_after(5):
            await snapshots.receive()  # the snapshot follows the confirmation
        assert client.margin is not None and client.account_snapshot is not None
        assert client.account_snapshot.account == WATCHED


# -- kill switch edge ------------------------------------------------------------------------------


async def test_cancelling_the_entry_of_a_cancel_on_exit_client_is_prompt(
    fake: FakeExchange, mock_clock: trio.testing.MockClock
) -> None:
    fake.confirm = False  # entering waits for a confirmation that never comes
    signer = TransactionSigner.generate_account(domain="testnet")
    started = trio.current_time()
    with trio.move_on_after(1) as scope:
        async with client_of(fake, signer=signer, cancel_on_exit=True, default_timeout=30.0):
            pytest.fail("the block must not be entered")  # pragma: no cover
    assert scope.cancelled_caught
    assert trio.current_time() - started == pytest.approx(1.0)


def test_connection_settings_are_keyword_only_and_frozen() -> None:
    settings = ConnectionSettings(stale_after=None)
    assert settings.stale_after is None and settings.connect_timeout == 10.0
    with pytest.raises(TypeError):
        ConnectionSettings(5.0)  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        settings.stale_after = 1.0  # type: ignore[misc]
