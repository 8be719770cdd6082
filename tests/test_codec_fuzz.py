"""Properties of ``decode``: it never raises, whatever arrives, and a bad field is named.

The mutation tests start from the documented examples (tests/test_codec_examples.py) and
drop or replace one field at a time.
"""

from __future__ import annotations

import copy
import re
import typing
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bulk_trio.models import (
    BookLevel,
    InboundMessage,
    L2Snapshot,
    ProtocolError,
    UnknownMessage,
)
from bulk_trio.protocol.codec import decode
from test_codec_examples import EXAMPLES

INBOUND_TYPES = typing.get_args(InboundMessage)
FUZZ = settings(max_examples=300, deadline=None)

# JSON scalars as orjson writes and reads them (integers within 64 bits, finite floats).
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)

MESSAGE_TYPES = [
    "ticker",
    "trades",
    "l2Snapshot",
    "l2Delta",
    "candle",
    "account",
    "post",
    "subscriptionResponse",
    "unsubscribeResponse",
    "error",
]
ACCOUNT_SUBTYPES = [
    "accountSnapshot",
    "orderUpdate",
    "fill",
    "marginUpdate",
    "positionUpdate",
    "leverageUpdate",
]

# Every field name the decoders read, so that generated objects reach past the first lookup.
FIELD_NAMES = [
    # market data
    "s", "px", "sz", "b", "side", "time", "maker", "taker", "reason", "liq", "book", "levels",
    "n", "updateType", "symbol", "timestamp", "ticker", "lastPrice", "markPrice", "regime",
    "candle", "t", "T", "o", "h", "l", "c", "v", "type",
    # account
    "margin", "totalBalance", "positions", "openOrders", "leverageSettings", "recipient",
    "builderCodeApprovals", "maxFee", "size", "price", "coin", "sym", "oid", "orderId", "isBuy",
    "status", "tif", "ts", "ot", "origSz", "fillSz", "mk", "r", "leverage",
    # replies
    "payload", "response", "data", "statuses", "ok", "message", "id", "topics", "topic", "error",
]  # fmt: skip
protocol_values = st.recursive(
    json_scalars | st.sampled_from([*ACCOUNT_SUBTYPES, "ok", "ack", "snapshot", "1.5"]),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(FIELD_NAMES), children, max_size=6)
    ),
    max_leaves=25,
)
typed_messages = st.fixed_dictionaries(
    {"type": st.sampled_from(MESSAGE_TYPES)},
    optional={
        "topic": st.sampled_from(["ticker.X", "candle.X.1m", "account.PK", "x"]) | json_scalars,
        "data": protocol_values,
        "id": json_scalars,
        "topics": protocol_values,
        "error": protocol_values,
    },
)


def assert_decoded(result: object) -> None:
    assert isinstance(result, INBOUND_TYPES)


@FUZZ
@given(st.text())
def test_arbitrary_text_never_raises(text: str) -> None:
    assert_decoded(decode(text))


@FUZZ
@given(st.binary())
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    assert_decoded(decode(data))


@FUZZ
@given(json_values)
def test_arbitrary_json_never_raises(value: Any) -> None:
    assert_decoded(decode(orjson.dumps(value)))


@FUZZ
@given(typed_messages)
def test_arbitrary_typed_messages_never_raise(value: dict[str, Any]) -> None:
    result = decode(orjson.dumps(value).decode())
    assert_decoded(result)
    assert not isinstance(result, UnknownMessage) or result.type == "account"


# --- mutations of the valid examples -----------------------------------------------------------

Path = tuple[str | int, ...]


def paths(value: Any, prefix: Path = ()) -> list[Path]:
    """Every path to a member of an object or an element of an array, depth first."""
    found: list[Path] = []
    children: list[tuple[str | int, Any]] = []
    if isinstance(value, dict):
        children = list(value.items())
    elif isinstance(value, list):
        children = list(enumerate(value))
    for key, child in children:
        found.append((*prefix, key))
        found.extend(paths(child, (*prefix, key)))
    return found


def parent_of(root: Any, path: Path) -> Any:
    node = root
    for key in path[:-1]:
        node = node[key]
    return node


def path_text(path: Path) -> str:
    """The path as ProtocolError reasons write it: ``data.book.levels[0][1].px``."""
    text = ""
    for key in path:
        text = f"{text}[{key}]" if isinstance(key, int) else f"{text}.{key}" if text else key
    return text


def names_field(reason: str, path: Path) -> bool:
    """Whether ``reason`` names the field at ``path``, also in the ``data.orderId/oid`` form that
    lists the accepted spellings of a field."""
    if path_text(path) in reason:
        return True
    last = path[-1]
    if not isinstance(last, str):
        return False
    prefix = f"{path_text(path[:-1])}." if len(path) > 1 else ""
    for token in re.findall(r"[\w.\[\]/]+", reason):
        if token.startswith(prefix) and last in token[len(prefix) :].split("/"):
            return True
    return False


EXAMPLE_VALUES = {name: orjson.loads(frame) for name, frame in EXAMPLES.items()}
EXAMPLE_TYPES = {name: type(decode(frame)) for name, frame in EXAMPLES.items()}
ALL_PATHS = [(name, path) for name, value in EXAMPLE_VALUES.items() for path in paths(value)]


def test_examples_decode_cleanly() -> None:
    # The premise of the mutation tests: every unmutated example is valid.
    for frame in EXAMPLES.values():
        assert not isinstance(decode(frame), ProtocolError | UnknownMessage)


# Without ``data.type == "ack"`` a post reply is read as an action reply, which needs a payload.
DROP_CHANGES_MEANING: dict[tuple[str, Path], str] = {
    ("postAck", ("data", "type")): "data.payload missing"
}


@pytest.mark.parametrize(("name", "path"), ALL_PATHS, ids=lambda p: str(p))
def test_dropping_a_field_names_it(name: str, path: Path) -> None:
    value = copy.deepcopy(EXAMPLE_VALUES[name])
    del parent_of(value, path)[path[-1]]
    result = decode(orjson.dumps(value))
    assert isinstance(result, EXAMPLE_TYPES[name] | ProtocolError | UnknownMessage)
    if (name, path) in DROP_CHANGES_MEANING:
        assert isinstance(result, ProtocolError)
        assert DROP_CHANGES_MEANING[name, path] in result.reason
    elif isinstance(result, ProtocolError) and isinstance(path[-1], str):
        # Dropping an array element shifts the others, so only object members are checked. The
        # reason names the member, or its object when the key itself was data (a status name).
        container = path_text(path[:-1])
        assert path[-1] in result.reason or (container and f"{container}:" in result.reason)


# A value no field of the protocol accepts.
NONSENSE: dict[str, Any] = {"nonsense": [[]]}


@pytest.mark.parametrize(("name", "path"), ALL_PATHS, ids=lambda p: str(p))
def test_replacing_a_field_with_nonsense_names_it(name: str, path: Path) -> None:
    value = copy.deepcopy(EXAMPLE_VALUES[name])
    parent_of(value, path)[path[-1]] = NONSENSE
    result = decode(orjson.dumps(value))
    assert isinstance(result, EXAMPLE_TYPES[name] | ProtocolError | UnknownMessage)
    if isinstance(result, ProtocolError):
        assert path_text(path) in result.reason


@FUZZ
@given(st.sampled_from(ALL_PATHS), json_values, st.booleans())
def test_mutated_examples_never_raise(
    name_and_path: tuple[str, Path], replacement: Any, drop: bool
) -> None:
    name, path = name_and_path
    value = copy.deepcopy(EXAMPLE_VALUES[name])
    parent = parent_of(value, path)
    if drop:
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    result = decode(orjson.dumps(value).decode())
    assert isinstance(result, EXAMPLE_TYPES[name] | ProtocolError | UnknownMessage)
    if isinstance(result, ProtocolError) and not drop:
        assert names_field(result.reason, path), (result.reason, path_text(path))


# --- numbers round-trip ------------------------------------------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False, min_value=0, max_value=1e12)


@st.composite
def wire_number(draw: st.DrawFn, number: float) -> float | str:
    """``number`` as a JSON number or as the numeric string the exchange may send instead."""
    return repr(number) if draw(st.booleans()) else number


@st.composite
def wire_levels(draw: st.DrawFn) -> tuple[list[BookLevel], list[dict[str, Any]]]:
    levels = draw(st.lists(st.tuples(finite, finite, st.integers(0, 10**6)), max_size=5))
    models = [BookLevel(px, sz, n) for px, sz, n in levels]
    wire = [
        {"px": draw(wire_number(px)), "sz": draw(wire_number(sz)), "n": n} for px, sz, n in levels
    ]
    return models, wire


@FUZZ
@given(wire_levels(), wire_levels(), st.integers(0, 2**64 - 1))
def test_book_levels_round_trip(
    bids: tuple[list[BookLevel], list[dict[str, Any]]],
    asks: tuple[list[BookLevel], list[dict[str, Any]]],
    timestamp: int,
) -> None:
    frame = orjson.dumps(
        {
            "type": "l2Snapshot",
            "topic": "l2Snapshot.BTC-USD",
            "data": {
                "book": {
                    "symbol": "BTC-USD",
                    "timestamp": timestamp,
                    "levels": [bids[1], asks[1]],
                }
            },
        }
    )
    assert decode(frame) == L2Snapshot("BTC-USD", timestamp, tuple(bids[0]), tuple(asks[0]))
