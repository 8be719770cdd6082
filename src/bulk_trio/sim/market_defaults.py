"""The simulator's default trading rules per market, when ``open_simulator(markets=...)`` gives
none (docs/guides/http.md).

Tick and lot are powers of ten scaled to the starting price, so every market has a realistic grid
without configuration: a tick six decimal orders below the price (BTC at 100 000: 0.1, ETH at
3 500: 0.001, SOL at 150: 0.0001) and a lot worth between 1 and 10 quote units (BTC 0.0001, ETH
0.001, SOL 0.01). The minimum notional is 1.0 and the leverage cap 50, deliberately permissive: a
test that wants the exchange's stricter figures passes its own :class:`~bulk_trio.Market` list.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from ..markets import Market

__all__ = ["DEFAULT_MIN_NOTIONAL", "default_market", "default_markets"]

DEFAULT_MIN_NOTIONAL = 1.0
DEFAULT_MAX_LEVERAGE = 50.0


def _power_of_ten(exponent: int) -> float:
    return float(10**exponent) if exponent >= 0 else 1 / 10**-exponent


def default_market(symbol: str, price: float) -> Market:
    """The rules the simulator gives ``symbol`` when it starts at ``price``."""
    magnitude = math.floor(math.log10(price))
    base, _, quote = symbol.partition("-")
    return Market(
        symbol=symbol,
        tick_size=_power_of_ten(magnitude - 6),
        lot_size=_power_of_ten(math.floor(math.log10(10 / price))),
        min_notional=DEFAULT_MIN_NOTIONAL,
        max_leverage=DEFAULT_MAX_LEVERAGE,
        base_asset=base,
        quote_asset="USDC" if quote in ("USD", "") else quote,
        price_precision=max(0, 6 - magnitude),
        size_precision=max(0, -math.floor(math.log10(10 / price))),
        order_types=("LIMIT", "MARKET"),
        time_in_forces=("GTC", "IOC", "ALO"),
    )


def default_markets(prices: Mapping[str, float]) -> list[Market]:
    """:func:`default_market` for every symbol, from its starting price."""
    return [default_market(symbol, price) for symbol, price in prices.items()]
