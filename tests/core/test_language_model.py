"""The identifier's own copy of py3langid's model: the library's answers to the bit, from the file committed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hatespeech.core.language import CANDIDATES, MODEL_FILE, MODEL_FORMAT, _identifier, _NaiveBayes
from hatespeech.training import language_model

SENTENCES = Path(__file__).resolve().parent.parent / "data" / "languages"
# what the walk must survive: nothing, one byte, upper case (lowered by the library), lone surrogates, text
# without a feature, bytes beyond ASCII in every UTF-8 length, a long run
ODD = ["", " ", "A", "ABC DEF GHI", "ÉCOLE", "\ud800x", "\x00\x01\x7f", "😀🙃", "ﾊﾝｶｸ", "日本語", "x" * 5000]


@pytest.fixture(scope="module")
def library() -> object:
    from py3langid.langid import MODEL_FILE as LIBRARY_MODEL
    from py3langid.langid import LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(LIBRARY_MODEL, norm_probs=True)
    identifier.set_languages(CANDIDATES)
    return identifier


def _texts() -> list[str]:
    sentences = [s for p in sorted(SENTENCES.glob("*.txt")) for s in p.read_text("utf-8").splitlines() if s.strip()]
    mixed = [f"{a} {b}" for a, b in zip(sentences, reversed(sentences), strict=True)]
    return sentences + mixed + ODD


def test_the_identifier_ranks_as_py3langid(library: object) -> None:
    ours = _identifier()
    for text in _texts():
        assert ours.rank(text) == library.rank(text), text  # type: ignore[attr-defined]  # every float equal


def test_the_committed_file_is_what_the_library_builds() -> None:
    built = language_model.build()
    with np.load(MODEL_FILE, allow_pickle=False) as committed:
        assert sorted(committed.files) == sorted(built)
        for name, array in built.items():
            assert committed[name].dtype == array.dtype and np.array_equal(committed[name], array), name


def test_a_file_of_another_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    np.savez(path, **{**language_model.build(), "format": np.array(MODEL_FORMAT + 1)})
    with pytest.raises(ValueError, match="format"):
        _NaiveBayes(path)


def test_the_state_table_is_16_bits_wide_and_the_weights_row_major() -> None:
    with np.load(MODEL_FILE, allow_pickle=False) as committed:
        assert committed["moves"].dtype == np.uint16 and committed["ptc"].dtype == np.float16
        assert committed["ptc"].flags.c_contiguous  # a post's features are rows: gathered contiguous
