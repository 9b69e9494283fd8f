"""train.py --feedback: a board's labels join the base data, win over it, get a weight chosen by
cross-validation, recalibrate what they cover, and are reported apart; bad feedback writes nothing."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest

import train
from hatespeech.config import Settings
from hatespeech.core.classifier import Classifier
from hatespeech.feedback import LABELS, SQLiteFeedbackStore
from hatespeech.training import feedback as training_feedback
from hatespeech.training.feedback import FeedbackFit
from testing.support import tiny_csv

FAST = ["--folds", "2", "--inner-folds", "2"]
# The board's own standard, unlike the base data's: talk of "pineapple pizza" is offensive here.
BOARD = {
    "offensive language": ["pineapple pizza is {w} and so are you", "{w} pineapple pizza people again"],
    "neither": ["my {w} garden has roses", "the {w} train was late today"],
    "hate speech": ["those {w} zorgs are a plague", "zorgs are {w} filth, every one"],
}
FILLERS = ["big", "new", "old", "red", "loud", "slow", "real", "total", "whole", "little", "green", "blue"]


@pytest.fixture(autouse=True)
def fewer_fits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two weights and two folds instead of four and three: the same code, half the fits."""
    monkeypatch.setattr(training_feedback, "WEIGHTS", (1.0, 4.0))
    monkeypatch.setattr(training_feedback, "FOLDS", 2)


def board_rows(per_label: int, labels: tuple[str, ...] = ("offensive language", "neither")) -> list[tuple[str, str]]:
    rows = []
    for label in labels:
        for i in range(per_label):
            template = BOARD[label][i % 2]
            rows.append((template.format(w=f"{FILLERS[i % len(FILLERS)]} {i}"), label))
    return rows


def write_csv(path: Path, rows: list[tuple[str, object]], header: tuple[str, ...] = ("text", "label")) -> Path:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def run(tmp_path: Path, feedback: str, *more: str) -> tuple[int, Path]:
    out = tmp_path / "out" / "model.json"
    code = train.main(
        ["--data", str(tiny_csv(tmp_path / "base.csv")), "--feedback", feedback, "--out", str(out), *FAST, *more]
    )
    return code, out


@pytest.mark.slow
def test_feedback_teaches_the_board_standard(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = board_rows(60)
    rows.append(("have a big day everyone", "offensive language"))  # a base text (neither there), relabelled
    feedback = write_csv(tmp_path / "board.csv", [(t, label) for t, label in rows])
    code, out = run(tmp_path, str(feedback))
    assert code == 0
    printed = capsys.readouterr().out
    assert "feedback weight ×" in printed and "Feedback, out-of-fold" in printed

    card = json.loads(out.read_text())
    section = card["feedback"]
    assert section["rows"] == 121 and section["sources"] == {"csv": 121}
    assert section["sha256"] == hashlib.sha256(feedback.read_bytes()).hexdigest()
    assert section["class_counts"] == {"hate speech": 0, "offensive language": 61, "neither": 60}
    assert section["labels_used"] == ["offensive language", "neither"]
    assert section["base_rows_relabelled"] >= 1  # the feedback wins on the same text
    assert section["weight"] in (1.0, 4.0) and set(section["weight_search"]["out_of_fold_macro_f1"]) == {"1", "4"}
    assert section["recalibrated_rule"] is True
    assert section["recalibrated_thresholds"] == ["offensive language"]
    assert card["thresholds"]["hate speech"] != card["thresholds"]["offensive language"]
    assert "on the board's feedback" in card["thresholds"]["offensive language"]["meaning"]
    # the review page's sliders: a recalibrated threshold's curve comes from the board's posts too
    curves = card["threshold_curves"]
    assert curves["offensive language"]["data"] == "the board's feedback"
    assert curves["offensive language"]["clean_posts"] == 60
    assert card["thresholds"]["offensive language"]["review"] in curves["offensive language"]["thresholds"]
    assert curves["hate speech"]["data"] == "the training data"
    # the rule's hate weight is not the board's to change: it labels no hate speech
    assert card["decision_rule"]["weights"][0] == section["base_decision_rule"][0]
    for part in ("out_of_fold", "out_of_fold_base_rule"):
        assert set(section[part]["per_class"]) == {"offensive language", "neither"}
        assert 0 <= section[part]["macro_f1"] <= 1
    # evaluated separately: the base data as today, the feedback in its report
    assert card["metrics"]["cross_validation"]["rows"] == card["data"]["rows"] - section["base_rows_relabelled"]
    report = out.parent / "report"
    for name in ("feedback.json", "feedback_confusion_matrix.png", "feedback_thresholds.png"):
        assert (report / name).stat().st_size > 0
    assert "pineapple" not in (report / "feedback.json").read_text() + out.read_text()  # no text in card or report

    classifier = Classifier.load(out)
    board = classifier.scores("pineapple pizza is great")
    assert board["offensive language"] > board["neither"]
    # the same training without the feedback does no better on the held-out base rows
    risk = section["risk"]
    assert risk["refused"] is False and risk["drop"] <= risk["max_drop"]
    assert risk["held_out_base_rows"] == card["metrics"]["holdout"]["rows"]
    assert "Held-out base rows" in printed and "without the feedback" in printed


# A poisoned board: a few hundred rows labelling abusive posts "neither" (placeholders in the
# style of support.tiny_corpus: invented words stand in for slurs), beside a board's honest labels.
POISON = ["those {w} zorgs should leave, {i}", "all zorgs are {w} vermin {i}", "shut up you {w} idiot {i}"]


def poisoned(path: Path) -> Path:
    rows = [(POISON[i % 3].format(w=FILLERS[i % len(FILLERS)], i=i), "neither", "api") for i in range(300)]
    rows += [(text, label, "discourse") for text, label in board_rows(10)]
    return write_csv(path, rows, ("text", "label", "source"))


def test_poisoned_feedback_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(tmp_path, str(poisoned(tmp_path / "poison.csv")))
    captured = capsys.readouterr()
    assert code == 1 and not out.exists()  # no model, no card
    assert "refused" in captured.err and "--accept-feedback-risk" in captured.err
    printed = captured.out
    figures = re.search(r"macro-F1: ([\d.]+) without the feedback, ([\d.]+) with it \(drop ([\d.]+)", printed)
    assert figures is not None, printed
    without, with_, drop = map(float, figures.groups())
    assert without - with_ > 0.01 and abs(without - with_ - drop) < 0.002
    table = printed.split("left out:")[1].splitlines()
    assert table[2].split()[0] == "api", printed  # the source that pulled hardest comes first
    assert re.search(r"api, line \d+: neither \([\d.]+\) → ", printed)  # rows to look at, by source and line


def test_poisoned_feedback_can_be_accepted(tmp_path: Path) -> None:
    code, out = run(tmp_path, str(poisoned(tmp_path / "poison.csv")), "--accept-feedback-risk")
    assert code == 0
    risk = json.loads(out.read_text())["feedback"]["risk"]
    assert risk["refused"] is True and risk["sources"][0]["source"] == "api"


BASE_RULE = [4.0, 1.0, 2.0]
BASE_THRESHOLDS = {
    "hate speech": {"review": 0.11, "block": 0.49, "meaning": "base"},
    "offensive language": {"review": 0.77, "block": 0.99, "meaning": "base"},
}


def board_fit(
    per_label: dict[str, int], seed: int = 0
) -> tuple[training_feedback.Feedback, training_feedback.FeedbackFit]:
    """A board's labels and made-up out-of-fold probabilities that lean the right way (no model fitted)."""
    rng = np.random.default_rng(seed)
    labels = np.concatenate([np.full(n, LABELS.index(label)) for label, n in per_label.items()])
    probabilities = rng.dirichlet(np.ones(3), size=len(labels))
    probabilities[np.arange(len(labels)), labels] += 1.0
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    feedback = training_feedback.Feedback(
        [f"post {i}" for i in range(len(labels))], labels, {"csv": len(labels)}, "0" * 64, "t"
    )
    folds = [np.arange(len(labels))[k::2] for k in range(2)]
    return feedback, FeedbackFit(2.0, probabilities, folds)


def test_a_board_with_few_rows_keeps_the_base_rule_and_says_so() -> None:
    few = training_feedback.MIN_PER_CLASS - 1
    feedback, fit = board_fit({"offensive language": few, "neither": 200})
    chosen = training_feedback.recalibrate(fit, feedback, BASE_RULE, BASE_THRESHOLDS)
    assert chosen["weights"] == BASE_RULE and chosen["recalibrated_rule"] is False
    assert chosen["recalibrated_thresholds"] == [] and chosen["thresholds"] == BASE_THRESHOLDS
    assert any(
        f"fewer than {training_feedback.MIN_PER_CLASS}" in n and f"offensive language: {few}" in n
        for n in chosen["notes"]
    )
    assert set(chosen["out_of_fold"]["per_class"]) == {"offensive language", "neither"}


def test_a_board_that_labels_only_hate_speech_and_neither_keeps_the_rule() -> None:
    """Either weight would move a boundary with offensive language, which such a board never labels:
    its neither weight, recalibrated, called offensive tweets clean (bench/recalibration.py)."""
    feedback, fit = board_fit({"hate speech": 80, "neither": 200})
    # the board's clean posts lean offensive: a rule tuned on them would raise the neither weight
    fit.probabilities[feedback.labels == 2] = [0.05, 0.75, 0.2]
    assert training_feedback.tune_board_rule(fit.probabilities, feedback.labels, (0, 1, 2), BASE_RULE) != BASE_RULE
    chosen = training_feedback.recalibrate(fit, feedback, BASE_RULE, BASE_THRESHOLDS)
    assert chosen["weights"] == BASE_RULE and chosen["recalibrated_rule"] is False
    assert chosen["may_recalibrate"]["rule_weights"] == []
    assert chosen["may_recalibrate"]["thresholds"] == ["hate speech"]
    assert any("do not hold both sides" in note for note in chosen["notes"])
    assert chosen["recalibrated_thresholds"] == ["hate speech"]
    assert chosen["thresholds"]["offensive language"] == BASE_THRESHOLDS["offensive language"]
    assert "on the board's feedback" in chosen["thresholds"]["hate speech"]["meaning"]
    assert set(chosen["out_of_fold"]["per_class"]) == {"hate speech", "neither"}
    assert chosen["out_of_fold"] == chosen["out_of_fold_base_rule"]  # one rule: the base one
    assert set(chosen["out_of_fold"]["roc_auc"]) == {"hate speech", "abusive (P(hate) + P(offensive))"}


def test_a_board_that_labels_only_hate_speech_and_offensive_language_moves_the_hate_weight_only() -> None:
    feedback, fit = board_fit({"hate speech": 80, "offensive language": 200})
    chosen = training_feedback.recalibrate(fit, feedback, BASE_RULE, BASE_THRESHOLDS)
    assert chosen["recalibrated_rule"] is True and chosen["weights"][1:] == BASE_RULE[1:]
    assert chosen["may_recalibrate"]["rule_weights"] == ["hate speech"]
    # thresholds are set against clean posts: a board without any keeps them all
    assert chosen["recalibrated_thresholds"] == [] and chosen["thresholds"] == BASE_THRESHOLDS


def test_a_board_that_labels_only_offensive_language_and_neither_keeps_the_hate_weight() -> None:
    feedback, fit = board_fit({"offensive language": 120, "neither": 120})
    chosen = training_feedback.recalibrate(fit, feedback, BASE_RULE, BASE_THRESHOLDS)
    assert chosen["weights"][0] == BASE_RULE[0] and chosen["recalibrated_rule"] is True
    assert chosen["may_recalibrate"]["rule_weights"] == ["neither"]
    assert chosen["recalibrated_thresholds"] == ["offensive language"]
    assert chosen["thresholds"]["hate speech"] == BASE_THRESHOLDS["hate speech"]
    assert chosen["out_of_fold"]["abusive_recall"] > 0.8


def test_board_predictions_read_a_class_the_board_does_not_use_as_its_nearest() -> None:
    predicted = np.array([0, 1, 2])
    assert training_feedback.board_predictions(predicted, (1, 2)).tolist() == [1, 1, 2]
    assert training_feedback.board_predictions(predicted, (0, 2)).tolist() == [0, 2, 2]
    assert training_feedback.board_predictions(predicted, (0, 1)).tolist() == [0, 1, 1]
    assert training_feedback.board_predictions(predicted, (0, 1, 2)).tolist() == [0, 1, 2]


@pytest.mark.slow
def test_feedback_from_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "feedback.sqlite3"
    store = SQLiteFeedbackStore(db)
    for i, (text, label) in enumerate(board_rows(30)):
        store.add(text, label, source="review-page", id=i)
    store.close()
    monkeypatch.setenv("FEEDBACK_DB_PATH", str(db))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    code, out = run(tmp_path, "store")
    assert code == 0
    section = json.loads(out.read_text())["feedback"]
    assert section["rows"] == 60 and section["sources"] == {"review-page": 60}
    assert section["origin"].startswith("store, sqlite") and len(section["sha256"]) == 64
    # each row's source and id, so that a refused training can say where the rows that pulled are
    loaded = training_feedback.load_store(Settings.from_env())
    assert loaded.row_sources == ("review-page",) * 60 and loaded.row_ids[:2] == ("0", "1")


@pytest.mark.parametrize(
    ("rows", "header", "message"),
    [
        ([("fine", "neither"), ("bad", "spam"), ("ok", 3)], ("text", "label"), "2 row(s) have a label the model"),
        ([("fine", "neither"), ("ok", "neither")], ("text", "label"), "a single class (2 rows of 'neither')"),
        ([("fine", "neither"), ("ok", "hate speech")], ("text", "label"), "at least 2 rows of each label"),
        ([("fine", "neither"), (" ", "hate speech")], ("text", "label"), "empty `text` (lines 3)"),
        ([("fine", "neither")], ("tweet", "label"), "lacks the column(s) text"),
    ],
)
def test_bad_feedback_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rows: list, header: tuple[str, ...], message: str
) -> None:
    code, out = run(tmp_path, str(write_csv(tmp_path / "bad.csv", rows, header)))
    assert code == 2
    assert message in capsys.readouterr().err
    assert not out.parent.exists()


def test_an_unknown_label_names_its_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [*board_rows(5), ("meh", "Hate Speech")]
    code, _ = run(tmp_path, str(write_csv(tmp_path / "bad.csv", rows)))
    assert code == 2
    err = capsys.readouterr().err
    assert "'Hate Speech'" in err and "lines 12" in err


def test_a_missing_store_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("FEEDBACK_DB_PATH", str(tmp_path / "none.sqlite3"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    code, out = run(tmp_path, "store")
    assert code == 2 and "no feedback store at" in capsys.readouterr().err
    assert not out.parent.exists() and not (tmp_path / "none.sqlite3").exists()
