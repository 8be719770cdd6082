"""TLS end to end: the client over wss:// against real loopback servers, and every way it fails.

Each failure must be a ConnectError that names what went wrong, never "internal error": a user
behind a corporate CA or with a typo in the URL must be able to read what to fix.
"""

from __future__ import annotations

import ssl
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial

import pytest
import trio
import trustme

from bulk_trio import ConnectError, Ticker, Topic, open_bulk_client
from bulk_trio.backoff import Backoff
from bulk_trio.sim import Simulator, open_simulator

SYMBOLS = ["BTC-USD"]
NO_RETRY = {"backoff": Backoff(max_attempts=0), "symbols": SYMBOLS}


@pytest.fixture
async def tls_sim() -> AsyncIterator[Simulator]:
    async with open_simulator(symbols=SYMBOLS, seed=3, tls=True) as simulator:
        yield simulator


@pytest.fixture
async def plain_sim() -> AsyncIterator[Simulator]:
    async with open_simulator(symbols=SYMBOLS, seed=3) as simulator:
        yield simulator


async def connect_error(url: str, **options: object) -> str:
    """The message of the ConnectError entering a client raises (it must raise one)."""
    with trio.fail_after(10), pytest.raises(ConnectError) as refused:
        async with open_bulk_client(url, **{**NO_RETRY, **options}):  # type: ignore[arg-type]
            pass
    message = str(refused.value)
    assert "internal error" not in message
    return message


async def serve_on_loopback(
    nursery: trio.Nursery, handler: Callable[[trio.SocketStream], Awaitable[None]]
) -> int:
    listeners = await nursery.start(partial(trio.serve_tcp, handler, 0, host="127.0.0.1"))
    port: int = listeners[0].socket.getsockname()[1]
    return port


async def test_a_client_trades_and_reads_over_wss(tls_sim: Simulator) -> None:
    assert tls_sim.url.startswith("wss://127.0.0.1:")
    assert tls_sim.ca_pem is not None and tls_sim.ca_pem.startswith(b"-----BEGIN CERTIFICATE")
    async with open_bulk_client(tls_sim.url, symbols=SYMBOLS, ssl_context=tls_sim.ssl_context) as c:
        async with c.events(Topic.TICKER) as tickers:
            with trio.fail_after(5):
                ticker = await tickers.receive()
        assert isinstance(ticker, Ticker) and ticker.symbol == "BTC-USD"


async def test_an_untrusted_certificate_says_certificate_verify_failed(tls_sim: Simulator) -> None:
    # The default trust store (the system's) does not know the simulator's throwaway CA.
    message = await connect_error(tls_sim.url)
    assert "certificate verify failed" in message
    assert tls_sim.url in message


async def test_a_certificate_for_another_host_says_so() -> None:
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("exchange.example").configure_cert(server_context)
    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)

    async def tls_handler(stream: trio.SocketStream) -> None:
        tls = trio.SSLStream(stream, server_context, server_side=True)
        try:
            await tls.do_handshake()
        except trio.BrokenResourceError:
            pass  # the client refused the certificate, as it must
        await trio.aclose_forcefully(tls)

    async with trio.open_nursery() as nursery:
        port = await serve_on_loopback(nursery, tls_handler)
        message = await connect_error(f"wss://127.0.0.1:{port}", ssl_context=client_context)
        nursery.cancel_scope.cancel()
    assert "certificate verify failed" in message
    assert "mismatch" in message  # "IP address mismatch, certificate is not valid for ..."


async def test_a_tls_handshake_that_never_finishes_times_out_as_a_connect_error() -> None:
    async def silent_handler(stream: trio.SocketStream) -> None:
        await trio.sleep_forever()  # accepts TCP, never answers the TLS client hello

    async with trio.open_nursery() as nursery:
        port = await serve_on_loopback(nursery, silent_handler)
        message = await connect_error(f"wss://127.0.0.1:{port}", connect_timeout=0.3)
        nursery.cancel_scope.cancel()
    assert "no answer within 0.3 s" in message


async def test_wss_to_a_plain_server_says_the_tls_handshake_failed(plain_sim: Simulator) -> None:
    url = plain_sim.url.replace("ws://", "wss://")
    message = await connect_error(url)
    assert "TLS handshake failed" in message or "during the TLS handshake" in message
    assert "use ws://" in message


async def test_ws_to_a_tls_server_suggests_wss() -> None:
    # The TLS server waits for the rest of what it reads as a TLS record, then gives up (here
    # after 0.3 s) and closes: the client, still waiting for the HTTP answer, says why.
    async with open_simulator(symbols=SYMBOLS, tls=True, handshake_timeout=0.3) as tls_sim:
        url = tls_sim.url.replace("wss://", "ws://")
        message = await connect_error(url, connect_timeout=5)
    assert "closed the connection during the WebSocket handshake" in message
    assert "use wss://" in message


async def test_an_ssl_context_with_a_plain_url_is_refused(plain_sim: Simulator) -> None:
    with pytest.raises(ValueError, match="not a wss:// URL"):
        async with open_bulk_client(
            plain_sim.url, symbols=SYMBOLS, ssl_context=ssl.create_default_context()
        ):
            pass  # pragma: no cover


async def test_without_trustme_the_simulator_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "trustme", None)  # as if it were not installed
    with pytest.raises(RuntimeError, match=r"pip install 'bulk-trio\[sim-tls\]'"):
        async with open_simulator(symbols=SYMBOLS, tls=True):
            pass  # pragma: no cover
    async with open_simulator(symbols=SYMBOLS) as sim:  # plain ws:// does not need it
        assert sim.url.startswith("ws://") and sim.ssl_context is None
