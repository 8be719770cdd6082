"""Development sessions: tests, lint, typecheck, benchmarks and the demo.

Run them through ``python3 dev.py SESSION`` on a fresh machine (it installs nox in a private venv),
or with ``nox -s SESSION`` when nox is already installed.
"""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite with branch coverage of the package."""
    session.install("-e", ".[test]")
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
    session.install("ruff>=0.6")
    session.run("ruff", "check", "src", "tests", "benchmarks", "examples", "noxfile.py", "dev.py")
    session.run("ruff", "format", "--check", "src", "tests", "benchmarks", "examples")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package, the examples and a typed user script; and mypy must catch
    the mistakes in tests/typing/mistakes.py (a misspelled Ticker field, a wrong handler, ...)."""
    session.install("-e", ".", "mypy>=1.10")
    session.run("mypy", "--strict", "src")
    session.run("mypy", "--strict", "examples", "tests/typing/user_script.py")
    session.run("python", "tests/typing/check_mistakes.py")


@nox.session
def demo(session: nox.Session) -> None:
    """The main job: the demo against the embedded simulator (no network, no keys)."""
    session.install("-e", ".")
    session.run("bulk-trio", "demo", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks; pass a script name to run one (``nox -s bench -- signing``)."""
    # bulk-keychain: the reference signer bench_signing.py measures bulk-trio against.
    session.install("-e", ".", "bulk-keychain==0.1.31")
    names = session.posargs or ["signing"]
    for name in names:
        session.run("python", f"benchmarks/bench_{name}.py")


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site (Sphinx, MyST, furo) into docs/_build/html; warnings are errors."""
    session.install("-e", ".", "sphinx>=7.3", "myst-parser>=3.0", "furo>=2024.1")
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
