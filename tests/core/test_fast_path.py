"""The served model's fast path (``CompiledModel.fast_ids``) gives exactly what the full reading gives."""

from __future__ import annotations

import random

import pytest

from hatespeech.config import DEFAULT_MODEL_PATH
from hatespeech.core.classifier import Classifier
from hatespeech.core.model import CompiledModel

TEXTS = [
    "what a lovely morning, see you all at the market",
    "you are a f u c k i n g idiot",  # spaced-out letters: Reader.split reads them
    "a b c",  # three lone letters
    "a b",  # two: text.split() is the reading
    "I'd kill for a coffee right now",  # an idiom with a violent word
    "they should kill them all",
    "you stupid retard, go back to school",  # the slur lexicon's marker, after the words
    "retard retard",  # markers in a row: a bigram of markers
    "the and of to",  # stop words only: no token at all
    "RT @someone: look at this https://example.com/x &amp; that",
    "ｆｕｃｋ this, b!tch",  # look-alike letters, a masked word
    "whitetrash everywhere",  # glued words
    "x" * 200 + " hello there",  # a piece too long to be cached
    "😀 😀 😀",
]


@pytest.fixture(scope="module")
def model() -> CompiledModel:
    return Classifier.load(DEFAULT_MODEL_PATH).model


def _full_reading(model: CompiledModel, text: str) -> tuple[list[int], set[str]]:
    follow, model._follow = model._follow, None  # what ``ids`` does without the fast path
    try:
        gate: set[str] = set()
        return model.ids(text, gate), gate
    finally:
        model._follow = follow


def _mixed(rng: random.Random) -> str:
    parts = (rng.choice(TEXTS).split()[rng.randrange(3) :][: rng.randint(1, 8)] for _ in range(rng.randint(1, 4)))
    return " ".join(" ".join(part) for part in parts)


def test_same_rows_in_the_same_order_and_the_same_threat_words(model: CompiledModel) -> None:
    rng = random.Random(28)
    for text in TEXTS + [_mixed(rng) for _ in range(500)]:
        gate: set[str] = set()
        assert (model.ids(text, gate), gate) == _full_reading(model, text), text


def test_plain_texts_take_it_and_the_rare_readings_do_not(model: CompiledModel) -> None:
    assert model.fast_ids("what a lovely morning") is not None
    assert model.fast_ids("you stupid retard") is not None  # markers are read on the fast path too
    assert model.fast_ids("you are a f u c k i n g idiot") is None  # Reader.split's pieces differ
    assert model.fast_ids("I'd kill for a coffee") is None  # idioms span pieces


def test_bigrams_across_pieces_are_counted(model: CompiledModel) -> None:
    pairs = [t for t in model.vocab if " " in t][:300]
    read = {t: ids for t in pairs if (ids := model.fast_ids(t)) is not None}  # not those with a violent word
    assert len(read) > 200
    for term, ids in read.items():
        assert model.vocab[term] in ids, term


def test_the_scoring_pass_gives_each_texts_tokens_as_tokens_does(model: CompiledModel) -> None:
    rng = random.Random(29)
    texts = TEXTS + [_mixed(rng) for _ in range(300)]
    gates: list[set[str]] = []
    seen: list[list[str]] = []
    rows = model.predict_proba(texts, gates, seen)
    assert seen == [model.tokens(t) for t in texts]
    assert gates == [model.threat_words(t) for t in texts]
    assert (rows == model.predict_proba(texts)).all()


def test_the_readers_words_from_the_cache_are_the_readers_words(model: CompiledModel) -> None:
    """``CompiledModel.words`` (what the threat and attack checks read) is ``Reader.words``, list for list: cold
    pieces, cached ones, stop words, idioms, markers, spaced-out letters and pieces too long to be kept."""
    rng = random.Random(29)
    texts = TEXTS + [_mixed(rng) for _ in range(500)]
    for _ in range(2):  # first the pieces are read, then they come from the cache
        for text in texts:
            assert model.words(text) == model.reader.words(text), text
