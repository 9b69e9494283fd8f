"""Faults against the real server: a worker killed under load, SIGTERM mid-request, a tampered
model, and a training run killed while it writes the model."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from testing.support import BIN, ROOT, accepted, free_port, gunicorn, killed_while_saving, server_env, wait_for

COMMITTED = json.loads((ROOT / "models" / "model.json").read_text())


def _workers(master: int) -> list[int]:
    return sorted(int(pid) for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split())


class Load:
    """``threads`` clients, each sending ``per_thread`` requests on a kept-alive connection.

    A request fails if it raises or answers anything but 200; the client then reconnects (no
    retry: the failure is counted). Every 4th request is a /predict, the others /health.
    """

    def __init__(self, port: int, threads: int = 4, per_thread: int = 1250):
        self.port, self.per_thread = port, per_thread
        self.done = self.failed = 0
        self.successes: list[float] = []  # monotonic times of answers, for the recovery gap
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        body = json.dumps({"text": "have a nice day"})
        for i in range(self.per_thread):
            ok = False
            try:
                if i % 4 == 0:
                    conn.request("POST", "/predict", body, {"Content-Type": "application/json"})
                else:
                    conn.request("GET", "/health")
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            with self.lock:
                self.done += 1
                if ok:
                    self.successes.append(time.monotonic())
                else:
                    self.failed += 1
        conn.close()

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for thread in self.threads:
            thread.join(timeout=300)


def test_a_worker_killed_under_load_is_replaced_and_almost_nothing_is_lost(tmp_path: Path) -> None:
    with gunicorn(tmp_path, WEB_CONCURRENCY="2", LOG_LEVEL="warning") as server:
        server.wait_ready()
        before = _workers(server.proc.pid)
        with Load(server.port) as load:
            wait_for(lambda: load.done >= 1000, lambda: f"{load.done} requests done", timeout=300)
            victim, killed_at = before[0], time.monotonic()
            os.kill(victim, signal.SIGKILL)

            def replaced() -> bool:
                workers = _workers(server.proc.pid)
                return len(workers) == 2 and victim not in workers

            wait_for(replaced, lambda: f"the master did not replace the killed worker: {_workers(server.proc.pid)}")
            respawned_at = time.monotonic()
        total = 4 * 1250  # each client has one request in flight: at most 4 can be lost
        assert load.done == total
        after_kill = sorted(t for t in load.successes if t > killed_at)
        gaps = [b - a for a, b in zip([killed_at, *after_kill], after_kill, strict=False)]
        print(
            f"killed worker {victim}: {load.failed}/{total} requests failed, replaced after "
            f"{respawned_at - killed_at:.3f} s, longest gap without an answer {max(gaps):.3f} s"
        )
        assert load.failed <= total * 0.001
        # how long the service was out: a figure for bench/attack.py (worker_kills), not an assertion here


def test_after_a_killed_training_run_the_old_model_is_served_and_a_killed_worker_comes_back(
    tmp_path: Path,
) -> None:
    """One server for two faults (each start costs seconds): the model a training run was
    writing when it was killed -9, then its only worker killed -9."""
    card, _model = _copy_model(tmp_path / "models")
    done = killed_while_saving(card)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()
    assert list(card.parent.glob(".model-*.tmp")), "the kill came mid-write"

    with gunicorn(tmp_path, MODEL_PATH=str(card), WEB_CONCURRENCY="1", LOG_LEVEL="warning") as server:
        server.wait_ready()
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("GET", "/health")
        assert json.loads(conn.getresponse().read())["model"] == COMMITTED["sha256"][:12]
        conn.request("POST", "/predict", json.dumps({"text": "have a nice day"}))
        assert conn.getresponse().status == 200
        conn.close()

        (victim,) = _workers(server.proc.pid)
        killed_at = time.monotonic()
        os.kill(victim, signal.SIGKILL)

        def served() -> bool:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            try:
                conn.request("GET", "/health")
                return conn.getresponse().status == 200
            except (OSError, http.client.HTTPException):
                return False
            finally:
                conn.close()

        wait_for(served, lambda: f"not served again since the kill; workers: {_workers(server.proc.pid)}", timeout=120)
        # how soon: bench/attack.py (no timed assertions in tests)
        print(f"the only worker killed: served again after {time.monotonic() - killed_at:.3f} s")


def test_sigterm_lets_an_in_flight_request_finish_then_exits_0(tmp_path: Path) -> None:
    with gunicorn(tmp_path, WEB_CONCURRENCY="1") as server:
        server.wait_ready()
        body = json.dumps({"text": "a request that is still arriving when the server is told to stop"}).encode()
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        head = f"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        sock.sendall(head.encode() + body[:10])
        # In flight means accepted: a connection still in the listen backlog is dropped with the listener.
        wait_for(lambda: accepted(sock), lambda: "the worker has not accepted the connection")
        server.proc.send_signal(signal.SIGTERM)
        wait_for(lambda: "Handling signal: term" in server.output(), server.output)  # the master tells the worker
        for i in range(10, len(body), 10):  # a slow client: the rest of the body over about 1.5 s, while it stops
            time.sleep(0.25)  # each gap far below READ_TIMEOUT (10 s)
            sock.sendall(body[i : i + 10])
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        sock.close()
        assert answer.startswith(b"HTTP/1.1 200 "), answer
        assert set(json.loads(answer.partition(b"\r\n\r\n")[2])) == {"hate speech", "offensive language", "neither"}
        assert server.proc.wait(timeout=60) == 0


def _copy_model(folder: Path) -> tuple[Path, Path]:
    folder.mkdir()
    card = folder / "model.json"
    shutil.copy(ROOT / "models" / "model.json", card)
    model = folder / COMMITTED["model_file"]
    shutil.copy(ROOT / "models" / COMMITTED["model_file"], model)
    return card, model


def _truncate(card: Path, model: Path) -> None:
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])


def _other_library(card: Path, model: Path) -> None:
    fields = json.loads(card.read_text())
    fields["libraries"]["numpy"] = "1.26.4"  # scikit-learn's version does not matter: serving never imports it
    card.write_text(json.dumps(fields))


@pytest.mark.parametrize(
    ("tamper", "words"),
    [
        (_truncate, "truncated, corrupted or from another model"),
        (_other_library, "built with NumPy 1.26.4"),
    ],
    ids=["truncated", "other-numpy"],  # corrupted and mismatched files: tests/training/test_model_file.py
)
def test_a_tampered_model_stops_the_server_with_a_clear_message(tmp_path: Path, tamper, words: str) -> None:
    card, model = _copy_model(tmp_path / "models")
    tamper(card, model)
    argv = [str(BIN / "gunicorn"), "-c", "python:hatespeech.service.gunicorn_conf", "app:application"]
    env = server_env(PORT=str(free_port()), MODEL_PATH=str(card), PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"))
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "cannot serve the model" in output and words in output
    assert "Traceback" not in output
