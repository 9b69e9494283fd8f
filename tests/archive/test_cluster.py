"""score_archive.py --scheduler: a real `dask scheduler` and two `dask worker` processes on loopback,
started outside the project, give the local scorer's rows: as numbered parts, or byte for byte with
--single-file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import score_archive
from hatespeech.archive.cluster import score_on_cluster
from hatespeech.archive.score import ADDED_COLUMNS
from testing.dask_cluster import (
    SCRIPT,
    Cluster,
    assert_same_rows,
    csv_archive,
    dask_cluster,
    jsonl_archive,
    outside_env,
    read_parts,
    read_rows,
    run,
)
from testing.support import free_port

SMALL = ["--block-bytes", "2000", "--chunk-bytes", "600", "--no-progress"]  # many tasks from a small archive


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with dask_cluster(tmp_path_factory.mktemp("dask")) as started:
        yield started


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside the project, where the user runs the command."""
    assert not tmp_path.resolve().is_relative_to(SCRIPT.parent)
    return tmp_path


def local(source: Path, target: Path, *extra: str) -> None:
    assert score_archive.main([str(source), str(target), "--workers", "1", "--no-progress", *extra]) == 0


def test_the_workers_cannot_import_the_project(cluster: Cluster, outside: Path) -> None:
    """What makes the next tests mean something: the code the workers run came from score_archive.py."""
    done = subprocess.run(
        [os.sys.executable, "-c", "import hatespeech"], cwd=outside, env=outside_env(), capture_output=True
    )
    assert done.returncode == 1 and b"No module named 'hatespeech'" in done.stderr


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_parts_hold_the_local_rows(cluster: Cluster, outside: Path, kind: str) -> None:
    source = (csv_archive if kind == "csv" else jsonl_archive)(outside / f"posts.{kind}", 300)
    local(source, outside / f"local.{kind}")
    done = run([str(source), "scored", "--scheduler", cluster.address, *SMALL], outside)
    assert done.returncode == 0, done.stderr

    parts = sorted((outside / "scored").glob("part-*"))
    assert len(parts) > 4, "cut into many tasks"
    assert [p.name for p in parts] == [f"part-{i:06d}.{kind}" for i in range(len(parts))]
    expected = read_rows(outside / f"local.{kind}", kind)
    if kind == "csv":
        assert all(read_rows(p, kind)[0] == ["id", "text", "author", *ADDED_COLUMNS] for p in parts)
    assert_same_rows(read_parts(outside / "scored", kind), expected, range(3, 6) if kind == "csv" else None)

    summary = json.loads((outside / "scored" / "_SUMMARY.json").read_text(encoding="utf-8"))
    rows = len(expected) - (kind == "csv")
    assert (summary["rows"], summary["parts"]) == (rows, len(parts))
    assert summary["scored"] + sum(summary["skipped"].values()) == rows
    assert f"rows: {rows:,} " in done.stderr and "dashboard http://127.0.0.1:" in done.stderr
    # Both workers got the code from this command, and loaded the model once each for all their tasks.
    logs = [(cluster.folder / f"worker{i}.log").read_text() for i in range(2)]
    for log in logs:
        assert "Starting Worker plugin" in log and "hatespeech-" in log
    assert [log.count("hatespeech: model") for log in logs] == [1, 1]


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_single_file_is_the_local_output_byte_for_byte(cluster: Cluster, outside: Path, kind: str) -> None:
    source = (csv_archive if kind == "csv" else jsonl_archive)(outside / f"posts.{kind}", 200)
    local(source, outside / f"local.{kind}")
    url = f"file://{outside}/one.{kind}"  # an fsspec URL, as s3://… would be
    done = run([f"file://{source}", url, "--scheduler", cluster.address, "--single-file", *SMALL], outside)
    assert done.returncode == 0, done.stderr
    assert (outside / f"one.{kind}").read_bytes() == (outside / f"local.{kind}").read_bytes()
    assert sorted(p.name for p in outside.iterdir()) == sorted(["local." + kind, "one." + kind, "posts." + kind])


def test_existing_target_is_refused_unless_overwrite(
    cluster: Cluster, outside: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(outside)
    source = csv_archive(outside / "posts.csv", 60)
    argv = [str(source), "scored", "--scheduler", cluster.address, *SMALL]
    assert score_archive.main(argv) == 0
    (outside / "scored" / "part-000099.csv").write_text("stale part of a longer run")
    assert score_archive.main(argv) == 2
    assert "scored exists: pass --overwrite" in capsys.readouterr().err

    assert score_archive.main([*argv, "--overwrite"]) == 0
    assert not (outside / "scored" / "part-000099.csv").exists(), "stale parts are cleared"
    (outside / "scored" / "notes.txt").write_text("mine")
    assert score_archive.main([*argv, "--overwrite"]) == 2
    assert "notes.txt" in capsys.readouterr().err
    assert (outside / "scored" / "notes.txt").read_text() == "mine"

    assert (
        score_archive.main([str(source), "scored", "--scheduler", cluster.address, "--single-file", "--overwrite"]) == 2
    )
    assert "scored is a folder: --single-file writes one file" in capsys.readouterr().err
    (outside / "file").write_text("a file where the folder goes")
    assert score_archive.main([str(source), "file", "--scheduler", cluster.address, "--overwrite", *SMALL]) == 0
    assert (outside / "file" / "_SUMMARY.json").is_file()


def test_output_that_is_the_input_is_refused(
    cluster: Cluster, outside: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(outside)
    source = csv_archive(outside / "posts.csv", 20)
    before = source.read_bytes()
    (outside / "link.csv").symlink_to(source)
    for target in ("posts.csv", "link.csv", f"file://{source}"):
        argv = [str(source), target, "--scheduler", cluster.address, "--single-file", "--overwrite"]
        assert score_archive.main(argv) == 2
        assert "is the input" in capsys.readouterr().err
    assert source.read_bytes() == before


def test_unreachable_scheduler_gets_a_clear_message(outside: Path) -> None:
    source = csv_archive(outside / "posts.csv", 5)
    (outside / "scored").mkdir()
    (outside / "scored" / "part-000000.csv").write_text("an earlier run's")
    argv = [str(source), "scored", "--scheduler", f"tcp://127.0.0.1:{free_port()}", "--overwrite"]
    done = run(argv, outside, timeout=60)
    assert done.returncode == 2
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:" in done.stderr and "Traceback" not in done.stderr
    assert (outside / "scored" / "part-000000.csv").read_text() == "an earlier run's", "nothing cleared before"


def test_progress_shows_the_clusters_rows_per_second(
    cluster: Cluster, outside: Path, capsys: pytest.CaptureFixture
) -> None:
    source = csv_archive(outside / "posts.csv", 100)
    summary = score_on_cluster(
        str(source), str(outside / "scored"), scheduler=cluster.address, block_bytes=2000, progress=True
    )
    err = capsys.readouterr().err
    assert summary.rows == 105  # 100 posts and 5 empty rows
    assert "scoring on Dask: 100%" in err and "rows/s" in err and "dashboard http://127.0.0.1:" in err


def test_a_block_that_cannot_be_read_stops_the_run_with_its_reason(
    cluster: Cluster, outside: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error on a worker (here: bytes that are not UTF-8, deep in the file) reaches the user as one line."""
    monkeypatch.chdir(outside)
    source = csv_archive(outside / "posts.csv", 200)
    source.write_bytes(source.read_bytes() + b'999,"caf\xe9 in Latin-1",x\r\n')
    assert score_archive.main([str(source), "scored", "--scheduler", cluster.address, *SMALL]) == 2
    err = capsys.readouterr().err
    assert "score_archive: the archive is not UTF-8 (invalid continuation byte" in err
    assert not (outside / "scored" / "_SUMMARY.json").exists(), "an unfinished run has no summary"


def test_the_workers_got_the_serving_core_and_the_archive_code_only(cluster: Cluster, outside: Path) -> None:
    from distributed import Client

    score_on_cluster(str(csv_archive(outside / "posts.csv", 10)), str(outside / "scored"), scheduler=cluster.address)

    def shipped() -> dict[str, object]:  # runs on each worker (defined here: sent by value)
        import importlib.util

        import hatespeech

        names = ("core", "archive", "training", "service")
        found = {name: importlib.util.find_spec(f"hatespeech.{name}") is not None for name in names}
        return {"from": hatespeech.__file__, **found}

    with Client(cluster.address, timeout=30) as client:
        answers = client.run(shipped)
    assert len(answers) == 2
    for answer in answers.values():
        assert ".zip" in str(answer.pop("from"))
        assert answer == {"core": True, "archive": True, "training": False, "service": False}


def test_threats_are_flagged_on_the_cluster_as_locally(cluster: Cluster, outside: Path) -> None:
    """The workers run /moderate's threat check (shipped with the serving core) and the other languages' models
    (shipped with the model): same threat and language columns, and actions."""
    german, french = (
        "Du bist der dümmste Mensch hier du Idiot.",
        "Tu es vraiment un imbécile va-t'en d'ici.",
    )  # no commas: CSV
    texts = ["I am going to kill you", "this joke killed me", "have a lovely day", "I will k!ll you", german, french]
    texts *= 20
    source = outside / "threats.csv"
    source.write_text("id,text\n" + "".join(f"{i},{t}\n" for i, t in enumerate(texts)), encoding="utf-8")
    local(source, outside / "local.csv")
    done = run([str(source), "one.csv", "--scheduler", cluster.address, "--single-file", *SMALL], outside)
    assert done.returncode == 0, done.stderr
    assert (outside / "one.csv").read_bytes() == (outside / "local.csv").read_bytes()
    rows = read_rows(outside / "one.csv", "csv")
    threat = ADDED_COLUMNS.index("threat") + 2
    assert rows[0][threat] == "threat" and [r[threat] for r in rows[1:7]] == ["1", "0", "0", "1", "0", "0"]
    assert [tuple(r[-2:]) for r in rows[1:7]] == [("en", "1")] * 4 + [("de", "1"), ("fr", "0")]
    assert rows[1][ADDED_COLUMNS.index("action") + 2] in ("review", "block")
    assert "threat 40" in done.stderr


def test_a_local_cluster_leaves_nothing_in_the_temporary_folder(tmp_path: Path) -> None:
    """``--scheduler local`` leaves neither the code's ``hatespeech-<hash>.zip`` nor Dask's ``dask-scratch-space/``
    in the temporary folder.

    Its own TMPDIR (what tempfile and Dask read), so the listing is this run's alone on a shared machine."""
    source = csv_archive(tmp_path / "posts.csv", 40)
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    argv = [sys.executable, str(SCRIPT), str(source), "scored.csv", "--scheduler", "local", "--workers", "1"]
    env = outside_env() | {"TMPDIR": str(temporary)}
    done = subprocess.run(
        [*argv, "--single-file", "--no-progress"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "scored.csv").stat().st_size > 0
    assert sorted(p.name for p in temporary.iterdir()) == []
