"""The small closed vocabularies of the BULK protocol."""

from __future__ import annotations

import enum


class Side(enum.Enum):
    """Which way an order trades."""

    BUY = "buy"
    SELL = "sell"

    @property
    def is_buy(self) -> bool:
        return self is Side.BUY

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY

    @classmethod
    def from_is_buy(cls, is_buy: bool) -> Side:
        return cls.BUY if is_buy else cls.SELL

    @classmethod
    def of_position(cls, size: float) -> Side | None:
        """BUY for a long (size > 0), SELL for a short, None when flat."""
        if size > 0:
            return cls.BUY
        if size < 0:
            return cls.SELL
        return None


class TimeInForce(enum.Enum):
    """How long a limit order may rest; upper case on the wire (lower case is accepted)."""

    GTC = "GTC"
    IOC = "IOC"
    ALO = "ALO"

    @property
    def ordinal(self) -> int:
        """The u32 written into the signed bytes (docs/protocol.md)."""
        return _TIF_ORDINALS[self]

    @classmethod
    def parse(cls, text: str) -> TimeInForce:
        try:
            return cls(text.upper())
        except (ValueError, AttributeError):
            raise ValueError(f"time_in_force must be GTC, IOC or ALO, not {text!r}") from None


_TIF_ORDINALS = {TimeInForce.GTC: 0, TimeInForce.IOC: 1, TimeInForce.ALO: 2}


class OrderStatus(enum.Enum):
    """Every status name of docs/protocol.md, plus UNKNOWN for a name this version does not know
    and VANISHED for an order that disappeared during a disconnect.

    The value is the wire spelling. ``canceled*`` spellings are accepted by :meth:`parse`.
    """

    PENDING = "pending"
    PLACED = "placed"
    RESTING = "resting"
    WORKING = "working"
    MODIFIED = "modified"
    FILLED = "filled"
    PARTIALLY_FILLED = "partiallyFilled"
    CANCELLED = "cancelled"
    CANCELLED_RISK_LIMIT = "cancelledRiskLimit"
    CANCELLED_SELF_CROSSING = "cancelledSelfCrossing"
    CANCELLED_REDUCE_ONLY = "cancelledReduceOnly"
    CANCELLED_IOC = "cancelledIOC"
    REJECTED_CROSSING = "rejectedCrossing"
    REJECTED_DUPLICATE = "rejectedDuplicate"
    REJECTED_RISK_LIMIT = "rejectedRiskLimit"
    REJECTED_INVALID = "rejectedInvalid"
    CANCEL_ONE_REJECTED = "cancelOneRejected"
    CANCEL_ALL_REJECTED = "cancelAllRejected"
    DEPOSIT = "deposit"
    DEPOSIT_FAILED = "depositFailed"
    AGENT_WALLET = "agentWallet"
    AGENT_WALLET_FAILED = "agentWalletFailed"
    TRIGGERED = "triggered"
    """A conditional order's trigger fired; the order now executes (not terminal)."""
    SIBLING_CANCELLED = "siblingCancelled"
    """The other leg of a range (OCO) order triggered first, so this leg is cancelled."""
    TRIGGER_FAILED = "triggerFailed"
    TRANSFER = "transfer"
    TRANSFER_FAILED = "transferFailed"
    CREATE_SUB_ACCOUNT = "createSubAccount"
    CREATE_SUB_ACCOUNT_FAILED = "createSubAccountFailed"
    REMOVE_SUB_ACCOUNT = "removeSubAccount"
    REMOVE_SUB_ACCOUNT_FAILED = "removeSubAccountFailed"
    RENAME_SUB_ACCOUNT = "renameSubAccount"
    RENAME_SUB_ACCOUNT_FAILED = "renameSubAccountFailed"
    MULTISIG_CREATED = "multisigCreated"
    MULTISIG_CREATED_FAILED = "multisigCreatedFailed"
    PROPOSAL_CREATED = "proposalCreated"
    PROPOSAL_APPROVED = "proposalApproved"
    PROPOSAL_READY_FOR_EXECUTION = "proposalReadyForExecution"
    PROPOSAL_EXECUTED = "proposalExecuted"
    PROPOSAL_FAILED = "proposalFailed"
    PROPOSAL_EXPIRED = "proposalExpired"
    PROPOSAL_CANCELLED = "proposalCancelled"
    PROPOSAL_REJECTED = "proposalRejected"
    ERROR = "error"
    UNKNOWN = "unknown"
    VANISHED = "vanished"
    """Client-side only: the order was open before a disconnect and the account snapshot after the
    reconnect no longer lists it, so it was filled or cancelled while we were away."""

    @classmethod
    def parse(cls, text: str) -> OrderStatus:
        """The status for a wire name; UNKNOWN (never an exception) for a name we do not know."""
        status = _BY_WIRE_NAME.get(text)
        if status is None and text.startswith("canceled"):
            status = _BY_WIRE_NAME.get("cancelled" + text[len("canceled") :])
        return status if status is not None else cls.UNKNOWN

    def is_terminal(self) -> bool:
        """True when the order (or action) will not change state again.

        Decision 10 of docs/protocol.md: ``partiallyFilled`` is terminal; pending, placed, resting,
        working and modified are not. UNKNOWN is treated as live so that an order is never
        forgotten early.
        """
        return self not in _LIVE

    def is_error(self) -> bool:
        """True for outcomes a caller should treat as a failure of the action."""
        return self in _ERRORS


_BY_WIRE_NAME = {
    status.value: status
    for status in OrderStatus
    if status not in (OrderStatus.UNKNOWN, OrderStatus.VANISHED)
}
_LIVE = frozenset(
    {
        OrderStatus.PENDING,
        OrderStatus.PLACED,
        OrderStatus.RESTING,
        OrderStatus.WORKING,
        OrderStatus.MODIFIED,
        OrderStatus.TRIGGERED,
        OrderStatus.UNKNOWN,
    }
)
_ERRORS = frozenset(
    {
        OrderStatus.ERROR,
        OrderStatus.REJECTED_CROSSING,
        OrderStatus.REJECTED_DUPLICATE,
        OrderStatus.REJECTED_RISK_LIMIT,
        OrderStatus.REJECTED_INVALID,
        OrderStatus.CANCEL_ONE_REJECTED,
        OrderStatus.CANCEL_ALL_REJECTED,
        OrderStatus.DEPOSIT_FAILED,
        OrderStatus.AGENT_WALLET_FAILED,
        OrderStatus.TRIGGER_FAILED,
        OrderStatus.TRANSFER_FAILED,
        OrderStatus.CREATE_SUB_ACCOUNT_FAILED,
        OrderStatus.REMOVE_SUB_ACCOUNT_FAILED,
        OrderStatus.RENAME_SUB_ACCOUNT_FAILED,
        OrderStatus.MULTISIG_CREATED_FAILED,
        OrderStatus.PROPOSAL_FAILED,
    }
)


class Topic(enum.Enum):
    """The event streams a client publishes, one channel family per member."""

    TICKER = "ticker"
    TRADES = "trades"
    L2SNAPSHOT = "l2Snapshot"
    L2DELTA = "l2Delta"
    CANDLE = "candle"
    ACCOUNT = "account"
    MARGIN = "margin"
    POSITION = "position"
    ORDER = "order"
    FILL = "fill"
    LEVERAGE = "leverage"
    ERROR = "error"
    STATUS = "status"
    """What happens to the connection (:class:`~bulk_trio.models.ConnectionStatus`), losslessly."""

    @property
    def is_market_data(self) -> bool:
        """Market-data topics may drop their oldest item when a reader lags; the others may not."""
        return self in _MARKET_DATA


_MARKET_DATA = frozenset(
    {Topic.TICKER, Topic.TRADES, Topic.L2SNAPSHOT, Topic.L2DELTA, Topic.CANDLE}
)


class ConnectionState(enum.Enum):
    """Where the client's connection stands: LIVE only once subscriptions are confirmed."""

    CONNECTING = "connecting"
    LIVE = "live"
    BACKOFF = "backoff"
    CLOSED = "closed"


class StatusKind(enum.Enum):
    """What a :class:`~bulk_trio.models.ConnectionStatus` event on ``Topic.STATUS`` reports."""

    LIVE = "live"
    """Connected, subscriptions confirmed: requests can be sent."""
    DISCONNECTED = "disconnected"
    """The connection ended (``reason`` says why); in-flight requests failed."""
    RETRYING = "retrying"
    """The next connection attempt starts after ``delay`` seconds."""
    RESYNCED = "resynced"
    """Live again after a reconnect: subscriptions replayed and the account snapshot applied."""
    GAP = "gap"
    """Something may have been missed while disconnected and could not be recovered
    (``reason`` says what): for example fills, when no HTTP endpoint is configured."""
    CLOSED = "closed"
    """The client's block ended."""
