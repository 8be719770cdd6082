"""``bulk-trio demo``: a trading client's whole life against the embedded simulator, in a view a
person can follow (about fifteen seconds), or as timestamped lines with ``--no-live``.

No network and no keys: the simulator runs in-process on 127.0.0.1 and the key is created for the
run. Each step waits for the events that prove it worked (the deposit in a margin update, the full
book, the fills, the cancellations) with a timeout; the only sleeps pace the steps so that a person
can read along. A step that fails ends the demo with one line naming it and exit status 1.
"""

from __future__ import annotations

import argparse
import logging
import math
import random
import sys
from collections.abc import Callable, Collection
from typing import Any

import attrs
import trio

from ..actions import CancelOrder, LimitOrder
from ..enums import OrderStatus, Side, TimeInForce, Topic
from ..fixedpoint import to_fixed
from ..literals import DomainName
from ..models import OrderResponse
from ..protocol.signing import TransactionSigner
from ..shell.client import BulkClient, open_bulk_client
from ..sim import open_simulator
from . import panels, text
from .connect import subscribe_book
from .output import print_log_entry
from .picture import (
    EventLog,
    TradeTape,
    log_connection_changes,
    log_fills,
    take_picture,
)
from .runtime import (
    EXIT_OK,
    CommandFailed,
    explain,
    run_interruptible,
    unwrap,
)
from .terminal import Line, Screen, keep_drawing, supports_live_view

NETWORK: DomainName = "testnet"
SYMBOL = "BTC-USD"
CLIP = 0.01
"""Size of each ladder order (BTC)."""
TAKE = 0.02
"""Size of the market order that takes a fill (BTC)."""
LADDER_BPS = (8.0, 12.0, 16.0)
"""How far below the best bid the ladder's bids rest, in basis points."""
REPLACE_BPS = 3.0
STEP_TIMEOUT = 10.0
DEPTH = 8
STEPS = (
    "start the exchange simulator",
    "create a fresh key",
    "connect",
    "fund the account from the faucet",
    "subscribe to the order book and trades",
    "place a ladder of bids",
    "cancel-replace atomically",
    "take a fill",
    "follow the position and P&L",
    "cancel every order",
    "close the position",
)
HOLD_PAUSES = 3
"""The P&L step lasts this many pauses, so the mark has time to move."""


@attrs.frozen
class DemoOptions:
    duration: float
    live: bool
    seed: int
    verbose: bool = False


class StepFailed(Exception):
    """A demo step did not do what it should; the message names the step and the reason."""


class _Unexpected(CommandFailed):
    """The exchange answered or behaved otherwise than the step expects."""


def run_demo(args: argparse.Namespace) -> int:
    options = DemoOptions(
        duration=args.duration,
        live=not args.no_live and supports_live_view(sys.stdout),
        seed=args.seed if args.seed is not None else random.randrange(1_000_000),
        verbose=args.verbose,
    )
    demo = Demo(options)
    try:
        run_interruptible(demo.run)
    except StepFailed as failure:
        raise CommandFailed(str(failure)) from failure.__cause__
    return EXIT_OK


class Demo:
    """The demo's script and what its view shows."""

    def __init__(self, options: DemoOptions) -> None:
        self.options = options
        self.log = EventLog(echo=None if options.live else print_log_entry)
        self.tape = TradeTape()
        self.client: BulkClient | None = None
        self.url = "(starting)"
        self._step = 0
        self._ladder: list[str] = []
        # Every step is followed by one pause, the P&L step by more, and the end by one.
        pauses = len(STEPS) + HOLD_PAUSES - 1 + 1
        self._pause_seconds = options.duration / pauses

    async def run(self) -> None:
        level = logging.INFO if self.options.verbose else logging.WARNING
        with self.log.capture(level=level):
            if not self.options.live:
                await self._guarded()
                return
            try:
                with Screen(sys.stdout) as screen:
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(keep_drawing, screen, self.frame)
                        await self._guarded()
                        nursery.cancel_scope.cancel()
            finally:
                # The alternate screen is gone: leave the story in the terminal's scrollback.
                for entry in self.log.entries():
                    print(panels.log_line(entry))

    def frame(self, width: int, height: int) -> list[Line]:
        picture = take_picture(
            self.client,
            title="bulk-trio demo",
            url=self.url,
            symbol=SYMBOL,
            depth=DEPTH,
            tape=self.tape,
            log=self.log,
            log_title=f"STEPS ({self._step} of {len(STEPS)})",
            trading=True,
        )
        return panels.render(picture, width, height)

    # -- the script ----------------------------------------------------------------------------

    async def _guarded(self) -> None:
        try:
            await self._script()
        except Exception as exc:
            error = unwrap(exc)
            reason = explain(error) or f"{type(error).__name__}: {error}"
            name = STEPS[self._step - 1] if self._step else "start"
            message = f"step {self._step}/{len(STEPS)} ({name}) failed: {reason}"
            self.log.add("fail", message)
            raise StepFailed(message) from error

    async def _script(self) -> None:
        self._begin()
        async with open_simulator(network=NETWORK, seed=self.options.seed) as sim:
            self.url = sim.url
            self.log.ok(
                f"simulator on {sim.url} ({NETWORK}, {' '.join(sim.symbols)}, "
                f"seed {self.options.seed})"
            )
            await self._pause()
            self._begin()
            signer = TransactionSigner.generate_account(domain=NETWORK)
            self.log.ok(f"public key {signer.public_key}; the private key stays in memory")
            await self._pause()
            self._begin()
            async with open_bulk_client(
                sim.url, symbols=[SYMBOL], signer=signer, default_timeout=STEP_TIMEOUT
            ) as client:
                self.client = client
                self.log.ok(
                    f"{client.connection_state.value}: {SYMBOL} ticker and account stream "
                    "subscribed"
                )
                async with trio.open_nursery() as nursery:
                    await nursery.start(self.tape.follow, client)
                    await nursery.start(log_fills, client, self.log)
                    nursery.start_soon(log_connection_changes, client, self.log)
                    await self._pause()
                    await self._trade(client)
                    self.log.ok("demo complete: no open orders, position closed")
                    await self._pause()
                    nursery.cancel_scope.cancel()

    async def _trade(self, client: BulkClient) -> None:
        for step in (
            self._fund,
            self._subscribe,
            self._place_ladder,
            self._cancel_replace,
            self._take_fill,
            self._hold,
            self._cancel_everything,
            self._close_position,
        ):
            self._begin()
            await step(client)
            await self._pause()

    async def _fund(self, client: BulkClient) -> None:
        async with client.events(Topic.MARGIN) as margins:
            response = await client.request_faucet()
            _expect(response, {OrderStatus.DEPOSIT}, "the faucet")
            margin = await _first(
                margins,
                lambda m: m.account == client.account and m.total_balance > 0,
                "the deposit to show in the margin",
            )
        amount = response.meta.get("amount")
        credited = text.money(amount) if isinstance(amount, int | float) else "funds"
        self.log.ok(
            f"faucet credited {credited} USD; balance {text.money(margin.total_balance)} USD"
        )

    async def _subscribe(self, client: BulkClient) -> None:
        await subscribe_book(client, SYMBOL, STEP_TIMEOUT)
        await client.subscribe_trades(SYMBOL)
        book = client.get_book(SYMBOL)
        bids = book.level_count(Side.BUY) if book is not None else 0
        asks = book.level_count(Side.SELL) if book is not None else 0
        self.log.ok(
            f"full book: {bids} bid and {asks} ask levels, best bid "
            f"{text.price(_best_bid(client))}; trades streaming"
        )

    async def _place_ladder(self, client: BulkClient) -> None:
        best = _best_bid(client)
        prices = [_price_below(best, bps) for bps in LADDER_BPS]
        orders = [
            LimitOrder(SYMBOL, Side.BUY, price, CLIP, time_in_force=TimeInForce.ALO)
            for price in prices
        ]
        responses = await client.place_orders(orders)
        for response in responses:
            _expect(response, {OrderStatus.RESTING}, "a ladder order")
        self._ladder = [response.order_id for response in responses if response.order_id]
        ladder = " / ".join(text.price(price) for price in prices)
        self.log.ok(f"{len(orders)} post-only bids of {CLIP} BTC in one transaction: {ladder}")

    async def _cancel_replace(self, client: BulkClient) -> None:
        still_open = [order_id for order_id in self._ladder if order_id in client.open_orders]
        if not still_open:
            raise _Unexpected("every ladder order was filled before it could be replaced")
        old = client.open_orders[still_open[-1]]  # the deepest: the least likely to trade now
        new_price = _price_below(_best_bid(client), REPLACE_BPS)
        cancel, place = await client.place_orders(
            [
                CancelOrder(SYMBOL, old.order_id, side=Side.BUY),
                LimitOrder(SYMBOL, Side.BUY, new_price, CLIP, time_in_force=TimeInForce.ALO),
            ]
        )
        _expect(cancel, {OrderStatus.CANCELLED}, "the cancel")
        _expect(place, {OrderStatus.RESTING}, "the replacement")
        self.log.ok(
            f"one transaction: cancelled the bid at {text.price(old.price)}, placed one at "
            f"{text.price(new_price)} (never a moment without it)"
        )

    async def _take_fill(self, client: BulkClient) -> None:
        async with client.events(Topic.FILL) as fills:
            response = await client.place_market_order(SYMBOL, Side.BUY, TAKE)
            _expect(response, {OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED}, "the market buy")
            total = response.meta.get("totalSz", TAKE)
            wanted = to_fixed(total if isinstance(total, int | float) else TAKE)
            received = 0
            while received < wanted:
                fill = await _first(
                    fills, lambda f: f.order_id == response.order_id, "the market buy's fills"
                )
                received += to_fixed(fill.size)
        average = response.meta.get("avgPx")
        at = text.price(average) if isinstance(average, int | float) else "market"
        self.log.ok(f"market buy of {TAKE} BTC filled at {at} (taker)")

    async def _hold(self, client: BulkClient) -> None:
        start = trio.current_time()
        self.log.info(text.position_view(client.inventory.position(SYMBOL)))
        await trio.sleep(self._pause_seconds * (HOLD_PAUSES - 1))
        held = trio.current_time() - start
        self.log.ok(
            f"after {held:.1f} s: {text.position_view(client.inventory.position(SYMBOL))}, "
            f"net P&L {text.signed_money(client.get_pnl().net)} USD"
        )

    async def _cancel_everything(self, client: BulkClient) -> None:
        async with client.events(Topic.ORDER) as updates:
            response = await client.cancel_all([SYMBOL])
            _expect(response, {OrderStatus.CANCELLED}, "cancel-all")
            while client.get_orders(SYMBOL):
                await _first(updates, lambda _: True, "the cancellations")
        cancelled = response.meta.get("oids")
        count = f"{len(cancelled)} order(s)" if isinstance(cancelled, list) else "every order"
        self.log.ok(f"one cancel-all cancelled {count}; none left open")

    async def _close_position(self, client: BulkClient) -> None:
        held = client.inventory.position(SYMBOL).size
        if to_fixed(abs(held)) == 0:
            self.log.ok("already flat")
            return
        side = Side.SELL if held > 0 else Side.BUY
        async with client.events(Topic.POSITION) as positions:
            response = await client.place_market_order(
                SYMBOL, side, round(abs(held), 8), reduce_only=True
            )
            _expect(response, {OrderStatus.FILLED}, "the closing order")
            while to_fixed(abs(client.inventory.position(SYMBOL).size)) != 0:
                await _first(positions, lambda p: p.symbol == SYMBOL, "the flat position")
        pnl = client.get_pnl()
        fees = client.margin.fees if client.margin is not None else None
        self.log.ok(
            f"closed by a reduce-only market {side.value}: realized P&L "
            f"{text.signed_money(pnl.realized)} USD, fees {text.money(fees)} USD"
        )

    # -- pacing --------------------------------------------------------------------------------

    def _begin(self) -> None:
        self._step += 1
        self.log.step(f"step {self._step}/{len(STEPS)}: {STEPS[self._step - 1]}")

    async def _pause(self) -> None:
        await trio.sleep(self._pause_seconds)


def _expect(response: OrderResponse, wanted: Collection[OrderStatus], what: str) -> None:
    if response.status not in wanted:
        reason = f" ({response.message})" if response.message else ""
        raise _Unexpected(f"{what} answered {response.raw_status or response.status.value}{reason}")


async def _first(
    channel: trio.abc.ReceiveChannel[Any], matches: Callable[[Any], bool], what: str
) -> Any:
    """The next item of ``channel`` that ``matches``, within STEP_TIMEOUT."""
    with trio.move_on_after(STEP_TIMEOUT):
        async for item in channel:
            if matches(item):
                return item
        raise _Unexpected(f"the client closed while waiting for {what}")
    raise _Unexpected(f"waited {STEP_TIMEOUT:g} s for {what}")


def _best_bid(client: BulkClient) -> float:
    book = client.get_book(SYMBOL)
    best = book.best_bid() if book is not None else None
    if best is None:
        raise _Unexpected(f"the {SYMBOL} book has no bids")
    return best


def _price_below(reference: float, bps: float) -> float:
    """``bps`` basis points under ``reference``, rounded down to a grid of five significant
    digits (0.1 for BTC at 100k) so that the prices read well."""
    tick = 10.0 ** (math.floor(math.log10(reference)) - 4)
    return round(math.floor(reference * (1 - bps / 10_000) / tick) * tick, 8)
