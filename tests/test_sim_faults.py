"""Every fault the simulator's control handle can inject, with the effect a client observes."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Iterator

import pytest
import trio
from trio_websocket import ConnectionRejected, HandshakeError
from wsproto import ConnectionType, WSConnection
from wsproto.events import Request

from bulk_trio.actions import LimitOrder
from bulk_trio.protocol.signing import TransactionSigner
from bulk_trio.sim import Simulator, open_simulator
from bulk_trio.sim.events import TradeExecuted
from ws_peer import Frame, Peer, closed, open_peer, simulator_errors

TIMEOUT = 20
ABNORMAL_CLOSURE = 1006


@pytest.fixture(autouse=True)
def _no_simulator_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    yield
    assert not simulator_errors(caplog.records)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with open_simulator(
        symbols=["BTC-USD", "ETH-USD"],
        seed=11,
        feed=False,
        ticker_interval=None,
        snapshot_interval=None,
    ) as simulator:
        yield simulator


@pytest.fixture
def trader(sim: Simulator) -> TransactionSigner:
    signer = TransactionSigner.generate_account(domain="testnet")
    sim.fund(signer.public_key, 1_000_000.0)
    return signer


def is_post(frame: Frame) -> bool:
    return frame["type"] == "post"


def is_market_data(frame: Frame) -> bool:
    return frame["type"] in ("ticker", "l2Snapshot", "l2Delta", "trades", "candle")


async def send_post(peer: Peer, payload: Frame, request_id: int) -> None:
    await peer.send(
        {"method": "post", "request": {"type": "action", "payload": payload}, "id": request_id}
    )


async def test_drop_connections_closes_abruptly_and_clients_can_reconnect(sim: Simulator) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_peer(sim.url) as first, open_peer(sim.url) as second:
            await sim.wait_for_connections(2)
            sim.drop_connections()
            assert sim.connection_count == 0
            assert await closed(first)
            assert await closed(second)
            assert first.ws.closed is not None
            assert first.ws.closed.code == ABNORMAL_CLOSURE
            assert sim.stats.connections_dropped == 2
        async with open_peer(sim.url) as again:
            await sim.wait_for_connections(1)
            assert await again.subscribe({"type": "ticker", "symbol": "BTC-USD"})


async def test_drop_after_lets_exactly_n_more_frames_through(sim: Simulator) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_peer(sim.url) as peer:
            await sim.wait_for_connections(1)
            sim.drop_after(3)
            for n in range(5):
                sim.send_malformed(f"frame {n}")
            received = [await peer.recv_text() for _ in range(3)]
            assert received == ["frame 0", "frame 1", "frame 2"]
            assert await closed(peer)
        # A connection opened afterwards has no budget.
        async with open_peer(sim.url) as later:
            await sim.wait_for_connections(1)
            for n in range(5):
                sim.send_malformed(f"frame {n}")
            assert [await later.recv_text() for _ in range(5)] == [f"frame {n}" for n in range(5)]
    with pytest.raises(ValueError, match="frame_count"):
        sim.drop_after(0)


async def test_delayed_replies_come_after_the_events_of_their_transaction(
    sim: Simulator, trader: TransactionSigner
) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_peer(sim.url) as peer:
            await peer.subscribe({"type": "account", "user": trader.public_key})
            await peer.expect_account("accountSnapshot")
            sim.delay_replies(0.2)
            started = trio.current_time()
            reply = await peer.post(
                trader.sign_transaction([LimitOrder("BTC-USD", "buy", 90_000, 0.1)])
            )
            assert trio.current_time() - started >= 0.2
            update = await peer.expect_account("orderUpdate")
            assert peer.history.index(update) < peer.history.index(reply)
            assert reply["data"]["payload"]["status"] == "ok"

            sim.delay_replies(0)
            reply = await peer.post(
                trader.sign_transaction([LimitOrder("BTC-USD", "buy", 90_001, 0.1)])
            )
            update = await peer.expect_account("orderUpdate")
            assert peer.history.index(reply) < peer.history.index(update)


async def test_withheld_replies_are_sent_on_release(
    sim: Simulator, trader: TransactionSigner
) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_peer(sim.url) as peer:
            await peer.subscribe({"type": "account", "user": trader.public_key})
            sim.withhold_replies()
            for request_id in (1, 2):
                order = LimitOrder("BTC-USD", "buy", 90_000 + request_id, 0.1)
                await send_post(peer, trader.sign_transaction([order]), request_id)
            # The transactions ran: both orders are reported, but neither reply came.
            await peer.expect_account("orderUpdate")
            await peer.expect_account("orderUpdate")
            await peer.marker()
            assert not peer.seen(is_post)
            assert len(sim.engine.open_orders(trader.public_key)) == 2

            assert sim.release_replies() == 2
            first, second = await peer.expect(is_post), await peer.expect(is_post)
            assert (first["id"], second["id"]) == (1, 2)
            assert first["data"]["payload"]["status"] == "ok"
            # Released means back to normal.
            reply = await peer.post(
                trader.sign_transaction([LimitOrder("BTC-USD", "buy", 90_010, 0.1)])
            )
            assert reply["data"]["payload"]["status"] == "ok"


async def test_a_dropped_connection_loses_its_withheld_replies(
    sim: Simulator, trader: TransactionSigner
) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_peer(sim.url) as peer:
            sim.withhold_replies()
            await send_post(peer, trader.sign_transaction([LimitOrder("BTC-USD", "buy", 1, 1)]), 7)
            await peer.marker()
            sim.drop_connections()
            assert await closed(peer)
            assert not peer.seen(is_post)
        async with open_peer(sim.url) as again:
            await sim.wait_for_connections(1)
            assert sim.release_replies() == 0
            await again.marker()
            assert not again.seen(is_post)


async def test_send_malformed_reaches_every_connection_verbatim(sim: Simulator) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_peer(sim.url) as first, open_peer(sim.url) as second:
            await sim.wait_for_connections(2)
            sim.send_malformed()
            for peer in (first, second):
                text = await peer.recv_text()
                with pytest.raises(json.JSONDecodeError):
                    json.loads(text)
            sim.send_malformed('{"type": "surprise"}')
            assert await first.recv_text() == '{"type": "surprise"}'
            # Still connected and served.
            assert await first.subscribe({"type": "ticker", "symbol": "ETH-USD"})


async def test_silence_stops_market_data_but_not_replies_or_account_events(
    sim: Simulator, trader: TransactionSigner
) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_peer(sim.url) as peer:
            await peer.subscribe(
                {"type": "ticker", "symbol": "BTC-USD"},
                {"type": "l2Snapshot", "symbol": "BTC-USD"},
                {"type": "l2Delta", "symbol": "BTC-USD"},
                {"type": "trades", "symbol": "BTC-USD"},
                {"type": "candle", "symbol": "BTC-USD", "interval": "1m"},
                {"type": "account", "user": trader.public_key},
            )
            await peer.marker()
            quiet_from = len(peer.history)
            sim.silence(math.inf)
            sim.publish_market_data()
            steps = sim.stats.feed_steps
            sim._feed_tick()  # what the feed timer does: nothing while silent
            assert sim.stats.feed_steps == steps
            reply = await peer.post(
                trader.sign_transaction([LimitOrder("BTC-USD", "buy", 200_000, 0.01)])
            )  # crosses the book: a trade, level changes and account events
            assert reply["data"]["payload"]["status"] == "ok"
            await peer.expect_account("fill")
            await peer.marker()
            assert not [f for f in peer.history[quiet_from:] if is_market_data(f)]

            sim.silence(0)
            sim.publish_market_data()
            await peer.expect_type("ticker")
            await peer.expect_type("l2Snapshot")


async def test_refused_handshakes_get_503_and_open_connections_are_untouched(
    sim: Simulator,
) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_peer(sim.url) as peer:
            sim.refuse_connections(math.inf)
            with pytest.raises(ConnectionRejected) as rejected:
                async with open_peer(sim.url):
                    pass
            assert rejected.value.status_code == 503
            assert sim.stats.connections_refused == 1
            assert await peer.subscribe({"type": "ticker", "symbol": "BTC-USD"})
            sim.refuse_connections(0)
            async with open_peer(sim.url) as later:
                assert await later.subscribe({"type": "ticker", "symbol": "BTC-USD"})


async def test_restart_keeps_the_engine_and_the_port_and_forgets_the_faults(
    sim: Simulator, trader: TransactionSigner
) -> None:
    port = sim.port
    with trio.fail_after(TIMEOUT):
        async with open_peer(sim.url) as peer:
            reply = await peer.post(
                trader.sign_transaction([LimitOrder("ETH-USD", "sell", 5_000, 1)])
            )
            oid = reply["data"]["payload"]["response"]["data"]["statuses"][0]["resting"]["oid"]
            sim.withhold_replies()
            sim.silence(math.inf)
            await sim.restart()
            assert await closed(peer)
        assert sim.port == port
        async with open_peer(sim.url) as again:
            await again.subscribe({"type": "account", "user": trader.public_key})
            snapshot = await again.expect_account("accountSnapshot")
            assert [o["orderId"] for o in snapshot["data"]["openOrders"]] == [oid]
            reply = await again.post(
                trader.sign_transaction([LimitOrder("ETH-USD", "sell", 5_001, 1)])
            )
            assert reply["data"]["payload"]["status"] == "ok"  # no longer withheld
            sim.publish_market_data()
            await again.subscribe({"type": "ticker", "symbol": "ETH-USD"})
            await again.expect_type("ticker")  # no longer silent
        assert sim.stats.connections_dropped == 1


async def test_during_a_restart_downtime_connections_are_refused(sim: Simulator) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_peer(sim.url) as peer, trio.open_nursery() as nursery:
            nursery.start_soon(lambda: sim.restart(downtime=2.0))
            assert await closed(peer)  # dropped, so the listener is already closed
            with pytest.raises((OSError, HandshakeError)):
                async with open_peer(sim.url):
                    pass
        # The nursery waited for the restart to finish: the simulator is accepting again.
        async with open_peer(sim.url) as again:
            assert await again.subscribe({"type": "ticker", "symbol": "BTC-USD"})


async def test_a_client_that_cannot_keep_up_is_disconnected_and_others_are_not() -> None:
    with trio.fail_after(TIMEOUT):
        async with (
            open_simulator(
                symbols=["BTC-USD"],
                feed=False,
                ticker_interval=None,
                snapshot_interval=None,
                send_queue_size=8,
            ) as sim,
            open_peer(sim.url) as slow,
            open_peer(sim.url) as other,
        ):
            user = TransactionSigner.generate_account().public_key
            await slow.subscribe({"type": "account", "user": user})
            await slow.expect_account("accountSnapshot")
            for _ in range(20):  # no checkpoint: the writer cannot drain in between
                sim.fund(user, 1.0)
            assert await closed(slow)
            assert sim.stats.slow_disconnects == 1
            assert sim.connection_count == 1
            assert await other.subscribe({"type": "ticker", "symbol": "BTC-USD"})


async def test_a_client_that_does_not_answer_pings_is_dropped() -> None:
    with trio.fail_after(TIMEOUT):
        async with open_simulator(
            symbols=["BTC-USD"], feed=False, ping_interval=0.05, ping_timeout=0.2
        ) as sim:
            stream = await trio.open_tcp_stream("127.0.0.1", sim.port)
            handshake = WSConnection(ConnectionType.CLIENT)
            await stream.send_all(handshake.send(Request(host="127.0.0.1", target="/")))
            # Read (pings included) without ever answering, until the server hangs up.
            while await stream.receive_some(65536):
                pass
            await stream.aclose()
            assert sim.stats.ping_timeouts == 1


async def test_pause_feed_stops_the_timer_driven_market_and_resume_restarts_it() -> None:
    with trio.fail_after(TIMEOUT):
        async with (
            open_simulator(
                symbols=["BTC-USD"], seed=2, feed_interval=0.01, ticker_interval=0.05
            ) as sim,
            open_peer(sim.url) as peer,
        ):
            await peer.subscribe({"type": "ticker", "symbol": "BTC-USD"})
            sim.pause_feed()
            paused_at = sim.stats.feed_steps
            mid = sim.feed.mid("BTC-USD")
            for _ in range(4):  # >= 3 ticker periods: the 0.01 s feed timer fired many times
                await peer.expect_type("ticker")
            assert sim.stats.feed_steps == paused_at
            assert sim.feed.mid("BTC-USD") == mid
            sim.step_feed()  # stepping by hand still works while paused
            assert sim.stats.feed_steps == paused_at + 1
            sim.resume_feed()
            while sim.stats.feed_steps <= paused_at + 1:
                await peer.expect_type("ticker")


async def test_the_seed_makes_the_price_path_reproducible() -> None:
    async def path(seed: int) -> tuple[list[float], int]:
        async with open_simulator(
            symbols=["BTC-USD", "SOL-USD"], seed=seed, feed=False, ticker_interval=None
        ) as sim:
            mids, trades = [], 0
            for _ in range(40):
                events = sim.step_feed()
                trades += sum(isinstance(event, TradeExecuted) for event in events)
                mids.append(sim.feed.mid("BTC-USD"))
                assert sim.engine.market("BTC-USD").mark_price == mids[-1]
            return mids, trades

    with trio.fail_after(TIMEOUT):
        first, again, other = await path(5), await path(5), await path(6)
    assert first[0] == again[0]
    assert first[0] != other[0]
    assert first[1] > 0  # the synthetic takers made public trades happen
    assert len(set(first[0])) > 1


async def test_set_mark_moves_the_walk_and_the_quotes_follow_on_the_next_step(
    sim: Simulator,
) -> None:
    sim.set_mark("BTC-USD", 50_000.0)
    assert sim.engine.market("BTC-USD").mark_price == 50_000.0
    sim.step_feed()
    (best_bid, _, _), (best_ask, _, _) = (side[0] for side in sim.engine.book("BTC-USD", 1))
    assert best_bid < sim.feed.mid("BTC-USD") < best_ask
    assert 49_000 < best_bid < best_ask < 51_000


@pytest.mark.parametrize("length", [0, 125, 126, 65535, 65536, 200_000])
async def test_frames_of_every_length_class_arrive_intact(sim: Simulator, length: int) -> None:
    # The server encodes data frames itself: 7-bit, 16-bit and 64-bit payload lengths, in bytes.
    text = ("é" * length)[: max(0, length // 2)] + "x" * (length - length // 2)
    with trio.fail_after(TIMEOUT):
        async with open_peer(sim.url) as peer:
            await sim.wait_for_connections(1)
            sim.send_malformed(text)
            assert await peer.recv_text() == text


async def test_a_connection_that_never_completes_its_handshake_is_closed() -> None:
    # The autouse fixture also checks that the timeout path logged no error.
    with trio.fail_after(TIMEOUT):
        async with open_simulator(symbols=["BTC-USD"], feed=False, handshake_timeout=0.1) as sim:
            stream = await trio.open_tcp_stream("127.0.0.1", sim.port)
            await stream.send_all(b"GET / HTTP/1.1\r\n")  # and then nothing more
            assert await stream.receive_some(65536) == b""
            await stream.aclose()
            async with open_peer(sim.url) as peer:  # the server is fine
                assert await peer.subscribe({"type": "ticker", "symbol": "BTC-USD"})
            assert sim.stats.connections_accepted == 1
