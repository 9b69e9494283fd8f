"""model.py retrain, as cron runs it: trains on new feedback, promotes only through the gate, says which
by its exit status, and does nothing when the store holds nothing new."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hatespeech.config import Settings
from hatespeech.feedback import SQLiteFeedbackStore
from hatespeech.lifecycle import retrain
from hatespeech.lifecycle.registry import Registry
from testing.support import ROOT

FAST = ["--folds", "2", "--inner-folds", "2"]
# Invented words stand in for slurs; 20 fillers give 60 distinct texts per class, so that the gate
# has more than its 100 rows measured by both models to compare.
TEMPLATES = {
    0: ["those {w} zorgs should leave", "all zorgs are {w} vermin", "{w} blarfs ruin everything, get out"],
    1: ["shut up you {w} idiot", "this is {w} crap", "what a {w} moron lol"],
    2: ["have a {w} day everyone", "the {w} game starts at eight", "thanks for the {w} recipe"],
}
FILLERS = [
    "big",
    "new",
    "old",
    "red",
    "loud",
    "slow",
    "real",
    "total",
    "whole",
    "little",
    "green",
    "blue",
    "tiny",
    "huge",
    "odd",
    "calm",
    "wild",
    "dry",
    "warm",
    "cold",
]


def base_csv(path: Path, hate_called_neither: float = 0.0) -> Path:
    """A Davidson-format CSV; ``hate_called_neither``: the share of hate rows mislabelled "neither"."""
    rows = []
    for label, templates in TEMPLATES.items():
        for i in range(60):
            text = templates[i % 3].format(w=FILLERS[i % len(FILLERS)] + ("" if i < 20 else f" {i // 20}"))
            wrong = label == 0 and i % 3 < round(3 * hate_called_neither)
            rows.append((2 if wrong else label, text))
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["", "count", "hate_speech", "offensive_language", "neither", "class", "tweet"])
        for i, (label, text) in enumerate(rows):
            writer.writerow([i, 3, *(3 if k == label else 0 for k in range(3)), label, text])
    return path


def add_feedback(db: Path, start: int, count: int) -> None:
    store = SQLiteFeedbackStore(db)
    names = ("hate speech", "offensive language", "neither")
    for i in range(start, start + count):
        label = i % 3
        store.add(TEMPLATES[label][i % 3].format(w=f"board {i}"), names[label], source="board", id=str(i))
    store.close()


def model_py(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("MODEL_PATH", "DATABASE_URL", "REDIS_URL")}
    env.update(
        FEEDBACK_DB_PATH=str(tmp_path / "feedback.sqlite3"),
        REVIEW_DB_PATH=str(tmp_path / "review.sqlite3"),
        TQDM_DISABLE="1",
    )
    return subprocess.run(
        [sys.executable, "model.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
    )


def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str | None:
    return history(tmp_path, monkeypatch)[0]


def history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str | None, list[str]]:
    """The promoted model, and each event's why."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("FEEDBACK_DB_PATH", str(tmp_path / "feedback.sqlite3"))
    registry = Registry(Settings.from_env())
    try:
        return registry.served(), [e.why for e in registry.events()]
    finally:
        registry.close()


@pytest.mark.slow
def test_retrain_promotes_only_through_the_gate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good, worse = base_csv(tmp_path / "good.csv"), base_csv(tmp_path / "worse.csv", hate_called_neither=2 / 3)
    candidates = tmp_path / "candidates"

    def run(data: Path, *more: str) -> subprocess.CompletedProcess:
        return model_py(tmp_path, "retrain", "--dir", str(candidates), *more, "--", "--data", str(data), *FAST)

    assert run(good).returncode == retrain.EXIT["nothing new"]  # no store yet: nothing to train on
    add_feedback(tmp_path / "feedback.sqlite3", 0, 12)

    # The committed model records no measured rows: the gate cannot compare, and refuses.
    first = run(good)
    assert first.returncode == retrain.EXIT["refused"], first.stdout + first.stderr
    assert "refused on the base data" in first.stderr and served(tmp_path, monkeypatch) is None
    [kept] = candidates.glob("*/model.json")  # the refused candidate stays, for a person to compare
    forced = model_py(tmp_path, "promote", str(kept), "--force", "--why", "the first trained model")
    assert forced.returncode == 0, forced.stderr
    trained = json.loads(kept.read_text())["sha256"]
    assert served(tmp_path, monkeypatch) == trained

    nothing = run(good)  # the served model has seen every decision in the store
    assert nothing.returncode == retrain.EXIT["nothing new"] and "nothing new" in nothing.stdout

    add_feedback(tmp_path / "feedback.sqlite3", 12, 3)
    # Base data that calls two of the three hate templates "neither": the candidate calls the board's
    # hate posts of those templates clean (on the base rows both measured, the third template's, it is right).
    bad = run(worse)
    assert bad.returncode == retrain.EXIT["refused"], bad.stdout + bad.stderr
    assert "refused on the board's labels: it loses" in bad.stderr
    assert served(tmp_path, monkeypatch) == trained  # not promoted

    better = run(good)
    assert better.returncode == retrain.EXIT["promoted"], better.stdout + better.stderr
    newest = max(candidates.glob("*/model.json"), key=lambda p: p.parent.name)
    card = json.loads(newest.read_text())
    assert served(tmp_path, monkeypatch) == card["sha256"] != trained
    assert card["lineage"]["feedback"]["rows"] == 15 and card["lineage"]["parent"] == trained
    assert history(tmp_path, monkeypatch)[1][-1].startswith("scheduled retrain on 15 feedback decisions")


def test_a_candidate_gets_a_folder_of_its_own(tmp_path: Path) -> None:
    when = datetime(2026, 12, 7, 3, 0, 5, tzinfo=UTC)
    first = retrain.candidate_path(tmp_path, when)
    assert first == tmp_path / "2026-12-07T030005Z" / "model.json"
    first.parent.mkdir()
    assert retrain.candidate_path(tmp_path, when) == tmp_path / "2026-12-07T030005Z-2" / "model.json"


def test_a_model_has_seen_the_store_when_its_card_counted_it() -> None:
    state = {"rows": 15, "newest_at": "2026-12-07T03:00:05+00:00"}
    assert retrain.has_seen({"lineage": {"feedback": dict(state, sha256="x")}}, state)
    assert not retrain.has_seen({"lineage": {"feedback": dict(state, rows=14)}}, state)
    assert not retrain.has_seen({"lineage": {"feedback": None}}, state) and not retrain.has_seen({}, state)
