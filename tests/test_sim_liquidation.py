"""The simulator's account stream keeps every position's liquidation price current.

A position's liquidation price depends on its account's equity (docs/guides/simulator.md), so a
mark move in one symbol, or a deposit, changes the liquidation price of the account's positions in
every other symbol too: each must be re-sent, or a client shows a stale one.
"""

from __future__ import annotations

from bulk_trio.actions import LimitOrder
from bulk_trio.enums import Side
from bulk_trio.protocol.keys import b58encode
from bulk_trio.sim.engine import Engine
from bulk_trio.sim.events import PositionChanged

BTC, ETH = "BTC-USD", "ETH-USD"
TRADER, MAKER = (b58encode(bytes([n]) * 32) for n in (1, 2))


def engine_with_two_positions() -> Engine:
    # 20x leverage on 300 of equity: both liquidation prices are well above zero.
    engine = Engine([BTC, ETH], initial_prices={BTC: 100.0, ETH: 10.0}, default_leverage=20.0)
    engine.fund(TRADER, 300.0, now_ns=0)
    engine.fund(MAKER, 1_000_000.0, now_ns=0)
    for symbol, price, size in ((BTC, 100.0, 10.0), (ETH, 10.0, 100.0)):
        engine.submit_trusted(MAKER, [LimitOrder(symbol, Side.SELL, price, size)], now_ns=1)
        engine.submit_trusted(TRADER, [LimitOrder(symbol, Side.BUY, price, size)], now_ns=2)
    return engine


def reported(events: list[object], symbol: str) -> PositionChanged:
    (event,) = [
        e
        for e in events
        if isinstance(e, PositionChanged)
        and e.position.account == TRADER
        and e.position.symbol == symbol
    ]
    return event


def current_liquidation_price(engine: Engine, symbol: str) -> float:
    (position,) = [p for p in engine.account_view(TRADER).positions if p.symbol == symbol]
    return position.liquidation_price


def test_another_symbols_mark_move_re_reports_the_liquidation_price() -> None:
    engine = engine_with_two_positions()
    before = current_liquidation_price(engine, BTC)
    assert before > 0
    events = engine.set_mark(ETH, 8.0, now_ns=3)  # the account loses 200 of equity on ETH
    btc = reported(events, BTC).position
    assert btc.liquidation_price == current_liquidation_price(engine, BTC)
    assert btc.liquidation_price > before  # less equity: liquidated sooner


def test_a_deposit_re_reports_every_open_position() -> None:
    engine = engine_with_two_positions()
    before = current_liquidation_price(engine, ETH)
    events = engine.fund(TRADER, 500.0, now_ns=3)
    assert reported(events, BTC).position.liquidation_price == current_liquidation_price(
        engine, BTC
    )
    assert reported(events, ETH).position.liquidation_price < before
