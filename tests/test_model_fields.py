"""Model construction that cannot silently swap fields.

Every model is keyword-only, except the market-data models the codec builds positionally on its hot
path (one frame after another at feed speed). For those, the field order is pinned here: a change
to it must change this test and the codec's constructor calls together.
"""

from __future__ import annotations

import attrs
import pytest

from bulk_trio import book_view, http_models, inventory, models, networks

POSITIONAL_HOT_PATH = {
    models.Ticker: (
        "symbol",
        "last_price",
        "mark_price",
        "oracle_price",
        "price_change",
        "price_change_percent",
        "high_price",
        "low_price",
        "volume",
        "quote_volume",
        "open_interest",
        "funding_rate",
        "timestamp",
        "regime",
        "regime_dt",
        "regime_vol",
        "regime_mv",
        "fair_book_price",
        "fair_vol",
        "fair_bias",
    ),
    models.Trade: ("symbol", "price", "size", "side", "time", "maker", "taker", "reason"),
    models.TradeBatch: ("symbol", "trades"),
    models.BookLevel: ("price", "size", "count"),
    models.L2Snapshot: ("symbol", "timestamp", "bids", "asks"),
    models.L2Delta: ("symbol", "timestamp", "bids", "asks", "is_snapshot"),
    models.Candle: (
        "symbol",
        "interval",
        "open_time",
        "close_time",
        "open",
        "high",
        "low",
        "close",
        "volume",
        "trades",
    ),
}

# The values users read and build: what the exchange sends (WebSocket and HTTP), P&L, presets.
ALL_MODELS = [
    value
    for module in (models, http_models, inventory, networks, book_view)
    for name, value in vars(module).items()
    if isinstance(value, type)
    and attrs.has(value)
    and value.__module__ == module.__name__
    and not name.startswith("_")
]


@pytest.mark.parametrize("model", list(POSITIONAL_HOT_PATH), ids=lambda m: m.__name__)
def test_hot_path_models_keep_their_field_order(model: type) -> None:
    assert tuple(field.name for field in attrs.fields(model)) == POSITIONAL_HOT_PATH[model]


@pytest.mark.parametrize(
    "model",
    [m for m in ALL_MODELS if m not in POSITIONAL_HOT_PATH],
    ids=lambda m: m.__name__,
)
def test_every_other_model_is_keyword_only(model: type) -> None:
    positional = [f.name for f in attrs.fields(model) if f.init and not f.kw_only]
    assert not positional, f"{model.__name__} accepts {positional} positionally"
