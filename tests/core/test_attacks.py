"""The identity-attack check: its labelled set, what is not an attack, spans, disguises, long texts, the gate, and
what a match does to a /moderate answer."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from hatespeech.core import attacks
from hatespeech.core.moderator import Moderator
from hatespeech.core.policy import Policy
from hatespeech.core.reader import PLAIN, Reader
from testing.support import ROOT, labelled_sentences

DATA = ROOT / "tests" / "data" / "attacks.tsv"
ATTACK_KINDS = ("dehumanising", "exclusion", "generalisation")


def rows(path: Path = DATA) -> list[tuple[int, str, str]]:
    return labelled_sentences(path)


def test_the_set_is_big_varied_and_half_near_misses() -> None:
    data = rows()
    assert len(data) >= 200 and len({s for _, _, s in data}) == len(data), "no sentence twice"
    kinds = {kind for _, kind, _ in data}
    assert set(ATTACK_KINDS) | {"counter", "reporting", "negation", "question", "neutral", "near-miss"} == kinds
    assert all((label == 1) is (kind in ATTACK_KINDS) for label, kind, _ in data)
    assert 0.4 <= sum(1 for label, _, _ in data if not label) / len(data) <= 0.6
    for kind in ATTACK_KINDS:  # each kind of attack, on at least 12 groups (told apart by their words)
        groups = {w for label, k, s in data if k == kind for w in PLAIN.words(s) if w in attacks._GROUP_WORDS}
        assert len(groups) >= 12, (kind, groups)


def test_precision_and_recall_on_the_labelled_set() -> None:
    data = rows()
    hits = [(label, attacks.check(PLAIN, sentence) is not None) for label, _, sentence in data]
    tp = sum(1 for label, hit in hits if label and hit)
    precision = tp / sum(1 for _, hit in hits if hit)
    recall = tp / sum(1 for label, _ in hits if label)
    assert precision >= 0.95 and recall >= 0.9, (precision, recall)


@pytest.mark.parametrize(
    "text",
    [
        "immigrants are vermin", "Muslims should be deported.", "all women are stupid", "gays breed like rats",
        "get rid of all the jews", "disabled people should not be allowed to vote", "go back to where you came from",
        "I think refugees are a disease",  # the speaker's own claim, not a report
    ],
)  # fmt: skip
def test_attacks_are_found(text: str) -> None:
    assert attacks.check(PLAIN, text) is not None


@pytest.mark.parametrize(
    "text",
    [
        "calling immigrants vermin is disgusting", "people who say Muslims are terrorists are wrong",
        "stop saying women are stupid", "he said that Jews are rats and was banned", "immigrants are not criminals",
        "not all Muslims are terrorists", "are refugees criminals?", "I don't think gays are a disease",
        "there are rats in the basement", "the invaders in the film", "my cat is an animal",
        "women are animal lovers", "Muslims are celebrating Eid", "it is wrong to deport refugees",
    ],
)  # fmt: skip
def test_what_is_not_an_attack(text: str) -> None:
    assert attacks.check(PLAIN, text) is None


def test_the_span_is_what_was_written() -> None:
    text = "Look... these IMMIGRANTS are vermin, honestly."
    assert attacks.check(PLAIN, text) == {"start": 8, "end": 35, "text": "these IMMIGRANTS are vermin"}
    assert attacks.check(PLAIN, "immigrants are here. Vermin everywhere") is None  # not across a full stop


def test_disguised_attacks_are_read_as_the_model_reads_them() -> None:
    reader = Reader({"vermin": 50, "muslims": 400, "are": 9000, "deported": 30})
    for text in ("Muslims are v3rmin", "Muslims are v e r m i n", "mvslims are vermin", "Muslims are verrrmin"):
        assert attacks.check(reader, text) is not None, text


# Adversarial texts of about 100 KB: the check finishes (linear time; bench/attacks.py times it) and is right.
HOSTILE = [
    (("muslims are not all vermin people say " * 2800)[:100_000], False),
    (("all of the immigrants in our country they are " * 2200)[:100_000], False),
    (("immigrants " + "a " * 50_000)[:100_000], False),
    ("x " * 49_980 + "immigrants are vermin", True),
    (("calling women trash is wrong. " * 3500)[:100_000], False),
    ("😀" * 100_000, False),
]


@pytest.mark.parametrize(("text", "found"), HOSTILE, ids=range(len(HOSTILE)))
def test_long_hostile_texts_are_checked(text: str, found: bool) -> None:
    assert len(text) >= 99_000
    assert (attacks.check(PLAIN, text) is not None) is found


def every_position(reader: Reader, text: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, object] | None:
    """``find`` without the gate, the loose search or the windows: the pattern tried at every word before a group
    word (no pattern starts after its group's first word)."""
    with monkeypatch.context() as patched:
        patched.setattr(attacks, "LEAD", 10**9)
        return attacks.find(reader.tokens(text), text)


def test_the_gate_skips_only_texts_no_pattern_matches(classifier: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """``check`` and ``check_scored`` search only texts with a group word near a match's start; they must find
    what trying the pattern everywhere finds, with the plain reader and with the served model's."""
    model = classifier.model  # type: ignore[attr-defined]
    texts = [s for _, _, s in rows()]
    for name in ("ordinary.tsv", "threats.tsv"):
        lines = (ROOT / "tests" / "data" / name).read_text("utf-8").splitlines()
        texts += [line.split("\t")[-1] for line in lines if line and not line.startswith("#")]
    texts += ["Old people are a burden", "MEN ARE TRASH", "bi people are liars", "you lot, go back to africa"]
    texts += ["all of the fucking immigrants in this country they are vermin", "let us just get rid of all the jews"]
    for text in texts:
        for reader in (PLAIN, model.reader):
            assert attacks.check(reader, text) == every_position(reader, text, monkeypatch), text
        assert attacks.check_scored(model, text) == attacks.check(model.reader, text), text


def test_apply_adds_the_reason_and_raises_to_review() -> None:
    policy = Policy.from_card(
        {"version": "1", "sha256": "ab" * 32, "decision_rule": {"weights": [1, 1, 1]},
         "thresholds": {"hate speech": {"review": 0.5, "block": 0.9}}}
    )  # fmt: skip
    found = {"start": 0, "end": 21, "text": "immigrants are vermin"}
    answer = attacks.apply(policy.moderate([0.1, 0.1, 0.8]), found)
    assert (answer["action"], answer["flagged"], answer["label"]) == ("review", True, "neither")
    assert answer["categories"] == {"hate speech": True, "identity attack": True}
    assert answer["reasons"] == [{"category": "identity attack", **found}]
    blocked = attacks.apply(policy.moderate([0.95, 0.0, 0.05]), found)
    assert blocked["action"] == "block" and [r["category"] for r in blocked["reasons"]] == [
        "hate speech",
        "identity attack",
    ]
    calm = attacks.apply(policy.moderate([0.1, 0.1, 0.8]), None)
    assert calm["action"] == "allow" and calm["reasons"] == [] and calm["categories"]["identity attack"] is False
    assert calm["categories"]["hate speech"] is False


def test_moderate_reports_an_attack(classifier: object) -> None:
    moderator = Moderator(classifier, Policy.from_card(classifier.card), max_text_chars=10_000, explain_max_spans=40)  # type: ignore[arg-type, attr-defined]
    never = {"hate speech": {"review": 1.0, "block": 1.0}, "offensive language": {"review": 1.0, "block": 1.0}}
    moderator.policy = Policy.from_card(classifier.card, never)  # type: ignore[attr-defined]
    text = "Honestly, refugees are parasites."
    for explain in (False, True):
        answer = moderator.moderate(text, explain)
        assert answer["action"] == "review" and answer["categories"]["identity attack"] is True
        assert answer["reasons"] == [{"category": "identity attack", "start": 10, "end": 32, "text": text[10:32]}]
        assert answer["categories"]["threat"] is False
    calm = moderator.moderate("Refugees are welcome here.")
    assert calm["action"] == "allow" and calm["categories"]["identity attack"] is False
    both = moderator.moderate("muslims should all be shot")
    assert [r["category"] for r in both["reasons"]] == ["identity attack", "threat"]  # the threat's reason last


def test_an_archive_reviews_an_attack_as_moderate_does(tmp_path: Path, classifier: object) -> None:
    """The archive scorer's action is /moderate's: with thresholds no score reaches, an attack is still reviewed."""
    import csv

    from hatespeech.archive.score import score_archive

    never = {"hate speech": {"review": 1.0, "block": 1.0}, "offensive language": {"review": 1.0, "block": 1.0}}
    policy = Policy.from_card(classifier.card, never)  # type: ignore[attr-defined]
    source = tmp_path / "posts.csv"
    with open(source, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([["text"], ["immigrants are vermin"], ["calling immigrants vermin is vile"]])
    score_archive(source, tmp_path / "out.csv", workers=1, classifier=classifier, policy=policy, progress=False)
    with open(tmp_path / "out.csv", encoding="utf-8", newline="") as f:
        assert [r["action"] for r in csv.DictReader(f)] == ["review", "allow"]


def test_the_gate_for_hidden_group_words_reads_ascii_lowered_as_it_reads_the_text() -> None:
    from hatespeech.config import DEFAULT_MODEL_PATH
    from hatespeech.core.classifier import Classifier

    model = Classifier.load(DEFAULT_MODEL_PATH).model
    attacks.check_scored(model, "hello", ["hello"])
    ignoring_case, lowered = attacks._HIDDEN[model.stop]
    rng = random.Random(11)
    parts = ["MEN", "Men", "men", "oLd", "BACK", "bi", "Bitch", "omen", "mens", "_men", "men_", "9men", "x", "!", " "]
    texts = ["".join(rng.choice(parts) for _ in range(rng.randint(1, 8))) for _ in range(3000)]
    found = [lowered.search(t.lower()) is not None for t in texts]
    assert found == [ignoring_case.search(t) is not None for t in texts]
    assert 100 < sum(found) < 2900  # both answers occur


# Each lead of ``_AROUND_GROUP``, some with what may follow the group.
AROUND = [
    "no more muslims",
    "no room for these filthy immigrants",
    "deport every last one of the illegals",
    "just send all the refugees back",
    "time to kick the gays out",
    "the world would be a better place without jews",
    "rid our country of the migrants",
    "i wish all the immigrants would disappear",
    "wish there were no gypsies",
]


def test_the_loose_search_skips_no_text_the_pattern_could_match(
    classifier: object, english_posts: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``_LOOSE`` (the leads around the group as one pattern) matches every text past the gate that the pattern
    loosened whole matches; and on every such text the check finds what trying the pattern everywhere finds."""
    model = classifier.model  # type: ignore[attr-defined]
    whole = re.compile(attacks._loosened(attacks._ATTACK.pattern))
    texts = AROUND + [s for _, _, s in rows()] + english_posts
    searched = 0
    for text in texts:
        words = [w for w in model.words(text) if w not in attacks._MARKERS]
        if not attacks.may_attack(words):
            continue
        joined, starts, bars = attacks._joined(words, [False] * len(words))
        if next(attacks._matches(words, joined, starts, bars, whole), None) is not None:
            searched += 1
            assert next(attacks._matches(words, joined, starts, bars, attacks._LOOSE), None) is not None, text
        assert attacks.check(model.reader, text) == every_position(model.reader, text, monkeypatch), text
    assert all(attacks.check(model.reader, text) for text in AROUND)
    assert searched > 400, "the set and the posts hold hundreds of texts that the pattern could match"
