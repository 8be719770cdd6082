"""bulk-trio: a Trio client for the BULK perpetual-futures exchange.

The package is two layers (docs/architecture.md): a sans-IO core (models, codec, signer, book,
inventory, session) that never imports trio, and the Trio shell in ``bulk_trio.shell``. The shell's
public names are loaded on first use, so ``import bulk_trio.protocol.codec`` (or any other core
module) does not load trio, wsproto or trio-websocket.
"""

import logging
from typing import TYPE_CHECKING

from .actions import (
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
from .backoff import Backoff
from .book import OrderBook
from .book_view import BookView
from .enums import ConnectionState, OrderStatus, Side, StatusKind, TimeInForce, Topic
from .errors import (
    BulkError,
    ClientClosed,
    ConnectError,
    ConnectionLost,
    ExchangeError,
    HttpError,
    MarketRuleViolation,
    NotConnected,
    OrderOutcomeUnknown,
    ProtocolViolation,
    ReconnectGaveUp,
    SubscriberOverflow,
)
from .http_models import (
    ClosedPosition,
    ExchangeStats,
    FeeTier,
    FundingPayment,
    HistoryFill,
    HistoryPage,
    MarketSummary,
)
from .inventory import Inventory, Pnl, PositionView
from .lazy_exports import lazy_exports
from .markets import Market
from .models import (
    AccountSnapshot,
    BookLevel,
    BuilderCodeApproval,
    Candle,
    ConnectionStatus,
    ErrorMessage,
    Fill,
    HandlerError,
    L2Delta,
    L2Snapshot,
    LeverageSetting,
    LeverageUpdate,
    Margin,
    MarginUpdate,
    OrderResponse,
    OrderState,
    OrderTrigger,
    Position,
    PositionUpdate,
    PostReply,
    ProtocolError,
    SubscriptionResponse,
    Ticker,
    Trade,
    TradeBatch,
    UnknownMessage,
    UnsubscribeResponse,
)
from .networks import NetworkPreset, network_preset
from .protocol.signing import TransactionSigner, order_id, order_ids
from .protocol.subscriptions import Subscription

if TYPE_CHECKING:
    from .shell.client import BulkClient, open_bulk_client
    from .shell.fanout import EventChannel, SubscriberStats
    from .shell.http import BulkHttpClient, open_bulk_http
    from .shell.latest_values import LatestValue
    from .shell.recorder import Recorder, open_recorder

__version__ = "0.1.0"

# Public names that live in the Trio shell, and the module each one comes from.
_SHELL_EXPORTS = {
    "BulkClient": ".shell.client",
    "open_bulk_client": ".shell.client",
    "SubscriberStats": ".shell.fanout",
    "EventChannel": ".shell.fanout",
    "LatestValue": ".shell.latest_values",
    "BulkHttpClient": ".shell.http",
    "open_bulk_http": ".shell.http",
    "Recorder": ".shell.recorder",
    "open_recorder": ".shell.recorder",
}


__getattr__ = lazy_exports(__name__, globals(), _SHELL_EXPORTS)


# A library does not decide where log lines go: without this, Python's last-resort handler would
# print our warnings to stderr in applications that never configured logging.
logging.getLogger("bulk_trio").addHandler(logging.NullHandler())

__all__ = [
    "AccountSnapshot",
    "AgentWallet",
    "ApproveBuilderCode",
    "Backoff",
    "BookLevel",
    "BookView",
    "BuilderCode",
    "BuilderCodeApproval",
    "BulkClient",
    "BulkError",
    "BulkHttpClient",
    "CancelAll",
    "CancelOrder",
    "Candle",
    "ClientClosed",
    "ClosedPosition",
    "ConnectError",
    "ConnectionLost",
    "ConnectionState",
    "ConnectionStatus",
    "CreateMultisig",
    "CreateSubAccount",
    "ErrorMessage",
    "EventChannel",
    "ExchangeError",
    "ExchangeStats",
    "Faucet",
    "FeeTier",
    "Fill",
    "FundingPayment",
    "HandlerError",
    "HistoryFill",
    "HistoryPage",
    "HttpError",
    "Inventory",
    "L2Delta",
    "L2Snapshot",
    "LatestValue",
    "LeverageSetting",
    "LeverageUpdate",
    "LimitOrder",
    "Margin",
    "MarginUpdate",
    "Market",
    "MarketOrder",
    "MarketRuleViolation",
    "MarketSummary",
    "ModifyOrder",
    "MultisigApprove",
    "MultisigCancel",
    "MultisigExecute",
    "MultisigPropose",
    "MultisigReject",
    "MultisigUpdate",
    "NetworkPreset",
    "NotConnected",
    "OnFill",
    "OraclePrice",
    "OrderBook",
    "OrderOutcomeUnknown",
    "OrderResponse",
    "OrderState",
    "OrderStatus",
    "OrderTrigger",
    "Pnl",
    "Position",
    "PositionUpdate",
    "PositionView",
    "PostReply",
    "ProtocolError",
    "ProtocolViolation",
    "PythOracle",
    "RangeOrder",
    "ReconnectGaveUp",
    "Recorder",
    "RemoveSubAccount",
    "RenameSubAccount",
    "RevokeBuilderCode",
    "Side",
    "StatusKind",
    "StopOrder",
    "SubscriberOverflow",
    "SubscriberStats",
    "Subscription",
    "SubscriptionResponse",
    "TakeProfitOrder",
    "Ticker",
    "TimeInForce",
    "Topic",
    "Trade",
    "TradeBatch",
    "TrailingStop",
    "TransactionSigner",
    "Transfer",
    "TriggerBasket",
    "UnknownMessage",
    "UnsubscribeResponse",
    "UpdateLeverage",
    "WhitelistFaucet",
    "network_preset",
    "open_bulk_client",
    "open_bulk_http",
    "open_recorder",
    "order_id",
    "order_ids",
]
