"""The synthetic market: a seeded random walk per symbol, a market maker that keeps resting
liquidity on both sides of it, and occasional takers so that public trades happen.

Sans-IO like the engine: :meth:`MarketFeed.step` moves the market once and returns the engine
events it caused; the simulator calls it from a Trio timer and tests call it directly. Orders go
through the engine's trusted path (no signatures), so they match against clients' orders exactly
as any other order would. The mark path depends only on the seed and the number of steps.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Mapping, Sequence

import attrs

from ..actions import CancelOrder, LimitOrder, MarketOrder
from ..enums import Side
from ..fixedpoint import to_fixed
from ..protocol.keys import b58encode
from .engine import Engine
from .events import EngineEvent, OrderView

DEFAULT_PRICES: Mapping[str, float] = {"BTC-USD": 100_000.0, "ETH-USD": 3_500.0, "SOL-USD": 150.0}
FALLBACK_PRICE = 100.0
HOUSE_FUNDS = 1e12
"""What the house accounts are funded with: enough that margin never stops them."""


def house_account(role: str) -> str:
    """A fixed, recognisable account for one of the feed's own traders (``maker``, ``taker``)."""
    return b58encode(hashlib.sha256(f"bulk-trio simulator {role}".encode()).digest())


MARKET_MAKER = house_account("maker")
TAKER = house_account("taker")


@attrs.frozen
class FeedSettings:
    """How the synthetic market behaves. Sizes are expressed as notional (quote currency)."""

    volatility: float = 0.0002
    """Standard deviation of the mark's relative move per step."""
    levels: int = 10
    """Price levels the market maker quotes on each side."""
    half_spread_bps: float = 2.0
    level_spacing_bps: float = 1.0
    level_notional: float = 20_000.0
    taker_probability: float = 0.3
    """Chance per symbol and step that a synthetic taker sends a market order."""
    taker_notional: float = 10_000.0
    taker_max_position_notional: float = 200_000.0
    """Beyond this the taker only trades to reduce its position, so it never drifts away."""

    def __attrs_post_init__(self) -> None:
        if not (self.volatility >= 0 and math.isfinite(self.volatility)):
            raise ValueError(f"volatility must be >= 0, got {self.volatility!r}")
        if self.levels < 1:
            raise ValueError(f"levels must be at least 1, got {self.levels!r}")
        if not 0 <= self.taker_probability <= 1:
            raise ValueError(f"taker_probability must be in [0, 1], got {self.taker_probability!r}")
        for name in ("half_spread_bps", "level_spacing_bps", "level_notional", "taker_notional"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")


def _power_of_ten_below(value: float, shift: int) -> float:
    return float(10 ** (math.floor(math.log10(value)) + shift))


@attrs.define
class _Instrument:
    """What the feed keeps per symbol: the walk's mid and the grid it quotes on."""

    mid: float
    tick: float
    """Price grid step: five decimal orders below the price (BTC 1.0, ETH 0.01, SOL 0.001)."""
    lot: float
    """Size grid step: two decimal orders below a level's size."""

    def price(self, ticks: int) -> float:
        # Rounding to the grid's decimals keeps 3499.99 from printing as 3499.9900000000002.
        return round(ticks * self.tick, 12)

    def size(self, notional: float, factor: float) -> float:
        lots = max(1, round(notional * factor / self.mid / self.lot))
        return round(lots * self.lot, 12)


class MarketFeed:
    """Drives the synthetic market of ``engine``. Call :meth:`open` once, then :meth:`step`."""

    def __init__(
        self,
        engine: Engine,
        *,
        seed: int | None = None,
        prices: Mapping[str, float] | None = None,
        settings: FeedSettings | None = None,
        market_maker: bool = True,
        takers: bool = True,
        step_seconds: float = 0.25,
    ) -> None:
        self.engine = engine
        self.settings = settings or FeedSettings()
        self.market_maker = market_maker
        self.takers = takers
        self._step_seconds = step_seconds
        # Separate generators so that the price path does not depend on how often takers trade.
        root = random.Random(seed)
        self._walk = random.Random(root.getrandbits(64))
        self._sizes = random.Random(root.getrandbits(64))
        self._takers = random.Random(root.getrandbits(64))
        start = start_prices(engine.symbols, prices)
        self._instruments = {
            symbol: _Instrument(
                mid=price,
                tick=_power_of_ten_below(price, -5),
                lot=_power_of_ten_below(self.settings.level_notional / price, -2),
            )
            for symbol, price in start.items()
        }
        for symbol, market in engine.markets.items():
            # Quote on the market's own grid, so the engine never rejects the house's orders.
            instrument = self._instruments[symbol]
            instrument.tick = market.tick_size * max(1, round(instrument.tick / market.tick_size))
            instrument.lot = market.lot_size * max(1, round(instrument.lot / market.lot_size))

    @property
    def symbols(self) -> Sequence[str]:
        return tuple(self._instruments)

    def mid(self, symbol: str) -> float:
        """The random walk's current price (what the mark is set to on each step)."""
        return self._instruments[symbol].mid

    def volatility(self, symbol: str) -> float:
        """The walk's volatility per day, for the ticker's analytics fields."""
        steps_per_day = 86_400 / self._step_seconds if self._step_seconds > 0 else 0.0
        return self.settings.volatility * math.sqrt(steps_per_day)

    def jump(self, symbol: str, price: float) -> None:
        """Continue the walk from ``price`` (after the control handle set the mark by hand)."""
        if not (price > 0 and math.isfinite(price)):
            raise ValueError(f"price must be positive, got {price!r}")
        self._instruments[symbol].mid = float(price)

    def open(self, now_ns: int) -> list[EngineEvent]:
        """Fund the house accounts and put the first quotes up."""
        events: list[EngineEvent] = []
        for account in (MARKET_MAKER, TAKER):
            events += self.engine.fund(account, HOUSE_FUNDS, now_ns=now_ns)
        for symbol, instrument in self._instruments.items():
            events += self.engine.set_mark(symbol, instrument.mid, now_ns=now_ns)
            if self.market_maker:
                events += self._requote(symbol, now_ns)
        return events

    def step(self, now_ns: int) -> list[EngineEvent]:
        """Move every symbol once: walk the mark, requote, maybe let a taker trade."""
        events: list[EngineEvent] = []
        for symbol, instrument in self._instruments.items():
            shock = self._walk.gauss(0.0, self.settings.volatility)
            instrument.mid *= math.exp(shock)
            events += self.engine.set_mark(symbol, instrument.mid, now_ns=now_ns)
            if self.market_maker:
                events += self._requote(symbol, now_ns)
            if self.takers and self._takers.random() < self.settings.taker_probability:
                events += self._take(symbol, now_ns)
        return events

    def _ladder(self, symbol: str) -> dict[tuple[bool, int], float]:
        """The levels the market maker wants around the current mid: (is_buy, 1e8 ticks) to
        price. Keyed by fixed point, as the engine keys its book, so float noise never matters."""
        instrument = self._instruments[symbol]
        mid, tick = instrument.mid, instrument.tick
        spacing = max(1, round(mid * self.settings.level_spacing_bps / 10_000 / tick))
        half_spread = mid * self.settings.half_spread_bps / 10_000
        best_bid = math.floor((mid - half_spread) / tick)
        best_ask = max(math.ceil((mid + half_spread) / tick), best_bid + 1)
        ladder: dict[tuple[bool, int], float] = {}
        for level in range(self.settings.levels):
            for is_buy, ticks in (
                (True, best_bid - level * spacing),
                (False, best_ask + level * spacing),
            ):
                if ticks > 0:
                    price = instrument.price(ticks)
                    ladder[(is_buy, to_fixed(price))] = price
        return ladder

    def _requote(self, symbol: str, now_ns: int) -> list[EngineEvent]:
        """Cancel quotes that left the ladder, then fill its empty levels, in one transaction.

        Quotes that are still on the ladder stay (with their time priority), so a small move of
        the mid changes only a few levels and the l2Delta stream stays light.
        """
        wanted = self._ladder(symbol)
        mine: dict[tuple[bool, int], OrderView] = {
            (order.is_buy, to_fixed(order.price)): order
            for order in self.engine.open_orders(MARKET_MAKER)
            if order.symbol == symbol
        }
        actions: list[CancelOrder | LimitOrder] = [
            CancelOrder(symbol, order.order_id) for key, order in mine.items() if key not in wanted
        ]
        instrument = self._instruments[symbol]
        for key in sorted(wanted.keys() - mine.keys()):
            is_buy, price = key[0], wanted[key]
            size = instrument.size(self.settings.level_notional, self._sizes.uniform(0.5, 1.5))
            actions.append(LimitOrder(symbol, Side.from_is_buy(is_buy), price, size))
        if not actions:
            return []
        return list(self.engine.submit_trusted(MARKET_MAKER, actions, now_ns=now_ns).events)

    def _take(self, symbol: str, now_ns: int) -> list[EngineEvent]:
        instrument = self._instruments[symbol]
        position = next(
            (p.size for p in self.engine.account_view(TAKER).positions if p.symbol == symbol), 0.0
        )
        limit = self.settings.taker_max_position_notional / instrument.mid
        if position > limit:
            is_buy = False
        elif position < -limit:
            is_buy = True
        else:
            is_buy = self._takers.random() < 0.5
        size = instrument.size(self.settings.taker_notional, self._takers.uniform(0.2, 1.5))
        order = MarketOrder(symbol, Side.from_is_buy(is_buy), size)
        return list(self.engine.submit_trusted(TAKER, [order], now_ns=now_ns).events)


def start_prices(symbols: Sequence[str], prices: Mapping[str, float] | None) -> dict[str, float]:
    """Each symbol's starting price: ``prices`` if given, else a familiar default, else 100."""
    given = prices or {}
    unknown = set(given) - set(symbols)
    if unknown:
        raise ValueError(f"prices given for symbols not traded here: {sorted(unknown)}")
    return {s: float(given.get(s, DEFAULT_PRICES.get(s, FALLBACK_PRICE))) for s in symbols}
