"""Fetching the fills missed while disconnected from the HTTP fill history, within a time limit.

What was missed, what to apply and what to publish is decided by the session
(:meth:`bulk_trio.session.Session.fills_recovered`, :mod:`bulk_trio.fill_recovery`); this module
only asks the HTTP API and keeps the asking bounded in time. It runs as its own task after the
connection is LIVE again, so a slow or failing HTTP API never holds the reconnect up: it ends as
a GAP on ``Topic.STATUS`` (docs/guides/lifecycle.md).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import trio

from ..errors import BulkError
from ..fill_recovery import RecoveryPlan
from ..models import Fill
from ..session import Effect, PublishEvent, Session
from .fanout import Fanout

if TYPE_CHECKING:
    from .http import BulkHttpClient

PAGE_SIZE = 1000
MAX_PAGES = 20
"""At most this many pages (PAGE_SIZE rows each) are read; a longer outage is a GAP."""


class HistoryIncomplete(BulkError):
    """The fill history did not reach back to the start of the outage within the page limit."""


async def fills_since(http: BulkHttpClient, account: str, since_ns: int) -> list[Fill]:
    """``account``'s fills from ``since_ns`` (exchange nanoseconds) on, read page by page from
    ``http``. The history's row order is not specified
    (docs/http-api.md, decision 8), so reading stops at a page whose rows are ALL older than
    ``since_ns``, or at the last page."""
    fills: list[Fill] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        page = await http.fills(account, limit=PAGE_SIZE, cursor=cursor)
        fills.extend(row.for_account(account) for row in page.rows)
        if page.next_cursor is None or all(row.timestamp < since_ns for row in page.rows):
            return fills
        cursor = page.next_cursor
    raise HistoryIncomplete(
        f"the fill history has more than {MAX_PAGES * PAGE_SIZE} rows since the disconnect"
    )


async def recover_fills(
    session: Session,
    fanout: Fanout,
    http_url: str | None,
    plan: RecoveryPlan,
    *,
    timeout: float,
    logger: logging.Logger,
) -> None:
    """Fetch and hand the session the fills of ``plan``, or tell it why they cannot be; at most
    ``timeout`` seconds in all."""
    effects: list[Effect]
    if http_url is None:
        reason = "no HTTP endpoint is configured (open_bulk_client(http_url=...) or network=...)"
        effects = session.fills_lost(plan, reason)
    else:
        from .http import open_bulk_http  # httpx loads only for a client that recovers fills

        failure = f"the fill history did not answer within {timeout:g} s"
        history: list[Fill] | None = None
        with trio.move_on_after(timeout):
            try:
                async with open_bulk_http(http_url, timeout=timeout, retries=2) as http:
                    history = await fills_since(http, plan.account, plan.since_ns)
            except BulkError as exc:
                failure = f"the fill history failed: {exc}"
        if history is None:
            effects = session.fills_lost(plan, failure)
        else:
            logger.debug("fill history: %d rows since %d", len(history), plan.since_ns)
            effects = session.fills_recovered(plan, history)
    for effect in effects:
        if isinstance(effect, PublishEvent):
            fanout.publish(effect.topic, effect.item)
