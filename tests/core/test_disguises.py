"""The committed model on disguised abuse and on ordinary sentences we wrote (bench/evasion.py has the figures)."""

from __future__ import annotations

import pytest

from hatespeech.core.classifier import Classifier
from hatespeech.core.policy import Policy
from testing.support import ROOT

DISGUISED = {  # Greek υ, Cyrillic і: look-alikes
    "fuck you": ["f*ck you", "fuuuuck you", "f u c k you", "f-u-c-k you", "ｆｕｃｋ you", "f\u200buck you", "fυck you"],
    "you are a bitch": [
        "you are a b*tch",
        "you are a b!tch",
        "you are a b i t c h",
        "you are a bіtch",
        "you are a 𝐛𝐢𝐭𝐜𝐡",
    ],
    # the word that carries the score is the one disguised
    "shut up you stupid retard": [
        "shut up you stupid reeetard",
        "shut up you stupid r*tard",
        "shut up you stupid r.e.t.a.r.d",
        "shut up you stupid ret@rd",
    ],
}


def action(classifier: Classifier, text: str) -> str:
    return Policy.from_card(classifier.card).decide(classifier.probabilities([text])[0])["action"]


@pytest.mark.parametrize("plain", DISGUISED)
def test_a_disguised_word_keeps_the_action(classifier: Classifier, plain: str) -> None:
    expected = action(classifier, plain)
    assert expected != "allow"
    assert {text: action(classifier, text) for text in DISGUISED[plain]} == dict.fromkeys(DISGUISED[plain], expected)


def test_ordinary_sentences_are_mostly_allowed(classifier: Classifier) -> None:
    rows = [
        line.split("\t", 1)
        for line in (ROOT / "tests" / "data" / "ordinary.tsv").read_text("utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    assert len(rows) >= 300
    allowed = {kind: [] for kind, _ in rows}
    for kind, sentence in rows:
        allowed[kind].append(action(classifier, sentence) == "allow")
    share = sum(map(sum, allowed.values())) / len(rows)
    assert share >= 0.85, share  # 89% with the model of issue 14 (88.9% before it)
    for text in (
        "Scunthorpe United won two one at home",
        "the assassin was a character in the game",
        "my class assignment is due tomorrow",
        "can someone reset my p*ssword, I'm locked out",
    ):
        assert action(classifier, text) == "allow", text
