"""Issue 13's "Done when" figures, measured in one command against the Dockerfile's CMD.

    .venv/bin/python bench/attack.py [--only slow,crafted,memory,redis,flood,http] [--candidates]

Everything runs on 127.0.0.1 (free ports), in bounded loops, with servers and redis-server started
here and stopped at the end. The server is started as the image starts it (the Dockerfile's CMD,
read from the Dockerfile), with a token, alerts on (to a local receiver) and a real redis-server.
``--candidates`` also runs the slow-client mix and the HTTP throughput against the other server
designs considered (today's gunicorn gthread alone, gunicorn's gevent worker, waitress).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
PYTHON = BIN / "python"
TOKEN = "bench-attack-token-0123456789"
AUTH = {"Authorization": f"Token {TOKEN}", "Content-Type": "application/json"}
EXTRA = os.environ.get("BENCH_EXTRA_PATH", "/tmp/hw-extra")  # gevent/waitress for --candidates only


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dockerfile_cmd() -> list[str]:
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("CMD "):
            return json.loads(line[4:])
    raise SystemExit("no CMD in the Dockerfile")


def image_argv() -> list[str]:
    cmd = dockerfile_cmd()
    return [str(PYTHON), *cmd[1:]] if cmd[0] == "python" else [str(BIN / cmd[0]), *cmd[1:]]


CANDIDATES = {
    "gthread (today: gunicorn alone, 2 x 4 threads)": lambda port: (
        [str(BIN / "gunicorn"), "-c", "python:hatespeech.gunicorn_conf", "app:application"],
        {},
    ),
    "gevent (gunicorn -k gevent, 2 workers x 1000 connections)": lambda port: (
        [str(BIN / "gunicorn"), "-c", "python:hatespeech.gunicorn_conf", "-k", "gevent", "app:application"],
        {"PYTHONPATH": f"{ROOT}:{EXTRA}"},
    ),
    "waitress (1 process x 4 threads, connection_limit 1000, channel_timeout 10 s)": lambda port: (
        [
            str(PYTHON),
            "-m",
            "waitress",
            f"--listen=127.0.0.1:{port}",
            "--threads=4",
            "--connection-limit=1000",
            "--channel-timeout=10",
            "app:application",
        ],
        {"PYTHONPATH": f"{ROOT}:{EXTRA}"},
    ),
    "nginx + gunicorn gthread (python -m hatespeech.service.launch)": lambda port: (
        [str(PYTHON), "-m", "hatespeech.service.launch"],
        {},
    ),
}


class Server:
    def __init__(self, argv: list[str], port: int, env: dict[str, str], log: Path):
        full = {k: v for k, v in os.environ.items() if k not in ("FIREFLY_TOKEN", "MODEL_PATH", "PORT", "HOST")}
        full.update({"PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", "PORT": str(port), "HOST": "127.0.0.1"})
        full.update({"FIREFLY_TOKEN": TOKEN, "LOG_LEVEL": "info", **env})
        self.port, self.log = port, log
        self.out = open(log, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            argv, cwd=ROOT, env=full, stdout=self.out, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait(self, timeout: float = 120) -> Server:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-3000:]}")
            status, _ = call(self.port, "/health", None, timeout=2)
            if status == 200:
                return self
            time.sleep(0.2)
        raise RuntimeError(f"server not ready: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.out.close()


@contextlib.contextmanager
def serving(argv: list[str], env: dict[str, str] | None = None, port: int | None = None) -> Iterator[Server]:
    port = port or free_port()
    log = Path(tempfile.mkstemp(prefix="attack-server-", suffix=".log")[1])
    server = Server(argv, port, env or {}, log)
    try:
        yield server.wait()
    finally:
        server.stop()


def call(port: int, path: str, payload: object, timeout: float = 5.0) -> tuple[int, object]:
    """One request on a fresh connection: (status, parsed body), or (0, error) on a timeout or reset."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        if payload is None:
            conn.request("GET", path, headers=AUTH)
        else:
            conn.request("POST", path, json.dumps(payload).encode(), AUTH)
        resp = conn.getresponse()
        data = resp.read()
        try:
            return resp.status, json.loads(data)
        except ValueError:
            return resp.status, data
    except OSError as err:
        return 0, repr(err)
    finally:
        conn.close()


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- slow clients -------------------------------------------------------------------------------


class Attack:
    """``idle`` sockets that send nothing, ``header`` ones that trickle a header byte every
    ``period`` s, ``body`` ones that send whole headers and trickle a body byte every ``period`` s.
    A socket the server closes is opened again at once (an attacker would), so the counts hold."""

    def __init__(self, port: int, idle: int = 300, header: int = 8, body: int = 8, period: float = 2.0):
        self.port, self.period = port, period
        self.plan = ["idle"] * idle + ["header"] * header + ["body"] * body
        self.socks: dict[socket.socket, str] = {}
        self.reopened = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def open(self, kind: str) -> None:
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        except OSError:
            return
        try:
            if kind == "header":
                s.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            elif kind == "body":
                s.sendall(
                    b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    + f"Authorization: Token {TOKEN}\r\nContent-Length: 60000\r\n\r\n".encode()
                )
        except OSError:
            s.close()
            return
        s.setblocking(False)
        self.socks[s] = kind

    def run(self) -> None:
        for kind in self.plan:
            self.open(kind)
        while not self.stop.is_set():
            closed = []
            readable, _, _ = select.select(list(self.socks), [], [], 0) if self.socks else ([], [], [])
            for s in readable:
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                del data  # any answer (a 408) or a close: this one is done, open another
                closed.append(s)
            for s in self.socks:
                kind = self.socks[s]
                if kind != "idle" and s not in closed:
                    try:
                        s.send(b"a")
                    except OSError:
                        closed.append(s)
            for s in closed:
                kind = self.socks.pop(s)
                s.close()
                self.reopened += 1
                self.open(kind)
            missing = len(self.plan) - len(self.socks)
            for kind in ("idle",) * max(0, missing):
                self.open(kind)
            self.stop.wait(self.period)

    def __enter__(self) -> Attack:
        self.thread.start()
        time.sleep(2.0)  # all sockets open before the measurement starts
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        for s in self.socks:
            s.close()


def legit_calls(port: int, seconds: float, clients: int = 4, pause: float = 0.1) -> dict:
    """``clients`` users calling /predict on fresh connections, for ``seconds``: latencies, failures."""
    times: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def user(n: int) -> None:
        i = 0
        while time.monotonic() < deadline:
            started = time.perf_counter()
            status, body = call(port, "/predict", {"text": f"thanks for the recipe, friend {n}-{i}"}, timeout=5)
            took = time.perf_counter() - started
            with lock:
                if status == 200:
                    times.append(took)
                else:
                    failures.append(f"{status} {str(body)[:80]}")
            i += 1
            time.sleep(pause)

    threads = [threading.Thread(target=user, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {
        "calls": len(times) + len(failures),
        "failed": len(failures),
        "p50_ms": pct(times, 0.5) * 1000,
        "p95_ms": pct(times, 0.95) * 1000,
        "max_ms": max(times, default=float("nan")) * 1000,
        "failures": failures[:3],
    }


def slow_clients(port: int, seconds: float = 30) -> dict:
    with Attack(port) as attack:
        result = legit_calls(port, seconds)
        result["attack_sockets_reopened"] = attack.reopened
        result["attack_sockets_open_at_end"] = len(attack.socks)
    return result


# --- HTTP throughput (bench/http_load.py's (b)) -------------------------------------------------


def throughput(port: int, seconds: int = 10, connections: int = 16) -> dict:
    sys.path.insert(0, str(ROOT / "bench"))
    import http_load

    script = http_load.lua([json.dumps({"text": t}) for t in http_load.texts()], None)
    with open(script, "a") as f:
        f.write(f'wrk.headers["Authorization"] = "Token {TOKEN}"\n')
    try:
        r = http_load.wrk(f"http://127.0.0.1:{port}", script, seconds, connections)
    finally:
        script.unlink()
    r.pop("raw")
    return r


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="slow,http,crafted,memory,redis,flood")
    parser.add_argument("--candidates", action="store_true", help="also measure the other server designs")
    parser.add_argument("--seconds", type=float, default=30, help="how long the slow clients hold on")
    args = parser.parse_args(argv)
    parts = set(args.only.split(","))
    print(f"loadavg {' '.join(Path('/proc/loadavg').read_text().split()[:3])}; command: {dockerfile_cmd()}")
    results: dict[str, object] = {}
    if args.candidates:
        for name, make in CANDIDATES.items():
            port = free_port()
            argv_, env = make(port)
            with serving(argv_, env, port) as server:
                row: dict[str, object] = {}
                if "http" in parts:
                    row["http"] = throughput(server.port)
                if "slow" in parts:
                    row["slow"] = slow_clients(server.port, args.seconds)
            results[name] = row
            print(json.dumps({name: row}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
