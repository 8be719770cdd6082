"""Development sessions: tests, lint, typecheck, docs, benchmarks, the demo, packaging and the lock.

Run them through ``python3 dev.py SESSION`` on a fresh machine (it installs nox in a private venv),
or with ``nox -s SESSION`` when nox is already installed.

Every session installs its tools from a dependency group of pyproject.toml, constrained to the
versions pinned in constraints.txt, so that CI runs what it ran yesterday; ``lock`` refreshes the
pins on purpose (docs/contributing.md).
"""

from __future__ import annotations

import shutil
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path

import nox

nox.needs_version = ">=2025.2.9"  # nox.project.dependency_groups
nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True

ROOT = Path(__file__).resolve().parent
PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")
CONSTRAINTS = ROOT / "constraints.txt"
GROUPS = ("test", "lint", "typecheck", "docs", "bench", "package", "nox")
PRINT_PYTHON_VERSION = "import sys; print(*sys.version_info[:2], sep='.')"
WHEEL_SMOKE_TEST = (
    "import importlib.resources, bulk_trio.sim; "
    "assert importlib.resources.files('bulk_trio').joinpath('py.typed').is_file()"
)


def _tools(*groups: str) -> list[str]:
    return [req for group in groups for req in nox.project.dependency_groups(PYPROJECT, group)]


def _install(session: nox.Session, *groups: str, project: Sequence[str] = ("-e", ".")) -> None:
    """The project (editable unless told otherwise) and the tools of ``groups``, at the pins."""
    pinned = ["-c", str(CONSTRAINTS)] if CONSTRAINTS.exists() else []
    session.install(*pinned, *project, *_tools(*groups))


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite with branch coverage of the package."""
    _install(session, "test")
    session.run(
        "pytest",
        "--cov=bulk_trio",
        "--cov-branch",
        "--cov-report=term-missing:skip-covered",
        *session.posargs,
    )


@nox.session
def lint(session: nox.Session) -> None:
    """ruff, including its ASYNC rules for Trio code."""
    _install(session, "lint", project=())
    session.run("ruff", "check", "src", "tests", "benchmarks", "examples", "noxfile.py", "dev.py")
    session.run("ruff", "format", "--check", "src", "tests", "benchmarks", "examples")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package, the examples and a typed user script; and mypy must catch
    the mistakes in tests/typing/mistakes.py (a misspelled Ticker field, a wrong handler, ...)."""
    _install(session, "typecheck")
    session.run("mypy", "--strict", "src")
    session.run("mypy", "--strict", "examples", "tests/typing/user_script.py")
    session.run("python", "tests/typing/check_mistakes.py")


@nox.session
def demo(session: nox.Session) -> None:
    """The main job: the demo against the embedded simulator (no network, no keys)."""
    _install(session)
    session.run("bulk-trio", "demo", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks; pass a script name to run one (``nox -s bench -- signing``)."""
    _install(session, "bench")
    names = session.posargs or ["signing"]
    for name in names:
        session.run("python", f"benchmarks/bench_{name}.py")


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site (Sphinx, MyST, furo) into docs/_build/html; warnings are errors."""
    _install(session, "docs")
    session.run(
        "sphinx-build",
        "-W",
        "--keep-going",
        "-b",
        "html",
        "docs",
        "docs/_build/html",
        *session.posargs,
    )


@nox.session(reuse_venv=False)  # a fresh venv: the sdist's own install, never a leftover
def package(session: nox.Session) -> None:
    """Build the sdist and the wheel into dist/ (each in a clean, isolated build environment),
    check them with twine, install the sdist and run its own test suite from the unpacked sdist
    (so that a release can be tested by whoever downloads it), then install the wheel."""
    _install(session, "package", project=())
    dist = ROOT / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    session.run("python", "-m", "build", "--sdist", "--wheel", "--outdir", str(dist), str(ROOT))
    sdists, wheels = sorted(dist.glob("*.tar.gz")), sorted(dist.glob("*.whl"))
    if len(sdists) != 1 or len(wheels) != 1:
        session.error(f"expected one sdist and one wheel in {dist}, found {sdists + wheels}")
    session.run("twine", "check", "--strict", *map(str, sdists + wheels))
    with tempfile.TemporaryDirectory(prefix="bulk-trio-sdist-") as scratch:
        with tarfile.open(sdists[0]) as archive:
            # The "data" filter refuses links and paths outside ``scratch`` (Python 3.11.4+).
            safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            archive.extractall(scratch, **safe)
        (unpacked,) = Path(scratch).iterdir()
        # A plain (not editable) install of the sdist: the tests run against what pip installed.
        _install(session, "test", project=[str(sdists[0])])
        with session.chdir(unpacked):
            session.run("pytest", "-q", "-p", "no:cacheprovider", *session.posargs)
    # The wheel, installed in place of the sdist: the command runs and the type marker is there.
    session.install("--force-reinstall", "--no-deps", str(wheels[0]))
    session.run("bulk-trio", "--version")
    session.run("python", "-c", WHEEL_SMOKE_TEST)


@nox.session(reuse_venv=False)  # a fresh venv: only what the project and its groups pull in
def lock(session: nox.Session) -> None:
    """Refresh constraints.txt: the newest versions of the package's dependencies and of every
    tool group that install together, pinned. Run it on purpose (after adding a dependency, or to
    take upstream releases), run the suite, and commit the result."""
    session.install(".", *_tools(*GROUPS))  # deliberately unconstrained: this makes the pins
    frozen = session.run("python", "-m", "pip", "freeze", "--exclude", "bulk-trio", silent=True)
    version = session.run("python", "-c", PRINT_PYTHON_VERSION, silent=True)
    assert isinstance(frozen, str) and isinstance(version, str)
    pins = sorted(
        (line for line in frozen.splitlines() if "==" in line and not line.startswith("#")),
        key=str.lower,
    )
    header = (
        "# Pinned versions of bulk-trio's dependencies and development tools, used by every nox\n"
        "# session (noxfile.py) so that CI is reproducible. Generated by `python3 dev.py lock`\n"
        f"# with Python {version.strip()}; do not edit by hand.\n"
    )
    CONSTRAINTS.write_text(header + "\n".join(pins) + "\n", encoding="utf-8")
    session.log(f"wrote {len(pins)} pins to {CONSTRAINTS.name}")
