"""The reader's shortcuts before its disguise search (``Reader.resolve``) answer what the search answers."""

from __future__ import annotations

import importlib.util
import random

import pytest

from hatespeech.config import DEFAULT_MODEL_PATH
from hatespeech.core import reader as reading
from hatespeech.core.classifier import Classifier
from hatespeech.core.reader import Reader
from testing.support import ROOT

# The evasion bench's disguises, read from its file (bench/ is no package).
_spec = importlib.util.spec_from_file_location("evasion_bench", ROOT / "bench" / "evasion.py")
assert _spec is not None and _spec.loader is not None
evasion = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(evasion)

WORDS = ["fuck", "bitch", "retard", "stupid", "nigger", "faggot", "hoe", "so", "two", "cool", "trash", "shit", "you"]


@pytest.fixture(scope="module")
def reader() -> Reader:
    found = Classifier.load(DEFAULT_MODEL_PATH).model.reader
    assert isinstance(found, Reader)
    return found


def _pieces(rng: random.Random) -> list[str]:
    """The archive bench's perturbations (a counter word, case, a stretched letter), the evasion bench's
    disguises of abusive words, and random strings of letters, look-alike digits and masks."""
    pieces = [f"w{copy}x{n}" for copy in range(1, 41) for n in (*range(0, 1000, 7), 2, 6, 26, 62)]
    pieces += ["sooo" + "o" * k for k in range(6)] + ["2g2b", "b2tch", "sh6t", "f6ck", "b1tch", "h0e", "n1gg3r"]
    for word in WORDS:
        for how in evasion.DISGUISES.values():
            pieces.append(evasion.disguise(word, 0, len(word), how).lower())
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789*@$!|+#%?_"
    pieces += ["".join(rng.choice(alphabet) for _ in range(rng.randint(3, 12))) for _ in range(3000)]
    return pieces


def test_a_digit_standing_for_no_letter_ends_the_search_where_the_search_finds_nothing(
    reader: Reader, monkeypatch: pytest.MonkeyPatch
) -> None:
    pieces = [p for p in _pieces(random.Random(28)) if 3 <= len(p) <= reading.MAX_DISGUISED]
    fast = [reader.resolve(p) for p in pieces]
    monkeypatch.setattr(reader, "_letters_only", False)  # the full search for every piece
    full = [reader.resolve(p) for p in pieces]
    assert fast == full
    skipped = [p for p in pieces if reading._NO_LETTER.search(p) and reading._DISGUISE.fullmatch(p)]
    assert len(skipped) > 1000  # the shortcut was taken, and on pieces the search reads as disguises
    assert reader.resolve("sh1t") == "shit" and reader.resolve("f*ck") == "fuck"  # the search still runs


def test_a_vocabulary_with_a_word_that_is_not_letters_is_always_searched() -> None:
    assert Reader({"b2b": 50, "bitch": 900})._letters_only is False
    assert Reader({"bitch": 900})._letters_only is True
