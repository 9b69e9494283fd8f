"""What importing a library adds to a serving worker: resident memory and wall time, after ``app`` is loaded.

    .venv/bin/python bench/import_cost.py huey,huey.storage --site /tmp/x/lib/python3.11/site-packages
    .venv/bin/python bench/import_cost.py pydantic_settings --site /tmp/x/lib/python3.11/site-packages --also redis

A candidate dependency is tried from a venv of its own (``--site``, searched after this checkout's), so the
shared venv is never changed. Each round is a fresh interpreter: ``import app`` (the model loaded, as a
preloaded gunicorn worker holds it), then ``--also`` (modules a deployment imports anyway, such as redis
with ``REDIS_URL``), then the candidate. RSS from /proc/self/status (Linux), before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import gc, importlib, json, sys, time
sys.path.append({site!r})
def rss_kb():
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS:"))
import app
for name in {also!r}:
    importlib.import_module(name)
gc.collect()
before = rss_kb()
started = time.perf_counter()
for name in {names!r}:
    importlib.import_module(name)
took = time.perf_counter() - started
gc.collect()
print(json.dumps({{"rss_kb": before, "added_kb": rss_kb() - before, "ms": took * 1000}}))
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", help="comma-separated: what to import, in order")
    parser.add_argument("--site", default="", help="a site-packages folder that holds the candidate")
    parser.add_argument("--also", default="", help="comma-separated: imported before the measure (not counted)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    names, also = [n for n in args.modules.split(",") if n], [n for n in args.also.split(",") if n]
    code = PROBE.format(site=args.site, also=also, names=names)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        env = {  # the service's files in a folder of the run, never the checkout's data/
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "FEEDBACK_DB_PATH": f"{tmp}/feedback.sqlite3",
            "REVIEW_DB_PATH": f"{tmp}/review.sqlite3",
            "ALERT_DB_PATH": f"{tmp}/alerts.sqlite3",
            "PROMETHEUS_MULTIPROC_DIR": tmp,
        }
        for _ in range(args.rounds):
            done = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True)
            if done.returncode:
                raise SystemExit(done.stderr)
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    added = statistics.median(r["added_kb"] for r in rows) / 1024
    ms = [round(r["ms"]) for r in rows]
    base = statistics.median(r["rss_kb"] for r in rows) / 1024
    print(
        f"{args.modules} (after app{', ' + args.also if also else ''}: {base:.1f} MB RSS): "
        f"+{added:.1f} MB RSS (median of {len(rows)}), import ms per round {ms}"
    )


if __name__ == "__main__":
    main()
