"""orderUpdate of conditional orders: the order type and the ``trigger`` object reach OrderState."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bulk_trio.enums import OrderStatus, Side
from bulk_trio.models import OrderState, OrderTrigger, ProtocolError
from bulk_trio.protocol.codec import decode

OID = "EF2bxQ5pp3CDFAwRi44ExXb32sRmByByYxjwLYBfvRKQ"
OTHER = "2UQQp5TdJqkmmQvGnzHJM3thgebNJdqSqZDqfSCxHdCV"


def order_update(**fields: Any) -> str:
    data = {
        "type": "orderUpdate",
        "ts": 1770918312787284000,
        "status": "placed",
        "sym": "BTC-USD",
        "oid": OID,
        "px": 0.0,
        "origSz": -0.5,
        "sz": -0.5,
        "fillSz": 0.0,
        "vwap": 0.0,
        "mk": False,
        "r": True,
        "tif": "gtc",
        **fields,
    }
    return json.dumps({"type": "account", "topic": "account.<pk>", "data": data})


def decoded(frame: str) -> OrderState:
    message = decode(frame)
    assert isinstance(message, OrderState), message
    return message


def test_stop_carries_its_type_and_trigger() -> None:
    state = decoded(order_update(ot="stop", trigger={"isAbove": False, "px": 95000.0}))
    assert state.order_type == "stop"
    assert state.side is Side.SELL and state.status is OrderStatus.parse("placed")
    assert state.trigger == OrderTrigger(price=95000.0, is_above=False)


def test_range_legs_and_trailing_parameters() -> None:
    trigger = {"px": 90000, "lim": 89900.5, "pxHi": "110000", "limHi": None, "oco": OTHER}
    state = decoded(order_update(ot="range", trigger=trigger))
    assert state.order_type == "range"
    assert state.trigger == OrderTrigger(
        price=90000.0, limit_price=89900.5, price_high=110000.0, oco=OTHER
    )
    trailing = decoded(order_update(ot="trailing", trigger={"px": 99500, "trb": 50, "stb": 10}))
    assert trailing.trigger is not None
    assert (trailing.trigger.trail_bps, trailing.trigger.step_bps) == (50.0, 10.0)


def test_plain_orders_have_no_trigger() -> None:
    state = decoded(order_update(ot="limit"))
    assert state.trigger is None
    assert decoded(order_update()).order_type == "limit"  # the default when ``ot`` is absent


def test_an_oco_of_unknown_type_does_not_lose_the_order() -> None:
    state = decoded(order_update(ot="range", trigger={"px": 1.0, "oco": True}))
    assert state.trigger == OrderTrigger(price=1.0)


@pytest.mark.parametrize(
    ("trigger", "named"),
    [({"isAbove": True}, "px"), ({"px": "high"}, "px"), ({"px": 1, "isAbove": 1}, "isAbove")],
)
def test_a_malformed_trigger_is_reported_naming_the_field(trigger: Any, named: str) -> None:
    message = decode(order_update(ot="stop", trigger=trigger))
    assert isinstance(message, ProtocolError)
    assert f"trigger.{named}" in str(message)
