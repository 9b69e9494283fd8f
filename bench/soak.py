"""Soak: the production server at half its measured maximum rate for 10 minutes.

    .venv/bin/python bench/soak.py [--minutes 10] [--connections 8] [--threads 2]

Starts gunicorn exactly as `make serve` does (committed model, on a free loopback port),
measures the maximum rate with wrk (POST /predict, a few made-up texts in turn), warms up for a
minute, then drives the server at half the maximum rate with wrk, paced by a Lua ``delay()``,
and reads each worker's VmRSS (/proc/<pid>/status) at the start and the end of the soak. It passes with zero errors
(socket errors, timeouts, non-2xx) and worker RSS growth of at most 5%; the exit status says
which, and the last line is a Markdown summary for bench/RESULTS.md.

Needs wrk (`apt-get install -y wrk`). Not a CI test: it takes the whole duration.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the checkout's packages, as `python -m` from the root would find them
from testing.services import free_port  # noqa: E402 (the tests' helper: one copy)

TEXTS = [
    "Please respect each other.",
    "What a lovely day for a walk in the park",
    "shut up you stupid idiot",
    "@someone check this out http://example.com #news",
    "I can't believe the game last night, what a finish!!!",
]
LUA = """
local bodies = {%(bodies)s}
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
function request()
  i = i %% #bodies + 1
  return wrk.format(nil, "/predict", nil, bodies[i])
end
function delay() return %(delay_ms)d end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'SOAK {"requests": %%d, "seconds": %%.3f, "connect": %%d, "read": %%d, "write": %%d, "status": %%d, ' ..
    '"timeout": %%d, "p50_ms": %%.2f, "p99_ms": %%.2f, "max_ms": %%.2f}\\n',
    summary.requests, summary.duration / 1e6, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
"""


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE).group(1))


def workers(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return sorted(int(pid) for pid in children)


def wrk(url: str, seconds: int, connections: int, threads: int, delay_ms: int, folder: Path) -> dict:
    script = folder / f"soak-{delay_ms}.lua"
    bodies = ", ".join(json.dumps(json.dumps({"text": t})) for t in TEXTS)
    script.write_text(LUA % {"bodies": bodies, "delay_ms": delay_ms})
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "-s", str(script), url]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    result = json.loads(out.split("SOAK ", 1)[1].splitlines()[0])
    result["rate"] = result["requests"] / result["seconds"]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-seconds", type=int, default=20, help="length of the maximum-rate run")
    args = parser.parse_args(argv)
    if not shutil.which("wrk"):
        sys.exit("soak: wrk is not installed (apt-get install -y wrk)")

    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("FIREFLY_TOKEN", "MODEL_PATH", "HOST")}
    env.update(PORT=str(port), PYTHONPATH=str(ROOT), LOG_LEVEL="warning")
    gunicorn = Path(sys.executable).parent / "gunicorn"
    folder = Path(tempfile.mkdtemp(prefix="soak-"))
    log = open(folder / "gunicorn.log", "wb")  # noqa: SIM115 (closed below)
    server = subprocess.Popen(
        [str(gunicorn), "-c", "python:hatespeech.service.gunicorn_conf", "app:application"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(url + "/health", timeout=2).close()
                break
            except OSError:
                time.sleep(0.1)
        peak = wrk(url, args.max_seconds, args.connections, args.threads, 0, folder)
        target = peak["rate"] / 2
        # Each connection sends a request, waits for the answer, then waits delay() ms. A first
        # minute at a guessed delay warms the workers up (their RSS grows to a plateau) and
        # shows how long an answer takes at this rate; the delay is then corrected for it.
        guess = 1000 * args.connections / target
        warm = wrk(url, 60, args.connections, args.threads, round(guess), folder)
        answer_ms = max(0.0, 1000 * args.connections / warm["rate"] - round(guess))
        delay_ms = max(1, round(guess - answer_ms))
        pids = workers(server.pid)
        before = {pid: rss_kib(pid) for pid in pids}
        soak = wrk(url, round(args.minutes * 60), args.connections, args.threads, delay_ms, folder)
        after = {pid: rss_kib(pid) for pid in workers(server.pid)}
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        log.close()

    errors = sum(soak[k] for k in ("connect", "read", "write", "status", "timeout"))
    same_workers = sorted(after) == pids
    growth = max((after[pid] - before[pid]) / before[pid] for pid in pids) if same_workers else float("inf")
    ok = errors == 0 and same_workers and growth <= 0.05
    print(
        json.dumps({"peak": peak, "warm_up": warm, "target_rate": target, "delay_ms": delay_ms, "soak": soak}, indent=2)
    )
    print(f"worker RSS KiB before {before} after {after}")
    print(
        f"| {args.minutes:g} min | peak {peak['rate']:.0f} req/s | soak {soak['rate']:.0f} req/s "
        f"({soak['requests']} requests) | errors {errors} | p50 {soak['p50_ms']:.1f} ms, p99 {soak['p99_ms']:.1f} ms "
        f"| worker RSS growth {100 * growth:+.2f}% (max over {len(pids)} workers) | {'PASS' if ok else 'FAIL'} |"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
