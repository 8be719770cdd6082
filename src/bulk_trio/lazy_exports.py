"""Re-exporting the Trio shell's names from a core package without importing the shell.

``bulk_trio`` and ``bulk_trio.sim`` are core packages: importing them must not load trio
(docs/architecture.md). Their shell names (``open_bulk_client``, ``open_simulator``, ...) are
therefore looked up on first use, through a module ``__getattr__`` (PEP 562) made here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any


def lazy_exports(
    package: str, namespace: MutableMapping[str, Any], exports: Mapping[str, str]
) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports ``exports[name]`` (a module path
    relative to ``package``) on first access and keeps the value in ``namespace``."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        namespace[name] = value  # later look-ups skip this function
        return value

    return __getattr__
