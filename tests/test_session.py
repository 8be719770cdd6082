"""The sans-IO session: examples of each rule, then a state machine against a simple model."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from bulk_trio.actions import CancelAll, LimitOrder
from bulk_trio.backoff import Backoff, ReconnectGaveUp
from bulk_trio.enums import OrderStatus, Side, StatusKind, Topic
from bulk_trio.errors import ConnectionLost, ExchangeError
from bulk_trio.models import (
    AccountSnapshot,
    BookLevel,
    ConnectionStatus,
    ErrorMessage,
    InboundMessage,
    L2Snapshot,
    Margin,
    OrderResponse,
    PostReply,
    ProtocolError,
    SubscriptionResponse,
    Ticker,
    TradeBatch,
    UnknownMessage,
    UnsubscribeResponse,
)
from bulk_trio.protocol.keys import b58encode
from bulk_trio.protocol.signing import TransactionSigner, order_ids
from bulk_trio.protocol.subscriptions import Subscription
from bulk_trio.session import (
    AccountSynced,
    Effect,
    FailRequest,
    FinishAck,
    PublishEvent,
    ResolveRequest,
    Session,
    reconcile_reply,
)
from bulk_trio.state import ClientState

OURS = b58encode(bytes(range(32)))
THEIRS = b58encode(bytes(range(1, 33)))


def new_session(account: str | None = None, **options: object) -> tuple[Session, list[object]]:
    published: list[object] = []
    state = ClientState(lambda topic, item: published.append((topic, item)), account=account)
    return Session(state, **options), published  # type: ignore[arg-type]


def ticker(symbol: str = "BTC-USD") -> Ticker:
    return Ticker(symbol, 100.0, 100.0, 100.0)


def snapshot(account: str = OURS) -> AccountSnapshot:
    return AccountSnapshot(account=account, margin=Margin())


def live_session(*subscriptions: Subscription, account: str | None = None) -> Session:
    session, _ = new_session(account)
    for subscription in subscriptions:
        session.remember(subscription)
    plan = session.connected(0.0)
    if plan.ack_id is not None:
        topics = tuple(t for s in plan.subscriptions for t in s.topics)
        session.receive(SubscriptionResponse(topics=topics), 0.0)
    session.went_live(0.0)
    return session


# -- the replay set and the tracked account ---------------------------------------------------


def test_the_replay_set_is_keyed_by_the_subscription_itself() -> None:
    session, _ = new_session()
    session.remember(Subscription.ticker("BTC-USD"))
    session.remember(Subscription.ticker("BTC-USD"))
    session.remember(Subscription.l2_snapshot("BTC-USD", nlevels=5))
    session.remember(Subscription.l2_snapshot("BTC-USD", nlevels=10))
    assert session.subscriptions == [
        Subscription.ticker("BTC-USD"),
        Subscription.l2_snapshot("BTC-USD", nlevels=5),
        Subscription.l2_snapshot("BTC-USD", nlevels=10),
    ]


def test_subscribing_while_disconnected_is_only_recorded_and_replayed() -> None:
    session, _ = new_session()
    assert session.subscribe(Subscription.trades("ETH-USD"), 0.0, live=False) is None
    plan = session.connected(1.0)
    assert plan.subscriptions == (Subscription.trades("ETH-USD"),)
    assert plan.ack_id is not None and not plan.wait_for_account


def test_what_is_subscribed_during_the_replay_is_caught_up_once_live() -> None:
    session, _ = new_session()
    session.remember(Subscription.ticker("BTC-USD"))
    plan = session.connected(0.0)
    assert session.subscribe(Subscription.trades("BTC-USD"), 0.0, live=False) is None
    session.went_live(0.0)
    late = session.catch_up(0.0)
    assert late.subscriptions == (Subscription.trades("BTC-USD"),)
    assert late.ack_id is not None and late.ack_id != plan.ack_id
    assert session.catch_up(0.0).subscriptions == ()  # once


def test_the_first_account_subscribed_is_tracked_even_given_as_a_list() -> None:
    session, _ = new_session()
    session.subscribe(Subscription.account([THEIRS, OURS]), 0.0, live=False)
    assert session.account == THEIRS  # a pubkey, never the list
    assert session.state.account == THEIRS  # one source of truth
    session.subscribe(Subscription.account(OURS), 0.0, live=False)
    assert session.account == THEIRS


def test_forgetting_stops_replaying_and_watching() -> None:
    session = live_session(Subscription.ticker("BTC-USD"), Subscription.ticker("ETH-USD"))
    assert session.forget({"ticker.ETH-USD"}) == ["ticker.ETH-USD"]
    assert session.subscriptions == [Subscription.ticker("BTC-USD")]
    stale = session.stalest(100.0)
    assert stale is not None and stale.symbol == "BTC-USD"


# -- subscribe answers ------------------------------------------------------------------------


def test_a_subscription_response_finishes_the_ack_it_names() -> None:
    session = live_session()
    first = session.subscribe(Subscription.ticker("BTC-USD"), 0.0, live=True)
    second = session.subscribe(Subscription.trades("BTC-USD"), 0.0, live=True)
    effects = session.receive(SubscriptionResponse(topics=("trades.BTC-USD",)), 0.0)
    assert effects == (FinishAck(second),)  # not the oldest: the one it names
    assert session.receive(SubscriptionResponse(topics=()), 0.0) == (FinishAck(first),)


def test_an_unrecognised_response_answers_the_oldest_waited_ack() -> None:
    session = live_session()
    first = session.subscribe(Subscription.ticker("BTC-USD"), 0.0, live=True)
    second = session.subscribe(Subscription.ticker("ETH-USD"), 0.0, live=True)
    assert first is not None
    session.abandon(first)
    assert session.receive(SubscriptionResponse(topics=("ticker.btc",)), 0.0) == (
        FinishAck(second),
    )


def test_the_first_data_frame_confirms_a_subscription() -> None:
    session = live_session()
    ack = session.subscribe(Subscription.ticker("BTC-USD"), 0.0, live=True)
    assert session.receive(ticker("ETH-USD"), 0.0) == ()
    assert session.receive(ticker(), 0.0) == [FinishAck(ack)]  # type: ignore[arg-type]
    # A response that comes after all (a newer deployment) answers nothing else.
    later = session.subscribe(Subscription.trades("BTC-USD"), 0.0, live=True)
    assert session.receive(SubscriptionResponse(topics=("ticker.BTC-USD",)), 0.0) == ()
    assert session.receive(SubscriptionResponse(topics=("trades.BTC-USD",)), 0.0) == (
        FinishAck(later),
    )


def test_a_replay_waits_for_every_topic_and_the_account_snapshot() -> None:
    session, _ = new_session(OURS)
    session.remember(Subscription.ticker("BTC-USD"))
    session.remember(Subscription.account(OURS))
    plan = session.connected(0.0)
    assert plan.wait_for_account and plan.ack_id is not None
    effects = session.receive(snapshot(), 0.0)
    assert effects == [AccountSynced(OURS)]  # type: ignore[comparison-overlap]
    assert session.receive(ticker(), 0.0) == [FinishAck(plan.ack_id)]  # type: ignore[arg-type]


def test_a_refused_subscription_is_not_replayed() -> None:
    session = live_session()
    ack = session.subscribe(Subscription.ticker("NOPE-USD"), 0.0, live=True)
    effects = session.receive(ErrorMessage(message="unknown symbol"), 0.0)
    assert effects[0] == PublishEvent(Topic.ERROR, ErrorMessage(message="unknown symbol"))
    assert isinstance(effects[1], FinishAck) and effects[1].ack_id == ack
    assert isinstance(effects[1].error, ExchangeError)
    assert session.subscriptions == []


# -- error frames without an id -----------------------------------------------------------------


def test_an_error_frame_fails_the_one_request_outstanding() -> None:
    session = live_session()
    session.request_sent(7)
    effects = session.receive(ErrorMessage(message="bad signature"), 0.0)
    assert isinstance(effects[1], FailRequest) and effects[1].request_id == 7
    assert str(effects[1].error) == "bad signature"


@pytest.mark.parametrize("unawaited", [False, True])
def test_an_error_frame_with_several_requests_outstanding_is_only_published(
    unawaited: bool, caplog: pytest.LogCaptureFixture
) -> None:
    session = live_session()
    session.request_sent(7)
    session.request_sent(8, awaited=not unawaited)
    with caplog.at_level(logging.WARNING, "bulk_trio"):
        effects = session.receive(ErrorMessage(message="nope"), 0.0)
    assert effects == (PublishEvent(Topic.ERROR, ErrorMessage(message="nope")),)
    assert "cannot be attributed" in caplog.text


def test_an_error_frame_with_a_request_and_a_subscription_outstanding_claims_nothing() -> None:
    session = live_session()
    session.request_sent(7)
    session.subscribe(Subscription.ticker("BTC-USD"), 0.0, live=True)
    assert len(session.receive(ErrorMessage(message="nope"), 0.0)) == 1


def test_a_settled_request_no_longer_counts() -> None:
    session = live_session()
    session.request_sent(7)
    session.request_sent(8)
    session.request_settled(8)
    effects = session.receive(ErrorMessage(message="nope"), 0.0)
    assert [type(e) for e in effects] == [PublishEvent, FailRequest]


# -- other messages ---------------------------------------------------------------------------


def test_replies_are_resolved_and_refusals_published() -> None:
    session = live_session()
    ok = PostReply(request_id=3, ok=True, is_ack=True)
    assert session.receive(ok, 0.0) == (ResolveRequest(3, ok),)
    refused = PostReply(request_id=4, ok=False, message="nonce reused")
    assert session.receive(refused, 0.0) == (
        PublishEvent(Topic.ERROR, refused),
        ResolveRequest(4, refused),
    )


def test_replies_to_requests_nobody_awaits_only_publish_a_refusal() -> None:
    session = live_session()
    session.request_sent(5, awaited=False)
    session.request_sent(6, awaited=False)
    assert session.receive(PostReply(request_id=5, ok=True, is_ack=True), 0.0) == ()
    refused = PostReply(request_id=6, ok=False, message="nonce reused")
    assert session.receive(refused, 0.0) == (PublishEvent(Topic.ERROR, refused),)
    session.request_sent(7)  # now the only one outstanding: an error frame is its own
    assert isinstance(session.receive(ErrorMessage(message="no"), 0.0)[1], FailRequest)


def test_control_messages_of_no_consequence_do_nothing() -> None:
    session = live_session()
    assert session.receive(UnsubscribeResponse(topic="ticker.BTC-USD"), 0.0) == ()
    assert session.receive(UnknownMessage(type="surprise"), 0.0) == ()
    bad = ProtocolError(reason="not json")
    assert session.receive(bad, 0.0) == (PublishEvent(Topic.ERROR, bad),)


def test_a_message_the_state_cannot_use_is_reported_and_skipped() -> None:
    session = live_session()
    broken = L2Snapshot("BTC-USD", 1, (BookLevel(100.0, float("nan")),), ())
    (effect,) = session.receive(broken, 0.0)
    assert isinstance(effect, PublishEvent) and isinstance(effect.item, ProtocolError)
    assert "L2Snapshot not applied" in effect.item.reason


# -- the stale-feed rule ----------------------------------------------------------------------


def test_periodic_streams_are_timed_from_their_subscription() -> None:
    session = live_session(Subscription.ticker("BTC-USD"), Subscription.trades("BTC-USD"))
    session.receive(ticker(), 5.0)
    stale = session.stalest(35.0)
    assert stale is not None and stale.silent_for == 30.0
    assert stale.describe() == "stale feed: no ticker.BTC-USD frame for 30.0 s"
    session.receive(ticker("SOL-USD"), 6.0)  # not subscribed: never expected
    assert session.stalest(40.0) == stale.__class__(Topic.TICKER, "BTC-USD", 35.0)


# -- the connection's life, as status events ----------------------------------------------------


def test_status_events_over_a_life() -> None:
    session, _ = new_session(backoff=Backoff(jitter=0.0))
    session.connected(0.0)
    assert session.went_live(0.0) == ConnectionStatus(kind=StatusKind.LIVE)
    session.request_sent(1)
    effects = session.disconnected("peer closed", 10.0, was_live=True)
    assert isinstance(effects[0], FailRequest) and isinstance(effects[0].error, ConnectionLost)
    assert effects[-1] == PublishEvent(
        Topic.STATUS, ConnectionStatus(kind=StatusKind.DISCONNECTED, reason="peer closed")
    )
    assert session.retry("peer closed", 10.0) == ConnectionStatus(
        kind=StatusKind.RETRYING, reason="peer closed", delay=1.0, attempt=1
    )
    assert session.retry("refused", 11.0).attempt == 2
    session.connected(13.0)
    assert session.went_live(13.0) == ConnectionStatus(kind=StatusKind.RESYNCED, reconnects=1)
    assert session.closed() == ConnectionStatus(kind=StatusKind.CLOSED, reconnects=1)


def test_a_link_that_never_went_live_publishes_no_disconnect() -> None:
    session, _ = new_session()
    session.connected(0.0)
    assert session.disconnected("not ready", 1.0, was_live=False) == []


def test_max_attempts_counts_consecutive_failures_only() -> None:
    session, _ = new_session(backoff=Backoff(jitter=0.0, max_attempts=2, healthy_after=60.0))
    for start in (0.0, 1000.0):  # two outages after healthy periods: each gets its attempts
        session.connected(start)
        session.went_live(start)
        session.disconnected("x", start + 100.0, was_live=True)
        assert session.retry("x", start + 100.0).delay == 1.0
        assert session.retry("x", start + 101.0).delay == 2.0
    with pytest.raises(ReconnectGaveUp):
        session.retry("x", 1200.0)


def test_the_cancel_after_disconnect_rule() -> None:
    session, _ = new_session(cancel_after_disconnect=5.0)
    session.connected(0.0)
    assert not session.must_cancel_all(0.0)  # the first connection is no reconnect
    session.went_live(0.0)
    session.disconnected("x", 10.0, was_live=True)
    session.disconnected("y", 12.0, was_live=False)  # a failed replay: the outage goes on
    assert not session.must_cancel_all(15.0)
    assert session.must_cancel_all(15.5)
    session.went_live(16.0)
    session.disconnected("z", 20.0, was_live=True)
    assert not session.must_cancel_all(21.0)  # a new outage, timed from its own start


# -- replies and precomputed ids ----------------------------------------------------------------

SIGNER = TransactionSigner.generate_account(domain="testnet")
ORDERS = [
    LimitOrder("BTC-USD", Side.BUY, 100.0, 1.0),
    CancelAll(None),
    LimitOrder("BTC-USD", Side.SELL, 200.0, 1.0),
]
PAYLOAD = SIGNER.sign_transaction(ORDERS, nonce=1_700_000_000_000_000_000)
EXPECTED = order_ids(ORDERS, nonce=PAYLOAD["nonce"], account=PAYLOAD["account"])


def test_missing_ids_are_filled_in_from_the_precomputed_ones() -> None:
    statuses = tuple(OrderResponse(status=OrderStatus.RESTING) for _ in ORDERS)
    responses = reconcile_reply(
        PostReply(request_id=1, ok=True, statuses=statuses), ORDERS, PAYLOAD
    )
    assert [r.order_id for r in responses] == EXPECTED
    assert EXPECTED[0] is not None and EXPECTED[1] is None


def test_a_mismatched_id_is_kept_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    statuses = (
        OrderResponse(status=OrderStatus.RESTING, order_id="theirs"),
        OrderResponse(status=OrderStatus.CANCELLED),
        OrderResponse(status=OrderStatus.RESTING),
    )
    with caplog.at_level(logging.WARNING, "bulk_trio"):
        responses = reconcile_reply(
            PostReply(request_id=1, ok=True, statuses=statuses), ORDERS, PAYLOAD
        )
    assert responses[0].order_id == "theirs"
    assert f"differs from the precomputed {EXPECTED[0]}" in caplog.text


def test_unaligned_statuses_are_returned_as_they_came() -> None:
    statuses = (
        OrderResponse(status=OrderStatus.RESTING),
        OrderResponse(status=OrderStatus.RESTING),
    )
    responses = reconcile_reply(
        PostReply(request_id=1, ok=True, statuses=statuses), ORDERS, PAYLOAD
    )
    assert responses == list(statuses) and all(r.order_id is None for r in responses)


def test_an_ack_makes_every_action_pending_with_its_id() -> None:
    responses = reconcile_reply(PostReply(request_id=1, ok=True, is_ack=True), ORDERS, PAYLOAD)
    assert [r.status for r in responses] == [OrderStatus.PENDING] * 3
    assert [r.order_id for r in responses] == EXPECTED


def test_a_refused_reply_raises_with_the_exchanges_words() -> None:
    with pytest.raises(ExchangeError, match="the exchange refused the request: nonce reused"):
        reconcile_reply(PostReply(request_id=1, ok=False, message="nonce reused"), ORDERS, PAYLOAD)


# -- the state machine ----------------------------------------------------------------------------

CHOICES = [
    Subscription.ticker("BTC-USD"),
    Subscription.ticker("ETH-USD"),
    Subscription.trades("BTC-USD"),
    Subscription.l2_snapshot("BTC-USD", nlevels=5),
    Subscription.account(OURS),
]


class Frame:
    """A subscribe frame the model's exchange has not answered yet."""

    def __init__(self, ack: int, subscriptions: tuple[Subscription, ...], replay: bool) -> None:
        self.ack = ack
        self.subscriptions = subscriptions
        self.replay = replay
        self.unconfirmed = {topic for s in subscriptions for topic in s.topics}
        self.finished = False
        self.abandoned = False  # its caller gave up waiting (a timeout)


class SessionMachine(RuleBasedStateMachine):
    """Drives a Session as the shell would, against a model exchange that answers subscribe
    frames in order (possibly after their data), and checks it against a plain model: an ordered
    replay list, the frames not yet answered, the requests in flight. Acks whose caller gave up
    must finish at most once, at the latest on disconnect; nothing else about them is promised."""

    def __init__(self) -> None:
        super().__init__()
        self.session, _ = new_session(OURS)
        self.replay: list[Subscription] = []
        self.frames: list[Frame] = []  # oldest first
        self.finished: set[int] = set()
        self.open_acks: set[int] = set()
        self.abandoned: set[int] = set()  # acks whose caller gave up, answered or not
        self.requests: set[int] = set()
        self.unawaited: set[int] = set()
        self.next_request = 1
        self.linked = False
        self.live = False
        self.replay_failed = False
        self.awaiting_snapshot = False

    def waiting(self) -> list[Frame]:
        """Frames whose caller still waits for the answer, oldest first."""
        return [frame for frame in self.frames if not frame.finished and not frame.abandoned]

    def new_frame(self, ack: int, subscriptions: tuple[Subscription, ...], replay: bool) -> None:
        self.frames.append(Frame(ack, subscriptions, replay))
        self.open_acks.add(ack)

    def expected_for_waiters(self, effects: list[Effect], abandoned: set[int]) -> list[Effect]:
        return [e for e in effects if not (isinstance(e, FinishAck) and e.ack_id in abandoned)]

    def perform(self, effects: Sequence[Effect]) -> list[Effect]:
        for effect in effects:
            if isinstance(effect, FinishAck):
                assert effect.ack_id not in self.finished, "an ack finished twice"
                self.finished.add(effect.ack_id)
                self.open_acks.discard(effect.ack_id)
            if isinstance(effect, FailRequest):
                assert effect.request_id in self.requests, "failed a request not in flight"
                self.requests.discard(effect.request_id)
        return list(effects)

    @rule(choice=st.sampled_from(CHOICES))
    def subscribe(self, choice: Subscription) -> None:
        ack = self.session.subscribe(choice, 0.0, live=self.live)
        if choice not in self.replay:
            self.replay.append(choice)
        if self.live:
            assert ack is not None
            self.new_frame(ack, (choice,), replay=False)
        else:
            assert ack is None

    @precondition(lambda self: not self.linked)
    @rule()
    def connect(self) -> None:
        plan = self.session.connected(0.0)
        self.linked = True
        assert list(plan.subscriptions) == self.replay
        assert plan.wait_for_account == (Subscription.account(OURS) in self.replay)
        self.awaiting_snapshot = plan.wait_for_account
        if plan.ack_id is not None:
            self.new_frame(plan.ack_id, plan.subscriptions, replay=True)
        else:
            self.go_live()

    def go_live(self) -> None:
        status = self.session.went_live(0.0)
        assert status.kind in (StatusKind.LIVE, StatusKind.RESYNCED)
        self.live = True

    @precondition(
        lambda self: self.linked and not self.live and not self.replay_failed
        and not self.awaiting_snapshot and not any(f.replay for f in self.waiting())
    )  # fmt: skip
    @rule()
    def replay_done(self) -> None:
        self.go_live()

    @precondition(lambda self: any(f.replay is False for f in self.waiting()))
    @rule(data=st.data())
    def caller_gives_up(self, data: st.DataObject) -> None:
        frame = data.draw(st.sampled_from([f for f in self.waiting() if not f.replay]))
        self.session.abandon(frame.ack)
        frame.abandoned = True
        self.abandoned.add(frame.ack)

    @precondition(lambda self: bool(self.frames))
    @rule()
    def exchange_answers(self) -> None:
        frame = self.frames.pop(0)
        topics = tuple(t for s in frame.subscriptions for t in s.topics)
        effects = self.perform(self.session.receive(SubscriptionResponse(topics=topics), 0.0))
        effects = self.expected_for_waiters(effects, self.abandoned)
        if frame.finished or frame.abandoned:  # confirmed by its data, or nobody waits
            assert effects == []
        else:
            assert effects == [FinishAck(frame.ack)]
            frame.finished = True

    @precondition(lambda self: self.linked)
    @rule(choice=st.sampled_from(CHOICES))
    def data_arrives(self, choice: Subscription) -> None:
        message: InboundMessage
        if choice.kind is Topic.ACCOUNT:
            message = snapshot()
        elif choice.kind is Topic.TICKER:
            message = ticker(choice.symbol or "")
        elif choice.kind is Topic.TRADES:
            message = TradeBatch(choice.symbol or "", ())
        else:
            message = L2Snapshot(choice.symbol or "", 1, (), ())
        effects = self.perform(self.session.receive(message, 0.0))
        effects = self.expected_for_waiters(effects, self.abandoned)
        topic = choice.topics[0]
        expected: list[Effect] = []
        for frame in self.waiting():
            if topic in frame.unconfirmed:
                frame.unconfirmed.discard(topic)
                if not frame.unconfirmed:
                    frame.finished = True
                    expected.append(FinishAck(frame.ack))
                break
        if choice.kind is Topic.ACCOUNT and self.awaiting_snapshot:
            expected.append(AccountSynced(OURS))
            self.awaiting_snapshot = False
        assert effects == expected

    @precondition(lambda self: self.live)
    @rule(awaited=st.booleans())
    def send_request(self, awaited: bool) -> None:
        self.session.request_sent(self.next_request, awaited=awaited)
        (self.requests if awaited else self.unawaited).add(self.next_request)
        self.next_request += 1

    @precondition(lambda self: bool(self.requests))
    @rule(data=st.data())
    def reply(self, data: st.DataObject) -> None:
        request_id = data.draw(st.sampled_from(sorted(self.requests)))
        reply = PostReply(request_id=request_id, ok=True, is_ack=True)
        assert self.perform(self.session.receive(reply, 0.0)) == [ResolveRequest(request_id, reply)]
        self.session.request_settled(request_id)
        self.requests.discard(request_id)

    @rule()
    def error_frame(self) -> None:
        waiting = self.waiting()
        awaited = set(self.requests)
        outstanding = len(awaited) + len(self.unawaited)
        effects = self.perform(self.session.receive(ErrorMessage(message="no"), 0.0))
        assert effects[0] == PublishEvent(Topic.ERROR, ErrorMessage(message="no"))
        attributed = effects[1:]
        if outstanding == 0 and waiting:
            frame = waiting[0]
            self.frames.remove(frame)  # refused: the exchange will not also confirm it
            (finish,) = attributed
            assert isinstance(finish, FinishAck) and finish.ack_id == frame.ack
            assert isinstance(finish.error, ExchangeError)
            if frame.replay:
                self.replay_failed = True
            else:
                self.replay = [s for s in self.replay if s not in frame.subscriptions]
        elif outstanding == 1 and awaited and not waiting:
            (fail,) = attributed
            assert isinstance(fail, FailRequest) and isinstance(fail.error, ExchangeError)
        else:
            assert attributed == []

    @precondition(lambda self: self.linked)
    @rule()
    def disconnect(self) -> None:
        had_requests = set(self.requests)
        open_acks = set(self.open_acks)
        effects = self.perform(self.session.disconnected("gone", 1.0, was_live=self.live))
        assert {e.request_id for e in effects if isinstance(e, FailRequest)} == had_requests
        lost = {e.ack_id for e in effects if isinstance(e, FinishAck)}
        assert lost == open_acks  # every ack still open, abandoned or not, finishes now
        assert not self.open_acks
        statuses = [e for e in effects if isinstance(e, PublishEvent)]
        assert len(statuses) == (1 if self.live else 0)
        self.frames.clear()
        self.unawaited.clear()
        self.linked = self.live = self.awaiting_snapshot = self.replay_failed = False

    @invariant()
    def replay_set_matches(self) -> None:
        assert self.session.subscriptions == self.replay

    @invariant()
    def tracked_account_is_ours(self) -> None:
        assert self.session.account == OURS


SessionMachine.TestCase.settings = settings(max_examples=400, stateful_step_count=40, deadline=None)
TestSessionMachine = SessionMachine.TestCase
