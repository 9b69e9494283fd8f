"""The lean inference path gives the pipeline's probabilities (|Δ| ≤ 1e-9), or refuses to compile.

Checked on every row of the real data with the committed model, on generated odd texts, and on
small models trained here on made-up texts in the configurations the pipeline may be tuned to.
"""

from __future__ import annotations

import logging
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.svm import LinearSVC
from support import tiny_corpus

from hatespeech import fast
from hatespeech.classifier import Classifier
from hatespeech.config import DEFAULT_MODEL_PATH
from hatespeech.data import load_dataset
from hatespeech.fast import compile_pipeline
from hatespeech.model_file import load_model
from hatespeech.pipeline import build_pipeline

TOLERANCE = 1e-9
ODD = [
    "",
    " ",
    "!!!",
    "?!.,;:-_()[]{}<>/\\|*+=~`^'\"",
    "\x00",
    "a\x00b \x00\x00 c",
    "\ud800",
    "lone \udfff surrogate \ud83d",
    "😀🔥💯 emoji only 👏🏽👏🏽",
    "&amp; &lt;3 &gt;:( &quot;hi&quot; &#128512; &#x1F600; &nbsp;&copy; &bogus; &",
    "RT @user_1: look https://t.co/abc123 and www.example.com/a?b=c&d=e HTTP://X.Y",
    "@a @b @c @d",
    "#hashtag #Another_One ##double #",
    "Привет мир, ΣΑΣ ΟΔΟΣ, İstanbul, straße, ﬁne, e\u0301, مرحبا, 中文字, हिन्दी",
    "tabs\tand\nnew\x0blines\x0c\r\x1c\x1d\x1e\x1f\x85\xa0\u2028\u3000 everywhere",
    "sooooo cooool!!! loooool hahahahaha",
    "a" * 5000,
    "ha " * 3000,  # more occurrences than the lean path's tf table: the formula path
    "x" * 10_000,
    "I love you",
    "you are a stupid idiot",
]
FRAGMENTS = [
    *ODD[:16],
    "the",
    "trash",
    "lol",
    "zorgs",
    "idiot",
    "\u00a8",  # NFKD makes it a space and an accent
    " ",
    "\t",
]
odd_texts = st.one_of(
    st.text(st.characters(codec=None, exclude_categories=()), max_size=200),
    st.lists(st.sampled_from(FRAGMENTS), max_size=30).map(" ".join),
    st.lists(st.sampled_from(FRAGMENTS), max_size=30).map("".join),
)


def assert_same(lean: fast.LeanModel, pipeline: Pipeline, texts: list[str]) -> None:
    expected = pipeline.predict_proba(texts)
    one = np.array([lean.proba_one(t) for t in texts])
    batch = lean.predict_proba(texts)
    assert one.shape == batch.shape == expected.shape
    for name, got in (("proba_one", one), ("predict_proba", batch)):
        worst = int(np.abs(got - expected).max(axis=1).argmax())
        assert np.abs(got[worst] - expected[worst]).max() <= TOLERANCE, (name, texts[worst], got[worst])


# --- the committed model --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def committed() -> tuple[Pipeline, fast.LeanModel]:
    pipeline, _ = load_model(DEFAULT_MODEL_PATH)
    return pipeline, compile_pipeline(pipeline)


def test_committed_model_on_every_row_of_the_real_data(committed, real_data) -> None:
    pipeline, lean = committed
    assert_same(lean, pipeline, load_dataset(real_data).texts)


def test_committed_model_on_odd_texts(committed) -> None:
    pipeline, lean = committed
    assert_same(lean, pipeline, ODD)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(odd_texts, min_size=1, max_size=4))
def test_committed_model_on_generated_texts(committed, texts: list[str]) -> None:
    pipeline, lean = committed
    assert_same(lean, pipeline, texts)


def test_the_word_cache_changes_nothing(committed) -> None:
    pipeline, lean = committed
    cold = compile_pipeline(pipeline)
    cold.words.cache_clear()
    texts = ["the trash lol", "lol the trash", "brand new zorgwords here", "brand new zorgwords here"]
    assert [cold.proba_one(t) for t in texts] == [lean.proba_one(t) for t in texts]


def test_threads_share_a_lean_model(committed) -> None:
    pipeline, lean = committed
    texts = [*ODD[:16], "shut up you stupid idiot", "have a lovely day"] * 5
    expected = pipeline.predict_proba(texts)
    failures: list[str] = []

    def work(offset: int) -> None:
        for i in range(len(texts)):
            j = (i + offset) % len(texts)
            if np.abs(np.array(lean.proba_one(texts[j])) - expected[j]).max() > TOLERANCE:
                failures.append(texts[j])

    threads = [threading.Thread(target=work, args=(k * 7,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures


# --- small models trained here, in the configurations the pipeline may be tuned to -----------------


def words(**params: object) -> TfidfVectorizer:
    """The production word vectorizer (whatever issue 4 made it), with ``params`` changed."""
    features = build_pipeline().named_steps["features"]
    if isinstance(features, FeatureUnion):
        features = next(t for _, t in features.transformer_list if getattr(t, "analyzer", None) == "word")
    return clone(features).set_params(**params)


def chars(**params: object) -> TfidfVectorizer:
    return TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2).set_params(**params)


def union(word: dict | None = None, char: dict | None = None, **params: object) -> FeatureUnion:
    return FeatureUnion([("words", words(**(word or {}))), ("chars", chars(**(char or {})))], **params)


VARIANTS: dict[str, dict] = {
    "production settings": {},
    "ensemble": {"classifier__ensemble": True},
    "no ensemble": {"classifier__ensemble": False},
    "word only": {"features": words()},
    "words and char_wb n-grams": {"features": union()},
    "char only, l1, not sublinear": {"features": FeatureUnion([("chars", chars(norm="l1", sublinear_tf=False))])},
    "binary, no idf, no norm, weights": {
        "features": union({"binary": True}, {"use_idf": False, "norm": None}, transformer_weights={"words": 2.0})
    },
    "mixed norms and tf": {"features": union({"norm": "l1"}, {"sublinear_tf": False})},
    "word 1-3 grams, own pattern, no stop words": {
        "features": union(
            {"ngram_range": (1, 3), "token_pattern": r"(?u)[#\w][\w']*", "stop_words": None}, {"ngram_range": (1, 3)}
        )
    },
    "word 2-grams only, case kept": {
        "features": union({"ngram_range": (2, 2), "lowercase": False}, {"lowercase": False})
    },
    "isotonic": {"classifier__method": "isotonic"},
    "isotonic ensemble": {"classifier__method": "isotonic", "classifier__ensemble": True},
    "temperature": {"classifier__method": "temperature"},
    "one-vs-rest LinearSVC": {"classifier__estimator": OneVsRestClassifier(LinearSVC(C=0.5))},
    "multi-class LinearSVC": {"classifier__estimator": LinearSVC(C=0.5)},
    "crammer-singer LinearSVC, ensemble": {
        "classifier__estimator": LinearSVC(multi_class="crammer_singer"),
        "classifier__ensemble": True,
    },
}


def train(params: dict, binary: bool = False, normalise: bool = True) -> Pipeline:
    texts, labels = tiny_corpus()
    pipeline = build_pipeline().set_params(classifier__cv=3, **params)
    if not normalise:
        pipeline = Pipeline(pipeline.steps[1:])
    if binary:
        labels = [min(label, 1) for label in labels]
    return pipeline.fit(texts, labels)


def made_up_texts() -> list[str]:
    texts, _ = tiny_corpus()
    return [*texts, *ODD, "ZORGS zorgs Zorgs!!", "the old red game, thanks everyone", "shut up"]


@pytest.mark.parametrize("params", VARIANTS.values(), ids=VARIANTS.keys())
def test_small_models(params: dict) -> None:
    pipeline = train(params)
    assert_same(compile_pipeline(pipeline), pipeline, made_up_texts())


def test_binary_classes() -> None:
    pipeline = train({}, binary=True)
    assert_same(compile_pipeline(pipeline), pipeline, made_up_texts())


def test_without_the_normalise_step_raw_texts_go_word_by_word() -> None:
    pipeline = train({"features": union({"lowercase": True})}, normalise=False)
    assert_same(compile_pipeline(pipeline), pipeline, made_up_texts())


@pytest.fixture(scope="module")
def raw() -> tuple[Pipeline, fast.LeanModel]:
    pipeline = train({"features": union({"ngram_range": (1, 3), "lowercase": True})}, normalise=False)
    return pipeline, compile_pipeline(pipeline)


@settings(max_examples=50, deadline=None)
@given(texts=st.lists(odd_texts, min_size=1, max_size=4))
def test_small_model_without_normalise_on_generated_texts(raw, texts: list[str]) -> None:
    pipeline, lean = raw
    assert_same(lean, pipeline, texts)


# --- what it refuses -------------------------------------------------------------------------------


def unsupported_pipelines() -> dict[str, Pipeline]:
    base = train({"features": union()})
    fitted_words = base.named_steps["features"].transformer_list[0][1]
    classifier = base.named_steps["classifier"]
    return {
        "an unknown step": Pipeline([("lower", FunctionTransformer(str.lower)), *base.steps[1:]]),
        "an unknown feature transformer": Pipeline(
            [
                base.steps[0],
                ("features", FeatureUnion([("words", fitted_words), ("f", FunctionTransformer())])),
                base.steps[2],
            ]
        ),
        "strip_accents": train({"features": union(char={"strip_accents": "unicode"})}),
        "analyzer char": train({"features": union(char={"analyzer": "char"})}),
        "float32": train({"features": union(char={"dtype": np.float32})}),
        "an unfitted classifier": Pipeline([*base.steps[:2], ("classifier", CalibratedClassifierCV(LinearSVC()))]),
        "no calibration": Pipeline([*base.steps[:2], ("classifier", classifier.calibrated_classifiers_[0].estimator)]),
        "an unfitted vectorizer": Pipeline([base.steps[0], ("features", TfidfVectorizer()), base.steps[2]]),
    }


def test_what_it_cannot_compile_raises_not_implemented() -> None:
    for what, pipeline in unsupported_pipelines().items():
        with pytest.raises(NotImplementedError, match="does not support"):
            compile_pipeline(pipeline)
        assert what


# --- the classifier uses it, and falls back without it ---------------------------------------------


def test_classifier_uses_the_lean_path_and_stays_exact(committed) -> None:
    pipeline, _ = committed
    clf = Classifier.load(DEFAULT_MODEL_PATH)
    assert clf.lean is not None
    texts = [*ODD, "shut up you stupid idiot"]
    expected = pipeline.predict_proba(texts)
    assert np.abs(clf.probabilities(texts) - expected).max() <= TOLERANCE
    assert np.abs(clf.probabilities(texts * 20)[: len(texts)] - expected).max() <= TOLERANCE
    scores = clf.scores("shut up you stupid idiot")
    assert np.abs(np.array(list(scores.values())) - expected[-1]).max() <= TOLERANCE
    assert all(type(v) is float for v in scores.values())


def test_classifier_falls_back_to_scikit_learn_with_a_warning(caplog) -> None:
    pipeline = train({"features": union(char={"strip_accents": "unicode"})})
    with caplog.at_level(logging.WARNING, logger="hatespeech"):
        clf = Classifier(pipeline, {"sha256": "0" * 64})
    assert clf.lean is None
    assert "strip_accents" in caplog.text
    texts = ["zorgs are the worst", "have a nice day"]
    assert np.array_equal(clf.probabilities(texts), pipeline.predict_proba(texts))
    assert set(clf.scores("have a nice day")) == {"hate speech", "offensive language", "neither"}
