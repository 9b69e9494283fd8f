"""Why the model scored a text so: the exact contribution of each part of the text, per class.

The model is linear before calibration: for class k its margin is ``b_k + Σ_f x_f · w_kf`` (the
TF-IDF value of each feature times its weight; with several calibration folds, the mean of the
folds' margins, which is the margin of the mean weights). Each feature comes from a place in
the text: a word n-gram from its words, a ``char_wb`` n-gram from the one word it lies in. So
the margin splits *exactly* into contributions of spans of the original text, with no
approximation: ``intercept + Σ contributions == margin`` (to rounding, ~1e-15). A feature that
occurs more than once has its one TF-IDF value shared equally between its occurrences.

Offsets are into the text as sent, whatever normalisation did (HTML entities, URLs, mentions,
repeated letters, case): ``hatespeech.text.tokens`` says which characters each normalised word
came from. Everything is read from the fitted pipeline (vocabularies, analyzers, coefficients),
so a retrained or retuned model needs no change here; a pipeline this cannot decompose exactly
raises ``NotImplementedError`` rather than give an approximate answer.

>>> explain(pipeline, "you are a stupid idiot")["spans"][0]               # doctest: +SKIP
{'start': 10, 'end': 16, 'text': 'stupid', 'class': 'hate speech', 'contribution': 0.41...}
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline

from hatespeech import text as text_module
from hatespeech.labels import LABELS


@dataclass(frozen=True)
class _Block:
    """One vectorizer of the feature union and where its columns start."""

    vectorizer: TfidfVectorizer
    offset: int


@dataclass(frozen=True)
class _Linear:
    """The fitted pipeline read as: steps before the features, the features, and W, b of the margins."""

    before: tuple[Any, ...]  # the steps before the features (normalisation)
    features: Any
    blocks: tuple[_Block, ...]
    weights: np.ndarray  # classes × features, in LABELS order, mean over calibration folds
    intercepts: np.ndarray  # classes


_cache: dict[int, tuple[Pipeline, _Linear]] = {}


def _linear(pipeline: Pipeline) -> _Linear:
    cached = _cache.get(id(pipeline))
    if cached is not None and cached[0] is pipeline:
        return cached[1]
    names = [name for name, _ in pipeline.steps]
    at = next(
        (i for i, (_, step) in enumerate(pipeline.steps) if isinstance(step, FeatureUnion | TfidfVectorizer)), None
    )
    if at is None or at != len(names) - 2:
        raise NotImplementedError("explanations need … → TF-IDF features → classifier")
    features, classifier = pipeline.steps[at][1], pipeline.steps[-1][1]
    parts = features.transformer_list if isinstance(features, FeatureUnion) else [("features", features)]
    blocks, offset = [], 0
    for name, vectorizer in parts:
        if not isinstance(vectorizer, TfidfVectorizer):
            raise NotImplementedError(f"feature block {name!r} is not a TfidfVectorizer")
        blocks.append(_Block(vectorizer, offset))
        offset += len(vectorizer.vocabulary_)

    if not isinstance(classifier, CalibratedClassifierCV):
        raise NotImplementedError("explanations need a CalibratedClassifierCV over a linear model")
    weights, intercepts = [], []
    for calibrated in classifier.calibrated_classifiers_:
        w, b = _coefficients(calibrated.estimator, classifier.classes_)
        weights.append(w)
        intercepts.append(b)
    linear = _Linear(
        tuple(step for _, step in pipeline.steps[:at]),
        features,
        tuple(blocks),
        np.mean(weights, axis=0),
        np.mean(intercepts, axis=0),
    )
    if linear.weights.shape != (len(LABELS), offset):
        raise NotImplementedError(f"coefficients of shape {linear.weights.shape} for {offset} features")
    _cache.clear()  # one model is served at a time
    _cache[id(pipeline)] = (pipeline, linear)
    return linear


def _coefficients(estimator: Any, classes: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """(W, b) of a fitted one-vs-rest or multi-class linear model, rows in LABELS order."""
    if hasattr(estimator, "estimators_"):  # OneVsRestClassifier: one binary model per class
        w = np.vstack([np.asarray(e.coef_).reshape(1, -1) for e in estimator.estimators_])
        b = np.array([float(np.ravel(e.intercept_)[0]) for e in estimator.estimators_])
    elif hasattr(estimator, "coef_") and np.ndim(estimator.coef_) == 2 and len(estimator.coef_) == len(classes):
        w, b = np.asarray(estimator.coef_), np.asarray(estimator.intercept_, dtype=float)
    else:
        raise NotImplementedError(f"{type(estimator).__name__} is not a linear model with one row per class")
    order = [list(estimator.classes_).index(k) for k in range(len(LABELS))]
    return w[order], b[order]


def _word_grams(vectorizer: TfidfVectorizer, words: Sequence[str]) -> Iterator[tuple[str, int, int]]:
    """The word n-grams of the normalised words, each with the indices of its first and last word."""
    if vectorizer.tokenizer is not None or vectorizer.preprocessor is not None:
        raise NotImplementedError("a custom tokenizer or preprocessor")
    preprocess = vectorizer.build_preprocessor()
    pattern = re.compile(vectorizer.token_pattern)
    stop = vectorizer.get_stop_words() or frozenset()
    kept: list[tuple[str, int]] = []  # (token, index of the normalised word it is in)
    for i, word in enumerate(words):
        # the token pattern matches within a word (\w runs), so tokenising word by word is exact;
        # the analyzer's own output on the whole text is compared below to make sure.
        for match in pattern.finditer(preprocess(word)):
            token = match.group(1) if pattern.groups == 1 else match.group()
            if token not in stop:
                kept.append((token, i))
    low, high = vectorizer.ngram_range
    for n in range(low, high + 1):
        for j in range(len(kept) - n + 1):
            window = kept[j : j + n]
            yield " ".join(token for token, _ in window), window[0][1], window[-1][1]


def _grams(vectorizer: TfidfVectorizer, words: Sequence[str]) -> list[tuple[str, int, int]]:
    if vectorizer.analyzer == "word":
        grams = list(_word_grams(vectorizer, words))
    elif vectorizer.analyzer == "char_wb":  # n-grams within one word: analyse each word alone
        analyse = vectorizer.build_analyzer()
        grams = [(gram, i, i) for i, word in enumerate(words) for gram in analyse(word)]
    else:
        raise NotImplementedError(f"analyzer {vectorizer.analyzer!r} (n-grams may cross words)")
    if Counter(g for g, _, _ in grams) != Counter(vectorizer.build_analyzer()(" ".join(words))):
        raise NotImplementedError("the analyzer's n-grams could not be traced back to the words")
    return grams


def explain(pipeline: Pipeline, text: str) -> dict[str, Any]:
    """Per class, ``intercept`` and ``margin``; and ``spans``: each part of ``text`` with its contribution.

    ``spans`` is sorted by position; each has ``start``/``end`` (offsets into ``text``),
    ``text`` (``text[start:end]``), ``class`` and ``contribution``. For every class,
    ``intercept + Σ contributions == margin``. Parts that match no feature of the model are absent.
    """
    linear = _linear(pipeline)
    tokens = text_module.tokens(text)
    words = [t.text for t in tokens]
    documents: Any = [text]
    for step in linear.before:  # each step itself, not pipeline[:at], which is not "fitted" when stateless
        documents = step.transform(documents)
    normalised = documents[0]
    if normalised != " ".join(words):
        raise NotImplementedError("hatespeech.text.tokens does not match the pipeline's normalisation")
    row = linear.features.transform([normalised]).tocsr()

    places: dict[int, list[tuple[int, int]]] = defaultdict(list)  # column → (start, end) of each occurrence
    for block in linear.blocks:
        vocabulary = block.vectorizer.vocabulary_
        for gram, first, last in _grams(block.vectorizer, words):
            column = vocabulary.get(gram)
            if column is not None:
                places[block.offset + column].append((tokens[first].start, tokens[last].end))

    totals: dict[tuple[int, int], np.ndarray] = defaultdict(lambda: np.zeros(len(LABELS)))
    for column, value in zip(row.indices, row.data, strict=True):
        occurrences = places[column]
        share = value / len(occurrences)  # one TF-IDF value, shared by the feature's occurrences
        for span in occurrences:
            totals[span] += share * linear.weights[:, column]

    margins = row @ linear.weights.T + linear.intercepts
    spans = [
        {"start": start, "end": end, "text": text[start:end], "class": label, "contribution": float(c[k])}
        for (start, end), c in sorted(totals.items())
        for k, label in enumerate(LABELS)
        if c[k] != 0.0
    ]
    return {
        "classes": {
            label: {"intercept": float(linear.intercepts[k]), "margin": float(margins[0, k])}
            for k, label in enumerate(LABELS)
        },
        "spans": spans,
    }
