"""Build ``hatespeech/core/confusables.json``: look-alike letters → the Latin letter a reader sees.

    .venv/bin/python -m hatespeech.training.confusables     # rewrites the table; commit it

The data is Unicode's confusables (UTS #39), as shipped by the ``confusable-homoglyphs`` package
(pinned in requirements-dev.txt); serving reads only the small JSON table this writes, with the
standard library. Kept: every single character that is not ASCII and that Unicode lists as
confusable with one ASCII letter (Cyrillic ``а`` → ``a``, Greek ``ο`` → ``o``, Cherokee ``Ꭺ`` →
``a``, ...). Its prototype is lower-cased, except that a capital letter whose prototype is ``l``
(Cyrillic ``І``, Greek ``Ι``) reads as ``i``: in running text a reader takes it for a capital I.
Not kept: look-alikes of digits or punctuation, and multi-letter prototypes (``rn`` for ``m``).
tests/training/test_confusables.py checks that the committed table is what this builds.
"""

from __future__ import annotations

import json
import unicodedata
from importlib import resources
from pathlib import Path

TABLE = Path(__file__).resolve().parent.parent / "core" / "confusables.json"


def build() -> dict[str, str]:
    """Look-alike character → lower-case ASCII letter, from the package's copy of Unicode's data."""
    data = json.loads(resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8"))
    table: dict[str, str] = {}
    for prototype, entries in data.items():
        if not (len(prototype) == 1 and prototype.isascii() and prototype.isalpha()):
            continue
        for entry in entries:
            char = entry["c"].replace("\u200e", "")  # the package wraps right-to-left letters in LRMs
            if len(char) != 1 or char.isascii():
                continue
            letter = prototype.lower()
            if letter == "l" and "CAPITAL" in unicodedata.name(char, ""):
                letter = "i"
            table[char] = letter
    return dict(sorted(table.items()))


def main() -> None:
    TABLE.parent.mkdir(parents=True, exist_ok=True)
    TABLE.write_text(json.dumps(build(), ensure_ascii=False, separators=(",", ":"), sort_keys=True) + "\n", "utf-8")
    print(f"wrote {TABLE} ({len(build())} characters)")


if __name__ == "__main__":
    main()
