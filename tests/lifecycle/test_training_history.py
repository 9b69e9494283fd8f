"""Training is reproducible byte for byte, and every trained model is kept with its lineage."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hatespeech.lifecycle import rows
from testing.support import ROOT, tiny_csv

FAST = ["--folds", "2", "--inner-folds", "2"]


def train_in_a_process(csv: Path, out: Path, hash_seed: str, tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("MODEL_PATH", "DATABASE_URL")}
    # another hash seed: sets and dicts of strings iterate in another order
    env.update(PYTHONHASHSEED=hash_seed, FEEDBACK_DB_PATH=str(tmp_path / "feedback.sqlite3"))
    done = subprocess.run(
        [sys.executable, "train.py", "--data", str(csv), "--out", str(out), *FAST],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(out.read_text())


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_the_same_inputs_give_the_same_files(tmp_path: Path) -> None:
    csv = tiny_csv(tmp_path / "posts.csv")
    first = train_in_a_process(csv, tmp_path / "a" / "model.json", "1", tmp_path)
    second = train_in_a_process(csv, tmp_path / "b" / "model.json", "2", tmp_path)
    for name, digest in (("model_file", "sha256"), ("pipeline_file", "pipeline_sha256")):
        assert first[name] == second[name] and first[digest] == second[digest]
        assert sha256(tmp_path / "a" / first[name]) == sha256(tmp_path / "b" / second[name]) == first[digest]
    # what may differ is when and how fast: the card's sha256 is the model file's, not the card's
    same = {k for k in first if first[k] == second[k]}
    assert set(first) - same <= {"created_at", "training_seconds", "fit_seconds"}


@pytest.mark.slow
def test_every_model_is_kept_with_its_lineage(tmp_path: Path) -> None:
    folder = tmp_path / "models"
    first = train_in_a_process(tiny_csv(tmp_path / "posts.csv"), folder / "model.json", "0", tmp_path)
    second = train_in_a_process(tiny_csv(tmp_path / "more.csv", per_class=35), folder / "model.json", "0", tmp_path)
    assert first["sha256"] != second["sha256"]
    for card in (first, second):  # each under its own name, its files kept
        kept = json.loads((folder / f"card-{card['sha256'][:12]}.json").read_text())
        assert kept["sha256"] == card["sha256"]
        assert (folder / card["model_file"]).is_file() and (folder / card["pipeline_file"]).is_file()
    lineage = second["lineage"]
    assert lineage["feedback"] is None and set(lineage) == {"parent", "code_commit", "feedback"}
    assert lineage["parent"] == json.loads((ROOT / "models" / "model.json").read_text())["sha256"]
    assert lineage["code_commit"] is None or len(lineage["code_commit"].split("+")[0]) == 40
    measured = second["measured_rows"]["base"]
    assert measured["rows"] == 105 and measured["data_sha256"] == second["data"]["sha256"]
    assert len(rows.read(measured)) == 90  # one per distinct text: each template and filler once per class
