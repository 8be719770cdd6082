#!/usr/bin/env python3
"""Run a nox session on a machine that has nothing but Python 3.11+.

``python3 dev.py demo`` runs the demo, ``python3 dev.py tests`` the test suite. nox is installed
into ``.venv-dev`` on first use, so nothing touches the system Python (which Debian forbids anyway),
as pyproject.toml's ``nox`` dependency group asks and at the version constraints.txt pins.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
TOOLS = ROOT / ".venv-dev"
CONSTRAINTS = ROOT / "constraints.txt"


def nox_requirements() -> tuple[list[str], str]:
    """pip's arguments for installing nox, and a line that changes when they ask for another nox."""
    import tomllib  # Python 3.11+, which main() has checked

    with open(ROOT / "pyproject.toml", "rb") as file:
        wanted = list(tomllib.load(file)["dependency-groups"]["nox"])
    if not CONSTRAINTS.exists():
        return wanted, " ".join(wanted)
    pins = CONSTRAINTS.read_text(encoding="utf-8").splitlines()
    pin = next((line for line in pins if line.lower().startswith("nox==")), "")
    return ["-c", str(CONSTRAINTS), *wanted], " ".join([*wanted, pin])


def tool_python() -> Path:
    python = TOOLS / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    ready = TOOLS / ".ready"  # written last: a half-made or outdated environment is made again
    requirements, version = nox_requirements()
    if not ready.exists() or ready.read_text() != version:
        print(f"dev.py: creating {TOOLS.name} with nox (first run only)", flush=True)
        shutil.rmtree(TOOLS, ignore_errors=True)
        try:
            venv.EnvBuilder(with_pip=True).create(TOOLS)
        except (OSError, subprocess.CalledProcessError) as problem:
            shutil.rmtree(TOOLS, ignore_errors=True)
            raise SystemExit(
                f"dev.py: cannot create a virtual environment ({problem}); on Debian or Ubuntu "
                "install the venv module first: apt install python3-venv"
            ) from None
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *requirements], check=True)
        ready.write_text(version)
    return python


def main(argv: list[str]) -> int:
    if sys.version_info < (3, 11):  # noqa: UP036  # dev.py itself must say why it cannot run
        print("dev.py: bulk-trio needs Python 3.11 or newer", file=sys.stderr)
        return 2
    if not argv or argv[0] in {"-h", "--help"}:
        print("usage: python3 dev.py SESSION [SESSION ...] [-- ARGS]   (sessions: nox -l)")
        return 0 if argv else 2
    split = argv.index("--") if "--" in argv else len(argv)
    sessions, extra = argv[:split], argv[split:]
    command = [str(tool_python()), "-m", "nox", "-f", str(ROOT / "noxfile.py"), "-s", *sessions]
    command += extra
    return subprocess.run(command, cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
