"""The event side of :class:`~bulk_trio.BulkClient`: channels, handlers and latest-value streams.

Kept apart from the connection and trading code of ``shell/client.py``; ``BulkClient`` inherits
it. The ``@overload`` stacks tie each :class:`~bulk_trio.Topic` to the type of its events, so a
type checker knows that ``client.events(Topic.TICKER)`` yields :class:`~bulk_trio.Ticker`.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, overload

import trio

from ..book_view import BookView
from ..enums import ConnectionState, Topic
from ..errors import SubscriberOverflow
from ..literals import CandleInterval
from ..models import (
    AccountSnapshot,
    Candle,
    ConnectionStatus,
    ErrorMessage,
    Fill,
    HandlerError,
    L2Delta,
    L2Snapshot,
    LeverageSetting,
    MarginUpdate,
    OrderState,
    PositionUpdate,
    PostReply,
    ProtocolError,
    Ticker,
    Trade,
)
from ..protocol.subscriptions import wire_interval
from .fanout import EventChannel, Fanout, Subscriber, SubscriberStats, open_subscription
from .latest_values import LatestValue, watch_connection, watch_topics

if TYPE_CHECKING:
    from ..state import ClientState
    from .state_cell import StateCell

ErrorEvent: TypeAlias = ErrorMessage | ProtocolError | PostReply | HandlerError | SubscriberOverflow
"""What ``Topic.ERROR`` carries (docs/guides/channels.md, "Errors on Topic.ERROR")."""

Handler = Callable[[Any], object]
"""A plain or ``async def`` function of one event; what it returns is awaited if awaitable."""

EventsOf: TypeAlias = AbstractAsyncContextManager[EventChannel[Any]]


class ClientEvents:
    """Channels (:meth:`events`), handlers (:meth:`on`) and latest-value streams (:meth:`watch`,
    :meth:`watch_book`, :meth:`watch_state`) of a connected client."""

    # Set by BulkClient.__init__.
    _fanout: Fanout
    _state: ClientState
    _log: logging.Logger
    _nursery: trio.Nursery | None
    _handlers: list[tuple[Topic, Handler, Subscriber]]

    def _check_open(self) -> None:
        raise NotImplementedError  # BulkClient's

    def _lifecycle(self) -> StateCell:
        raise NotImplementedError  # BulkClient's

    # -- channels -----------------------------------------------------------------------------

    # fmt: off
    @overload
    def events(self, topic: Literal[Topic.TICKER], *, buffer: int | None = None, name: str | None = None) -> AbstractAsyncContextManager[EventChannel[Ticker]]: ...  # noqa: E501
    @overload
    def events(self, topic: Literal[Topic.TRADES], *, buffer: int | None = None, name: str | None = None) -> AbstractAsyncContextManager[EventChannel[list[Trade]]]: ...  # noqa: E501
    @overload
    def events(self, topic: Literal[Topic.L2SNAPSHOT], *, buffer: int | None = None, name: str | None = None) -> AbstractAsyncContextManager[EventChannel[L2Snapshot]]: ...  # noqa: E501
    @overload
    def events(self, topic: Literal[Topic.L2DELTA], *, buffer: int | None = None, name: str | None = None) -> AbstractAsyncContextManager[EventChannel[L2Delta]]: ...  # noqa: E501
    @overload
    def events(self, topic: Literal[Topic.CANDLE], *, buffer: int | None = None, name: str | None = None) -> AbstractAsyncContextManager[EventChannel[Candle]]: ...  # noqa: E501
    @overload
    def events(self, topic: Literal[Topic.ACCOUNT], *, buffer: int | None = None, name: str | None = None) -> AbstractAsyncContextManager[EventChannel[AccountSnapshot]]: ...  # noqa: E501
    @overload
    def events(self, topic: Literal[Topic.MARGIN], *, buffer: int | None = None, name: str | None = None) -> AbstractAsyncContextManager[EventChannel[MarginUpdate]]: ...  # noqa: E501
    @overload
    def events(self, topic: Literal[Topic.POSITION], *, buffer: int | None = None, name: str | None = None) -> AbstractAsyncContextManager[EventChannel[PositionUpdate]]: ...  # noqa: E501
    @overload
    def events(self, topic: Literal[Topic.ORDER], *, buffer: int | None = None, name: str | None = None) -> AbstractAsyncContextManager[EventChannel[OrderState]]: ...  # noqa: E501
    @overload
    def events(self, topic: Literal[Topic.FILL], *, buffer: int | None = None, name: str | None = None) -> AbstractAsyncContextManager[EventChannel[Fill]]: ...  # noqa: E501
    @overload
    def events(self, topic: Literal[Topic.LEVERAGE], *, buffer: int | None = None, name: str | None = None) -> AbstractAsyncContextManager[EventChannel[list[LeverageSetting]]]: ...  # noqa: E501
    @overload
    def events(self, topic: Literal[Topic.ERROR], *, buffer: int | None = None, name: str | None = None) -> AbstractAsyncContextManager[EventChannel[ErrorEvent]]: ...  # noqa: E501
    @overload
    def events(self, topic: Literal[Topic.STATUS], *, buffer: int | None = None, name: str | None = None) -> AbstractAsyncContextManager[EventChannel[ConnectionStatus]]: ...  # noqa: E501
    @overload
    def events(self, topic: Topic, *, buffer: int | None = None, name: str | None = None) -> EventsOf: ...  # noqa: E501
    # fmt: on

    def events(
        self, topic: Topic, *, buffer: int | None = None, name: str | None = None
    ) -> EventsOf:
        """``async with client.events(Topic.TICKER) as tickers: async for t in tickers: ...``

        Each call gets its own bounded :class:`~bulk_trio.shell.fanout.EventChannel`. Market-data
        topics drop their oldest item when the reader falls ``buffer`` items behind (counted in
        :meth:`channel_stats`); account topics, ERROR and STATUS never drop: a reader that falls
        that far behind has its channel closed and sees :class:`~bulk_trio.SubscriberOverflow`
        when it leaves the block.
        """
        self._check_open()
        return open_subscription(self._fanout, topic, buffer=buffer, name=name)

    def channel_stats(self) -> list[SubscriberStats]:
        """Per-subscriber delivery statistics: delivered, dropped, buffered, capacity."""
        return self._fanout.stats()

    # -- handlers -----------------------------------------------------------------------------

    # fmt: off
    @overload
    def on(self, topic: Literal[Topic.TICKER], handler: Callable[[Ticker], object]) -> None: ...
    @overload
    def on(self, topic: Literal[Topic.TRADES], handler: Callable[[list[Trade]], object]) -> None: ...  # noqa: E501
    @overload
    def on(self, topic: Literal[Topic.L2SNAPSHOT], handler: Callable[[L2Snapshot], object]) -> None: ...  # noqa: E501
    @overload
    def on(self, topic: Literal[Topic.L2DELTA], handler: Callable[[L2Delta], object]) -> None: ...
    @overload
    def on(self, topic: Literal[Topic.CANDLE], handler: Callable[[Candle], object]) -> None: ...
    @overload
    def on(self, topic: Literal[Topic.ACCOUNT], handler: Callable[[AccountSnapshot], object]) -> None: ...  # noqa: E501
    @overload
    def on(self, topic: Literal[Topic.MARGIN], handler: Callable[[MarginUpdate], object]) -> None: ...  # noqa: E501
    @overload
    def on(self, topic: Literal[Topic.POSITION], handler: Callable[[PositionUpdate], object]) -> None: ...  # noqa: E501
    @overload
    def on(self, topic: Literal[Topic.ORDER], handler: Callable[[OrderState], object]) -> None: ...
    @overload
    def on(self, topic: Literal[Topic.FILL], handler: Callable[[Fill], object]) -> None: ...
    @overload
    def on(self, topic: Literal[Topic.LEVERAGE], handler: Callable[[list[LeverageSetting]], object]) -> None: ...  # noqa: E501
    @overload
    def on(self, topic: Literal[Topic.ERROR], handler: Callable[[ErrorEvent], object]) -> None: ...
    @overload
    def on(self, topic: Literal[Topic.STATUS], handler: Callable[[ConnectionStatus], object]) -> None: ...  # noqa: E501
    @overload
    def on(self, topic: Topic, handler: Callable[[object], object]) -> None: ...
    # fmt: on

    def on(self, topic: Topic, handler: Handler) -> None:
        """Run ``handler(item)`` (plain or ``async def``) for every event of ``topic``.

        Each handler runs in its own task fed by its own channel, so a slow handler delays only
        itself, and a handler may place orders and await their replies. An exception in a handler
        is logged and published on ``Topic.ERROR`` as a :class:`~bulk_trio.models.HandlerError`.
        """
        self._check_open()
        if not callable(handler):
            raise ValueError(f"handler for {topic} must be callable, got {handler!r}")
        subscriber = self._fanout.subscribe(topic, name=_handler_name(handler))
        self._handlers.append((topic, handler, subscriber))
        if self._nursery is not None:
            self._nursery.start_soon(self._run_handler, topic, handler, subscriber)

    def off(self, topic: Topic, handler: Handler) -> bool:
        """Stop a handler registered with :meth:`on`; False if it was not registered."""
        for index, (registered_topic, registered, subscriber) in enumerate(self._handlers):
            if registered_topic is topic and registered == handler:
                del self._handlers[index]
                subscriber.close()
                subscriber.receive_channel.close()  # stop now, not after what is buffered
                return True
        return False

    async def _run_handler(self, topic: Topic, handler: Handler, subscriber: Subscriber) -> None:
        name = _handler_name(handler)
        try:
            # The channel hands out a burst without a scheduler pass per item and yields at least
            # every millisecond, so a plain loop keeps up without starving the other tasks.
            async for item in subscriber.receive_channel:
                try:
                    result = handler(item)
                    if result is not None and inspect.isawaitable(result):
                        await result
                except Exception as exc:
                    self._log.exception("handler %s for %s raised", name, topic.value)
                    if topic is not Topic.ERROR:
                        self._fanout.publish_error(
                            HandlerError(topic=topic, handler=name, error=exc)
                        )
        except trio.ClosedResourceError:
            pass  # off() closed the channel under us
        if subscriber.overflow_error is not None:
            self._log.error("handler %s stopped: %s", name, subscriber.overflow_error)

    # -- latest values ------------------------------------------------------------------------

    @overload
    def watch(
        self, topic: Literal[Topic.TICKER], symbol: str
    ) -> AbstractAsyncContextManager[LatestValue[Ticker]]: ...
    @overload
    def watch(
        self, topic: Literal[Topic.CANDLE], symbol: str, interval: CandleInterval
    ) -> AbstractAsyncContextManager[LatestValue[Candle]]: ...

    def watch(
        self, topic: Topic, symbol: str, interval: str | None = None
    ) -> AbstractAsyncContextManager[LatestValue[Any]]:
        """``async with client.watch(Topic.TICKER, "BTC-USD") as tickers: async for t in tickers:``

        Yields the newest value each time it changed since the one the loop last took (starting
        with the current one, if the client has it): values that arrived while the loop was busy
        are skipped, and nothing ever overflows. ``Topic.CANDLE`` is keyed by symbol and
        ``interval``. Like :meth:`events`, this does not subscribe at the exchange.
        """
        self._check_open()
        if not isinstance(symbol, str) or not symbol:
            raise ValueError(f"symbol must be a non-empty string, got {symbol!r}")
        state = self._state
        if topic is Topic.TICKER:
            if interval is not None:
                raise ValueError("watch(Topic.TICKER, symbol) takes no interval")
            return watch_topics(
                self._fanout,
                [Topic.TICKER],
                lambda ticker: ticker.symbol == symbol,
                lambda: state.tickers.get(symbol),
            )
        if topic is Topic.CANDLE:
            if interval is None:
                raise ValueError("watch(Topic.CANDLE, symbol, interval) needs an interval")
            key = (symbol, wire_interval(interval))
            return watch_topics(
                self._fanout,
                [Topic.CANDLE],
                lambda candle: (candle.symbol, candle.interval) == key,
                lambda: state.candles.get(key),
            )
        raise ValueError(
            f"watch() follows Topic.TICKER and Topic.CANDLE, not {topic!r}; use watch_book() for "
            "books, watch_state() for the connection and events() for every event"
        )

    def watch_book(
        self, symbol: str, depth: int | None = None
    ) -> AbstractAsyncContextManager[LatestValue[BookView]]:
        """``async with client.watch_book("BTC-USD") as books: async for book in books: ...``

        Each step yields an immutable :class:`~bulk_trio.BookView` of the book as it is after the
        latest change (the best ``depth`` levels of each side, or all), skipping the changes the
        loop was too busy to see. Only valid books are shown: after a reconnect the next view
        comes with the fresh snapshot. The book must be subscribed
        (``subscribe_orderbook_delta`` or ``subscribe_orderbook_snapshot``).
        """
        self._check_open()
        if not isinstance(symbol, str) or not symbol:
            raise ValueError(f"symbol must be a non-empty string, got {symbol!r}")
        if depth is not None and (type(depth) is not int or depth < 1):
            raise ValueError(f"depth must be an integer >= 1 or None, not {depth!r}")
        books = self._state.order_books

        def read() -> BookView | None:
            book = books.get(symbol)
            return BookView.of(book, depth) if book is not None and book.is_valid else None

        return watch_topics(
            self._fanout,
            [Topic.L2SNAPSHOT, Topic.L2DELTA],
            lambda message: message.symbol == symbol,
            read,
        )

    def watch_state(self) -> AbstractAsyncContextManager[AsyncIterator[ConnectionState]]:
        """``async with client.watch_state() as states: async for state in states: ...``

        The connection's :class:`~bulk_trio.ConnectionState` now, then each new state (states the
        loop was too busy to see are skipped; ``Topic.STATUS`` has every event, with reasons).
        The loop ends after ``CLOSED``.
        """
        return watch_connection(self._lifecycle())


def _handler_name(handler: Handler) -> str:
    return getattr(handler, "__qualname__", None) or repr(handler)
