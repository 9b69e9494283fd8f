"""The compiled model gives the pipeline's probabilities (|Δ| ≤ 1e-9), or refuses to compile.

Checked on every row of the real data with the committed model, on generated odd texts, and on
small models trained here on made-up texts in the configurations the pipeline may be tuned to.
"""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.svm import LinearSVC

from hatespeech.config import DEFAULT_MODEL_PATH
from hatespeech.core import reader as reader_module
from hatespeech.core import text as text_module
from hatespeech.core.classifier import Classifier
from hatespeech.core.model import CompiledModel
from hatespeech.core.modelfile import load_compiled
from hatespeech.training.compile import to_arrays
from hatespeech.training.data import load_dataset
from hatespeech.training.pipeline import build_pipeline
from hatespeech.training.save import load_pipeline as load_model
from testing.support import ROOT, tiny_corpus

TOLERANCE = 1e-9


def compile_pipeline(pipeline: Pipeline) -> CompiledModel:
    return CompiledModel(to_arrays(pipeline))


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
    "http:// www. www.x HTTPS://y @ @: @x$ @x* @x& @x_ @x@y @é, @x…",
    '(you), #win! .com/ -.com/ a./ ://x "yes", f*ck. $hit! n1gga, ... RT: co.ly/x',
    "#hashtag #Another_One ##double #",
    "Привет мир, ΣΑΣ ΟΔΟΣ, İstanbul, straße, ﬁne, e\u0301, مرحبا, 中文字, हिन्दी",
    "tabs\tand\nnew\x0blines\x0c\r\x1c\x1d\x1e\x1f\x85\xa0\u2028\u3000 everywhere",
    "sooooo cooool!!! loooool hahahahaha",
    "a" * 5000,
    "ha " * 3000,  # one feature seen thousands of times: the duplicate-count path
    "x" * 10_000,
    "I love you",
    "you are a stupid idiot",
    # disguised words, read against the model's vocabulary (hatespeech.core.reader.Reader)
    "f*ck you b!tch, $hit n@gger sh1t pvssy fuuuuck stuuupid #f*ck (b*tch)!",
    "f u c k you, n.i.g.g.e.r f-u-c-k U.S.A. a.m. 45s p*ssword a b c d e",
    "ｂｉｔｃｈ 𝐟𝐮𝐜𝐤 b\u200bitch b\u00aditch nіgger n\u0456gg\u0435r f\u0301uck \u202ebitch",
    # idioms, whose violent word the reader marks across pieces (hatespeech.core.idioms), beside real threats
    "I'd kill for a coffee, but I will KILL you",
    "shoot me an email!! my mom is going to k!ll me lol, I would kill for a chance to kill you",
    "kill\tfor  a coffee kill me kill me some of them idiom_kill",
]
FRAGMENTS = [
    *ODD[:16],
    "the",
    "trash",
    "lol",
    "zorgs",
    "idiot",
    "\u00a8",  # NFKD makes it a space and an accent
    "f",
    "u",
    "c",
    "k",
    "b*tch",
    "n.i.g.g.e.r",
    "\u200b",
    "і",
    " ",
    "\t",
    "kill",
    "killing",
    "me",
    "for a",
    "I'd",
    "coffee",
]
odd_texts = st.one_of(
    st.text(st.characters(codec=None, exclude_categories=()), max_size=200),
    st.lists(st.sampled_from(FRAGMENTS), max_size=30).map(" ".join),
    st.lists(st.sampled_from(FRAGMENTS), max_size=30).map("".join),
)


def assert_same(lean: CompiledModel, pipeline: Pipeline, texts: list[str]) -> None:
    expected = pipeline.predict_proba(texts)
    one = np.array([lean.proba_one(t) for t in texts])
    batch = lean.predict_proba(texts)
    assert one.shape == batch.shape == expected.shape
    for name, got in (("proba_one", one), ("predict_proba", batch)):
        worst = int(np.abs(got - expected).max(axis=1).argmax())
        assert np.abs(got[worst] - expected[worst]).max() <= TOLERANCE, (name, texts[worst], got[worst])


# --- the committed model --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def committed() -> tuple[Pipeline, CompiledModel]:
    pipeline, _ = load_model(DEFAULT_MODEL_PATH)
    compiled, _ = load_compiled(DEFAULT_MODEL_PATH)  # as saved in the model file, not compiled here
    return pipeline, compiled


@pytest.mark.slow
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


def test_the_caches_change_nothing(committed) -> None:
    pipeline, lean = committed
    cold = compile_pipeline(pipeline)
    cold._pieces.clear()
    text_module._lower_word.cache_clear()
    text_module._lexicon_cached.cache_clear()
    texts = ["the trash lol", "lol the trash", "brand new zorgwords here", "brand new zorgwords here"]
    assert [cold.proba_one(t) for t in texts] == [lean.proba_one(t) for t in texts]


@pytest.mark.slow
def test_normalise_piece_by_piece_is_normalise_token_by_token(committed, real_data) -> None:
    """``words`` (cached, per whitespace-separated piece) gives what ``tokens`` gives, with and
    without the model's vocabulary."""
    reader = committed[1].reader
    assert reader.counts, "the committed model reads disguised words against its vocabulary"
    texts = [*load_dataset(real_data).texts, *ODD, *FRAGMENTS]
    for text in texts:
        assert reader_module.words(text) == [t.text for t in reader_module.tokens(text)], text
        assert reader.words(text) == [t.text for t in reader.tokens(text)], text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=odd_texts)
def test_normalise_piece_by_piece_on_generated_texts(committed, text: str) -> None:
    assert reader_module.words(text) == [t.text for t in reader_module.tokens(text)]
    reader = committed[1].reader
    words = reader.words(text)
    assert words == [t.text for t in reader.tokens(text)]
    # every token is ASCII: the per-piece cache counts its bytes so (hatespeech.core.model._entry_bytes)
    assert all(word.isascii() for word in words)


def test_serving_never_imports_scikit_learn() -> None:
    code = (
        "import sys, app; app.predict(text='hi there'); app.predict_batch(texts=['a b'] * 40);"
        "app.moderate(text='you idiot', explain=True);"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('sklearn', 'scipy', 'pandas', 'joblib', 'matplotlib')))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_threads_share_a_compiled_model(committed) -> None:
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
    """The production word vectorizer, with ``params`` changed."""
    return build_pipeline().named_steps["features"].set_params(**params)


VARIANTS: dict[str, dict] = {
    "production settings": {},
    "no ensemble": {"classifier__ensemble": False},
    "l1 norm, not sublinear": {"features": words(norm="l1", sublinear_tf=False)},
    "binary, no idf, no norm": {"features": words(binary=True, use_idf=False, norm=None)},
    "word 1-3 grams, no stop words": {"features": words(ngram_range=(1, 3), stop_words=None)},
    "word 2-grams only, lower-cased, two-letter tokens": {
        "features": words(ngram_range=(2, 2), lowercase=True, token_pattern=r"(?u)\b\w\w+\b")
    },
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


# --- what it refuses -------------------------------------------------------------------------------


def unsupported_pipelines() -> dict[str, Pipeline]:
    base = train({})
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4))
    return {
        "an unknown step": Pipeline([("lower", FunctionTransformer(str.lower)), *base.steps[1:]]),
        "no normalise step": train({}, normalise=False),
        "char n-grams": train({"features": chars}),
        "strip_accents": train({"features": words(strip_accents="unicode")}),
        "own token pattern": train({"features": words(token_pattern=r"(?u)[#\w][\w']*")}),
        "float32": train({"features": words(dtype=np.float32)}),
        "isotonic": train({"classifier__method": "isotonic"}),
        "two classes": train({}, binary=True),
        "an idiom's violent word as a stop word": train({"features": words(stop_words=["the", "kill"])}),
        "an unfitted classifier": Pipeline([*base.steps[:2], ("classifier", CalibratedClassifierCV(LinearSVC()))]),
        "no calibration": Pipeline(
            [*base.steps[:2], ("classifier", base.named_steps["classifier"].calibrated_classifiers_[0].estimator)]
        ),
    }


UNSUPPORTED = unsupported_pipelines()


@pytest.mark.parametrize("what", UNSUPPORTED)
def test_what_it_cannot_compile_raises_not_implemented(what: str) -> None:
    with pytest.raises(NotImplementedError, match="does not support"):
        compile_pipeline(UNSUPPORTED[what])


# --- the classifier serves it -----------------------------------------------------------------------


def test_the_classifier_serves_the_compiled_model_exactly(committed) -> None:
    pipeline, _ = committed
    clf = Classifier.load(DEFAULT_MODEL_PATH)
    assert isinstance(clf.model, CompiledModel)
    texts = [*ODD, "shut up you stupid idiot"]
    expected = pipeline.predict_proba(texts)
    assert np.abs(clf.probabilities(texts) - expected).max() <= TOLERANCE
    assert np.abs(clf.probabilities(texts * 20)[: len(texts)] - expected).max() <= TOLERANCE
    scores = clf.scores("shut up you stupid idiot")
    assert np.abs(np.array(list(scores.values())) - expected[-1]).max() <= TOLERANCE
    assert all(type(v) is float for v in scores.values())
