"""What the client knows about the market and its account, kept current by decoded messages.

Sans-IO: each ``on_*`` method takes one decoded message, updates the state the synchronous
accessors read, and hands its event to ``publish(topic, item)``. The session
(:class:`bulk_trio.session.Session`) routes every inbound message to them; tests call them directly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import attrs

from .book import OrderBook
from .enums import OrderStatus, Topic
from .fill_recovery import FillLedger, RecoveredFills, RecoveryPlan
from .inventory import Inventory, InventoryCheckpoint
from .models import (
    AccountSnapshot,
    Candle,
    Fill,
    L2Delta,
    L2Snapshot,
    LeverageSetting,
    LeverageUpdate,
    Margin,
    MarginUpdate,
    OrderState,
    Position,
    PositionUpdate,
    Ticker,
    TradeBatch,
)

Publish = Callable[[Topic, object], None]

VANISHED_REASON = (
    "open before the disconnect and absent from the account snapshot after it: "
    "filled or cancelled while disconnected"
)


class ClientState:
    """Tickers, books, the tracked account's orders, positions, margin and leverage.

    Account messages only change the state when they belong to ``account`` (the trading account);
    other accounts' streams are still published, since BULK account streams are public.
    """

    def __init__(
        self,
        publish: Publish,
        *,
        account: str | None = None,
        inventory: Inventory | None = None,
        logger: logging.Logger | None = None,
        fills: FillLedger | None = None,
    ) -> None:
        self._publish = publish
        self.account = account
        self.inventory = inventory if inventory is not None else Inventory()
        self.fills = fills if fills is not None else FillLedger()
        """The tracked account's fills, for recovering those missed while disconnected."""
        self._before_outage: InventoryCheckpoint | None = None
        self._log = logger or logging.getLogger("bulk_trio")
        self.tickers: dict[str, Ticker] = {}
        self.order_books: dict[str, OrderBook] = {}
        self.open_orders: dict[str, OrderState] = {}
        self.positions: dict[str, Position] = {}
        self.leverage_settings: dict[str, LeverageSetting] = {}
        self.margin: Margin | None = None
        self.account_snapshot: AccountSnapshot | None = None
        self.candles: dict[tuple[str, str], Candle] = {}
        self._awaiting_full_book: set[str] = set()

    def book(self, symbol: str) -> OrderBook:
        """The book of ``symbol``, created empty (and invalid) on first use."""
        book = self.order_books.get(symbol)
        if book is None:
            book = self.order_books[symbol] = OrderBook(symbol)
        return book

    def expect_full_book(self, symbol: str) -> None:
        """An l2Delta subscription was just sent: its first frame is the whole book, even if the
        exchange leaves out ``updateType: "snapshot"``."""
        self._awaiting_full_book.add(symbol)

    def connection_lost(self) -> None:
        """Books can no longer be trusted: deltas are ignored until a fresh snapshot arrives."""
        for book in self.order_books.values():
            book.invalidate()
        if self.fills.connection_lost():
            self._before_outage = self.inventory.checkpoint()

    # -- market data --------------------------------------------------------------------------

    def on_ticker(self, ticker: Ticker) -> None:
        self.tickers[ticker.symbol] = ticker
        if ticker.mark_price is not None:
            self.inventory.mark(ticker.symbol, ticker.mark_price)
        self._publish(Topic.TICKER, ticker)

    def on_trades(self, batch: TradeBatch) -> None:
        self._publish(Topic.TRADES, list(batch.trades))

    def on_book(self, message: L2Snapshot | L2Delta) -> None:
        if type(message) is L2Delta and message.symbol in self._awaiting_full_book:
            self._awaiting_full_book.discard(message.symbol)
            if not message.is_snapshot:
                message = attrs.evolve(message, is_snapshot=True)
        self.book(message.symbol).apply(message)
        topic = Topic.L2SNAPSHOT if type(message) is L2Snapshot else Topic.L2DELTA
        self._publish(topic, message)

    def on_candle(self, candle: Candle) -> None:
        self.candles[candle.symbol, candle.interval] = candle
        self._publish(Topic.CANDLE, candle)

    # -- the account --------------------------------------------------------------------------

    def is_tracked(self, account: str) -> bool:
        """True for the tracked account's messages (an empty account names the stream's own)."""
        return self.account is not None and account in (self.account, "")

    def on_account_snapshot(self, snapshot: AccountSnapshot) -> None:
        if self.is_tracked(snapshot.account):
            self.fills.tracking(self.account or snapshot.account)
            # Authoritative: replace, never merge (docs/protocol.md, account subtypes); report
            # what vanished meanwhile.
            previous = self.open_orders
            self.open_orders = {order.order_id: order for order in snapshot.open_orders}
            self.positions = {position.symbol: position for position in snapshot.positions}
            self.leverage_settings = {s.symbol: s for s in snapshot.leverage_settings}
            self.margin = snapshot.margin
            self.account_snapshot = snapshot
            self.inventory.reset(snapshot.positions)
            self._publish(Topic.ACCOUNT, snapshot)
            for order_id, order in previous.items():
                if order_id not in self.open_orders:
                    vanished = attrs.evolve(
                        order, status=OrderStatus.VANISHED, reason=VANISHED_REASON
                    )
                    self._log.warning("order %s %s", order_id, VANISHED_REASON)
                    self._publish(Topic.ORDER, vanished)
        else:
            self._publish(Topic.ACCOUNT, snapshot)

    def on_order(self, order: OrderState) -> None:
        if self.is_tracked(order.account):
            if order.status.is_terminal():
                self.open_orders.pop(order.order_id, None)
            else:
                self.open_orders[order.order_id] = order
        self._publish(Topic.ORDER, order)

    def on_fill(self, fill: Fill) -> None:
        if self.is_tracked(fill.account):
            if not self.fills.live(fill):
                self._log.debug("fill of order %s was recovered already", fill.order_id)
                return
            self.inventory.apply_fill(fill)
            order = self.open_orders.get(fill.order_id)
            if order is not None:
                # As the official SDKs do: the orderUpdate that follows is authoritative anyway.
                remaining = order.size - fill.size
                if remaining <= 1e-12:
                    del self.open_orders[fill.order_id]
                else:
                    self.open_orders[fill.order_id] = attrs.evolve(
                        order, size=remaining, filled_size=order.filled_size + fill.size
                    )
        self._publish(Topic.FILL, fill)

    def on_margin(self, update: MarginUpdate) -> None:
        if self.is_tracked(update.account):
            self.margin = update
        self._publish(Topic.MARGIN, update)

    def on_position(self, update: PositionUpdate) -> None:
        if self.is_tracked(update.account):
            self.inventory.set_position(update)
            if update.size == 0:
                self.positions.pop(update.symbol, None)
            else:
                self.positions[update.symbol] = update
        self._publish(Topic.POSITION, update)

    def on_leverage(self, update: LeverageUpdate) -> None:
        if self.is_tracked(update.account):
            for setting in update.settings:
                self.leverage_settings[setting.symbol] = setting
        self._publish(Topic.LEVERAGE, list(update.settings))

    # -- fills missed while disconnected ------------------------------------------------------

    def apply_recovered(self, result: RecoveredFills) -> list[str]:
        """Rebuild the inventory from where it stood when the connection dropped with every fill
        since (missed ones and live ones, each once, in exchange order), publish the missed ones,
        and check the positions against the exchange's. Returns what did not match (the
        exchange's position is adopted for those symbols)."""
        if self._before_outage is not None:
            self.inventory.restore(self._before_outage)
        problems: list[str] = []
        for fill in result.replay:
            try:
                self.inventory.apply_fill(fill)
            except ValueError as exc:  # a history row the inventory cannot use: say so, go on
                problems.append(f"fill of order {fill.order_id} not applied: {exc}")
        for fill in result.recovered:
            self._publish(Topic.FILL, fill)
        if not result.still_down:
            problems += self._check_positions()
        self._reopen_if_down()
        return problems

    def abandon_recovery(self, plan: RecoveryPlan) -> bool:
        """The missed fills cannot be recovered: the inventory stays as the snapshot left it.
        False when a newer recovery superseded ``plan``."""
        if not self.fills.abandon(plan):
            return False
        self._reopen_if_down()
        return True

    def _reopen_if_down(self) -> None:
        self._before_outage = None
        if self.fills.down and self.fills.connection_lost():
            self._before_outage = self.inventory.checkpoint()

    def _check_positions(self) -> list[str]:
        problems: list[str] = []
        held = self.inventory.positions
        for symbol in sorted(set(held) | set(self.positions)):
            ours = held[symbol].size if symbol in held else 0.0
            exchange = self.positions.get(symbol)
            theirs = exchange.size if exchange is not None else 0.0
            if abs(ours - theirs) <= 1e-9 * max(1.0, abs(theirs)):
                continue
            problems.append(
                f"{symbol}: the recovered fills give a position of {ours:g}, the exchange "
                f"reports {theirs:g}; the exchange's position is adopted"
            )
            if exchange is None:
                realized = self.inventory.position(symbol).realized_pnl
                exchange = Position(symbol=symbol, size=0.0, entry_price=0.0, realized_pnl=realized)
            self.inventory.set_position(exchange)
        return problems
