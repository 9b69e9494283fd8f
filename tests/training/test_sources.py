"""The manifest of training sources: read, checked, deduplicated, prepared; on small made-up texts only."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

import train
from hatespeech.core.labels import LABELS
from hatespeech.training import pipeline
from hatespeech.training.augment import counterfactuals, swaps
from hatespeech.training.data import DataError
from hatespeech.training.sources import MANIFEST, Recipe, as_hatexplain, load_corpus, plain, read_manifest
from testing.support import tiny_corpus, tiny_csv

SHARED = "number user zorgs lol"  # made up: in both sources, so trained on by neither


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def second_source(path: Path) -> Path:
    """A HateXplain-like file: label names, a split column, lower case without punctuation, placeholders."""
    texts, labels = tiny_corpus(30)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["post_id", "split", "label", "text"])
        for i, (text, label) in enumerate(zip(texts, labels, strict=True)):
            split = "val" if i % 5 == 0 else "train"
            writer.writerow([i, split, LABELS[label], f"user {plain(text)} number {i} blorp"])
        writer.writerow([999, "train", "offensive language", SHARED])
    return path


def manifest(tmp_path: Path, first: Path, second: Path, training: str = "harmonise = true\n") -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(
        f"""[training]
{training}
[[source]]
name = "davidson"
title = "made up, in the Davidson format"
licence = "none"
paths = ["{tmp_path / "absent.csv"}", "{first}"]
sha256 = "{sha(first)}"
text = "tweet"
label = "class"
labels = {{ "0" = "hate speech", "1" = "offensive language", "2" = "neither" }}
counts = ["hate_speech", "offensive_language", "neither"]
origin = "made up by the test"

[[source]]
name = "hatexplain"
title = "made up, in the HateXplain form"
licence = "none"
paths = ["{second}"]
sha256 = "{sha(second)}"
text = "text"
label = "label"
labels = {{ "hate speech" = "hate speech", "offensive language" = "offensive language", "neither" = "neither" }}
weight = 0.5
form = "plain"
placeholders = ["user", "number"]
held_out = {{ column = "split", value = "val" }}
"""
    )
    return path


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    first = tiny_csv(tmp_path / "first.csv")
    with open(first, "a", newline="") as f:
        csv.writer(f).writerow([90, 3, 0, 3, 0, 1, "Number @someone: ZORGS!!! lol"])  # SHARED, in another form
    return first, second_source(tmp_path / "second.csv")


def test_plain_is_the_published_form_of_hatexplain() -> None:
    assert plain("RT @bob: So &amp; GOOD!!! 12 https://t.co/x 😀 user number", ("user", "number")) == "rt so good"
    assert as_hatexplain("RT @bob: So &amp; GOOD!!! 12 https://t.co/x") == "rt so amp good 12"


def test_the_committed_manifest_declares_both_sources_with_a_held_out_split() -> None:
    declared = read_manifest(MANIFEST)
    assert [s.name for s in declared.sources] == ["davidson", "hatexplain"]
    assert declared.sources[1].held_out == ("split", "val")
    assert all(len(s.sha256) == 64 and s.licence == "MIT" for s in declared.sources)
    assert declared.recipe.placeholders == ("user", "number")


def test_sources_are_read_deduplicated_and_held_out(tmp_path: Path, files: tuple[Path, Path]) -> None:
    corpus = load_corpus(manifest(tmp_path, *files), root=tmp_path)
    first, second = corpus.card
    assert (first["rows"], second["rows"]) == (91, 91)
    assert first["in_another_source"] == second["in_another_source"] == 1  # SHARED, in both
    assert second["held_out_rows"] == 18 and second["trained_rows"] == 91 - 18 - 1
    data = corpus.dataset()
    assert data.rows == first["trained_rows"] + second["trained_rows"]
    assert not any("zorgs lol" in plain(t) for t in data.texts)
    assert not any(t.endswith("blorp") and int(t.split()[-2]) % 5 == 0 for t in data.texts)  # no val row
    hx = corpus.trained_sources() == 1
    assert np.allclose(data.agreement[hx], 0.5) and np.allclose(data.agreement[~hx], 1.0)  # weight × agreement
    assert corpus.dataset(leave_out="hatexplain").rows == first["trained_rows"]


def test_a_changed_or_missing_file_is_refused(tmp_path: Path, files: tuple[Path, Path]) -> None:
    path = manifest(tmp_path, *files)
    with open(files[1], "a") as f:
        f.write("1000,train,neither,one more row\n")
    with pytest.raises(DataError, match="sha256"):
        load_corpus(path, root=tmp_path)
    files[0].unlink()
    with pytest.raises(DataError) as err:
        load_corpus(path, root=tmp_path)
    assert f"no file at {tmp_path / 'absent.csv'} nor {files[0]}" in str(err.value)
    assert "made up by the test" in str(err.value)


def test_counterfactual_copies_swap_group_names_in_clean_rows() -> None:
    rng = np.random.default_rng(0)
    assert swaps("a lovely day", 2, rng) == []
    copies = swaps("proud of my gay brother", 3, rng)
    assert copies and all(c.startswith("proud of my ") and "gay" not in c for c in copies)
    texts, labels, weights = counterfactuals(
        ["muslims are welcome here", "muslims are vermin"], np.array([2, 0]), np.array([1.0, 1.0]), 2, 0.5, 0
    )
    assert texts[:2] == ["muslims are welcome here", "muslims are vermin"]
    assert all(t.endswith(" are welcome here") for t in texts[2:]) and set(labels[2:]) == {2}
    assert np.allclose(weights[2:], 0.5)
    texts, labels, _ = counterfactuals(["muslims are vermin"], np.array([0]), np.array([1.0]), 2, 1.0, 0, True)
    assert len(texts) == 3 and labels.tolist() == [0, 0, 0]


def test_every_fit_trains_on_its_prepared_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []

    class Fake:
        def fit(self, texts: list[str], labels: np.ndarray, svc_weight: np.ndarray) -> Fake:
            seen.append(list(texts))
            return self

    recipe = Recipe(harmonise=True, placeholders=("user",), copies=1, copy_weight=0.5)
    with pipeline.preparing(recipe.prepare()):
        pipeline.fit(Fake(), ["User: GAY pride!!!", "you idiot"], np.array([2, 1]))  # type: ignore[arg-type]
    pipeline.fit(Fake(), ["User: GAY pride!!!"], np.array([2]))  # type: ignore[arg-type]
    assert seen[0][:2] == ["gay pride", "you idiot"] and len(seen[0]) == 3 and seen[0][2].endswith(" pride")
    assert seen[1] == ["User: GAY pride!!!"]  # outside preparing(), rows as given


def test_a_missing_source_says_where_it_looked(tmp_path: Path, files: tuple[Path, Path], capsys) -> None:
    path = manifest(tmp_path, *files)
    files[1].unlink()
    assert train.main(["--sources", str(path), "--out", str(tmp_path / "out" / "m.json")]) == 2
    assert "source hatexplain: no file at" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_trains_on_the_manifest_and_reports_each_source(
    tmp_path: Path, files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "models" / "model.json"
    path = manifest(tmp_path, *files, training="harmonise = true\ncounterfactual_copies = 1\n")
    assert train.main(["--sources", str(path), "--out", str(out), "--folds", "2", "--inner-folds", "2"]) == 0
    printed = capsys.readouterr().out
    assert "davidson:" in printed and "hatexplain: held-out split" in printed
    card = json.loads(out.read_text())
    assert [s["name"] for s in card["data"]["sources"]] == ["davidson", "hatexplain"]
    assert (
        card["data"]["sources"][1]["sha256"] == sha(files[1]) and card["data"]["training"]["counterfactual_copies"] == 1
    )
    assert set(card["metrics"]["per_source"]) == {"davidson", "hatexplain"}
    assert card["metrics"]["held_out"]["hatexplain"]["rows"] == 18
    assert len(card["metrics"]["leave_one_source_out"]) == 4
