"""The archive scorer names each row's language and judges it as /moderate does: its language's model, the
unsupported rule, English when in doubt. The texts are our own sentences."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import hatespeech
from hatespeech.archive.score import score_archive as score
from hatespeech.core.labels import LABELS

TEXTS = [
    "have a lovely day everyone",
    "Du bist der dümmste Mensch hier, du Idiot.",
    "Você é um idiota completo, cala a boca seu lixo.",
    "너 진짜 멍청하다 꺼져라 쓰레기 같은 놈",
    "Tu es vraiment un imbécile, va-t'en d'ici tout de suite.",
    "Schönen Abend euch allen im Garten! shut up you stupid faggot",  # mixed: its English sentence judged too
    "ok",
]
LANGUAGES = [("en", "1"), ("de", "1"), ("pt", "1"), ("ko", "1"), ("fr", "0"), ("de", "1"), ("en", "1")]


def test_csv_and_jsonl_name_the_language_and_judge_as_moderate(tmp_path: Path) -> None:
    source = tmp_path / "posts.csv"
    with open(source, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([["id", "text"], *([str(i), t] for i, t in enumerate(TEXTS)), ["99", ""]])
    score(source, tmp_path / "out.csv", workers=1, progress=False)
    with open(tmp_path / "out.csv", encoding="utf-8", newline="") as f:
        out = list(csv.DictReader(f))
    assert [(row["language"], row["language_supported"]) for row in out[:-1]] == LANGUAGES
    assert (out[-1]["language"], out[-1]["language_supported"], out[-1]["skipped"]) == ("", "", "empty text")
    answers = [hatespeech.load().moderate(text) for text in TEXTS]
    for row, answer in zip(out[:-1], answers, strict=True):
        assert (row["label"], row["action"]) == (answer["label"], answer["action"]), row["text"]
        assert [float(row[f"p_{label.replace(' ', '_')}"]) for label in LABELS] == [
            float(f"{answer['scores'][label]:.6g}") for label in LABELS
        ]
    assert out[4]["action"] == "allow" and out[5]["action"] != "allow"

    lines = tmp_path / "posts.jsonl"
    lines.write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS), encoding="utf-8")
    score(lines, tmp_path / "out.jsonl", workers=1, progress=False)
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text("utf-8").splitlines()]
    assert [(r["language"], r["language_supported"]) for r in records] == [(c, s == "1") for c, s in LANGUAGES]
    assert [r["scores"] for r in records] == [a["scores"] for a in answers]
