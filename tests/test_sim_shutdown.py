"""The simulator says goodbye: leaving its block closes every connection with a close frame.

Without one, a client cannot tell a shutdown from a network failure (code 1006, abnormal closure).
"""

from __future__ import annotations

import pytest
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, connect_websocket_url

from bulk_trio.sim import open_simulator


@pytest.mark.parametrize("tls", [False, True])
async def test_shutdown_sends_a_going_away_close_frame(tls: bool) -> None:
    ended: list[ConnectionClosed] = []

    async def read_until_closed(ws: WebSocketConnection) -> None:
        try:
            while True:
                await ws.get_message()
        except ConnectionClosed as closed:
            ended.append(closed)

    with trio.fail_after(10):
        async with (
            trio.open_nursery() as nursery,
            open_simulator(symbols=["BTC-USD"], tls=tls) as sim,
        ):
            ws = await connect_websocket_url(nursery, sim.url, ssl_context=sim.ssl_context)
            nursery.start_soon(read_until_closed, ws)
            await sim.wait_for_connections(1)
    (closed,) = ended
    assert closed.reason.code == 1001
    assert closed.reason.reason == "simulator shutting down"
