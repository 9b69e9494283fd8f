"""The committed model: its card, its probabilities, and how it behaves on texts we wrote."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import userdocs

from hatespeech.config import DEFAULT_MODEL_PATH
from hatespeech.core.classifier import Classifier
from hatespeech.core.labels import LABELS
from hatespeech.core.policy import Policy
from hatespeech.training.data import DAVIDSON_SHA256, sha256_of
from hatespeech.training.evaluate import decide
from hatespeech.training.sources import read_manifest

POLITE = [
    "Please respect each other.",
    "Thank you for sharing, this was really helpful.",
    "I disagree with your point, but I see where you are coming from.",
    "The meeting is moved to Thursday at 3pm.",
    "Happy birthday! Have a wonderful day.",
    "Could you post the link to the documentation?",
    "Great game last night, the defence played well.",
]


def label_of(classifier: Classifier, text: str) -> str:
    return LABELS[int(decide(classifier.probabilities([text]), classifier.card["decision_rule"]["weights"])[0])]


def test_committed_card_matches_the_committed_model(classifier: Classifier) -> None:
    card = json.loads(DEFAULT_MODEL_PATH.read_text())
    assert card["sha256"] == sha256_of(DEFAULT_MODEL_PATH.parent / card["model_file"])
    # trained on the committed manifest's sources, each file the one it declares
    manifest = read_manifest()
    assert [(s["name"], s["sha256"], s["licence"]) for s in card["data"]["sources"]] == [
        (s.name, s.sha256, s.licence) for s in manifest.sources
    ]
    assert card["data"]["sources"][0]["sha256"] == DAVIDSON_SHA256 and card["data"]["sources"][0]["rows"] == 24_783
    assert card["data"]["rows"] == sum(s["trained_rows"] for s in card["data"]["sources"])
    assert card["data"]["training"] == manifest.recipe.card()
    assert classifier.card == card


def test_probabilities_are_well_formed(classifier: Classifier) -> None:
    texts = ["hi", "a" * 10_000, "😀😀😀", "http://example.com", "@someone", "#tag", "\x00", "RT"]
    probs = classifier.probabilities(texts)
    assert probs.shape == (len(texts), 3)
    assert np.all(probs >= 0) and np.all(probs <= 1)
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-12)


README_PREDICT = re.findall(r'^curl -d .\{"text": "([^"]+)"\}. http://127.0.0.1:5000/predict$', userdocs.text(), re.M)


def test_the_readme_shows_a_polite_example() -> None:
    assert README_PREDICT == ["Please respect each other."]


@pytest.mark.parametrize("text", POLITE + README_PREDICT)
def test_polite_ordinary_sentences_are_neither(classifier: Classifier, text: str) -> None:
    assert label_of(classifier, text) == "neither", classifier.scores(text)
    assert Policy.from_card(classifier.card).decide(classifier.probabilities([text])[0])["action"] == "allow", (
        classifier.scores(text)
    )


@pytest.mark.parametrize(
    "variant",
    [
        str.upper,
        str.lower,
        lambda t: f"  {t}  ",
        lambda t: t.replace(" ", "   "),
        lambda t: f"{t} https://example.com/x",
        lambda t: f"@someone {t}",
        lambda t: f"RT {t}",
    ],
)
@pytest.mark.parametrize("text", ["Great game last night", "shut up you stupid idiot", "what a lovely recipe"])
def test_case_whitespace_urls_and_mentions_barely_move_the_scores(classifier: Classifier, variant, text: str) -> None:
    base, moved = classifier.probabilities([text])[0], classifier.probabilities([variant(text)])[0]
    assert np.abs(base - moved).max() <= 0.15, (base, moved)


@pytest.mark.parametrize("text", ["I will see you at the game", "that movie was long", "you are my neighbour"])
@pytest.mark.parametrize("insult", ["you stupid bitch", "fuck you idiot"])
def test_adding_an_insult_raises_the_abusive_classes(classifier: Classifier, text: str, insult: str) -> None:
    before, after = classifier.probabilities([text, f"{text}, {insult}"])
    assert after[0] + after[1] > before[0] + before[1] + 0.2
    assert label_of(classifier, f"{text}, {insult}") != "neither"
