"""Which exchange a ``bulk-trio`` command talks to, and which signature domain it signs for.

``--network`` picks the signature domain and the default URL. Only mainnet has a documented public
WebSocket URL (PROTOCOL.md §1.1); testnet and devnet default to the local development node's
address, which is also where ``bulk-trio sim`` listens. The default network is testnet, so that
nothing is ever signed for mainnet unless the user said ``--network mainnet``; a mainnet URL given
with ``--url`` and no ``--network`` is refused for trading rather than signed for testnet (the
exchange would reject those signatures anyway, with a less helpful message).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from urllib.parse import urlsplit

import attrs

from .runtime import UsageError

NETWORKS = ("mainnet", "testnet", "devnet")
DEFAULT_NETWORK = "testnet"
MAINNET_URL = "wss://exchange-wss.bulk.trade"
LOCAL_NODE_URL = "ws://127.0.0.1:12001"
DEFAULT_URLS = {"mainnet": MAINNET_URL, "testnet": LOCAL_NODE_URL, "devnet": LOCAL_NODE_URL}
# Both spellings of the production WebSocket host appear in the sources (PROTOCOL.md §1.1).
MAINNET_HOSTS = frozenset({"exchange-wss.bulk.trade", "exchange-ws1.bulk.trade"})

NETWORK_HELP = (
    f"signature domain and default URL (default: testnet). mainnet: {MAINNET_URL}. No public "
    f"testnet or devnet URL is documented, so they default to {LOCAL_NODE_URL}, the port of a "
    "local BULK node and of bulk-trio sim; pass --url for another endpoint"
)


@attrs.frozen
class Endpoint:
    """Where to connect and the signature domain to sign for."""

    url: str
    network: str


def resolve_endpoint(
    network: str | None, url: str | None, *, signing: bool, url_source: str = "--url"
) -> Endpoint:
    """The endpoint for ``--network`` and ``--url`` (either may be omitted).

    Raises UsageError for a URL that is not ws:// or wss://, and, when ``signing``, for a mainnet
    URL without an explicit ``--network mainnet``.
    """
    if network is not None and network not in NETWORKS:
        raise UsageError(f"--network must be one of {', '.join(NETWORKS)}, got {network!r}")
    chosen = network or DEFAULT_NETWORK
    if url is None:
        return Endpoint(DEFAULT_URLS[chosen], chosen)
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # e.g. an unclosed IPv6 bracket
        host = None
    if host is None or parts.scheme not in ("ws", "wss"):
        raise UsageError(f"{url_source} must be a ws:// or wss:// URL with a host, got {url!r}")
    if signing and host in MAINNET_HOSTS and chosen != "mainnet":
        raise UsageError(
            f"{url} is BULK mainnet: add --network mainnet to trade there "
            f"(refusing to sign for {chosen})"
        )
    return Endpoint(url, chosen)


# -- the environment ---------------------------------------------------------------------------

URL_ENV = "BULK_URL"
NETWORK_ENV = "BULK_NETWORK"


def requested_network(flag: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The network the user asked for: ``--network``, else ``BULK_NETWORK``, else None (the
    default applies). Every command reads the network name through here."""
    if flag is not None:
        return flag
    named = (os.environ if environ is None else environ).get(NETWORK_ENV, "").strip()
    if not named:
        return None
    if named not in NETWORKS:
        raise UsageError(f"{NETWORK_ENV} must be one of {', '.join(NETWORKS)}, got {named!r}")
    return named


def command_endpoint(
    args: argparse.Namespace, *, signing: bool, environ: Mapping[str, str] | None = None
) -> Endpoint:
    """The endpoint of a command's ``--network`` and ``--url``; each falls back to its environment
    variable (``BULK_NETWORK``, ``BULK_URL``), so a shell can set them once for a session."""
    env = os.environ if environ is None else environ
    network = requested_network(args.network, env)
    if args.url is not None:
        return resolve_endpoint(network, args.url, signing=signing)
    url = env.get(URL_ENV, "").strip() or None
    return resolve_endpoint(network, url, signing=signing, url_source=URL_ENV)
