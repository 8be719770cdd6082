"""A local BULK exchange: a real WebSocket server on loopback that speaks docs/protocol.md.

The simulator is layered like the client: a sans-IO core (``engine``, ``matching``, ``accounts``,
``security``, ``feed``, ``frames``, ``faults``, ``candles``, ``client_requests``, ``routing``,
``frame_encoding``, ``stats``) that never imports trio, and the Trio shell in
``bulk_trio.sim.shell`` (the socket server and the :class:`Simulator` handle). The shell's names
are loaded on first use, so ``import bulk_trio.sim.engine`` loads no trio.

``open_simulator()`` starts the engine, the synthetic market and the server in a nursery that its
``async with`` block owns, and hands back a :class:`Simulator`: the control handle tests use to
fund accounts, move prices and inject faults. Everything stops when the block ends.

    async with open_simulator(symbols=["BTC-USD"], seed=1) as sim:
        async with trio_websocket.open_websocket_url(sim.url) as ws:
            ...
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy_exports import lazy_exports
from .feed import FeedSettings
from .stats import SimStats

if TYPE_CHECKING:
    from .shell.simulator import Simulator, open_simulator

__all__ = ["FeedSettings", "SimStats", "Simulator", "open_simulator"]

_SHELL_EXPORTS = {
    "Simulator": ".shell.simulator",
    "open_simulator": ".shell.simulator",
}


__getattr__ = lazy_exports(__name__, globals(), _SHELL_EXPORTS)
