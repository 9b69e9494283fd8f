"""What a newcomer's archive does to the local scorer: Excel's BOM, old Mac line endings, an
unterminated quote, the input given as the output; the model and limits from the environment; and
the serving environment (requirements.txt alone) is enough to run it."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import score_archive
from hatespeech.archive.score import ADDED_COLUMNS
from testing.dask_cluster import BOM, SCRIPT, outside_env, requirements_only_env

ROWS = [["id", "text"], ["1", "have a lovely day everyone"], ["2", "shut up you stupid idiot"], ["3", "ça va? 😀"]]


def csv_bytes(rows: list[list[str]], end: str = "\r\n") -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator=end).writerows(rows)
    return out.getvalue().encode("utf-8")


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    argv = [sys.executable, str(SCRIPT), *args, "--no-progress"]
    return subprocess.run(argv, env=env or outside_env(), cwd=cwd, capture_output=True, text=True, timeout=120)


def test_a_bom_is_skipped(tmp_path: Path) -> None:
    """Excel's "CSV UTF-8" starts with a byte-order mark; without skipping it the header reads "\\ufeffid"."""
    (tmp_path / "plain.csv").write_bytes(csv_bytes(ROWS))
    (tmp_path / "excel.csv").write_bytes(BOM + csv_bytes(ROWS))
    for name in ("plain", "excel"):
        assert (
            score_archive.main([str(tmp_path / f"{name}.csv"), str(tmp_path / f"{name}-out.csv"), "--workers", "1"])
            == 0
        )
    out = (tmp_path / "excel-out.csv").read_bytes()
    assert out == (tmp_path / "plain-out.csv").read_bytes()
    assert out.startswith(b"id,text," + ",".join(ADDED_COLUMNS).encode())

    lines = [json.dumps({"id": 1, "text": "have a lovely day"}), json.dumps({"id": 2, "text": "you idiot"})]
    (tmp_path / "excel.jsonl").write_bytes(BOM + "\n".join(lines).encode())
    assert score_archive.main([str(tmp_path / "excel.jsonl"), str(tmp_path / "out.jsonl"), "--workers", "1"]) == 0
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [o["id"] for o in out] == [1, 2] and all("skipped" not in o for o in out)


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_cr_only_line_endings_are_an_error(tmp_path: Path, kind: str, capsys: pytest.CaptureFixture) -> None:
    """Rows are cut at LF: a file of CR-ended rows would read as one row (0 rows scored, no word why)."""
    if kind == "csv":
        data = csv_bytes(ROWS, end="\r")
    else:
        data = "\r".join(json.dumps({"id": i, "text": t}) for i, t in enumerate(["a", "b", "c"])).encode()
    (tmp_path / f"mac.{kind}").write_bytes(data)
    assert score_archive.main([str(tmp_path / f"mac.{kind}"), str(tmp_path / f"out.{kind}"), "--workers", "1"]) == 2
    assert "rows end with a carriage return alone (CR, old Mac style)" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"mac.{kind}"], "no output, not even a partial one"


def test_a_cr_inside_quotes_or_before_lf_is_fine(tmp_path: Path) -> None:
    rows = [["id", "text"], ["1", "one\rtwo"], ["2", "three\r\nfour"], ["3", "five"]]
    (tmp_path / "ok.csv").write_bytes(csv_bytes(rows, end="\r\n"))
    assert score_archive.main([str(tmp_path / "ok.csv"), str(tmp_path / "out.csv"), "--workers", "1"]) == 0
    with open(tmp_path / "out.csv", encoding="utf-8", newline="") as f:
        assert [r["text"] for r in csv.DictReader(f)] == ["one\rtwo", "three\r\nfour", "five"]


@pytest.mark.parametrize("chunk_bytes", ["16", "65536"])
def test_an_unterminated_quote_is_an_error(tmp_path: Path, chunk_bytes: str, capsys: pytest.CaptureFixture) -> None:
    """Read on, the quote would swallow every row after it into one text, scored as one row: refused instead."""
    data = csv_bytes(ROWS[:2]) + b'2,"you forgot to close this\r\n3,so this row\r\n4,and this one vanish\r\n'
    (tmp_path / "bad.csv").write_bytes(data)
    argv = [str(tmp_path / "bad.csv"), str(tmp_path / "out.csv"), "--workers", "1", "--chunk-bytes", chunk_bytes]
    assert score_archive.main(argv) == 2
    err = capsys.readouterr().err
    assert "ends inside a quoted field" in err and "'2,\"you forgot to close this" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]


def test_the_output_cannot_be_the_input(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Opening the output would truncate the input to 0 bytes before a single row is read: refused, through
    links too, and nothing is written."""
    source = tmp_path / "posts.csv"
    source.write_bytes(csv_bytes(ROWS))
    (tmp_path / "link.csv").symlink_to(source)
    os.link(source, tmp_path / "hardlink.csv")
    for target in (source, tmp_path / "link.csv", tmp_path / "hardlink.csv", tmp_path / "." / "posts.csv"):
        assert score_archive.main([str(source), str(target), "--workers", "1"]) == 2
        assert "is the input" in capsys.readouterr().err
    assert source.read_bytes() == csv_bytes(ROWS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hardlink.csv", "link.csv", "posts.csv"]


def test_as_a_library_it_takes_the_servers_settings(tmp_path: Path) -> None:
    """MODEL_PATH, MAX_TEXT_CHARS and THRESHOLDS, read from the environment as the server reads them."""
    shutil.copytree(SCRIPT.parent / "models", tmp_path / "elsewhere", ignore=shutil.ignore_patterns("report"))
    rows = [*ROWS, ["4", "a text longer than thirty characters, for sure"]]
    (tmp_path / "posts.csv").write_bytes(csv_bytes(rows))
    code = "from hatespeech.archive.score import score_archive; score_archive('posts.csv', 'out.csv', progress=False)"
    env = outside_env() | {
        "PYTHONPATH": str(SCRIPT.parent),
        "MODEL_PATH": str(tmp_path / "elsewhere" / "model.json"),
        "MAX_TEXT_CHARS": "30",
        "THRESHOLDS": '{"hate speech": {"review": 0, "block": 0}}',
    }
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with open(tmp_path / "out.csv", encoding="utf-8", newline="") as f:
        out = list(csv.DictReader(f))
    assert [r["action"] for r in out] == ["block", "block", "block", ""]
    assert out[3]["skipped"] == "text longer than 30 characters"

    (tmp_path / "out.csv").unlink()  # else refused before the model is read: it exists
    env["MODEL_PATH"] = str(tmp_path / "nowhere" / "model.json")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 1 and "nowhere" in done.stderr


def test_it_runs_with_the_serving_requirements_alone(tmp_path: Path) -> None:
    """What the image installs (requirements.txt) is enough: the progress bar's tqdm among it, no pandas."""
    (tmp_path / "posts.csv").write_bytes(csv_bytes(ROWS))
    env = requirements_only_env(tmp_path)
    blocked = subprocess.run([sys.executable, "-c", "import pandas"], env=env, capture_output=True, text=True)
    assert blocked.returncode == 1 and "No module named 'pandas' (its distribution is not in" in blocked.stderr, (
        "the check itself works"
    )
    done = run("posts.csv", "out.csv", "--workers", "2", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "rows: 3 " in done.stderr


def test_the_server_and_a_local_run_never_import_dask() -> None:
    """Dask is for --scheduler only: the image does not install it (requirements-train.txt pins it)."""
    code = "import sys, app, score_archive; print(sorted({m.split('.')[0] for m in sys.modules} & DASK))"
    code = code.replace("DASK", "{'dask', 'distributed', 'fsspec'}")
    done = subprocess.run([sys.executable, "-c", code], cwd=SCRIPT.parent, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_scheduler_without_dask_installed_says_what_to_install(tmp_path: Path) -> None:
    (tmp_path / "posts.csv").write_bytes(csv_bytes(ROWS))
    done = run("posts.csv", "scored", "--scheduler", "local", env=requirements_only_env(tmp_path), cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "--scheduler needs Dask here (No module named 'distributed'" in done.stderr
    assert "pip install -r requirements-train.txt" in done.stderr


def test_an_existing_output_is_refused_unless_overwrite(tmp_path: Path) -> None:
    """The local run follows the cluster's rule: an existing TARGET is kept (exit 2, named) unless --overwrite."""
    (tmp_path / "posts.csv").write_bytes(csv_bytes(ROWS))
    (tmp_path / "out.csv").write_text("yesterday's results\n")
    done = run("posts.csv", "out.csv", "--workers", "1", cwd=tmp_path)
    assert done.returncode == 2 and "out.csv exists: pass --overwrite" in done.stderr, done.stderr
    assert (tmp_path / "out.csv").read_text() == "yesterday's results\n"

    done = run("posts.csv", "out.csv", "--workers", "1", "--overwrite", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    with open(tmp_path / "out.csv", encoding="utf-8", newline="") as f:
        assert [r["id"] for r in csv.DictReader(f)] == ["1", "2", "3"]


def test_a_semicolon_separated_csv_is_named_as_such(tmp_path: Path) -> None:
    """Excel in many locales saves `;`-separated "CSV": the header reads as one column, and "pass --column
    NAME" would send the user looking for a column that is there; the message names the separator."""
    (tmp_path / "posts.csv").write_text("id;text\n1;have a lovely day\n", encoding="utf-8")
    done = run("posts.csv", "out.csv", "--workers", "1", cwd=tmp_path)
    assert done.returncode == 2
    assert "seems separated by ';', not commas" in done.stderr and "--column" not in done.stderr, done.stderr
    assert not (tmp_path / "out.csv").exists()
