"""The client end to end against the simulator, over real loopback sockets."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio

from bulk_trio import (
    AccountSnapshot,
    BulkClient,
    Candle,
    ConnectionLost,
    ExchangeError,
    Fill,
    HandlerError,
    L2Snapshot,
    OrderStatus,
    PostReply,
    ProtocolError,
    Side,
    StatusKind,
    Ticker,
    TimeInForce,
    Topic,
    Trade,
    TransactionSigner,
    open_bulk_client,
    order_id,
)
from bulk_trio.actions import CancelOrder, LimitOrder, OraclePrice
from bulk_trio.backoff import Backoff
from bulk_trio.enums import ConnectionState
from bulk_trio.sim import Simulator, open_simulator

SYMBOLS = ["BTC-USD", "ETH-USD"]
FUNDS = 1_000_000.0
FAST_BACKOFF = {"initial": 0.05, "maximum": 0.2, "jitter": 0.0}


@pytest.fixture
def signer() -> TransactionSigner:
    return TransactionSigner.generate_account(domain="testnet")


@pytest.fixture
async def sim(
    signer: TransactionSigner, request: pytest.FixtureRequest
) -> AsyncIterator[Simulator]:
    tls = getattr(request, "param", "ws") == "wss"
    async with open_simulator(
        network="testnet",
        symbols=SYMBOLS,
        seed=11,
        fund={signer.public_key: FUNDS},
        takers=False,
        tls=tls,
    ) as simulator:
        yield simulator


# The key tests run over wss:// too, as every real user connects (the simulator's throwaway CA).
over_ws_and_wss = pytest.mark.parametrize("sim", ["ws", "wss"], indirect=True)


def client_for(sim: Simulator, signer: TransactionSigner | None = None, **options: Any):  # type: ignore[no-untyped-def]
    settings: dict[str, Any] = {
        "symbols": SYMBOLS,
        "backoff": Backoff(**FAST_BACKOFF),
        "ssl_context": sim.ssl_context,
    }
    settings.update(options)
    return open_bulk_client(sim.url, signer=signer, **settings)


async def next_matching(channel: trio.MemoryReceiveChannel[Any], predicate: Any) -> Any:
    with trio.fail_after(10):
        async for item in channel:
            if predicate(item):
                return item
    raise AssertionError("channel ended")  # pragma: no cover


def best_ask(sim: Simulator, symbol: str) -> float:
    return sim.engine.book(symbol, 1)[1][0][0]


def best_bid(sim: Simulator, symbol: str) -> float:
    return sim.engine.book(symbol, 1)[0][0][0]


# -- reading ----------------------------------------------------------------------------------


@over_ws_and_wss
async def test_read_only_client_gets_tickers_for_its_symbols(sim: Simulator) -> None:
    async with client_for(sim) as client:
        assert client.is_connected
        async with client.events(Topic.TICKER) as tickers:
            seen: set[str] = set()
            with trio.fail_after(10):
                async for ticker in tickers:
                    assert isinstance(ticker, Ticker)
                    seen.add(ticker.symbol)
                    if seen == set(SYMBOLS):
                        break
        ticker = client.get_ticker("BTC-USD")
        assert ticker is not None and ticker.mark_price is not None and ticker.mark_price > 0
        assert client.account_snapshot is None and client.margin is None


@over_ws_and_wss
async def test_trading_client_enters_with_its_account_snapshot(
    sim: Simulator, signer: TransactionSigner
) -> None:
    async with client_for(sim, signer) as client:
        snapshot = client.account_snapshot
        assert snapshot is not None and snapshot.account == signer.public_key
        assert client.margin is not None and client.margin.total_balance == FUNDS
        assert client.get_orders() == []


@over_ws_and_wss
async def test_every_subscription_kind(sim: Simulator, signer: TransactionSigner) -> None:
    other = TransactionSigner.generate_account(domain="testnet").public_key
    sim.fund(other, 500.0)
    async with client_for(sim, signer) as client:
        async with (
            client.events(Topic.L2SNAPSHOT) as snapshots,
            client.events(Topic.L2DELTA) as deltas,
            client.events(Topic.TRADES) as trades,
            client.events(Topic.CANDLE) as candles,
            client.events(Topic.ACCOUNT) as accounts,
        ):
            await client.subscribe_orderbook_snapshot("BTC-USD", nlevels=3)
            snapshot = await next_matching(snapshots, lambda s: s.symbol == "BTC-USD")
            assert isinstance(snapshot, L2Snapshot)
            assert 0 < len(snapshot.bids) <= 3 and 0 < len(snapshot.asks) <= 3

            await client.subscribe_orderbook_delta("ETH-USD")
            first = await next_matching(deltas, lambda d: d.symbol == "ETH-USD")
            assert first.is_snapshot
            book = client.get_book("ETH-USD")
            assert book is not None and book.is_valid
            bid, ask = book.best_bid(), book.best_ask()
            assert bid is not None and ask is not None and bid < ask
            assert (bid, ask) == (best_bid(sim, "ETH-USD"), best_ask(sim, "ETH-USD"))

            await client.subscribe_trades(["BTC-USD"])
            await client.subscribe_candles("BTC-USD", "1min")
            await client.place_market_order("BTC-USD", Side.BUY, 0.01)
            batch = await next_matching(trades, lambda batch: True)
            assert all(isinstance(t, Trade) and t.symbol == "BTC-USD" for t in batch)
            assert batch[-1].side is Side.BUY and batch[-1].size > 0
            candle = await next_matching(candles, lambda c: c.volume > 0)
            assert isinstance(candle, Candle) and candle.symbol == "BTC-USD"
            assert candle.interval in ("1m", "1min")

            await client.subscribe_account(other)
            theirs = await next_matching(accounts, lambda a: a.account == other)
            assert isinstance(theirs, AccountSnapshot) and theirs.margin.total_balance == 500.0
        # Another account's stream never changes the trading account's state.
        assert client.margin is not None and client.margin.total_balance != 500.0


async def test_unsubscribe_stops_a_stream(sim: Simulator) -> None:
    async with client_for(sim, symbols=["BTC-USD"]) as client:
        removed = await client.unsubscribe("ticker.BTC-USD")
        assert removed == ["ticker.BTC-USD"]
        assert client.subscriptions == []
        # Prove the stream stopped: subscribe to something else and see only that.
        async with client.events(Topic.TICKER) as tickers:
            await client.subscribe_ticker("ETH-USD")
            for _ in range(3):
                ticker = await next_matching(tickers, lambda t: True)
                assert ticker.symbol == "ETH-USD"


# -- trading ----------------------------------------------------------------------------------


@over_ws_and_wss
async def test_ladder_then_atomic_cancel_replace(sim: Simulator, signer: TransactionSigner) -> None:
    async with client_for(sim, signer) as client:
        below = best_bid(sim, "BTC-USD") - 1000.0
        ladder = [LimitOrder("BTC-USD", Side.BUY, below - 100.0 * i, 0.01) for i in range(3)]
        nonce = signer.next_nonce()
        async with client.events(Topic.ORDER) as orders:
            responses = await client.place_orders(ladder, nonce=nonce)
            assert [r.status for r in responses] == [OrderStatus.RESTING] * 3
            expected = [
                order_id(action, seqno=i, nonce=nonce, account=signer.public_key)
                for i, action in enumerate(ladder)
            ]
            assert [r.order_id for r in responses] == expected
            for _ in range(3):
                await next_matching(orders, lambda o: o.status is OrderStatus.RESTING)
        assert sorted(client.get_order_map()) == sorted(expected)

        replacement = LimitOrder("BTC-USD", Side.BUY, below + 50.0, 0.02, time_in_force="ALO")
        async with client.events(Topic.ORDER) as orders:
            cancel, placed = await client.place_orders(
                [CancelOrder("BTC-USD", expected[0], side=Side.BUY), replacement]
            )
            assert cancel.status is OrderStatus.CANCELLED and cancel.order_id == expected[0]
            assert placed.status is OrderStatus.RESTING
            await next_matching(orders, lambda o: o.order_id == placed.order_id)
        open_ids = set(client.get_order_map())
        assert expected[0] not in open_ids and placed.order_id in open_ids
        assert {o.price for o in client.get_orders("BTC-USD")} == {
            below - 100.0,
            below - 200.0,
            below + 50.0,
        }


@over_ws_and_wss
async def test_fills_update_positions_pnl_and_open_orders(
    sim: Simulator, signer: TransactionSigner
) -> None:
    async with client_for(sim, signer) as client:
        async with client.events(Topic.FILL) as fills, client.events(Topic.POSITION) as positions:
            response = await client.place_market_order("BTC-USD", Side.BUY, 0.05)
            assert response.status is OrderStatus.FILLED
            fill = await next_matching(fills, lambda f: True)
            assert isinstance(fill, Fill) and fill.side is Side.BUY and not fill.is_maker
            await next_matching(positions, lambda p: p.symbol == "BTC-USD")
            while client.inventory.position("BTC-USD").size < 0.05 - 1e-12:
                await next_matching(fills, lambda f: True)
        assert client.positions["BTC-USD"].size == pytest.approx(0.05)
        assert client.inventory.position("BTC-USD").size == pytest.approx(0.05)

        # A resting sell that someone else lifts: a maker fill removes it from the open orders.
        sim.pause_feed()  # keep the book still while we arrange the trade
        price = best_ask(sim, "BTC-USD") + 10.0
        async with client.events(Topic.FILL) as fills, client.events(Topic.ORDER) as orders:
            resting = await client.place_limit_order("BTC-USD", Side.SELL, price, 0.05)
            assert resting.status is OrderStatus.RESTING
            taker = TransactionSigner.generate_account(domain="testnet").public_key
            sim.fund(taker, FUNDS)
            depth = sum(size for px, size, _ in sim.engine.book("BTC-USD")[1] if px <= price)
            lift = LimitOrder("BTC-USD", Side.BUY, price, depth, time_in_force=TimeInForce.IOC)
            sim.submit_trusted(taker, [lift])
            maker_fill = await next_matching(fills, lambda f: f.order_id == resting.order_id)
            assert maker_fill.is_maker and maker_fill.side is Side.SELL
            assert maker_fill.size == pytest.approx(0.05)
            done = await next_matching(
                orders, lambda o: o.order_id == resting.order_id and o.status.is_terminal()
            )
            assert done.status is OrderStatus.FILLED
        assert resting.order_id not in client.get_order_map()
        assert client.inventory.position("BTC-USD").size == pytest.approx(0.0)
        pnl = client.get_pnl()
        assert pnl.net == pytest.approx(pnl.realized + pnl.unrealized)
        assert pnl.realized > 0  # sold above where it bought


async def test_a_refused_request_raises_and_is_published(sim: Simulator) -> None:
    stranger = TransactionSigner.generate_account(domain="testnet")  # never funded
    async with client_for(sim, stranger) as client, client.events(Topic.ERROR) as errors:
        with pytest.raises(ExchangeError, match="Account not found"):
            await client.place_limit_order("BTC-USD", Side.BUY, 1000.0, 0.01)
        error = await next_matching(errors, lambda e: True)
        assert "Account not found" in str(getattr(error, "message", error))


async def test_wrong_network_signature_is_refused(sim: Simulator) -> None:
    mainnet = TransactionSigner.generate_account(domain="mainnet")
    sim.fund(mainnet.public_key, FUNDS)
    async with client_for(sim, mainnet) as client:
        with pytest.raises(ExchangeError, match=r"[Ss]ignature"):
            await client.place_limit_order("BTC-USD", Side.BUY, 1000.0, 0.01)


async def test_faucet_funds_a_fresh_account(sim: Simulator) -> None:
    fresh = TransactionSigner.generate_account(domain="testnet")
    async with client_for(sim, fresh) as client:
        async with client.events(Topic.MARGIN) as margins:
            response = await client.request_faucet()
            assert response.status is OrderStatus.DEPOSIT
            margin = await next_matching(margins, lambda m: m.total_balance > 0)
        assert client.margin is not None and client.margin.total_balance == margin.total_balance


async def test_leverage_and_modify(sim: Simulator, signer: TransactionSigner) -> None:
    async with client_for(sim, signer) as client:
        async with client.events(Topic.LEVERAGE) as leverage:
            response = await client.update_leverage("BTC-USD", 3.0)
            assert not response.is_error
            settings = await next_matching(leverage, lambda s: True)
            assert any(s.symbol == "BTC-USD" and s.leverage == 3.0 for s in settings)
        assert client.leverage_settings["BTC-USD"].leverage == 3.0

        placed = await client.place_limit_order("BTC-USD", Side.BUY, 1000.0, 0.5)
        assert placed.order_id is not None
        async with client.events(Topic.ORDER) as orders:
            modified = await client.modify_order("BTC-USD", placed.order_id, 0.2)
            assert not modified.is_error
            state = await next_matching(
                orders, lambda o: o.order_id == placed.order_id and o.size < 0.5
            )
            assert state.size == pytest.approx(0.2) and state.is_open
        everything = await client.cancel_all()
        assert not everything.is_error
        assert sim.engine.open_orders(signer.public_key) == []


async def test_debug_logging_never_shows_keys_or_signatures(
    sim: Simulator, signer: TransactionSigner, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bulk_trio")
    nonce = signer.next_nonce()
    async with client_for(sim, signer, debug=True) as client:
        await client.place_limit_order("BTC-USD", Side.BUY, 1000.0, 0.01, nonce=nonce)
    order = LimitOrder("BTC-USD", Side.BUY, 1000.0, 0.01)
    signature = signer.sign_transaction([order], nonce=nonce)["signature"]
    assert "recv" in caplog.text and "post id=" in caplog.text
    assert signature not in caplog.text
    assert signer.private_key not in caplog.text


# -- concurrency ------------------------------------------------------------------------------


async def test_an_order_placed_from_a_handler_gets_its_response(
    sim: Simulator, signer: TransactionSigner
) -> None:
    done = trio.Event()
    results: list[Any] = []

    async with client_for(sim, signer) as client:

        async def on_ticker(ticker: Ticker) -> None:
            if results or ticker.symbol != "BTC-USD" or ticker.mark_price is None:
                return
            results.append(None)
            bid = round(ticker.mark_price * 0.9, 1)
            results[0] = await client.place_limit_order(
                "BTC-USD", Side.BUY, bid, 0.01, time_in_force=TimeInForce.ALO, timeout=5
            )
            done.set()

        client.on(Topic.TICKER, on_ticker)
        with trio.fail_after(10):
            await done.wait()
        assert results[0].status is OrderStatus.RESTING
        assert client.off(Topic.TICKER, on_ticker)
        assert not client.off(Topic.TICKER, on_ticker)


async def test_a_raising_handler_is_reported_and_the_client_carries_on(
    sim: Simulator, signer: TransactionSigner
) -> None:
    good: list[Ticker] = []
    got_three = trio.Event()

    def broken(ticker: Ticker) -> None:
        raise RuntimeError("handler bug")

    def counting(ticker: Ticker) -> None:
        good.append(ticker)
        if len(good) == 3:
            got_three.set()

    async with client_for(sim, signer, handlers={Topic.TICKER: [broken, counting]}) as client:
        async with client.events(Topic.ERROR) as errors:
            error = await next_matching(errors, lambda e: isinstance(e, HandlerError))
            assert isinstance(error.error, RuntimeError) and "broken" in error.handler
        with trio.fail_after(10):
            await got_three.wait()
        response = await client.place_limit_order("BTC-USD", Side.BUY, 1000.0, 0.01)
        assert response.status is OrderStatus.RESTING


async def test_a_slow_subscriber_does_not_delay_a_fast_one_or_orders(
    sim: Simulator, signer: TransactionSigner
) -> None:
    async with client_for(sim, signer) as client:
        await client.subscribe_orderbook_delta("BTC-USD")
        async with (
            client.events(Topic.TICKER, buffer=2, name="slow") as _slow,
            client.events(Topic.TICKER, name="fast") as fast,
        ):
            for _ in range(15):
                await next_matching(fast, lambda t: True)
            # The slow reader never read; orders still flow.
            response = await client.place_limit_order("BTC-USD", Side.BUY, 1000.0, 0.01)
            assert response.status is OrderStatus.RESTING
            stats = {s.name: s for s in client.channel_stats() if s.topic is Topic.TICKER}
            assert stats["slow"].dropped > 0 and stats["slow"].buffered == 2
            assert stats["fast"].dropped == 0


# -- faults -----------------------------------------------------------------------------------


@over_ws_and_wss
async def test_reconnect_after_a_drop_replays_and_resyncs(
    sim: Simulator, signer: TransactionSigner
) -> None:
    async with client_for(sim, signer) as client:
        await client.subscribe_orderbook_delta("BTC-USD")
        resting = await client.place_limit_order("BTC-USD", Side.BUY, 1000.0, 0.01)
        async with client.events(Topic.L2DELTA) as deltas, client.events(Topic.ACCOUNT) as accounts:
            sim.drop_connections()
            with trio.fail_after(10):
                await client.wait_for_state(ConnectionState.BACKOFF)
            book = client.get_book("BTC-USD")
            assert book is not None and not book.is_valid  # ignored until a fresh book arrives
            with trio.fail_after(10):
                await client.wait_connected()
            assert client.reconnects == 1
            await next_matching(accounts, lambda a: a.account == signer.public_key)
            await next_matching(deltas, lambda d: d.is_snapshot)
        assert book.is_valid
        assert resting.order_id in client.get_order_map()


async def test_orders_that_vanish_while_offline_are_reported(
    sim: Simulator, signer: TransactionSigner
) -> None:
    async with (
        client_for(sim, signer) as client,
        client.events(Topic.ORDER) as orders,
        client.events(Topic.STATUS) as statuses,
    ):
        resting = await client.place_limit_order("BTC-USD", Side.BUY, 1000.0, 0.01)
        assert resting.order_id is not None
        await next_matching(orders, lambda o: o.order_id == resting.order_id)
        sim.refuse_connections(0.5)
        sim.drop_connections()
        with trio.fail_after(10):
            await client.wait_for_state(ConnectionState.BACKOFF)
        sim.submit_trusted(signer.public_key, [CancelOrder("BTC-USD", resting.order_id)])
        gone = await next_matching(orders, lambda o: o.status is OrderStatus.VANISHED)
        assert gone.order_id == resting.order_id
        assert client.get_order_map() == {}
        await next_matching(statuses, lambda s: s.kind is StatusKind.RESYNCED)
        assert client.reconnects == 1  # one reconnection, after refused attempts


@over_ws_and_wss
async def test_a_drop_with_a_request_in_flight_fails_it_at_once(
    sim: Simulator, signer: TransactionSigner
) -> None:
    async with client_for(sim, signer, default_timeout=30) as client:
        sim.withhold_replies()
        async with trio.open_nursery() as nursery, client.events(Topic.ORDER) as orders:

            async def drop_once_executed() -> None:
                await next_matching(orders, lambda o: o.status is OrderStatus.RESTING)
                sim.drop_connections()  # the exchange executed it; the reply never comes

            nursery.start_soon(drop_once_executed)
            started = trio.current_time()
            with pytest.raises(ConnectionLost, match="outcome is unknown"):
                await client.place_limit_order("BTC-USD", Side.BUY, 1000.0, 0.01)
            assert trio.current_time() - started < 10  # not the 30 s timeout
            assert not client.is_connected  # the state moved on before the caller was woken
        sim.release_replies()
        with trio.fail_after(10):
            await client.wait_connected()


async def test_a_withheld_reply_times_out(sim: Simulator, signer: TransactionSigner) -> None:
    async with client_for(sim, signer) as client:
        sim.withhold_replies()
        with pytest.raises(trio.TooSlowError):
            await client.place_limit_order("BTC-USD", Side.BUY, 1000.0, 0.01, timeout=0.5)
        sim.release_replies()
        assert client.is_connected
        sim_reply_ok = await client.place_limit_order("BTC-USD", Side.BUY, 1001.0, 0.01)
        assert sim_reply_ok.status is OrderStatus.RESTING


@over_ws_and_wss
async def test_a_malformed_frame_is_skipped(sim: Simulator) -> None:
    async with client_for(sim) as client:
        async with client.events(Topic.ERROR) as errors, client.events(Topic.TICKER) as tickers:
            sim.send_malformed()
            error = await next_matching(errors, lambda e: True)
            assert isinstance(error, ProtocolError)
            await next_matching(tickers, lambda t: True)
        assert client.is_connected and client.reconnects == 0


async def test_a_silent_feed_causes_a_reconnect(sim: Simulator) -> None:
    async with client_for(sim, stale_after=0.5) as client:
        sim.silence(2.0)
        with trio.fail_after(10):
            await client.wait_for_state(ConnectionState.BACKOFF)
        assert "stale feed" in (client.last_disconnect_reason or "")
        with trio.fail_after(10):
            await client.wait_connected()


async def test_refused_reconnects_are_retried_until_accepted(sim: Simulator) -> None:
    async with client_for(sim) as client, client.events(Topic.STATUS) as statuses:
        sim.refuse_connections(0.6)
        sim.drop_connections()
        with trio.fail_after(10):
            await client.wait_for_state(ConnectionState.BACKOFF)
            await client.wait_connected()
        kinds = []
        while not kinds or kinds[-1] is not StatusKind.RESYNCED:
            kinds.append((await next_matching(statuses, lambda s: True)).kind)
        assert kinds.count(StatusKind.RETRYING) >= 2  # refused attempts were retried
        assert kinds[0] is StatusKind.DISCONNECTED
        assert client.reconnects == 1  # reconnections, not attempts
        async with client.events(Topic.TICKER) as tickers:
            await next_matching(tickers, lambda t: True)


async def test_cancelling_the_block_with_requests_pending_returns_promptly(
    sim: Simulator, signer: TransactionSigner
) -> None:
    sim.withhold_replies()
    with trio.fail_after(10), trio.CancelScope() as scope:
        async with (
            client_for(sim, signer, default_timeout=60) as client,
            client.events(Topic.ORDER) as orders,
            trio.open_nursery() as nursery,
        ):
            for price in (1000.0, 1001.0, 1002.0):
                nursery.start_soon(client.place_limit_order, "BTC-USD", Side.BUY, price, 0.01)
            resting: set[str] = set()
            while len(resting) < 3:  # the exchange executed all three: they are in flight
                order = await next_matching(orders, lambda o: o.status is OrderStatus.RESTING)
                resting.add(order.order_id)
            scope.cancel()
            await trio.sleep_forever()
    assert scope.cancelled_caught
    assert client.connection_state is ConnectionState.CLOSED


# -- cancelling and fire-and-forget requests ----------------------------------------------------


async def test_cancel_order_cancels_one_resting_order(
    sim: Simulator, signer: TransactionSigner
) -> None:
    async with client_for(sim, signer) as client, client.events(Topic.ORDER) as orders:
        keep = await client.place_limit_order("BTC-USD", Side.BUY, 1000.0, 0.01)
        cancel = await client.place_limit_order("BTC-USD", Side.BUY, 1001.0, 0.01)
        response = await client.cancel_order(symbol="BTC-USD", order_id=cancel.order_id)
        assert response.status is OrderStatus.CANCELLED
        await next_matching(
            orders, lambda o: o.order_id == cancel.order_id and o.status.is_terminal()
        )
        assert set(client.get_order_map()) == {keep.order_id}
        assert [o.order_id for o in sim.engine.open_orders(signer.public_key)] == [keep.order_id]
        with pytest.raises(ValueError, match="needs symbol and order_id"):
            await client.cancel_order(symbol="BTC-USD")


async def test_update_oracle_without_waiting_returns_at_once_and_takes_effect(
    sim: Simulator, signer: TransactionSigner
) -> None:
    async with (
        client_for(sim, signer) as client,
        client.events(Topic.TICKER) as tickers,
        client.events(Topic.ERROR) as errors,
    ):
        nonce = signer.next_nonce()
        update = OraclePrice("BTC-USD", 123_456.0)
        assert await client.update_oracle(update, nonce=nonce) == []
        await next_matching(tickers, lambda t: t.symbol == "BTC-USD" and t.mark_price == 123_456.0)
        # A refusal (here: a reused nonce) of a request nobody waits for reaches Topic.ERROR.
        assert await client.update_oracle(update, nonce=nonce) == []
        refused = await next_matching(errors, lambda e: True)
        assert isinstance(refused, PostReply) and not refused.ok


# -- kill switches ------------------------------------------------------------------------------


async def place_resting(client: BulkClient) -> str:
    response = await client.place_limit_order("BTC-USD", Side.BUY, 1000.0, 0.01)
    assert response.status is OrderStatus.RESTING and response.order_id is not None
    return response.order_id


async def test_without_cancel_on_exit_orders_stay(
    sim: Simulator, signer: TransactionSigner
) -> None:
    async with client_for(sim, signer) as client:
        await place_resting(client)
    assert len(sim.engine.open_orders(signer.public_key)) == 1


async def test_cancel_on_exit_cancels_after_a_normal_exit(
    sim: Simulator, signer: TransactionSigner
) -> None:
    with trio.fail_after(10):
        async with client_for(sim, signer, cancel_on_exit=True) as client:
            await place_resting(client)
            await place_resting(client)
    assert sim.engine.open_orders(signer.public_key) == []


async def test_cancel_on_exit_cancels_when_the_block_raises(
    sim: Simulator, signer: TransactionSigner
) -> None:
    class StrategyBug(Exception):
        pass

    async def trade_then_fail() -> None:
        async with client_for(sim, signer, cancel_on_exit=True) as client:
            await place_resting(client)
            raise StrategyBug

    with trio.fail_after(10), pytest.raises(StrategyBug):
        await trade_then_fail()
    assert sim.engine.open_orders(signer.public_key) == []


async def test_cancel_on_exit_cancels_when_the_block_is_cancelled(
    sim: Simulator, signer: TransactionSigner, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "bulk_trio")
    with trio.fail_after(10), trio.CancelScope() as scope:
        async with client_for(sim, signer, cancel_on_exit=True) as client:
            await place_resting(client)
            scope.cancel()
            await trio.sleep_forever()
    assert scope.cancelled_caught
    assert sim.engine.open_orders(signer.public_key) == []
    # The client read the exchange's answer too: its tasks outlived the cancellation.
    assert f"cancel_on_exit: cancelled the open orders of {signer.public_key}" in caplog.text


async def test_cancel_on_exit_gives_up_within_its_bound(
    sim: Simulator, signer: TransactionSigner, caplog: pytest.LogCaptureFixture
) -> None:
    with trio.fail_after(10):
        async with client_for(sim, signer, cancel_on_exit=True, default_timeout=0.5) as client:
            await place_resting(client)
            sim.withhold_replies()
    assert "open orders were NOT cancelled" in caplog.text


async def test_kill_switches_need_a_signer(sim: Simulator) -> None:
    with pytest.raises(ValueError, match="need a signer"):
        async with client_for(sim, cancel_on_exit=True):
            pytest.fail("the block must not be entered")  # pragma: no cover


async def test_cancel_after_disconnect_cancels_before_trading_resumes(
    sim: Simulator, signer: TransactionSigner
) -> None:
    async with (
        client_for(sim, signer, cancel_after_disconnect=0.3) as client,
        client.events(Topic.STATUS) as statuses,
    ):
        await place_resting(client)
        sim.refuse_connections(0.6)  # an outage longer than 0.3 s
        sim.drop_connections()
        await next_matching(statuses, lambda s: s.kind is StatusKind.RESYNCED)
        # When callers can trade again, the exchange already has nothing open.
        assert sim.engine.open_orders(signer.public_key) == []
        await place_resting(client)
        sim.drop_connections()  # a short outage: orders stay
        await next_matching(statuses, lambda s: s.kind is StatusKind.RESYNCED)
        assert len(sim.engine.open_orders(signer.public_key)) == 1


async def test_a_failed_cancel_after_disconnect_keeps_the_client_from_going_live(
    sim: Simulator, signer: TransactionSigner
) -> None:
    async with (
        client_for(sim, signer, cancel_after_disconnect=0.3, default_timeout=1.0) as client,
        client.events(Topic.STATUS) as statuses,
    ):
        await place_resting(client)
        sim.withhold_replies()  # the cancel after the outage gets no answer
        sim.refuse_connections(0.6)
        sim.drop_connections()
        retry = await next_matching(statuses, lambda s: "cancel got no answer" in (s.reason or ""))
        assert retry.kind is StatusKind.RETRYING and not client.is_connected
        sim.release_replies()
        await next_matching(statuses, lambda s: s.kind is StatusKind.RESYNCED)
        assert sim.engine.open_orders(signer.public_key) == []
