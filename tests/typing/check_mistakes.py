"""Run ``mypy --strict`` on mistakes.py and check it reports exactly the expected errors.

Run by the nox typecheck session (``python3 dev.py typecheck``): a type change that stops mypy
from catching, say, ``ticker.mark_prise`` in user code fails the session.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

MISTAKES = Path(__file__).with_name("mistakes.py")
MARK = re.compile(r"#\s*expect:\s*(.+)$")


def main() -> int:
    expected = {
        number: match.group(1).strip()
        for number, line in enumerate(MISTAKES.read_text().splitlines(), start=1)
        if (match := MARK.search(line))
    }
    completed = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", str(MISTAKES)],
        capture_output=True,
        text=True,
        check=False,
    )
    errors: dict[int, list[str]] = {}
    for line in completed.stdout.splitlines():
        found = re.match(r".*mistakes\.py:(\d+): error: (.*)", line)
        if found:
            errors.setdefault(int(found.group(1)), []).append(found.group(2))
    problems = [
        f"line {number}: expected an error containing {text!r}, got {errors.get(number, [])}"
        for number, text in expected.items()
        if not any(text in message for message in errors.get(number, []))
    ]
    problems += [
        f"line {number}: unexpected error(s) {messages}"
        for number, messages in errors.items()
        if number not in expected
    ]
    for problem in problems:
        print(f"{MISTAKES.name}: {problem}")
    if not problems:
        print(f"{MISTAKES.name}: mypy caught all {len(expected)} mistakes, and nothing else")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
