"""Throwaway TLS for the simulator: a certificate authority made at start, gone at exit.

``open_simulator(tls=True)`` serves ``wss://`` with a certificate for its loopback address, issued
by a certificate authority that exists only for that run, so that clients can be tested over TLS
exactly as they connect to the exchange. trustme (the Trio project's library for test
certificates) makes them; it is an optional dependency (``pip install 'bulk-trio[sim-tls]'``),
imported only when TLS is asked for, so the simulator itself does not need it.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

import attrs
import trio

if TYPE_CHECKING:
    import trustme

INSTALL_HINT = "pip install 'bulk-trio[sim-tls]'"


@attrs.frozen
class SimulatorTLS:
    """The server's TLS settings and what a client needs to trust it."""

    server_context: ssl.SSLContext
    client_context: ssl.SSLContext
    """An SSL context that trusts (only) this run's certificate authority."""
    ca_pem: bytes
    """The certificate authority in PEM form, for clients given a file (``--ca-file``)."""

    def wrap(
        self, listeners: list[trio.SocketListener]
    ) -> list[trio.SSLListener[trio.SocketStream]]:
        return [trio.SSLListener(listener, self.server_context) for listener in listeners]


def make_tls(host: str) -> SimulatorTLS:
    """A new certificate authority and a server certificate for ``host`` (and ``localhost``).

    Raises RuntimeError naming the package to install when trustme is missing.
    """
    try:
        import trustme
    except ModuleNotFoundError:
        raise RuntimeError(
            f"the simulator needs trustme to serve wss:// ({INSTALL_HINT})"
        ) from None
    authority: trustme.CA = trustme.CA(organization_name="bulk-trio simulator")
    certificate = authority.issue_cert(host, "localhost")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(server_context)
    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)
    return SimulatorTLS(server_context, client_context, authority.cert_pem.bytes())
