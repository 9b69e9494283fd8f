"""Archive scoring on this machine against a 2-worker Dask cluster on it, side by side (the aim: ≥ 80 % of local).

    .venv/bin/python bench/archive_dask.py                 # 1,000,000 rows (bench/archive.py's file in /tmp)
    .venv/bin/python bench/archive_dask.py --rows 100000

In one run, on the same file (bench/archive.py makes it: Davidson et al.'s tweets repeated and
perturbed; it stays in /tmp, out of the repository):

1. the local scorer, 2 processes: ``score_archive.py FILE OUT --workers 2``;
2. a real cluster started outside the project (``dask scheduler`` and two ``dask worker
   --nthreads 1``, as testing/dask_cluster.py starts them), then ``score_archive.py FILE DIR
   --scheduler ADDRESS`` (parts) and ``--single-file`` (one file, compared byte for byte with 1.);
3. the local scorer again, to bracket the load that other jobs put on the machine.

Times are wall times of the whole command (imports, model load, connecting, shipping the code and
the model to the workers), not of the cluster's start: a cluster is started once and used for
many archives. The Dask run shares the same 2 cores among the scheduler, the client that cuts the
file, and the two workers.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from archive import make_rows  # noqa: E402  (bench/archive.py)

from testing.dask_cluster import dask_cluster  # noqa: E402  (the tests' real cluster)

SCRIPT = ROOT / "score_archive.py"


def scan_rate(path: Path) -> float:
    """Bytes/s of the client's share of a cluster run: reading the file and cutting it into blocks (from the page
    cache here; an object store gives one stream ~100-200 MB/s)."""
    from hatespeech.archive.blocks import read_start, row_blocks
    from hatespeech.archive.cluster import MIN_BLOCK_BYTES, TASKS_PER_THREAD
    from hatespeech.archive.score import CHUNK_BYTES

    size = max(path.stat().st_size // (TASKS_PER_THREAD * 2), MIN_BLOCK_BYTES)  # as for 2 worker threads
    started = time.perf_counter()
    with open(path, "rb") as raw:
        _, first, carry = read_start(raw, "csv", CHUNK_BYTES)
        total = len(first) + sum(len(block) for block in row_blocks(raw, "csv", size, carry))
    return total / (time.perf_counter() - started)


def timed(argv: list[str], cwd: Path) -> float:
    print("$ " + " ".join(argv), flush=True)
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"failed ({done.returncode}):\n{done.stderr}")
    print(next(line for line in done.stderr.splitlines() if line.startswith("rows: ")), flush=True)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--file", type=Path, help="default: /tmp/hatespeech-archive-bench-ROWS.csv")
    args = parser.parse_args()
    args.file = args.file or Path(f"/tmp/hatespeech-archive-bench-{args.rows}.csv")
    if not args.file.exists():
        print(f"making {args.rows:,} rows in {args.file}", flush=True)
        make_rows(args.file, args.rows)
    print(f"{args.file}: {args.file.stat().st_size / 1e6:,.0f} MB; load average {os.getloadavg()}", flush=True)

    scan = scan_rate(args.file)
    bytes_per_row = args.file.stat().st_size / args.rows
    print(f"cutting it into blocks (the client's part): {scan / 1e6:,.0f} MB/s = {scan / bytes_per_row:,.0f} rows/s")
    work = Path(tempfile.mkdtemp(prefix="archive-dask-bench-"))  # outside the project
    python = sys.executable
    results: dict[str, float] = {}
    fixed: dict[str, float] = {}
    try:
        local = [python, str(SCRIPT), str(args.file), str(work / "local.csv"), "--workers", "2", "--no-progress"]
        results["local, 2 processes"] = timed(local, work)
        (work / "cluster").mkdir()
        with dask_cluster(work / "cluster") as cluster:
            print(f"cluster up at {cluster.address}: 2 workers × 1 thread; load average {os.getloadavg()}", flush=True)
            parts = [python, str(SCRIPT), str(args.file), str(work / "parts"), "--scheduler", cluster.address]
            results["Dask, 2 workers, parts"] = timed([*parts, "--no-progress"], work)
            summary = json.loads((work / "parts" / "_SUMMARY.json").read_text())
            assert summary["rows"] == args.rows, summary
            # The fixed cost of a run (imports, model load; for Dask also connecting and shipping code and model),
            # from a 100-row archive, so that the rates below can also be given without it.
            tiny = work / "tiny.csv"
            with open(args.file, "rb") as f:
                tiny.write_bytes(b"".join(next(f) for _ in range(101)))
            fixed["local"] = timed([python, str(SCRIPT), str(tiny), str(work / "t.csv"), "--no-progress"], work)
            dask_tiny = [python, str(SCRIPT), str(tiny), str(work / "t"), "--scheduler", cluster.address]
            fixed["Dask"] = timed([*dask_tiny, "--no-progress"], work)
            one = [python, str(SCRIPT), str(args.file), str(work / "one.csv"), "--scheduler", cluster.address]
            results["Dask, 2 workers, --single-file"] = timed([*one, "--single-file", "--no-progress"], work)
            same = filecmp.cmp(work / "one.csv", work / "local.csv", shallow=False)
            print(f"--single-file output identical to the local one: {same}", flush=True)
            assert same
        (work / "local.csv").unlink()
        results["local, 2 processes (again)"] = timed(local, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    base = (results["local, 2 processes"] + results["local, 2 processes (again)"]) / 2
    print(f"\nload average after: {os.getloadavg()}")
    print(f"{'run':34} {'seconds':>8} {'rows/s':>9} {'of local':>9}")
    for name, seconds in results.items():
        print(f"{name:34} {seconds:8.1f} {args.rows / seconds:9,.0f} {base / seconds:9.0%}")
    print(f"(local = the mean of the two local runs, {args.rows / base:,.0f} rows/s; goal for Dask: ≥ 80 %)")
    print(f"\nfixed cost per run (100 rows): local {fixed['local']:.1f} s, Dask {fixed['Dask']:.1f} s; without it:")
    for name, seconds in results.items():
        steady, base_steady = seconds - fixed["Dask" if "Dask" in name else "local"], base - fixed["local"]
        print(f"{name:34} {args.rows / steady:9,.0f} rows/s {base_steady / steady:9.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
