"""``bulk-trio faucet``, ``modify``, ``leverage`` and ``agent add|remove`` through ``cli.main``,
against a simulator in the test: each changes what the exchange holds, says so in one line (or one
JSON document), and refuses bad input before signing anything.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import orjson
import pytest
import trio

from bulk_trio import ExchangeError, OrderStatus, open_bulk_client
from bulk_trio.cli import main
from bulk_trio.protocol.signing import TransactionSigner
from bulk_trio.sim import Simulator, open_simulator
from cli_support import at, cli, key_in_environment

FUNDS = 10_000.0
TIMEOUT = 30


@pytest.fixture
def signer(monkeypatch: pytest.MonkeyPatch) -> TransactionSigner:
    return key_in_environment(monkeypatch)


@pytest.fixture
async def sim(signer: TransactionSigner) -> AsyncIterator[Simulator]:
    async with open_simulator(seed=7, fund={signer.public_key: FUNDS}) as simulator:
        yield simulator


def balance(sim: Simulator, pubkey: str) -> float:
    return sim.engine.account_view(pubkey).margin.total_balance


async def test_faucet_funds_a_new_account_and_another_one(
    sim: Simulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    newcomer = TransactionSigner.generate_account(domain="testnet")
    monkeypatch.setenv("BULK_PRIVATE_KEY", newcomer.private_key)
    assert not sim.engine.is_funded(newcomer.public_key)

    assert await cli("faucet", *at(sim)) == 0
    assert capsys.readouterr().out.startswith("deposit ")
    credited = balance(sim, newcomer.public_key)
    assert credited > 0

    friend = TransactionSigner.generate_account().public_key
    assert await cli("faucet", "--to", friend, "--json", *at(sim)) == 0
    (result,) = orjson.loads(capsys.readouterr().out)["results"]
    assert result["status"] == "deposit" and result["ok"] is True
    assert balance(sim, friend) == pytest.approx(credited)
    assert balance(sim, newcomer.public_key) == pytest.approx(credited)


def test_mainnet_has_no_faucet(
    signer: TransactionSigner, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["faucet", "--network", "mainnet"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("bulk-trio faucet: mainnet has no faucet")


async def test_modify_changes_the_size_of_a_resting_order(
    sim: Simulator, signer: TransactionSigner, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await cli("order", "BTC-USD", "buy", "0.01", "--price", "90000", *at(sim)) == 0
    match = re.search(r"order_id=(\w+)", capsys.readouterr().out)
    assert match
    order_id = match.group(1)

    assert await cli("modify", "btc-usd", order_id, "0.03", *at(sim)) == 0
    assert capsys.readouterr().out.startswith("modified ")
    (order,) = sim.engine.open_orders(signer.public_key)
    assert (order.order_id, order.remaining_size) == (order_id, pytest.approx(0.03))

    # A size that is no number, and an order that is not there: refused, said, nothing changed.
    assert await cli("modify", "BTC-USD", order_id, "-1", *at(sim)) == 2
    assert "size" in capsys.readouterr().err
    unknown = TransactionSigner.generate_account().public_key  # a well-formed id of no order
    assert await cli("modify", "BTC-USD", unknown, "0.02", *at(sim)) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.splitlines()) == 1
    (order,) = sim.engine.open_orders(signer.public_key)
    assert order.remaining_size == pytest.approx(0.03)


async def test_leverage_is_set_per_market(
    sim: Simulator, signer: TransactionSigner, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await cli("leverage", "BTC-USD", "5", *at(sim)) == 0
    assert "leverage BTC-USD 5x" in capsys.readouterr().out
    assert ("BTC-USD", 5.0) in sim.engine.account_view(signer.public_key).leverage

    assert await cli("leverage", "BTC-USD", "0", *at(sim)) == 2
    assert "leverage" in capsys.readouterr().err
    assert await cli("leverage", "XBT-USD", "3", *at(sim)) == 1
    assert "XBT-USD" in capsys.readouterr().err


async def agent_places_an_order(sim: Simulator, agent: TransactionSigner, owner: str) -> bool:
    """Whether ``agent`` may trade for ``owner``: what authorizing an agent is for."""
    with trio.fail_after(TIMEOUT):
        async with open_bulk_client(sim.url, signer=agent, account=owner) as client:
            response = await client.place_limit_order("BTC-USD", "buy", 90_000.0, 0.01)
    return response.status is OrderStatus.RESTING


async def test_agent_add_lets_a_key_trade_for_the_account_and_remove_stops_it(
    sim: Simulator, signer: TransactionSigner, capsys: pytest.CaptureFixture[str]
) -> None:
    agent = TransactionSigner.generate_account(domain="testnet")
    assert await cli("agent", "add", agent.public_key, *at(sim)) == 0
    assert f"add agent {agent.public_key}" in capsys.readouterr().out
    assert await agent_places_an_order(sim, agent, signer.public_key)

    assert await cli("agent", "remove", agent.public_key, "--json", *at(sim)) == 0
    assert orjson.loads(capsys.readouterr().out)["ok"] is True
    with pytest.raises(ExchangeError, match="Unauthorized signer"):
        await agent_places_an_order(sim, agent, signer.public_key)
    assert len(sim.engine.open_orders(signer.public_key)) == 1

    assert main(["agent", "add", "not-a-key", *at(sim)]) == 2
    assert "AGENT" in capsys.readouterr().err
    assert main(["agent", *at(sim)]) == 2
