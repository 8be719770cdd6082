"""The client's session with the exchange, as a sans-IO object (no trio, no sockets).

:class:`Session` owns every protocol rule of one client's life: the subscriptions replayed after a
reconnect, which subscribe request an answer belongs to, the tracked account, the routing of every
decoded inbound message, the periodic streams the stale-feed watchdog expects, which request an
``error`` frame without an id answers, the events on ``Topic.STATUS``, and what becomes of the
fills a reconnect missed (decided by :mod:`bulk_trio.fill_recovery`). The Trio shell
(``bulk_trio.shell.connection``) tells it what happened (a frame arrived, the socket opened or
closed, a request was sent) and performs the effects it returns; it decides nothing itself.

Market and account events are handed straight to the ``publish`` sink given to
:class:`~bulk_trio.state.ClientState` (the receiver's hot path allocates nothing more); everything
else comes back from :meth:`Session.receive` as effect values, so a test reads them directly.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, assert_never

import attrs

from .actions import BaseAction
from .backoff import Backoff
from .enums import OrderStatus, StatusKind, Topic
from .errors import BulkError, ConnectionLost, ExchangeError
from .fill_recovery import RecoveryPlan
from .models import (
    AccountSnapshot,
    Candle,
    ConnectionStatus,
    ErrorMessage,
    Fill,
    InboundMessage,
    L2Delta,
    L2Snapshot,
    LeverageUpdate,
    MarginUpdate,
    OrderResponse,
    OrderState,
    PositionUpdate,
    PostReply,
    ProtocolError,
    SubscriptionResponse,
    Ticker,
    TradeBatch,
    UnknownMessage,
    UnsubscribeResponse,
)
from .protocol.signing import order_ids
from .protocol.subscriptions import Subscription, account_topic, candle_topic, market_topic
from .state import ClientState

# -- effects: what the shell must do ------------------------------------------------------------


@attrs.frozen
class PublishEvent:
    """Publish ``item`` on ``topic`` (errors and connection status; data goes to the sink)."""

    topic: Topic
    item: object


@attrs.frozen
class ResolveRequest:
    """Hand ``reply`` to the caller waiting for request ``request_id`` (if any still waits)."""

    request_id: int
    reply: PostReply


@attrs.frozen
class FailRequest:
    """Make the caller waiting for request ``request_id`` raise ``error``."""

    request_id: int
    error: BulkError


@attrs.frozen
class FinishAck:
    """The subscribe request ``ack_id`` is answered: confirmed (``error`` None) or refused."""

    ack_id: int
    error: BulkError | None = None


@attrs.frozen
class AccountSynced:
    """The tracked account's snapshot arrived after a (re)subscription: its state is current."""

    account: str


Effect = PublishEvent | ResolveRequest | FailRequest | FinishAck | AccountSynced
"""Everything :class:`Session` asks of the shell."""

NOTHING: tuple[Effect, ...] = ()

PERIODIC_TOPICS = frozenset({Topic.TICKER, Topic.L2SNAPSHOT})
"""Streams the exchange sends about every 200 ms: their silence means a dead feed."""


@attrs.define
class _PendingAck:
    ack_id: int
    subscriptions: tuple[Subscription, ...]
    unconfirmed: set[str]
    replay: bool
    abandoned: bool = False


@attrs.frozen
class ReplayPlan:
    """What a fresh socket must send before it is live (see :meth:`Session.connected`)."""

    subscriptions: tuple[Subscription, ...]
    ack_id: int | None
    """The ack to wait for, or None when there is nothing to subscribe."""
    wait_for_account: bool
    """Wait for :class:`AccountSynced` too (the tracked account is among the subscriptions)."""


@attrs.frozen
class StaleStream:
    """A periodic stream that went silent (see :meth:`Session.stalest`)."""

    topic: Topic
    symbol: str
    silent_for: float

    def describe(self) -> str:
        return f"stale feed: no {self.topic.value}.{self.symbol} frame for {self.silent_for:.1f} s"


class Session:
    """One client's protocol state across all its connections; see the module docstring.

    ``cancel_after_disconnect`` (seconds) arms the kill switch of :meth:`must_cancel_all`.
    """

    def __init__(
        self,
        state: ClientState,
        *,
        backoff: Backoff | None = None,
        cancel_after_disconnect: float | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self.state = state
        self.backoff = backoff if backoff is not None else Backoff()
        self.cancel_after_disconnect = cancel_after_disconnect
        self._log = logger or logging.getLogger("bulk_trio")
        self._replay_set: dict[Subscription, None] = {}
        self._acks: dict[int, _PendingAck] = {}  # insertion order is the order sent
        self._unconfirmed_topics: dict[str, int] = {}  # topic -> pending acks still missing it
        self._confirmed_by_data: dict[str, int] = {}  # topic -> answers still to come
        self._last_ack_id = 0
        self._in_flight: dict[int, None] = {}
        self._unawaited: dict[int, None] = {}
        # When each expected periodic stream last delivered, by symbol (no tuple per frame).
        self._tickers_seen: dict[str, float] = {}
        self._snapshots_seen: dict[str, float] = {}
        self._periodic_seen = {
            Topic.TICKER: self._tickers_seen,
            Topic.L2SNAPSHOT: self._snapshots_seen,
        }
        self._awaiting_snapshot = False
        self._planned: set[Subscription] = set()
        self._ever_live = False
        self._outage_since: float | None = None
        self.reconnects = 0
        """Successful reconnections (live again after a drop) since the session began."""
        self._recovery: RecoveryPlan | None = None
        self.last_drop_reason: str | None = None

    # -- the tracked account ------------------------------------------------------------------

    @property
    def account(self) -> str | None:
        """The account whose stream feeds the account state (one source: ``ClientState``)."""
        return self.state.account

    def track_account(self, user: str) -> None:
        """Follow ``user``'s stream in the account state, unless an account is tracked already."""
        if self.state.account is None:
            self.state.account = user

    # -- subscriptions ------------------------------------------------------------------------

    @property
    def subscriptions(self) -> list[Subscription]:
        """The replay set, in the order subscribed."""
        return list(self._replay_set)

    def remember(self, subscription: Subscription) -> None:
        """Add ``subscription`` to the replay set without sending it now."""
        self._replay_set.setdefault(subscription, None)
        if subscription.kind is Topic.ACCOUNT and subscription.users:
            self.track_account(subscription.users[0])

    def subscribe(self, subscription: Subscription, now: float, *, live: bool) -> int | None:
        """Add ``subscription`` to the replay set; when ``live``, return the id of the ack to
        wait for after sending it, else None (the next replay sends it)."""
        self.remember(subscription)
        if not live:
            return None
        return self._expect((subscription,), now, replay=False)

    def abandon(self, ack_id: int) -> None:
        """Nobody waits for ``ack_id`` any more: data no longer confirms it, and an error frame
        no longer answers it, but a late answer naming its topics is still taken as its own."""
        ack = self._acks.get(ack_id)
        if ack is not None and not ack.abandoned:
            ack.abandoned = True
            for topic in ack.unconfirmed:  # data no longer confirms it; a late answer still may
                self._uncount(topic)

    def forget(self, topics: Iterable[str]) -> list[str]:
        """Drop every subscription yielding one of ``topics``; return the topics it yielded."""
        wanted = set(topics)
        removed: list[str] = []
        for subscription in list(self._replay_set):
            if wanted.intersection(subscription.topics):
                del self._replay_set[subscription]
                removed.extend(subscription.topics)
                periodic = _periodic_key(subscription)
                if periodic is not None and not any(
                    _periodic_key(other) == periodic for other in self._replay_set
                ):
                    topic, symbol = periodic
                    self._periodic_seen[topic].pop(symbol, None)
        return removed

    def _expect(self, subscriptions: tuple[Subscription, ...], now: float, *, replay: bool) -> int:
        self._last_ack_id += 1
        topics = {topic for subscription in subscriptions for topic in subscription.topics}
        ack = _PendingAck(self._last_ack_id, subscriptions, topics, replay)
        self._acks[ack.ack_id] = ack
        for topic in topics:
            self._unconfirmed_topics[topic] = self._unconfirmed_topics.get(topic, 0) + 1
        for subscription in subscriptions:
            periodic = _periodic_key(subscription)
            if periodic is not None:
                kind, symbol = periodic
                self._periodic_seen[kind].setdefault(symbol, now)
            if subscription.kind is Topic.L2DELTA and subscription.symbol is not None:
                # Its first frame is the whole book (docs/protocol.md, l2Delta).
                self.state.expect_full_book(subscription.symbol)
        return ack.ack_id

    # -- the socket's life --------------------------------------------------------------------

    def connected(self, now: float) -> ReplayPlan:
        """A socket opened: what to send before it can be live."""
        subscriptions = tuple(self._replay_set)
        self._planned = set(subscriptions)
        if not subscriptions:
            return ReplayPlan((), None, wait_for_account=False)
        ack_id = self._expect(subscriptions, now, replay=True)
        account = self.account
        wait = account is not None and any(
            account_topic(account) in subscription.topics for subscription in subscriptions
        )
        self._awaiting_snapshot = wait
        return ReplayPlan(subscriptions, ack_id, wait_for_account=wait)

    def catch_up(self, now: float) -> ReplayPlan:
        """Subscriptions recorded while the replay was under way (too late for it): what to send
        now that the connection is live. Nobody waits for their answer."""
        late = tuple(s for s in self._replay_set if s not in self._planned)
        self._planned = set(self._replay_set)
        if not late:
            return ReplayPlan((), None, wait_for_account=False)
        ack_id = self._expect(late, now, replay=True)
        self.abandon(ack_id)
        return ReplayPlan(late, ack_id, wait_for_account=False)

    def went_live(self, now: float) -> ConnectionStatus:
        """The replay is confirmed (and any kill switch done): requests may be sent."""
        self._outage_since = None
        self.backoff.connected(now)
        if not self._ever_live:
            self._ever_live = True
            return ConnectionStatus(kind=StatusKind.LIVE, reconnects=self.reconnects)
        self.reconnects += 1
        self._recovery = self.state.fills.reconnected()
        return ConnectionStatus(kind=StatusKind.RESYNCED, reconnects=self.reconnects)

    # -- fills missed while disconnected (docs/guides/lifecycle.md) ---------------------------

    def recovery_plan(self) -> RecoveryPlan | None:
        """After a RESYNCED: the fill history the shell must fetch, once (None: nothing)."""
        plan, self._recovery = self._recovery, None
        return plan

    def fills_recovered(self, plan: RecoveryPlan, history: Iterable[Fill]) -> list[Effect]:
        """The shell fetched ``history`` (the account's fills from ``plan.since_ns`` on): apply
        and publish the missed ones; a position they do not explain is announced as a GAP."""
        result = self.state.fills.resolve(plan, history)
        if result is None:
            return []
        self._log.info("recovered %d fill(s) missed while disconnected", len(result.recovered))
        return [self._gap(problem) for problem in self.state.apply_recovered(result)]

    def fills_lost(self, plan: RecoveryPlan, reason: str) -> list[Effect]:
        """The missed fills of ``plan`` cannot be recovered: announce the gap (never silent)."""
        if not self.state.abandon_recovery(plan):
            return []
        return [self._gap(f"fills made while disconnected were not recovered: {reason}")]

    def _gap(self, reason: str) -> PublishEvent:
        self._log.warning("gap: %s", reason)
        status = ConnectionStatus(kind=StatusKind.GAP, reason=reason, reconnects=self.reconnects)
        return PublishEvent(Topic.STATUS, status)

    def must_cancel_all(self, now: float) -> bool:
        """True when the kill switch ``cancel_after_disconnect`` applies to this reconnect: the
        outage (from the first drop to now) lasted longer than its limit."""
        limit = self.cancel_after_disconnect
        since = self._outage_since
        return limit is not None and since is not None and now - since > limit

    def disconnected(self, reason: str, now: float, *, was_live: bool) -> list[Effect]:
        """The socket closed: fail what waited on it and invalidate the books."""
        self.last_drop_reason = reason
        if self._outage_since is None and self._ever_live:
            self._outage_since = now
        self._awaiting_snapshot = False
        effects: list[Effect] = []
        for request_id in self._in_flight:
            message = (
                f"connection lost ({reason}) with request {request_id} in flight; its outcome is "
                "unknown: check the open orders after the reconnect"
            )
            effects.append(FailRequest(request_id, ConnectionLost(message)))
        self._in_flight.clear()
        self._unawaited.clear()
        for ack in self._acks.values():
            effects.append(FinishAck(ack.ack_id, ConnectionLost(f"connection lost ({reason})")))
        self._acks.clear()
        self._unconfirmed_topics.clear()
        self._confirmed_by_data.clear()
        self._tickers_seen.clear()
        self._snapshots_seen.clear()
        self.state.connection_lost()
        if was_live:
            status = ConnectionStatus(
                kind=StatusKind.DISCONNECTED, reason=reason, reconnects=self.reconnects
            )
            effects.append(PublishEvent(Topic.STATUS, status))
        return effects

    def retry(self, reason: str, now: float) -> ConnectionStatus:
        """Plan the next attempt after a drop or a failed attempt: a RETRYING status whose
        ``delay`` the shell sleeps. Raises :class:`~bulk_trio.ReconnectGaveUp` when the backoff's
        ``max_attempts`` consecutive failures are used up."""
        self.last_drop_reason = reason
        self.backoff.disconnected(now)
        delay = self.backoff.next_delay()
        return ConnectionStatus(
            kind=StatusKind.RETRYING,
            reason=reason,
            delay=delay,
            attempt=self.backoff.attempts,
            reconnects=self.reconnects,
        )

    def closed(self) -> ConnectionStatus:
        return ConnectionStatus(kind=StatusKind.CLOSED, reconnects=self.reconnects)

    # -- signed requests ----------------------------------------------------------------------

    def request_sent(self, request_id: int, *, awaited: bool = True) -> None:
        """Request ``request_id`` is on its way; ``awaited`` False when nobody waits for it."""
        (self._in_flight if awaited else self._unawaited)[request_id] = None

    def request_settled(self, request_id: int) -> None:
        """The caller of ``request_id`` stopped waiting (answered, timed out or cancelled), or
        the request was never sent."""
        self._in_flight.pop(request_id, None)
        self._unawaited.pop(request_id, None)

    # -- inbound messages ---------------------------------------------------------------------

    def receive(self, message: InboundMessage, now: float) -> Sequence[Effect]:
        """Apply one decoded message; return what the shell must do."""
        state = self.state
        try:
            match message:
                case L2Delta():
                    state.on_book(message)
                case Ticker():
                    state.on_ticker(message)
                    if message.symbol in self._tickers_seen:
                        self._tickers_seen[message.symbol] = now
                case TradeBatch():
                    state.on_trades(message)
                case L2Snapshot():
                    state.on_book(message)
                    if message.symbol in self._snapshots_seen:
                        self._snapshots_seen[message.symbol] = now
                case Candle():
                    state.on_candle(message)
                case OrderState():
                    state.on_order(message)
                case Fill():
                    state.on_fill(message)
                case MarginUpdate():
                    state.on_margin(message)
                case PositionUpdate():
                    state.on_position(message)
                case LeverageUpdate():
                    state.on_leverage(message)
                case AccountSnapshot():
                    state.on_account_snapshot(message)
                    if self._awaiting_snapshot and state.is_tracked(message.account):
                        self._awaiting_snapshot = False
                        effects = [*self._confirm_by_data(message), AccountSynced(message.account)]
                        return effects
                case PostReply():
                    return self._on_reply(message)
                case SubscriptionResponse():
                    return self._on_subscribed(message)
                case ErrorMessage():
                    return self._on_error(message)
                case ProtocolError():
                    self._log.warning("skipped a malformed frame: %s", message.reason)
                    return (PublishEvent(Topic.ERROR, message),)
                case UnsubscribeResponse():
                    return NOTHING
                case UnknownMessage():
                    self._log.debug("ignored a message of unknown type %r", message.type)
                    return NOTHING
                case _:
                    assert_never(message)
        except (ValueError, TypeError) as exc:
            # Values the codec let through but the book or inventory cannot use: skip the message.
            reason = f"{type(message).__name__} not applied: {exc}"
            self._log.warning("%s", reason)
            return (PublishEvent(Topic.ERROR, ProtocolError(reason=reason)),)
        if self._unconfirmed_topics:
            return self._confirm_by_data(message)
        return ()

    def _on_reply(self, reply: PostReply) -> Sequence[Effect]:
        request_id = reply.request_id
        if request_id in self._unawaited:  # sent without waiting: only a refusal is news
            del self._unawaited[request_id]
            if reply.ok:
                return NOTHING
            self._log.warning("request %s (not awaited) refused: %s", request_id, reply.message)
            return (PublishEvent(Topic.ERROR, reply),)
        if reply.ok:
            return (ResolveRequest(request_id, reply),)
        self._log.warning("request %s refused: %s", request_id, reply.message)
        return (PublishEvent(Topic.ERROR, reply), ResolveRequest(request_id, reply))

    def _on_subscribed(self, response: SubscriptionResponse) -> Sequence[Effect]:
        topics = set(response.topics)
        late = bool(topics) and all(topic in self._confirmed_by_data for topic in topics)
        for topic in topics:
            self._discount_confirmed(topic)
        if late:  # the answer to a subscription its data already confirmed
            return NOTHING
        # One response answers one subscribe frame: the oldest one it names, or, when it names
        # none we expect (no topics, or spelled otherwise), the oldest still waited for, since
        # the exchange answers subscribe requests in order.
        for ack in self._acks.values():
            if ack.unconfirmed & topics:
                return (self._finish(ack, None),)
        oldest = self._oldest_waited()
        return NOTHING if oldest is None else (self._finish(oldest, None),)

    def _on_error(self, error: ErrorMessage) -> Sequence[Effect]:
        """An ``error`` frame carries no id. It is attributed only where the client can know:
        to the one request outstanding, or to the oldest subscribe request when no signed
        request is outstanding; otherwise it is only published (see docs/protocol.md)."""
        self._log.warning("exchange error: %s", error.message)
        published = PublishEvent(Topic.ERROR, error)
        exc = ExchangeError(error.message, raw=error.raw)
        outstanding = len(self._in_flight) + len(self._unawaited)
        waited = [ack for ack in self._acks.values() if not ack.abandoned]
        if outstanding == 0 and waited:
            return (published, self._finish(waited[0], exc))
        if outstanding == 1 and not waited and self._in_flight:
            (request_id,) = self._in_flight
            del self._in_flight[request_id]
            return (published, FailRequest(request_id, exc))
        if outstanding or waited:
            self._log.warning(
                "the error frame cannot be attributed (%d requests and %d subscriptions "
                "outstanding); each still waits for its own answer",
                outstanding,
                len(waited),
            )
        return (published,)

    def _confirm_by_data(self, message: InboundMessage) -> Sequence[Effect]:
        """Older deployments never send ``subscriptionResponse``: the first data frame of a
        topic confirms its subscription."""
        topic = _topic_of(message)
        if topic is None or topic not in self._unconfirmed_topics:
            return NOTHING
        self._confirmed_by_data[topic] = self._confirmed_by_data.get(topic, 0) + 1
        return self._confirm_topics({topic})

    def _discount_confirmed(self, topic: str) -> None:
        left = self._confirmed_by_data.get(topic, 0) - 1
        if left > 0:
            self._confirmed_by_data[topic] = left
        else:
            self._confirmed_by_data.pop(topic, None)

    def _confirm_topics(self, topics: set[str]) -> list[Effect]:
        effects: list[Effect] = []
        for topic in topics:
            for ack in self._acks.values():
                if topic in ack.unconfirmed and not ack.abandoned:
                    ack.unconfirmed.discard(topic)
                    self._uncount(topic)
                    break
        for ack in [a for a in self._acks.values() if not a.unconfirmed and not a.abandoned]:
            effects.append(self._finish(ack, None))
        return effects

    def _oldest_waited(self) -> _PendingAck | None:
        for ack in list(self._acks.values()):
            if not ack.abandoned:
                return ack
            self._drop(ack)  # its caller gave up: skip it, as answers come in order
        return None

    def _finish(self, ack: _PendingAck, error: BulkError | None) -> FinishAck:
        self._drop(ack)
        if error is not None and not ack.replay:
            for subscription in ack.subscriptions:  # refused: not replayed later
                self._replay_set.pop(subscription, None)
        return FinishAck(ack.ack_id, error)

    def _drop(self, ack: _PendingAck) -> None:
        self._acks.pop(ack.ack_id, None)
        if not ack.abandoned:
            for topic in ack.unconfirmed:
                self._uncount(topic)
        ack.unconfirmed.clear()

    def _uncount(self, topic: str) -> None:
        left = self._unconfirmed_topics.get(topic, 0) - 1
        if left > 0:
            self._unconfirmed_topics[topic] = left
        else:
            self._unconfirmed_topics.pop(topic, None)

    # -- the stale-feed rule ------------------------------------------------------------------

    def stalest(self, now: float) -> StaleStream | None:
        """The periodic stream silent the longest, or None when none is expected."""
        streams = [
            (last, topic, symbol)
            for topic, seen in self._periodic_seen.items()
            for symbol, last in seen.items()
        ]
        if not streams:
            return None
        last, topic, symbol = min(streams, key=lambda stream: stream[0])
        return StaleStream(topic, symbol, now - last)


def _periodic_key(subscription: Subscription) -> tuple[Topic, str] | None:
    if subscription.kind in PERIODIC_TOPICS and subscription.symbol is not None:
        return (subscription.kind, subscription.symbol)
    return None


def _topic_of(message: InboundMessage) -> str | None:
    """The subscription topic a data message belongs to (None for control messages)."""
    match message:
        case Ticker():
            return market_topic(Topic.TICKER, message.symbol)
        case L2Delta():
            return market_topic(Topic.L2DELTA, message.symbol)
        case L2Snapshot():
            return market_topic(Topic.L2SNAPSHOT, message.symbol)
        case TradeBatch():
            return market_topic(Topic.TRADES, message.symbol)
        case Candle():
            return candle_topic(message.symbol, message.interval)
        case AccountSnapshot() | OrderState() | Fill() | MarginUpdate() | PositionUpdate():
            return account_topic(message.account) if message.account else None
        case LeverageUpdate():
            return account_topic(message.account) if message.account else None
        case _:
            return None


# -- replies to signed requests -----------------------------------------------------------------


def reconcile_reply(
    reply: PostReply,
    actions: Sequence[BaseAction],
    payload: Mapping[str, Any],
    logger: logging.Logger | None = None,
) -> list[OrderResponse]:
    """The responses of a signed request: one per action, ids filled in from the precomputed
    order ids (docs/protocol.md, decision 7). Raises ExchangeError for a refused request."""
    if not reply.ok:
        raise ExchangeError(
            f"the exchange refused the request: {reply.message or 'no reason given'}", raw=reply
        )
    expected = order_ids(actions, nonce=int(payload["nonce"]), account=payload["account"])
    if reply.is_ack:
        # Accepted without outcomes: each action is pending; the account stream tells the rest.
        return [
            OrderResponse(
                status=OrderStatus.PENDING,
                order_id=order_id,
                message=reply.message,
                meta={"ack": True},
                raw_status="ack",
            )
            for order_id in expected
        ]
    statuses = list(reply.statuses)
    if len(statuses) != len(actions):
        return statuses  # not aligned with the actions: returned as they came
    log = logger or logging.getLogger("bulk_trio")
    for index, (response, order_id) in enumerate(zip(statuses, expected, strict=True)):
        if order_id is None:
            continue
        if response.order_id is None:
            statuses[index] = attrs.evolve(response, order_id=order_id)
        elif response.order_id != order_id:
            log.warning(
                "exchange order id %s differs from the precomputed %s", response.order_id, order_id
            )
    return statuses
