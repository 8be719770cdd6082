"""The client's connection: connect, replay subscriptions, receive, heartbeat, reconnect.

One :class:`Connection` lives for the whole ``async with open_bulk_client()`` block and runs as a
task in its nursery. Each socket it opens gets a *session*: a child nursery with the receiver, the
heartbeat and the stale-feed watchdog. Whatever ends a session (the peer, a missing pong, silence)
fails every in-flight request at once, invalidates the books, and leads to a backoff and a new
session, until the block ends.
"""

from __future__ import annotations

import logging
import secrets
from collections import deque
from collections.abc import Awaitable, Callable, Sequence

import trio

from ..backoff import Backoff
from ..enums import ConnectionState
from ..errors import BulkError, ConnectError, ConnectionLost, ExchangeError
from ..models import (
    AccountSnapshot,
    ErrorMessage,
    L2Snapshot,
    PostReply,
    ProtocolError,
    SubscriptionResponse,
    Ticker,
    UnknownMessage,
    UnsubscribeResponse,
)
from ..protocol.codec import decode, encode_subscribe
from ..protocol.subscriptions import Subscription
from ..state import ClientState
from .fanout import Fanout
from .requests import PendingRequests
from .state_cell import StateCell
from .transport import DEFAULT_MAX_MESSAGE_SIZE, TransportClosed, WebSocketTransport, open_transport

Connector = Callable[..., Awaitable[WebSocketTransport]]
FrameTap = Callable[[Sequence[str]], None]
"""Sees every batch of raw frames as received, before it is decoded (the recorder uses it)."""


class NotConnected(ConnectionLost):
    """The client is between connections; the request was NOT sent (its outcome is known)."""


class _Ack:
    """A subscribe request waiting for its ``subscriptionResponse`` (answered in order)."""

    def __init__(self) -> None:
        self.done = trio.Event()
        self.error: BulkError | None = None
        self.abandoned = False

    def finish(self, error: BulkError | None = None) -> None:
        self.error = error
        self.done.set()


class _Session:
    """One socket's life: who ended it and why."""

    def __init__(self, transport: WebSocketTransport, scope: trio.CancelScope) -> None:
        self.transport = transport
        self.scope = scope
        self.reason: str | None = None
        self.account_snapshot = trio.Event()
        self.periodic_seen: dict[tuple[type, str], float] = {}

    def end(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        self.scope.cancel()


class Connection:
    def __init__(
        self,
        url: str,
        *,
        state: ClientState,
        fanout: Fanout,
        requests: PendingRequests,
        logger: logging.Logger,
        debug: bool = False,
        backoff: Backoff | None = None,
        connect_timeout: float = 10.0,
        ready_timeout: float = 10.0,
        heartbeat_interval: float | None = 20.0,
        heartbeat_timeout: float = 10.0,
        stale_after: float | None = 30.0,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        connector: Connector = open_transport,
    ) -> None:
        self.url = url
        self._state = state
        self._fanout = fanout
        self._requests = requests
        self._log = logger
        self._debug = debug
        self._backoff = backoff if backoff is not None else Backoff()
        self._connect_timeout = connect_timeout
        self._ready_timeout = ready_timeout
        self._heartbeat_interval = heartbeat_interval
        self._heartbeat_timeout = heartbeat_timeout
        self._stale_after = stale_after
        self._max_message_size = max_message_size
        self._connector = connector
        self.lifecycle = StateCell()
        self.subscriptions: dict[str, Subscription] = {}
        self._acks: deque[_Ack] = deque()
        self._session: _Session | None = None
        self.reconnects = 0
        self.last_drop_reason: str | None = None
        self.frame_taps: list[FrameTap] = []
        """Raw-frame taps (bulk_trio.shell.recorder); a tap must not block or raise."""

    # -- public surface used by the client ----------------------------------------------------

    async def send(self, text: str) -> None:
        """Send one frame on the live socket, or raise :class:`NotConnected` (nothing was sent)."""
        session = self._session
        if session is None or self.lifecycle.value is not ConnectionState.LIVE:
            state = self.lifecycle.value.value
            raise NotConnected(f"not connected to {self.url} (state {state}); nothing was sent")
        if self._debug:
            self._log.debug("send %s", text if '"method":"post"' not in text else "<post frame>")
        try:
            await session.transport.send_text(text)
        except TransportClosed as exc:
            session.end(exc.reason)
            raise ConnectionLost(
                f"connection lost while sending ({exc.reason}); the outcome is unknown"
            ) from None

    def remember(self, subscription: Subscription) -> None:
        """Add ``subscription`` to the replay set without sending it now."""
        self.subscriptions.setdefault(_key(subscription), subscription)

    async def subscribe(self, subscription: Subscription, timeout: float) -> None:
        """Add ``subscription`` to the replay set and, when live, wait for the exchange's answer.

        While disconnected it is only recorded: every reconnect replays the whole set.
        """
        key = _key(subscription)
        self.subscriptions[key] = subscription
        session = self._session
        if session is None or self.lifecycle.value is not ConnectionState.LIVE:
            return
        ack = _Ack()
        self._acks.append(ack)
        self._expect_initial_frames(session, subscription)
        try:
            await session.transport.send_text(encode_subscribe([subscription]))
            with trio.fail_after(timeout):
                await ack.done.wait()
        except TransportClosed:
            return  # the reconnect replays it
        finally:
            ack.abandoned = not ack.done.is_set()
        if ack.error is not None:
            self.subscriptions.pop(key, None)
            raise ack.error

    def forget(self, topics: set[str]) -> list[str]:
        """Drop every subscription yielding one of ``topics``; return the topics to unsubscribe."""
        removed: list[str] = []
        for key, subscription in list(self.subscriptions.items()):
            if topics.intersection(subscription.topics):
                del self.subscriptions[key]
                removed.extend(subscription.topics)
                if self._session is not None:  # the stale-feed watchdog stops expecting it
                    for periodic in _periodic(subscription):
                        self._session.periodic_seen.pop(periodic, None)
        return removed

    def _expect_initial_frames(self, session: _Session, subscription: Subscription) -> None:
        """Prepare for what a new subscription brings: the stale-feed watchdog starts timing its
        periodic stream, and an l2Delta stream starts with a full book (PROTOCOL §3.5)."""
        now = trio.current_time()
        for periodic in _periodic(subscription):
            session.periodic_seen.setdefault(periodic, now)
        wire = subscription.to_wire()
        if wire.get("type") == "l2Delta" and isinstance(wire.get("symbol"), str):
            self._state.expect_full_book(wire["symbol"])

    # -- the life cycle -----------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Connect, stay connected, reconnect. The first failure to connect is raised."""
        first = True
        while True:
            self.lifecycle.set(ConnectionState.CONNECTING)
            try:
                transport = await self._open()
            except ConnectError as exc:
                if first:
                    raise
                await self._back_off(str(exc))
                continue
            ready_error = await self._run_session(transport, task_status if first else None)
            if first and ready_error is not None:
                raise ConnectError(f"connected to {self.url} but {ready_error}")
            first = False
            await self._back_off(self.last_drop_reason or "connection lost")

    async def _open(self) -> WebSocketTransport:
        try:
            with trio.fail_after(self._connect_timeout):
                return await self._connector(self.url, max_message_size=self._max_message_size)
        except trio.TooSlowError:
            raise ConnectError(
                f"cannot connect to {self.url}: no answer within {self._connect_timeout:g} s"
            ) from None
        except OSError as exc:
            raise ConnectError(f"cannot connect to {self.url}: {exc}") from exc

    async def _back_off(self, reason: str) -> None:
        self.last_drop_reason = reason  # also a failed attempt's reason, not just a session's
        self.lifecycle.set(ConnectionState.BACKOFF)
        self._backoff.disconnected(trio.current_time())
        delay = self._backoff.next_delay()  # raises ReconnectGaveUp when told a maximum
        self._log.warning("disconnected (%s); reconnecting in %.1f s", reason, delay)
        await trio.sleep(delay)
        self.reconnects += 1

    async def _run_session(
        self, transport: WebSocketTransport, task_status: trio.TaskStatus[None] | None
    ) -> str | None:
        """Serve one socket until it ends. Returns why readiness failed, or None."""
        ready_error: str | None = None
        session = _Session(transport, trio.CancelScope())
        try:
            async with trio.open_nursery() as nursery:
                session.scope = nursery.cancel_scope
                self._session = session
                nursery.start_soon(self._receive, session)
                if self._heartbeat_interval is not None:
                    nursery.start_soon(self._heartbeat, session, self._heartbeat_interval)
                try:
                    await self._replay(session)
                except (BulkError, trio.TooSlowError, TransportClosed) as exc:
                    ready_error = _describe(exc)
                    session.end(f"not ready: {ready_error}")
                else:
                    self.lifecycle.set(ConnectionState.LIVE)
                    self._backoff.connected(trio.current_time())
                    if self._stale_after is not None:
                        nursery.start_soon(self._watch_stale, session, self._stale_after)
                    if task_status is not None:
                        task_status.started()
        finally:
            self._session = None
            self._close_session(session)
            with trio.CancelScope(shield=True):
                await transport.aclose()
        return ready_error

    def _close_session(self, session: _Session) -> None:
        reason = session.reason or "connection closed"
        self.last_drop_reason = reason
        if self.lifecycle.value is not ConnectionState.CLOSED:
            # Before failing requests: a caller woken by ConnectionLost must not still read LIVE.
            self.lifecycle.set(ConnectionState.BACKOFF)
        message = (
            f"connection lost ({reason}) with request {{}} in flight; its outcome is unknown: "
            "check the open orders after the reconnect"
        )
        self._requests.fail_all(lambda request_id: ConnectionLost(message.format(request_id)))
        while self._acks:
            self._acks.popleft().finish(ConnectionLost(f"connection lost ({reason})"))
        self._state.connection_lost()

    async def _replay(self, session: _Session) -> None:
        """Resubscribe everything and wait until the exchange has answered (and, for a trading
        account, until its snapshot has replaced the open orders)."""
        subscriptions = list(self.subscriptions.values())
        for subscription in subscriptions:
            self._expect_initial_frames(session, subscription)
        if not subscriptions:
            return
        ack = _Ack()
        self._acks.append(ack)
        await session.transport.send_text(encode_subscribe(subscriptions))
        with trio.fail_after(self._ready_timeout):
            await ack.done.wait()
            if ack.error is not None:
                raise ack.error
            account = self._state.account
            if account is not None and any(f"account.{account}" in s.topics for s in subscriptions):
                await session.account_snapshot.wait()

    # -- the session's tasks ------------------------------------------------------------------

    async def _receive(self, session: _Session) -> None:
        """Decode, apply and publish every frame; never awaits a consumer."""
        apply = self._state.apply
        debug = self._debug
        log = self._log
        seen = session.periodic_seen
        try:
            while True:
                batch = await session.transport.receive_batch()
                if self.frame_taps:  # one test per batch when nothing records
                    for tap in self.frame_taps:
                        tap(batch)
                now = trio.current_time()
                for text in batch:
                    if debug:
                        log.debug("recv %s", text[:2000])
                    message = decode(text)
                    kind = type(message)
                    if apply(message):
                        if kind is Ticker or kind is L2Snapshot:
                            seen[kind, message.symbol] = now  # type: ignore[union-attr]
                        elif (
                            kind is AccountSnapshot and message.account == self._state.account  # type: ignore[union-attr]
                        ):
                            session.account_snapshot.set()
                        continue
                    self._on_control(message)
        except TransportClosed as exc:
            session.end(exc.reason)

    def _on_control(self, message: object) -> None:
        if type(message) is PostReply:
            if not message.ok:
                self._log.warning("request %s refused: %s", message.request_id, message.message)
                self._fanout.publish_error(message)
            if not self._requests.resolve(message.request_id, message):
                self._log.info("late reply for request %s (its caller gave up)", message.request_id)
        elif type(message) is SubscriptionResponse:
            self._finish_ack(None)
        elif type(message) is ErrorMessage:
            self._log.warning("exchange error: %s", message.message)
            self._fanout.publish_error(message)
            self._finish_ack(ExchangeError(message.message, raw=message.raw))
        elif type(message) is ProtocolError:
            self._log.warning("skipped a malformed frame: %s", message.reason)
            self._fanout.publish_error(message)
        elif type(message) is UnsubscribeResponse:
            pass
        elif type(message) is UnknownMessage:
            self._log.debug("ignored a message of unknown type %r", message.type)

    def _finish_ack(self, error: BulkError | None) -> None:
        # Subscribe requests are answered in order; an error frame answers the oldest one.
        while self._acks:
            ack = self._acks.popleft()
            if not ack.abandoned:
                ack.finish(error)
                return

    async def _heartbeat(self, session: _Session, interval: float) -> None:
        timeout = self._heartbeat_timeout
        while True:
            await trio.sleep(interval)
            try:
                pong = await session.transport.ping(secrets.token_bytes(8))
            except TransportClosed as exc:
                session.end(exc.reason)
                return
            with trio.move_on_after(timeout):
                await pong.wait()
            if not pong.is_set() or session.transport.closed:
                session.end(f"no pong within {timeout:g} s")
                return

    async def _watch_stale(self, session: _Session, stale_after: float) -> None:
        seen = session.periodic_seen
        while True:
            if not seen:
                await trio.sleep(stale_after)
                continue
            (kind, symbol), last = min(seen.items(), key=lambda item: item[1])
            silent_for = trio.current_time() - last
            if silent_for >= stale_after:
                name = "ticker" if kind is Ticker else "l2Snapshot"
                session.end(f"stale feed: no {name}.{symbol} frame for {silent_for:.1f} s")
                return
            await trio.sleep(stale_after - silent_for)


def _key(subscription: Subscription) -> str:
    return "|".join(subscription.topics) + repr(sorted(subscription.to_wire().items()))


def _periodic(subscription: Subscription) -> list[tuple[type, str]]:
    """The (message type, symbol) pairs a subscription must keep delivering (ticker, l2Snapshot)."""
    wire = subscription.to_wire()
    kind = wire.get("type")
    symbol = wire.get("symbol")
    if not isinstance(symbol, str):
        return []
    if kind == "ticker":
        return [(Ticker, symbol)]
    if kind == "l2Snapshot":
        return [(L2Snapshot, symbol)]
    return []


def _describe(exc: BaseException) -> str:
    if isinstance(exc, trio.TooSlowError):
        return "the exchange did not confirm the subscriptions in time"
    if isinstance(exc, TransportClosed):
        return exc.reason
    return str(exc)
