#!/usr/bin/env python3
"""Run a nox session on a machine that has nothing but Python 3.11+.

``python3 dev.py demo`` runs the demo, ``python3 dev.py tests`` the test suite. nox is installed
into ``.venv-dev`` on first use, so nothing touches the system Python (which Debian forbids anyway).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
TOOLS = ROOT / ".venv-dev"
# nox.project.dependency_groups (2025.2.9) reads the tool groups of pyproject.toml.
NOX_REQUIREMENT = "nox>=2025.2.9"


def tool_python() -> Path:
    python = TOOLS / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    ready = TOOLS / ".ready"  # written last: a half-made or outdated environment is made again
    if not ready.exists() or ready.read_text() != NOX_REQUIREMENT:
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
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", NOX_REQUIREMENT], check=True
        )
        ready.write_text(NOX_REQUIREMENT)
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
