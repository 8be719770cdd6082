"""The client's connection: connect, replay subscriptions, receive, heartbeat, reconnect.

One :class:`Connection` lives for the whole ``async with open_bulk_client()`` block and runs as a
task in its nursery. Each socket it opens gets a *link*: a child nursery with the receiver, the
heartbeat and the stale-feed watchdog. Every protocol decision (what to replay, what a message
means, which request an answer belongs to) is the sans-IO :class:`~bulk_trio.session.Session`'s;
this module only performs its effects. Whatever ends a session (the peer, a missing pong, silence)
fails every in-flight request at once, invalidates the books, and leads to a backoff and a new
session, until the block ends.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable, Sequence
from time import perf_counter
from typing import assert_never

import attrs
import trio

from ..enums import ConnectionState, Topic
from ..errors import BulkError, ConnectError, ConnectionLost, NotConnected
from ..protocol.codec import decode, encode_subscribe
from ..protocol.subscriptions import Subscription
from ..session import (
    AccountSynced,
    Effect,
    FailRequest,
    FinishAck,
    PublishEvent,
    ResolveRequest,
    Session,
)
from .fanout import Fanout
from .requests import PendingRequests
from .state_cell import StateCell
from .transport import DEFAULT_MAX_MESSAGE_SIZE, TransportClosed, WebSocketTransport, open_transport

RECEIVER_TURN_SECONDS = 0.001
"""The receiver yields to the other tasks at least this often while it works through one socket
read (a 64 KiB read holds ~270 frames, ~1-2 ms of decoding): consumers and timers keep their turn
during a burst (docs/guides/channels.md, "How a channel keeps up")."""

Connector = Callable[..., Awaitable[WebSocketTransport]]
ResyncHook = Callable[[], Awaitable[None]]
FrameTap = Callable[[Sequence[str]], None]
"""Sees every batch of raw frames as received, before it is decoded (the recorder uses it)."""


@attrs.frozen(kw_only=True)
class ConnectionSettings:
    """How the client connects and when it gives a connection up (see docs/guides/lifecycle.md)."""

    connect_timeout: float = 10.0
    """Seconds for the socket and the WebSocket handshake."""
    ready_timeout: float = 10.0
    """Seconds for the exchange to confirm the replayed subscriptions (and send the snapshot)."""
    heartbeat_interval: float | None = 20.0
    """Seconds between our pings; None sends none."""
    heartbeat_timeout: float = 10.0
    """Seconds a ping may go unanswered before the connection counts as dead."""
    stale_after: float | None = 30.0
    """Seconds without a ticker or l2Snapshot of a subscribed symbol before the feed counts as
    dead; None disables the watchdog."""
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    connector: Connector = open_transport
    """Opens the transport; tests swap it for an in-memory peer."""


class _Ack:
    """A subscribe request waiting for the session to finish it."""

    def __init__(self) -> None:
        self.done = trio.Event()
        self.error: BulkError | None = None

    def finish(self, error: BulkError | None) -> None:
        self.error = error
        self.done.set()


class _Link:
    """One socket's life: who ended it and why."""

    def __init__(self, transport: WebSocketTransport, scope: trio.CancelScope) -> None:
        self.transport = transport
        self.scope = scope
        self.reason: str | None = None
        self.account_synced = trio.Event()
        self.live = False

    def end(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        self.scope.cancel()


class Connection:
    """Performs what the :class:`~bulk_trio.session.Session` decides, over real sockets."""

    def __init__(
        self,
        url: str,
        *,
        session: Session,
        fanout: Fanout,
        requests: PendingRequests,
        logger: logging.Logger,
        settings: ConnectionSettings | None = None,
        debug: bool = False,
    ) -> None:
        self.url = url
        self.session = session
        self._fanout = fanout
        self._requests = requests
        self._log = logger
        self._debug = debug
        self.settings = settings if settings is not None else ConnectionSettings()
        self.lifecycle = StateCell()
        self.before_live: ResyncHook | None = None
        """Awaited on a reconnect before the state becomes LIVE (the kill switch's hook)."""
        self.after_resync: Callable[[], None] | None = None
        """Called on a reconnect once LIVE and RESYNCED is published (the fill recovery's hook);
        it must not block."""
        self._acks: dict[int, _Ack] = {}
        self._link: _Link | None = None
        self.frame_taps: list[FrameTap] = []
        """Raw-frame taps (bulk_trio.shell.recorder); a tap must not block or raise."""

    @property
    def reconnects(self) -> int:
        return self.session.reconnects

    @property
    def last_drop_reason(self) -> str | None:
        return self.session.last_drop_reason

    # -- public surface used by the client ----------------------------------------------------

    async def send(self, text: str, *, resyncing: bool = False) -> None:
        """Send one frame on the live socket, or raise :class:`NotConnected` (nothing was sent).

        ``resyncing`` also allows the moment between the replay and LIVE (the kill switch).
        """
        link = self._link
        state = self.lifecycle.value
        if link is None or not (state is ConnectionState.LIVE or (resyncing and not link.live)):
            raise NotConnected(
                f"not connected to {self.url} (state {state.value}); nothing was sent"
            )
        try:
            await self._transmit(link, text)
        except TransportClosed as exc:
            link.end(exc.reason)
            raise ConnectionLost(
                f"connection lost while sending ({exc.reason}); the outcome is unknown"
            ) from None

    async def _transmit(self, link: _Link, text: str) -> None:
        """The one place every outbound frame goes through."""
        if self._debug:
            self._log.debug("send %s", text if '"method":"post"' not in text else "<post frame>")
        await link.transport.send_text(text)

    async def subscribe(self, subscription: Subscription, timeout: float) -> None:
        """Add ``subscription`` to the replay set and, when live, wait for the exchange's answer
        (its confirmation, or its first data frame). While disconnected it is only recorded."""
        link = self._link
        live = link is not None and self.lifecycle.value is ConnectionState.LIVE
        ack_id = self.session.subscribe(subscription, trio.current_time(), live=live)
        if ack_id is None or link is None:
            return
        ack = self._acks[ack_id] = _Ack()
        try:
            await self._transmit(link, encode_subscribe([subscription]))
            with trio.fail_after(timeout):
                await ack.done.wait()
        except TransportClosed:
            return  # the reconnect replays it
        finally:
            if not ack.done.is_set():
                self.session.abandon(ack_id)
            self._acks.pop(ack_id, None)
        if ack.error is not None and not isinstance(ack.error, ConnectionLost):
            raise ack.error

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
            ready_error = await self._run_link(transport, task_status if first else None)
            if first and ready_error is not None:
                raise ConnectError(f"connected to {self.url} but {ready_error}")
            first = False
            await self._back_off(self.session.last_drop_reason or "connection lost")

    async def _open(self) -> WebSocketTransport:
        settings = self.settings
        try:
            with trio.fail_after(settings.connect_timeout):
                return await settings.connector(
                    self.url, max_message_size=settings.max_message_size
                )
        except trio.TooSlowError:
            raise ConnectError(
                f"cannot connect to {self.url}: no answer within {settings.connect_timeout:g} s"
            ) from None
        except OSError as exc:
            raise ConnectError(f"cannot connect to {self.url}: {exc}") from exc

    async def _back_off(self, reason: str) -> None:
        self.lifecycle.set(ConnectionState.BACKOFF)
        status = self.session.retry(reason, trio.current_time())  # may raise ReconnectGaveUp
        self._fanout.publish(Topic.STATUS, status)
        delay = status.delay or 0.0
        self._log.warning("disconnected (%s); reconnecting in %.1f s", reason, delay)
        await trio.sleep(delay)

    async def _run_link(
        self, transport: WebSocketTransport, task_status: trio.TaskStatus[None] | None
    ) -> str | None:
        """Serve one socket until it ends. Returns why readiness failed, or None."""
        ready_error: str | None = None
        link = _Link(transport, trio.CancelScope())
        settings = self.settings
        try:
            async with trio.open_nursery() as nursery:
                link.scope = nursery.cancel_scope
                self._link = link
                nursery.start_soon(self._receive, link)
                if settings.heartbeat_interval is not None:
                    nursery.start_soon(self._heartbeat, link, settings.heartbeat_interval)
                try:
                    await self._replay(link)
                    if self.before_live is not None and self.session.must_cancel_all(
                        trio.current_time()
                    ):
                        await self.before_live()
                except (BulkError, trio.TooSlowError, TransportClosed) as exc:
                    ready_error = _describe(exc)
                    link.end(f"not ready: {ready_error}")
                else:
                    link.live = True
                    status = self.session.went_live(trio.current_time())
                    self.lifecycle.set(ConnectionState.LIVE)
                    self._fanout.publish(Topic.STATUS, status)
                    if self.after_resync is not None:
                        self.after_resync()
                    if settings.stale_after is not None:
                        nursery.start_soon(self._watch_stale, link, settings.stale_after)
                    if task_status is not None:
                        task_status.started()
                    late = self.session.catch_up(trio.current_time())
                    if late.subscriptions:
                        try:
                            await self._transmit(link, encode_subscribe(list(late.subscriptions)))
                        except TransportClosed as exc:
                            link.end(exc.reason)
        finally:
            self._link = None
            self._close_link(link)
            with trio.CancelScope(shield=True):
                await transport.aclose()
        return ready_error

    def _close_link(self, link: _Link) -> None:
        reason = link.reason or "connection closed"
        if self.lifecycle.value is not ConnectionState.CLOSED:
            # Before failing requests: a caller woken by ConnectionLost must not still read LIVE.
            self.lifecycle.set(ConnectionState.BACKOFF)
        effects = self.session.disconnected(reason, trio.current_time(), was_live=link.live)
        self._perform(effects)

    async def _replay(self, link: _Link) -> None:
        """Resubscribe everything and wait until the exchange has answered (and, for a trading
        account, until its snapshot has replaced the open orders)."""
        replay = self.session.connected(trio.current_time())
        if replay.ack_id is None:
            return
        ack = self._acks[replay.ack_id] = _Ack()
        try:
            await self._transmit(link, encode_subscribe(list(replay.subscriptions)))
            with trio.fail_after(self.settings.ready_timeout):
                await ack.done.wait()
                if ack.error is not None:
                    raise ack.error
                if replay.wait_for_account:
                    await link.account_synced.wait()
        finally:
            self._acks.pop(replay.ack_id, None)

    # -- the link's tasks ---------------------------------------------------------------------

    async def _receive(self, link: _Link) -> None:
        """Decode every frame and perform what the session makes of it; never awaits a consumer."""
        receive = self.session.receive
        perform = self._perform
        debug = self._debug
        log = self._log
        try:
            while True:
                batch = await link.transport.receive_batch()
                if self.frame_taps:  # one test per batch when nothing records
                    for tap in self.frame_taps:
                        tap(batch)
                now = trio.current_time()
                turn_ends = perf_counter() + RECEIVER_TURN_SECONDS
                for text in batch:
                    if debug:
                        log.debug("recv %s", text[:2000])
                    effects = receive(decode(text), now)
                    if effects:
                        perform(effects, link)
                    if perf_counter() > turn_ends:
                        await trio.lowlevel.checkpoint()
                        now = trio.current_time()
                        turn_ends = perf_counter() + RECEIVER_TURN_SECONDS
        except TransportClosed as exc:
            link.end(exc.reason)

    def _perform(self, effects: Iterable[Effect], link: _Link | None = None) -> None:
        for effect in effects:
            match effect:
                case PublishEvent(topic=topic, item=item):
                    self._fanout.publish(topic, item)
                case ResolveRequest(request_id=request_id, reply=reply):
                    if not self._requests.resolve(request_id, reply):
                        self._log.info("late reply for request %s (its caller gave up)", request_id)
                case FailRequest(request_id=request_id, error=error):
                    self._requests.fail(request_id, error)
                case FinishAck(ack_id=ack_id, error=error):
                    ack = self._acks.get(ack_id)
                    if ack is not None:
                        ack.finish(error)
                case AccountSynced():
                    if link is not None:
                        link.account_synced.set()
                case _:
                    assert_never(effect)

    async def _heartbeat(self, link: _Link, interval: float) -> None:
        timeout = self.settings.heartbeat_timeout
        while True:
            await trio.sleep(interval)
            try:
                pong = await link.transport.ping(secrets.token_bytes(8))
            except TransportClosed as exc:
                link.end(exc.reason)
                return
            with trio.move_on_after(timeout):
                await pong.wait()
            if not pong.is_set() or link.transport.closed:
                link.end(f"no pong within {timeout:g} s")
                return

    async def _watch_stale(self, link: _Link, stale_after: float) -> None:
        while True:
            stale = self.session.stalest(trio.current_time())
            if stale is None:
                await trio.sleep(stale_after)
                continue
            if stale.silent_for >= stale_after:
                link.end(stale.describe())
                return
            await trio.sleep(stale_after - stale.silent_for)

    def close(self) -> None:
        """The block ended: publish CLOSED once."""
        if self.lifecycle.value is ConnectionState.CLOSED:
            return
        self.lifecycle.set(ConnectionState.CLOSED)
        self._fanout.publish(Topic.STATUS, self.session.closed())


def _describe(exc: BaseException) -> str:
    if isinstance(exc, trio.TooSlowError):
        return "the exchange did not confirm the subscriptions in time"
    if isinstance(exc, TransportClosed):
        return exc.reason
    return str(exc)
