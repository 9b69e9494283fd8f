"""The per-piece cache of the served model is bounded in bytes, whatever the texts (issue 13)."""

from __future__ import annotations

import random
import tracemalloc

import pytest

from hatespeech.config import DEFAULT_MODEL_PATH
from hatespeech.core import model as compiled
from hatespeech.core.classifier import Classifier


@pytest.fixture
def model() -> compiled.CompiledModel:
    return Classifier.load(DEFAULT_MODEL_PATH).model


def _word(rng: random.Random, length: int) -> str:
    return "".join(rng.choice("éàüñçøåœß") for _ in range(length))


def test_long_pieces_are_scored_but_never_kept(model: compiled.CompiledModel) -> None:
    rng = random.Random(13)
    before = dict(model._pieces)
    for _ in range(20):
        text = _word(rng, 10_000)
        assert len(model.proba_one(text)) == 3
        assert len(model.proba_one("hello " + text[:65] + " there")) == 3
    assert all(len(piece) <= compiled.CACHE_PIECE_CHARS for piece in model._pieces)
    assert set(model._pieces) - set(before) <= {"hello", "there"}


def test_the_cache_stays_under_its_byte_budget(model: compiled.CompiledModel, monkeypatch) -> None:
    budget = 1 << 20
    monkeypatch.setattr(compiled, "CACHE_BYTES", budget)
    rng = random.Random(7)
    peak = 0
    for _ in range(300):  # ~15 MB of distinct 50-character pieces at ~500 bytes an entry
        model.proba_one(" ".join(_word(rng, 50) for _ in range(100)))
        peak = max(peak, model._cache_bytes)
    # At most one entry over before the older half goes (an entry here: ~2 KB, 20 tokens and the reader's words).
    assert peak <= budget + 2_500
    assert 0 < model._cache_bytes <= budget


def test_the_estimate_is_not_below_what_python_allocates(model: compiled.CompiledModel) -> None:
    rng = random.Random(3)
    pieces = [_word(rng, rng.randint(3, 64)) for _ in range(3_000)]
    model._pieces.clear()
    model._cache_bytes = 0
    tracemalloc.start()
    for piece in pieces:
        model.piece(piece)
    allocated, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert model._cache_bytes >= 0.8 * allocated, (model._cache_bytes, allocated)


def test_the_warm_words_survive_a_drop(model: compiled.CompiledModel, monkeypatch) -> None:
    warm = list(model._pieces)[: model._pinned]
    assert warm and model._pinned_bytes > 0
    monkeypatch.setattr(compiled, "CACHE_BYTES", 2 * model._pinned_bytes + (1 << 20))
    rng = random.Random(11)
    before = model._cache_bytes
    while model._cache_bytes >= before:  # until the cache has dropped entries at least once
        before = model._cache_bytes
        model.proba_one(" ".join(_word(rng, 40) for _ in range(50)))
    assert all(piece in model._pieces for piece in warm)
    assert model._cache_bytes <= compiled.CACHE_BYTES
