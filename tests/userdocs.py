"""The documentation a user reads: README.md, then the pages of docs/ (for the tests that run what it shows)."""

from __future__ import annotations

from pathlib import Path

from testing.support import ROOT

README = ROOT / "README.md"
DOCS = ROOT / "docs"


def pages() -> list[Path]:
    """README.md, then every Markdown page at the top of docs/, by name."""
    return [README, *sorted(DOCS.glob("*.md"))]


def text() -> str:
    """Every page's text, in ``pages()``'s order: what a test searches for the commands it runs."""
    return "\n".join(page.read_text() for page in pages())
