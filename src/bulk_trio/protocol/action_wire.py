"""Wire JSON to actions: :func:`action_from_wire`, as lenient as the exchange (docs/protocol.md).

The simulator parses every received transaction with it, and the signer's tests round-trip every
action through it. Lenient where the exchange is: prices and sizes as numbers or numeric strings,
``tif`` in any case, ``updateUserSettings.m`` as a pair list or a map, alias tags
(``approveBuilderCode`` for ``abc``, ...). Anything else that is wrong raises ``ValueError`` naming
the field (``l.px``, ``trig.actions[0]: ...``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TypeAlias

from ..actions import (
    Action,
    AgentWallet,
    ApproveBuilderCode,
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

__all__ = ["action_from_wire"]

# What a Rust f64 parser accepts, minus nan/inf (rejected later anyway).
_NUMERIC_TEXT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_MISSING = object()


class _WireFields:
    """Typed reads from one action's JSON object; errors name ``tag.key``."""

    def __init__(self, tag: str, obj: object) -> None:
        if not isinstance(obj, Mapping):
            raise ValueError(f"{tag} must be a JSON object, got {type(obj).__name__}")
        self.tag = tag
        self.obj = obj
        self.read: set[str] = set()

    def name(self, key: str) -> str:
        return f"{self.tag}.{key}"

    def get(self, key: str, default: object = _MISSING) -> object:
        self.read.add(key)
        value = self.obj.get(key, default)
        if value is _MISSING:
            raise ValueError(f"{self.name(key)} is missing")
        return value

    def text(self, key: str) -> str:
        value = self.get(key)
        if not isinstance(value, str):
            raise ValueError(f"{self.name(key)} must be a string, got {value!r}")
        return value

    def flag(self, key: str, default: object = _MISSING) -> bool:
        value = self.get(key, default)
        if not isinstance(value, bool):
            raise ValueError(f"{self.name(key)} must be true or false, got {value!r}")
        return value

    def number(self, key: str) -> float:
        return _wire_number(self.get(key), self.name(key))

    def optional_number(self, key: str) -> float | None:
        value = self.get(key, None)
        return None if value is None else _wire_number(value, self.name(key))

    def integer(self, key: str) -> int:
        value = self.get(key)
        if isinstance(value, str) and value.isascii() and value.isdigit():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{self.name(key)} must be an integer, got {value!r}")
        return value

    def signed_integer(self, key: str) -> int:
        value = self.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{self.name(key)} must be an integer, got {value!r}")
        return value

    def builder_code(self) -> BuilderCode | None:
        value = self.get("builderCode", None)
        if value is None:
            if "builderCode" in self.obj:
                raise ValueError(
                    f"{self.name('builderCode')} must be omitted or an object, not null"
                )
            return None
        code = _WireFields(self.name("builderCode"), value)
        to, fee = code.text("to"), code.integer("fee")
        code.finish()
        return BuilderCode(to, fee)

    def finish(self) -> None:
        unknown = sorted(str(key) for key in self.obj if key not in self.read)
        if unknown:
            raise ValueError(f"{self.name(unknown[0])} is not a field of {self.tag}")


def _wire_number(value: object, name: str) -> float:
    """A JSON number, or a numeric string as the exchange also accepts (``"1e-05"``)."""
    if isinstance(value, str):
        if not _NUMERIC_TEXT.fullmatch(value):
            raise ValueError(f"{name} must be a number or numeric string, got {value!r}")
        return float(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, got {value!r}")
    try:
        return float(value)
    except OverflowError:
        raise ValueError(f"{name} is out of range: {value!r}") from None


def _limit_from_wire(w: _WireFields) -> LimitOrder:
    return LimitOrder(
        w.text("c"),
        Side.from_is_buy(w.flag("b")),
        w.number("px"),
        w.number("sz"),
        reduce_only=w.flag("r"),
        time_in_force=TimeInForce.parse(w.text("tif")),
        iso=w.flag("i", False),
        builder_code=w.builder_code(),
    )


def _market_from_wire(w: _WireFields) -> MarketOrder:
    return MarketOrder(
        w.text("c"),
        Side.from_is_buy(w.flag("b")),
        w.number("sz"),
        reduce_only=w.flag("r"),
        iso=w.flag("i", False),
        builder_code=w.builder_code(),
        slippage_bps=w.optional_number("slippage"),
    )


def _triggered_from_wire(
    cls: type[StopOrder] | type[TakeProfitOrder],
) -> Callable[[_WireFields], StopOrder | TakeProfitOrder]:
    def parse(w: _WireFields) -> StopOrder | TakeProfitOrder:
        return cls(
            w.text("c"),
            w.flag("d"),
            w.number("sz"),
            w.number("tr"),
            limit_price=w.optional_number("lim"),
            iso=w.flag("i", False),
            builder_code=w.builder_code(),
            slippage_bps=w.optional_number("slippage"),
        )

    return parse


def _settings_from_wire(w: _WireFields) -> UpdateLeverage:
    entries = w.get("m")
    pairs: list[tuple[str, float]] = []
    if isinstance(entries, Mapping):
        items: list[object] = [list(item) for item in entries.items()]
    elif isinstance(entries, list):
        items = entries
    else:
        raise ValueError(f"{w.name('m')} must be a list of [symbol, leverage] pairs or an object")
    for index, item in enumerate(items):
        if not isinstance(item, list | tuple) or len(item) != 2:
            raise ValueError(f"{w.name('m')}[{index}] must be a [symbol, leverage] pair")
        symbol = item[0]
        if not isinstance(symbol, str):
            raise ValueError(f"{w.name('m')}[{index}] symbol must be a string, got {symbol!r}")
        pairs.append((symbol, _wire_number(item[1], f"{w.name('m')}[{symbol!r}]")))
    return UpdateLeverage(pairs)


def _cancel_all_from_wire(w: _WireFields) -> CancelAll:
    symbols = w.get("c")
    if not isinstance(symbols, list):
        raise ValueError(f"{w.name('c')} must be a list of symbols, got {symbols!r}")
    return CancelAll(symbols)


def _nested_from_wire(w: _WireFields, key: str) -> list[Action]:
    items = w.get(key)
    if not isinstance(items, list):
        raise ValueError(f"{w.name(key)} must be a list of actions, got {items!r}")
    children: list[Action] = []
    for index, item in enumerate(items):
        try:
            children.append(action_from_wire(item))
        except ValueError as error:
            raise ValueError(f"{w.name(key)}[{index}]: {error}") from None
    return children


def _range_from_wire(w: _WireFields) -> RangeOrder:
    # pmin/lmin is the low leg: the stop-loss of a long, the take-profit of a short.
    is_buy = w.flag("d")
    low, high = w.number("pmin"), w.number("pmax")
    low_limit, high_limit = w.optional_number("lmin"), w.optional_number("lmax")
    stop_loss, take_profit = (low, high) if is_buy else (high, low)
    stop_loss_limit, take_profit_limit = (
        (low_limit, high_limit) if is_buy else (high_limit, low_limit)
    )
    return RangeOrder(
        w.text("c"),
        is_buy,
        w.number("sz"),
        stop_loss,
        take_profit,
        stop_loss_limit=stop_loss_limit,
        take_profit_limit=take_profit_limit,
        iso=w.flag("i", False),
        builder_code=w.builder_code(),
        sl_slippage_bps=w.optional_number("slSlippage"),
        tp_slippage_bps=w.optional_number("tpSlippage"),
    )


def _trailing_from_wire(w: _WireFields) -> TrailingStop:
    return TrailingStop(
        w.text("c"),
        w.flag("b"),
        w.number("sz"),
        w.integer("trb"),
        w.integer("stb"),
        limit_price=w.optional_number("lim"),
        iso=w.flag("i", False),
        builder_code=w.builder_code(),
        slippage_bps=w.optional_number("slippage"),
    )


def _basket_from_wire(w: _WireFields) -> TriggerBasket:
    return TriggerBasket(w.text("c"), w.flag("d"), w.number("tr"), _nested_from_wire(w, "actions"))


def _on_fill_from_wire(w: _WireFields) -> OnFill:
    try:
        trigger = action_from_wire(w.get("trigger"))
    except ValueError as error:
        raise ValueError(f"{w.name('trigger')}: {error}") from None
    if not isinstance(trigger, LimitOrder | MarketOrder):
        raise ValueError(f"{w.name('trigger')} must be a limit (l) or market (m) order")
    return OnFill(trigger, _nested_from_wire(w, "actions"))


def _transfer_from_wire(w: _WireFields) -> Transfer:
    kind = w.get("k", "internal")
    if kind not in ("internal", "external"):
        raise ValueError(f"{w.name('k')} must be 'internal' or 'external', got {kind!r}")
    symbol = w.get("symbol", None)
    if symbol is not None and not isinstance(symbol, str):
        raise ValueError(f"{w.name('symbol')} must be a string, got {symbol!r}")
    return Transfer(
        w.text("from"), w.text("to"), w.number("marginAmount"), kind == "external", symbol
    )


def _pubkeys_from_wire(w: _WireFields, key: str) -> list[str]:
    keys = w.get(key)
    if not isinstance(keys, list):
        raise ValueError(f"{w.name(key)} must be a list of base58 public keys, got {keys!r}")
    return keys


def _create_multisig_from_wire(w: _WireFields) -> CreateMultisig:
    return CreateMultisig(
        _pubkeys_from_wire(w, "signers"),
        w.integer("threshold"),
        w.integer("timeLockSecs"),
        w.integer("proposalLifetimeSecs"),
    )


def _update_multisig_from_wire(w: _WireFields) -> MultisigUpdate:
    return MultisigUpdate(
        w.text("m"),
        _pubkeys_from_wire(w, "signers"),
        w.integer("threshold"),
        w.integer("timeLockSecs"),
        w.integer("proposalLifetimeSecs"),
    )


def _propose_from_wire(w: _WireFields) -> MultisigPropose:
    lifetime = w.get("l", None)
    return MultisigPropose(
        w.text("m"),
        _nested_from_wire(w, "a"),
        None if lifetime is None else w.integer("l"),
    )


def _pyth_from_wire(w: _WireFields) -> PythOracle:
    oracles = w.get("oracles")
    if not isinstance(oracles, list):
        raise ValueError(f"{w.name('oracles')} must be a list, got {oracles!r}")
    entries: list[tuple[int, int, int, int]] = []
    for index, item in enumerate(oracles):
        entry = _WireFields(f"{w.name('oracles')}[{index}]", item)
        entries.append(
            (
                entry.integer("t"),
                entry.integer("fi"),
                entry.signed_integer("px"),
                entry.signed_integer("e"),
            )
        )
        entry.finish()
    return PythOracle(entries)


_ProposalAction: TypeAlias = MultisigApprove | MultisigReject | MultisigCancel | MultisigExecute


def _proposal_from_wire(cls: type[_ProposalAction]) -> Callable[[_WireFields], _ProposalAction]:
    return lambda w: cls(w.text("m"), w.integer("p"))


_PARSERS: dict[str, Callable[[_WireFields], Action]] = {
    "l": _limit_from_wire,
    "m": _market_from_wire,
    "st": _triggered_from_wire(StopOrder),
    "tp": _triggered_from_wire(TakeProfitOrder),
    "cx": lambda w: CancelOrder(w.text("c"), w.text("oid")),
    "cxa": _cancel_all_from_wire,
    "mod": lambda w: ModifyOrder(w.text("c"), w.text("oid"), w.number("sz")),
    "px": lambda w: OraclePrice(w.text("c"), w.number("px"), w.integer("t")),
    "faucet": lambda w: Faucet(w.text("u"), w.optional_number("amount")),
    "updateUserSettings": _settings_from_wire,
    "agentWalletCreation": lambda w: AgentWallet(w.text("a"), w.flag("d", False)),
    "abc": lambda w: ApproveBuilderCode(w.text("to"), w.integer("fee")),
    "approveBuilderCode": lambda w: ApproveBuilderCode(w.text("to"), w.integer("fee")),
    "rbc": lambda w: RevokeBuilderCode(w.text("to")),
    "revokeBuilderCode": lambda w: RevokeBuilderCode(w.text("to")),
    "rng": _range_from_wire,
    "trig": _basket_from_wire,
    "trl": _trailing_from_wire,
    "of": _on_fill_from_wire,
    "createSubAccount": lambda w: CreateSubAccount(
        w.text("name"), w.optional_number("marginAmount")
    ),
    "removeSubAccount": lambda w: RemoveSubAccount(w.text("toRemove")),
    "rsa": lambda w: RenameSubAccount(w.text("a"), w.text("n")),
    "renameSubAccount": lambda w: RenameSubAccount(w.text("a"), w.text("n")),
    "transfer": _transfer_from_wire,
    "createMultisig": _create_multisig_from_wire,
    "msp": _propose_from_wire,
    "msa": _proposal_from_wire(MultisigApprove),
    "msr": _proposal_from_wire(MultisigReject),
    "msc": _proposal_from_wire(MultisigCancel),
    "mse": _proposal_from_wire(MultisigExecute),
    "msu": _update_multisig_from_wire,
    "o": _pyth_from_wire,
    "whitelistFaucet": lambda w: WhitelistFaucet(w.text("target"), w.flag("whitelist")),
}


def action_from_wire(obj: object) -> Action:
    """The action of a wire JSON object such as ``{"l": {...}}``.

    Lenient where the exchange is: prices and sizes as numbers or numeric strings, ``tif`` in any
    case, ``updateUserSettings.m`` as a pair list or a map. Anything else that is wrong (an unknown
    tag, a missing or unknown field, a wrong type, a value the constructors refuse) raises
    ``ValueError`` naming the field.
    """
    if not isinstance(obj, Mapping) or len(obj) != 1:
        raise ValueError("an action must be a JSON object with exactly one key (its tag)")
    ((tag, fields),) = obj.items()
    parse = _PARSERS.get(tag)
    if parse is None:
        raise ValueError(f"unknown or unsupported action tag {tag!r}")
    reader = _WireFields(tag, fields)
    try:
        action = parse(reader)
    except ValueError as error:
        message = str(error)
        raise ValueError(
            message if message.startswith(f"{tag}.") else f"{tag}: {message}"
        ) from None
    reader.finish()
    return action
