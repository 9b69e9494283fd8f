"""How long a flagged ``/moderate`` with an id takes while its store is stopped (issue 22, issue 23 item 6).

    .venv/bin/python bench/stall.py [--store redis|postgres] [--seconds 12] [--clients 4]

One production server (gunicorn, two workers) with ``REDIS_URL`` (or ``DATABASE_URL``) pointing at
a server of its own, and alerts on (a local receiver), so every store written while answering is
in play: the review queue, the alert store, the integrations' keys. ``--clients`` clients send
flagged posts, each with a new id, for ``--seconds`` before the stall (the baseline), then while
the store's server is stopped with ``SIGSTOP``; then ``SIGCONT``. Prints, for each phase, the calls,
the failures and the wall time per call at the client (p50, p95, max, in ms), and how long after
``SIGCONT`` the last post stalled reached the review queue. For ``postgres`` it also times
``/predict`` during the stall (it must never wait on the store).
"""

from __future__ import annotations

import argparse
import http.client
import json
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the checkout's packages (hatespeech, testing)

from testing.alerting import SECRET, Receiver  # noqa: E402
from testing.stalls import HATEFUL, OwnRedis, postmaster_pid, stopped  # noqa: E402
from testing.support import gunicorn  # noqa: E402

TOKEN = "bench-stall-token"
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


def run(port: int, seconds: float, clients: int, prefix: str, path: str = "/moderate") -> tuple[list[float], int]:
    """Send flagged posts from ``clients`` threads for ``seconds``: (wall times in ms, failures)."""
    times: list[float] = []
    failures = [0]
    lock = threading.Lock()
    until = time.monotonic() + seconds

    def client(number: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        i = 0
        while time.monotonic() < until:
            body = json.dumps(
                {"text": HATEFUL, "id": f"{prefix}-{number}-{i}"} if path == "/moderate" else {"text": HATEFUL}
            )
            start = time.perf_counter()
            try:
                conn.request("POST", path, body, HEADERS)
                response = conn.getresponse()
                data = response.read()
                ok = response.status == 200 and (path != "/moderate" or json.loads(data)["action"] != "allow")
            except OSError:
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            elapsed = (time.perf_counter() - start) * 1000
            with lock:
                times.append(elapsed)
                failures[0] += not ok
            i += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times, failures[0]


def row(name: str, times: list[float], failures: int) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"| {name} | {len(times)} | {failures} | {statistics.median(ordered):.1f} | {p95:.1f} | {ordered[-1]:.1f} |"


def queued_count(port: int) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    total = -1
    conn.request("GET", "/review/queue?limit=1", headers=HEADERS)
    response = conn.getresponse()
    data = response.read()
    if response.status == 200:
        total = json.loads(data)["total"]
    conn.close()
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", choices=("redis", "postgres"), default="redis")
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args(argv)
    receiver = Receiver()
    with tempfile.TemporaryDirectory(prefix="hatespeech-stall-") as folder:
        tmp = Path(folder)
        env = {
            "FIREFLY_TOKEN": TOKEN,
            "ALERT_WEBHOOK_URL": receiver.url + "/hook",
            "ALERT_FORMAT": "json",
            "ALERT_SECRET": SECRET,
            "ALERT_DB_PATH": str(tmp / "alerts.sqlite3"),
            "WEB_CONCURRENCY": "2",
        }
        if args.store == "redis":
            redis = OwnRedis(tmp)
            env |= {"REDIS_URL": redis.url, "ALERT_SPOOL_PATH": str(tmp / "alerts-spool.sqlite3")}
            pid: Callable[[], int] = lambda: redis.proc.pid  # noqa: E731
            close: Callable[[], None] = redis.close
            context = None
        else:
            from testing.services import postgres_server

            context = postgres_server()
            url = context.__enter__()
            env["DATABASE_URL"] = url
            pid = lambda: postmaster_pid(url)  # noqa: E731
            close = lambda: context.__exit__(None, None, None)  # noqa: E731
        try:
            with gunicorn(tmp, **env) as server:
                server.wait_ready()
                warm = run(server.port, 2.0, args.clients, "warm")  # connections opened, caches warm
                baseline = run(server.port, args.seconds, args.clients, "baseline")
                target = pid()
                with stopped(target):
                    stalled = run(server.port, args.seconds, args.clients, "stalled")
                    predict = run(server.port, 2.0, 1, "predict", "/predict") if args.store == "postgres" else None
                resumed = time.monotonic()
                expected = sum(len(times) - failed for times, failed in (warm, baseline, stalled))  # each id once
                while queued_count(server.port) < expected and time.monotonic() - resumed < 120:
                    time.sleep(0.05)
                caught_up = time.monotonic() - resumed
                final = queued_count(server.port)
        finally:
            close()
            receiver.close()
    print(f"{platform.node()}: {args.store} stopped {args.seconds:.0f} s, {args.clients} clients, 2 workers")
    print("| phase | calls | failed | p50 ms | p95 ms | max ms |")
    print("|---|---|---|---|---|---|")
    print(row("before the stall", *baseline))
    print(row(f"{args.store} stopped (SIGSTOP)", *stalled))
    if predict is not None:
        print(row("/predict while stopped", *predict))
    print(f"queue after SIGCONT: {final} of {expected} posts, the last {caught_up:.1f} s after SIGCONT")
    return 0 if final == expected and stalled[1] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
