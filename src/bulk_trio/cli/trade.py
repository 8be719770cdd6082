"""The one-shot account and trading commands: ``account``, ``order``, ``cancel``, ``cancel-all``.

Each builds (and so validates) its actions before connecting, checks that the symbols are markets
before signing anything, sends one transaction, prints what the exchange answered, and exits:
status 0 when every action did what was asked, 1 when the exchange refused any of them or an
order ended without executing anything (a reduce-only order with no position to reduce, a market
order with nothing to match). With ``--json`` the answer is one JSON document on stdout.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

import trio

from ..actions import (
    AgentWallet,
    BaseAction,
    CancelAll,
    CancelOrder,
    Faucet,
    LimitOrder,
    MarketOrder,
    ModifyOrder,
    UpdateLeverage,
)
from ..enums import OrderStatus, Topic
from ..errors import ExchangeError
from ..models import AccountSnapshot, OrderResponse
from ..protocol.signing import TransactionSigner
from ..protocol.subscriptions import check_pubkey
from ..shell.client import BulkClient
from . import text
from .account_keys import find_signer, load_signer
from .connect import market_symbol, open_command_client, require_market
from .endpoint import NETWORK_ENV, Endpoint, command_endpoint
from .order_types import describe_order_type, order_type_action
from .output import print_json
from .runtime import EXIT_FAILURE, EXIT_OK, CommandFailed, UsageError, run_interruptible


def _endpoint(args: argparse.Namespace, *, signing: bool) -> Endpoint:
    return command_endpoint(args, signing=signing)


def _build(make: Callable[..., BaseAction], *fields: object, **options: object) -> BaseAction:
    """An action, with the ValueError of a bad field turned into a usage error."""
    try:
        return make(*fields, **options)
    except ValueError as problem:
        raise UsageError(str(problem)) from None


# -- account -----------------------------------------------------------------------------------


def run_account(args: argparse.Namespace) -> int:
    endpoint = _endpoint(args, signing=False)
    if args.pubkey is not None:
        try:
            pubkey = check_pubkey(args.pubkey.strip(), field="--pubkey")
        except ValueError as problem:
            raise UsageError(str(problem)) from None
    else:
        signer = find_signer(args.key_file, endpoint.network)
        if signer is None:
            raise UsageError(
                "account needs --pubkey PUBKEY, or a key (BULK_PRIVATE_KEY or --key-file PATH)"
            )
        pubkey = signer.public_key
    snapshot = run_interruptible(lambda: _fetch_account(endpoint, pubkey, args))
    if args.json:
        print_json({"network": endpoint.network, "url": endpoint.url, "account": snapshot})
        return EXIT_OK
    for line in _account_lines(snapshot, endpoint):
        print(line)
    return EXIT_OK


async def _fetch_account(
    endpoint: Endpoint, pubkey: str, args: argparse.Namespace
) -> AccountSnapshot:
    # Account streams are public: no key is needed to read one, so none is used.
    async with (
        open_command_client(endpoint, timeout=args.timeout, debug=args.verbose) as client,
        client.events(Topic.ACCOUNT, name="account") as snapshots,
    ):
        await client.subscribe_account(pubkey)
        with trio.move_on_after(args.timeout):
            async for snapshot in snapshots:
                if isinstance(snapshot, AccountSnapshot) and snapshot.account in (pubkey, ""):
                    return snapshot
    raise CommandFailed(f"no account snapshot for {pubkey} within {args.timeout:g} s")


def _account_lines(snapshot: AccountSnapshot, endpoint: Endpoint) -> list[str]:
    margin = snapshot.margin
    lines = [
        f"account   {snapshot.account}  ({endpoint.network}, {endpoint.url})",
        f"margin    balance {text.money(margin.total_balance)}"
        f"  available {text.money(margin.available_balance)}"
        f"  used {text.money(margin.margin_used)}"
        f"  unrealized {text.signed_money(margin.unrealized_pnl)}"
        f"  realized {text.signed_money(margin.realized_pnl)}"
        f"  fees {text.money(margin.fees)}",
        f"positions ({len(snapshot.positions)})",
    ]
    lines += [f"  {text.position(position)}" for position in snapshot.positions]
    lines.append(f"open orders ({len(snapshot.open_orders)})")
    lines += [f"  {text.order(order, full_id=True)}" for order in snapshot.open_orders]
    return lines


# -- order, cancel, cancel-all -----------------------------------------------------------------


def run_order(args: argparse.Namespace) -> int:
    symbol = market_symbol(args.symbol)
    conditional = order_type_action(args, symbol)  # --stop, --take-profit, --trail, --bracket
    if conditional is not None:
        return _trade(args, [symbol], [conditional])
    if args.price is None and args.tif is not None:
        raise UsageError("--tif applies to limit orders: give --price too")
    action: BaseAction
    if args.price is None:
        action = _build(MarketOrder, symbol, args.side, args.size, reduce_only=args.reduce_only)
    else:
        action = _build(
            LimitOrder,
            symbol,
            args.side,
            args.price,
            args.size,
            reduce_only=args.reduce_only,
            time_in_force=args.tif or "GTC",
        )
    return _trade(args, [symbol], [action])


def run_cancel(args: argparse.Namespace) -> int:
    symbol = market_symbol(args.symbol)
    actions = [_build(CancelOrder, symbol, order_id.strip()) for order_id in args.order_ids]
    return _trade(args, [symbol], actions)


def run_cancel_all(args: argparse.Namespace) -> int:
    symbols = [market_symbol(symbol) for symbol in args.symbols]
    return _trade(args, symbols, [_build(CancelAll, symbols)])


def send_actions(
    args: argparse.Namespace,
    symbols: Sequence[str],
    actions: list[BaseAction],
    signer: TransactionSigner | None = None,
) -> int:
    """Sign and send ``actions`` as one transaction (after checking that ``symbols`` are
    markets); print one line per action, or with ``--json`` one document for all of them."""
    endpoint = _endpoint(args, signing=True)
    if signer is None:
        signer = load_signer(args.key_file, endpoint.network)
    chosen = signer
    responses = run_interruptible(lambda: _send(endpoint, chosen, symbols, actions, args))
    outcomes = [
        (action, response, did_what_was_asked(action, response))
        for action, response in zip(actions, responses, strict=False)
    ]
    # Statuses that cannot be matched to the actions (docs/protocol.md, decision 7) do not say
    # that every action did what was asked.
    unaligned = len(responses) != len(actions)
    failed = unaligned or not all(ok for _, _, ok in outcomes)
    if getattr(args, "json", False):
        print_json(_json_document(endpoint, outcomes, responses if unaligned else []))
    for action, response, ok in outcomes:
        line = _response_line(action, response)
        if not ok:
            print(line, file=sys.stderr)
        elif not getattr(args, "json", False):
            print(line)
    if unaligned:
        print(
            f"the exchange answered {len(responses)} statuses for {len(actions)} actions",
            file=sys.stderr,
        )
    return EXIT_FAILURE if failed else EXIT_OK


_trade = send_actions  # the name the order, cancel and cancel-all commands call it by


def did_what_was_asked(action: BaseAction, response: OrderResponse) -> bool:
    """False when the exchange refused the action, or when an order ended without executing
    anything: a reduce-only order with no position to reduce, an IOC or market order that found
    nothing to match. Such an order is not an error status to the exchange, but a person who
    asked to trade and got nothing must not read it as success."""
    if response.is_error:
        return False
    if not isinstance(action, LimitOrder | MarketOrder) or not response.status.is_terminal():
        return True
    if response.status in (OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED):
        return True
    filled = response.meta.get("totalSz", response.meta.get("filledSz"))
    return isinstance(filled, int | float) and filled > 0


def _json_document(
    endpoint: Endpoint,
    outcomes: list[tuple[BaseAction, OrderResponse, bool]],
    unaligned: list[OrderResponse],
) -> dict[str, object]:
    results = [
        {
            "action": action.to_wire(),
            "ok": ok,
            "status": response.raw_status or response.status.value,
            "order_id": response.order_id,
            "message": response.message,
            "detail": response.meta,
        }
        for action, response, ok in outcomes
    ]
    document: dict[str, object] = {
        "network": endpoint.network,
        "url": endpoint.url,
        "ok": not unaligned and all(ok for _, _, ok in outcomes),
        "results": results,
    }
    if unaligned:
        document["statuses"] = unaligned
    return document


async def _send(
    endpoint: Endpoint,
    signer: TransactionSigner,
    symbols: Sequence[str],
    actions: list[BaseAction],
    args: argparse.Namespace,
) -> list[OrderResponse]:
    async with open_command_client(
        endpoint, timeout=args.timeout, signer=signer, debug=args.verbose
    ) as client:
        for symbol in symbols:
            await require_market(client, symbol, args.timeout)
        try:
            return await _place(client, actions, args.timeout)
        except ExchangeError as refusal:
            if "invalid signature" not in refusal.message.lower():
                raise
            # The usual cause: a signature made for another network's domain.
            raise CommandFailed(
                f"{refusal.message} - signed for {endpoint.network}: check that --network "
                f"(or {NETWORK_ENV}) names the network of {endpoint.url}"
            ) from None


async def _place(
    client: BulkClient, actions: list[BaseAction], timeout: float
) -> list[OrderResponse]:
    try:
        return await client.place_orders(actions, timeout=timeout)
    except trio.TooSlowError:
        raise CommandFailed(
            f"no answer within {timeout:g} s; the request may or may not have been executed: "
            "check with bulk-trio account"
        ) from None


def _response_line(action: BaseAction, response: OrderResponse) -> str:
    """``resting order_id=... (BTC-USD buy 0.0100 @ 99,000.0 GTC)`` and what was filled."""
    parts = [response.raw_status or response.status.value]
    cancelled = response.meta.get("oids")
    if isinstance(cancelled, list):
        parts.append(f"{len(cancelled)} order(s)")
    if response.order_id is not None:
        parts.append(f"order_id={response.order_id}")
    parts.append(f"({_describe(action)})")
    meta = response.meta
    filled = meta.get("totalSz", meta.get("filledSz"))
    if isinstance(filled, int | float) and filled > 0:
        average = meta.get("avgPx", meta.get("vwap"))
        at = f" @ avg {text.price(average)}" if isinstance(average, int | float) else ""
        parts.append(f"filled {text.size(filled)}{at}")
    if response.message:
        parts.append(f"reason: {response.message}")
    return " ".join(parts)


def _describe(action: BaseAction) -> str:
    if isinstance(action, LimitOrder):
        tif = action.time_in_force.value
        flags = " reduce-only" if action.reduce_only else ""
        return (
            f"{action.symbol} {action.side.value} {text.size(action.size)} "
            f"@ {text.price(action.price)} {tif}{flags}"
        )
    if isinstance(action, MarketOrder):
        flags = " reduce-only" if action.reduce_only else ""
        return f"{action.symbol} {action.side.value} {text.size(action.size)} @ market{flags}"
    if isinstance(action, CancelOrder):
        return f"cancel {action.oid} on {action.symbol}"
    if isinstance(action, CancelAll):
        return f"cancel all on {', '.join(action.symbols) or 'every symbol'}"
    if isinstance(action, ModifyOrder):
        return f"modify {action.oid} on {action.symbol} to size {text.size(action.size)}"
    if isinstance(action, UpdateLeverage):
        return "leverage " + ", ".join(f"{symbol} {value:g}x" for symbol, value in action.settings)
    if isinstance(action, Faucet):
        amount = "" if action.amount is None else f" {text.money(action.amount)}"
        return f"faucet{amount} to {action.user}"
    if isinstance(action, AgentWallet):
        return f"{'remove' if action.delete else 'add'} agent {action.agent}"
    return describe_order_type(action) or type(action).__name__
