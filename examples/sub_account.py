"""A sub-account funded by a transfer, trading with its own margin.

    python examples/sub_account.py              # against an embedded simulator
    python examples/sub_account.py --url ws://127.0.0.1:12001

The main account creates a sub-account with ``create_sub_account``, moves FUNDING of its margin to
it with ``transfer``, and then trades for it: the same key signs, with ``account=`` naming the
sub-account (a main account may sign for its sub-accounts). On exit the order is cancelled and the
margin moved back.
"""

from __future__ import annotations

import attrs
import trio
from _support import command_line, ensure_funds, exchange_url, trading_key

from bulk_trio import Side, open_bulk_client

SYMBOL = "BTC-USD"
FUNDING = 1_000.0


@attrs.define
class Outcome:
    """What happened, for the summary (and the example's test)."""

    sub_account: str = ""
    funded: float = 0.0
    order_status: str = ""
    returned: str = ""


async def main(url: str | None = None, duration: float = 0.0) -> Outcome:
    outcome = Outcome()
    signer = trading_key()
    async with exchange_url(url) as exchange:
        async with open_bulk_client(exchange, symbols=[SYMBOL], signer=signer) as main_account:
            await ensure_funds(main_account)
            created = await main_account.create_sub_account("example-bot")
            if created.is_error:
                raise SystemExit(f"no sub-account: {created.raw_status} {created.message or ''}")
            # The exchange names the new account in the status (the simulator as ``sub``).
            outcome.sub_account = str(created.meta.get("sub") or created.meta.get("account"))
            moved = await main_account.transfer(outcome.sub_account, FUNDING)
            if moved.is_error:
                raise SystemExit(f"transfer refused: {moved.raw_status} {moved.message or ''}")
            print(f"sub-account {outcome.sub_account}: {created.raw_status}, {moved.raw_status}")
        async with open_bulk_client(
            exchange, symbols=[SYMBOL], signer=signer, account=outcome.sub_account
        ) as sub:
            outcome.funded = sub.margin.total_balance if sub.margin is not None else 0.0
            ticker = sub.get_ticker(SYMBOL)
            bid = round(ticker.mark_price * 0.99, 1) if ticker and ticker.mark_price else 1_000.0
            placed = await sub.place_limit_order(SYMBOL, Side.BUY, bid, 0.001)
            outcome.order_status = placed.raw_status
            print(f"sub-account balance {outcome.funded}, bid {bid}: {placed.raw_status}")
            await trio.sleep(duration)
            await sub.cancel_all([SYMBOL])
            back = await sub.transfer(signer.public_key, FUNDING / 2)
            outcome.returned = back.raw_status
    return outcome


if __name__ == "__main__":
    options = command_line(__doc__.split("\n")[0], duration=0.0)
    trio.run(main, options.url, options.duration)
