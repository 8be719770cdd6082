"""The one-shot account and trading commands: ``account``, ``order``, ``cancel``, ``cancel-all``.

Each builds (and so validates) its actions before connecting, checks that the symbols are markets
before signing anything, sends one transaction, prints what the exchange answered, and exits:
status 0 when every action did what was asked, 1 when the exchange refused any of them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

import trio

from ..actions import BaseAction, CancelAll, CancelOrder, LimitOrder, MarketOrder
from ..enums import Topic
from ..models import AccountSnapshot, OrderResponse
from ..protocol.signing import TransactionSigner
from ..protocol.subscriptions import check_pubkey
from ..shell.client import BulkClient
from . import text
from .account_keys import find_signer, load_signer
from .connect import market_symbol, open_command_client, require_market
from .endpoint import Endpoint, resolve_endpoint
from .order_types import describe_order_type, order_type_action
from .runtime import EXIT_FAILURE, EXIT_OK, CommandFailed, UsageError, run_interruptible


def _endpoint(args: argparse.Namespace, *, signing: bool) -> Endpoint:
    return resolve_endpoint(args.network, args.url, signing=signing, ca_file=args.ca_file)


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


def _trade(args: argparse.Namespace, symbols: Sequence[str], actions: list[BaseAction]) -> int:
    """Sign and send ``actions`` as one transaction; print one line per action."""
    endpoint = _endpoint(args, signing=True)
    signer = load_signer(args.key_file, endpoint.network)
    responses = run_interruptible(lambda: _send(endpoint, signer, symbols, actions, args))
    failed = False
    for action, response in zip(actions, responses, strict=False):
        line = _response_line(action, response)
        if response.is_error:
            failed = True
            print(line, file=sys.stderr)
        else:
            print(line)
    if len(responses) != len(actions):
        print(f"the exchange answered {len(responses)} statuses for {len(actions)} actions")
    return EXIT_FAILURE if failed else EXIT_OK


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
        return await _place(client, actions, args.timeout)


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
    return describe_order_type(action) or type(action).__name__
