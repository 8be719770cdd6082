"""Unit tests of the client shell against an in-memory peer: timing with MockClock, error shapes."""

from __future__ import annotations

import json

import pytest
import trio
import trio.testing

from bulk_trio import (
    BulkClient,
    BulkError,
    ConnectError,
    LimitOrder,
    OrderStatus,
    ProtocolError,
    Side,
    Topic,
    TransactionSigner,
    order_id,
)
from bulk_trio.backoff import Backoff, ReconnectGaveUp
from bulk_trio.enums import ConnectionState
from bulk_trio.shell.client import open_bulk_client
from bulk_trio.shell.transport import TransportClosed, WebSocketTransport, handshake
from fake_exchange import FakeExchange, FakePeer, ticker_frame

NO_JITTER = {"jitter": 0.0}


@pytest.fixture
def mock_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


@pytest.fixture
def fake(nursery: trio.Nursery) -> FakeExchange:
    return FakeExchange(nursery)


def quiet_client(fake: FakeExchange, **options: object):  # type: ignore[no-untyped-def]
    settings: dict[str, object] = {
        "url": "ws://fake",
        "symbols": ["BTC-USD"],
        "connector": fake.connector,
        "heartbeat_interval": None,
        "stale_after": None,
        "backoff": Backoff(**NO_JITTER),  # type: ignore[arg-type]
    }
    settings.update(options)
    return open_bulk_client(**settings)  # type: ignore[arg-type]


async def test_reconnect_waits_the_backoff_delays(
    fake: FakeExchange, mock_clock: trio.testing.MockClock
) -> None:
    async with quiet_client(fake) as client:
        assert client.is_connected
        fake.refuse = 3
        dropped_at = trio.current_time()
        await fake.peers[0].drop()
        await fake.connected.wait()
        assert client.connection_state is ConnectionState.CONNECTING or client.is_connected
        with trio.fail_after(600):  # virtual seconds
            await client.wait_connected()
        waits = [t - dropped_at for t in fake.attempts[1:]]
        assert waits == pytest.approx([1.0, 3.0, 7.0, 15.0])  # 1, 2, 4, 8 s apart
        assert client.reconnects == 1  # one reconnection, after four attempts (issue 11)
        # The subscriptions were replayed on the new connection.
        assert fake.peers[-1].received[0]["method"] == "subscribe"


async def test_backoff_state_is_visible_while_waiting(
    fake: FakeExchange, mock_clock: trio.testing.MockClock
) -> None:
    async with quiet_client(fake) as client:
        fake.refuse = 1
        await fake.peers[0].drop()
        with trio.fail_after(600):  # virtual seconds
            assert await client.wait_for_state(ConnectionState.BACKOFF) is ConnectionState.BACKOFF
        assert not client.is_connected
        assert client.last_disconnect_reason is not None
        with trio.fail_after(600):  # virtual seconds
            await client.wait_connected()
        # The last thing that went wrong was the refused attempt, not the original drop.
        assert "refused" in (client.last_disconnect_reason or "")


async def test_giving_up_leaves_the_block_as_one_bulk_error(
    fake: FakeExchange, mock_clock: trio.testing.MockClock
) -> None:
    async def run_until_it_gives_up() -> None:
        async with quiet_client(fake, backoff=Backoff(max_attempts=2, **NO_JITTER)) as client:
            clients.append(client)
            fake.refuse = 100
            await fake.peers[0].drop()
            await trio.sleep_forever()

    clients: list[BulkClient] = []
    with pytest.raises(ReconnectGaveUp):
        await run_until_it_gives_up()
    client = clients[0]
    assert client.connection_state is ConnectionState.CLOSED
    assert len(fake.attempts) == 3


async def test_first_connection_failure_is_a_connect_error(fake: FakeExchange) -> None:
    fake.refuse = 1
    with pytest.raises(ConnectError, match="refused"):
        async with quiet_client(fake):
            pytest.fail("the block must not be entered")  # pragma: no cover


async def test_user_exceptions_pass_through_unchanged(fake: FakeExchange) -> None:
    class Mine(Exception):
        pass

    with pytest.raises(Mine) as caught:
        async with quiet_client(fake):
            raise Mine("strategy bug")
    assert type(caught.value) is Mine


async def test_missing_pong_triggers_a_reconnect(
    fake: FakeExchange, mock_clock: trio.testing.MockClock
) -> None:
    async with quiet_client(fake, heartbeat_interval=20.0, heartbeat_timeout=10.0) as client:
        fake.peers[0].answer_pings = False
        started = trio.current_time()
        with trio.fail_after(600):  # virtual seconds
            await client.wait_for_state(ConnectionState.BACKOFF)
        assert trio.current_time() - started == pytest.approx(30.0)
        assert "no pong" in (client.last_disconnect_reason or "")
        with trio.fail_after(600):  # virtual seconds
            await client.wait_connected()


async def test_answered_pings_keep_the_connection(
    fake: FakeExchange, mock_clock: trio.testing.MockClock
) -> None:
    async with quiet_client(fake, heartbeat_interval=20.0, heartbeat_timeout=10.0) as client:
        await trio.sleep(200)
        assert client.is_connected and client.reconnects == 0


async def test_a_silent_feed_triggers_a_reconnect(
    fake: FakeExchange, mock_clock: trio.testing.MockClock
) -> None:
    async with quiet_client(fake, stale_after=30.0) as client:
        peer = fake.peers[0]
        for _ in range(5):  # a live feed keeps the connection
            await trio.sleep(10)
            await peer.send(ticker_frame())
        assert client.is_connected and client.reconnects == 0
        with trio.fail_after(600):  # virtual seconds
            await client.wait_for_state(ConnectionState.BACKOFF)
        assert "stale feed" in (client.last_disconnect_reason or "")


async def test_malformed_frames_are_reported_and_skipped(fake: FakeExchange) -> None:
    async with quiet_client(fake) as client:
        async with client.events(Topic.ERROR) as errors, client.events(Topic.TICKER) as tickers:
            peer = fake.peers[0]
            await peer.send("{not json")
            await peer.send({"type": "ticker", "data": {}})
            await peer.send(ticker_frame())
            first, second = await errors.receive(), await errors.receive()
            assert isinstance(first, ProtocolError) and isinstance(second, ProtocolError)
            assert "ticker" in second.reason
            ticker = await tickers.receive()
            assert ticker.symbol == "BTC-USD"
        assert client.is_connected


async def test_an_acknowledged_order_is_pending_with_its_precomputed_id(
    fake: FakeExchange,
) -> None:
    signer = TransactionSigner.generate_account(domain="testnet")
    async with quiet_client(fake, signer=signer) as client:
        nonce = signer.next_nonce()
        response = await client.place_limit_order("BTC-USD", Side.BUY, 100.0, 1.0, nonce=nonce)
        order = LimitOrder("BTC-USD", Side.BUY, 100.0, 1.0)
        assert response.status is OrderStatus.PENDING and not response.is_error
        assert response.order_id == order_id(order, seqno=0, nonce=nonce, account=signer.public_key)


async def test_max_reconnects_and_backoff_together_are_refused(fake: FakeExchange) -> None:
    with pytest.raises(ValueError, match="max_reconnects"):
        async with quiet_client(fake, max_reconnects=3):
            pass  # pragma: no cover


async def test_trading_without_a_signer_fails_at_once(fake: FakeExchange) -> None:
    async with quiet_client(fake) as client:
        with pytest.raises(RuntimeError, match="signer"):
            await client.place_limit_order("BTC-USD", Side.BUY, 100.0, 1.0)
        assert fake.peers[0].received[1:] == []  # nothing was sent


async def test_leaving_the_block_ends_consumers_after_what_was_delivered(
    fake: FakeExchange, nursery: trio.Nursery
) -> None:
    received: list[object] = []
    finished = trio.Event()

    async with quiet_client(fake) as client:

        async def consume(task_status: trio.TaskStatus[None]) -> None:
            async with client.events(Topic.TICKER) as tickers:
                task_status.started()
                async for ticker in tickers:
                    received.append(ticker)
            finished.set()

        await nursery.start(consume)
        async with client.events(Topic.TICKER) as witness:
            await fake.peers[0].send(ticker_frame())
            await witness.receive()
    with trio.fail_after(5):
        await finished.wait()
    assert [t.symbol for t in received] == ["BTC-USD"]  # type: ignore[attr-defined]
    with pytest.raises(BulkError):
        client.events(Topic.TICKER)


# -- the transport on its own ----------------------------------------------------------------


async def connected_pair(
    nursery: trio.Nursery, **options: int
) -> tuple[WebSocketTransport, FakePeer]:
    client_end, server_end = trio.testing.memory_stream_pair()
    peer = FakePeer(server_end)
    nursery.start_soon(peer.serve)
    return await handshake(client_end, "fake", **options), peer


async def test_fragmented_messages_are_reassembled(nursery: trio.Nursery) -> None:
    transport, peer = await connected_pair(nursery)
    from wsproto.events import TextMessage

    text = json.dumps({"type": "x", "pad": "y" * 1000})
    parts = [text[:10], text[10:500], text[500:]]
    data = b"".join(
        peer.ws.send(TextMessage(data=part, message_finished=i == len(parts) - 1))
        for i, part in enumerate(parts)
    )
    await peer.stream.send_all(data)
    assert await transport.receive_batch() == [text]


async def test_oversized_messages_close_the_transport(nursery: trio.Nursery) -> None:
    transport, peer = await connected_pair(nursery, max_message_size=100)
    await peer.send("z" * 101)
    with pytest.raises(TransportClosed, match="max_message_size"):
        await transport.receive_batch()


async def test_a_peer_close_frame_ends_the_transport(nursery: trio.Nursery) -> None:
    transport, peer = await connected_pair(nursery)
    from wsproto.events import CloseConnection

    await peer.stream.send_all(peer.ws.send(CloseConnection(code=1001, reason="bye")))
    with pytest.raises(TransportClosed) as closed:
        await transport.receive_batch()
    assert closed.value.code == 1001


async def test_an_unsubscribed_stream_is_not_expected_by_the_stale_watchdog(
    fake: FakeExchange, mock_clock: trio.testing.MockClock
) -> None:
    async with quiet_client(fake, stale_after=30.0) as client:
        await client.unsubscribe("ticker.BTC-USD")
        await trio.sleep(300)
        assert client.is_connected and client.reconnects == 0


async def test_a_stream_subscribed_later_is_watched_too(
    fake: FakeExchange, mock_clock: trio.testing.MockClock
) -> None:
    async with quiet_client(fake, symbols=[], stale_after=30.0) as client:
        await trio.sleep(300)  # nothing periodic subscribed: silence is fine
        assert client.is_connected
        await client.subscribe_ticker("ETH-USD")
        with trio.fail_after(31):  # virtual seconds: the watchdog must act at 30
            await client.wait_for_state(ConnectionState.BACKOFF)
        assert "ticker.ETH-USD" in (client.last_disconnect_reason or "")


async def test_the_first_l2delta_frame_is_a_full_book_even_without_update_type(
    fake: FakeExchange,
) -> None:
    async with quiet_client(fake) as client:
        await client.subscribe_orderbook_delta("BTC-USD")
        peer = fake.peers[0]
        async with client.events(Topic.L2DELTA) as deltas:
            await peer.send(book_frame([[100.0, 1.0]], [[101.0, 2.0]]))  # no updateType
            await peer.send(book_frame([[100.5, 3.0]], []))
            with trio.fail_after(5):
                first, second = await deltas.receive(), await deltas.receive()
        assert first.is_snapshot and not second.is_snapshot
        book = client.get_book("BTC-USD")
        assert book is not None and book.is_valid
        assert (book.best_bid(), book.best_ask()) == (100.5, 101.0)


async def test_a_handler_keeps_up_with_a_burst_larger_than_its_buffer(
    fake: FakeExchange,
) -> None:
    burst = 3000
    seen: list[int] = []
    all_seen = trio.Event()

    def count(ticker: object) -> None:
        seen.append(1)
        if len(seen) == burst:
            all_seen.set()

    async with quiet_client(fake, market_data_buffer=1024) as client:
        client.on(Topic.TICKER, count)
        frames = [json.dumps(ticker_frame()) for _ in range(burst)]
        from wsproto.events import TextMessage

        peer = fake.peers[0]
        await peer.stream.send_all(b"".join(peer.ws.send(TextMessage(data=f)) for f in frames))
        with trio.fail_after(10):
            await all_seen.wait()
        stats = [s for s in client.channel_stats() if s.topic is Topic.TICKER]
        assert stats[0].dropped == 0


def book_frame(bids: list[list[float]], asks: list[list[float]]) -> dict[str, object]:
    def levels(side: list[list[float]]) -> list[dict[str, float]]:
        return [{"px": px, "sz": sz, "n": 1} for px, sz in side]

    return {
        "type": "l2Delta",
        "topic": "l2Delta.BTC-USD",
        "data": {
            "book": {"symbol": "BTC-USD", "timestamp": 1, "levels": [levels(bids), levels(asks)]}
        },
    }
