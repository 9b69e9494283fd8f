"""Clusters of one test each: a worker killed mid-job (Dask recomputes its blocks on the other one, and every
row is in the output once), and ``--scheduler local``."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

import score_archive
from testing.dask_cluster import SCRIPT, dask_cluster, jsonl_archive, outside_env, read_parts, run


@pytest.mark.slow
def test_a_worker_killed_mid_job_loses_no_row_and_doubles_none(tmp_path: Path) -> None:
    rows = 4000
    with open(tmp_path / "posts.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "text"])
        writer.writerows([i, f"post number {i}, quoted\nover two lines"] for i in range(rows))
    scored = tmp_path / "scored"
    with dask_cluster(tmp_path) as cluster:
        argv = [sys.executable, str(SCRIPT), "posts.csv", "scored", "--scheduler", cluster.address]
        argv += ["--block-bytes", "1500", "--chunk-bytes", "500", "--no-progress"]  # ~140 tasks
        job = subprocess.Popen(argv, cwd=tmp_path, env=outside_env(), stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 120
            while len(list(scored.glob("part-*.csv"))) < 3 and job.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            done_before = len(list(scored.glob("part-*.csv")))
            unfinished = job.poll() is None and not (scored / "_SUMMARY.json").exists()
            cluster.kill_worker(0)
            _, err = job.communicate(timeout=120)
        finally:
            if job.poll() is None:
                job.kill()
                job.wait()
    assert unfinished, f"the job ended before the kill ({done_before} parts): nothing was tested"
    assert job.returncode == 0, err
    ids = [int(row[0]) for row in read_parts(scored, "csv")[1:]]
    assert ids == list(range(rows)), "every row once, in order"
    summary = json.loads((scored / "_SUMMARY.json").read_text(encoding="utf-8"))
    assert summary["rows"] == summary["scored"] == rows
    assert not list(scored.glob("*.tmp")), "no half-written part left behind"
    assert done_before < summary["parts"]
    log = (tmp_path / "scheduler.log").read_text()
    assert log.index("Remove worker addr") < log.index("Remove client"), "the worker was lost during the job"


def test_a_local_cluster(tmp_path: Path) -> None:
    """``--scheduler local``: a LocalCluster on this machine, for trying it out or one big machine."""
    source = jsonl_archive(tmp_path / "posts.jsonl", 40)
    assert score_archive.main([str(source), str(tmp_path / "local.jsonl"), "--workers", "1", "--no-progress"]) == 0
    argv = [str(source), "one.jsonl", "--scheduler", "local", "--workers", "1", "--single-file"]
    done = run([*argv, "--block-bytes", "2000", "--no-progress"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "one.jsonl").read_bytes() == (tmp_path / "local.jsonl").read_bytes()
