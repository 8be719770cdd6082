"""The actions a transaction carries (docs/protocol.md, action catalogue): models and validation.

Every action is an immutable attrs class that validates its input on construction (``ValueError``
naming the field) and knows its wire JSON (``to_wire()``) and its catalogue entry (``TAG``, the key
of its wire object, and ``DISCRIMINANT``, its u32 ordinal). What is protocol lives in
``bulk_trio.protocol``: the signed bytes of every layout in ``protocol.action_bytes``, the lenient
wire parser in ``protocol.action_wire`` (also importable from here as :func:`action_from_wire`).

Prices and sizes are kept as the floats the caller gave; the wire carries those same floats and the
signed bytes carry their 1e8 fixed point. The exchange re-encodes the bytes from the JSON it
receives, so the JSON number must be exactly the float that was encoded.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias

import attrs

from .base58 import decode_32
from .checks import check_symbol, finite
from .enums import Side, TimeInForce
from .fixedpoint import SCALE, U64_MAX, to_fixed
from .literals import SideName, TimeInForceName

if TYPE_CHECKING:
    from .protocol.action_wire import action_from_wire

__all__ = [
    "Action",
    "AgentWallet",
    "ApproveBuilderCode",
    "BaseAction",
    "BuilderCode",
    "CancelAll",
    "CancelOrder",
    "CreateMultisig",
    "CreateSubAccount",
    "Faucet",
    "LimitOrder",
    "MarketOrder",
    "ModifyOrder",
    "MultisigApprove",
    "MultisigCancel",
    "MultisigExecute",
    "MultisigPropose",
    "MultisigReject",
    "MultisigUpdate",
    "OnFill",
    "OraclePrice",
    "PythOracle",
    "RangeOrder",
    "RemoveSubAccount",
    "RenameSubAccount",
    "RevokeBuilderCode",
    "StopOrder",
    "TakeProfitOrder",
    "TrailingStop",
    "Transfer",
    "TriggerBasket",
    "UpdateLeverage",
    "WhitelistFaucet",
    "action_from_wire",
]

MIN_BUILDER_FEE = 1
MAX_BUILDER_FEE = 15
U32_MAX = 2**32 - 1


def __getattr__(name: str) -> Any:
    # action_from_wire is protocol (it lives in protocol.action_wire, which depends on this
    # module); it stays importable from here, loaded on first use so that no cycle forms.
    if name == "action_from_wire":
        from .protocol.action_wire import action_from_wire

        return action_from_wire
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---------------------------------------------------------------------------------------------
# Validation of constructor arguments. Orders are built on a bot's hot path, so the common case
# (a plain float, a Side, a known symbol) is tested first and the full checks run otherwise.


_symbol = check_symbol  # the one symbol rule (bulk_trio.checks), under the local naming


def _flag(value: object, field: str) -> bool:
    # Strictly a bool: the exchange's JSON decoder rejects 0/1 for these fields.
    if value is True or value is False:
        return value
    raise ValueError(f"{field} must be True or False, got {value!r}")


_SIDES = {"buy": Side.BUY, "sell": Side.SELL}
# Module constants: reading ``Side.BUY`` goes through the enum metaclass, several times slower.
_BUY = Side.BUY
_SELL = Side.SELL


def _side(value: object, field: str = "side") -> Side:
    if value is _BUY or value is _SELL:
        return value
    if isinstance(value, str):
        side = _SIDES.get(value.lower())
        if side is not None:
            return side
    raise ValueError(f"{field} must be a Side or 'buy'/'sell', got {value!r}")


def _time_in_force(value: object) -> TimeInForce:
    if value.__class__ is TimeInForce or isinstance(value, TimeInForce):
        return value
    if isinstance(value, str):
        return TimeInForce.parse(value)
    raise ValueError(f"time_in_force must be a TimeInForce or GTC/IOC/ALO, got {value!r}")


def _positive(value: object, field: str) -> float:
    """A positive finite float, for quantities signed as binary64 (leverage, modify size, ...)."""
    number = finite(value, field)
    if number <= 0:
        raise ValueError(f"{field} must be positive, got {value!r}")
    return number


# A float whose 1e8 product lies in [0.5, 1e19) is a valid quantity: it rounds to at least one
# tick and stays far inside u64 (whose ceiling is about 1.8e19).
_FAST_QUANTITY_LIMIT = 1e19


def _quantity(value: object, field: str) -> float:
    """A positive price or size that is at least one tick of the 1e8 fixed point."""
    if type(value) is float and 0.5 <= value * SCALE < _FAST_QUANTITY_LIMIT:
        return value
    number = _positive(value, field)
    if to_fixed(number, field=field) == 0:
        raise ValueError(f"{field} {value!r} rounds to zero at the 1e-8 resolution of the exchange")
    return number


def _optional_quantity(value: object, field: str) -> float | None:
    return None if value is None else _quantity(value, field)


def _basis_points(value: object, field: str) -> float:
    """A non-negative slippage in basis points (signed as 1e8 fixed point, like prices)."""
    number = finite(value, field)
    if number < 0:
        raise ValueError(f"{field} must not be negative, got {value!r}")
    to_fixed(number, field=field)  # raises on overflow
    return number


def _optional_basis_points(value: object, field: str) -> float | None:
    return None if value is None else _basis_points(value, field)


def _hash_text(value: object, field: str) -> str:
    """Base58 of a 32-byte public key or order id, kept as the text (validated once here)."""
    if not isinstance(value, str):
        raise ValueError(f"{field} must be a base58 string, got {type(value).__name__}")
    decode_32(value, field=field)
    return value


def _builder_fee(value: object, field: str = "fee") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{field} must be an integer number of basis points, got {value!r}")
    if not MIN_BUILDER_FEE <= value <= MAX_BUILDER_FEE:
        raise ValueError(f"{field} must be {MIN_BUILDER_FEE}..{MAX_BUILDER_FEE} bps, got {value}")
    return value


def _u32_int(value: object, field: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{field} must be an integer, got {value!r}")
    if not minimum <= value <= U32_MAX:
        raise ValueError(f"{field} must be an integer in {minimum}..{U32_MAX}, got {value!r}")
    return value


def _u64_int(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{field} must be an integer, got {value!r}")
    if not 0 <= value <= U64_MAX:
        raise ValueError(f"{field} must fit in a u64, got {value!r}")
    return value


# ---------------------------------------------------------------------------------------------
# Actions


class BaseAction(abc.ABC):
    """What every action provides; see :data:`Action` for the concrete classes."""

    __slots__ = ()

    TAG: ClassVar[str]
    """The single key of the action's wire object."""
    DISCRIMINANT: ClassVar[int]
    """The u32 written before the body in the signed bytes."""

    @abc.abstractmethod
    def to_wire(self) -> dict[str, Any]:
        """The wire JSON object, ``{TAG: {...}}``."""


@attrs.frozen(init=False)
class BuilderCode:
    """A builder code attached to an order (``builder_code=``): ``fee`` basis points (1..15) of the
    order's notional go to ``to``.

    The account must first approve the recipient with :class:`ApproveBuilderCode` (``abc``).
    """

    to: str
    fee: int

    def __init__(self, to: str, fee: int) -> None:
        self.__attrs_init__(_hash_text(to, "to"), _builder_fee(fee))

    def fields(self) -> dict[str, Any]:
        """The ``{to, fee}`` object, as it appears inside an order."""
        return {"to": self.to, "fee": self.fee}


def _builder_code(value: object) -> BuilderCode | None:
    if value is None or isinstance(value, BuilderCode):
        return value
    if isinstance(value, Mapping):
        return BuilderCode(value.get("to"), value.get("fee"))  # type: ignore[arg-type]
    raise ValueError(f"builder_code must be a BuilderCode or {{'to', 'fee'}}, got {value!r}")


@attrs.frozen(init=False)
class LimitOrder(BaseAction):
    """A limit order (``l``)."""

    TAG: ClassVar[str] = "l"
    DISCRIMINANT: ClassVar[int] = 1

    symbol: str
    side: Side
    price: float
    size: float
    reduce_only: bool = False
    time_in_force: TimeInForce = TimeInForce.GTC
    iso: bool = False
    builder_code: BuilderCode | None = None

    def __init__(
        self,
        symbol: str,
        side: Side | SideName,
        price: float,
        size: float,
        reduce_only: bool = False,
        time_in_force: TimeInForce | TimeInForceName = TimeInForce.GTC,
        iso: bool = False,
        builder_code: BuilderCode | Mapping[str, Any] | None = None,
    ) -> None:
        # A bot builds one of these per order. When every argument is already what the
        # validators below would return unchanged (a Side, floats of at least one tick, bools,
        # a TimeInForce, no builder code), the slots are written directly: attrs' frozen
        # __attrs_init__ costs about half of the construction. Anything else takes the validators,
        # which raise the ValueError naming the field. tests/test_limit_order_fast_path.py holds
        # the two paths equal.
        if (
            (side is _BUY or side is _SELL)
            and type(price) is float
            and 0.5 <= price * SCALE < _FAST_QUANTITY_LIMIT
            and type(size) is float
            and 0.5 <= size * SCALE < _FAST_QUANTITY_LIMIT
            and (reduce_only is False or reduce_only is True)
            and (iso is False or iso is True)
            and time_in_force.__class__ is TimeInForce
            and builder_code is None
        ):
            _set_limit_symbol(self, _symbol(symbol))
            _set_limit_side(self, side)
            _set_limit_price(self, price)
            _set_limit_size(self, size)
            _set_limit_reduce_only(self, reduce_only)
            _set_limit_time_in_force(self, time_in_force)
            _set_limit_iso(self, iso)
            _set_limit_builder_code(self, None)
            return
        self.__attrs_init__(
            _symbol(symbol),
            _side(side),
            _quantity(price, "price"),
            _quantity(size, "size"),
            _flag(reduce_only, "reduce_only"),
            _time_in_force(time_in_force),
            _flag(iso, "iso"),
            _builder_code(builder_code),
        )

    def to_wire(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "c": self.symbol,
            "b": self.side is _BUY,
            "px": self.price,
            "sz": self.size,
            "tif": self.time_in_force._value_,  # _value_: skips Enum's slow .value property
            "r": self.reduce_only,
            "i": self.iso,
        }
        if self.builder_code is not None:
            fields["builderCode"] = self.builder_code.fields()
        return {self.TAG: fields}


# The slot setters of LimitOrder's fast path: a slot's own descriptor skips the frozen check.
_LIMIT_SLOTS = vars(LimitOrder)
_set_limit_symbol = _LIMIT_SLOTS["symbol"].__set__
_set_limit_side = _LIMIT_SLOTS["side"].__set__
_set_limit_price = _LIMIT_SLOTS["price"].__set__
_set_limit_size = _LIMIT_SLOTS["size"].__set__
_set_limit_reduce_only = _LIMIT_SLOTS["reduce_only"].__set__
_set_limit_time_in_force = _LIMIT_SLOTS["time_in_force"].__set__
_set_limit_iso = _LIMIT_SLOTS["iso"].__set__
_set_limit_builder_code = _LIMIT_SLOTS["builder_code"].__set__


@attrs.frozen(init=False)
class MarketOrder(BaseAction):
    """A market order (``m``), optionally with a slippage limit in basis points."""

    TAG: ClassVar[str] = "m"
    DISCRIMINANT: ClassVar[int] = 0

    symbol: str
    side: Side
    size: float
    reduce_only: bool = False
    iso: bool = False
    builder_code: BuilderCode | None = None
    slippage_bps: float | None = None

    def __init__(
        self,
        symbol: str,
        side: Side | SideName,
        size: float,
        reduce_only: bool = False,
        iso: bool = False,
        builder_code: BuilderCode | Mapping[str, Any] | None = None,
        slippage_bps: float | None = None,
    ) -> None:
        self.__attrs_init__(
            _symbol(symbol),
            _side(side),
            _quantity(size, "size"),
            _flag(reduce_only, "reduce_only"),
            _flag(iso, "iso"),
            _builder_code(builder_code),
            None if slippage_bps is None else _basis_points(slippage_bps, "slippage_bps"),
        )

    def to_wire(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "c": self.symbol,
            "b": self.side is _BUY,
            "sz": self.size,
            "r": self.reduce_only,
            "i": self.iso,
        }
        if self.builder_code is not None:
            fields["builderCode"] = self.builder_code.fields()
        if self.slippage_bps is not None:
            fields["slippage"] = self.slippage_bps
        return {self.TAG: fields}


@attrs.frozen(init=False)
class _TriggeredOrder(BaseAction):
    """Fields and encoding shared by :class:`StopOrder` and :class:`TakeProfitOrder`."""

    symbol: str
    is_above: bool
    size: float
    trigger_price: float
    limit_price: float | None = None
    iso: bool = False
    builder_code: BuilderCode | None = None
    slippage_bps: float | None = None

    def __init__(
        self,
        symbol: str,
        is_above: bool,
        size: float,
        trigger_price: float,
        limit_price: float | None = None,
        iso: bool = False,
        builder_code: BuilderCode | Mapping[str, Any] | None = None,
        slippage_bps: float | None = None,
    ) -> None:
        self.__attrs_init__(
            _symbol(symbol),
            _flag(is_above, "is_above"),
            _quantity(size, "size"),
            _quantity(trigger_price, "trigger_price"),
            None if limit_price is None else _quantity(limit_price, "limit_price"),
            _flag(iso, "iso"),
            _builder_code(builder_code),
            None if slippage_bps is None else _basis_points(slippage_bps, "slippage_bps"),
        )

    def to_wire(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "c": self.symbol,
            "d": self.is_above,
            "sz": self.size,
            "tr": self.trigger_price,
            "lim": self.limit_price,
            "i": self.iso,
        }
        if self.builder_code is not None:
            fields["builderCode"] = self.builder_code.fields()
        if self.slippage_bps is not None:
            fields["slippage"] = self.slippage_bps
        return {self.TAG: fields}


@attrs.frozen(init=False)
class StopOrder(_TriggeredOrder):
    """A stop order (``st``): when the price crosses ``trigger_price``, trade ``size``.

    ``limit_price=None`` triggers a market-style order, otherwise a limit at that price.

    ``is_above`` is the wire flag ``d``, whose meaning the sources disagree on: bulk-client's Rust
    types and the 0.1.2 Python SDK call it ``is_above`` ("trigger when the price is
    above"), the keychain signer calls it ``is_buy``. The signed bytes are the same either way;
    for a stop-loss on a long position both readings give ``False``, but for a take-profit they
    differ, so check the exchange's behaviour before relying on it.
    """

    TAG: ClassVar[str] = "st"
    DISCRIMINANT: ClassVar[int] = 5


@attrs.frozen(init=False)
class TakeProfitOrder(_TriggeredOrder):
    """A take-profit order (``tp``); fields and the ``d`` caveat as in :class:`StopOrder`."""

    TAG: ClassVar[str] = "tp"
    DISCRIMINANT: ClassVar[int] = 6


@attrs.frozen(init=False)
class ModifyOrder(BaseAction):
    """Change the size of a resting order (``mod``). The size is signed as binary64, not FX."""

    TAG: ClassVar[str] = "mod"
    DISCRIMINANT: ClassVar[int] = 2

    symbol: str
    oid: str
    size: float

    def __init__(self, symbol: str, oid: str, size: float) -> None:
        self.__attrs_init__(_symbol(symbol), _hash_text(oid, "oid"), _quantity(size, "size"))

    def to_wire(self) -> dict[str, Any]:
        return {self.TAG: {"oid": self.oid, "c": self.symbol, "sz": self.size}}


@attrs.frozen(init=False)
class CancelOrder(BaseAction):
    """Cancel one order (``cx``). ``side`` is for the caller's bookkeeping; it is not sent."""

    TAG: ClassVar[str] = "cx"
    DISCRIMINANT: ClassVar[int] = 3

    symbol: str
    oid: str
    side: Side | None = attrs.field(default=None, eq=False)

    def __init__(self, symbol: str, oid: str, side: Side | SideName | None = None) -> None:
        self.__attrs_init__(
            _symbol(symbol), _hash_text(oid, "oid"), None if side is None else _side(side)
        )

    def to_wire(self) -> dict[str, Any]:
        return {self.TAG: {"c": self.symbol, "oid": self.oid}}


@attrs.frozen(init=False)
class CancelAll(BaseAction):
    """Cancel every open order of the listed symbols (``cxa``); no symbols means all of them.

    Always sent as a list (``[]`` for all), never ``null`` (docs/protocol.md).
    """

    TAG: ClassVar[str] = "cxa"
    DISCRIMINANT: ClassVar[int] = 4

    symbols: tuple[str, ...] = ()

    def __init__(self, symbols: Iterable[str] | str | None = None) -> None:
        if symbols is None:
            listed: tuple[str, ...] = ()
        elif isinstance(symbols, str):
            listed = (_symbol(symbols, field="symbols"),)
        elif isinstance(symbols, Iterable):
            listed = tuple(_symbol(s, field=f"symbols[{i}]") for i, s in enumerate(symbols))
        else:
            raise ValueError(f"symbols must be a list of symbols or None, got {symbols!r}")
        self.__attrs_init__(listed)

    def to_wire(self) -> dict[str, Any]:
        return {self.TAG: {"c": list(self.symbols)}}


@attrs.frozen(init=False)
class OraclePrice(BaseAction):
    """An oracle price update (``px``; oracle/admin keys only). ``timestamp`` is in nanoseconds."""

    TAG: ClassVar[str] = "px"
    DISCRIMINANT: ClassVar[int] = 11

    symbol: str
    price: float
    timestamp: int

    def __init__(self, symbol: str, price: float, timestamp: int | None = None) -> None:
        self.__attrs_init__(
            _symbol(symbol),
            _positive(price, "price"),
            time.time_ns() if timestamp is None else _u64_int(timestamp, "timestamp"),
        )

    def to_wire(self) -> dict[str, Any]:
        return {self.TAG: {"t": self.timestamp, "c": self.symbol, "px": self.price}}


@attrs.frozen(init=False)
class Faucet(BaseAction):
    """Ask for test funds for ``user`` (``faucet``, testnet); a custom ``amount`` is whitelisted."""

    TAG: ClassVar[str] = "faucet"
    DISCRIMINANT: ClassVar[int] = 16

    user: str
    amount: float | None = None

    def __init__(self, user: str, amount: float | None = None) -> None:
        self.__attrs_init__(
            _hash_text(user, "user"), None if amount is None else _positive(amount, "amount")
        )

    def to_wire(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"u": self.user}
        if self.amount is not None:
            fields["amount"] = self.amount
        return {self.TAG: fields}


@attrs.frozen(init=False)
class UpdateLeverage(BaseAction):
    """Set the maximum leverage per symbol (``updateUserSettings``).

    ``settings`` is a mapping ``{symbol: leverage}`` or a sequence of ``(symbol, leverage)`` pairs.
    It is kept, sent and signed sorted by symbol (decision 9): the exchange re-encodes the signed
    bytes from the JSON, so both sides must walk the entries in the same order.
    """

    TAG: ClassVar[str] = "updateUserSettings"
    DISCRIMINANT: ClassVar[int] = 18

    settings: tuple[tuple[str, float], ...]

    def __init__(
        self, settings: Mapping[str, float] | Iterable[tuple[str, float] | list[Any]]
    ) -> None:
        if isinstance(settings, Mapping):
            pairs: list[object] = list(settings.items())
        elif isinstance(settings, Iterable) and not isinstance(settings, str | bytes):
            pairs = list(settings)
        else:
            raise ValueError(
                f"settings must be a mapping or (symbol, leverage) pairs, got {settings!r}"
            )
        if not pairs:
            raise ValueError("settings must name at least one symbol")
        checked: dict[str, float] = {}
        for index, pair in enumerate(pairs):
            if not isinstance(pair, tuple | list) or len(pair) != 2:
                raise ValueError(
                    f"settings[{index}] must be a (symbol, leverage) pair, got {pair!r}"
                )
            symbol = _symbol(pair[0], field=f"settings[{index}] symbol")
            if symbol in checked:
                raise ValueError(f"settings names {symbol!r} twice")
            checked[symbol] = _positive(pair[1], f"settings[{symbol!r}] leverage")
        # str order is code-point order, which is the UTF-8 byte order a Rust BTreeMap uses.
        self.__attrs_init__(tuple(sorted(checked.items())))

    def to_wire(self) -> dict[str, Any]:
        return {self.TAG: {"m": [[symbol, leverage] for symbol, leverage in self.settings]}}


@attrs.frozen(init=False)
class AgentWallet(BaseAction):
    """Authorize (or, with ``delete=True``, revoke) ``agent`` to sign for the account."""

    TAG: ClassVar[str] = "agentWalletCreation"
    DISCRIMINANT: ClassVar[int] = 17

    agent: str
    delete: bool = False

    def __init__(self, agent: str, delete: bool = False) -> None:
        self.__attrs_init__(_hash_text(agent, "agent"), _flag(delete, "delete"))

    def to_wire(self) -> dict[str, Any]:
        return {self.TAG: {"a": self.agent, "d": self.delete}}


# ---------------------------------------------------------------------------------------------
# Conditional orders: range (OCO), trailing stop, trigger basket, on-fill


def _nested_actions(value: object, field: str) -> tuple[BaseAction, ...]:
    """A non-empty list of actions carried inside another action (``trig``, ``of``, ``msp``)."""
    if isinstance(value, BaseAction) or not isinstance(value, Iterable) or isinstance(value, str):
        raise ValueError(f"{field} must be a list of actions, got {value!r}")
    listed = tuple(value)
    if not listed:
        raise ValueError(f"{field} must name at least one action")
    for index, action in enumerate(listed):
        if not isinstance(action, BaseAction):
            raise ValueError(f"{field}[{index}] must be an action, got {type(action).__name__}")
    return listed


@attrs.frozen(init=False)
class RangeOrder(BaseAction):
    """A range order (``rng``, an OCO): protects a position with a stop-loss and a take-profit
    leg; when one triggers the other is cancelled.

    ``is_buy`` is the side of the protected position (``True`` protects a long). For a long the
    stop loss lies below the take profit, for a short above it. Each leg triggers a market-style
    order unless its ``*_limit`` price is given.

    On the wire the legs are the low and the high trigger (``pmin``/``lmin``, ``pmax``/``lmax``,
    as the official Rust client names them ``collar_min``/``collar_max``): the stop-loss is the
    low leg of a long and the high leg of a short. :meth:`low_leg` and :meth:`high_leg` give them.
    """

    TAG: ClassVar[str] = "rng"
    DISCRIMINANT: ClassVar[int] = 7

    symbol: str
    is_buy: bool
    size: float
    stop_loss_price: float
    take_profit_price: float
    stop_loss_limit: float | None = None
    take_profit_limit: float | None = None
    iso: bool = False
    builder_code: BuilderCode | None = None
    sl_slippage_bps: float | None = None
    tp_slippage_bps: float | None = None

    def __init__(
        self,
        symbol: str,
        is_buy: bool,
        size: float,
        stop_loss_price: float,
        take_profit_price: float,
        stop_loss_limit: float | None = None,
        take_profit_limit: float | None = None,
        iso: bool = False,
        builder_code: BuilderCode | Mapping[str, Any] | None = None,
        sl_slippage_bps: float | None = None,
        tp_slippage_bps: float | None = None,
    ) -> None:
        is_buy = _flag(is_buy, "is_buy")
        stop_loss = _quantity(stop_loss_price, "stop_loss_price")
        take_profit = _quantity(take_profit_price, "take_profit_price")
        if (stop_loss >= take_profit) if is_buy else (stop_loss <= take_profit):
            where = "below" if is_buy else "above"
            position = "long" if is_buy else "short"
            raise ValueError(
                f"stop_loss_price {stop_loss!r} must lie {where} take_profit_price "
                f"{take_profit!r} when protecting a {position} (is_buy={is_buy})"
            )
        self.__attrs_init__(
            _symbol(symbol),
            is_buy,
            _quantity(size, "size"),
            stop_loss,
            take_profit,
            _optional_quantity(stop_loss_limit, "stop_loss_limit"),
            _optional_quantity(take_profit_limit, "take_profit_limit"),
            _flag(iso, "iso"),
            _builder_code(builder_code),
            _optional_basis_points(sl_slippage_bps, "sl_slippage_bps"),
            _optional_basis_points(tp_slippage_bps, "tp_slippage_bps"),
        )

    def low_leg(self) -> tuple[float, float | None]:
        """(trigger, limit) of the leg that fires when the price falls: ``pmin``, ``lmin``."""
        if self.is_buy:
            return self.stop_loss_price, self.stop_loss_limit
        return self.take_profit_price, self.take_profit_limit

    def high_leg(self) -> tuple[float, float | None]:
        """(trigger, limit) of the leg that fires when the price rises: ``pmax``, ``lmax``."""
        if self.is_buy:
            return self.take_profit_price, self.take_profit_limit
        return self.stop_loss_price, self.stop_loss_limit

    def to_wire(self) -> dict[str, Any]:
        (low_price, low_limit), (high_price, high_limit) = self.low_leg(), self.high_leg()
        fields: dict[str, Any] = {
            "c": self.symbol,
            "d": self.is_buy,
            "sz": self.size,
            "pmin": low_price,
            "pmax": high_price,
            "lmin": low_limit,
            "lmax": high_limit,
            "i": self.iso,
        }
        if self.builder_code is not None:
            fields["builderCode"] = self.builder_code.fields()
        if self.sl_slippage_bps is not None:
            fields["slSlippage"] = self.sl_slippage_bps
        if self.tp_slippage_bps is not None:
            fields["tpSlippage"] = self.tp_slippage_bps
        return {self.TAG: fields}


MAX_TRAIL_BPS = 9_999  # a trail of 100 % or more would put a long's stop at or below zero


@attrs.frozen(init=False)
class TrailingStop(BaseAction):
    """A trailing stop (``trl``): its trigger follows the best mark price by ``trail_bps``, moving
    in steps of ``step_bps``, and fires when the price turns back by the trail.

    ``protects_long=True`` guards a long position (it sells); ``False`` guards a short (it buys).
    """

    TAG: ClassVar[str] = "trl"
    DISCRIMINANT: ClassVar[int] = 9

    symbol: str
    protects_long: bool
    size: float
    trail_bps: int
    step_bps: int
    limit_price: float | None = None
    iso: bool = False
    builder_code: BuilderCode | None = None
    slippage_bps: float | None = None

    def __init__(
        self,
        symbol: str,
        protects_long: bool,
        size: float,
        trail_bps: int,
        step_bps: int,
        limit_price: float | None = None,
        iso: bool = False,
        builder_code: BuilderCode | Mapping[str, Any] | None = None,
        slippage_bps: float | None = None,
    ) -> None:
        trail = _u32_int(trail_bps, "trail_bps", minimum=1)
        if trail > MAX_TRAIL_BPS:
            raise ValueError(f"trail_bps must be 1..{MAX_TRAIL_BPS}, got {trail}")
        step = _u32_int(step_bps, "step_bps")
        if step > trail:
            raise ValueError(f"step_bps {step} must not exceed trail_bps {trail}")
        self.__attrs_init__(
            _symbol(symbol),
            _flag(protects_long, "protects_long"),
            _quantity(size, "size"),
            trail,
            step,
            _optional_quantity(limit_price, "limit_price"),
            _flag(iso, "iso"),
            _builder_code(builder_code),
            _optional_basis_points(slippage_bps, "slippage_bps"),
        )

    def to_wire(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "c": self.symbol,
            "b": self.protects_long,
            "sz": self.size,
            "trb": self.trail_bps,
            "stb": self.step_bps,
            "lim": self.limit_price,
            "i": self.iso,
        }
        if self.builder_code is not None:
            fields["builderCode"] = self.builder_code.fields()
        if self.slippage_bps is not None:
            fields["slippage"] = self.slippage_bps
        return {self.TAG: fields}


@attrs.frozen(init=False)
class TriggerBasket(BaseAction):
    """A trigger basket (``trig``): when the price of ``symbol`` crosses ``trigger_price``
    (upwards with ``is_above=True``), run ``actions`` in order."""

    TAG: ClassVar[str] = "trig"
    DISCRIMINANT: ClassVar[int] = 8

    symbol: str
    is_above: bool
    trigger_price: float
    actions: tuple[BaseAction, ...]

    def __init__(
        self, symbol: str, is_above: bool, trigger_price: float, actions: Iterable[BaseAction]
    ) -> None:
        self.__attrs_init__(
            _symbol(symbol),
            _flag(is_above, "is_above"),
            _quantity(trigger_price, "trigger_price"),
            _nested_actions(actions, "actions"),
        )

    def to_wire(self) -> dict[str, Any]:
        return {
            self.TAG: {
                "c": self.symbol,
                "d": self.is_above,
                "tr": self.trigger_price,
                "actions": [action.to_wire() for action in self.actions],
            }
        }


@attrs.frozen(init=False)
class OnFill(BaseAction):
    """An order with follow-ups (``of``): ``actions`` run once, on the first fill of ``trigger``
    (a limit or market order). A bracket is an entry with its stop-loss and take-profit."""

    TAG: ClassVar[str] = "of"
    DISCRIMINANT: ClassVar[int] = 10

    trigger: LimitOrder | MarketOrder
    actions: tuple[BaseAction, ...]

    def __init__(self, trigger: LimitOrder | MarketOrder, actions: Iterable[BaseAction]) -> None:
        if not isinstance(trigger, LimitOrder | MarketOrder):
            raise ValueError(
                f"trigger must be a LimitOrder or MarketOrder, got {type(trigger).__name__}"
            )
        self.__attrs_init__(trigger, _nested_actions(actions, "actions"))

    def to_wire(self) -> dict[str, Any]:
        return {
            self.TAG: {
                "trigger": self.trigger.to_wire(),
                "actions": [action.to_wire() for action in self.actions],
            }
        }


# ---------------------------------------------------------------------------------------------
# Builder codes, sub-accounts, transfers


@attrs.frozen(init=False)
class ApproveBuilderCode(BaseAction):
    """Approve builder code recipient ``to`` for fees up to ``fee`` basis points (``abc``).

    Orders may then carry ``builder_code=BuilderCode(to, fee)`` with at most that fee.
    """

    TAG: ClassVar[str] = "abc"
    DISCRIMINANT: ClassVar[int] = 40

    to: str
    fee: int

    def __init__(self, to: str, fee: int) -> None:
        self.__attrs_init__(_hash_text(to, "to"), _builder_fee(fee))

    def to_wire(self) -> dict[str, Any]:
        return {self.TAG: {"to": self.to, "fee": self.fee}}


@attrs.frozen(init=False)
class RevokeBuilderCode(BaseAction):
    """Withdraw the approval of builder code recipient ``to`` (``rbc``)."""

    TAG: ClassVar[str] = "rbc"
    DISCRIMINANT: ClassVar[int] = 41

    to: str

    def __init__(self, to: str) -> None:
        self.__attrs_init__(_hash_text(to, "to"))

    def to_wire(self) -> dict[str, Any]:
        return {self.TAG: {"to": self.to}}


def _name(value: object, field: str = "name") -> str:
    if not isinstance(value, str):
        raise ValueError(f"{field} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{field} must not be empty or whitespace")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{field} is not encodable as UTF-8") from None
    return value


@attrs.frozen(init=False)
class CreateSubAccount(BaseAction):
    """Create a sub-account called ``name``, optionally funded with ``margin_amount`` from the
    account (``createSubAccount``)."""

    TAG: ClassVar[str] = "createSubAccount"
    DISCRIMINANT: ClassVar[int] = 27

    name: str
    margin_amount: float | None = None

    def __init__(self, name: str, margin_amount: float | None = None) -> None:
        self.__attrs_init__(
            _name(name),
            None if margin_amount is None else _positive(margin_amount, "margin_amount"),
        )

    def to_wire(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"name": self.name}
        if self.margin_amount is not None:
            fields["marginAmount"] = self.margin_amount
        return {self.TAG: fields}


@attrs.frozen(init=False)
class RemoveSubAccount(BaseAction):
    """Remove the sub-account ``sub_account`` (``removeSubAccount``)."""

    TAG: ClassVar[str] = "removeSubAccount"
    DISCRIMINANT: ClassVar[int] = 28

    sub_account: str

    def __init__(self, sub_account: str) -> None:
        self.__attrs_init__(_hash_text(sub_account, "sub_account"))

    def to_wire(self) -> dict[str, Any]:
        return {self.TAG: {"toRemove": self.sub_account}}


@attrs.frozen(init=False)
class RenameSubAccount(BaseAction):
    """Give the sub-account ``sub_account`` a new ``name`` (``rsa``)."""

    TAG: ClassVar[str] = "rsa"
    DISCRIMINANT: ClassVar[int] = 37

    sub_account: str
    name: str

    def __init__(self, sub_account: str, name: str) -> None:
        self.__attrs_init__(_hash_text(sub_account, "sub_account"), _name(name))

    def to_wire(self) -> dict[str, Any]:
        return {self.TAG: {"a": self.sub_account, "n": self.name}}


@attrs.frozen(init=False)
class Transfer(BaseAction):
    """Move ``amount`` of margin from ``source`` to ``destination`` (``transfer``).

    Internal transfers move margin between an account and its sub-accounts; ``external=True``
    sends it to another account, optionally naming the margin ``symbol``.
    """

    TAG: ClassVar[str] = "transfer"
    DISCRIMINANT: ClassVar[int] = 29

    source: str
    destination: str
    amount: float
    external: bool = False
    symbol: str | None = None

    def __init__(
        self,
        source: str,
        destination: str,
        amount: float,
        external: bool = False,
        symbol: str | None = None,
    ) -> None:
        source = _hash_text(source, "source")
        destination = _hash_text(destination, "destination")
        if source == destination:
            raise ValueError("destination must differ from source")
        self.__attrs_init__(
            source,
            destination,
            _positive(amount, "amount"),
            _flag(external, "external"),
            None if symbol is None else _symbol(symbol),
        )

    def to_wire(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "k": "external" if self.external else "internal",
            "from": self.source,
            "to": self.destination,
            "marginAmount": self.amount,
        }
        if self.symbol is not None:
            fields["symbol"] = self.symbol
        return {self.TAG: fields}


# ---------------------------------------------------------------------------------------------
# Multisig accounts


def _signers(value: object, field: str = "signers") -> tuple[str, ...]:
    if not isinstance(value, Iterable) or isinstance(value, str):
        raise ValueError(f"{field} must be a list of base58 public keys, got {value!r}")
    listed = tuple(_hash_text(key, f"{field}[{index}]") for index, key in enumerate(value))
    if not listed:
        raise ValueError(f"{field} must name at least one signer")
    if len(set(listed)) != len(listed):
        raise ValueError(f"{field} names a signer twice")
    return listed


def _policy(
    signers: object, threshold: object, time_lock_secs: object, proposal_lifetime_secs: object
) -> tuple[tuple[str, ...], int, int, int]:
    """Checked signers, threshold (1..number of signers), time lock and proposal lifetime."""
    listed = _signers(signers)
    count = _u32_int(threshold, "threshold", minimum=1)
    if count > len(listed):
        raise ValueError(f"threshold {count} exceeds the {len(listed)} signers")
    lifetime = _u32_int(proposal_lifetime_secs, "proposal_lifetime_secs", minimum=1)
    return listed, count, _u32_int(time_lock_secs, "time_lock_secs"), lifetime


@attrs.frozen(init=False)
class CreateMultisig(BaseAction):
    """Create a multisig account (``createMultisig``): proposals need ``threshold`` of
    ``signers``, may execute ``time_lock_secs`` after approval and expire after
    ``proposal_lifetime_secs``."""

    TAG: ClassVar[str] = "createMultisig"
    DISCRIMINANT: ClassVar[int] = 30

    signers: tuple[str, ...]
    threshold: int
    time_lock_secs: int
    proposal_lifetime_secs: int

    def __init__(
        self,
        signers: Iterable[str],
        threshold: int,
        time_lock_secs: int,
        proposal_lifetime_secs: int,
    ) -> None:
        self.__attrs_init__(*_policy(signers, threshold, time_lock_secs, proposal_lifetime_secs))

    def to_wire(self) -> dict[str, Any]:
        return {
            self.TAG: {
                "signers": list(self.signers),
                "threshold": self.threshold,
                "timeLockSecs": self.time_lock_secs,
                "proposalLifetimeSecs": self.proposal_lifetime_secs,
            }
        }


@attrs.frozen(init=False)
class MultisigPropose(BaseAction):
    """Propose ``actions`` for the multisig account ``multisig`` (``msp``); ``lifetime_secs``
    overrides the policy's proposal lifetime."""

    TAG: ClassVar[str] = "msp"
    DISCRIMINANT: ClassVar[int] = 31

    multisig: str
    actions: tuple[BaseAction, ...]
    lifetime_secs: int | None = None

    def __init__(
        self, multisig: str, actions: Iterable[BaseAction], lifetime_secs: int | None = None
    ) -> None:
        self.__attrs_init__(
            _hash_text(multisig, "multisig"),
            _nested_actions(actions, "actions"),
            None if lifetime_secs is None else _u32_int(lifetime_secs, "lifetime_secs", minimum=1),
        )

    def to_wire(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "m": self.multisig,
            "a": [action.to_wire() for action in self.actions],
        }
        if self.lifetime_secs is not None:
            fields["l"] = self.lifetime_secs
        return {self.TAG: fields}


@attrs.frozen(init=False)
class _MultisigProposalAction(BaseAction):
    """Fields and encoding shared by the actions on one proposal: ``32B m ‖ u64 p``."""

    multisig: str
    proposal_id: int

    def __init__(self, multisig: str, proposal_id: int) -> None:
        self.__attrs_init__(_hash_text(multisig, "multisig"), _u64_int(proposal_id, "proposal_id"))

    def to_wire(self) -> dict[str, Any]:
        return {self.TAG: {"m": self.multisig, "p": self.proposal_id}}


@attrs.frozen(init=False)
class MultisigApprove(_MultisigProposalAction):
    """Approve proposal ``proposal_id`` of ``multisig`` (``msa``)."""

    TAG: ClassVar[str] = "msa"
    DISCRIMINANT: ClassVar[int] = 32


@attrs.frozen(init=False)
class MultisigReject(_MultisigProposalAction):
    """Reject proposal ``proposal_id`` of ``multisig`` (``msr``)."""

    TAG: ClassVar[str] = "msr"
    DISCRIMINANT: ClassVar[int] = 33


@attrs.frozen(init=False)
class MultisigCancel(_MultisigProposalAction):
    """Cancel proposal ``proposal_id`` of ``multisig`` (``msc``; its proposer)."""

    TAG: ClassVar[str] = "msc"
    DISCRIMINANT: ClassVar[int] = 34


@attrs.frozen(init=False)
class MultisigExecute(_MultisigProposalAction):
    """Execute the approved proposal ``proposal_id`` of ``multisig`` (``mse``)."""

    TAG: ClassVar[str] = "mse"
    DISCRIMINANT: ClassVar[int] = 35


@attrs.frozen(init=False)
class MultisigUpdate(BaseAction):
    """Replace the policy of ``multisig`` (``msu``); fields as in :class:`CreateMultisig`."""

    TAG: ClassVar[str] = "msu"
    DISCRIMINANT: ClassVar[int] = 36

    multisig: str
    signers: tuple[str, ...]
    threshold: int
    time_lock_secs: int
    proposal_lifetime_secs: int

    def __init__(
        self,
        multisig: str,
        signers: Iterable[str],
        threshold: int,
        time_lock_secs: int,
        proposal_lifetime_secs: int,
    ) -> None:
        self.__attrs_init__(
            _hash_text(multisig, "multisig"),
            *_policy(signers, threshold, time_lock_secs, proposal_lifetime_secs),
        )

    def to_wire(self) -> dict[str, Any]:
        return {
            self.TAG: {
                "m": self.multisig,
                "signers": list(self.signers),
                "threshold": self.threshold,
                "timeLockSecs": self.time_lock_secs,
                "proposalLifetimeSecs": self.proposal_lifetime_secs,
            }
        }


# ---------------------------------------------------------------------------------------------
# Oracle and faucet administration


@attrs.frozen(init=False)
class PythOracle(BaseAction):
    """Pyth oracle prices (``o``; oracle keys only): ``entries`` of
    ``(timestamp, feed_index, price, exponent)``, the price being ``price * 10**exponent``."""

    TAG: ClassVar[str] = "o"
    DISCRIMINANT: ClassVar[int] = 13

    entries: tuple[tuple[int, int, int, int], ...]

    def __init__(self, entries: Iterable[tuple[int, int, int, int]]) -> None:
        if not isinstance(entries, Iterable) or isinstance(entries, str):
            raise ValueError(f"entries must be a list of 4-tuples, got {entries!r}")
        checked: list[tuple[int, int, int, int]] = []
        for index, entry in enumerate(entries):
            name = f"entries[{index}]"
            if not isinstance(entry, tuple | list) or len(entry) != 4:
                raise ValueError(
                    f"{name} must be (timestamp, feed_index, price, exponent), got {entry!r}"
                )
            timestamp, feed_index, price, exponent = entry
            if isinstance(exponent, bool) or not isinstance(exponent, int):
                raise ValueError(f"{name} exponent must be an integer, got {exponent!r}")
            if not -(2**15) <= exponent < 2**15:
                raise ValueError(f"{name} exponent must fit in an i16, got {exponent}")
            checked.append(
                (
                    _u64_int(timestamp, f"{name} timestamp"),
                    _u64_int(feed_index, f"{name} feed_index"),
                    _u64_int(price, f"{name} price"),
                    exponent,
                )
            )
        if not checked:
            raise ValueError("entries must hold at least one price")
        self.__attrs_init__(tuple(checked))

    def to_wire(self) -> dict[str, Any]:
        oracles = [{"t": t, "fi": fi, "px": px, "e": e} for t, fi, px, e in self.entries]
        return {self.TAG: {"oracles": oracles}}


@attrs.frozen(init=False)
class WhitelistFaucet(BaseAction):
    """Allow (or forbid) ``target`` to ask the faucet for custom amounts (``whitelistFaucet``;
    admin keys only)."""

    TAG: ClassVar[str] = "whitelistFaucet"
    DISCRIMINANT: ClassVar[int] = 19

    target: str
    whitelist: bool

    def __init__(self, target: str, whitelist: bool) -> None:
        self.__attrs_init__(_hash_text(target, "target"), _flag(whitelist, "whitelist"))

    def to_wire(self) -> dict[str, Any]:
        return {self.TAG: {"target": self.target, "whitelist": self.whitelist}}


Action: TypeAlias = (
    LimitOrder
    | MarketOrder
    | CancelOrder
    | CancelAll
    | ModifyOrder
    | StopOrder
    | TakeProfitOrder
    | OraclePrice
    | Faucet
    | UpdateLeverage
    | AgentWallet
    | RangeOrder
    | TriggerBasket
    | TrailingStop
    | OnFill
    | ApproveBuilderCode
    | RevokeBuilderCode
    | CreateSubAccount
    | RemoveSubAccount
    | RenameSubAccount
    | Transfer
    | CreateMultisig
    | MultisigPropose
    | MultisigApprove
    | MultisigReject
    | MultisigCancel
    | MultisigExecute
    | MultisigUpdate
    | PythOracle
    | WhitelistFaucet
)
"""Every action this package can sign."""
