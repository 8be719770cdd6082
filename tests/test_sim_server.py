"""The simulator's server over real loopback sockets, checked with the independent ws_peer client.

Every test runs under ``trio.fail_after``; nothing sleeps to synchronise: the feed is stepped by
hand (``feed=False``), periodic frames are published on demand, and ``Peer.marker`` proves that
something was *not* sent.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import trio
from trio_websocket import ConnectionClosed

from bulk_trio.actions import CancelOrder, Faucet, LimitOrder, MarketOrder, ModifyOrder
from bulk_trio.protocol.keys import b58encode
from bulk_trio.protocol.signing import TransactionSigner
from bulk_trio.sim import Simulator, open_simulator
from bulk_trio.sim.candles import CandleBook, candle_bounds
from bulk_trio.sim.client_requests import BadRequest, parse_subscriptions
from bulk_trio.sim.feed import MARKET_MAKER
from bulk_trio.sim.frame_encoding import encode_text_frame
from order_id_oracle import wire_order_id
from ws_peer import (
    EXAMPLES,
    Frame,
    Peer,
    assert_post_shape,
    assert_shape,
    open_peer,
    simulator_errors,
)

SYMBOLS = ("BTC-USD", "ETH-USD", "SOL-USD")
TIMEOUT = 20


def pubkey(n: int) -> str:
    return b58encode(hashlib.sha256(f"test account {n}".encode()).digest())


@pytest.fixture(autouse=True)
def _no_simulator_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    yield
    assert not simulator_errors(caplog.records)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    """A still market: the market maker's quotes are up, nothing moves unless a test says so."""
    async with open_simulator(
        symbols=SYMBOLS, seed=7, feed=False, ticker_interval=None, snapshot_interval=None
    ) as simulator:
        yield simulator


@pytest.fixture
def trader(sim: Simulator) -> TransactionSigner:
    signer = TransactionSigner.generate_account(domain="testnet")
    sim.fund(signer.public_key, 1_000_000.0)
    return signer


def statuses(reply: Frame) -> list[tuple[str, dict[str, Any]]]:
    payload = reply["data"]["payload"]
    assert payload["status"] == "ok", payload
    return [next(iter(status.items())) for status in payload["response"]["data"]["statuses"]]


# -- pure parts ------------------------------------------------------------------------------


def test_an_account_array_subscribes_one_topic_per_user() -> None:
    subs = parse_subscriptions(
        [{"type": "account", "user": [pubkey(1), pubkey(2)]}, {"type": "ticker", "symbol": "X"}],
        frozenset({"X"}),
    )
    assert [s.topic for s in subs] == [f"account.{pubkey(1)}", f"account.{pubkey(2)}", "ticker.X"]


def test_candle_topics_keep_the_spelling_the_client_used() -> None:
    subs = parse_subscriptions(
        [
            {"type": "candle", "symbol": "X", "interval": "5min"},
            {"type": "candle", "symbol": "X", "interval": "5m"},
        ],
        frozenset({"X"}),
    )
    assert [(s.topic, s.interval) for s in subs] == [("candle.X.5min", "5m"), ("candle.X.5m", "5m")]


BAD_SUBSCRIPTIONS = [
    pytest.param(None, id="missing"),
    pytest.param([], id="empty"),
    pytest.param({"type": "ticker", "symbol": "X"}, id="not-a-list"),
    pytest.param(["ticker"], id="entry-not-an-object"),
    pytest.param([{"type": "orderbook", "symbol": "X"}], id="unknown-kind"),
    pytest.param([{"symbol": "X"}], id="no-kind"),
    pytest.param([{"type": "ticker"}], id="missing-symbol"),
    pytest.param([{"type": "trades", "symbol": "NOPE-USD"}], id="unknown-symbol"),
    pytest.param([{"type": "ticker", "symbol": 5}], id="symbol-not-a-string"),
    pytest.param([{"type": "l2Snapshot", "symbol": "X", "nlevels": "10"}], id="nlevels-text"),
    pytest.param([{"type": "l2Snapshot", "symbol": "X", "nlevels": 0}], id="nlevels-zero"),
    pytest.param([{"type": "l2Snapshot", "symbol": "X", "nlevels": True}], id="nlevels-bool"),
    pytest.param([{"type": "l2Snapshot", "symbol": "X", "aggregation": -1}], id="aggregation-neg"),
    pytest.param([{"type": "l2Snapshot", "symbol": "X", "aggregation": "1"}], id="aggregation-txt"),
    pytest.param([{"type": "candle", "symbol": "X", "interval": "7m"}], id="candle-interval"),
    pytest.param([{"type": "candle", "symbol": "X"}], id="candle-no-interval"),
    pytest.param([{"type": "account"}], id="account-no-user"),
    pytest.param([{"type": "account", "user": []}], id="account-empty-list"),
    pytest.param([{"type": "account", "user": "not base58 0OIl"}], id="account-not-base58"),
    pytest.param([{"type": "account", "user": "3yZe7d"}], id="account-short-key"),
    pytest.param([{"type": "account", "user": 42}], id="account-number"),
    pytest.param(
        [{"type": "ticker", "symbol": "X"}, {"type": "ticker", "symbol": "Y"}], id="one-bad-of-two"
    ),
]


@pytest.mark.parametrize("entries", BAD_SUBSCRIPTIONS)
def test_bad_subscriptions_are_refused_as_a_whole(entries: object) -> None:
    with pytest.raises(BadRequest):
        parse_subscriptions(entries, frozenset({"X"}))


def test_candle_bounds_align_minutes_weeks_on_mondays_and_calendar_months() -> None:
    t = 1_699_564_812_345  # 2023-11-09 21:20:12 UTC, a Thursday
    assert candle_bounds("1m", t) == (1_699_564_800_000, 1_699_564_860_000)
    assert candle_bounds("10s", t) == (1_699_564_810_000, 1_699_564_820_000)
    assert candle_bounds("1w", t) == (1_699_228_800_000, 1_699_833_600_000)  # Mon 6th - Mon 13th
    assert candle_bounds("1M", t) == (1_698_796_800_000, 1_701_388_800_000)  # Nov 1st - Dec 1st
    december = 1_702_000_000_000  # 2023-12-08
    assert candle_bounds("1M", december) == (1_701_388_800_000, 1_704_067_200_000)  # to Jan 1st


def test_candles_roll_over_and_keep_a_bounded_history() -> None:
    book = CandleBook(history=2)
    for minute, price in enumerate([10.0, 11.0, 12.0, 13.0]):
        book.record("X", price, 1.0, minute * 60_000 + 5)
        book.record("X", price + 0.5, 2.0, minute * 60_000 + 6)
    current = book.current("X", "1m")
    assert current is not None
    assert (current.open, current.high, current.close, current.volume, current.trades) == (
        13.0,
        13.5,
        13.5,
        3.0,
        2,
    )
    assert [bar.open for bar in book.backfill("X", "1m")] == [12.0, 13.0]
    hour = book.current("X", "1h")
    assert hour is not None
    assert (hour.open, hour.high, hour.low, hour.trades) == (
        10.0,
        13.5,
        10.0,
        8,
    )


@pytest.mark.parametrize(
    ("length", "header"),
    [
        (0, b"\x81\x00"),
        (125, b"\x81\x7d"),
        (126, b"\x81\x7e\x00\x7e"),
        (65535, b"\x81\x7e\xff\xff"),
        (65536, b"\x81\x7f" + (65536).to_bytes(8, "big")),
    ],
)
def test_data_frames_use_the_shortest_length_encoding(length: int, header: bytes) -> None:
    # RFC 6455, section 5.2: FIN + text opcode, no mask from a server, the minimal length form.
    assert encode_text_frame("x" * length) == header + b"x" * length


# -- subscriptions over a socket -------------------------------------------------------------


async def test_subscribing_to_every_kind_answers_topics_then_the_initial_frames(
    sim: Simulator,
) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_peer(sim.url) as peer:
            topics = await peer.subscribe(
                {"type": "ticker", "symbol": "BTC-USD"},
                {"type": "trades", "symbol": "BTC-USD"},
                {"type": "l2Snapshot", "symbol": "BTC-USD", "nlevels": 2},
                {"type": "l2Delta", "symbol": "ETH-USD"},
                {"type": "candle", "symbol": "BTC-USD", "interval": "1m"},
                {"type": "candle", "symbol": "BTC-USD", "interval": "1min"},
                {"type": "account", "user": [pubkey(1), pubkey(2)]},
            )
            assert topics == [
                "ticker.BTC-USD",
                "trades.BTC-USD",
                "l2Snapshot.BTC-USD",
                "l2Delta.ETH-USD",
                "candle.BTC-USD.1m",
                "candle.BTC-USD.1min",
                f"account.{pubkey(1)}",
                f"account.{pubkey(2)}",
            ]
            for user in (pubkey(1), pubkey(2)):
                snapshot = await peer.expect_account("accountSnapshot", user)
                assert_shape(snapshot, EXAMPLES["accountSnapshot"])
                assert snapshot["data"]["openOrders"] == []
            delta = await peer.expect_type("l2Delta", "l2Delta.ETH-USD")
            assert_shape(delta, EXAMPLES["l2Snapshot"])
            book = delta["data"]["book"]
            assert book["updateType"] == "snapshot"
            bids, asks = sim.engine.book("ETH-USD")
            assert book["levels"] == [
                [{"px": px, "sz": sz, "n": n} for px, sz, n in bids],
                [{"px": px, "sz": sz, "n": n} for px, sz, n in asks],
            ]
            assert len(bids) >= 10
            assert len(asks) >= 10
            snapshot = await peer.expect_type("l2Snapshot", "l2Snapshot.BTC-USD")
            assert_shape(snapshot, EXAMPLES["l2Snapshot"])
            assert [len(side) for side in snapshot["data"]["book"]["levels"]] == [2, 2]
            ticker = await peer.expect_type("ticker", "ticker.BTC-USD")
            assert_shape(ticker, EXAMPLES["ticker"])
            assert ticker["data"]["ticker"]["markPrice"] == sim.feed.mid("BTC-USD")


async def test_periodic_rounds_send_tickers_and_snapshots_honouring_nlevels_and_aggregation(
    sim: Simulator,
) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_peer(sim.url) as peer:
            await peer.subscribe(
                {"type": "ticker", "symbol": "SOL-USD"},
                {"type": "l2Snapshot", "symbol": "BTC-USD", "nlevels": 3, "aggregation": 50},
            )
            await peer.expect_type("ticker")
            await peer.expect_type("l2Snapshot")
            sim.publish_market_data()
            ticker = await peer.expect_type("ticker", "ticker.SOL-USD")
            assert_shape(ticker, EXAMPLES["ticker"])
            assert ticker["data"]["ticker"]["symbol"] == "SOL-USD"
            book = (await peer.expect_type("l2Snapshot"))["data"]["book"]
            bids, asks = book["levels"]
            assert len(bids) == len(asks) == 3
            for level in bids + asks:
                assert level["px"] % 50 == 0
            (best_bid, _, _), (best_ask, _, _) = (side[0] for side in sim.engine.book("BTC-USD"))
            assert bids[0]["px"] <= best_bid < bids[0]["px"] + 50
            assert asks[0]["px"] - 50 < best_ask <= asks[0]["px"]
            bid_sizes = sum(
                sz for px, sz, _ in sim.engine.book("BTC-USD")[0] if px >= bids[0]["px"]
            )
            assert bids[0]["sz"] == pytest.approx(bid_sizes)


async def test_tickers_come_on_their_own_timer_with_nanosecond_timestamps() -> None:
    with trio.fail_after(TIMEOUT):
        async with (
            open_simulator(symbols=["BTC-USD"], seed=1, ticker_interval=0.05) as sim,
            open_peer(sim.url) as peer,
        ):
            await peer.subscribe({"type": "ticker", "symbol": "BTC-USD"})
            stamps = [(await peer.expect_type("ticker"))["data"]["ticker"]["timestamp"]]
            while len(stamps) < 4:
                stamps.append((await peer.expect_type("ticker"))["data"]["ticker"]["timestamp"])
            assert stamps == sorted(stamps)
            assert all(stamp > 10**18 for stamp in stamps)


async def test_unsubscribe_answers_with_the_topic_and_stops_the_stream(sim: Simulator) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_peer(sim.url) as peer:
            await peer.subscribe({"type": "ticker", "symbol": "BTC-USD"})
            await peer.expect_type("ticker")
            await peer.send({"method": "unsubscribe", "topic": "ticker.BTC-USD"})
            reply = await peer.expect_type("unsubscribeResponse")
            assert reply == EXAMPLES["unsubscribeResponse"]
            stop = len(peer.history)
            sim.publish_market_data()
            await peer.marker()
            assert not [f for f in peer.history[stop:] if f["type"] == "ticker"]
            await peer.send({"method": "unsubscribe", "topic": "ticker.BTC-USD"})
            error = await peer.expect_type("error")
            assert "ticker.BTC-USD" in error["error"]["message"]


# -- trading over a socket -------------------------------------------------------------------


async def test_a_signed_faucet_post_funds_the_account(sim: Simulator) -> None:
    signer = TransactionSigner.generate_account(domain="testnet")
    with trio.fail_after(TIMEOUT):
        async with open_peer(sim.url) as peer:
            await peer.subscribe({"type": "account", "user": signer.public_key})
            snapshot = await peer.expect_account("accountSnapshot")
            assert snapshot["data"]["margin"]["totalBalance"] == 0.0
            reply = await peer.post(signer.sign_transaction([Faucet(signer.public_key)]))
            assert_post_shape(reply)
            assert statuses(reply) == [("deposit", {"amount": 100_000.0})]
            update = await peer.expect_account("marginUpdate")
            assert update["data"]["totalBalance"] == 100_000.0
            assert peer.history.index(reply) < peer.history.index(update)
    assert sim.engine.is_funded(signer.public_key)


async def test_place_modify_cancel_with_replies_before_the_events_they_caused(
    sim: Simulator, trader: TransactionSigner
) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_peer(sim.url) as peer:
            await peer.subscribe(
                {"type": "account", "user": trader.public_key},
                {"type": "l2Delta", "symbol": "BTC-USD"},
            )
            await peer.expect_type("l2Delta")
            payload = trader.sign_transaction([LimitOrder("BTC-USD", "sell", 101_000, 0.25)])
            reply = await peer.post(payload)
            [(name, body)] = statuses(reply)
            expected_oid = wire_order_id(  # an encoding of the tests' own, not the client's
                payload["actions"][0], seqno=0, nonce=payload["nonce"], account=trader.public_key
            )
            assert (name, body) == ("resting", {"oid": expected_oid})
            placed = await peer.expect_account("orderUpdate")
            assert peer.history.index(reply) < peer.history.index(placed)
            assert_shape(placed, EXAMPLES["orderUpdate"])
            data = placed["data"]
            assert (data["oid"], data["status"], data["sym"], data["px"]) == (
                expected_oid,
                "resting",
                "BTC-USD",
                101_000.0,
            )
            assert (data["origSz"], data["sz"], data["tif"], data["ot"]) == (
                -0.25,
                -0.25,
                "gtc",
                "limit",
            )
            level = await peer.expect_type("l2Delta")
            assert level["data"]["book"]["updateType"] == "delta"
            assert level["data"]["book"]["levels"] == [[], [{"px": 101000.0, "sz": 0.25, "n": 1}]]

            reply = await peer.post(
                trader.sign_transaction([ModifyOrder("BTC-USD", expected_oid, 0.5)])
            )
            assert statuses(reply)[0][0] == "modified"
            modified = await peer.expect_account("orderUpdate")
            assert (modified["data"]["sz"], modified["data"]["origSz"]) == (-0.5, -0.5)
            level = await peer.expect_type("l2Delta")
            assert level["data"]["book"]["levels"] == [[], [{"px": 101000.0, "sz": 0.5, "n": 1}]]

            reply = await peer.post(trader.sign_transaction([CancelOrder("BTC-USD", expected_oid)]))
            assert statuses(reply) == [("cancelled", {"oid": expected_oid})]
            cancelled = await peer.expect_account("orderUpdate")
            assert cancelled["data"]["status"] == "cancelled"
            assert peer.history.index(reply) < peer.history.index(cancelled)
            level = await peer.expect_type("l2Delta")
            assert level["data"]["book"]["levels"] == [[], [{"px": 101000.0, "sz": 0.0, "n": 0}]]


async def test_post_replies_sign_the_sizes_of_a_sell(
    sim: Simulator, trader: TransactionSigner
) -> None:
    # docs/http-api.md decision 10: the WebSocket reply carries the same statuses as POST /order.
    (best_bid, bid_size, _) = sim.engine.book("BTC-USD", 1)[0][0]
    size = round(bid_size / 2, 3)
    with trio.fail_after(TIMEOUT):
        async with open_peer(sim.url) as peer:
            reply = await peer.post(trader.sign_transaction([MarketOrder("BTC-USD", "sell", size)]))
            [(name, body)] = statuses(reply)
            assert (name, body["totalSz"], body["avgPx"]) == ("filled", -size, best_bid)


async def test_a_fill_reaches_the_account_trades_and_candle_streams(
    sim: Simulator, trader: TransactionSigner
) -> None:
    (best_ask, ask_size, _) = sim.engine.book("BTC-USD", 1)[1][0]
    size = round(ask_size / 2, 3)
    with trio.fail_after(TIMEOUT):
        async with open_peer(sim.url) as peer:
            await peer.subscribe(
                {"type": "account", "user": trader.public_key},
                {"type": "trades", "symbol": "BTC-USD"},
                {"type": "candle", "symbol": "BTC-USD", "interval": "1m"},
                {"type": "candle", "symbol": "BTC-USD", "interval": "1min"},
            )
            await peer.expect_account("accountSnapshot")
            reply = await peer.post(trader.sign_transaction([MarketOrder("BTC-USD", "buy", size)]))
            [(name, body)] = statuses(reply)
            assert name == "filled"
            assert (body["totalSz"], body["avgPx"]) == (size, best_ask)

            fill = await peer.expect_account("fill")
            assert_shape(fill, EXAMPLES["fill"])
            assert (fill["data"]["price"], fill["data"]["size"], fill["data"]["isBuy"]) == (
                best_ask,
                size,
                True,
            )
            assert fill["data"]["orderId"] == body["oid"]
            position = await peer.expect_account("positionUpdate")
            assert position["data"]["size"] == size
            assert position["data"]["price"] == best_ask
            margin = await peer.expect_account("marginUpdate")
            assert margin["data"]["notional"] > 0

            trades = await peer.expect_type("trades")
            assert_shape(trades, EXAMPLES["trades"])
            [trade] = trades["data"]
            assert trade["b"] is True
            assert trade["side"] is True
            assert (trade["px"], trade["sz"]) == (best_ask, size)
            assert (trade["maker"], trade["taker"]) == (MARKET_MAKER, trader.public_key)

            for spelling in ("1m", "1min"):
                candle = await peer.expect_type("candle", f"candle.BTC-USD.{spelling}")
                assert_shape(candle, EXAMPLES["candle"])
                bar = candle["data"]["candle"]
                assert bar["T"] - bar["t"] == 60_000
                assert (bar["c"], bar["v"], bar["n"]) == (best_ask, size, 1)
                assert bar["t"] <= trade["time"] < bar["T"]

        # A later candle subscription starts with the current bar.
        async with open_peer(sim.url) as late:
            await late.subscribe({"type": "candle", "symbol": "BTC-USD", "interval": "1m"})
            backfill = await late.expect_type("candle")
            assert backfill["data"]["candle"]["v"] == size


async def test_an_account_snapshot_lists_open_orders_in_the_long_form(
    sim: Simulator, trader: TransactionSigner
) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_peer(sim.url) as peer:
            reply = await peer.post(
                trader.sign_transaction([LimitOrder("ETH-USD", "sell", 4_000, 1.5)])
            )
            [(_, body)] = statuses(reply)
            await peer.subscribe({"type": "account", "user": trader.public_key})
            snapshot = await peer.expect_account("accountSnapshot")
            assert_shape(snapshot, EXAMPLES["accountSnapshot"])
            [entry] = snapshot["data"]["openOrders"]
            assert entry["orderId"] == body["oid"]
            assert (entry["isBuy"], entry["size"], entry["originalSize"]) == (False, 1.5, 1.5)
            assert (entry["price"], entry["tif"], entry["status"]) == (4000.0, "gtc", "resting")


async def test_refused_transactions_get_an_error_payload(
    sim: Simulator, trader: TransactionSigner
) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_peer(sim.url) as peer:
            forged = trader.sign_transaction([LimitOrder("BTC-USD", "buy", 90_000, 0.1)])
            forged["actions"][0]["l"]["px"] = 95_000.0  # no longer what was signed
            reply = await peer.post(forged)
            assert_shape(reply, EXAMPLES["postError"])
            assert reply["data"]["payload"]["status"] == "error"
            assert reply["data"]["payload"]["message"]

            payload = trader.sign_transaction([LimitOrder("BTC-USD", "buy", 90_000, 0.1)])
            assert statuses(await peer.post(payload))[0][0] == "resting"
            replayed = await peer.post(payload)
            assert replayed["data"]["payload"]["status"] == "error"
            assert "nonce" in replayed["data"]["payload"]["message"].lower()

            reply = await peer.post({"actions": "nope"})
            assert reply["data"]["payload"]["status"] == "error"


@pytest.mark.parametrize(
    "request_body",
    [
        pytest.param({"type": "query", "payload": {}}, id="not-an-action"),
        pytest.param({"type": "action"}, id="no-payload"),
        pytest.param("action", id="not-an-object"),
        pytest.param(None, id="missing"),
    ],
)
async def test_a_post_with_an_unusable_request_gets_an_error_reply_with_its_id(
    sim: Simulator, request_body: object
) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_peer(sim.url) as peer:
            await peer.send({"method": "post", "request": request_body, "id": 41})
            reply = await peer.expect_type("post")
            assert reply["id"] == 41
            assert reply["data"]["payload"]["status"] == "error"


# -- bad input: an error frame, the connection stays up, others are not disturbed --------------

BAD_FRAMES = [
    pytest.param("this is not json", id="not-json"),
    pytest.param('{"method": "subscribe", ', id="truncated-json"),
    pytest.param("[1, 2, 3]", id="array"),
    pytest.param('"subscribe"', id="string"),
    pytest.param("{}", id="no-method"),
    pytest.param({"method": "query"}, id="unknown-method"),
    pytest.param({"method": 7}, id="method-not-a-string"),
    pytest.param({"method": "subscribe"}, id="no-subscription"),
    pytest.param({"method": "subscribe", "subscription": [{"type": "nope"}]}, id="unknown-kind"),
    pytest.param({"method": "subscribe", "subscription": [{"type": "ticker"}]}, id="no-symbol"),
    pytest.param(
        {"method": "subscribe", "subscription": [{"type": "ticker", "symbol": "DOGE-USD"}]},
        id="unknown-symbol",
    ),
    pytest.param(
        {"method": "subscribe", "subscription": [{"type": "l2Snapshot", "symbol": 1}]},
        id="wrong-type",
    ),
    pytest.param({"method": "unsubscribe"}, id="unsubscribe-no-topic"),
    pytest.param({"method": "unsubscribe", "topic": ["ticker.BTC-USD"]}, id="topic-not-a-string"),
    pytest.param({"method": "post", "request": {"type": "action", "payload": {}}}, id="post-no-id"),
    pytest.param({"method": "post", "request": {}, "id": "1"}, id="post-id-text"),
    pytest.param({"method": "post", "request": {}, "id": True}, id="post-id-bool"),
    pytest.param({"method": "post", "request": {}, "id": 1.5}, id="post-id-float"),
    pytest.param({"method": "post", "request": {}, "id": -1}, id="post-id-negative"),
    pytest.param(b'{"method": "subscribe"}', id="binary-frame"),
    pytest.param("x" * ((1 << 20) + 1), id="oversized"),
]


async def test_bad_requests_get_an_error_while_the_connection_and_the_others_carry_on() -> None:
    with trio.fail_after(TIMEOUT):
        async with (
            open_simulator(symbols=SYMBOLS, seed=3, feed=False, ticker_interval=0.05) as sim,
            open_peer(sim.url) as offender,
            open_peer(sim.url) as bystander,
        ):
            await bystander.subscribe({"type": "ticker", "symbol": "BTC-USD"})
            for case in BAD_FRAMES:
                (bad,) = case.values
                if isinstance(bad, bytes):
                    await offender.ws.send_message(bad)
                else:
                    await offender.send(bad)  # type: ignore[arg-type]
                error = await offender.expect_type("error")
                assert_shape(error, EXAMPLES["error"])
                assert error["error"]["message"], case.id
                # The bystander still gets fresh tickers after each offence.
                before = len(bystander.seen(lambda f: f["type"] == "ticker"))
                while len(bystander.seen(lambda f: f["type"] == "ticker")) <= before:
                    await bystander.expect_type("ticker")
            # The offender's connection is still fully usable.
            assert await offender.subscribe({"type": "trades", "symbol": "ETH-USD"}) == [
                "trades.ETH-USD"
            ]
            assert sim.connection_count == 2
            assert sim.stats.bad_requests == len(BAD_FRAMES)


async def test_the_oversized_error_names_the_limit(sim: Simulator) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_peer(sim.url) as peer:
            await peer.send(json.dumps({"method": "subscribe", "pad": "x" * (1 << 20)}))
            error = await peer.expect_type("error")
            assert str(1 << 20) in error["error"]["message"]


async def test_at_most_100_subscriptions_per_connection(sim: Simulator) -> None:
    # Above the limit the exchange disconnects (docs/protocol.md): close code 1008, the reason.
    with trio.fail_after(TIMEOUT):
        async with open_peer(sim.url) as peer:
            too_many = [{"type": "account", "user": pubkey(n)} for n in range(102)]
            topics = await peer.subscribe(*too_many[:100])
            assert len(topics) == 100
            # Subscribing again to a topic already held does not count twice.
            assert await peer.subscribe(too_many[0]) == [f"account.{pubkey(0)}"]
            await peer.send({"method": "unsubscribe", "topic": f"account.{pubkey(5)}"})
            await peer.expect_type("unsubscribeResponse")
            assert await peer.subscribe(too_many[100]) == [f"account.{pubkey(100)}"]
            await peer.send({"method": "subscribe", "subscription": [too_many[101]]})
            with pytest.raises(ConnectionClosed) as closed:
                await read_until_closed(peer)
    assert closed.value.reason.code == 1008
    assert "too many subscriptions" in (closed.value.reason.reason or "")


async def read_until_closed(peer: Peer) -> None:
    while True:
        await peer.recv_text()
