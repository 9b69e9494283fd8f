"""Promotion and rollback under load: the Dockerfile's CMD serving, model.py switching models.

    .venv/bin/python bench/promote.py CANDIDATE_CARD [--rate 25] [--poll 5]

Starts ``python -m hatespeech.service.launch`` (nginx in front of gunicorn, as the image does) on a
free port with a fresh feedback database, sends ``/moderate`` at ``--rate`` requests per second from
a few threads, runs ``model.py promote CANDIDATE_CARD --force``, waits until every answer over one
second carries the candidate's sha256, then ``model.py rollback`` likewise. Prints how long each
command ran, the seconds from its start to the last answer from the model it replaced, and the
requests that failed (any status but 200, or no answer).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = json.loads((ROOT / "models" / "model.json").read_text())["sha256"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Load:
    """``rate`` requests per second to /moderate; records (time, sha256 or None for a failure)."""

    def __init__(self, url: str, rate: float, threads: int = 4) -> None:
        self.url, self.rate, self.threads = url, rate, threads
        self.answers: list[tuple[float, str | None]] = []
        self.latencies: list[tuple[float, float]] = []  # (start, seconds)
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def _one(self) -> str | None:
        body = json.dumps({"text": "you are so dumb lol", "record": False}).encode()
        try:
            with urllib.request.urlopen(urllib.request.Request(self.url + "/moderate", body), timeout=10) as reply:
                return str(json.loads(reply.read())["model"]["sha256"]) if reply.status == 200 else None
        except (OSError, ValueError, urllib.error.URLError):
            return None

    def _run(self) -> None:
        interval = self.threads / self.rate
        next_at = time.monotonic()
        while not self.stop.is_set():
            began = time.monotonic()
            sha = self._one()
            with self.lock:
                self.answers.append((time.monotonic(), sha))
                self.latencies.append((began, time.monotonic() - began))
            next_at += interval
            time.sleep(max(0.0, next_at - time.monotonic()))

    def start(self) -> None:
        for _ in range(self.threads):
            threading.Thread(target=self._run, daemon=True).start()

    def last_other(self, since: float, sha: str) -> float | None:
        """The time of the last answer after ``since`` that did not carry ``sha``."""
        with self.lock:
            others = [t for t, s in self.answers if t >= since and s != sha]
        return others[-1] if others else None

    def all_from(self, since: float, sha: str) -> bool:
        with self.lock:
            recent = [s for t, s in self.answers if t >= since]
        return bool(recent) and all(s == sha for s in recent)

    def percentiles(self, windows: list[tuple[float, float]], inside: bool) -> str:
        """p50 / p99 / max milliseconds of the requests started inside (or outside) the ``windows``."""
        with self.lock:
            chosen = sorted(s for t, s in self.latencies if any(a <= t < b for a, b in windows) == inside)
        if not chosen:
            return "-"
        pick = [chosen[int(q * (len(chosen) - 1))] * 1000 for q in (0.5, 0.99)]
        return f"{pick[0]:.0f} / {pick[1]:.0f} / {chosen[-1] * 1000:.0f} ({len(chosen)})"

    def failed(self) -> int:
        with self.lock:
            return sum(1 for _, s in self.answers if s is None)


def model_py(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, str(ROOT / "model.py"), *args], env=env, check=True, capture_output=True)


def switch(load: Load, env: dict[str, str], sha: str, *args: str) -> tuple[float, float, float]:
    """Run model.py; return its start, its seconds, and the seconds from its start to the last answer from
    another model."""
    started = time.monotonic()
    model_py(env, *args)
    took = time.monotonic() - started
    deadline = started + 120
    while time.monotonic() < deadline:
        time.sleep(1)
        if load.all_from(time.monotonic() - 1.0, sha):
            last = load.last_other(started, sha)
            return started, took, 0.0 if last is None else last - started
    raise SystemExit(f"{sha[:12]} not served everywhere after 120 s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("card", type=Path)
    parser.add_argument("--rate", type=float, default=25.0)
    parser.add_argument("--poll", default="5")
    args = parser.parse_args()
    candidate = json.loads(args.card.read_text())["sha256"]
    folder = Path(tempfile.mkdtemp(prefix="bench-promote-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("MODEL_PATH", "DATABASE_URL", "FIREFLY_TOKEN")}
    env.update(
        PORT=str(port),
        PYTHONPATH=str(ROOT),
        MODEL_POLL_SECONDS=args.poll,
        FEEDBACK_DB_PATH=str(folder / "feedback.sqlite3"),
        REVIEW_DB_PATH=str(folder / "review.sqlite3"),
        ALERT_DB_PATH=str(folder / "alerts.sqlite3"),
    )
    log = open(folder / "server.log", "wb")  # noqa: SIM115 (open for the server's life)
    server = subprocess.Popen(
        [sys.executable, "-m", "hatespeech.service.launch"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                urllib.request.urlopen(url + "/health", timeout=2).close()
                break
            except OSError:
                time.sleep(0.1)
        load = Load(url, args.rate)
        load.start()
        time.sleep(5)
        promoted = switch(load, env, candidate, "promote", str(args.card), "--force", "--why", "bench")
        time.sleep(5)
        rolled = switch(load, env, COMMITTED, "rollback", "--why", "bench")
        time.sleep(2)
        load.stop.set()
        seconds = load.answers[-1][0] - load.answers[0][0]
        print(
            "| requests | rate (/s) | poll (s) | model.py promote (s) | promote start → last old answer (s) "
            "| model.py rollback (s) | rollback start → last new answer (s) | failed |"
        )
        print("|---|---|---|---|---|---|---|---|")
        print(
            f"| {len(load.answers)} | {len(load.answers) / seconds:.1f} | {args.poll} | {promoted[1]:.1f} | "
            f"{promoted[2]:.1f} | {rolled[1]:.1f} | {rolled[2]:.1f} | {load.failed()} |"
        )
        # the requests that started while a switch could be under way: from each command's start to 2 s after
        # its last old answer (every worker loading and verifying the new model in its poll thread)
        windows = [(start, start + last + 2.0) for start, _took, last in (promoted, rolled)]
        print(
            f"\nlatency p50 / p99 / max ms (requests): while switching {load.percentiles(windows, True)}, "
            f"otherwise {load.percentiles(windows, False)}"
        )
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
