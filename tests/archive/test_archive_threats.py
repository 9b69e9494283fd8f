"""The archive scorer applies /moderate's threat check with /moderate's rule: same flag, same span, same action."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from hatespeech.archive.score import ADDED_COLUMNS
from hatespeech.archive.score import score_archive as score
from hatespeech.core import threats
from hatespeech.core.classifier import Classifier
from hatespeech.core.policy import Policy
from testing.support import ROOT, server_env

THREAT = "I am going to kill you"
TEXTS = [
    THREAT,
    "this joke killed me",  # a violent word, no threat
    "have a lovely day everyone",
    "ok. someone should put a bullet in his head, seriously",
    "I'd kill for a coffee",
    "I will k!ll you",  # read as the model reads it
]
IS_THREAT = [True, False, False, True, False, True]


def moderate_in_app(tmp_path: Path, texts: list[str]) -> list[dict]:
    """``app.moderate`` for each text, in a process of its own (importing app loads the model and settings)."""
    code = "import json, sys, app; print(json.dumps([app.moderate(text=t) for t in json.load(sys.stdin)]))"
    env = server_env(FEEDBACK_DB_PATH=str(tmp_path / "f.sqlite3"), REVIEW_DB_PATH=str(tmp_path / "r.sqlite3"))
    done = subprocess.run(
        [sys.executable, "-c", code], input=json.dumps(texts), cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_csv_flags_threats_and_raises_the_action_as_moderate_does(tmp_path: Path, classifier: Classifier) -> None:
    source = tmp_path / "posts.csv"
    with open(source, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([["id", "text"], *([str(i), t] for i, t in enumerate(TEXTS)), ["99", ""]])
    summary = score(source, tmp_path / "out.csv", workers=1, classifier=classifier, progress=False)

    with open(tmp_path / "out.csv", encoding="utf-8", newline="") as f:
        out = list(csv.DictReader(f))
    assert list(out[0]) == ["id", "text", *ADDED_COLUMNS]
    assert ADDED_COLUMNS[-4:] == ["skipped", "threat", "language", "language_supported"]
    assert [r["threat"] for r in out] == [str(int(t)) for t in IS_THREAT] + [""], "empty on a row not scored"
    assert out[0]["action"] in ("review", "block")
    assert summary.flagged["threat"] == sum(IS_THREAT) and f"threat {sum(IS_THREAT)}" in str(summary)

    answers = moderate_in_app(tmp_path, TEXTS)  # one rule: the served /moderate gives the same actions
    assert [r["action"] for r in out[:-1]] == [a["action"] for a in answers]
    assert [r["threat"] == "1" for r in out[:-1]] == [a["categories"]["threat"] for a in answers]
    assert [r["label"] for r in out[:-1]] == [a["label"] for a in answers]


def test_jsonl_carries_moderates_span(tmp_path: Path, classifier: Classifier) -> None:
    source = tmp_path / "posts.jsonl"
    source.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(TEXTS)), "utf-8")
    score(source, tmp_path / "out.jsonl", workers=2, chunk_bytes=64, classifier=classifier, progress=False)
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text("utf-8").splitlines()]
    assert [o["threat"] is not None for o in out] == IS_THREAT
    assert out[3]["threat"] == {"start": 4, "end": 38, "text": "someone should put a bullet in his"}
    answers = moderate_in_app(tmp_path, TEXTS)
    assert [o["threat"] for o in out] == [a.get("threat") for a in answers]
    assert [o["action"] for o in out] == [a["action"] for a in answers]


def test_a_threat_is_reviewed_even_when_the_scores_say_allow(tmp_path: Path, classifier: Classifier) -> None:
    """With thresholds no score reaches, the decision rule allows everything: the threat check still sends the
    threat to review, in the archive as in /moderate (``threats.raise_action``)."""
    never = {"hate speech": {"review": 1.0, "block": 1.0}, "offensive language": {"review": 1.0, "block": 1.0}}
    policy = Policy.from_card(classifier.card, never)
    source = tmp_path / "posts.csv"
    with open(source, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([["text"], [THREAT], ["this joke killed me"]])
    score(source, tmp_path / "out.csv", workers=1, classifier=classifier, policy=policy, progress=False)
    with open(tmp_path / "out.csv", encoding="utf-8", newline="") as f:
        out = list(csv.DictReader(f))
    assert [(r["action"], r["threat"]) for r in out] == [("review", "1"), ("allow", "0")]

    answer = threats.apply(policy.moderate(classifier.probabilities([THREAT])[0].tolist()), {"start": 0})
    assert (answer["action"], answer["flagged"], answer["categories"]["threat"]) == ("review", True, True)


@pytest.mark.parametrize(("action", "raised"), [("allow", "review"), ("review", "review"), ("block", "block")])
def test_the_rule_raises_to_review_and_never_lowers(action: str, raised: str) -> None:
    assert threats.raise_action(action, {"start": 0, "end": 1, "text": "x"}) == raised
    assert threats.raise_action(action, None) == action
