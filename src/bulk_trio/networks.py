"""Named networks: the HTTP base URL, the WebSocket URL and the signature domain that belong
together (docs/http-api.md, "Networks").

The pairings are the ones public sources show, and not all of them are certain: the docs say which
rest on official documentation and which only on third-party code. The client never guesses a
domain from a host name; it takes a preset or explicit URLs.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import attrs

__all__ = ["DEFAULT_NETWORK", "PRESETS", "NetworkPreset", "host_of", "network_preset"]


@attrs.frozen(kw_only=True)
class NetworkPreset:
    """One network: where its HTTP API and WebSocket are, and which domain signatures carry
    (``None``: not known, sign with the domain you were told to use)."""

    name: str
    http_url: str
    ws_url: str
    domain: str | None


PRESETS: dict[str, NetworkPreset] = {
    preset.name: preset
    for preset in (
        NetworkPreset(
            name="mainnet",
            http_url="https://mainnet-api1.bulk.trade/api/v1",
            ws_url="wss://mainnet-ws1.bulk.trade",
            domain="mainnet",
        ),
        NetworkPreset(
            name="testnet",
            http_url="https://exchange-api.bulk.trade/api/v1",
            ws_url="wss://exchange-ws1.bulk.trade",
            domain="testnet",
        ),
        NetworkPreset(
            name="staging",
            http_url="https://staging-api.bulk.trade/api/v1",
            ws_url="wss://staging-ws.bulk.trade",
            domain="devnet",
        ),
        NetworkPreset(
            name="sdk-default",
            http_url="https://exchange-api2.bulk.trade/api/v1",
            ws_url="wss://exchange-wss.bulk.trade",
            domain=None,
        ),
        # A BULK node (or ``bulk-trio sim``) on this machine: HTTP on 12000, WebSocket on 12001.
        NetworkPreset(
            name="local",
            http_url="http://127.0.0.1:12000/api/v1",
            ws_url="ws://127.0.0.1:12001",
            domain="testnet",
        ),
    )
}
"""Every preset by name. ``devnet`` is another name for ``staging`` (its signature domain)."""
_ALIASES = {"devnet": "staging"}
DEFAULT_NETWORK = "local"
"""What the command line uses when no ``--network`` is given: nothing leaves the machine."""


def network_preset(network: str | NetworkPreset) -> NetworkPreset:
    """The preset called ``network`` (or ``network`` itself); ValueError naming the choices."""
    if isinstance(network, NetworkPreset):
        return network
    if isinstance(network, str):
        preset = PRESETS.get(_ALIASES.get(network, network))
        if preset is not None:
            return preset
    choices = ", ".join([*PRESETS, *_ALIASES])
    raise ValueError(f"network must be one of {choices}, got {network!r}")


def host_of(url: str) -> str | None:
    """The host name of ``url``, or None when it has none (or cannot be parsed)."""
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


def network_names() -> tuple[str, ...]:
    """Every name :func:`network_preset` accepts, presets first."""
    return (*PRESETS, *_ALIASES)
