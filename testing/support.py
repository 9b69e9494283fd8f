"""Helpers for the tests and benchmarks: real server processes, bounded waits, raw HTTP requests, a tiny corpus."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from testing.services import end, free_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def labelled_sentences(path: Path) -> list[tuple[int, str, str]]:
    """The rows of a labelled sentence set written for the checks (tests/data/threats.tsv, attacks.tsv):
    ``label<TAB>kind<TAB>sentence``, label 1 for what the check must catch; ``#`` lines are comments."""
    rows = []
    for line in path.read_text("utf-8").splitlines():
        if line and not line.startswith("#"):
            label, kind, sentence = line.split("\t")
            rows.append((int(label), kind, sentence))
    return rows


def wait_for(condition: Callable[[], bool], describe: Callable[[], object], timeout: float = 60.0) -> None:
    """Wait (bounded) until ``condition()`` holds; fail with ``describe()`` (what did arrive) if it never does.

    The bound is there to fail instead of hanging, not to time anything: a loaded machine may need it all.
    """
    import pytest

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    pytest.fail(f"gave up waiting; got {describe()}")


def accepted(client: socket.socket) -> bool:
    """Whether the server has ``accept()``ed this client's connection, not merely left it in its listen backlog.

    The kernel completes the handshake for a connection in the backlog, so the client cannot tell;
    Linux's /proc/net/tcp can: the server's end has no inode (0) until ``accept`` gives it a socket.
    """
    mine, theirs = client.getsockname()[1], client.getpeername()[1]
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == theirs and int(fields[2].rsplit(":", 1)[1], 16) == mine:
            return fields[9] != "0"
    return False


def group_members(pgid: int) -> list[int]:
    """The processes of process group ``pgid`` still running (zombies aside), from Linux's /proc."""
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path("/proc", entry, "stat").read_text()
            except OSError:  # gone meanwhile
                continue
            state, _ppid, pgrp = stat.rsplit(")", 1)[1].split()[:3]  # after "pid (comm)", which may hold spaces
            if state != "Z" and int(pgrp) == pgid:
                members.append(int(entry))
    return members


class Server:
    """A server process started from a command line, with its output kept for the test to read.

    It starts in a process group of its own, so that ``stop`` also ends what it forked (gunicorn's
    workers, nginx) when the test has killed the master: a worker left behind keeps its alert
    sender running, which claims other tests' rows on the shared redis-server.
    """

    def __init__(self, argv: list[str], env: dict[str, str], port: int, log: Path, cwd: Path = ROOT):
        self.port, self.log = port, log
        self.url = f"http://127.0.0.1:{port}"
        self._out = open(log, "wb")  # noqa: SIM115 (closed in stop())
        self.proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=self._out, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait_ready(self, path: str = "/health", timeout: float = 60) -> Server:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.output()}")
            with contextlib.suppress(OSError), urllib.request.urlopen(self.url + path, timeout=2):
                return self
            time.sleep(0.1)
        raise RuntimeError(f"server not ready after {timeout} s:\n{self.output()}")

    def output(self) -> str:
        self._out.flush()
        return self.log.read_text(errors="replace")

    def processes(self) -> list[int]:
        """The server's processes still running: its master and whatever it forked (its process group)."""
        return group_members(self.proc.pid)

    def stop(self) -> int:
        """Stop the master (it stops its workers), then end any process of its group still running."""
        end(self.proc)
        # left behind by a master killed -9 (or that failed to stop them): SIGTERM, so that a gunicorn
        # worker stops its alert sender on the way out; SIGKILL if they outlast 30 s. Bounded waits:
        # they are not our children, so all we can do is look.
        for sig, patience in ((signal.SIGTERM, 30.0), (signal.SIGKILL, 10.0)):
            if not self.processes():
                break
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            deadline = time.monotonic() + patience
            while self.processes() and time.monotonic() < deadline:
                time.sleep(0.05)
        self._out.close()
        return self.proc.returncode


class LocalServer:
    """A threading HTTP server on a free 127.0.0.1 port, serving ``handler`` from a daemon thread until ``close``.

    The handler's request log is silenced: a test reads what its server records, not stderr.
    """

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        quiet = type(handler.__name__, (handler,), {"log_message": lambda self, *args: None})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), quiet)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def server_env(**extra: str) -> dict[str, str]:
    """The test process's environment without the service's own settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in ("FIREFLY_TOKEN", "MODEL_PATH", "PORT", "HOST")}
    env.update(PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", WEB_CONCURRENCY="2")
    env.update(extra)
    return env


@contextlib.contextmanager
def gunicorn(tmp_path: Path, **env: str) -> Iterator[Server]:
    """The production server exactly as `make serve` starts it, on a free port."""
    port = free_port()
    env.setdefault("FEEDBACK_DB_PATH", str(tmp_path / "feedback.sqlite3"))  # never the checkout's data/
    argv = [str(BIN / "gunicorn"), "-c", "python:hatespeech.service.gunicorn_conf", "app:application"]
    env.setdefault("REVIEW_DB_PATH", str(tmp_path / f"review-{port}.sqlite3"))  # not the checkout's data/
    env.setdefault("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / f"metrics-{port}"))  # else a new /tmp/hs-metrics-*
    server = Server(argv, server_env(PORT=str(port), **env), port, tmp_path / f"gunicorn-{port}.log")
    try:
        yield server
    finally:
        server.stop()


def request(
    url: str, body: bytes | str | None = None, headers: dict[str, str] | None = None, method: str = "POST"
) -> tuple[int, dict, str]:
    """Send one request; return (status, headers, body text) whatever the status."""
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read().decode()


def post_json(url: str, payload: object, headers: dict[str, str] | None = None) -> tuple[int, object]:
    status, _, text = request(url, json.dumps(payload), {"Content-Type": "application/json", **(headers or {})})
    return status, json.loads(text)


def tiny_corpus(per_class: int = 30) -> tuple[list[str], list[int]]:
    """A small made-up labelled corpus (invented words stand in for slurs and insults)."""
    hate = ["those {w} zorgs should leave", "all zorgs are {w} vermin", "{w} blarfs ruin everything, get out"]
    offensive = ["shut up you {w} idiot", "this is {w} crap", "what a {w} moron lol"]
    neither = ["have a {w} day everyone", "the {w} game starts at eight", "thanks for the {w} recipe"]
    fillers = ["big", "new", "old", "red", "loud", "slow", "real", "total", "whole", "little"]
    texts, labels = [], []
    for label, templates in enumerate((hate, offensive, neither)):
        for i in range(per_class):
            texts.append(templates[i % 3].format(w=fillers[i % len(fillers)]))
            labels.append(label)
    return texts, labels


def tiny_csv(path: Path, per_class: int = 30) -> Path:
    """The tiny corpus as a CSV in the Davidson et al. format."""
    import csv

    texts, labels = tiny_corpus(per_class)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["", "count", "hate_speech", "offensive_language", "neither", "class", "tweet"])
        for i, (text, label) in enumerate(zip(texts, labels, strict=False)):
            counts = [3 if k == label else 0 for k in range(3)]
            writer.writerow([i, 3, *counts, label, text])
    return path


_KILLED_WHILE_SAVING = """
import os, signal
from hatespeech.core import files
from hatespeech.training import save
def write_then_die(path, data):
    with open(path.parent / ("." + path.name + ".x.tmp"), "wb") as f:
        f.write(data)
        f.flush()
    os.kill(os.getpid(), signal.SIGKILL)  # the new model's bytes written, before fsync and rename
save.write_atomically = write_then_die
from testing.support import TINY_CARD, tiny_corpus
from hatespeech.training.pipeline import build_pipeline
save.save_model(build_pipeline().fit(*tiny_corpus(20)), TINY_CARD, {card!r})
"""


# The fields a card needs besides what ``save_model`` adds: a test model's decision rule and thresholds.
TINY_CARD = {
    "version": "test",
    "decision_rule": {"weights": [1.0, 1.0, 1.0]},
    "thresholds": {"hate speech": {"review": 0.5, "block": 0.9}, "offensive language": {"review": 0.5, "block": 0.9}},
}


def killed_while_saving(card: Path) -> subprocess.CompletedProcess:
    """Run a training save to ``card`` in another process, killed -9 once the model file's bytes are written."""
    script = _KILLED_WHILE_SAVING.format(card=str(card))
    return subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, timeout=120)
