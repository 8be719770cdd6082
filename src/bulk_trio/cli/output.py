"""What the ``bulk-trio`` commands write to standard output, for people and for scripts.

``--json`` (:func:`add_json_option`) makes a command that prints data print exactly one JSON
document instead (:func:`print_json`), built from the library's models by :func:`to_json`;
errors stay one line on stderr with the exit status, so a script reads stdout and checks the
status. A command that prints data adds the option and calls these, nothing more.
"""

from __future__ import annotations

import argparse
import enum
import sys
from collections.abc import Mapping
from typing import Any, cast

import attrs
import orjson

from . import panels
from .picture import LogEntry


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON document on stdout instead of text (errors stay on stderr)",
    )


def to_json(value: object) -> Any:
    """``value`` as plain JSON types: attrs models become objects with their field names,
    enums their wire spelling, tuples lists; anything else is left to orjson."""
    if attrs.has(type(value)):
        fields = attrs.fields(cast(Any, type(value)))
        return {field.name: to_json(getattr(value, field.name)) for field in fields}
    if isinstance(value, enum.Enum):
        return to_json(value.value)
    if isinstance(value, Mapping):
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_json(item) for item in value]
    return value


def print_json(document: object) -> None:
    """One JSON document, indented for a person who looks, on stdout."""
    text = orjson.dumps(to_json(document), option=orjson.OPT_INDENT_2)
    sys.stdout.write(text.decode() + "\n")
    sys.stdout.flush()


def print_log_entry(entry: LogEntry) -> None:
    """A log entry as a plain timestamped line (the non-live mode of ``watch`` and ``demo``)."""
    print(panels.log_line(entry), flush=True)
