"""train.py end to end: on a small made-up CSV, on bad input, and on the real data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import train
from hatespeech import config
from hatespeech.core.classifier import Classifier
from hatespeech.training.data import DAVIDSON_SHA256
from hatespeech.training.sources import MANIFEST
from testing.dask_cluster import requirements_only_env
from testing.support import ROOT, tiny_csv


def test_help_explains_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        train.main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "--data" in out and "--out" in out and "--sources" in out and "data/labeled_data.csv" in out


@pytest.mark.slow
def test_trains_evaluates_and_writes_a_servable_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "models" / "model.json"
    assert (
        train.main(
            ["--data", str(tiny_csv(tmp_path / "posts.csv")), "--out", str(out), "--folds", "2", "--inner-folds", "2"]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "cross-validation" in printed and "confusion matrix" in printed

    card = json.loads(out.read_text())
    assert card["data"]["rows"] == 90 and card["data"]["sha256"] != DAVIDSON_SHA256
    for part in ("holdout", "cross_validation"):
        assert 0 <= card["metrics"][part]["macro_f1"] <= 1
    assert len(card["decision_rule"]["weights"]) == 3
    report = out.parent / "report"
    for name in ("evaluation.json", "confusion_matrix.png", "thresholds.png", "reliability.png"):
        assert (report / name).stat().st_size > 0
    assert "zorg" not in (report / "evaluation.json").read_text()  # no text from the data in the report

    scores = Classifier.load(out).scores("have a lovely day everyone")
    assert max(scores, key=scores.get) == "neither"


def test_missing_default_data_says_how_to_get_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --data, train.py trains on the manifest's sources; a missing one is named with how to get it."""
    places = (tmp_path / "data" / "labeled_data.csv", tmp_path / "shared" / "labeled_data.csv")
    committed = MANIFEST.read_text()
    moved = committed.replace(
        '"data/labeled_data.csv", "../shared/data/davidson/labeled_data.csv"', f'"{places[0]}", "{places[1]}"'
    )
    assert moved != committed
    (tmp_path / "sources.toml").write_text(moved)
    monkeypatch.setattr(train, "MANIFEST", tmp_path / "sources.toml")
    assert train.main(["--out", str(tmp_path / "out" / "m.json")]) == 2
    err = capsys.readouterr().err
    assert f"source davidson: no file at {places[0]} nor {places[1]}" in err
    assert "curl -L -o data/labeled_data.csv" in err and DAVIDSON_SHA256 in err
    assert not (tmp_path / "out").exists()


def test_a_missing_data_file_given_is_named_without_the_download(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert train.main(["--data", str(tmp_path / "mine.csv"), "--out", str(tmp_path / "m.json")]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "mine.csv") in err and "curl" not in err
    assert not list(tmp_path.iterdir())


def test_a_small_or_lopsided_csv_says_how_many_rows_it_needs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small = tmp_path / "small.csv"
    small.write_text("class,tweet\n" + "".join(f"{i % 3},post number {i}\n" for i in range(40)))
    lopsided = tmp_path / "lopsided.csv"
    lopsided.write_text("class,tweet\n" + "".join(f"{1 + i % 2},post {i}\n" for i in range(200)) + "0,a\n0,b\n")
    for path, have in ((small, "hate speech 14, offensive language 13, neither 13"), (lopsided, "hate speech 2")):
        assert train.main(["--data", str(path), "--out", str(tmp_path / "out" / "m.json")]) == 2
        err = capsys.readouterr().err
        assert "at least 20 rows of each class" in err and have in err
    assert not (tmp_path / "out").exists()


def test_bad_csv_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("class,tweet\n0,a\n1,b\n7,c\n2,d\n")
    assert train.main(["--data", str(bad), "--out", str(tmp_path / "out" / "m.json")]) == 2
    assert "lines 4" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_retraining_on_the_real_data_stays_above_the_floor(real_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "model.json"
    assert train.main(["--data", str(real_data), "--out", str(out), "--folds", "2", "--inner-folds", "2"]) == 0
    card = json.loads(out.read_text())
    cv = card["metrics"]["cross_validation"]
    assert card["data"]["sha256"] == DAVIDSON_SHA256 and card["data"]["rows"] == 24_783
    assert cv["macro_f1"] >= 0.72, cv
    assert cv["per_class"]["hate speech"]["f1"] >= 0.40, cv
    assert cv["weighted_f1"] >= 0.88, cv
    assert cv["ece"] <= 0.03, cv
    Classifier.load(out)


def test_the_default_data_is_data_then_the_shared_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One rule for train.py, `make train` and the tests: data/ first, then ../shared/data/davidson/."""
    local, shared = tmp_path / "data" / "labeled_data.csv", tmp_path / "shared" / "labeled_data.csv"
    monkeypatch.setattr(config, "DATA_PATHS", (local, shared))
    assert config.training_data_path() is None
    shared.parent.mkdir()
    local.parent.mkdir()
    tiny_csv(shared)
    assert config.training_data_path() == shared
    tiny_csv(local)
    assert config.training_data_path() == local
    monkeypatch.undo()
    shared_copy = ROOT.parent / "shared" / "data" / "davidson" / "labeled_data.csv"
    assert (ROOT / "data" / "labeled_data.csv", shared_copy) == config.DATA_PATHS


def test_in_the_serving_environment_it_says_what_to_install(tmp_path: Path) -> None:
    """After `make serve` (requirements.txt only) there is no pandas: a sentence, not a traceback."""
    env = requirements_only_env(tmp_path)
    env["PYTHONPATH"] += f":{ROOT}"
    done = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), "--out", str(tmp_path / "m.json")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "pip install -r requirements-train.txt" in done.stderr and "make train" in done.stderr
    assert "Traceback" not in done.stderr and not list(tmp_path.glob("m*"))
