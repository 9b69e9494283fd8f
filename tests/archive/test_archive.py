"""The archive scorer: same rows out with scores, label and action; skipped rows kept and counted."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

import score_archive
from hatespeech.archive import blocks as cutter
from hatespeech.archive.score import ADDED_COLUMNS, SCORE_COLUMNS, Summary
from hatespeech.archive.score import score_archive as score
from hatespeech.core.classifier import Classifier
from hatespeech.core.labels import LABELS
from hatespeech.core.policy import Policy

TEXTS = [
    "have a lovely day everyone",
    "shut up you stupid idiot",
    'line one\nline two, with a comma and "quotes"',
    "@someone look http://example.com &amp; sooooo cool 😀",
]


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("workers", [1, 2])
def test_csv_rows_come_back_in_order_with_scores(tmp_path: Path, classifier: Classifier, workers: int) -> None:
    rows = [["id", "text", "author"]]
    for i in range(23):  # several chunks of 5, the last one short
        rows.append([str(i), TEXTS[i % len(TEXTS)], f"user{i}"])
    rows += [["23", "", "u"], ["24", "   \t", "u"], ["25"], ["26", "hi", "u", "extra"]]
    source = write_csv(tmp_path / "posts.csv", rows)
    out = tmp_path / "out.csv"
    summary = score(source, out, workers=workers, chunk_bytes=64, classifier=classifier, progress=False)

    out = read_csv(tmp_path / "out.csv")
    assert list(out[0]) == ["id", "text", "author", *ADDED_COLUMNS]
    assert [r["id"] for r in out] == [str(i) for i in range(27)]
    assert [r["text"] for r in out[:23]] == [r[1] for r in rows[1:24]], "texts kept byte for byte"
    expected = classifier.probabilities([r[1] for r in rows[1:24]])
    policy = Policy.from_card(classifier.card)
    for row, probabilities in zip(out[:23], expected, strict=True):
        assert [float(row[c]) for c in SCORE_COLUMNS] == pytest.approx(probabilities, rel=1e-5)
        decision = policy.decide(probabilities)
        assert (row["label"], row["action"], row["skipped"]) == (decision["label"], decision["action"], "")
    assert [r["skipped"] for r in out[23:26]] == ["empty text", "empty text", "missing text"]
    assert out[25]["text"] == out[25]["author"] == "", "a short row is padded"
    assert all(r["label"] == r["action"] == "" for r in out[23:26])

    assert (summary.rows, summary.scored) == (27, 23)
    assert summary.skipped == {"empty text": 2, "missing text": 1, "row has 4 fields; the header has 3": 1}
    assert sum(summary.actions.values()) == 23
    assert summary.flagged["hate speech"] == sum(policy.decide(p)["categories"]["hate speech"] for p in expected)
    assert summary.examples[0] == "row 24 (after the header): empty text"
    assert "skipped: empty text 2, missing text 1, row has 4 fields" in str(summary)


def test_jsonl_with_bad_lines(tmp_path: Path, classifier: Classifier) -> None:
    lines = [
        json.dumps({"id": 1, "body": TEXTS[1], "meta": {"x": [1, 2]}}),
        "{not json",
        json.dumps({"id": 3}),
        json.dumps({"id": 4, "body": 42}),
        json.dumps(["a", "list"]),
        json.dumps({"id": 6, "body": TEXTS[3]}, ensure_ascii=False),
    ]
    source = tmp_path / "posts.jsonl"
    source.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    summary = score(source, tmp_path / "out.jsonl", column="body", workers=2, classifier=classifier, progress=False)

    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(out) == 6
    assert out[0]["meta"] == {"x": [1, 2]} and list(out[0]["scores"]) == list(LABELS)
    assert out[0]["label"] in LABELS and out[0]["action"] in ("allow", "review", "block")
    assert out[5]["body"] == TEXTS[3] and out[5]["scores"]["neither"] > 0
    assert [o.get("skipped") for o in out] == [
        None,
        "invalid JSON (Expecting property name enclosed in double quotes)",
        "missing text",
        "text is not a string",
        "not a JSON object",
        None,
    ]
    assert out[1]["line"] == "{not json" and out[4]["value"] == ["a", "list"]
    assert (summary.rows, summary.scored, sum(summary.skipped.values())) == (6, 2, 4)


def test_davidson_csv_uses_the_tweet_column(tmp_path: Path, classifier: Classifier) -> None:
    source = write_csv(tmp_path / "d.csv", [["", "class", "tweet"], ["0", "2", TEXTS[0]]])
    score(source, tmp_path / "o.csv", workers=1, classifier=classifier, progress=False)
    assert read_csv(tmp_path / "o.csv")[0]["label"] in LABELS


def test_progress_bar_shows_rate_and_time_left(
    tmp_path: Path, classifier: Classifier, capsys: pytest.CaptureFixture
) -> None:
    source = write_csv(tmp_path / "p.csv", [["text"], *([t] for t in TEXTS)])
    score(source, tmp_path / "o.csv", workers=1, classifier=classifier, progress=True)
    err = capsys.readouterr().err
    assert "scoring: 100%" in err and "rows/s" in err and "B/s" in err and "<00:00" in err


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    source = write_csv(tmp_path / "posts.csv", [["text"], [TEXTS[0]], [""]])
    assert score_archive.main([str(source), str(tmp_path / "out.csv"), "--workers", "1"]) == 0
    err = capsys.readouterr().err
    assert "skipped row 2 (after the header): empty text" in err
    assert "rows: 2 " in err and "scored 1, skipped 1" in err and "flagged: hate speech" in err

    assert score_archive.main([str(source), str(tmp_path / "o.csv"), "--column", "body"]) == 2
    assert "has no column 'body'" in capsys.readouterr().err
    assert score_archive.main([str(tmp_path / "posts.txt"), str(tmp_path / "o.txt")]) == 2
    assert "cannot tell the format" in capsys.readouterr().err
    clash = write_csv(tmp_path / "clash.csv", [["text", "label"], ["hi", "x"]])
    assert score_archive.main([str(clash), str(tmp_path / "o.csv")]) == 2
    assert "already has the columns ['label']" in capsys.readouterr().err


def test_summary_text() -> None:
    summary = Summary(rows=10, scored=9, seconds=2.0)
    summary.skipped["empty text"] = 1
    assert str(summary).startswith("rows: 10 in 2.0 s (5 rows/s); scored 9, skipped 1")


@pytest.mark.parametrize("chunk_bytes", [1, 5, 64, 1 << 16])
def test_blocks_are_cut_only_where_rows_end(tmp_path: Path, chunk_bytes: int) -> None:
    """Workers parse their own blocks: a cut inside a quoted field (newlines, quotes) would break rows."""
    rows = [["id", "text"], *([str(i), TEXTS[i % len(TEXTS)] + "\r\n" * (i % 2)] for i in range(30))]
    with open(tmp_path / "posts.csv", "w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\r\n").writerows(rows)
    data = (tmp_path / "posts.csv").read_bytes().removesuffix(b"\r\n")  # no newline after the last row
    (tmp_path / "posts.csv").write_bytes(data)
    with open(tmp_path / "posts.csv", "rb") as f:
        skipped, first, carry = cutter.read_start(f, "csv", chunk_bytes)
        blocks = list(cutter.row_blocks(f, "csv", chunk_bytes, carry))
    assert skipped == 0 and first + b"".join(blocks) == data
    parsed = [row for block in blocks for row in csv.reader(io.StringIO(block.decode("utf-8"), newline=""))]
    assert next(csv.reader(io.StringIO(first.decode("utf-8"), newline=""))) == rows[0]
    assert parsed == rows[1:]
    assert chunk_bytes > len(data) or len(blocks) > 1
