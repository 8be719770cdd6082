"""The package's two layers, kept apart: a sans-IO core and the Trio shell (docs/architecture.md).

A module is *shell* when it sits in a ``shell`` or ``cli`` package (or is ``__main__``); every other
module is *core*. Core modules import no I/O library and no shell module, so they can be tested
and reused without an event loop. Package ``__init__`` modules may name shell exports only inside
their lazy ``__getattr__`` (or under ``TYPE_CHECKING``). Imports between modules form no cycle.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import bulk_trio

PACKAGE_ROOT = Path(bulk_trio.__file__).resolve().parent
IO_LIBRARIES = frozenset(
    {"trio", "trio_websocket", "wsproto", "ssl", "socket", "httpx", "hypercorn"}
)
SHELL_PACKAGES = frozenset({"shell", "cli"})


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE_ROOT.rglob("*.py"))}


def is_shell(name: str) -> bool:
    parts = name.split(".")
    return bool(SHELL_PACKAGES.intersection(parts)) or parts[-1] == "__main__"


def is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def resolve(importer: str, node: ast.ImportFrom) -> list[str]:
    """The absolute modules an ``import from`` statement loads (a name may be a submodule)."""
    if node.level == 0:
        base = node.module or ""
    else:
        package = importer.split(".") if is_package(importer) else importer.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, *([node.module] if node.module else [])])
    targets = [base]
    for alias in node.names:
        candidate = f"{base}.{alias.name}"
        if candidate in MODULES:
            targets.append(candidate)
    return targets


def imports(name: str, *, lazy_allowed: bool) -> Iterator[tuple[str, int]]:
    """(imported module, line) for every import in ``name``; with ``lazy_allowed``, those inside
    functions and ``if TYPE_CHECKING:`` blocks are left out."""
    tree = ast.parse(MODULES[name].read_text(), filename=str(MODULES[name]))

    def walk(node: ast.AST) -> Iterator[tuple[str, int]]:
        for child in ast.iter_child_nodes(node):
            if lazy_allowed and isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if (
                lazy_allowed
                and isinstance(child, ast.If)
                and isinstance(child.test, ast.Name)
                and child.test.id == "TYPE_CHECKING"
            ):
                yield from (item for stmt in child.orelse for item in walk(stmt))
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield alias.name, child.lineno
            elif isinstance(child, ast.ImportFrom):
                for target in resolve(name, child):
                    yield target, child.lineno
            else:
                yield from walk(child)

    yield from walk(tree)


def test_the_walk_finds_both_layers() -> None:
    core = [name for name in MODULES if not is_shell(name)]
    shell = [name for name in MODULES if is_shell(name)]
    assert "bulk_trio.protocol.codec" in core and "bulk_trio.sim.engine" in core
    assert "bulk_trio.shell.client" in shell and "bulk_trio.sim.shell.server" in shell
    assert "bulk_trio.cli" in shell


@pytest.mark.parametrize("name", [name for name in MODULES if not is_shell(name)])
def test_core_modules_import_no_io_and_no_shell(name: str) -> None:
    # A package __init__ re-exports shell names lazily; any other core module may not even
    # import them inside a function.
    for target, line in imports(name, lazy_allowed=is_package(name)):
        top = target.split(".")[0]
        assert top not in IO_LIBRARIES, f"{name}:{line} imports {target}, an I/O library"
        if top == "bulk_trio":
            assert not is_shell(target), f"{name}:{line} imports the shell module {target}"


def test_imports_between_modules_form_no_cycle() -> None:
    graph: dict[str, set[str]] = {}
    for name in MODULES:
        targets = {t for t, _ in imports(name, lazy_allowed=True) if t in MODULES and t != name}
        # Importing a submodule runs its package's __init__ first; that edge is not a cycle.
        graph[name] = {t for t in targets if not name.startswith(t + ".")}
    finished: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> None:
        if node in path:
            cycle = [*path[path.index(node) :], node]
            pytest.fail("import cycle: " + " -> ".join(cycle))
        if node in finished:
            return
        path.append(node)
        for target in sorted(graph[node]):
            visit(target)
        path.pop()
        finished.add(node)

    for name in sorted(graph):
        visit(name)


CORE_ENTRY_POINTS = [
    "bulk_trio",
    "bulk_trio.protocol.codec",
    "bulk_trio.protocol.signing",
    "bulk_trio.actions",
    "bulk_trio.book",
    "bulk_trio.models",
    "bulk_trio.inventory",
    "bulk_trio.state",
    "bulk_trio.sim",
    "bulk_trio.sim.engine",
    "bulk_trio.sim.feed",
]


@pytest.mark.parametrize("module", CORE_ENTRY_POINTS)
def test_importing_a_core_module_loads_no_io_library(module: str) -> None:
    probe = (
        "import importlib, json, sys\n"
        f"importlib.import_module({module!r})\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = set(json.loads(result.stdout)) & IO_LIBRARIES
    assert not loaded, f"import {module} loads {sorted(loaded)}"


def test_shell_names_are_still_exported_by_the_package() -> None:
    from bulk_trio import BulkClient, SubscriberStats, open_bulk_client
    from bulk_trio.sim import SimStats, Simulator, open_simulator

    assert open_bulk_client.__module__ == "bulk_trio.shell.client"
    assert BulkClient.__module__ == "bulk_trio.shell.client"
    assert SubscriberStats.__module__ == "bulk_trio.shell.fanout"
    assert Simulator.__module__ == open_simulator.__module__ == "bulk_trio.sim.shell.simulator"
    assert SimStats.__module__ == "bulk_trio.sim.stats"
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        _ = bulk_trio.no_such_name  # type: ignore[attr-defined]


def test_no_two_classes_share_a_name() -> None:
    defined: dict[str, list[str]] = {}
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                defined.setdefault(node.name, []).append(name)
    shared = {cls: modules for cls, modules in defined.items() if len(modules) > 1}
    assert not shared, f"class names defined more than once: {shared}"


def test_no_two_modules_share_a_name() -> None:
    # ``from .limits import`` must not mean two different things in two folders.
    by_name: dict[str, list[str]] = {}
    for name in MODULES:
        if not is_package(name):
            by_name.setdefault(name.rsplit(".", 1)[-1], []).append(name)
    shared = {short: names for short, names in by_name.items() if len(names) > 1}
    assert not shared, f"module names used more than once: {shared}"
