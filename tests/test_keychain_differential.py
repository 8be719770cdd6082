"""Randomized differential test against the reference signer, bulk-keychain 0.1.31 (Rust).

For random actions, batches, domains, nonces and accounts, bulk-trio and keychain must produce the
same message bytes, the same signature, the same wire JSON and the same order ids. keychain is a
test-only dependency (the ``test`` extra); without it this module is skipped.

Orders are compared with keychain's ``prepare_*`` output and its signature over those bytes (see
``_signed`` for the two places where keychain's own payloads disagree with its signed bytes).

keychain has no API for multisig, rename-sub-account or the no-domain (legacy) form; those are
covered by the server-SDK vectors in test_action_bytes.py and, for the no-domain form, by checking
that it is keychain's message without the domain byte.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bulk_trio.actions import (
    AgentWallet,
    ApproveBuilderCode,
    BaseAction,
    BuilderCode,
    CancelAll,
    CancelOrder,
    CreateSubAccount,
    Faucet,
    LimitOrder,
    MarketOrder,
    ModifyOrder,
    OnFill,
    OraclePrice,
    PythOracle,
    RangeOrder,
    RemoveSubAccount,
    RevokeBuilderCode,
    StopOrder,
    TakeProfitOrder,
    TrailingStop,
    Transfer,
    TriggerBasket,
    UpdateLeverage,
    WhitelistFaucet,
)
from bulk_trio.enums import Side, TimeInForce
from bulk_trio.protocol.keys import b58encode
from bulk_trio.protocol.signing import TransactionSigner, encode_message, order_ids

keychain = pytest.importorskip(
    "bulk_keychain",
    reason="bulk-keychain (the reference signer) is not installed; run python3 dev.py tests",
)

DIFFERENTIAL = settings(max_examples=200, deadline=None)
DOMAINS = ("mainnet", "testnet", "devnet")
SEEDS = [bytes(range(32)), bytes([7] * 32), bytes([42] * 32)]
SIGNERS = {
    (seed, domain): (
        TransactionSigner(seed, domain=domain),
        keychain.Signer(keychain.Keypair(seed), domain),
    )
    for seed in SEEDS
    for domain in DOMAINS
}

# ---------------------------------------------------------------------------------------------
# Strategies: each yields (bulk-trio action, the same action in keychain's input form)

symbols = st.sampled_from(["BTC-USD", "ETH-USD", "SOL-USD", "ÆØÅ-USD", "X"])
hashes = st.binary(min_size=32, max_size=32).map(b58encode)
flags = st.booleans()
# At least one tick, on and off the 1e-8 grid, far from the u64 ceiling.
quantities = st.one_of(
    st.floats(min_value=1e-8, max_value=1e9, allow_nan=False, allow_infinity=False),
    st.integers(min_value=1, max_value=10**17).map(lambda ticks: ticks / 1e8),
)
bps = st.floats(min_value=0, max_value=10_000, allow_nan=False).map(lambda x: round(x, 2))
builder_codes = st.none() | st.builds(BuilderCode, hashes, st.integers(1, 15))
amounts = st.floats(min_value=1e-6, max_value=1e12, allow_nan=False, allow_infinity=False)

Pair = tuple[BaseAction, dict[str, Any]]


def _with_code(item: dict[str, Any], code: BuilderCode | None) -> dict[str, Any]:
    if code is not None:
        item["builder_code"] = {"to": code.to, "fee": code.fee}
    return item


@st.composite
def limit_orders(draw: st.DrawFn) -> tuple[LimitOrder, dict[str, Any]]:
    order = LimitOrder(
        draw(symbols),
        draw(st.sampled_from(Side)),
        draw(quantities),
        draw(quantities),
        draw(flags),
        draw(st.sampled_from(TimeInForce)),
        draw(flags),
        draw(builder_codes),
    )
    item = {
        "type": "order",
        "symbol": order.symbol,
        "is_buy": order.side is Side.BUY,
        "price": order.price,
        "size": order.size,
        "reduce_only": order.reduce_only,
        "iso": order.iso,
        "order_type": {"type": "limit", "tif": order.time_in_force.value},
    }
    return order, _with_code(item, order.builder_code)


@st.composite
def market_orders(draw: st.DrawFn) -> tuple[MarketOrder, dict[str, Any]]:
    order = MarketOrder(
        draw(symbols),
        draw(st.sampled_from(Side)),
        draw(quantities),
        draw(flags),
        draw(flags),
        draw(builder_codes),
        draw(st.none() | bps),
    )
    item = {
        "type": "order",
        "symbol": order.symbol,
        "is_buy": order.side is Side.BUY,
        "price": 0.0,
        "size": order.size,
        "reduce_only": order.reduce_only,
        "iso": order.iso,
        "order_type": {"type": "market"},
    }
    if order.slippage_bps is not None:
        item["slippage"] = order.slippage_bps
    return order, _with_code(item, order.builder_code)


@st.composite
def stops(draw: st.DrawFn) -> Pair:
    cls = draw(st.sampled_from([StopOrder, TakeProfitOrder]))
    order = cls(
        draw(symbols),
        draw(flags),
        draw(quantities),
        draw(quantities),
        draw(st.none() | quantities),
        draw(flags),
        draw(builder_codes),
        draw(st.none() | bps),
    )
    item = {
        "type": "stop" if cls is StopOrder else "take_profit",
        "symbol": order.symbol,
        "is_buy": order.is_above,
        "size": order.size,
        "trigger_price": order.trigger_price,
        "iso": order.iso,
    }
    if order.limit_price is not None:
        item["limit_price"] = order.limit_price
    if order.slippage_bps is not None:
        item["slippage"] = order.slippage_bps
    return order, _with_code(item, order.builder_code)


@st.composite
def ranges(draw: st.DrawFn) -> Pair:
    is_buy = draw(flags)
    low, high = sorted(draw(st.lists(quantities, min_size=2, max_size=2, unique=True)))
    stop_loss, take_profit = (low, high) if is_buy else (high, low)
    order = RangeOrder(
        draw(symbols),
        is_buy,
        draw(quantities),
        stop_loss,
        take_profit,
        draw(st.none() | quantities),
        draw(st.none() | quantities),
        draw(flags),
        draw(builder_codes),
        draw(st.none() | bps),
        draw(st.none() | bps),
    )
    (low, low_limit), (high, high_limit) = order.low_leg(), order.high_leg()
    item: dict[str, Any] = {
        "type": "range",
        "symbol": order.symbol,
        "is_buy": order.is_buy,
        "size": order.size,
        "pmin": low,
        "pmax": high,
        "iso": order.iso,
    }
    optional = {
        "lmin": low_limit,
        "lmax": high_limit,
        "sl_slippage": order.sl_slippage_bps,
        "tp_slippage": order.tp_slippage_bps,
    }
    item.update({key: value for key, value in optional.items() if value is not None})
    return order, _with_code(item, order.builder_code)


@st.composite
def trailing_stops(draw: st.DrawFn) -> Pair:
    trail = draw(st.integers(1, 9_999))
    order = TrailingStop(
        draw(symbols),
        draw(flags),
        draw(quantities),
        trail,
        draw(st.integers(0, trail)),
        draw(st.none() | quantities),
        draw(flags),
        draw(builder_codes),
        draw(st.none() | bps),
    )
    item: dict[str, Any] = {
        "type": "trailing_stop",
        "symbol": order.symbol,
        "is_buy": order.protects_long,
        "size": order.size,
        "trail_bps": order.trail_bps,
        "step_bps": order.step_bps,
        "iso": order.iso,
    }
    if order.limit_price is not None:
        item["limit_price"] = order.limit_price
    if order.slippage_bps is not None:
        item["slippage"] = order.slippage_bps
    return order, _with_code(item, order.builder_code)


@st.composite
def cancels(draw: st.DrawFn) -> Pair:
    kind = draw(st.sampled_from(["cancel", "cancel_all", "modify"]))
    if kind == "cancel":
        cancel = CancelOrder(draw(symbols), draw(hashes))
        return cancel, {"type": "cancel", "symbol": cancel.symbol, "order_id": cancel.oid}
    if kind == "modify":
        modify = ModifyOrder(draw(symbols), draw(hashes), draw(quantities))
        item = {"type": "modify", "symbol": modify.symbol, "order_id": modify.oid}
        return modify, {**item, "amount": modify.size}
    cancel_all = CancelAll(draw(st.lists(symbols, max_size=3)))
    return cancel_all, {"type": "cancel_all", "symbols": list(cancel_all.symbols)}


orders = st.one_of(limit_orders(), market_orders())
simple = st.one_of(orders, stops(), ranges(), trailing_stops(), cancels())


@st.composite
def baskets(draw: st.DrawFn) -> Pair:
    children = draw(st.lists(simple, min_size=1, max_size=3))
    basket = TriggerBasket(
        draw(symbols), draw(flags), draw(quantities), [action for action, _ in children]
    )
    item = {
        "type": "trig",
        "symbol": basket.symbol,
        "is_buy": basket.is_above,
        "trigger_price": basket.trigger_price,
        "actions": [child for _, child in children],
    }
    return basket, item


@st.composite
def on_fills(draw: st.DrawFn) -> Pair:
    trigger, trigger_item = draw(orders)
    children = draw(st.lists(simple, min_size=1, max_size=3))
    on_fill = OnFill(trigger, [action for action, _ in children])
    return on_fill, {
        "type": "on_fill",
        "trigger": trigger_item,
        "actions": [child for _, child in children],
    }


order_items = st.one_of(simple, baskets(), on_fills())
keys = st.sampled_from(SEEDS)
domains = st.sampled_from(DOMAINS)
nonces = st.integers(0, 2**64 - 1)


def _json(value: Any) -> Any:
    """JSON as the exchange reads it; settings compared as a map (decision 9 of docs/protocol.md:
    bulk-trio sends sorted ``[symbol, leverage]`` pairs where keychain sends a sorted map)."""
    value = json.loads(json.dumps(value))
    for action in value:
        settings = action.get("updateUserSettings")
        if settings is not None and isinstance(settings["m"], list):
            settings["m"] = dict(settings["m"])
    return value


def _assert_same_transaction(
    ours: dict[str, Any], theirs: dict[str, Any], *, ids: list[str | None]
) -> None:
    """``theirs`` is a keychain payload (``prepare_*`` output with its signature added)."""
    for key in ("nonce", "account", "signer", "signature"):
        assert ours[key] == theirs[key], key
    assert _json(ours["actions"]) == _json(theirs["actions"])
    expected_ids = theirs.get("order_ids") or (
        [theirs["order_id"]] if theirs.get("order_id") else []
    )
    assert [oid for oid in ids if oid is not None] == expected_ids


def _signed(signer: Any, prepared: dict[str, Any]) -> dict[str, Any]:
    """keychain's prepared message with keychain's signature over it.

    The actions are taken from ``prepared``: keychain's ``Signer.sign`` leaves the slippage of a
    stop/take-profit out of the JSON it returns, and ``sign_prepared`` re-renders some floats
    above 2**53 ticks differently, while both sign the prepared bytes.
    """
    return {**signer.sign_prepared(prepared), "actions": prepared["actions"]}


# ---------------------------------------------------------------------------------------------
# Orders, conditionals, baskets and on-fill: alone and in mixed batches


@DIFFERENTIAL
@given(order_items, keys, domains, nonces)
def test_one_action_matches_keychain(pair: Pair, seed: bytes, domain: str, nonce: int) -> None:
    action, item = pair
    ours_signer, their_signer = SIGNERS[seed, domain]
    prepared = keychain.prepare_order(item, domain, ours_signer.public_key, nonce=nonce)
    message = ours_signer.message_bytes(action, nonce=nonce)
    assert message.hex() == prepared["message_hex"]
    assert (
        encode_message(action, nonce=nonce, account=ours_signer.public_key, domain=None)
        == (message[:-1])
    )
    ours = ours_signer.sign_transaction(action, nonce=nonce)
    ids = order_ids(action, nonce=nonce, account=ours["account"], keychain_slippage=True)
    _assert_same_transaction(ours, _signed(their_signer, prepared), ids=ids)


@DIFFERENTIAL
@given(st.lists(order_items, min_size=2, max_size=4), keys, domains, nonces)
def test_mixed_batches_match_keychain(
    pairs: list[Pair], seed: bytes, domain: str, nonce: int
) -> None:
    actions = [action for action, _ in pairs]
    items = [item for _, item in pairs]
    ours_signer, their_signer = SIGNERS[seed, domain]
    prepared = keychain.prepare_order_group(items, domain, ours_signer.public_key, nonce=nonce)
    assert ours_signer.message_bytes(actions, nonce=nonce).hex() == prepared["message_hex"]
    ours = ours_signer.sign_transaction(actions, nonce=nonce)
    ids = order_ids(actions, nonce=nonce, account=ours["account"], keychain_slippage=True)
    _assert_same_transaction(ours, _signed(their_signer, prepared), ids=ids)


@DIFFERENTIAL
@given(st.lists(order_items, min_size=1, max_size=3), keys, hashes, domains, nonces)
def test_agent_signed_batches_match_keychain(
    pairs: list[Pair], seed: bytes, account: str, domain: str, nonce: int
) -> None:
    """An agent wallet signs the account's bytes; the ids hash the account, not the agent."""
    actions = [action for action, _ in pairs]
    items = [item for _, item in pairs]
    ours_signer, _ = SIGNERS[seed, domain]
    prepared = keychain.prepare_order_group(
        items, domain, account, signer=ours_signer.public_key, nonce=nonce
    )
    ours = ours_signer.sign_transaction(actions, nonce=nonce, account=account)
    assert (
        ours_signer.message_bytes(actions, nonce=nonce, account=account).hex()
        == (prepared["message_hex"])
    )
    assert ours["account"] == prepared["account"] and ours["signer"] == prepared["signer"]
    ids = order_ids(actions, nonce=nonce, account=account, keychain_slippage=True)
    expected = prepared.get("order_ids") or (
        [prepared["order_id"]] if prepared.get("order_id") else []
    )
    assert [oid for oid in ids if oid is not None] == expected


# ---------------------------------------------------------------------------------------------
# Account, builder-code and administrative actions (keychain has one function for each)


AccountCase = tuple[TransactionSigner, Any, list[BaseAction], Any]


@st.composite
def account_cases(draw: st.DrawFn) -> AccountCase:
    """(our signer, keychain's signer, our actions, a function of (keychain signer, nonce)
    giving keychain's payload)."""
    ours, theirs = SIGNERS[draw(keys), draw(domains)]
    account = ours.public_key
    target = draw(hashes.filter(lambda key: key != account))
    kind = draw(
        st.sampled_from(
            [
                *("abc", "rbc", "sub", "remove", "transfer", "agent", "faucet"),
                *("settings", "oracle", "pyth", "whitelist"),
            ]
        )
    )
    if kind == "abc":
        fee = draw(st.integers(1, 15))
        return (
            ours,
            theirs,
            [ApproveBuilderCode(target, fee)],
            lambda s, n: s.sign_approve_builder_code(target, fee, nonce=n),
        )
    if kind == "rbc":
        return (
            ours,
            theirs,
            [RevokeBuilderCode(target)],
            lambda s, n: s.sign_revoke_builder_code(target, nonce=n),
        )
    if kind == "sub":
        name, amount = draw(symbols), draw(st.none() | amounts)
        return (
            ours,
            theirs,
            [CreateSubAccount(name, amount)],
            lambda s, n: s.sign_create_sub_account(name, amount, nonce=n),
        )
    if kind == "remove":
        return (
            ours,
            theirs,
            [RemoveSubAccount(target)],
            lambda s, n: s.sign_remove_sub_account(target, nonce=n),
        )
    if kind == "transfer":
        amount, external = draw(amounts), draw(flags)
        kind_text = "external" if external else "internal"
        return (
            ours,
            theirs,
            [Transfer(account, target, amount, external)],
            lambda s, n: s.sign_transfer(account, target, amount, kind_text, nonce=n),
        )
    if kind == "agent":
        delete = draw(flags)
        return (
            ours,
            theirs,
            [AgentWallet(target, delete)],
            lambda s, n: s.sign_agent_wallet(target, delete, nonce=n),
        )
    if kind == "faucet":
        return ours, theirs, [Faucet(account)], lambda s, n: s.sign_faucet(nonce=n)
    if kind == "settings":
        leverage = st.floats(1, 100, allow_nan=False)
        chosen = draw(st.dictionaries(symbols, leverage, min_size=1, max_size=4))
        pairs = sorted(chosen.items())
        return (
            ours,
            theirs,
            [UpdateLeverage(chosen)],
            lambda s, n: s.sign_user_settings(pairs, nonce=n),
        )
    if kind == "oracle":
        price = st.floats(1e-6, 1e9, allow_nan=False)
        entries = draw(
            st.lists(st.tuples(st.integers(0, 2**63 - 1), symbols, price), min_size=1, max_size=3)
        )
        prices: list[BaseAction] = [OraclePrice(c, px, t) for t, c, px in entries]
        return ours, theirs, prices, lambda s, n: s.sign_oracle_prices(entries, nonce=n)
    if kind == "pyth":
        # Below 2**63: keychain writes larger u64 values into its JSON as lossy floats.
        u64 = st.integers(0, 2**63 - 1)
        entry = st.tuples(u64, u64, u64, st.integers(-(2**15), 2**15 - 1))
        feeds = draw(st.lists(entry, min_size=1, max_size=3))
        return ours, theirs, [PythOracle(feeds)], lambda s, n: s.sign_pyth_oracle(feeds, nonce=n)
    whitelist = draw(flags)
    return (
        ours,
        theirs,
        [WhitelistFaucet(target, whitelist)],
        lambda s, n: s.sign_whitelist_faucet(target, whitelist, nonce=n),
    )


@DIFFERENTIAL
@given(account_cases(), nonces)
def test_account_actions_match_keychain(case: AccountCase, nonce: int) -> None:
    ours_signer, their_signer, actions, sign_theirs = case
    ours = ours_signer.sign_transaction(actions, nonce=nonce)
    _assert_same_transaction(ours, sign_theirs(their_signer, nonce), ids=[])
