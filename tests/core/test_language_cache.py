"""A language model's per-word caches (``CompiledModel._word`` for its tokens, ``_rows_of_word`` for its scores) and
fast path: the same rows as a fresh reading."""

from __future__ import annotations

import pytest

from hatespeech.config import ROOT
from hatespeech.core import model as compiled
from hatespeech.core.model import CompiledModel
from hatespeech.core.modelfile import load_compiled

MODELS = ROOT / "models" / "languages"
TEXTS = [
    "Die Idioten! Die Idioten, schon wieder die Idioten?",  # "die": an English idiom's word, a German article
    "Was für ein #Idiot, idiot, IDIOT",
    "kill die Zorgs 😡 https://t.co/x @anna",
    "너 진짜 바보야 바보 ㅋㅋㅋ",
    "Você é um idiota, idiota!",
    "x" * 100 + " Straßenbahnfahrer",  # a word too long to be kept
    "",
]


@pytest.fixture(scope="module", params=["de", "pt", "ko"])
def model(request: pytest.FixtureRequest) -> CompiledModel:
    return load_compiled(MODELS / f"model-{request.param}.json")[0]


def _fresh(model: CompiledModel, text: str) -> tuple[list[float], list[str]]:
    """Scores and tokens with empty caches: every piece and word read for the first time."""
    pieces, words, size = dict(model._pieces), dict(model._words or {}), model._words_bytes
    rows = dict(model._piece_rows), dict(model._word_rows), model._rows_bytes
    model._pieces.clear()
    assert model._words is not None
    model._words.clear()
    model._piece_rows.clear()
    model._word_rows.clear()
    try:
        return model.proba_one(text), model.tokens(text)
    finally:
        model._pieces.update(pieces)
        model._words.clear()
        model._words.update(words)
        model._words_bytes = size
        model._piece_rows.clear()
        model._piece_rows.update(rows[0])
        model._word_rows.clear()
        model._word_rows.update(rows[1])
        model._rows_bytes = rows[2]


@pytest.mark.parametrize("text", TEXTS)
def test_cached_words_score_as_a_fresh_reading(model: CompiledModel, text: str) -> None:
    fresh = _fresh(model, text)
    assert (model.proba_one(text), model.tokens(text)) == fresh
    assert (model.proba_one(text), model.tokens(text)) == fresh  # now from the caches
    assert model.tokens(text) == model.reader.words(text)  # no stop words in these models: every token


def test_a_word_is_read_once_whatever_its_punctuation(model: CompiledModel) -> None:
    if model.reader.syllables:  # type: ignore[union-attr]
        return
    model._words.clear()  # type: ignore[union-attr]
    model._pieces.clear()
    model.tokens("Idiot! Idiot, #Idiot")
    read = list(dict.fromkeys(["idiot", *model.reader.markers("idiot")]))  # German's: its lexicon marker too
    assert list(model._words or {}) == read
    assert {"Idiot!", "Idiot,", "#Idiot"} <= set(model._pieces)
    model._word_rows.clear()
    model._piece_rows.clear()
    model._rows_bytes = 0
    model.proba_one("Idiot! Idiot, #Idiot")  # the scoring path's own caches, rows not tokens
    assert list(model._word_rows) == read
    assert {"Idiot!", "Idiot,", "#Idiot"} <= set(model._piece_rows)


def test_an_english_idioms_word_does_not_leave_the_fast_path(model: CompiledModel) -> None:
    if model._follow is None:  # Korean's (1, 3) n-grams: no fast path
        return
    assert model.fast_ids("die Zorgs sollen die Stadt verlassen") is not None


def test_the_word_cache_stays_bounded(model: CompiledModel, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compiled, "WORD_CACHE_BYTES", 20_000)
    model._words.clear()  # type: ignore[union-attr]
    model._words_bytes = 0
    for i in range(400):
        model.tokens(f"wort{chr(0x61 + i % 26)}{chr(0x61 + i // 26)}zz")  # tokens (scoring: ROWS_CACHE_BYTES)
    assert model._words_bytes <= 20_000 + 2_000
    assert len(model._words or {}) < 400
