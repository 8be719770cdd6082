"""Every document the code cites exists in the repository (a reader can follow each reference).

Comments and docstrings cite pages by path (``docs/protocol.md``) and sections by title; section
numbers of documents the project does not ship (the research notes it was built from) are not
allowed, since a user has no way to look them up.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted(
    path
    for folder in ("src", "tests", "benchmarks", "examples")
    for path in (ROOT / folder).rglob("*.py")
    if path != Path(__file__).resolve()  # this file spells out the patterns it looks for
)
CITED_PATH = re.compile(r"\b((?:docs|tests|benchmarks|examples|src)/[\w./-]+\.(?:md|py|rst|json))")
UNSHIPPED = re.compile(r"§|\bDESIGN(?:\.md)?\b|PERFORMANCE-NOTES|\bPROTOCOL\.md|HTTP-API\.md")


def test_the_scan_reads_the_sources() -> None:
    assert any(path.name == "codec.py" for path in SOURCES)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_cited_documents_exist(path: Path) -> None:
    text = path.read_text()
    missing = [cited for cited in CITED_PATH.findall(text) if not (ROOT / cited).exists()]
    assert not missing, f"{path.relative_to(ROOT)} cites files the repository lacks: {missing}"
    unshipped = sorted({match.group(0) for match in UNSHIPPED.finditer(text)})
    assert not unshipped, f"{path.relative_to(ROOT)} cites documents users do not have: {unshipped}"
