"""Client-to-server messages (docs/protocol.md, "Requests"): subscriptions, unsubscribe and post,
compared with the exchange's documented JSON."""

from __future__ import annotations

import json
import math
import types
from typing import Any

import pytest

from bulk_trio.enums import Topic
from bulk_trio.protocol.codec import encode_post, encode_subscribe, encode_unsubscribe
from bulk_trio.protocol.subscriptions import CANDLE_INTERVALS, Subscription

PK = "FuueqefENiGEW6uMqZQgmwjzgpnb85EgUcZa5Em4PQh7"
PK2 = "FAe4sisG95oZ42w7buUn5qEE4TAnfTTFPiguZUHmhiF"


# --- the three documented subscribe examples, byte for byte ------------------------------------


def test_l2_snapshot_example() -> None:
    sub = Subscription.l2_snapshot("BTC-USD", nlevels=10, aggregation=0.5)
    assert encode_subscribe([sub]) == (
        '{"method":"subscribe","subscription":[{"type":"l2Snapshot","symbol":"BTC-USD",'
        '"nlevels":10,"aggregation":0.5}]}'
    )
    assert sub.topics == ("l2Snapshot.BTC-USD",)


def test_candle_example() -> None:
    sub = Subscription.candle("ETH-USD", "1m")
    assert encode_subscribe([sub]) == (
        '{"method":"subscribe","subscription":[{"type":"candle","symbol":"ETH-USD","interval":"1m"}]}'
    )
    assert sub.topics == ("candle.ETH-USD.1m",)


def test_account_example() -> None:
    sub = Subscription.account(PK)
    assert encode_subscribe(sub) == (
        '{"method":"subscribe","subscription":[{"type":"account",'
        '"user":"FuueqefENiGEW6uMqZQgmwjzgpnb85EgUcZa5Em4PQh7"}]}'
    )
    assert sub.topics == (f"account.{PK}",)


# --- every kind ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sub", "wire", "topic"),
    [
        (Subscription.ticker("BTC-USD"), {"type": "ticker", "symbol": "BTC-USD"}, "ticker.BTC-USD"),
        (Subscription.trades("SOL-USD"), {"type": "trades", "symbol": "SOL-USD"}, "trades.SOL-USD"),
        (
            Subscription.l2_delta("ETH-USD"),
            {"type": "l2Delta", "symbol": "ETH-USD"},
            "l2Delta.ETH-USD",
        ),
        (
            Subscription.l2_snapshot("BTC-USD"),
            {"type": "l2Snapshot", "symbol": "BTC-USD"},
            "l2Snapshot.BTC-USD",
        ),
    ],
)
def test_market_data_kinds(sub: Subscription, wire: dict[str, Any], topic: str) -> None:
    assert sub.to_wire() == wire
    assert list(sub.to_wire()) == list(wire)  # "type" first, as the protocol writes it
    assert sub.topics == (topic,)


def test_ticker_matches_the_table_example() -> None:
    assert json.dumps(Subscription.ticker("BTC-USD").to_wire(), separators=(",", ":")) == (
        '{"type":"ticker","symbol":"BTC-USD"}'
    )


def test_several_subscriptions_go_in_one_message() -> None:
    subs = [Subscription.ticker("BTC-USD"), Subscription.trades("BTC-USD")]
    assert encode_subscribe(subs) == (
        '{"method":"subscribe","subscription":[{"type":"ticker","symbol":"BTC-USD"},'
        '{"type":"trades","symbol":"BTC-USD"}]}'
    )


def test_integral_aggregation_is_sent_as_a_float() -> None:
    sub = Subscription.l2_snapshot("BTC-USD", aggregation=1)
    assert encode_subscribe(sub) == (
        '{"method":"subscribe","subscription":[{"type":"l2Snapshot","symbol":"BTC-USD",'
        '"aggregation":1.0}]}'
    )


# --- candle intervals ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "wire"),
    [(name, name) for name in CANDLE_INTERVALS]
    + [("1min", "1m"), ("3min", "3m"), ("5min", "5m"), ("15min", "15m"), ("30min", "30m")],
)
def test_candle_intervals_are_sent_in_the_1m_family(given: str, wire: str) -> None:
    sub = Subscription.candle("BTC-USD", given)
    assert sub.to_wire() == {"type": "candle", "symbol": "BTC-USD", "interval": wire}
    assert sub.topics == (f"candle.BTC-USD.{wire}",)


def test_month_and_minute_are_different() -> None:
    assert Subscription.candle("X", "1M").interval == "1M"
    assert Subscription.candle("X", "1m").interval == "1m"


@pytest.mark.parametrize("interval", ["2m", "1H", "60min", "", "1 m", None, 60])
def test_unknown_interval_is_rejected_by_name(interval: Any) -> None:
    with pytest.raises(ValueError, match="interval") as info:
        Subscription.candle("BTC-USD", interval)
    assert repr(interval) in str(info.value)


# --- accounts ------------------------------------------------------------------------------------


def test_account_list_gives_one_topic_per_user() -> None:
    sub = Subscription.account([PK, PK2])
    assert sub.to_wire() == {"type": "account", "user": [PK, PK2]}
    assert sub.topics == (f"account.{PK}", f"account.{PK2}")


def test_account_list_of_one_stays_a_list() -> None:
    assert Subscription.account((PK,)).to_wire() == {"type": "account", "user": [PK]}


@pytest.mark.parametrize(
    "user",
    [
        "",
        "not base58 0OIl",
        "0OIl" + PK[4:],  # characters outside the base58 alphabet
        PK[:-4],  # too short to be 32 bytes
        PK + "11",  # 34 bytes
        [],
        [PK, "x"],
        None,
        5,
    ],
)
def test_bad_pubkeys_are_rejected(user: Any) -> None:
    with pytest.raises(ValueError, match="user"):
        Subscription.account(user)


# --- symbols and book parameters -----------------------------------------------------------------


@pytest.mark.parametrize("symbol", ["", " BTC-USD", "BTC USD", "BTC-USD\n", "\t", None, 5])
@pytest.mark.parametrize(
    "build",
    [
        Subscription.ticker,
        Subscription.trades,
        Subscription.l2_delta,
        Subscription.l2_snapshot,
        lambda symbol: Subscription.candle(symbol, "1m"),
    ],
)
def test_bad_symbols_are_rejected(build: Any, symbol: Any) -> None:
    with pytest.raises(ValueError, match="symbol"):
        build(symbol)


@pytest.mark.parametrize("nlevels", [0, -1, True, 1.5, "10"])
def test_bad_nlevels(nlevels: Any) -> None:
    with pytest.raises(ValueError, match="nlevels"):
        Subscription.l2_snapshot("BTC-USD", nlevels=nlevels)


@pytest.mark.parametrize("aggregation", [0, -0.5, math.nan, math.inf, True, "0.5"])
def test_bad_aggregation(aggregation: Any) -> None:
    with pytest.raises(ValueError, match="aggregation"):
        Subscription.l2_snapshot("BTC-USD", aggregation=aggregation)


def test_direct_construction_is_validated_too() -> None:
    with pytest.raises(ValueError, match="kind"):
        Subscription(Topic.MARGIN, symbol="BTC-USD")
    with pytest.raises(ValueError, match="interval"):
        Subscription(Topic.CANDLE, symbol="BTC-USD", interval="1min")
    with pytest.raises(ValueError, match="user"):
        Subscription(Topic.ACCOUNT)
    with pytest.raises(ValueError, match="symbol"):
        Subscription(Topic.TICKER)


def test_encode_subscribe_rejects_empty_and_foreign_values() -> None:
    with pytest.raises(ValueError, match="empty"):
        encode_subscribe([])
    with pytest.raises(ValueError, match="Subscription"):
        encode_subscribe([{"type": "ticker", "symbol": "BTC-USD"}])  # type: ignore[list-item]


# --- unsubscribe and post ------------------------------------------------------------------------


def test_unsubscribe_example() -> None:
    text = encode_unsubscribe("ticker.BTC-USD")
    assert text == '{"method":"unsubscribe","topic":"ticker.BTC-USD"}'
    assert json.loads(text) == json.loads('{"method": "unsubscribe", "topic": "ticker.BTC-USD"}')


@pytest.mark.parametrize("topic", ["", "ticker. BTC", None])
def test_unsubscribe_rejects_bad_topics(topic: Any) -> None:
    with pytest.raises(ValueError, match="topic"):
        encode_unsubscribe(topic)


# The signed transaction of vector limit_gtc_mainnet (tests/data/vectors.json) in its envelope.
SIGNATURE = (
    "516oM3bZJmddFdYdcfwjuN34U3scjL3GtoxqUMNrQGecXUbkAtLe3vVZBTcN75ocmEXZNdvXK6PfGWPNEQHwLF7V"
)
TRANSACTION = {
    "actions": [
        {
            "l": {
                "c": "BTC-USD",
                "b": True,
                "px": 100000.0,
                "sz": 0.1,
                "tif": "GTC",
                "r": False,
                "i": False,
            }
        }
    ],
    "nonce": 1704067200000000000,
    "account": "FAe4sisG95oZ42w7buUn5qEE4TAnfTTFPiguZUHmhiF",
    "signer": "FAe4sisG95oZ42w7buUn5qEE4TAnfTTFPiguZUHmhiF",
    "signature": SIGNATURE,
}
TRANSACTION_JSON = (
    '{"actions":[{"l":{"c":"BTC-USD","b":true,"px":100000.0,"sz":0.1,"tif":"GTC","r":false,'
    '"i":false}}],"nonce":1704067200000000000,'
    '"account":"FAe4sisG95oZ42w7buUn5qEE4TAnfTTFPiguZUHmhiF",'
    '"signer":"FAe4sisG95oZ42w7buUn5qEE4TAnfTTFPiguZUHmhiF",'
    '"signature":"516oM3bZJmddFdYdcfwjuN34U3scjL3GtoxqUMNrQGecXUbkAtLe3vVZBTcN75ocmEXZNdvXK6PfGWPNEQHwLF7V"}'
)


def test_post_example() -> None:
    text = encode_post(17, TRANSACTION)
    assert text == (
        '{"method":"post","request":{"type":"action","payload":' + TRANSACTION_JSON + '},"id":17}'
    )
    doc = '{"method": "post", "request": {"type": "action", "payload": PAYLOAD}, "id": 17}'
    assert json.loads(text) == json.loads(doc.replace("PAYLOAD", TRANSACTION_JSON))


def test_post_accepts_any_mapping_and_a_u64_id() -> None:
    text = encode_post(2**64 - 1, types.MappingProxyType(TRANSACTION))
    assert text.endswith(f',"id":{2**64 - 1}}}')
    assert json.loads(text)["request"]["payload"] == TRANSACTION


@pytest.mark.parametrize("request_id", [True, -1, 2**64, 1.0, "1", None])
def test_post_rejects_bad_request_ids(request_id: Any) -> None:
    with pytest.raises(ValueError, match="request_id"):
        encode_post(request_id, TRANSACTION)


@pytest.mark.parametrize("payload", [None, [1, 2], "{}", {"nonce": object()}, {1: "x"}])
def test_post_rejects_payloads_that_are_not_json_objects(payload: Any) -> None:
    with pytest.raises(ValueError, match="payload"):
        encode_post(1, payload)


def test_a_keypair_given_as_a_pubkey_is_never_echoed() -> None:
    from bulk_trio.protocol.keys import b58decode, b58encode
    from bulk_trio.protocol.signing import TransactionSigner

    signer = TransactionSigner.generate_account()
    keypair = b58encode(b58decode(signer.private_key) + b58decode(signer.public_key))
    with pytest.raises(ValueError, match="user") as caught:
        Subscription.account(keypair)
    assert keypair not in str(caught.value)
    assert signer.private_key not in str(caught.value)
