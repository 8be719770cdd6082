"""The simulator's HTTP routing, history pagination and retry policy, sans-IO (no sockets)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from bulk_trio.actions import AgentWallet, CreateSubAccount, LimitOrder, MarketOrder
from bulk_trio.http_retry import RetryPolicy, is_retryable_status
from bulk_trio.protocol.signing import TransactionSigner
from bulk_trio.sim.candles import CandleBook
from bulk_trio.sim.engine import Engine
from bulk_trio.sim.history import HistoryError, HistoryLog
from bulk_trio.sim.http_api import HttpFaults, SimHttpApi
from bulk_trio.sim.market_defaults import default_markets

NOW = 1_800_000_000_000_000_000
PRICES = {"BTC-USD": 100_000.0}
MAKER = TransactionSigner.generate_account(domain="testnet")
TAKER = TransactionSigner.generate_account(domain="testnet")


def setup() -> tuple[Engine, HistoryLog, SimHttpApi]:
    engine = Engine(["BTC-USD"], domain="testnet", initial_prices=PRICES,
                    markets=default_markets(PRICES))  # fmt: skip
    history = HistoryLog(maker_fee_bps=1.0, taker_fee_bps=3.0)
    api = SimHttpApi(engine, candles=CandleBook(10), history=history, fee_bps=(1.0, 3.0))
    for signer in (MAKER, TAKER):
        history.record(engine.fund(signer.public_key, 1e6, now_ns=NOW))
    return engine, history, api


def call(
    api: SimHttpApi, method: str, path: str, body: Any = None, **query: str
) -> tuple[int, Any]:
    raw = b"" if body is None else orjson.dumps(body)
    answer = api.handle(method, "/api/v1/" + path, query, raw, now_ns=NOW)
    return answer.status, orjson.loads(answer.body)


def trade(engine: Engine, history: HistoryLog, count: int) -> None:
    for i in range(count):
        price = 100_000.0 + i
        ask = LimitOrder("BTC-USD", "sell", price, 0.01)
        maker = engine.submit_trusted(MAKER.public_key, [ask], now_ns=NOW + i)
        history.record(maker.events)
        taker = engine.submit_trusted(TAKER.public_key, [MarketOrder("BTC-USD", "buy", 0.01)],
                                      now_ns=NOW + i)  # fmt: skip
        history.record(taker.events)


def test_unknown_routes_methods_and_legacy_endpoints() -> None:
    _, _, api = setup()
    assert call(api, "GET", "nothing")[0] == 404
    assert call(api, "GET", "agent-wallet")[0] == 404  # legacy (decision 16)
    assert call(api, "POST", "exchangeInfo", {})[0] == 405
    answer = api.handle("GET", "/exchangeInfo", {}, b"", now_ns=NOW)
    assert answer.status == 404  # routes live under /api/v1


def test_l2book_type_is_lenient_and_klines_are_tolerant() -> None:
    _, _, api = setup()
    for query in ({"type": "l2book"}, {"type": "L2BOOK"}, {}):
        status, body = call(api, "GET", "l2book", coin="BTC-USD", **query)
        assert status == 200 and body["updateType"] == "snapshot"
    assert call(api, "GET", "l2book", type="trades", coin="BTC-USD")[0] == 400
    assert call(api, "GET", "l2book", coin="DOGE-USD")[0] == 404
    assert call(api, "GET", "klines", symbol="DOGE-USD", interval="1m") == (200, [])
    status, body = call(api, "GET", "klines", symbol="BTC-USD", interval="7m")
    assert status == 400 and body["error"]["code"] == "BAD_REQUEST"
    assert call(api, "GET", "klines", symbol="BTC-USD", interval="1m", limit="0")[0] == 400


def test_account_queries_validate_and_404_strangers() -> None:
    _, _, api = setup()
    status, body = call(api, "POST", "account", {"type": "fullAccount", "user": "nope"})
    assert status == 400 and "user" in body["error"]["message"]
    stranger = TransactionSigner.generate_account().public_key
    status, body = call(api, "POST", "account", {"type": "openOrders", "user": stranger})
    assert (status, body["error"]["code"]) == (404, "ACCOUNT_NOT_FOUND")
    status, body = call(api, "POST", "account", {"type": "fullAccount", "user": MAKER.public_key})
    assert status == 200 and body[0]["fullAccount"]["margin"]["totalBalance"] == 1e6
    assert call(api, "POST", "account", {"type": "wat", "user": MAKER.public_key})[0] == 400
    assert call(api, "POST", "order", {"action": {"type": "order"}})[0] == 400
    assert call(api, "POST", "account", None)[0] == 400


def test_full_account_lists_sub_accounts_their_master_and_agents() -> None:
    engine, _, api = setup()
    master, agent = MAKER.public_key, TAKER.public_key
    created = engine.submit_trusted(master, [CreateSubAccount("hedge", 1_000.0)], now_ns=NOW)
    sub = str(created.statuses[0].body["sub"])
    engine.submit_trusted(master, [AgentWallet(agent)], now_ns=NOW)

    def full_account(user: str) -> dict[str, Any]:
        status, body = call(api, "POST", "account", {"type": "fullAccount", "user": user})
        assert status == 200
        return dict(body[0]["fullAccount"])

    top = full_account(master)
    assert (top["kind"], top["parent"], "name" in top) == ("MasterEOA", None, False)
    assert top["subAccounts"] == [{"pubkey": sub}]
    assert top["authorizedAgentWallets"] == [agent]

    child = full_account(sub)
    assert (child["kind"], child["parent"], child["name"]) == ("SubAccount", master, "hedge")
    assert child["subAccounts"] == [] and child["margin"]["totalBalance"] == 1_000.0


def test_history_pages_newest_first_with_slot_bounds() -> None:
    engine, history, api = setup()
    trade(engine, history, 5)
    user = TAKER.public_key
    status, first = call(api, "POST", "account", {"type": "fills", "user": user, "limit": 2})
    assert status == 200 and first["page"]["hasMore"]
    prices = [row["price"] for row in first["data"]]
    assert prices == [100_004.0, 100_003.0]
    cursor = first["page"]["nextCursor"]
    status, rest = call(api, "POST", "account", {"type": "fills", "user": user, "cursor": cursor})
    assert [row["price"] for row in rest["data"]] == [100_002.0, 100_001.0, 100_000.0]
    assert rest["page"]["nextCursor"] is None and not rest["page"]["hasMore"]
    slots = sorted(row["slot"] for row in [*first["data"], *rest["data"]])
    bounded = {"type": "fills", "user": user, "startSlot": slots[1], "endSlot": slots[2]}
    status, middle = call(api, "POST", "account", bounded)
    assert [row["slot"] for row in middle["data"]] == [slots[2], slots[1]]
    page = middle["page"]
    assert page["startSlot"] <= page["endSlot"] <= page["asOfSlot"]
    assert page["coverage"] == "complete"


def test_order_statuses_sign_the_sizes_of_a_sell() -> None:
    # Decision 10: totalSz, filledSz and remainingSz are negative for a sell.
    engine, history, api = setup()
    resting = LimitOrder("BTC-USD", "buy", 100_000.0, 0.5)
    history.record(engine.submit_trusted(MAKER.public_key, [resting], now_ns=NOW).events)
    sell = LimitOrder("BTC-USD", "sell", 100_000.0, 0.75)
    status, body = call(api, "POST", "order", TAKER.sign_transaction([sell]))
    assert status == 200 and body["status"] == "ok"
    [working] = body["response"]["data"]["statuses"]
    assert working["working"] | {"oid": None} == {
        "oid": None,
        "filledSz": -0.5,
        "remainingSz": -0.25,
        "vwap": 100_000.0,
    }
    buy = MarketOrder("BTC-USD", "buy", 0.25)
    _, body = call(api, "POST", "order", MAKER.sign_transaction([buy]))
    [bought] = body["response"]["data"]["statuses"]
    assert bought["filled"]["totalSz"] == 0.25  # a buy stays positive


@pytest.mark.parametrize(
    ("request_body", "status", "code"),
    [
        ({"limit": 0}, 400, "INVALID_LIMIT"),
        ({"limit": 5001}, 400, "INVALID_LIMIT"),
        ({"cursor": "garbage!"}, 400, "INVALID_CURSOR"),
        ({"startSlot": 5, "endSlot": 4}, 400, "BAD_REQUEST"),
        ({"startSlot": -1}, 400, "BAD_REQUEST"),
    ],
)
def test_history_refusals(request_body: dict[str, Any], status: int, code: str) -> None:
    _, history, _ = setup()
    with pytest.raises(HistoryError) as caught:
        history.page("fills", TAKER.public_key, request_body)
    assert (caught.value.status, caught.value.code) == (status, code)


def test_cursors_belong_to_one_query_and_expire() -> None:
    engine, history, _ = setup()
    trade(engine, history, 3)
    cursor = history.page("fills", TAKER.public_key, {"limit": 1})["page"]["nextCursor"]
    with pytest.raises(HistoryError, match="another query"):
        history.page("fills", MAKER.public_key, {"cursor": cursor})
    with pytest.raises(HistoryError, match="no slot bounds"):
        history.page("fills", TAKER.public_key, {"cursor": cursor, "startSlot": 0})
    history.expire_cursors()
    with pytest.raises(HistoryError) as caught:
        history.page("fills", TAKER.public_key, {"cursor": cursor})
    assert (caught.value.status, caught.value.code) == (410, "CURSOR_EXPIRED")


def test_fill_rows_carry_both_sides_and_fees() -> None:
    engine, history, _ = setup()
    trade(engine, history, 1)
    (maker_row,) = history.page("fills", MAKER.public_key, {})["data"]
    (taker_row,) = history.page("fills", TAKER.public_key, {})["data"]
    assert maker_row["orderIdMaker"] == taker_row["orderIdMaker"]
    assert (maker_row["maker"], maker_row["taker"]) == (MAKER.public_key, TAKER.public_key)
    assert maker_row["fee"] == pytest.approx(1000.0 * 1.0 / 10_000)
    assert taker_row["fee"] == pytest.approx(1000.0 * 3.0 / 10_000)
    assert taker_row["isBuy"] is True and taker_row["tradeId"] != maker_row["tradeId"]


def test_retry_policy() -> None:
    policy = RetryPolicy(retries=3, base=0.5, cap=3.0)
    assert [policy.delay(n) for n in range(4)] == [0.5, 1.0, 2.0, None]
    assert policy.delay(0, "2.5") == 2.5  # Retry-After asks for longer
    assert policy.delay(0, "99") == 3.0  # but never beyond the cap
    assert policy.delay(1, "Wed, 21 Oct 2015 07:28:00 GMT") == 1.0  # a date is ignored
    assert [is_retryable_status(s) for s in (400, 404, 408, 410, 429, 500, 503)] == [
        False, False, True, False, True, True, True,
    ]  # fmt: skip
    with pytest.raises(ValueError, match="retries"):
        RetryPolicy(retries=-1)


def test_rate_limit_window() -> None:
    faults = HttpFaults(rate_limit=2)
    assert [faults.over_rate("a", 10.0) for _ in range(3)] == [False, False, True]
    assert not faults.over_rate("b", 10.0)  # per host
    assert not faults.over_rate("a", 11.0)  # a new second
