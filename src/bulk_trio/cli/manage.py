"""The account-management commands a person needs by hand: ``faucet``, ``modify``, ``leverage``
and ``agent add|remove``.

Like the trading commands (``trade.py``, whose sending and reporting they share) each builds and
so validates its action before connecting, signs one transaction, prints what the exchange
answered (or one JSON document with ``--json``) and exits 0 when it did what was asked, 1 when not.
"""

from __future__ import annotations

import argparse

from ..actions import AgentWallet, Faucet, ModifyOrder, UpdateLeverage
from ..protocol.subscriptions import check_pubkey
from .account_keys import load_signer
from .connect import market_symbol
from .endpoint import command_endpoint
from .runtime import UsageError
from .trade import _build, send_actions


def _public_key(text: str, option: str) -> str:
    try:
        return check_pubkey(text.strip(), field=option)
    except ValueError as problem:
        raise UsageError(str(problem)) from None


def run_faucet(args: argparse.Namespace) -> int:
    endpoint = command_endpoint(args, signing=True)
    if endpoint.network == "mainnet":
        raise UsageError("mainnet has no faucet: it funds accounts on testnet and devnet only")
    signer = load_signer(args.key_file, endpoint.network)
    recipient = signer.public_key if args.to is None else _public_key(args.to, "--to")
    return send_actions(args, [], [_build(Faucet, recipient, args.amount)], signer)


def run_modify(args: argparse.Namespace) -> int:
    symbol = market_symbol(args.symbol)
    action = _build(ModifyOrder, symbol, args.order_id.strip(), args.size)
    return send_actions(args, [symbol], [action])


def run_leverage(args: argparse.Namespace) -> int:
    symbol = market_symbol(args.symbol)
    return send_actions(args, [symbol], [_build(UpdateLeverage, {symbol: args.leverage})])


def run_agent(args: argparse.Namespace) -> int:
    agent = _public_key(args.agent, "AGENT")
    return send_actions(args, [], [_build(AgentWallet, agent, args.agent_command == "remove")])
