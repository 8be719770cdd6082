"""The actions a transaction carries (docs/protocol.md) and their signed bodies (§5.5).

Every action is an immutable attrs class that validates its input on construction (``ValueError``
naming the field), knows its wire JSON (``to_wire()``), its u32 discriminant and its signed byte
body for a given :class:`~bulk_trio.protocol.wincode.Layout`. :func:`action_from_wire` parses wire
JSON back, as leniently as the exchange does.

Prices and sizes are kept as the floats the caller gave; the wire carries those same floats and the
signed bytes carry their 1e8 fixed point. The exchange re-encodes the bytes from the JSON it
receives, so the JSON number must be exactly the float that was encoded.
"""

from __future__ import annotations

import abc
import math
import numbers
import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, TypeAlias, TypeVar

import attrs

from .enums import Side, TimeInForce
from .fixedpoint import to_fixed
from .literals import SideName, TimeInForceName
from .protocol import wincode
from .protocol.wincode import Layout

__all__ = [
    "Action",
    "AgentWallet",
    "BaseAction",
    "BuilderCode",
    "CancelAll",
    "CancelOrder",
    "Faucet",
    "LimitOrder",
    "MarketOrder",
    "ModifyOrder",
    "OraclePrice",
    "StopOrder",
    "TakeProfitOrder",
    "UpdateLeverage",
    "action_from_wire",
]

MIN_BUILDER_FEE = 1
MAX_BUILDER_FEE = 15

# ---------------------------------------------------------------------------------------------
# Validation of constructor arguments


def _symbol(value: object, field: str = "symbol") -> str:
    if not isinstance(value, str):
        raise ValueError(f"{field} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{field} must not be empty or whitespace")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{field} is not encodable as UTF-8") from None
    return value


def _flag(value: object, field: str) -> bool:
    # Strictly a bool: the exchange's JSON decoder rejects 0/1 for these fields.
    if not isinstance(value, bool):
        raise ValueError(f"{field} must be True or False, got {value!r}")
    return value


def _side(value: object, field: str = "side") -> Side:
    if isinstance(value, Side):
        return value
    if isinstance(value, str):
        try:
            return Side(value.lower())
        except ValueError:
            pass
    raise ValueError(f"{field} must be a Side or 'buy'/'sell', got {value!r}")


def _time_in_force(value: object) -> TimeInForce:
    if isinstance(value, TimeInForce):
        return value
    if isinstance(value, str):
        return TimeInForce.parse(value)
    raise ValueError(f"time_in_force must be a TimeInForce or GTC/IOC/ALO, got {value!r}")


def _finite(value: object, field: str) -> float:
    """A finite float from a real number (not a bool, not a string)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{field} must be a number, got {value!r}")
    try:
        number = float(value)
    except (OverflowError, ValueError):
        raise ValueError(f"{field} must be a finite number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{field} must be a finite number, got {value!r}")
    return number


def _positive(value: object, field: str) -> float:
    """A positive finite float, for quantities signed as binary64 (leverage, modify size, ...)."""
    number = _finite(value, field)
    if number <= 0:
        raise ValueError(f"{field} must be positive, got {value!r}")
    return number


def _quantity(value: object, field: str) -> float:
    """A positive price or size that is at least one tick of the 1e8 fixed point."""
    number = _positive(value, field)
    if to_fixed(number, field=field) == 0:
        raise ValueError(f"{field} {value!r} rounds to zero at the 1e-8 resolution of the exchange")
    return number


def _basis_points(value: object, field: str) -> float:
    """A non-negative slippage in basis points (signed as 1e8 fixed point, like prices)."""
    number = _finite(value, field)
    if number < 0:
        raise ValueError(f"{field} must not be negative, got {value!r}")
    to_fixed(number, field=field)  # raises on overflow
    return number


def _hash_text(value: object, field: str) -> str:
    """Base58 of a 32-byte public key or order id, kept as the text (validated once here)."""
    if not isinstance(value, str):
        raise ValueError(f"{field} must be a base58 string, got {type(value).__name__}")
    wincode.pubkey(value, field=field)
    return value


def _u64_int(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{field} must be an integer, got {value!r}")
    if not 0 <= value <= wincode.U64_MAX:
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

    @abc.abstractmethod
    def signed_body(self, layout: Layout) -> bytes:
        """The bytes after the discriminant; ``ValueError`` if ``layout`` cannot express them."""

    @property
    def preferred_layout(self) -> Layout:
        """The layout keychain 0.1.31 needs for this action (``signing.choose_layout``)."""
        return Layout.LEGACY


@attrs.frozen(init=False)
class BuilderCode(BaseAction):
    """A builder code: ``fee`` basis points (1..15) of an order's notional go to ``to``.

    Used in two places. Attached to an order (``builder_code=``) it is that order's
    ``builderCode {to, fee}``. Sent as an action of its own it approves the code
    (``abc``, "approveBuilderCode"), which the account must do before using it in orders.
    """

    TAG: ClassVar[str] = "abc"
    DISCRIMINANT: ClassVar[int] = 40

    to: str
    fee: int

    def __init__(self, to: str, fee: int) -> None:
        to = _hash_text(to, "to")
        if isinstance(fee, bool) or not isinstance(fee, int):
            raise ValueError(f"fee must be an integer number of basis points, got {fee!r}")
        if not MIN_BUILDER_FEE <= fee <= MAX_BUILDER_FEE:
            raise ValueError(f"fee must be {MIN_BUILDER_FEE}..{MAX_BUILDER_FEE} bps, got {fee}")
        self.__attrs_init__(to, fee)

    def fields(self) -> dict[str, Any]:
        """The ``{to, fee}`` object, as it appears inside an order."""
        return {"to": self.to, "fee": self.fee}

    def encoded(self) -> bytes:
        """``32B to ‖ u8 fee``, the builder code inside an order body."""
        return wincode.pubkey(self.to, field="to") + wincode.u8(self.fee)

    def to_wire(self) -> dict[str, Any]:
        return {self.TAG: self.fields()}

    def signed_body(self, layout: Layout) -> bytes:
        return self.encoded()


def _builder_code(value: object) -> BuilderCode | None:
    if value is None or isinstance(value, BuilderCode):
        return value
    if isinstance(value, Mapping):
        return BuilderCode(value.get("to"), value.get("fee"))  # type: ignore[arg-type]
    raise ValueError(f"builder_code must be a BuilderCode or {{'to', 'fee'}}, got {value!r}")


def _optional_builder_code(builder_code: BuilderCode | None) -> bytes:
    return wincode.option(None if builder_code is None else builder_code.encoded())


def _optional_fx(value: float | None, field: str) -> bytes:
    return wincode.option(None if value is None else wincode.fx(value, field=field))


def _order_tail(
    layout: Layout,
    builder_code: BuilderCode | None,
    slippage_bps: float | None = None,
    *,
    has_slippage: bool,
) -> bytes:
    """The optional trailing fields of a market (``has_slippage``) or limit order body (§5.5).

    Legacy bodies append ``01 ‖ bc`` only when a builder code is present, and cannot carry a
    slippage; versioned bodies always carry the option tags.
    """
    if not layout.is_versioned:
        if slippage_bps is not None:
            raise ValueError("slippage_bps cannot be signed in the legacy layout")
        return b"" if builder_code is None else wincode.SOME + builder_code.encoded()
    tail = _optional_builder_code(builder_code)
    if has_slippage:
        tail += _optional_fx(slippage_bps, "slippage_bps")
    return tail


# The fixed-width fields after the symbol, each written in one call (bool ‖ FX ‖ ... ‖ bool).
_LIMIT_FIELDS = wincode.packer("?QQI??")  # b, px, sz, tif, r, i
_MARKET_FIELDS = wincode.packer("?Q??")  # b, sz, r, i


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

    @property
    def preferred_layout(self) -> Layout:
        return Layout.LEGACY if self.builder_code is None else Layout.V3

    def to_wire(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "c": self.symbol,
            "b": self.side is Side.BUY,
            "px": self.price,
            "sz": self.size,
            "tif": self.time_in_force.value,
            "r": self.reduce_only,
            "i": self.iso,
        }
        if self.builder_code is not None:
            fields["builderCode"] = self.builder_code.fields()
        return {self.TAG: fields}

    def order_id_body(self) -> bytes:
        """The legacy body without builder code: what the order id hashes (§6)."""
        return wincode.string(self.symbol) + _LIMIT_FIELDS(
            self.side is Side.BUY,
            to_fixed(self.price, field="price"),
            to_fixed(self.size, field="size"),
            self.time_in_force.ordinal,
            self.reduce_only,
            self.iso,
        )

    def signed_body(self, layout: Layout) -> bytes:
        return self.order_id_body() + _order_tail(layout, self.builder_code, has_slippage=False)


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

    @property
    def preferred_layout(self) -> Layout:
        if self.builder_code is not None:
            return Layout.V3
        return Layout.LEGACY if self.slippage_bps is None else Layout.V2

    def to_wire(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "c": self.symbol,
            "b": self.side is Side.BUY,
            "sz": self.size,
            "r": self.reduce_only,
            "i": self.iso,
        }
        if self.builder_code is not None:
            fields["builderCode"] = self.builder_code.fields()
        if self.slippage_bps is not None:
            fields["slippage"] = self.slippage_bps
        return {self.TAG: fields}

    def order_id_body(self, *, keychain_slippage: bool = False) -> bytes:
        """The legacy body without builder code: what the order id hashes (§6).

        With ``keychain_slippage`` a slippage is appended as ``01 ‖ FX``, as keychain 0.1.31 does;
        the exchange's own rule for such orders is disputed (§6, §10.3).
        """
        body = wincode.string(self.symbol) + _MARKET_FIELDS(
            self.side is Side.BUY, to_fixed(self.size, field="size"), self.reduce_only, self.iso
        )
        if keychain_slippage and self.slippage_bps is not None:
            body += wincode.SOME + wincode.fx(self.slippage_bps, field="slippage_bps")
        return body

    def signed_body(self, layout: Layout) -> bytes:
        tail = _order_tail(layout, self.builder_code, self.slippage_bps, has_slippage=True)
        return self.order_id_body() + tail


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

    @property
    def preferred_layout(self) -> Layout:
        return Layout.V4

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

    def signed_body(self, layout: Layout) -> bytes:
        body = b"".join(
            (
                wincode.string(self.symbol),
                wincode.boolean(self.is_above),
                wincode.fx(self.size, field="size"),
                wincode.fx(self.trigger_price, field="trigger_price"),
                _optional_fx(self.limit_price, "limit_price"),
                wincode.boolean(self.iso),
            )
        )
        # Legacy bodies end here; V2/V3 add the builder code; V4 (and V6) add slippage too.
        carries_builder_code = layout.is_versioned
        carries_slippage = layout in (Layout.V4, Layout.V6)
        if self.builder_code is not None and not carries_builder_code:
            raise ValueError("builder_code cannot be signed in the legacy layout")
        if self.slippage_bps is not None and not carries_slippage:
            raise ValueError(f"slippage_bps cannot be signed in the {layout.name} layout")
        if carries_builder_code:
            body += _optional_builder_code(self.builder_code)
        if carries_slippage:
            body += _optional_fx(self.slippage_bps, "slippage_bps")
        return body


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

    def signed_body(self, layout: Layout) -> bytes:
        return (
            wincode.pubkey(self.oid, field="oid")
            + wincode.string(self.symbol)
            + wincode.f64(self.size)
        )


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

    def signed_body(self, layout: Layout) -> bytes:
        return wincode.string(self.symbol) + wincode.pubkey(self.oid, field="oid")


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
            listed = (_symbol(symbols, "symbols"),)
        elif isinstance(symbols, Iterable):
            listed = tuple(_symbol(s, f"symbols[{i}]") for i, s in enumerate(symbols))
        else:
            raise ValueError(f"symbols must be a list of symbols or None, got {symbols!r}")
        self.__attrs_init__(listed)

    def to_wire(self) -> dict[str, Any]:
        return {self.TAG: {"c": list(self.symbols)}}

    def signed_body(self, layout: Layout) -> bytes:
        return wincode.vec([wincode.string(symbol) for symbol in self.symbols])


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

    def signed_body(self, layout: Layout) -> bytes:
        return wincode.u64(self.timestamp) + wincode.string(self.symbol) + wincode.f64(self.price)


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

    def signed_body(self, layout: Layout) -> bytes:
        amount = None if self.amount is None else wincode.f64(self.amount)
        return wincode.pubkey(self.user, field="user") + wincode.option(amount)


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
            symbol = _symbol(pair[0], f"settings[{index}] symbol")
            if symbol in checked:
                raise ValueError(f"settings names {symbol!r} twice")
            checked[symbol] = _positive(pair[1], f"settings[{symbol!r}] leverage")
        # str order is code-point order, which is the UTF-8 byte order a Rust BTreeMap uses.
        self.__attrs_init__(tuple(sorted(checked.items())))

    def to_wire(self) -> dict[str, Any]:
        return {self.TAG: {"m": [[symbol, leverage] for symbol, leverage in self.settings]}}

    def signed_body(self, layout: Layout) -> bytes:
        return wincode.vec(
            [wincode.string(symbol) + wincode.f64(leverage) for symbol, leverage in self.settings]
        )


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

    def signed_body(self, layout: Layout) -> bytes:
        return wincode.pubkey(self.agent, field="agent") + wincode.boolean(self.delete)


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
    | BuilderCode
)
"""Every action this package can sign."""

# ---------------------------------------------------------------------------------------------
# Parsing wire JSON

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


_Triggered = TypeVar("_Triggered", bound=_TriggeredOrder)


def _triggered_from_wire(cls: type[_Triggered]) -> Callable[[_WireFields], _Triggered]:
    def parse(w: _WireFields) -> _Triggered:
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
    "abc": lambda w: BuilderCode(w.text("to"), w.integer("fee")),
    "approveBuilderCode": lambda w: BuilderCode(w.text("to"), w.integer("fee")),
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
