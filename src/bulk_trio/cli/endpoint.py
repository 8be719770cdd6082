"""Which exchange a ``bulk-trio`` command talks to, and which signature domain it signs for.

``--network`` names a preset of :mod:`bulk_trio.networks` (the one place that pairs an HTTP
base URL, a WebSocket URL and a signature domain). Without it a command uses ``local``: a node or
``bulk-trio sim`` on this machine, signing for testnet, so nothing leaves the machine and nothing
is signed for mainnet unless the user said ``--network mainnet``. A ``--url`` on a host that a
preset claims for another signature domain is refused for trading rather than signed for the
wrong domain (the exchange would reject those signatures anyway, with a less helpful message), and
so is a host whose domain is not known, unless ``--network`` says which domain to sign for.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from urllib.parse import urlsplit

import attrs

from ..networks import DEFAULT_NETWORK, PRESETS, host_of, network_names, network_preset
from .runtime import UsageError

NETWORKS = network_names()
"""What ``--network`` accepts: the presets, and ``devnet`` for ``staging``."""
SIGNATURE_DOMAINS = ("mainnet", "testnet", "devnet")
MAINNET_URL = PRESETS["mainnet"].ws_url
LOCAL_NODE_URL = PRESETS["local"].ws_url
LOCAL_HTTP_URL = PRESETS["local"].http_url

NETWORK_HELP = (
    f"preset of URLs and signature domain: {', '.join(NETWORKS)} (default: {DEFAULT_NETWORK}, "
    f"i.e. {LOCAL_NODE_URL} and {LOCAL_HTTP_URL}, a local node or bulk-trio sim, signing for "
    "testnet); --url overrides the URL"
)


@attrs.frozen
class Endpoint:
    """Where to connect and the signature domain to sign for."""

    url: str
    network: str
    ca_file: str | None = None
    """A PEM file of certificate authorities to trust for a wss:// URL (``--ca-file``)."""


def _claimed_by(host: str) -> tuple[str, str | None] | None:
    """The preset that names ``host`` and its signature domain, or None."""
    for preset in PRESETS.values():
        if host in (host_of(preset.ws_url), host_of(preset.http_url)) and preset.name != "local":
            return preset.name, preset.domain
    return None


def _domain(network: str | None) -> tuple[str, str]:
    try:
        preset = network_preset(network or DEFAULT_NETWORK)
    except ValueError as problem:
        raise UsageError(f"--network: {problem}") from None
    return preset.name, preset.domain or "testnet"


def check_signing_host(url: str, host: str, network: str | None, domain: str) -> None:
    """UsageError when signing for ``domain`` at ``host`` would sign for the wrong network."""
    claim = _claimed_by(host)
    if claim is None:
        return
    name, claimed = claim
    if claimed is None and network is None:
        raise UsageError(
            f"{url} is BULK {name}, whose signature domain is not known: add --network to say "
            "which domain to sign for"
        )
    if claimed is not None and claimed != domain:
        raise UsageError(
            f"{url} is BULK {name}: add --network {name} to trade there "
            f"(refusing to sign for {domain})"
        )


def resolve_endpoint(
    network: str | None,
    url: str | None,
    *,
    signing: bool,
    ca_file: str | None = None,
    url_source: str = "--url",
) -> Endpoint:
    """The WebSocket endpoint for ``--network``, ``--url`` and ``--ca-file`` (any may be omitted).

    Raises UsageError for a URL that is not ws:// or wss://, for ``--ca-file`` with a URL that is
    not wss://, and, when ``signing``, for a URL of another network than the one signed for (see
    the module docstring).
    """
    name, domain = _domain(network)
    if url is None:
        url = PRESETS[name].ws_url
        if ca_file is None:
            return Endpoint(url, domain)
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # e.g. an unclosed IPv6 bracket
        host = None
    if host is None or parts.scheme not in ("ws", "wss"):
        raise UsageError(f"{url_source} must be a ws:// or wss:// URL with a host, got {url!r}")
    if signing:
        check_signing_host(url, host, network, domain)
    if ca_file is not None and parts.scheme != "wss":
        raise UsageError(f"--ca-file is for wss:// URLs (TLS); {url} is not one")
    return Endpoint(url, domain, ca_file)


def resolve_http_url(network: str | None, url: str | None) -> str:
    """The HTTP API base URL for ``--network`` and ``--http-url`` (http:// or https://)."""
    name, _ = _domain(network)
    if url is None:
        return PRESETS[name].http_url
    if urlsplit(url).scheme not in ("http", "https") or host_of(url) is None:
        raise UsageError(f"--http-url must be an http:// or https:// URL with a host, got {url!r}")
    return url.rstrip("/")


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


def signature_domain(network: str | None) -> str:
    """The signature domain of the network ``requested_network`` returned."""
    return _domain(network)[1]


def command_endpoint(
    args: argparse.Namespace, *, signing: bool, environ: Mapping[str, str] | None = None
) -> Endpoint:
    """The endpoint of a command's ``--network`` and ``--url``; each falls back to its environment
    variable (``BULK_NETWORK``, ``BULK_URL``), so a shell can set them once for a session."""
    env = os.environ if environ is None else environ
    network = requested_network(args.network, env)
    ca_file = getattr(args, "ca_file", None)
    if args.url is not None:
        return resolve_endpoint(network, args.url, signing=signing, ca_file=ca_file)
    url = env.get(URL_ENV, "").strip() or None
    return resolve_endpoint(network, url, signing=signing, ca_file=ca_file, url_source=URL_ENV)


def command_http_url(args: argparse.Namespace) -> str:
    """The HTTP API base URL of a command's ``--network`` (or ``BULK_NETWORK``), ``--http-url``."""
    return resolve_http_url(requested_network(args.network), args.http_url)
