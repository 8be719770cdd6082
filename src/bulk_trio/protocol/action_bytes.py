"""The signed bytes of every action (docs/protocol.md, "Action bodies"), in every layout.

``encode_action(action, layout)`` is ``u32 discriminant ‖ body``; :func:`layout_for` picks the
layout keychain 0.1.31 picks for a list of actions (decision 2 of docs/protocol.md). The layouts
differ only in a few optional trailing fields:

* market/limit: legacy appends ``01 ‖ builder code`` only when there is one (and cannot carry a
  slippage); versioned layouts always write ``Option<builder code>`` (and, for a market order,
  ``Option<slippage>``);
* stop/take-profit/range/trailing: nothing in legacy, ``Option<builder code>`` in V2/V3, plus the
  slippage option(s) in V4/V6;
* transfer: V6 appends ``Option<symbol>``;
* actions nested in ``trig``, ``of`` and ``msp`` are written in their parent's layout, except
  that inside a multisig proposal signed in the legacy layout market and limit orders always carry
  the ``Option<builder code>`` tag (the server SDK's "legacy embedded" form).

A layout that cannot express an action (a slippage in the legacy layout, say) raises
``ValueError``. Order bodies are on every order's signing path, so the limit and market encoders
write their fixed-width fields with one ``struct`` call and reuse the encoded symbol.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..actions import (
    AgentWallet,
    ApproveBuilderCode,
    BaseAction,
    BuilderCode,
    CancelAll,
    CancelOrder,
    CreateMultisig,
    CreateSubAccount,
    Faucet,
    LimitOrder,
    MarketOrder,
    ModifyOrder,
    MultisigApprove,
    MultisigCancel,
    MultisigExecute,
    MultisigPropose,
    MultisigReject,
    MultisigUpdate,
    OnFill,
    OraclePrice,
    PythOracle,
    RangeOrder,
    RemoveSubAccount,
    RenameSubAccount,
    RevokeBuilderCode,
    StopOrder,
    TakeProfitOrder,
    TrailingStop,
    Transfer,
    TriggerBasket,
    UpdateLeverage,
    WhitelistFaucet,
)
from ..enums import Side, TimeInForce
from ..fixedpoint import to_fixed
from . import wincode
from .wincode import Layout

__all__ = [
    "builder_code_bytes",
    "encode_action",
    "layout_for",
    "order_id_body",
    "preferred_layout",
    "signed_body",
    "single_limit_message",
]

_NONE = wincode.NONE
_SOME = wincode.SOME
_LEGACY = Layout.LEGACY
_U32 = struct.Struct("<I").pack
_LIMIT_FIELDS = struct.Struct("<?QQI??").pack  # b, px, sz, tif, r, i
_MARKET_FIELDS = struct.Struct("<?Q??").pack  # b, sz, r, i
_GTC = TimeInForce.GTC
_BUY = Side.BUY
_U64_ONE = struct.Struct("<Q").pack(1)
_DISCRIMINANTS: dict[type[BaseAction], bytes] = {}

# Encoded symbols: a bot signs the same few symbols over and over.
_SYMBOLS: dict[str, bytes] = {}
_MAX_SYMBOLS = 4096


def _symbol(symbol: str) -> bytes:
    encoded = _SYMBOLS.get(symbol)
    if encoded is None:
        encoded = wincode.string(symbol)
        if len(_SYMBOLS) < _MAX_SYMBOLS:
            _SYMBOLS[symbol] = encoded
    return encoded


def builder_code_bytes(code: BuilderCode) -> bytes:
    """``32B to ‖ u8 fee``, a builder code inside an order body."""
    return wincode.pubkey(code.to, field="to") + wincode.u8(code.fee)


def _optional_builder_code(code: BuilderCode | None) -> bytes:
    return _NONE if code is None else _SOME + builder_code_bytes(code)


def _optional_fx(value: float | None, field: str) -> bytes:
    return _NONE if value is None else _SOME + wincode.fx(value, field=field)


# ---------------------------------------------------------------------------------------------
# Order bodies


def _limit_legacy_body(order: LimitOrder) -> bytes:
    tif = order.time_in_force
    return _symbol(order.symbol) + _LIMIT_FIELDS(
        order.side is _BUY,
        to_fixed(order.price, field="price"),
        to_fixed(order.size, field="size"),
        # GTC by identity: the ordinal property hashes the enum member, in Python code.
        0 if tif is _GTC else tif.ordinal,
        order.reduce_only,
        order.iso,
    )


def _market_legacy_body(order: MarketOrder) -> bytes:
    return _symbol(order.symbol) + _MARKET_FIELDS(
        order.side is _BUY, to_fixed(order.size, field="size"), order.reduce_only, order.iso
    )


# A transaction of one limit order without builder code, the most common message there is:
# u64 count 1 ‖ u32 discriminant 1 ‖ symbol, then the order's fixed fields and the u64 nonce in
# one pack, then the signer's account ‖ domain byte.
_ONE_LIMIT_HEADS: dict[str, bytes] = {}
_LIMIT_FIELDS_AND_NONCE = struct.Struct("<?QQI??Q").pack  # b, px, sz, tif, r, i, nonce


def single_limit_message(order: LimitOrder, nonce: int, tail: bytes) -> bytes:
    """The legacy message of a transaction holding only ``order``, which has no builder code.

    ``nonce`` is a valid u64 and ``tail`` is ``account ‖ domain suffix``. The same bytes as the
    general path (``signing.encode_message``) writes, in one ``struct`` call instead of a dozen
    function calls: the signer takes it for every one-limit-order transaction.
    """
    symbol = order.symbol
    head = _ONE_LIMIT_HEADS.get(symbol)
    if head is None:
        head = _U64_ONE + _LIMIT_DISCRIMINANT + wincode.string(symbol)
        if len(_ONE_LIMIT_HEADS) < _MAX_SYMBOLS:
            _ONE_LIMIT_HEADS[symbol] = head
    tif = order.time_in_force
    return (
        head
        + _LIMIT_FIELDS_AND_NONCE(
            order.side is _BUY,
            to_fixed(order.price, field="price"),
            to_fixed(order.size, field="size"),
            0 if tif is _GTC else tif.ordinal,
            order.reduce_only,
            order.iso,
            nonce,
        )
        + tail
    )


def _limit(order: LimitOrder, layout: Layout, embedded: bool) -> bytes:
    body = _limit_legacy_body(order)
    code = order.builder_code
    if layout is _LEGACY and not embedded:
        return body if code is None else body + _SOME + builder_code_bytes(code)
    return body + _optional_builder_code(code)


def _market(order: MarketOrder, layout: Layout, embedded: bool) -> bytes:
    body = _market_legacy_body(order)
    code = order.builder_code
    if layout is Layout.LEGACY:
        if order.slippage_bps is not None:
            raise ValueError("slippage_bps cannot be signed in the legacy layout")
        if embedded:
            return body + _optional_builder_code(code)
        return body if code is None else body + _SOME + builder_code_bytes(code)
    return body + _optional_builder_code(code) + _optional_fx(order.slippage_bps, "slippage_bps")


def _conditional_tail(
    layout: Layout,
    builder_code: BuilderCode | None,
    slippages: tuple[tuple[float | None, str], ...],
) -> bytes:
    """Legacy bodies end before it; V2/V3 add the builder code; V4 and V6 add slippage too."""
    carries_builder_code = layout is not Layout.LEGACY
    carries_slippage = layout is Layout.V4 or layout is Layout.V6
    if builder_code is not None and not carries_builder_code:
        raise ValueError("builder_code cannot be signed in the legacy layout")
    tail = _optional_builder_code(builder_code) if carries_builder_code else b""
    for value, field in slippages:
        if value is not None and not carries_slippage:
            raise ValueError(f"{field} cannot be signed in the {layout.name} layout")
        if carries_slippage:
            tail += _optional_fx(value, field)
    return tail


def _triggered(order: StopOrder | TakeProfitOrder, layout: Layout, embedded: bool) -> bytes:
    body = b"".join(
        (
            _symbol(order.symbol),
            wincode.boolean(order.is_above),
            wincode.fx(order.size, field="size"),
            wincode.fx(order.trigger_price, field="trigger_price"),
            _optional_fx(order.limit_price, "limit_price"),
            wincode.boolean(order.iso),
        )
    )
    return body + _conditional_tail(
        layout, order.builder_code, ((order.slippage_bps, "slippage_bps"),)
    )


def _range(order: RangeOrder, layout: Layout, embedded: bool) -> bytes:
    (low, low_limit), (high, high_limit) = order.low_leg(), order.high_leg()
    body = b"".join(
        (
            _symbol(order.symbol),
            wincode.boolean(order.is_buy),
            wincode.fx(order.size, field="size"),
            wincode.fx(low, field="pmin"),
            wincode.fx(high, field="pmax"),
            _optional_fx(low_limit, "lmin"),
            _optional_fx(high_limit, "lmax"),
            wincode.boolean(order.iso),
        )
    )
    slippages = (
        (order.sl_slippage_bps, "sl_slippage_bps"),
        (order.tp_slippage_bps, "tp_slippage_bps"),
    )
    return body + _conditional_tail(layout, order.builder_code, slippages)


def _trailing(order: TrailingStop, layout: Layout, embedded: bool) -> bytes:
    body = b"".join(
        (
            _symbol(order.symbol),
            wincode.boolean(order.protects_long),
            wincode.fx(order.size, field="size"),
            wincode.u32(order.trail_bps),
            wincode.u32(order.step_bps),
            _optional_fx(order.limit_price, "limit_price"),
            wincode.boolean(order.iso),
        )
    )
    return body + _conditional_tail(
        layout, order.builder_code, ((order.slippage_bps, "slippage_bps"),)
    )


# ---------------------------------------------------------------------------------------------
# Actions that carry actions


def _children(actions: Iterable[BaseAction], layout: Layout, embedded: bool) -> bytes:
    """``u64 n ‖ n * (u32 discriminant ‖ body)``, in the parent's layout."""
    return wincode.vec([_encode(action, layout, embedded) for action in actions])


def _basket(basket: TriggerBasket, layout: Layout, embedded: bool) -> bytes:
    return (
        _symbol(basket.symbol)
        + wincode.boolean(basket.is_above)
        + wincode.fx(basket.trigger_price, field="trigger_price")
        + _children(basket.actions, layout, embedded)
    )


def _on_fill(on_fill: OnFill, layout: Layout, embedded: bool) -> bytes:
    return _encode(on_fill.trigger, layout, embedded) + _children(on_fill.actions, layout, embedded)


def _propose(proposal: MultisigPropose, layout: Layout, embedded: bool) -> bytes:
    lifetime = None if proposal.lifetime_secs is None else wincode.u32(proposal.lifetime_secs)
    return (
        wincode.pubkey(proposal.multisig, field="multisig")
        + _children(proposal.actions, layout, embedded or layout is Layout.LEGACY)
        + wincode.option(lifetime)
    )


# ---------------------------------------------------------------------------------------------
# Account, builder-code, multisig and administrative actions (the same in every layout)


def _policy(signers: Sequence[str], threshold: int, time_lock: int, lifetime: int) -> bytes:
    return (
        wincode.vec([wincode.pubkey(key, field="signers") for key in signers])
        + wincode.u32(threshold)
        + wincode.u32(time_lock)
        + wincode.u32(lifetime)
    )


def _transfer(transfer: Transfer, layout: Layout, embedded: bool) -> bytes:
    body = b"".join(
        (
            wincode.u32(1 if transfer.external else 0),
            wincode.pubkey(transfer.source, field="source"),
            wincode.pubkey(transfer.destination, field="destination"),
            wincode.f64(transfer.amount),
        )
    )
    if layout is Layout.V6:
        symbol = None if transfer.symbol is None else wincode.string(transfer.symbol)
        return body + wincode.option(symbol)
    if transfer.symbol is not None:
        raise ValueError(f"symbol cannot be signed in the {layout.name} layout")
    return body


def _proposal_ref(
    action: MultisigApprove | MultisigReject | MultisigCancel | MultisigExecute,
    layout: Layout,
    embedded: bool,
) -> bytes:
    return wincode.pubkey(action.multisig, field="multisig") + wincode.u64(action.proposal_id)


_Encoder = Callable[[Any, Layout, bool], bytes]

_ENCODERS: dict[type[BaseAction], _Encoder] = {
    LimitOrder: _limit,
    MarketOrder: _market,
    StopOrder: _triggered,
    TakeProfitOrder: _triggered,
    RangeOrder: _range,
    TrailingStop: _trailing,
    TriggerBasket: _basket,
    OnFill: _on_fill,
    MultisigPropose: _propose,
    Transfer: _transfer,
    ModifyOrder: lambda a, _l, _e: (
        wincode.pubkey(a.oid, field="oid") + _symbol(a.symbol) + wincode.f64(a.size)
    ),
    CancelOrder: lambda a, _l, _e: _symbol(a.symbol) + wincode.pubkey(a.oid, field="oid"),
    CancelAll: lambda a, _l, _e: wincode.vec([_symbol(symbol) for symbol in a.symbols]),
    OraclePrice: lambda a, _l, _e: (
        wincode.u64(a.timestamp) + _symbol(a.symbol) + wincode.f64(a.price)
    ),
    PythOracle: lambda a, _l, _e: wincode.vec(
        [
            wincode.u64(t) + wincode.u64(fi) + wincode.u64(px) + wincode.i16(e)
            for t, fi, px, e in a.entries
        ]
    ),
    Faucet: lambda a, _l, _e: (
        wincode.pubkey(a.user, field="user")
        + wincode.option(None if a.amount is None else wincode.f64(a.amount))
    ),
    AgentWallet: lambda a, _l, _e: (
        wincode.pubkey(a.agent, field="agent") + wincode.boolean(a.delete)
    ),
    UpdateLeverage: lambda a, _l, _e: wincode.vec(
        [wincode.string(symbol) + wincode.f64(leverage) for symbol, leverage in a.settings]
    ),
    WhitelistFaucet: lambda a, _l, _e: (
        wincode.pubkey(a.target, field="target") + wincode.boolean(a.whitelist)
    ),
    CreateSubAccount: lambda a, _l, _e: (
        wincode.string(a.name)
        + wincode.option(None if a.margin_amount is None else wincode.f64(a.margin_amount))
    ),
    RemoveSubAccount: lambda a, _l, _e: wincode.pubkey(a.sub_account, field="sub_account"),
    RenameSubAccount: lambda a, _l, _e: (
        wincode.pubkey(a.sub_account, field="sub_account") + wincode.string(a.name)
    ),
    CreateMultisig: lambda a, _l, _e: _policy(
        a.signers, a.threshold, a.time_lock_secs, a.proposal_lifetime_secs
    ),
    MultisigApprove: _proposal_ref,
    MultisigReject: _proposal_ref,
    MultisigCancel: _proposal_ref,
    MultisigExecute: _proposal_ref,
    MultisigUpdate: lambda a, _l, _e: (
        wincode.pubkey(a.multisig, field="multisig")
        + _policy(a.signers, a.threshold, a.time_lock_secs, a.proposal_lifetime_secs)
    ),
    ApproveBuilderCode: lambda a, _l, _e: wincode.pubkey(a.to, field="to") + wincode.u8(a.fee),
    RevokeBuilderCode: lambda a, _l, _e: wincode.pubkey(a.to, field="to"),
}
_DISCRIMINANTS.update({cls: _U32(cls.DISCRIMINANT) for cls in _ENCODERS})
_LIMIT_DISCRIMINANT = _DISCRIMINANTS[LimitOrder]


def _encoder(action: BaseAction) -> _Encoder:
    try:
        return _ENCODERS[action.__class__]
    except KeyError:
        raise ValueError(f"{type(action).__name__} has no signed encoding") from None


def _encode(action: BaseAction, layout: Layout, embedded: bool) -> bytes:
    cls = action.__class__
    if cls is LimitOrder:  # the hot path: skip the table lookups
        return _LIMIT_DISCRIMINANT + _limit(action, layout, embedded)  # type: ignore[arg-type]
    return _DISCRIMINANTS[cls] + _encoder(action)(action, layout, embedded)


def signed_body(action: BaseAction, layout: Layout) -> bytes:
    """The bytes after ``action``'s discriminant when signed in ``layout``."""
    return _encoder(action)(action, layout, False)


def encode_action(action: BaseAction, layout: Layout) -> bytes:
    """``u32 discriminant ‖ body``: one action as it appears in a signed message."""
    return _encode(action, layout, False)


# ---------------------------------------------------------------------------------------------
# Layout choice (decision 2 of docs/protocol.md): keychain 0.1.31's rule, first match wins:
# V6 for a transfer, V4 for a stop/take-profit/range/trailing stop, V3 for a builder code, V2 for
# a market order with slippage, else legacy. Nested actions count.


def preferred_layout(action: BaseAction) -> Layout:
    """The layout ``action`` alone needs (its nested actions included)."""
    if action.__class__ is LimitOrder:  # the hot path
        return _LEGACY if action.builder_code is None else Layout.V3
    if isinstance(action, LimitOrder | MarketOrder):
        if action.builder_code is not None:
            return Layout.V3
        if isinstance(action, MarketOrder) and action.slippage_bps is not None:
            return Layout.V2
        return Layout.LEGACY
    if isinstance(action, StopOrder | TakeProfitOrder | RangeOrder | TrailingStop):
        return Layout.V4
    if isinstance(action, Transfer):
        return Layout.V6
    if isinstance(action, TriggerBasket | MultisigPropose):
        return layout_for(action.actions)
    if isinstance(action, OnFill):
        return layout_for((action.trigger, *action.actions))
    return Layout.LEGACY


def layout_for(actions: Iterable[BaseAction]) -> Layout:
    """The layout of a transaction (or nested list) holding ``actions``.

    ``Layout`` values are declared in order of precedence, so the highest one wins.
    """
    chosen = _LEGACY
    for action in actions:
        wanted = preferred_layout(action)
        if wanted is not chosen and wanted.value > chosen.value:
            chosen = wanted
    return chosen


# ---------------------------------------------------------------------------------------------
# Order ids (docs/protocol.md, "Order IDs")


def order_id_body(action: BaseAction, *, keychain_slippage: bool = False) -> bytes | None:
    """What the order id of ``action`` hashes after its discriminant, or None if it has none.

    The legacy body without builder code, for limit and market orders only. A market order with
    slippage gives None (the sources disagree on its id), unless ``keychain_slippage`` asks for
    keychain 0.1.31's rule, which appends ``01 ‖ FX slippage``.
    """
    if isinstance(action, LimitOrder):
        return _limit_legacy_body(action)
    if isinstance(action, MarketOrder):
        body = _market_legacy_body(action)
        if action.slippage_bps is None:
            return body
        if keychain_slippage:
            return body + _SOME + wincode.fx(action.slippage_bps, field="slippage_bps")
    return None
