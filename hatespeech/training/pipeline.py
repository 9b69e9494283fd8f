"""The model: one scikit-learn Pipeline, saved and loaded whole.

normalise → word TF-IDF (1–2-grams) → one-vs-rest LinearSVC, calibrated by 5-fold
cross-validation (sigmoid, the five folds' models averaged) so that its scores are probabilities a
moderator can threshold. Why these settings, and what else was tried: bench/LOG-2026.md (Accuracy).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Iterator

import numpy as np
import sklearn
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC
from stop_words import get_stop_words

from hatespeech.core import idioms
from hatespeech.core.reader import PLAIN, Reader
from hatespeech.core.text import TOKEN_PATTERN
from hatespeech.training.words import whole_words

SEED = 42
_TOKEN = re.compile(TOKEN_PATTERN)


_memo: dict[frozenset, dict[str, str]] | None = None  # set inside normalised_once(): per vocabulary, text → normalised


@contextlib.contextmanager
def normalised_once() -> Iterator[None]:
    """Inside it, each distinct text is normalised once: training fits the same rows dozens of
    times (evaluation folds, the feedback's weight search), and normalising was a third of a fit."""
    global _memo
    _memo = {}
    try:
        yield
    finally:
        _memo = None


Prepare = Callable[[list[str], np.ndarray, np.ndarray], tuple[list[str], np.ndarray, np.ndarray]]
_prepare: Prepare | None = None  # set inside preparing(): what every fit trains on instead of the rows given


@contextlib.contextmanager
def preparing(prepare: Prepare | None) -> Iterator[None]:
    """Inside it, every ``fit`` trains on ``prepare(texts, labels, weights)`` of the rows it is given: the
    training form of the texts and counterfactual copies (``hatespeech.training.sources.Recipe``). Each
    evaluation fold is prepared from its own training rows, so a swapped copy of a scored text is never
    trained on, and scored rows are read as given: as the service reads a post."""
    global _prepare
    previous, _prepare = _prepare, prepare
    try:
        yield
    finally:
        _prepare = previous


class Normaliser(TransformerMixin, BaseEstimator):
    """The text as a person reads it (``hatespeech.core.reader.Reader``), as a scikit-learn step.

    Fitting counts the training texts' words: disguised spellings are read against that vocabulary
    (``b*tch`` → ``bitch``, the fitting word clearly the most frequent in training), and glued words
    are split unless they are real words (``hatespeech.training.words``). The counts and those words
    are saved with the model (``reader_``, and in the compiled form), so serving reads as training did.
    """

    def fit(self, X: Iterable[str], y: object = None) -> Normaliser:  # noqa: N803 (sklearn's name)
        counts = Reader.count_words(list(X))
        self.reader_ = Reader(counts, whole_words(counts))
        return self

    def transform(self, X: Iterable[str]) -> list[str]:  # noqa: N803
        reader = getattr(self, "reader_", PLAIN)  # a model saved before it had counts reads without them
        if _memo is None:
            return [reader.normalise(text) for text in X]
        memo = _memo.setdefault(reader.key(), {})  # one memo per vocabulary: each fold reads with its own
        result = []
        for text in X:
            done = memo.get(text)
            if done is None:
                done = memo[text] = reader.normalise(text)
            result.append(done)
        return result


def stop_words() -> list[str]:
    """English stop words from the ``stop-words`` package, split as the word tokenizer splits; and the
    reader's idiom marks (``idiom_kill`` in "I'd kill for a coffee"): the violent word of an idiom is
    counted by no feature, however often training texts use the idiom."""
    english = {token for word in get_stop_words("en") for token in _TOKEN.findall(word)}
    return sorted(english | {idioms.MARK + word for word in idioms.WORDS})


C = 0.25  # the SVC's regularisation: bench/LOG-2026.md (Accuracy)


def build_pipeline(c: float = C, drop_stop_words: bool = True) -> Pipeline:
    """The untrained pipeline with the production settings (``c``: the SVC's C)."""
    words = word_features((1, 2), stop_words() if drop_stop_words else None)
    return Pipeline([("normalise", Normaliser()), ("features", words), ("classifier", calibrated_svc(c))])


def word_features(ngram_range: tuple[int, int], stop: list[str] | None = None) -> TfidfVectorizer:
    """Word n-gram TF-IDF over normalised text (the normaliser has lower-cased it already)."""
    return TfidfVectorizer(
        token_pattern=TOKEN_PATTERN,
        lowercase=False,
        stop_words=stop,
        ngram_range=ngram_range,
        min_df=2,
        sublinear_tf=True,
        dtype=np.float64,
    )


def calibrated_svc(c: float = C) -> CalibratedClassifierCV:
    """One-vs-rest LinearSVC, calibrated by 5-fold cross-validation (sigmoid, the folds' models averaged)."""
    # LinearSVC is one-vs-rest itself (multi_class="ovr"). Annotator-agreement weights go to it
    # only, through metadata routing: the sigmoid calibrators are fit unweighted, so the
    # probabilities stay calibrated on the real label distribution.
    with sklearn.config_context(enable_metadata_routing=True):
        svc = LinearSVC(C=c, multi_class="ovr", random_state=SEED).set_fit_request(sample_weight="svc_weight")
    return CalibratedClassifierCV(svc, method="sigmoid", cv=5, ensemble=True)


def fit(pipeline: Pipeline, texts: list[str], labels: np.ndarray, sample_weight: np.ndarray | None = None) -> Pipeline:
    """Fit the pipeline, weighting each row for the SVC if ``sample_weight`` is given."""
    if sample_weight is None:
        sample_weight = np.ones(len(texts))
    if _prepare is not None:
        texts, labels, sample_weight = _prepare(list(texts), np.asarray(labels), np.asarray(sample_weight, dtype=float))
    with sklearn.config_context(enable_metadata_routing=True):
        return pipeline.fit(texts, labels, svc_weight=np.asarray(sample_weight, dtype=float))
