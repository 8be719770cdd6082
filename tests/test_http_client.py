"""The HTTP client against the simulator's HTTP API, over real loopback sockets.

What a user relies on: every read returns the engine's state as typed models, a signed
transaction posted over HTTP behaves like one posted over the WebSocket (same statuses, same
account events), history pages and cursors work, and failures are errors that name the endpoint:
retried reads, never-retried writes whose outcome is unknown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import attrs
import httpx
import pytest
import trio

from bulk_trio import (
    BulkHttpClient,
    CancelOrder,
    ConnectError,
    ExchangeError,
    HttpError,
    LimitOrder,
    MarketOrder,
    MarketRuleViolation,
    OrderOutcomeUnknown,
    OrderStatus,
    ProtocolViolation,
    Side,
    Topic,
    TransactionSigner,
    UpdateLeverage,
    open_bulk_client,
    open_bulk_http,
)
from bulk_trio.actions import RangeOrder, StopOrder
from bulk_trio.sim import Simulator, open_simulator
from ws_peer import simulator_errors

SYMBOLS = ("BTC-USD", "ETH-USD")
FUNDS = 1_000_000.0
TIMEOUT = 20


@pytest.fixture(autouse=True)
def _no_simulator_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    yield
    assert not simulator_errors(caplog.records)


@pytest.fixture
def signer() -> TransactionSigner:
    return TransactionSigner.generate_account(domain="testnet")


@pytest.fixture
async def sim(signer: TransactionSigner) -> AsyncIterator[Simulator]:
    async with open_simulator(
        symbols=SYMBOLS,
        seed=3,
        feed=False,
        takers=False,
        ticker_interval=None,
        snapshot_interval=None,
        fund={signer.public_key: FUNDS},
        http_executor_timeout=0.2,
    ) as simulator:
        yield simulator


@pytest.fixture
async def http(sim: Simulator) -> AsyncIterator[BulkHttpClient]:
    async with open_bulk_http(sim.http_url, timeout=5, retry_backoff=0.01) as client:
        yield client


def best(sim: Simulator, symbol: str, side: Side) -> float:
    bids, asks = sim.engine.book(symbol, 1)
    return (bids if side is Side.BUY else asks)[0][0]


async def trade(http: BulkHttpClient, signer: TransactionSigner, side: Side, size: float) -> None:
    """Take ``size`` BTC from the simulator's market maker with a market order."""
    (response,) = await http.place_orders(signer, MarketOrder("BTC-USD", side, size))
    assert response.status is OrderStatus.FILLED, response


# -- market data ---------------------------------------------------------------------------


async def test_exchange_info_is_the_engines_market_configuration(
    sim: Simulator, http: BulkHttpClient
) -> None:
    with trio.fail_after(TIMEOUT):
        markets = await http.exchange_info()
    assert {m.symbol: m for m in markets} == sim.markets
    btc = next(m for m in markets if m.symbol == "BTC-USD")
    assert (btc.tick_size, btc.lot_size, btc.min_notional, btc.max_leverage) == (
        0.1, 0.0001, 1.0, 50.0,
    )  # fmt: skip


async def test_ticker_book_and_stats(sim: Simulator, http: BulkHttpClient) -> None:
    with trio.fail_after(TIMEOUT):
        ticker = await http.ticker("BTC-USD")
        book = await http.l2_book("BTC-USD", depth=3)
        stats = await http.stats()
    assert ticker.symbol == "BTC-USD" and ticker.mark_price == 100_000.0
    bids, asks = sim.engine.book("BTC-USD", 3)
    assert [(level.price, level.size, level.count) for level in book.bids] == bids
    assert [(level.price, level.size, level.count) for level in book.asks] == asks
    assert {m.symbol for m in stats.markets} == set(SYMBOLS)


async def test_unknown_symbol_is_a_404_naming_the_endpoint(http: BulkHttpClient) -> None:
    with trio.fail_after(TIMEOUT), pytest.raises(HttpError) as caught:
        await http.ticker("DOGE-USD")
    assert caught.value.status == 404 and caught.value.code == "UNKNOWN_SYMBOL"
    assert "GET /ticker/DOGE-USD" in str(caught.value)


async def test_klines_come_from_the_candle_store(
    sim: Simulator, http: BulkHttpClient, signer: TransactionSigner
) -> None:
    with trio.fail_after(TIMEOUT):
        await trade(http, signer, Side.BUY, 0.01)
        await trade(http, signer, Side.SELL, 0.02)
        candles = await http.klines("BTC-USD", "1min", limit=10)
        none = await http.klines("BTC-USD", "1m", start=0, end=1)
    (candle,) = candles
    assert candle.interval == "1m" and candle.volume == pytest.approx(0.03) and candle.trades >= 2
    assert candle.high >= candle.low > 0
    assert none == []


# -- account -------------------------------------------------------------------------------


async def test_an_unknown_account_is_none_not_an_error(http: BulkHttpClient) -> None:
    stranger = TransactionSigner.generate_account().public_key
    with trio.fail_after(TIMEOUT):
        assert await http.full_account(stranger) is None
        assert await http.open_orders(stranger) == []
        assert (await http.fills(stranger)).rows == ()


async def test_an_order_over_http_shows_on_both_apis(
    sim: Simulator, http: BulkHttpClient, signer: TransactionSigner
) -> None:
    price = sim.markets["BTC-USD"].round_price(best(sim, "BTC-USD", Side.BUY) * 0.9, Side.BUY)
    with trio.fail_after(TIMEOUT):
        async with open_bulk_client(sim.url, symbols=[], signer=signer) as ws:
            async with ws.events(Topic.ORDER) as orders:
                (placed,) = await http.place_orders(
                    signer, LimitOrder("BTC-USD", Side.BUY, price, 0.01)
                )
                update = await orders.receive()
            assert placed.status is OrderStatus.RESTING and placed.order_id
            assert update.order_id == placed.order_id  # the same event the WS post would cause
            (open_order,) = await http.open_orders(signer.public_key)
            account = await http.full_account(signer.public_key)
            assert account is not None and account.open_orders == (open_order,)
            assert (open_order.order_id, open_order.price, open_order.size) == (
                placed.order_id, price, 0.01,
            )  # fmt: skip
            # Cancelled over the WebSocket ...
            (cancelled,) = await ws.place_orders([CancelOrder("BTC-USD", placed.order_id)])
            assert cancelled.status is OrderStatus.CANCELLED
            assert await http.open_orders(signer.public_key) == []  # ... gone over HTTP too
            (finished,) = (await http.order_history(signer.public_key)).rows
            assert finished.order_id == placed.order_id
            assert finished.status is OrderStatus.CANCELLED


async def test_market_rules_are_enforced_atomically_with_the_rule_named(
    sim: Simulator, http: BulkHttpClient, signer: TransactionSigner
) -> None:
    good = LimitOrder("BTC-USD", Side.BUY, 90_000.0, 0.01)
    off_tick = LimitOrder("BTC-USD", Side.BUY, 90_000.123, 0.01)
    with trio.fail_after(TIMEOUT):
        statuses = await http.place_orders(signer, [good, off_tick])
        (tiny,) = await http.place_orders(signer, LimitOrder("BTC-USD", Side.BUY, 90_000.0, 1e-7))
        (lever,) = await http.place_orders(signer, UpdateLeverage({"BTC-USD": 51}))
    assert [s.status for s in statuses] == [OrderStatus.REJECTED_INVALID] * 2
    assert statuses[1].message is not None and statuses[1].message.startswith("tick: ")
    assert "action 1" in (statuses[0].message or "")  # the valid one names the culprit
    assert tiny.message is not None and tiny.message.startswith("lot: ")
    assert lever.status is OrderStatus.REJECTED_INVALID
    assert sim.engine.open_orders(signer.public_key) == []  # nothing applied


async def test_refused_transactions_raise_exchange_errors(
    sim: Simulator, http: BulkHttpClient, signer: TransactionSigner
) -> None:
    order = LimitOrder("BTC-USD", Side.BUY, 90_000.0, 0.01)
    wrong_domain = TransactionSigner(signer.private_key, domain="mainnet")
    with trio.fail_after(TIMEOUT):
        with pytest.raises(ExchangeError, match="bad signature"):
            await http.place_orders(wrong_domain, order)
        await http.place_orders(signer, order, nonce=7)
        with pytest.raises(ExchangeError, match="nonce"):
            await http.place_orders(signer, order, nonce=7)


# -- history -------------------------------------------------------------------------------


async def test_fills_history_pages_and_iterates(
    sim: Simulator, http: BulkHttpClient, signer: TransactionSigner
) -> None:
    with trio.fail_after(TIMEOUT):
        for _ in range(3):
            await trade(http, signer, Side.BUY, 0.01)
        first = await http.fills(signer.public_key, limit=2)
        second = await http.fills(signer.public_key, limit=2, cursor=first.next_cursor)
        every = [fill async for fill in http.iter_fills(signer.public_key, limit=1)]
    assert len(first.rows) == 2 and first.has_more
    assert len(second.rows) == 1 and not second.has_more
    assert every == [*first.rows, *second.rows]  # newest first, each execution once
    assert [row.sequence for row in every] == sorted((row.sequence for row in every), reverse=True)
    mine = every[0].for_account(signer.public_key)
    assert (mine.side, mine.is_maker, mine.size) == (Side.BUY, False, 0.01)


async def test_expired_cursor_and_bad_limit(
    sim: Simulator, http: BulkHttpClient, signer: TransactionSigner
) -> None:
    with trio.fail_after(TIMEOUT):
        await trade(http, signer, Side.BUY, 0.01)
        await trade(http, signer, Side.BUY, 0.01)
        page = await http.fills(signer.public_key, limit=1)
        sim.expire_history_cursors()
        with pytest.raises(HttpError) as caught:
            await http.fills(signer.public_key, cursor=page.next_cursor)
    assert (caught.value.status, caught.value.code) == (410, "CURSOR_EXPIRED")


async def test_closed_positions_are_recorded(
    http: BulkHttpClient, signer: TransactionSigner
) -> None:
    with trio.fail_after(TIMEOUT):
        await trade(http, signer, Side.BUY, 0.02)
        await trade(http, signer, Side.SELL, 0.02)
        closed = [row async for row in http.iter_positions_history(signer.public_key)]
        funding = await http.funding_history(signer.public_key)
    (position,) = closed
    assert position.symbol == "BTC-USD" and position.quantity == pytest.approx(0.02)
    assert position.avg_close_price < position.avg_open_price  # bought the ask, sold the bid
    assert funding.rows == ()  # the simulator does not charge funding


# -- faults --------------------------------------------------------------------------------


async def test_reads_are_retried_through_500s_and_429s(
    sim: Simulator, http: BulkHttpClient
) -> None:
    sim.fail_http_requests(500, 2)
    sim.fail_http_requests(429, 1)
    with trio.fail_after(TIMEOUT):
        assert await http.ticker("BTC-USD")
        sim.fail_http_requests(503, 4)  # one more than the three retries
        with pytest.raises(HttpError) as caught:
            await http.exchange_info()
    assert caught.value.status == 503 and "GET /exchangeInfo" in str(caught.value)


async def test_rate_limit_answers_429(sim: Simulator) -> None:
    sim.limit_http_rate(2)
    async with open_bulk_http(sim.http_url, retries=0) as http:
        with trio.fail_after(TIMEOUT):
            await http.stats()
            await http.stats()
            with pytest.raises(HttpError) as caught:
                await http.stats()
    assert (caught.value.status, caught.value.code) == (429, "RATE_LIMITED")


async def test_a_failed_write_is_outcome_unknown_and_never_retried(
    sim: Simulator, http: BulkHttpClient, signer: TransactionSigner
) -> None:
    sim.fail_http_requests(500, 1)
    order = LimitOrder("BTC-USD", Side.BUY, 90_000.0, 0.01)
    with trio.fail_after(TIMEOUT):
        with pytest.raises(OrderOutcomeUnknown) as caught:
            await http.place_orders(signer, order)
        assert caught.value.status == 500
        assert sim.engine.open_orders(signer.public_key) == []  # not executed, not re-sent
        (resent,) = await http.post_signed(caught.value.payload)  # the same signed body
    assert resent.status is OrderStatus.RESTING


async def test_a_connection_dropped_after_the_write_is_outcome_unknown(
    sim: Simulator, http: BulkHttpClient, signer: TransactionSigner
) -> None:
    sim.drop_http_after_write()
    order = LimitOrder("BTC-USD", Side.BUY, 90_000.0, 0.01)
    with trio.fail_after(TIMEOUT):
        with pytest.raises(OrderOutcomeUnknown) as caught:
            await http.place_orders(signer, order)
        assert caught.value.status is None
        (resting,) = await http.open_orders(signer.public_key)  # it did execute
        with pytest.raises(ExchangeError, match="nonce"):  # and a resend cannot repeat it
            await http.post_signed(caught.value.payload)
    assert resting.price == 90_000.0


async def test_a_slow_executor_answers_408_after_applying_the_write(
    sim: Simulator, http: BulkHttpClient, signer: TransactionSigner
) -> None:
    sim.delay_http_replies(10)  # beyond the executor timeout (0.2 s here)
    with trio.fail_after(TIMEOUT):
        with pytest.raises(OrderOutcomeUnknown) as caught:
            await http.place_orders(signer, LimitOrder("BTC-USD", Side.BUY, 90_000.0, 0.01))
        sim.delay_http_replies(0)
        assert caught.value.status == 408
        assert len(await http.open_orders(signer.public_key)) == 1


async def test_a_client_timeout_on_a_read_is_a_connect_error(sim: Simulator) -> None:
    sim.delay_http_replies(1.0)
    async with open_bulk_http(sim.http_url, timeout=0.05, retries=1, retry_backoff=0.01) as http:
        with trio.fail_after(TIMEOUT), pytest.raises(ConnectError, match="GET /exchangeInfo"):
            await http.exchange_info()


async def test_nothing_listening_is_a_connect_error() -> None:
    async with open_bulk_http("http://127.0.0.1:9/api/v1", retries=0) as http:
        with trio.fail_after(TIMEOUT), pytest.raises(ConnectError, match="GET /stats"):
            await http.stats()
        with trio.fail_after(TIMEOUT), pytest.raises(ConnectError, match="POST /order"):
            await http.post_signed({"actions": []})


def test_base_url_takes_presets_and_refuses_other_schemes() -> None:
    from bulk_trio.shell.http import _base_url

    assert _base_url("local") == "http://127.0.0.1:12000/api/v1"
    assert _base_url("http://127.0.0.1:1/api/v1/") == "http://127.0.0.1:1/api/v1"
    with pytest.raises(ValueError, match="network must be one of"):
        _base_url("moonnet")
    with pytest.raises(ValueError, match="http"):
        _base_url("ws://127.0.0.1:1")


# -- the WebSocket client with market rules ------------------------------------------------


async def test_open_bulk_client_with_markets_refuses_before_signing(
    sim: Simulator, signer: TransactionSigner
) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_bulk_client(
            sim.url, symbols=[], signer=signer, markets=sim.http_url
        ) as client:
            posts = sim.stats.posts_handled
            with pytest.raises(MarketRuleViolation) as caught:
                await client.place_limit_order("BTC-USD", Side.BUY, 90_000.123, 0.01)
            assert caught.value.rule == "tick" and isinstance(caught.value, ValueError)
            with pytest.raises(ValueError, match="lot"):
                await client.place_market_order("BTC-USD", Side.SELL, 1e-7)
            assert sim.stats.posts_handled == posts  # nothing was sent
            market = client.markets["BTC-USD"]
            placed = await client.place_limit_order(
                "BTC-USD", Side.BUY, market.round_price(90_000.123, Side.BUY), 0.01
            )
            assert placed.status is OrderStatus.RESTING
        strict = [attrs.evolve(sim.markets["BTC-USD"], min_notional=10_000.0)]
        async with open_bulk_client(sim.url, symbols=[], signer=signer, markets=strict) as client:
            with pytest.raises(MarketRuleViolation, match="minimum notional"):
                await client.place_limit_order("BTC-USD", Side.BUY, 90_000.0, 0.01)


async def test_conditional_orders_meet_the_market_rules_before_signing(
    sim: Simulator, signer: TransactionSigner
) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_bulk_client(
            sim.url, symbols=[], signer=signer, markets=sim.http_url
        ) as client:
            market = client.markets["BTC-USD"]
            posts = sim.stats.posts_handled
            off_lot = market.lot_size * 1.5
            with pytest.raises(MarketRuleViolation) as caught:
                await client.place_orders(StopOrder("BTC-USD", False, off_lot, 90_000.0))
            assert caught.value.rule == "lot"
            off_tick = 110_000.0 + market.tick_size / 2
            bracket = RangeOrder(
                "BTC-USD", True, 0.01, 90_000.0, 110_000.0, take_profit_limit=off_tick
            )
            with pytest.raises(MarketRuleViolation, match="tick"):
                await client.place_orders(bracket)
            assert sim.stats.posts_handled == posts  # nothing was signed or sent
            # A trigger price off the tick grid is fine: it is a level, not an order.
            (parked,) = await client.place_orders(
                StopOrder("BTC-USD", False, 0.01, off_tick - 20_000)
            )
            assert not parked.is_error


async def test_a_network_preset_refuses_a_signer_for_another_domain() -> None:
    signer = TransactionSigner.generate_account(domain="testnet")
    with pytest.raises(ValueError, match="expects mainnet"):
        async with open_bulk_client(network="mainnet", signer=signer):
            pass  # pragma: no cover - refused before connecting


async def test_a_client_timeout_on_a_write_is_outcome_unknown_and_it_applied(
    sim: Simulator, signer: TransactionSigner
) -> None:
    sim.delay_http_replies(0.15)  # under the executor timeout: the answer is only late
    async with open_bulk_http(sim.http_url, timeout=0.05) as http:
        with trio.fail_after(TIMEOUT):
            with pytest.raises(OrderOutcomeUnknown, match="may or may not have executed"):
                await http.place_orders(signer, LimitOrder("BTC-USD", Side.BUY, 90_000.0, 0.01))
            sim.delay_http_replies(0)
            (order,) = await http.open_orders(signer.public_key)
    assert order.price == 90_000.0


async def test_fee_tier_is_the_engines_fees(
    http: BulkHttpClient, signer: TransactionSigner
) -> None:
    with trio.fail_after(TIMEOUT):
        tier = await http.fee_tier(signer.public_key, "BTC-USD")
        stranger = await http.fee_tier(TransactionSigner.generate_account().public_key)
    assert tier is not None and (tier.scope, tier.maker_bps, tier.taker_bps) == (
        "BTC-USD",
        1.0,
        3.0,
    )
    assert stranger is None


# -- exact request counts, with httpx's mock transport -------------------------------------


async def test_a_post_is_sent_once_and_reads_up_to_the_retry_limit(
    signer: TransactionSigner,
) -> None:
    seen: list[str] = []

    def unavailable(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        return httpx.Response(503, json={"error": {"code": "INTERNAL", "message": "down"}})

    transport = httpx.MockTransport(unavailable)
    async with open_bulk_http(
        "http://127.0.0.1:1/api/v1", retries=2, retry_backoff=0, transport=transport
    ) as http:
        with trio.fail_after(TIMEOUT), pytest.raises(HttpError, match="INTERNAL: down"):
            await http.ticker("BTC-USD")
        assert seen == ["GET /api/v1/ticker/BTC-USD"] * 3
        seen.clear()
        with trio.fail_after(TIMEOUT), pytest.raises(OrderOutcomeUnknown):
            await http.place_orders(signer, LimitOrder("BTC-USD", Side.BUY, 90_000.0, 0.01))
        assert seen == ["POST /api/v1/order"]  # never retried, never re-signed


async def test_a_server_repeating_a_cursor_cannot_loop_the_iterator(
    signer: TransactionSigner,
) -> None:
    def same_page(request: httpx.Request) -> httpx.Response:
        page = {"nextCursor": "again", "hasMore": True, "asOfSlot": 1, "startSlot": 0,
                "endSlot": 1, "coverage": "complete"}  # fmt: skip
        return httpx.Response(200, json={"data": [], "page": page})

    async with open_bulk_http(
        "http://127.0.0.1:1/api/v1", transport=httpx.MockTransport(same_page)
    ) as http:
        with trio.fail_after(TIMEOUT), pytest.raises(ProtocolViolation, match="repeated cursor"):
            async for _ in http.iter_fills(signer.public_key):
                pass
