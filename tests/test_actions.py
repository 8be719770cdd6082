"""Actions: validation, wire JSON round trips, lenient parsing and signed bodies."""

from __future__ import annotations

import json
import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import attrs
import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bulk_trio.actions import (
    Action,
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
    action_from_wire,
)
from bulk_trio.enums import Side, TimeInForce
from bulk_trio.fixedpoint import to_fixed
from bulk_trio.protocol.keys import b58encode
from bulk_trio.protocol.subscriptions import Subscription

FAST = settings(max_examples=150, deadline=None)

PUBKEY = "3F5qRPtKg8GhGNnbd3qCj6nVJxWsGxq7pvH84okYLAqf"
OID = "2UQQp5TdJqkmmQvGnzHJM3thgebNJdqSqZDqfSCxHdCV"

# ---------------------------------------------------------------------------------------------
# Strategies

# The symbol rule (bulk_trio.checks): non-empty UTF-8 without whitespace.
symbols = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12).filter(
    lambda text: not any(char.isspace() for char in text)
)
hashes = st.binary(min_size=32, max_size=32).map(b58encode)
# Quantities at least one tick and far from the u64 ceiling; half of them on the 1e-8 grid.
quantities = st.one_of(
    st.floats(min_value=1e-8, max_value=1e10, allow_nan=False, allow_infinity=False),
    st.integers(min_value=1, max_value=10**17).map(lambda ticks: ticks / 1e8),
)
f64s = st.floats(min_value=1e-300, max_value=1e300, allow_nan=False, allow_infinity=False)
sides = st.sampled_from(Side)
flags = st.booleans()
builder_codes = st.none() | st.builds(BuilderCode, hashes, st.integers(1, 15))
slippages = st.none() | st.floats(min_value=0, max_value=10_000)

limits = st.builds(
    LimitOrder,
    symbols,
    sides,
    quantities,
    quantities,
    flags,
    st.sampled_from(TimeInForce),
    flags,
    builder_codes,
)
markets = st.builds(MarketOrder, symbols, sides, quantities, flags, flags, builder_codes, slippages)
triggered = st.sampled_from([StopOrder, TakeProfitOrder]).flatmap(
    lambda cls: st.builds(
        cls,
        symbols,
        flags,
        quantities,
        quantities,
        st.none() | quantities,
        flags,
        builder_codes,
        slippages,
    )
)
optional_quantities = st.none() | quantities
bps = st.none() | st.floats(min_value=0, max_value=10_000)


@st.composite
def ranges(draw: st.DrawFn) -> RangeOrder:
    is_buy = draw(flags)
    low, high = sorted(draw(st.lists(quantities, min_size=2, max_size=2, unique=True)))
    stop_loss, take_profit = (low, high) if is_buy else (high, low)
    return RangeOrder(
        draw(symbols),
        is_buy,
        draw(quantities),
        stop_loss,
        take_profit,
        draw(optional_quantities),
        draw(optional_quantities),
        draw(flags),
        draw(builder_codes),
        draw(bps),
        draw(bps),
    )


@st.composite
def trailing_stops(draw: st.DrawFn) -> TrailingStop:
    trail = draw(st.integers(1, 9_999))
    return TrailingStop(
        draw(symbols),
        draw(flags),
        draw(quantities),
        trail,
        draw(st.integers(0, trail)),
        draw(optional_quantities),
        draw(flags),
        draw(builder_codes),
        draw(bps),
    )


u32s = st.integers(0, 2**32 - 1)
signer_lists = st.lists(hashes, min_size=1, max_size=4, unique=True)


@st.composite
def policies(draw: st.DrawFn) -> tuple[list[str], int, int, int]:
    signers = draw(signer_lists)
    return signers, draw(st.integers(1, len(signers))), draw(u32s), draw(st.integers(1, 2**32 - 1))


conditionals = st.one_of(triggered, ranges(), trailing_stops())
orders = st.one_of(limits, markets)
# Actions that may ride inside another one (trigger baskets, on-fill, proposals).
children = st.lists(
    st.one_of(orders, conditionals, st.builds(CancelOrder, symbols, hashes)), min_size=1, max_size=3
)

actions: st.SearchStrategy[Action] = st.one_of(
    limits,
    markets,
    conditionals,
    st.builds(TriggerBasket, symbols, flags, quantities, children),
    st.builds(OnFill, orders, children),
    st.builds(ApproveBuilderCode, hashes, st.integers(1, 15)),
    st.builds(RevokeBuilderCode, hashes),
    st.builds(CreateSubAccount, symbols, st.none() | f64s),
    st.builds(RemoveSubAccount, hashes),
    st.builds(RenameSubAccount, hashes, symbols),
    st.builds(
        lambda pair, amount, external, symbol: Transfer(*pair, amount, external, symbol),
        st.lists(hashes, min_size=2, max_size=2, unique=True),
        f64s,
        flags,
        st.none() | symbols,
    ),
    policies().map(lambda policy: CreateMultisig(*policy)),
    st.builds(MultisigPropose, hashes, children, st.none() | st.integers(1, 2**32 - 1)),
    st.sampled_from([MultisigApprove, MultisigReject, MultisigCancel, MultisigExecute]).flatmap(
        lambda cls: st.builds(cls, hashes, st.integers(0, 2**64 - 1))
    ),
    st.builds(lambda m, policy: MultisigUpdate(m, *policy), hashes, policies()),
    st.builds(
        PythOracle,
        st.lists(
            st.tuples(
                st.integers(0, 2**64 - 1),
                st.integers(0, 2**64 - 1),
                st.integers(0, 2**64 - 1),
                st.integers(-(2**15), 2**15 - 1),
            ),
            min_size=1,
            max_size=3,
        ),
    ),
    st.builds(WhitelistFaucet, hashes, flags),
    st.builds(CancelOrder, symbols, hashes),
    st.builds(CancelAll, st.lists(symbols, max_size=3)),
    st.builds(ModifyOrder, symbols, hashes, quantities),
    st.builds(OraclePrice, symbols, f64s, st.integers(0, 2**64 - 1)),
    st.builds(Faucet, hashes, st.none() | f64s),
    st.builds(
        UpdateLeverage,
        st.dictionaries(symbols, st.floats(min_value=1, max_value=100), min_size=1, max_size=4),
    ),
    st.builds(AgentWallet, hashes, flags),
)

# ---------------------------------------------------------------------------------------------
# Wire JSON


@FAST
@given(actions)
def test_wire_json_round_trips(action: Action) -> None:
    assert action_from_wire(action.to_wire()) == action
    # What actually travels is JSON text; the floats must come back bit for bit.
    assert action_from_wire(orjson.loads(orjson.dumps(action.to_wire()))) == action
    assert action_from_wire(json.loads(json.dumps(action.to_wire()))) == action


@FAST
@given(actions)
def test_wire_object_has_one_tag_key(action: Action) -> None:
    wire = action.to_wire()
    assert list(wire) == [action.TAG]


def test_limit_wire_shape() -> None:
    order = LimitOrder("BTC-USD", "BUY", 100000, 0.1, time_in_force="alo")
    assert order.to_wire() == {
        "l": {
            "c": "BTC-USD",
            "b": True,
            "px": 100000.0,
            "sz": 0.1,
            "tif": "ALO",
            "r": False,
            "i": False,
        }
    }
    assert isinstance(order.to_wire()["l"]["px"], float)


def test_market_wire_carries_builder_code_and_slippage_only_when_set() -> None:
    plain = MarketOrder("ETH-USD", Side.SELL, 1.25)
    assert plain.to_wire() == {
        "m": {"c": "ETH-USD", "b": False, "sz": 1.25, "r": False, "i": False}
    }
    fancy = MarketOrder(
        "ETH-USD", "sell", 1.25, builder_code=BuilderCode(PUBKEY, 5), slippage_bps=25
    )
    assert fancy.to_wire()["m"]["builderCode"] == {"to": PUBKEY, "fee": 5}
    assert fancy.to_wire()["m"]["slippage"] == 25.0


def test_conditional_and_account_wire_shapes() -> None:
    # The shapes bulk-keychain 0.1.31 emits for the same actions (docs/protocol.md, catalogue).
    limit = LimitOrder("BTC-USD", "buy", 100000.0, 0.1)
    assert RangeOrder("BTC-USD", True, 0.1, 90000.0, 110000.0, sl_slippage_bps=5).to_wire() == {
        "rng": {
            "c": "BTC-USD",
            "d": True,
            "sz": 0.1,
            "pmin": 90000.0,
            "pmax": 110000.0,
            "lmin": None,
            "lmax": None,
            "i": False,
            "slSlippage": 5.0,
        }
    }
    assert TrailingStop("BTC-USD", True, 0.1, 50, 10).to_wire() == {
        "trl": {"c": "BTC-USD", "b": True, "sz": 0.1, "trb": 50, "stb": 10, "lim": None, "i": False}
    }
    assert TriggerBasket("BTC-USD", True, 100.0, [limit]).to_wire() == {
        "trig": {"c": "BTC-USD", "d": True, "tr": 100.0, "actions": [limit.to_wire()]}
    }
    stop = StopOrder("BTC-USD", False, 0.1, 90000.0)
    assert OnFill(limit, [stop]).to_wire() == {
        "of": {"trigger": limit.to_wire(), "actions": [stop.to_wire()]}
    }
    assert Transfer(PUBKEY, OID, 5.0).to_wire() == {
        "transfer": {"k": "internal", "from": PUBKEY, "to": OID, "marginAmount": 5.0}
    }
    assert CreateSubAccount("bots").to_wire() == {"createSubAccount": {"name": "bots"}}
    assert RemoveSubAccount(OID).to_wire() == {"removeSubAccount": {"toRemove": OID}}
    assert RenameSubAccount(OID, "b").to_wire() == {"rsa": {"a": OID, "n": "b"}}
    assert ApproveBuilderCode(OID, 5).to_wire() == {"abc": {"to": OID, "fee": 5}}
    assert RevokeBuilderCode(OID).to_wire() == {"rbc": {"to": OID}}
    assert MultisigCancel(OID, 7).to_wire() == {"msc": {"m": OID, "p": 7}}
    assert PythOracle([(1, 2, 3, -4)]).to_wire() == {
        "o": {"oracles": [{"t": 1, "fi": 2, "px": 3, "e": -4}]}
    }
    assert WhitelistFaucet(OID, True).to_wire() == {
        "whitelistFaucet": {"target": OID, "whitelist": True}
    }


def test_range_legs_are_low_and_high_on_the_wire() -> None:
    # pmin/lmin is the low trigger (the official Rust client's collar_min), pmax/lmax the high
    # one: the stop-loss of a short is its high leg.
    short = RangeOrder("BTC-USD", False, 1.0, 110.0, 90.0, 111.0, 89.0)
    fields = short.to_wire()["rng"]
    assert (fields["pmin"], fields["lmin"], fields["pmax"], fields["lmax"]) == (90, 89, 110, 111)
    assert action_from_wire(short.to_wire()) == short
    long = RangeOrder("BTC-USD", True, 1.0, 90.0, 110.0, 89.0, 111.0)
    assert long.to_wire()["rng"]["pmin"] == 90.0 and long.low_leg() == short.low_leg()


def test_alias_tags_parse_to_the_same_actions() -> None:
    assert action_from_wire({"revokeBuilderCode": {"to": OID}}) == RevokeBuilderCode(OID)
    assert action_from_wire({"renameSubAccount": {"a": OID, "n": "x"}}) == RenameSubAccount(
        OID, "x"
    )
    # A transfer without ``k`` is internal, as in keychain's default.
    wire = {"transfer": {"from": PUBKEY, "to": OID, "marginAmount": "2.5"}}
    assert action_from_wire(wire) == Transfer(PUBKEY, OID, 2.5)


def test_builder_code_is_a_value_not_an_action() -> None:
    assert not isinstance(BuilderCode(PUBKEY, 3), BaseAction)


def test_cancel_all_is_always_a_list() -> None:
    assert CancelAll().to_wire() == {"cxa": {"c": []}}
    assert CancelAll([]) == CancelAll(None) == CancelAll()
    assert CancelAll("BTC-USD").to_wire() == {"cxa": {"c": ["BTC-USD"]}}


def test_cancel_side_is_client_metadata_only() -> None:
    with_side = CancelOrder("BTC-USD", OID, side="buy")
    assert with_side.side is Side.BUY
    assert with_side.to_wire() == {"cx": {"c": "BTC-USD", "oid": OID}}
    assert with_side == CancelOrder("BTC-USD", OID)


def test_leverage_settings_are_sorted_pairs_whatever_the_input() -> None:
    from_map = UpdateLeverage({"SOL-USD": 2, "BTC-USD": 5.0})
    from_pairs = UpdateLeverage([("BTC-USD", 5.0), ("SOL-USD", 2.0)])
    assert from_map == from_pairs
    assert from_map.to_wire() == {"updateUserSettings": {"m": [["BTC-USD", 5.0], ["SOL-USD", 2.0]]}}


def test_stop_wire_sends_null_limit_for_market_style() -> None:
    stop = StopOrder("BTC-USD", False, 0.5, 90000.0)
    assert stop.to_wire() == {
        "st": {"c": "BTC-USD", "d": False, "sz": 0.5, "tr": 90000.0, "lim": None, "i": False}
    }


def test_oracle_price_timestamp_defaults_to_now_in_ns() -> None:
    assert OraclePrice("BTC-USD", 1.0).timestamp > 1_600_000_000 * 10**9


# ---------------------------------------------------------------------------------------------
# Lenient parsing


def test_numbers_may_be_numeric_strings_including_exponents() -> None:
    parsed = action_from_wire(
        {
            "l": {
                "c": "BTC-USD",
                "b": True,
                "px": "100000.0",
                "sz": "1e-05",
                "tif": "gtc",
                "r": False,
            }
        }
    )
    assert parsed == LimitOrder("BTC-USD", Side.BUY, 100000.0, 0.00001)


def test_integers_are_accepted_for_prices() -> None:
    parsed = action_from_wire({"m": {"c": "X", "b": False, "sz": 3, "r": True}})
    assert parsed == MarketOrder("X", Side.SELL, 3.0, reduce_only=True)


@pytest.mark.parametrize("tif", ["GTC", "gtc", "Gtc"])
def test_tif_in_any_case(tif: str) -> None:
    parsed = action_from_wire(
        {"l": {"c": "BTC-USD", "b": True, "px": 1, "sz": 1, "tif": tif, "r": False, "i": False}}
    )
    assert isinstance(parsed, LimitOrder)
    assert parsed.time_in_force is TimeInForce.GTC


def test_settings_as_map_or_pairs() -> None:
    as_map = action_from_wire({"updateUserSettings": {"m": {"ETH-USD": 3.0, "BTC-USD": 5.0}}})
    as_pairs = action_from_wire({"updateUserSettings": {"m": [["BTC-USD", 5], ["ETH-USD", "3"]]}})
    assert as_map == as_pairs == UpdateLeverage({"BTC-USD": 5.0, "ETH-USD": 3.0})


def test_approve_builder_code_alias() -> None:
    assert action_from_wire({"approveBuilderCode": {"to": PUBKEY, "fee": 3}}) == ApproveBuilderCode(
        PUBKEY, 3
    )


@pytest.mark.parametrize(
    ("wire", "named"),
    [
        ({"zz": {}}, "zz"),
        ({"l": {}, "m": {}}, "one key"),
        ([], "one key"),
        ({"l": []}, "l"),
        ({"l": {"b": True, "px": 1, "sz": 1, "tif": "GTC", "r": False}}, "l.c"),
        ({"l": {"c": "X", "b": True, "px": 1, "sz": 1, "tif": "GTC"}}, "l.r"),
        ({"l": {"c": "X", "b": "yes", "px": 1, "sz": 1, "tif": "GTC", "r": False}}, "l.b"),
        ({"l": {"c": "X", "b": True, "px": "1,5", "sz": 1, "tif": "GTC", "r": False}}, "l.px"),
        ({"l": {"c": "X", "b": True, "px": True, "sz": 1, "tif": "GTC", "r": False}}, "l.px"),
        ({"l": {"c": "X", "b": True, "px": 1, "sz": "nan", "tif": "GTC", "r": False}}, "l.sz"),
        ({"l": {"c": "X", "b": True, "px": 1, "sz": 1, "tif": "FOK", "r": False}}, "time_in_force"),
        ({"l": {"c": "X", "b": True, "px": -1, "sz": 1, "tif": "GTC", "r": False}}, "price"),
        ({"l": {"c": "X", "b": True, "px": 1, "sz": 1, "tif": "GTC", "r": False, "q": 1}}, "l.q"),
        ({"m": {"c": "X", "b": True, "sz": 1, "r": False, "builderCode": None}}, "builderCode"),
        ({"m": {"c": "X", "b": True, "sz": 1, "r": False, "builderCode": {"to": PUBKEY}}}, "fee"),
        ({"cx": {"c": "X", "oid": "0OIl"}}, "oid"),
        ({"cxa": {"c": None}}, "cxa.c"),
        ({"cxa": {"c": ["BTC-USD", 7]}}, "symbols[1]"),
        ({"px": {"c": "X", "px": 1.0, "t": 1.5}}, "px.t"),
        ({"updateUserSettings": {"m": [["BTC-USD"]]}}, "updateUserSettings.m"),
        ({"updateUserSettings": {"m": 5}}, "updateUserSettings.m"),
        ({"faucet": {"u": PUBKEY[:-1]}}, "user"),
        ({"abc": {"to": PUBKEY, "fee": 16}}, "fee"),
        ({"abc": {"to": PUBKEY, "fee": 5.0}}, "abc.fee"),
        ({"rbc": {}}, "rbc.to"),
        ({"trl": {"c": "X", "b": True, "sz": 1, "trb": 1.5, "stb": 1, "lim": None}}, "trl.trb"),
        ({"trig": {"c": "X", "d": True, "tr": 1, "actions": {}}}, "trig.actions"),
        ({"trig": {"c": "X", "d": True, "tr": 1, "actions": [{"zz": {}}]}}, r"trig.actions[0]"),
        ({"of": {"trigger": {"cx": {"c": "X", "oid": OID}}, "actions": []}}, "of.trigger"),
        ({"transfer": {"k": "sideways", "from": PUBKEY, "to": OID, "marginAmount": 1}}, "k"),
        ({"transfer": {"from": PUBKEY, "to": PUBKEY, "marginAmount": 1}}, "destination"),
        ({"createMultisig": {"signers": PUBKEY, "threshold": 1}}, "createMultisig.signers"),
        ({"msa": {"m": PUBKEY, "p": -1}}, "proposal_id"),
        ({"o": {"oracles": [{"t": 1, "fi": 1, "px": 1}]}}, "o.oracles[0].e"),
        ({"whitelistFaucet": {"target": PUBKEY, "whitelist": 1}}, "whitelistFaucet.whitelist"),
    ],
)
def test_wire_errors_name_the_field(wire: Any, named: str) -> None:
    with pytest.raises(ValueError, match=named.replace("[", r"\[").replace(".", r"\.")):
        action_from_wire(wire)


# ---------------------------------------------------------------------------------------------
# Validation at construction


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: LimitOrder("BTC-USD", "buy", math.nan, 1), "price"),
        (lambda: LimitOrder("BTC-USD", "buy", 1, math.inf), "size"),
        (lambda: LimitOrder("BTC-USD", "buy", -5, 1), "price"),
        (lambda: LimitOrder("BTC-USD", "buy", 0, 1), "price"),
        (lambda: LimitOrder("BTC-USD", "buy", 1, 4e-9), "size"),
        (lambda: LimitOrder("BTC-USD", "buy", 2e11, 1), "price"),
        (lambda: LimitOrder("BTC-USD", "buy", True, 1), "price"),
        (lambda: LimitOrder("BTC-USD", "buy", "1", 1), "price"),  # type: ignore[arg-type]
        (lambda: LimitOrder("", "buy", 1, 1), "symbol"),
        (lambda: LimitOrder("  \t", "buy", 1, 1), "symbol"),
        (lambda: LimitOrder("BTC USD", "buy", 1, 1), "whitespace"),
        (lambda: LimitOrder("BTC-\ud800", "buy", 1, 1), "symbol"),
        (lambda: LimitOrder("BTC-USD", "long", 1, 1), "side"),
        (lambda: LimitOrder("BTC-USD", "buy", 1, 1, time_in_force="DAY"), "time_in_force"),
        (lambda: LimitOrder("BTC-USD", "buy", 1, 1, reduce_only=1), "reduce_only"),  # type: ignore[arg-type]
        (lambda: LimitOrder("BTC-USD", "buy", 1, 1, builder_code={"to": PUBKEY}), "fee"),
        (lambda: MarketOrder("BTC-USD", "sell", -0.0), "size"),
        (lambda: MarketOrder("BTC-USD", "sell", 1, slippage_bps=-1), "slippage_bps"),
        (lambda: MarketOrder("BTC-USD", "sell", 1, slippage_bps=math.nan), "slippage_bps"),
        (lambda: MarketOrder("BTC-USD", "sell", 1, iso=None), "iso"),  # type: ignore[arg-type]
        (lambda: StopOrder("BTC-USD", False, 1, 0), "trigger_price"),
        (lambda: StopOrder("BTC-USD", False, 1, 1, limit_price=math.inf), "limit_price"),
        (lambda: StopOrder("BTC-USD", 0, 1, 1), "is_above"),  # type: ignore[arg-type]
        (lambda: CancelOrder("BTC-USD", "not-base58!"), "oid"),
        (lambda: CancelOrder("BTC-USD", OID[:-2]), "oid"),
        (lambda: CancelOrder("BTC-USD", "1" + OID), "oid"),
        (lambda: CancelAll(["BTC-USD", " "]), r"symbols\[1\]"),
        (lambda: ModifyOrder("BTC-USD", OID, 0), "size"),
        (lambda: ModifyOrder("BTC-USD", 42, 1), "oid"),  # type: ignore[arg-type]
        (lambda: OraclePrice("BTC-USD", 1, timestamp=-1), "timestamp"),
        (lambda: OraclePrice("BTC-USD", 1, timestamp=2**64), "timestamp"),
        (lambda: OraclePrice("BTC-USD", math.nan), "price"),
        (lambda: Faucet("abc"), "user"),
        (lambda: Faucet(PUBKEY, amount=-1), "amount"),
        (lambda: Faucet(PUBKEY, amount=False), "amount"),
        (lambda: AgentWallet(PUBKEY + "1"), "agent"),
        (lambda: AgentWallet(PUBKEY, delete="no"), "delete"),  # type: ignore[arg-type]
        (lambda: BuilderCode(PUBKEY, 0), "fee"),
        (lambda: BuilderCode(PUBKEY, 16), "fee"),
        (lambda: BuilderCode(PUBKEY, True), "fee"),
        (lambda: BuilderCode("", 5), "to"),
        (lambda: UpdateLeverage({}), "settings"),
        (lambda: UpdateLeverage({"BTC-USD": 0}), "leverage"),
        (lambda: UpdateLeverage({"BTC-USD": True}), "leverage"),
        (lambda: UpdateLeverage([("BTC-USD", 2), ("BTC-USD", 3)]), "twice"),
        (lambda: UpdateLeverage([("BTC-USD",)]), "settings"),  # type: ignore[list-item]
        (lambda: UpdateLeverage("BTC-USD"), "settings"),  # type: ignore[arg-type]
        (lambda: RangeOrder("BTC-USD", True, 1, 110, 90), "stop_loss_price"),
        (lambda: RangeOrder("BTC-USD", False, 1, 90, 110), "stop_loss_price"),
        (lambda: RangeOrder("BTC-USD", True, 1, 90, 110, take_profit_limit=0), "take_profit_limit"),
        (lambda: RangeOrder("BTC-USD", True, 1, 90, 110, tp_slippage_bps=-1), "tp_slippage_bps"),
        (lambda: RangeOrder("BTC-USD", 1, 1, 90, 110), "is_buy"),  # type: ignore[arg-type]
        (lambda: TrailingStop("BTC-USD", True, 1, 0, 0), "trail_bps"),
        (lambda: TrailingStop("BTC-USD", True, 1, 10_000, 0), "trail_bps"),
        (lambda: TrailingStop("BTC-USD", True, 1, 50, 51), "step_bps"),
        (lambda: TrailingStop("BTC-USD", True, 1, 50.0, 5), "trail_bps"),  # type: ignore[arg-type]
        (lambda: TrailingStop("BTC-USD", "yes", 1, 50, 5), "protects_long"),  # type: ignore[arg-type]
        (lambda: TriggerBasket("BTC-USD", True, 100, []), "actions"),
        (lambda: TriggerBasket("BTC-USD", True, 100, [object()]), r"actions\[0\]"),  # type: ignore[list-item]
        (lambda: TriggerBasket("BTC-USD", True, 0, [CancelAll()]), "trigger_price"),
        (lambda: OnFill(CancelAll(), [CancelAll()]), "trigger"),  # type: ignore[arg-type]
        (lambda: OnFill(LimitOrder("X", "buy", 1, 1), []), "actions"),
        (lambda: ApproveBuilderCode(PUBKEY, 16), "fee"),
        (lambda: ApproveBuilderCode("nope", 1), "to"),
        (lambda: RevokeBuilderCode(OID[:-3]), "to"),
        (lambda: CreateSubAccount(" "), "name"),
        (lambda: CreateSubAccount("bots", margin_amount=0), "margin_amount"),
        (lambda: RemoveSubAccount("x"), "sub_account"),
        (lambda: RenameSubAccount(PUBKEY, ""), "name"),
        (lambda: Transfer(PUBKEY, OID, -5), "amount"),
        (lambda: Transfer(PUBKEY, PUBKEY, 5), "destination"),
        (lambda: Transfer("x", OID, 5), "source"),
        (lambda: Transfer(PUBKEY, OID, 5, external="yes"), "external"),  # type: ignore[arg-type]
        (lambda: CreateMultisig([], 1, 0, 60), "signers"),
        (lambda: CreateMultisig([PUBKEY, PUBKEY], 1, 0, 60), "signers"),
        (lambda: CreateMultisig([PUBKEY], 2, 0, 60), "threshold"),
        (lambda: CreateMultisig([PUBKEY], 1, -1, 60), "time_lock_secs"),
        (lambda: CreateMultisig([PUBKEY], 1, 0, 0), "proposal_lifetime_secs"),
        (lambda: MultisigPropose(PUBKEY, [], None), "actions"),
        (lambda: MultisigPropose(PUBKEY, [CancelAll()], 0), "lifetime_secs"),
        (lambda: MultisigApprove(PUBKEY, 2**64), "proposal_id"),
        (lambda: MultisigExecute("x", 1), "multisig"),
        (lambda: MultisigUpdate(PUBKEY, [OID], 0, 0, 60), "threshold"),
        (lambda: PythOracle([]), "entries"),
        (lambda: PythOracle([(1, 2, 3)]), r"entries\[0\]"),  # type: ignore[list-item]
        (lambda: PythOracle([(1, 2, 3, 2**15)]), "exponent"),
        (lambda: PythOracle([(1, 2, -3, 0)]), "price"),
        (lambda: WhitelistFaucet(PUBKEY, None), "whitelist"),  # type: ignore[arg-type]
    ],
)
def test_invalid_input_is_a_value_error_naming_the_field(build: Any, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        build()


def test_actions_are_immutable() -> None:
    order = LimitOrder("BTC-USD", "buy", 1, 1)
    with pytest.raises(AttributeError):
        order.price = 2.0  # type: ignore[misc]


# ---------------------------------------------------------------------------------------------
# Signed bodies


@FAST
@given(
    st.one_of(
        st.floats(min_value=0, max_value=1e11, allow_nan=False, allow_infinity=False),
        st.integers(min_value=0, max_value=10**13).map(lambda k: (k + 0.5) / 1e8),
    )
)
@example(2.5e-08)  # product exactly 2.5: half away from zero gives 3, Python's round() 2
@example(1.25e-07)
@example(2.69500001)
def test_to_fixed_rounds_the_binary64_product_half_away_from_zero(value: float) -> None:
    exact_product = Decimal(value * 1e8)  # the binary64 product, converted exactly
    expected = int(exact_product.to_integral_value(rounding=ROUND_HALF_UP))
    assert to_fixed(value) == expected


def test_evolve_revalidates() -> None:
    order = LimitOrder("BTC-USD", "buy", 1, 1, builder_code={"to": PUBKEY, "fee": 2})
    assert order.builder_code == BuilderCode(PUBKEY, 2)
    moved = attrs.evolve(order, price=2)
    assert moved.price == 2.0
    assert moved.builder_code == order.builder_code
    with pytest.raises(ValueError, match="price"):
        attrs.evolve(order, price=-2)


def test_actions_and_subscriptions_share_one_symbol_rule() -> None:
    for bad in ("BTC USD", "", " BTC-USD", "BTC-USD\n"):
        with pytest.raises(ValueError, match="symbol") as from_order:
            LimitOrder(bad, "buy", 1, 1)
        with pytest.raises(ValueError, match="symbol") as from_subscription:
            Subscription.ticker(bad)
        assert str(from_order.value) == str(from_subscription.value)
    assert LimitOrder("ÆØÅ-USD", "buy", 1, 1).symbol == Subscription.ticker("ÆØÅ-USD").symbol
