"""Sphinx configuration for the bulk-trio documentation.

Built by ``nox -s docs`` (or ``python3 dev.py docs``) with warnings as errors. The build needs no
network: there is no intersphinx, so references to types outside bulk-trio (trio, the standard
library) are listed in ``nitpick_ignore_regex`` instead of being linked.
"""

from __future__ import annotations

import re

from sphinx.application import Sphinx

import bulk_trio

project = "bulk-trio"
author = "the bulk-trio developers"
copyright = "the bulk-trio developers"
release = bulk_trio.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
# docs/dev holds the contributors' working rules, not user documentation; pypi.md is the package
# index's description (pyproject.toml), which repeats the start of the site.
exclude_patterns = ["_build", "dev", "pypi.md", "Thumbs.db", ".DS_Store"]

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# -- autodoc ---------------------------------------------------------------------------------

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = False
autodoc_class_signature = "mixed"
autodoc_default_options = {
    "members": True,
    "show-inheritance": True,
}

# Every reference must resolve, except to things outside this package that have no page here.
nitpicky = True
nitpick_ignore_regex = [
    # The standard library, trio and the other dependencies (no intersphinx: the build is offline).
    (r"py:.*", r"(typing|collections|collections\.abc|contextlib|logging|random|types|enum)\..*"),
    (r"py:.*", r"(trio|trio_websocket|nacl|attrs|wsproto|httpx|hypercorn)(\..*)?"),
    (r"py:.*", r"(os|gzip)\..*"),  # open_recorder and open_simulator(replay=) take paths
    (r"py:.*", r"(Any|Self|TypeAlias|ClassVar|Callable|Mapping|Sequence|Iterable|Iterator)"),
    (r"py:.*", r"(AsyncIterator|AbstractAsyncContextManager|MappingProxyType|Random|Logger)"),
    (r"py:.*", r"(BaseException|BaseExceptionGroup|Exception|ValueError|RuntimeError|TypeError)"),
    (r"py:.*", r"(NoneType|None|int|float|str|bytes|bool|dict|list|tuple|set|frozenset|object)"),
    (r"py:.*", r"(abc|struct|argparse|ssl)(\..*)?"),
    # Internal plumbing that appears in signatures but is not part of the public API.
    (r"py:class", r"bulk_trio\.(shell\.)?transport\..*"),
    (r"py:class", r"bulk_trio\.sim\.shell\.tls\..*"),
    # The type variable of a generic model (HistoryPage[Row]) and the simulator's history log.
    (r"py:(class|obj)", r"bulk_trio\.http_models\.Row"),
    (r"py:class", r"bulk_trio\.sim\.history\.HistoryLog"),
    # The type variables of the event channels and latest-value streams; BulkClient's bases.
    (r"py:(class|obj)", r"bulk_trio\.shell\.(fanout|latest_values)\.T"),
    (r"py:class", r"bulk_trio\.shell\.client_(events\.ClientEvents|trading\.ClientTrading)"),
]

# -- HTML ------------------------------------------------------------------------------------

html_theme = "furo"
html_title = f"bulk-trio {release}"
html_static_path: list[str] = []
pygments_style = "friendly"
pygments_dark_style = "monokai"


# -- hooks -----------------------------------------------------------------------------------

_FUNCTION_REPR = re.compile(r"<function ([\w.]+)(?: at 0x[0-9a-f]+)?>")


def _readable_defaults(
    app: Sphinx,
    what: str,
    name: str,
    obj: object,
    options: object,
    signature: str | None,
    return_annotation: str | None,
) -> tuple[str | None, str | None]:
    # A function default renders as "<function f>", which the Python domain cannot parse
    # (the whole signature would fall back to plain text); show the function's name instead.
    if signature is not None:
        signature = _FUNCTION_REPR.sub(r"\1", signature)
    return signature, return_annotation


def setup(app: Sphinx) -> None:
    app.connect("autodoc-process-signature", _readable_defaults)
