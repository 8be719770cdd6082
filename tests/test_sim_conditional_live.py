"""Conditional orders, brackets and sub-accounts end to end: a client on real loopback sockets,
the simulator moving the mark."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio

from bulk_trio import OrderStatus, Side, Topic, TransactionSigner, open_bulk_client
from bulk_trio.actions import (
    CreateSubAccount,
    LimitOrder,
    MarketOrder,
    OnFill,
    RangeOrder,
    StopOrder,
    TakeProfitOrder,
    Transfer,
)
from bulk_trio.sim import Simulator, open_simulator

BTC = "BTC-USD"
TIMEOUT = 10


@pytest.fixture
def signer() -> TransactionSigner:
    return TransactionSigner.generate_account(domain="testnet")


@pytest.fixture
async def sim(signer: TransactionSigner) -> AsyncIterator[Simulator]:
    async with open_simulator(
        symbols=[BTC], seed=3, fund={signer.public_key: 1_000_000.0}, feed=False, takers=False
    ) as simulator:
        yield simulator


async def next_update(orders: trio.MemoryReceiveChannel[Any], oid: str) -> OrderStatus:
    async for order in orders:
        if order.order_id == oid:
            return order.status  # type: ignore[no-any-return]
    raise AssertionError("order channel ended")  # pragma: no cover


async def test_a_stop_loss_triggers_when_the_mark_falls(
    sim: Simulator, signer: TransactionSigner
) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_bulk_client(sim.url, symbols=[BTC], signer=signer) as client:
            async with client.events(Topic.ORDER) as orders:
                await client.place_orders([MarketOrder(BTC, Side.BUY, 0.01)])
                (stop,) = await client.place_orders([StopOrder(BTC, False, 0.01, 95_000.0)])
                assert stop.status is OrderStatus.RESTING
                assert await next_update(orders, stop.order_id) is OrderStatus.RESTING
                assert stop.order_id in client.get_order_map()
                sim.set_mark(BTC, 94_000.0)
                assert await next_update(orders, stop.order_id) is OrderStatus.TRIGGERED
                assert await next_update(orders, stop.order_id) is OrderStatus.FILLED
            assert stop.order_id not in client.get_order_map()
            position = sim.engine.account_view(signer.public_key).positions
            assert position == ()


async def test_a_bracket_places_its_oco_on_the_first_fill_and_one_leg_closes_it(
    sim: Simulator, signer: TransactionSigner
) -> None:
    protect = RangeOrder(BTC, True, 0.01, 95_000.0, 105_000.0)
    bracket = OnFill(MarketOrder(BTC, Side.BUY, 0.01), [protect])
    with trio.fail_after(TIMEOUT):
        async with open_bulk_client(sim.url, symbols=[BTC], signer=signer) as client:
            async with client.events(Topic.ORDER) as orders:
                (entry,) = await client.place_orders([bracket])
                assert entry.status is OrderStatus.FILLED
                legs = []
                async for order in orders:
                    if order.order_type == "range" and order.order_id not in legs:
                        legs.append(order.order_id)
                    if len(legs) == 2:
                        break
                sim.set_mark(BTC, 106_000.0)
                outcome: dict[str, list[OrderStatus]] = {oid: [] for oid in legs}
                async for order in orders:
                    if order.order_id in outcome:
                        outcome[order.order_id].append(order.status)
                    if all(s and s[-1].is_terminal() for s in outcome.values()):
                        break
            stop_loss, take_profit = legs
            assert outcome[stop_loss] == [OrderStatus.SIBLING_CANCELLED]
            assert outcome[take_profit] == [OrderStatus.TRIGGERED, OrderStatus.FILLED]
            assert sim.engine.account_view(signer.public_key).positions == ()


async def test_a_master_funds_and_trades_for_its_sub_account(
    sim: Simulator, signer: TransactionSigner
) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_bulk_client(sim.url, symbols=[BTC], signer=signer) as client:
            (created,) = await client.place_orders([CreateSubAccount("hedge")])
            assert created.status is OrderStatus.CREATE_SUB_ACCOUNT
            sub = str(created.meta["sub"])
            (moved,) = await client.place_orders([Transfer(signer.public_key, sub, 5_000.0)])
            assert moved.status is OrderStatus.TRANSFER
        # The master's key signs for the sub-account, which trades with its own margin.
        async with open_bulk_client(sim.url, symbols=[BTC], signer=signer, account=sub) as client:
            (placed,) = await client.place_orders([LimitOrder(BTC, Side.BUY, 90_000.0, 0.01)])
            assert placed.status is OrderStatus.RESTING
            assert list(client.get_order_map()) == [placed.order_id]
    sub_view = sim.engine.account_view(sub)
    assert sub_view.margin.total_balance == 5_000.0
    assert [o.order_id for o in sub_view.open_orders] == [placed.order_id]
    assert sim.engine.account_view(signer.public_key).open_orders == ()


async def test_the_stop_flag_switch_is_checked_before_anything_runs() -> None:
    with pytest.raises(ValueError, match="stop_flag must be one of 'is_above', 'is_buy'"):
        async with open_simulator(stop_flag="above"):
            pass  # pragma: no cover


async def test_the_simulator_can_read_d_as_the_side(signer: TransactionSigner) -> None:
    account = signer.public_key
    async with open_simulator(
        symbols=[BTC], fund={account: 1_000_000.0}, feed=False, takers=False, stop_flag="is_buy"
    ) as sim:
        # Read as "is buy", d=True on a take-profit buys back when the price falls to 95 000.
        sim.submit_trusted(account, [TakeProfitOrder(BTC, True, 0.01, 95_000.0)])
        sim.set_mark(BTC, 96_000.0)
        assert sim.engine.account_view(account).positions == ()
        sim.set_mark(BTC, 94_000.0)
        (position,) = sim.engine.account_view(account).positions
        assert position.size == 0.01
