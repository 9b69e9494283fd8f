"""The threat check: its labelled sets, idioms, spans, and disguised threats."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hatespeech.core import threats
from hatespeech.core.reader import PLAIN, Reader
from testing.support import ROOT, labelled_sentences

SETS = [ROOT / "tests" / "data" / "threats.tsv", ROOT / "tests" / "data" / "threats_heldout.tsv"]


def rows(path: Path) -> list[tuple[int, str, str]]:
    return labelled_sentences(path)


@pytest.mark.parametrize("path", SETS, ids=lambda p: p.name)
def test_precision_and_recall_on_the_labelled_sets(path: object) -> None:
    data = rows(path)
    assert len({s for _, _, s in data}) == len(data), "no sentence twice"
    hits = [(label, threats.check(PLAIN, sentence) is not None) for label, _, sentence in data]
    tp = sum(1 for label, hit in hits if label and hit)
    precision = tp / sum(1 for _, hit in hits if hit)
    recall = tp / sum(1 for label, _ in hits if label)
    assert precision >= 0.9 and recall >= 0.8, (precision, recall)


def test_the_sets_are_big_and_half_near_misses() -> None:
    data = [row for path in SETS for row in rows(path)]
    assert len(rows(SETS[0])) >= 300
    near = sum(1 for _, kind, _ in data if kind == "near-miss")
    assert 0.45 <= near / len(data) <= 0.55


@pytest.mark.parametrize(
    "idiom",
    ["this joke killed me", "I'd kill for a coffee", "the game shot up the charts", "I'll shoot you an email",
     "my mom is going to kill me", "I'm going to kill this exam", "hang in there", "I'll beat you at chess"],
)  # fmt: skip
def test_idioms_are_not_threats(idiom: str) -> None:
    assert threats.check(PLAIN, idiom) is None


def test_the_span_is_what_was_written() -> None:
    text = "Honestly... I'm going to HURT you, I swear."
    found = threats.check(PLAIN, text)
    assert found == {"start": 12, "end": 33, "text": "I'm going to HURT you"}
    assert threats.check(PLAIN, "I will hurt. You know") is None  # not across a full stop


def test_disguised_threats_are_read_as_the_model_reads_them() -> None:
    reader = Reader({"kill": 500, "you": 9000, "will": 3000})
    for text in ("I will k!ll you", "I will kіll yоu", "I will k i l l you", "I will kiiiill you"):
        assert threats.check(reader, text) is not None, text


@pytest.mark.parametrize("text", ["i will kill you " * 700, ("i m going to " + "a" * 50 + " ") * 150, "😀" * 10_000])
def test_long_hostile_texts_are_checked(text: str) -> None:
    found = threats.check(PLAIN, text)
    assert (found is not None) == text.startswith("i will")


def test_the_gate_skips_only_texts_no_pattern_matches(classifier: object) -> None:
    """``check`` searches only texts with a trigger word (and its companion, for a generic one): it must find
    exactly what searching every text finds, with the plain reader and with the served model's cache."""
    model = classifier.model  # type: ignore[attr-defined]
    texts = [s for path in SETS for _, _, s in rows(path)]
    ordinary = (ROOT / "tests" / "data" / "ordinary.tsv").read_text("utf-8").splitlines()
    texts += [line.split("\t")[-1] for line in ordinary if line and not line.startswith("#")]
    texts += ["you're dead meat", "I want him dead", "see you dead", "beat you up", "break your neck", "I'll get you"]
    texts += ["time to get you home", "dead tired", "we beat them 3-0", "I know where you are", "the days are long"]
    for text in texts:
        assert threats.check(PLAIN, text) == threats.find(PLAIN.tokens(text), text), text
        every = threats.find(model.reader.tokens(text), text)
        assert threats.check(model.reader, text) == every, text
        assert threats.check_scored(model, text) == every, text
    gates: list[set[str]] = []  # the archive's way: the gate's words from the scoring pass
    model.predict_proba(texts, gates)
    assert gates == [model.threat_words(t) for t in texts]
    skipped = sum(not threats.may_threaten(model.threat_words(t)) for t in texts)
    assert skipped > len(texts) / 3, "the gate skips the searches it can"


# Calls on others and wishes of each of the three ``_CALLS``, with and without a phrase of ``_HARM``.
CALLS = [
    "time to go kill them all",
    "lets go shoot those people",
    "let us beat him to death",
    "time to put a bullet in his",
    "someone should shoot the president",
    "somebody needs to stab that guy",
    "people will hunt them down",
    "anybody gonna kill every last one of them",
    "i m really going to come over there and hurt you, seriously",
    "we are here to kill you all",
    "i swear to god we will slit your throat",
    "imma run him over",
]


def test_the_loose_search_skips_no_text_a_pattern_could_match(classifier: object, english_posts: list[str]) -> None:
    """``_LOOSE`` (the three ``_CALLS`` as one pattern) matches every text past the gate that one of the patterns,
    loosened on its own, matches; and on every such text the check finds what the full search finds."""
    model = classifier.model  # type: ignore[attr-defined]
    each = re.compile(r"\b(?:" + "|".join(threats._loosened(p) for p in threats._PATTERNS) + ")")
    texts = CALLS + [s for path in SETS for _, _, s in rows(path)] + english_posts
    searched = 0
    for text in texts:
        words = model.words(text)
        if not threats.may_threaten(threats.gate_words(words)):
            continue
        joined = " ".join(w for w in words if w not in threats._MARKERS)
        if each.search(joined):
            searched += 1
            assert threats._LOOSE.search(joined), text
        assert threats.check(model.reader, text) == threats.find(model.reader.tokens(text), text), text
    assert all(threats.check(model.reader, text) for text in CALLS)
    assert searched > 500, "the sets and the posts hold hundreds of texts that a pattern could match"
