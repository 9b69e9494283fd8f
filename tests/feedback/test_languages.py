"""Each language's model learns from its own posts' labels: training, model.py retrain and the
candidate's comparison read the feedback of one language (given, or identified for older rows)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from hatespeech.config import Settings
from hatespeech.feedback import SQLiteFeedbackStore
from hatespeech.lifecycle import compare, retrain
from hatespeech.training import feedback as training_feedback

ENGLISH = [
    ("you people are filthy vermin and should leave", "hate speech"),
    ("all of you are disgusting animals, get out", "hate speech"),
    ("what a lovely afternoon in the park", "neither"),
    ("thanks for sharing the recipe with us", "neither"),
]
GERMAN = [
    ("Ihr seid alle dreckiges Pack und gehört weg", "hate speech"),
    ("Diese Leute sind Ungeziefer und sollen verschwinden", "hate speech"),
    ("Vielen Dank für das schöne Rezept, es hat geschmeckt", "neither"),
    ("Heute ist das Wetter wirklich sehr schön und warm", "neither"),
]


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in ("DATABASE_URL", "REDIS_URL", "MODEL_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FEEDBACK_DB_PATH", str(tmp_path / "feedback.sqlite3"))
    monkeypatch.setenv("REVIEW_DB_PATH", str(tmp_path / "review.sqlite3"))
    store = SQLiteFeedbackStore(tmp_path / "feedback.sqlite3")
    for i, (text, label) in enumerate(ENGLISH):
        store.add(text, label, source="b", id=f"en{i}")  # identified
    for i, (text, label) in enumerate(GERMAN):
        store.add(text, label, source="b", id=f"de{i}", language="de" if i % 2 else None)  # given or identified
    store.add("Voilà un texte en français, merci beaucoup", "neither", source="b", id="fr", language="fr")
    store.close()
    return Settings.from_env()


def test_training_reads_one_language_s_rows(settings: Settings) -> None:
    english = training_feedback.load_store(settings)
    assert english.texts == [t for t, _ in ENGLISH] and "5 in other languages left out" in english.origin
    german = training_feedback.load_store(settings, "de")
    assert german.texts == [t for t, _ in GERMAN] and german.class_counts()["hate speech"] == 2
    with pytest.raises(training_feedback.FeedbackError, match="has no rows"):
        training_feedback.load_store(settings, "ko")


def test_rows_written_before_languages_are_identified(settings: Settings) -> None:
    with sqlite3.connect(settings.feedback.db_path) as db:
        db.execute("UPDATE hatespeech_feedback SET language = NULL")  # as the migration leaves older rows
    db.close()
    assert training_feedback.load_store(settings, "de").texts == [t for t, _ in GERMAN]
    with pytest.raises(training_feedback.FeedbackError, match="single class"):  # French: as given, one row
        training_feedback.load_store(settings, "fr")
    assert len(training_feedback.load_store(settings).texts) == len(ENGLISH)


def test_a_csv_s_language_column_chooses_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "board.csv"
    lines = ["text,label,language"] + [f'"{t}",{label},' for t, label in ENGLISH]
    lines += [f'"{t}",{label},de' for t, label in GERMAN]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    german = training_feedback.load_csv(path, "de")
    assert german.texts == [t for t, _ in GERMAN] and german.row_ids == ("line 6", "line 7", "line 8", "line 9")
    assert training_feedback.load_csv(path).texts == [t for t, _ in ENGLISH]  # blank: identified
    with pytest.raises(training_feedback.FeedbackError, match="no row in its `language` column is 'ko'"):
        training_feedback.load_csv(path, "ko")


def test_retrain_and_the_comparison_count_the_english_rows(settings: Settings) -> None:
    assert retrain.store_state(settings)["rows"] == len(ENGLISH)  # model.py retrain: English only
    texts, labels, total = compare.board_rows(settings)
    assert texts == [t for t, _ in ENGLISH] and labels == [label for _, label in ENGLISH] and total == len(ENGLISH)
    texts, _, total = compare.board_rows(settings, limit=2, language="de")
    assert total == len(GERMAN) and texts == [t for t, _ in GERMAN][-2:]  # the newest two


@pytest.mark.slow
def test_train_py_trains_a_language_on_its_own_feedback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``train.py --language de --feedback board.csv``: the German rows join German training data, the
    English ones are left out; the card records them as English's does."""
    import train

    monkeypatch.setattr(training_feedback, "WEIGHTS", (1.0, 4.0))  # the same code, fewer fits
    monkeypatch.setattr(training_feedback, "FOLDS", 2)
    hate = ["diese {w} Zorgs sollen verschwinden", "alle Zorgs sind {w} Ungeziefer", "{w} Blarfs raus aus dem Land"]
    insult = ["halt die Klappe du {w} Trottel", "was für ein {w} Idiot", "du bist so ein {w} Depp"]
    other = ["einen {w} Tag euch allen", "das {w} Spiel beginnt um acht", "danke für das {w} Rezept"]
    fillers = ["große", "neue", "alte", "rote", "laute", "langsame", "echte", "ganze"]
    rows = ""
    for label, templates in (("ABUSE", hate), ("INSULT", insult), ("OTHER", other)):
        for i in range(24):
            rows += f"{templates[i % 3].format(w=fillers[i % len(fillers)])}\t"
            rows += f"{'OTHER' if label == 'OTHER' else 'OFFENSE'}\t{label}\n"
    (tmp_path / "g.txt").write_text(rows, encoding="utf-8")
    sha = hashlib.sha256(rows.encode()).hexdigest()
    manifest = tmp_path / "languages.toml"
    manifest.write_text(
        f"""[de]
title = "made-up German"
licence = "ours"
format = "germeval"
train = {{ paths = ["{tmp_path / "g.txt"}"], sha256 = "{sha}" }}
test = {{ paths = ["{tmp_path / "g.txt"}"], sha256 = "{sha}" }}
test_split = "the training file again"
labels = {{ ABUSE = "hate speech", INSULT = "offensive language", PROFANITY = "offensive language", OTHER = "neither" }}
features = "words"
ngram = [1, 1]
""",
        encoding="utf-8",
    )
    board = tmp_path / "board.csv"
    lines = ["text,label,language"] + [f'"{t}",{label},' for t, label in ENGLISH * 3]
    lines += [f'"{t} {i}",{label},de' for i in range(3) for t, label in GERMAN]
    board.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out" / "model-de.json"
    argv = ["--language", "de", "--sources", str(manifest), "--out", str(out), "--folds", "2", "--inner-folds", "2"]
    code = train.main([*argv, "--feedback", str(board), "--accept-feedback-risk"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "Feedback: 12 rows" in printed and "feedback weight ×" in printed
    card = json.loads(out.read_text())
    assert card["data"]["language"] == "de" and card["feedback"]["rows"] == 12
    assert card["measured_rows"]["feedback"]["rows"] == 12
