"""The Literal types users annotate with accept exactly the strings the code accepts."""

from __future__ import annotations

from typing import get_args

from bulk_trio.enums import Side, TimeInForce
from bulk_trio.literals import CandleInterval, DomainName, SideName, TimeInForceName
from bulk_trio.protocol.signing import DOMAINS
from bulk_trio.protocol.subscriptions import WIRE_INTERVAL


def test_side_names_are_the_sides_in_either_case() -> None:
    expected = {side.value for side in Side} | {side.value.upper() for side in Side}
    assert set(get_args(SideName)) == expected


def test_time_in_force_names_are_the_members_in_either_case() -> None:
    expected = {tif.value for tif in TimeInForce} | {tif.value.lower() for tif in TimeInForce}
    assert set(get_args(TimeInForceName)) == expected
    for name in get_args(TimeInForceName):
        TimeInForce.parse(name)


def test_domain_names_are_the_signing_domains() -> None:
    assert set(get_args(DomainName)) == set(DOMAINS)


def test_candle_intervals_are_every_accepted_spelling() -> None:
    assert set(get_args(CandleInterval)) == set(WIRE_INTERVAL)
