"""Fills made while the client is disconnected, recovered from the simulator's HTTP fill history,
over real loopback sockets (docs/guides/lifecycle.md, "Fills missed while disconnected")."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
import trio

from bulk_trio import (
    ConnectionStatus,
    Fill,
    Side,
    StatusKind,
    TimeInForce,
    Topic,
    TransactionSigner,
    open_bulk_client,
)
from bulk_trio.actions import LimitOrder, MarketOrder
from bulk_trio.backoff import Backoff
from bulk_trio.enums import ConnectionState
from bulk_trio.networks import NetworkPreset
from bulk_trio.sim import Simulator, open_simulator
from bulk_trio.sim.events import Filled

SYMBOLS = ["BTC-USD", "ETH-USD"]
FUNDS = 1_000_000.0
FAST_BACKOFF = Backoff(initial=0.05, maximum=0.2, jitter=0.0)


@pytest.fixture
def signer() -> TransactionSigner:
    return TransactionSigner.generate_account(domain="testnet")


@pytest.fixture
async def sim(signer: TransactionSigner) -> AsyncIterator[Simulator]:
    async with open_simulator(
        network="testnet", symbols=SYMBOLS, seed=5, fund={signer.public_key: FUNDS}, takers=False
    ) as simulator:
        simulator.pause_feed()  # the book stands still while a test arranges its trades
        yield simulator


def client_for(sim: Simulator, signer: TransactionSigner, **options: Any):  # type: ignore[no-untyped-def]
    return open_bulk_client(
        sim.url, symbols=SYMBOLS, signer=signer, backoff=FAST_BACKOFF, **options
    )


async def next_matching(channel: trio.MemoryReceiveChannel[Any], predicate: Any) -> Any:
    with trio.fail_after(10):
        async for item in channel:
            if predicate(item):
                return item
    raise AssertionError("channel ended")  # pragma: no cover


def key(fill: Fill | Filled) -> tuple[str, float, float, int]:
    return (fill.order_id, round(fill.price, 6), round(fill.size, 10), fill.timestamp)


def own_fills(events: Sequence[object], account: str) -> list[Filled]:
    return [e for e in events if isinstance(e, Filled) and e.account == account]


async def trade_while_disconnected(
    sim: Simulator, client: Any, signer: TransactionSigner
) -> list[Filled]:
    """Buy BTC live, rest a sell above it, then, while the client cannot reconnect, have another
    account lift the sell (closing the position at a profit) and buy ETH for the client."""
    account = signer.public_key
    async with client.events(Topic.FILL) as fills:
        await client.place_market_order("BTC-USD", Side.BUY, 0.05)
        while client.inventory.position("BTC-USD").size < 0.05 - 1e-12:
            await next_matching(fills, lambda f: True)
    price = sim.engine.book("BTC-USD", 1)[1][0][0] + 50.0
    resting = await client.place_limit_order("BTC-USD", Side.SELL, price, 0.05)
    assert resting.order_id is not None

    sim.refuse_connections(1.0)
    sim.drop_connections()
    with trio.fail_after(10):
        await client.wait_for_state(ConnectionState.BACKOFF)
    taker = TransactionSigner.generate_account(domain="testnet").public_key
    sim.fund(taker, FUNDS)
    depth = sum(size for px, size, _ in sim.engine.book("BTC-USD")[1] if px <= price)
    lift = LimitOrder("BTC-USD", Side.BUY, price, depth, time_in_force=TimeInForce.IOC)
    missed = own_fills(sim.submit_trusted(taker, [lift]).events, account)
    eth = MarketOrder("ETH-USD", Side.BUY, 0.2)
    missed += own_fills(sim.submit_trusted(account, [eth]).events, account)
    assert {f.order_id for f in missed} >= {resting.order_id}
    return missed


async def test_fills_made_while_disconnected_are_recovered_once(
    sim: Simulator, signer: TransactionSigner
) -> None:
    account = signer.public_key
    async with (
        client_for(sim, signer, http_url=sim.http_url) as client,
        client.events(Topic.STATUS) as statuses,
    ):
        async with client.events(Topic.FILL) as fills:
            missed = await trade_while_disconnected(sim, client, signer)
            await next_matching(statuses, lambda s: s.kind is StatusKind.RESYNCED)
            recovered: list[Fill] = []
            while len(recovered) < len(missed):
                recovered.append(await next_matching(fills, lambda f: f.recovered))
            # Anything published after them, up to a new live fill, is that live fill alone.
            await client.place_market_order("ETH-USD", Side.SELL, 0.1)
            after = await next_matching(fills, lambda f: True)
            assert not after.recovered and after.side is Side.SELL
            truth = sim.engine.account_view(account)
            eth = next(p.size for p in truth.positions if p.symbol == "ETH-USD")
            while abs(client.inventory.position("ETH-USD").size - eth) > 1e-9:
                await next_matching(fills, lambda f: not f.recovered)  # the sell's other fills

        assert sorted(map(key, recovered)) == sorted(map(key, missed))
        assert all(f.account == account for f in recovered)
        assert client.fills_recovered == len(missed)
        pnl = client.get_pnl()
        assert pnl.realized == pytest.approx(truth.margin.realized_pnl, abs=1e-6)
        assert pnl.realized > 0  # the sell lifted while offline closed BTC above its entry
        held = {s: p.size for s, p in client.inventory.positions.items()}
        assert held == pytest.approx({p.symbol: p.size for p in truth.positions})
        assert not [s for s in statuses_seen(statuses) if s.kind is StatusKind.GAP]


def statuses_seen(statuses: trio.MemoryReceiveChannel[ConnectionStatus]) -> list[ConnectionStatus]:
    seen = []
    while True:
        try:
            seen.append(statuses.receive_nowait())
        except trio.WouldBlock:
            return seen


async def test_without_an_http_endpoint_the_gap_is_announced(
    sim: Simulator, signer: TransactionSigner
) -> None:
    async with (
        client_for(sim, signer) as client,
        client.events(Topic.STATUS) as statuses,
        client.events(Topic.FILL) as fills,
    ):
        await trade_while_disconnected(sim, client, signer)
        gap = await next_matching(statuses, lambda s: s.kind is StatusKind.GAP)
        assert "not recovered" in gap.reason and "http_url" in gap.reason
        assert client.is_connected  # a gap is news, not a failure
        assert client.fills_recovered == 0
        assert not [f for f in _drain(fills) if f.recovered]
        # The positions still come from the account snapshot.
        truth = sim.engine.account_view(signer.public_key)
        held = {s: p.size for s, p in client.inventory.positions.items()}
        assert held == pytest.approx({p.symbol: p.size for p in truth.positions})


def _drain(channel: trio.MemoryReceiveChannel[Any]) -> list[Any]:
    items = []
    while True:
        try:
            items.append(channel.receive_nowait())
        except trio.WouldBlock:
            return items


async def test_a_failing_fill_history_is_a_gap_and_the_client_stays_live(
    sim: Simulator, signer: TransactionSigner
) -> None:
    async with (
        client_for(sim, signer, http_url=sim.http_url) as client,
        client.events(Topic.STATUS) as statuses,
    ):
        sim.fail_http_requests(500, count=100)
        await trade_while_disconnected(sim, client, signer)
        gap = await next_matching(statuses, lambda s: s.kind is StatusKind.GAP)
        assert "fill history failed" in gap.reason and "500" in gap.reason
        assert client.is_connected
        resp = await client.place_market_order("ETH-USD", Side.SELL, 0.1)
        assert resp.order_id is not None


async def test_a_slow_fill_history_is_a_gap_within_the_timeout(
    sim: Simulator, signer: TransactionSigner
) -> None:
    async with (
        client_for(sim, signer, http_url=sim.http_url, default_timeout=1.0) as client,
        client.events(Topic.STATUS) as statuses,
    ):
        sim.delay_http_replies(30.0)
        await trade_while_disconnected(sim, client, signer)
        resynced = await next_matching(statuses, lambda s: s.kind is StatusKind.RESYNCED)
        assert resynced.reconnects == 1  # LIVE again while the history is still being asked
        gap = await next_matching(statuses, lambda s: s.kind is StatusKind.GAP)
        assert "within 1 s" in gap.reason
        assert client.is_connected


async def test_the_http_endpoint_comes_from_the_network_preset_or_http_url(
    sim: Simulator, signer: TransactionSigner
) -> None:
    mine = NetworkPreset(name="mine", http_url=sim.http_url, ws_url=sim.url, domain="testnet")
    async with open_bulk_client(symbols=SYMBOLS, signer=signer, network=mine) as client:
        assert client.http_url == sim.http_url  # the preset's WebSocket and HTTP go together
    # A WebSocket URL of your own may be another exchange: the preset's HTTP is not assumed.
    async with open_bulk_client(sim.url, symbols=SYMBOLS, network=mine) as client:
        assert client.http_url is None
    with pytest.raises(ValueError, match="http_url must be an http"):
        async with open_bulk_client(sim.url, http_url="ws://127.0.0.1:1"):
            pass  # pragma: no cover - refused before connecting
