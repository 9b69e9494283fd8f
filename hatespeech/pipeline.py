"""The model: one scikit-learn Pipeline, saved and loaded whole.

normalise → TF-IDF (word n-grams + character n-grams within words) → one-vs-rest LinearSVC,
calibrated by cross-validation so that its scores are probabilities a moderator can threshold.
"""

from __future__ import annotations

import re

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC
from stop_words import get_stop_words

from hatespeech.text import TOKEN_PATTERN, Normaliser

SEED = 42
_TOKEN = re.compile(TOKEN_PATTERN)


def stop_words() -> list[str]:
    """English stop words from the ``stop-words`` package, split as the word tokenizer splits."""
    return sorted({token for word in get_stop_words("en") for token in _TOKEN.findall(word)})


def build_pipeline() -> Pipeline:
    """The untrained pipeline with the production settings (see bench/RESULTS.md for why)."""
    words = TfidfVectorizer(
        ngram_range=(1, 2),
        token_pattern=TOKEN_PATTERN,
        stop_words=stop_words(),
        sublinear_tf=True,
        min_df=2,
        dtype=np.float64,
    )
    chars = TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(2, 5),
        sublinear_tf=True,
        min_df=2,
        dtype=np.float64,
    )
    # LinearSVC is one-vs-rest itself (multi_class="ovr"); unlike OneVsRestClassifier it takes
    # sample weights, which CalibratedClassifierCV passes on.
    svc = LinearSVC(C=0.5, multi_class="ovr", random_state=SEED)
    classifier = CalibratedClassifierCV(svc, method="sigmoid", cv=5, ensemble=False)
    return Pipeline(
        [
            ("normalise", Normaliser()),
            ("features", FeatureUnion([("words", words), ("chars", chars)])),
            ("classifier", classifier),
        ]
    )


def fit_params(sample_weight: np.ndarray | None) -> dict:
    """Keyword arguments for ``Pipeline.fit`` that weight each training row (None: all equal)."""
    return {} if sample_weight is None else {"classifier__sample_weight": sample_weight}
