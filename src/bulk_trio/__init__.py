"""bulk-trio: a Trio client for the BULK perpetual-futures exchange."""

import logging

from .actions import (
    AgentWallet,
    BuilderCode,
    CancelAll,
    CancelOrder,
    Faucet,
    LimitOrder,
    MarketOrder,
    ModifyOrder,
    OraclePrice,
    StopOrder,
    TakeProfitOrder,
    UpdateLeverage,
)
from .backoff import Backoff, ReconnectGaveUp
from .book import OrderBook
from .client import BulkClient, open_bulk_client
from .connection import NotConnected
from .enums import OrderStatus, Side, TimeInForce, Topic
from .errors import (
    BulkError,
    ClientClosed,
    ConnectError,
    ConnectionLost,
    ExchangeError,
    ProtocolViolation,
    SubscriberOverflow,
)
from .fanout import SubscriberStats
from .inventory import Inventory, Pnl, PositionView
from .lifecycle import ConnectionState
from .models import (
    AccountSnapshot,
    BookLevel,
    BuilderCodeApproval,
    Candle,
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
from .protocol.signing import TransactionSigner, order_id, order_ids
from .protocol.subscriptions import Subscription

__version__ = "0.1.0"

# A library does not decide where log lines go: without this, Python's last-resort handler would
# print our warnings to stderr in applications that never configured logging.
logging.getLogger("bulk_trio").addHandler(logging.NullHandler())

__all__ = [
    "AccountSnapshot",
    "AgentWallet",
    "Backoff",
    "BookLevel",
    "BuilderCode",
    "BuilderCodeApproval",
    "BulkClient",
    "BulkError",
    "CancelAll",
    "CancelOrder",
    "Candle",
    "ClientClosed",
    "ConnectError",
    "ConnectionLost",
    "ConnectionState",
    "ErrorMessage",
    "ExchangeError",
    "Faucet",
    "Fill",
    "HandlerError",
    "Inventory",
    "L2Delta",
    "L2Snapshot",
    "LeverageSetting",
    "LeverageUpdate",
    "LimitOrder",
    "Margin",
    "MarginUpdate",
    "MarketOrder",
    "ModifyOrder",
    "NotConnected",
    "OraclePrice",
    "OrderBook",
    "OrderResponse",
    "OrderState",
    "OrderStatus",
    "Pnl",
    "Position",
    "PositionUpdate",
    "PositionView",
    "PostReply",
    "ProtocolError",
    "ProtocolViolation",
    "ReconnectGaveUp",
    "Side",
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
    "TransactionSigner",
    "UnknownMessage",
    "UnsubscribeResponse",
    "UpdateLeverage",
    "open_bulk_client",
    "order_id",
    "order_ids",
]
