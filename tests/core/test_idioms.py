"""Idioms whose violent word is no violence: allowed, explained, and real threats still flagged."""

from __future__ import annotations

import pytest

from hatespeech.core import idioms, threats
from hatespeech.core.classifier import Classifier
from hatespeech.core.explain import score_and_explain
from hatespeech.core.labels import LABELS
from hatespeech.core.policy import Policy
from hatespeech.core.reader import PLAIN
from hatespeech.core.text import lexicon
from testing.support import ROOT

IDIOMS = [  # the README's two, and more of the kind (each went to review or block before the idiom list)
    "I'd kill for a coffee",
    "I would kill for a coffee right now",
    "I could kill for a pint",
    "I'd literally kill for some sleep",
    "she would kill for those shoes",
    "my mom is going to kill me",
    "my parents will kill me if I'm late",
    "I'm going to kill this exam",
    "I'm going to kill this presentation tomorrow",
    "just kill the process and restart the server",
    "kill the lights please",
    "I'll kill the engine",
    "dressed to kill tonight",
    "kill time before the flight",
    "this cake is to die for",
    "I could murder a burger right now",
    "I nearly died laughing",
]
THREATS = [  # a violent word beside or inside an idiom's words, meant at a person: still flagged
    "I'll kill you",
    "I would kill for a chance to kill you",
    "I'm going to kill you and your family",
    "I will shoot you in the head",
    "kill me and I will kill you first",
    "I'll kill them all, dressed to kill",
    "someone should kill this guy",
    "they should all be shot",
    "you deserve to die for what you did",  # not "this cake is to die for"
    "I'm dressed to kill you",  # not "dressed to kill"
    "I'd kill for a chance to shoot you",  # not "I'd kill for a coffee"
    "I'd kill for a world without muslims",
]


def moderate(classifier: Classifier, text: str) -> dict:
    """``/moderate``'s answer, in process: the policy over the scores, then the threat check (``Api.moderate_many``)."""
    answer = Policy.from_card(classifier.card).moderate(classifier.probabilities([text])[0].tolist())
    return threats.apply(dict(answer), threats.check_scored(classifier.model, text))


@pytest.mark.parametrize("text", IDIOMS)
def test_idioms_are_allowed(classifier: Classifier, text: str) -> None:
    answer = moderate(classifier, text)
    assert answer["action"] == "allow" and answer["reasons"] == [], answer


@pytest.mark.parametrize("text", THREATS)
def test_threats_beside_idioms_are_still_flagged(classifier: Classifier, text: str) -> None:
    assert moderate(classifier, text)["action"] != "allow"


def test_the_violent_word_of_an_idiom_is_not_counted_and_the_explanation_shows_it(classifier: Classifier) -> None:
    model = classifier.model
    text = "ok, I'd KILL for a coffee. I would kill for a chance to kill you"
    probabilities, explanation = score_and_explain(model, text)
    assert probabilities == model.proba_one(text)
    assert explanation["idioms"] == [{"start": 8, "end": 25, "text": "KILL for a coffee"}]
    for idiom in explanation["idioms"]:
        assert text[idiom["start"] : idiom["end"]] == idiom["text"]
    counted = {(s["start"], s["end"]) for s in explanation["spans"]}
    assert (8, 12) not in counted  # the idiom's "kill"
    assert {(35, 39), (56, 60)} <= counted and text[35:39] == text[56:60] == "kill"  # the others: counted as before
    kill = model.vocab["kill"]
    assert model.mean_weights()[0][kill][LABELS.index("hate speech")] > 0  # the word the idiom keeps from counting
    assert "idioms" not in score_and_explain(model, "I will kill you")[1]  # said only when there are some


def test_the_reader_marks_the_idioms_violent_word_only() -> None:
    assert PLAIN.words("I'd kill for a coffee") == ["i", "d", "idiom_kill", "for", "a", "coffee"]
    assert PLAIN.words("I'm gonna kill me some of them") == ["i", "m", "gonna", "kill", "me", "some", "of", "them"]
    assert PLAIN.words("shoot me an email") == ["idiom_shoot", "me", "an", "email"]
    assert PLAIN.words("I'll shoot you") == ["i", "ll", "shoot", "you"]
    tokens = PLAIN.tokens("  Shoot me a TEXT")
    assert [(t.text, t.start, t.end) for t in tokens][:2] == [("idiom_shoot", 2, 7), ("me", 8, 10)]


def test_no_one_can_type_the_marker(classifier: Classifier) -> None:
    """Only the idiom list makes an ``idiom_`` token: typed, it is read as two words; the model has no such feature,
    no idiom word is a stop word (the compiled model finds idioms by them) or a slur of the lexicon."""
    assert PLAIN.words("idiom_kill you") == ["idiom", "kill", "you"]
    assert classifier.model.reader.words("idiom_kill you") == ["idiom", "kill", "you"]
    assert not [term for term in classifier.model.vocab if idioms.MARK in term]
    assert idioms.WORDS.isdisjoint(classifier.model.stop)
    assert not [word for word in idioms.WORDS if lexicon(word) or lexicon(idioms.MARK + word)]


@pytest.mark.parametrize(
    ("words", "found"),
    [
        ("i d kill for a coffee", [("kill for a coffee", "kill")]),
        ("they kill for fun", []),  # said of people: not the idiom
        ("i would kill for you", []),  # only a thing one wants
        ("i d kill for a cold beer", [("kill for a cold beer", "kill")]),
        ("i would kill for a chance to kill you", []),
        ("this joke killed me", [("killed me", "killed")]),
        ("she killed it", [("killed it", "killed")]),
        ("kill it", []),  # "it" may be a person, dehumanised
        ("dressed to kill", [("dressed to kill", "kill")]),
        ("dressed to kill them", []),
        ("shoot me an email then shoot me a text", [("shoot me an email", "shoot"), ("shoot me a text", "shoot")]),
        ("the song shot up the charts", [("shot up the charts", "shot")]),
        ("hang in there", [("hang in there", "hang")]),
        ("hang them", []),
        ("i could murder a pint", [("murder a pint", "murder")]),
        ("i could murder a child", []),  # only food and drink
        ("this cake is to die for", [("to die for", "die")]),
        ("you deserve to die for this", []),  # a wish, not a thing that "is to die for"
    ],
)
def test_find(words: str, found: list[tuple[str, str]]) -> None:
    split = words.split()
    got = [(" ".join(split[first:end]), split[word]) for first, end, word in idioms.find(split)]
    assert got == found


def test_find_tries_every_place_an_idiom_can_start() -> None:
    """``find`` tries only up to ``LEAD`` words before each violent word: it finds what a scan of every position
    finds, on every sentence written for the tests and each idiom above with words before it."""
    texts = [
        line.split("\t")[-1]
        for name in ("ordinary.tsv", "threats.tsv", "threats_heldout.tsv")
        for line in (ROOT / "tests" / "data" / name).read_text("utf-8").splitlines()
        if not line.startswith("#")
    ]
    texts += [f"{before} {idiom}" for idiom in IDIOMS + THREATS for before in ("", "lol i swear", "so i d totally")]
    scanned = 0
    for text in texts:
        words = PLAIN.words(text.replace("idiom_", ""))
        plain = [w.removeprefix(idioms.MARK) for w in words]
        everywhere = []
        for match in idioms._IDIOM.finditer(" ".join(plain)):
            scanned += 1
            group = str(match.lastgroup)
            before = "b" + group[1:]
            at = match.end(before) + 1 if before in idioms._IDIOM.groupindex else match.start()
            span = (at, match.end(), match.start(group))
            everywhere.append(tuple(len(" ".join(plain)[:x].split()) for x in span))
        assert [(f, e, w) for f, e, w in idioms.find(plain)] == everywhere, text
    assert scanned >= 50
