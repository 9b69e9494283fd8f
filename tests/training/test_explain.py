"""Explanations: exact per-span contributions whose offsets point into the text as sent."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from hatespeech.config import DEFAULT_MODEL_PATH
from hatespeech.core import reader as reader_module
from hatespeech.core.classifier import Classifier
from hatespeech.core.explain import explain, score_and_explain
from hatespeech.core.labels import LABELS
from hatespeech.core.model import CompiledModel
from hatespeech.core.reader import normalise
from hatespeech.training.compile import to_arrays
from hatespeech.training.pipeline import build_pipeline
from hatespeech.training.save import load_pipeline as load_model
from testing.support import Server, post_json

# Texts whose normalisation moves characters around: entities, URLs, mentions, emoji, repeats, RT.
TEXTS = [
    "you are a stupid idiot",
    "RT @user: Sooooo &amp; coool!!! https://t.co/x",
    "&lt;b&gt;hello&lt;/b&gt; @bob www.example.com/page?q=1 😀😀 idiot",
    "I looooove this 😍 recipe, thanks @chef_42!!! #yum",
    "Ünïcödé ÇAFÉ crème brûlée 💩 stupid stupid stupid",
    "@a @b @c http://x.y http://z.w &quot;quoted&quot; haaaaate",
]


def model_margins(pipeline: object, text: str) -> np.ndarray:
    """The margin of each class as scikit-learn computes it: the mean decision value of the folds."""
    features = pipeline[:-1].transform([text])
    calibrated = pipeline.steps[-1][1].calibrated_classifiers_
    return np.mean([c.estimator.decision_function(features) for c in calibrated], axis=0)[0]


@pytest.fixture(scope="module")
def pipeline() -> object:
    return load_model(DEFAULT_MODEL_PATH)[0]


def check_exact(pipeline: object, text: str) -> dict:
    """Explain with the pipeline's compiled form; check against scikit-learn's own margins."""
    explanation = explain(CompiledModel(to_arrays(pipeline)), text)
    margins = model_margins(pipeline, text)
    total: dict[str, float] = defaultdict(float)
    for span in explanation["spans"]:
        total[span["class"]] += span["contribution"]
    for k, label in enumerate(LABELS):
        assert explanation["classes"][label]["intercept"] + total[label] == pytest.approx(margins[k], abs=1e-9)
        assert explanation["classes"][label]["margin"] == pytest.approx(margins[k], abs=1e-9)
    return explanation


@pytest.mark.parametrize("text", TEXTS)
def test_contributions_plus_intercept_are_the_margin(classifier: Classifier, pipeline: object, text: str) -> None:
    check_exact(pipeline, text)
    served = explain(classifier.model, text)  # the model file's own compiled form says the same
    assert served == explain(CompiledModel(to_arrays(pipeline)), text)


@pytest.mark.parametrize("text", TEXTS)
def test_offsets_point_at_the_original_characters(classifier: Classifier, text: str) -> None:
    explanation = explain(classifier.model, text)
    words = set(normalise(text).split())
    for span in explanation["spans"]:
        assert 0 <= span["start"] < span["end"] <= len(text)
        assert span["text"] == text[span["start"] : span["end"]]
        # each span's text normalises to words of the normalised text
        assert set(normalise(span["text"]).split()) <= words | {"urlhere", "mentionhere"}


def spans_of(explanation: dict) -> set[str]:
    return {span["text"] for span in explanation["spans"]}


def test_known_offsets(classifier: Classifier) -> None:
    text = "RT @user: Stuuupid &#128514; coool!!! https://t.co/x 😀 $hit idiot"
    explanation = explain(classifier.model, text)
    found = spans_of(explanation)
    assert "Stuuupid" in found  # repeated letters: the original run, not "stupid"
    assert "$hit" in found  # leetspeak: what was written, not "shit"
    assert not any("@user" in span or "t.co" in span for span in found)  # mentions and URLs are dropped
    assert not any(span.startswith("RT") for span in found), "RT is dropped by normalisation: it explains nothing"
    tokens = {token.text: text[token.start : token.end] for token in reader_module.tokens(text)}
    assert tokens["emo128514"] == "&#128514;"  # an entity: the entity itself
    emoji = [s for s in explanation["spans"] if "😀" in s["text"]]
    assert all(s["text"] == "😀" for s in emoji if s["end"] - s["start"] == 1)  # an emoji feature: the emoji
    # after an emoji (one code point in Python, two in UTF-16): the offset counts code points
    start = text.index("idiot")
    assert any(s["start"] == start and s["end"] == start + 5 for s in explanation["spans"])


def test_features_are_read_generically(tmp_path: object) -> None:
    """A freshly fitted pipeline (another vocabulary, other weights) decomposes exactly too."""
    from testing.support import tiny_corpus

    texts, labels = tiny_corpus(30)
    pipeline = build_pipeline().fit(texts, labels)
    for text in ["those zorgs should leave &amp; RT @x", "what a big moron lol 😀", *TEXTS[:2]]:
        check_exact(pipeline, text)


def test_a_text_with_no_known_feature_is_all_intercept(pipeline: object) -> None:
    explanation = check_exact(pipeline, "qqqqxz")
    for label in LABELS:
        assert explanation["classes"][label]["margin"] == pytest.approx(
            explanation["classes"][label]["intercept"]
            + sum(s["contribution"] for s in explanation["spans"] if s["class"] == label),
            abs=1e-12,
        )


def test_explain_over_http(production: Server) -> None:
    text = "RT @user: you are a stupid idiot &amp; a moron 😀"
    status, answer = post_json(production.url + "/moderate", {"text": text, "explain": True})
    assert status == 200 and set(answer["explanation"]) == {"classes", "spans"}
    for span in answer["explanation"]["spans"]:
        assert span["text"] == text[span["start"] : span["end"]] and span["class"] in LABELS
    _, plain = post_json(production.url + "/moderate", {"text": text})
    assert "explanation" not in plain
    status, answers = post_json(production.url + "/moderate_batch", {"texts": [text, "hi there"], "explain": True})
    assert status == 200 and answers[0]["explanation"] == answer["explanation"]


@pytest.mark.parametrize("text", TEXTS)
def test_one_pass_gives_the_scores_proba_one_gives(classifier: Classifier, text: str) -> None:
    probabilities, _ = score_and_explain(classifier.model, text)
    assert probabilities == classifier.model.proba_one(text)
