"""Compiling a fitted pipeline into the plain arrays the service scores with (``hatespeech.core.model``).

A pipeline it cannot reproduce exactly raises ``NotImplementedError``; ``compile_checked`` also
checks, before anything is saved, that the compiled form scores odd texts as the pipeline does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hatespeech.core import idioms
from hatespeech.core.model import FORMAT, FORMAT_VERSION, PER_WORD_PATTERNS, CompiledModel
from hatespeech.core.modelfile import CHECKS, TOLERANCE, ModelError


def _unsupported(what: str) -> NotImplementedError:
    return NotImplementedError(f"the compiled model does not support {what}; serve it with scikit-learn")


def to_arrays(pipeline: Any) -> dict[str, Any]:
    """What ``CompiledModel`` needs from a fitted pipeline, as plain data (no scikit-learn objects)."""
    from sklearn.calibration import CalibratedClassifierCV, _SigmoidCalibration
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model._base import LinearClassifierMixin
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import Pipeline

    from hatespeech.training.languages import LanguageNormaliser
    from hatespeech.training.pipeline import Normaliser

    if not isinstance(pipeline, Pipeline):
        raise _unsupported(f"a {type(pipeline).__name__} (not a Pipeline)")
    steps = [step for _, step in pipeline.steps if step is not None and step != "passthrough"]
    if len(steps) != 3 or type(steps[0]) not in (Normaliser, LanguageNormaliser):
        raise _unsupported("a pipeline other than normalise → TfidfVectorizer → CalibratedClassifierCV")
    _, vec, classifier = steps
    if not isinstance(vec, TfidfVectorizer) or vec.analyzer != "word":
        raise _unsupported(f"the features {type(vec).__name__} (only a TfidfVectorizer with analyzer='word')")
    if vec.input != "content" or vec.preprocessor is not None or vec.tokenizer is not None or vec.strip_accents:
        raise _unsupported("a vectorizer with another input, a preprocessor, a tokenizer or strip_accents")
    if vec.token_pattern not in PER_WORD_PATTERNS:
        raise _unsupported(f"the token pattern {vec.token_pattern!r}")
    if np.dtype(vec.dtype) != np.float64:
        raise _unsupported(f"dtype={vec.dtype!r} (only float64 reproduces its rounding)")
    if not hasattr(vec, "vocabulary_") or not hasattr(classifier, "calibrated_classifiers_"):
        raise _unsupported("an unfitted pipeline")
    tfidf = vec._tfidf
    if tfidf.norm not in ("l2", "l1", None):
        raise _unsupported(f"norm={tfidf.norm!r}")
    if not isinstance(classifier, CalibratedClassifierCV) or classifier.method != "sigmoid":
        raise _unsupported("a final step other than CalibratedClassifierCV(method='sigmoid')")
    classes = np.asarray(classifier.classes_)
    if len(classes) < 3:
        raise _unsupported("fewer than three classes")

    terms = sorted(vec.vocabulary_, key=vec.vocabulary_.__getitem__)
    idf = np.asarray(tfidf.idf_, dtype=np.float64) if tfidf.use_idf else np.ones(len(terms))
    weights, intercepts, slopes, offsets = [], [], [], []
    for cc in classifier.calibrated_classifiers_:
        est = cc.estimator
        parts = est.estimators_ if isinstance(est, OneVsRestClassifier) else [est]
        if not all(isinstance(e, LinearClassifierMixin) for e in parts):
            raise _unsupported(f"the calibrated estimator {type(est).__name__} (only linear models)")
        coef = np.vstack([np.asarray(e.coef_.toarray() if hasattr(e.coef_, "toarray") else e.coef_) for e in parts])
        intercept = np.concatenate([np.ravel(e.intercept_) for e in parts]).astype(np.float64)
        if coef.shape != (len(classes), len(terms)) or not all(type(c) is _SigmoidCalibration for c in cc.calibrators):
            raise _unsupported("a calibration fold that is not one linear model and one sigmoid per class")
        order = np.argsort(np.searchsorted(classes, est.classes_))  # columns in class order
        weights.append(coef[order])
        intercepts.append(np.broadcast_to(intercept, (len(classes),))[order])
        slopes.append([float(cc.calibrators[i].a_) for i in order])
        offsets.append([float(cc.calibrators[i].b_) for i in order])
    coef = np.vstack(weights)  # C × features
    table = np.zeros((len(terms) + 1, coef.shape[0] + 1))
    table[:-1, :-1] = (coef * idf).T
    table[:-1, -1] = {"l2": idf**2, "l1": idf, None: 0.0}[tfidf.norm]
    stop = vec.get_stop_words()
    if stop and not idioms.WORDS.isdisjoint(stop):  # the compiled model finds idioms by their violent words
        raise _unsupported(f"stop words that hold an idiom's violent word {sorted(idioms.WORDS & set(stop))}")
    reader = getattr(steps[0], "reader_", None)  # the normaliser's vocabulary: how disguised words are read
    counts = reader.counts if reader is not None else {}
    words = "syllables" if getattr(steps[0], "syllables", False) else "words"
    lexicon = getattr(reader, "lexicon_text", "")
    return {
        # the normaliser: the English reader, or another language's WordReader (no vocabulary)
        "reader": words if type(steps[0]) is LanguageNormaliser else "english",
        "char_ngrams": list(getattr(steps[0], "chars", None) or []),  # a WordReader's character n-grams
        "counted_words": sorted(counts),
        "word_counts": np.array([counts[w] for w in sorted(counts)], dtype=np.int64),
        "unsplit_words": sorted(reader.whole) if reader is not None else [],  # real words never split
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "classes": classes.tolist(),
        "terms": terms,
        "table": table,
        "intercept": np.concatenate(intercepts),
        "slope": np.concatenate(slopes),
        "offset": np.concatenate(offsets),
        "stop_words": sorted(stop) if stop else [],
        "ngram_range": list(vec.ngram_range),
        "lowercase": bool(vec.lowercase),
        "token_pattern": vec.token_pattern,
        "tf": "binary" if vec.binary else ("sublinear" if tfidf.sublinear_tf else "raw"),
        "norm": tfidf.norm or "none",
        # a WordReader's lexicon (German's): the text it was trained with, and how many times each marker counts
        **({"lexicon": lexicon, "lexicon_weight": getattr(reader, "lexicon_weight", 1)} if lexicon else {}),
    }


def compile_checked(pipeline: Any) -> dict[str, Any]:
    """The pipeline's compiled form, after checking that it scores ``CHECKS`` as the pipeline does."""
    arrays = to_arrays(pipeline)
    compiled = CompiledModel(arrays)
    expected = pipeline.predict_proba(list(CHECKS))
    for text, row in zip(CHECKS, expected, strict=True):
        for got in (compiled.proba_one(text), compiled.predict_proba([text])[0]):
            if not np.allclose(got, row, rtol=0, atol=TOLERANCE):
                raise ModelError(f"the compiled model scores {text!r} as {list(got)}, the pipeline as {list(row)}")
    return arrays
