"""A language model's scoring path (``CompiledModel._rows``): the rows ``ids`` gives, counted the same, cached in
bounds; and ``WordReader.letters``' shortcut for a piece of letters alone reads it as the full reading does."""

from __future__ import annotations

import random
import unicodedata

import numpy as np
import pytest

from hatespeech.config import ROOT
from hatespeech.core import model as compiled
from hatespeech.core import wordreader
from hatespeech.core.modelfile import load_compiled

MODELS = ROOT / "models" / "languages"
# Our own texts: repeated words and n-grams (tf > 1), capitals, punctuation, links, emoji, a ligature, digits.
TEXTS = [
    "",
    "!!! 123",
    "Du bist so dumm, so dumm, SO DUMM!!! https://t.co/x @anna",
    "Straßenbahnfahrer und Straßenbahnfahrerinnen fahren Straßenbahn 😡😡",
    "Vocês são uns idiotas, idiotas mesmo. Que vergonha!!",
    "ﬁne Ｄｕ e\u0301 İstanbul naïve coração ação",
    "aaaa aaaa aaaa aaaa bbbb",
    "Zorgs " * 300,
    "너 진짜 바보야 ㅋㅋㅋ 진짜 바보 😡 바보야!! 서로 존중해 주세요",
    "바 보 야 바보야 바보야바보야",
]


@pytest.fixture(scope="module", params=["de", "pt", "ko"])
def model(request: pytest.FixtureRequest) -> compiled.CompiledModel:
    found, _ = load_compiled(MODELS / f"model-{request.param}.json")
    assert found._scoring_rows == (found._rows if request.param != "ko" else found._gram_rows)
    return found


def _generated(seed: int) -> list[str]:
    rng = random.Random(seed)
    letters = "abcdeinorstuäöüßçãõé"
    words = ["".join(rng.choice(letters) for _ in range(rng.randint(1, 12))) for _ in range(60)]
    return [" ".join(rng.choice(words) + rng.choice(["", "", "!", ",", "?!"]) for _ in range(40)) for _ in range(30)]


def test_the_rows_are_ids_rows_and_score_the_same(model: compiled.CompiledModel) -> None:
    assert model._scoring_rows is not None
    for text in TEXTS + _generated(3):
        rows = np.frombuffer(model._scoring_rows(text), dtype=np.int32)
        assert sorted(rows.tolist()) == sorted(model.ids(text))
        total, scale = model._rows_sums(model._scoring_rows(text))
        want_total, want_scale = model.sums_of(model.ids(text))
        assert np.allclose(total, want_total, rtol=1e-12, atol=1e-12) and abs(scale - want_scale) <= 1e-12
        assert np.abs(np.array(model.proba_one(text)) - model.proba_from_sums(want_total, want_scale)).max() <= 1e-12


@pytest.mark.parametrize("code", ["de", "pt"])  # Korean's n-gram rows keep nothing
def test_the_rows_caches_stay_under_their_byte_budget(code: str, monkeypatch) -> None:
    model, _ = load_compiled(MODELS / f"model-{code}.json")
    monkeypatch.setattr(compiled, "ROWS_CACHE_BYTES", model._rows_bytes + 50_000)
    for text in _generated(5) + _generated(6):
        model.proba_one(text)
        assert model._rows_bytes <= compiled.ROWS_CACHE_BYTES + 2_000  # at most one entry past it before a drop
    assert sum(compiled._rows_bytes(k, v) for k, v in model._piece_rows.items()) + sum(
        compiled._rows_bytes(k, v) for k, v in model._word_rows.items()
    ) == pytest.approx(model._rows_bytes)


@pytest.mark.parametrize("syllables", [False, True])
def test_a_piece_of_letters_alone_is_read_as_the_full_reading_does(syllables: bool) -> None:
    reader = wordreader.WordReader(syllables)
    pieces = [p for text in TEXTS + _generated(7) for p in text.split()]
    pieces += [
        "ﬁne",
        "Ｄｕ",
        "İstanbul",
        "e\u0301",
        "ǅemal",
        "ß",
        "Straße",
        "바보야",
        "바보ok",
        "ok바보",
        "漢字",
        "䷀",
        "바보😡",
        "ＡＢ바",
        "RT",
        "rt",
        "ⅷ",
        "ᾈ",
    ]
    for piece in pieces:
        full = reader._pattern.findall(wordreader._NOISE.sub(" ", unicodedata.normalize("NFKC", piece)).lower())
        assert reader.letters(piece) == ([] if piece.upper() == "RT" else full), piece
