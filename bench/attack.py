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
import random
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
sys.path.insert(0, str(ROOT))  # the checkout's packages, as `python -m` from the root would find them
from testing.services import RedisServer, end, free_port  # noqa: E402 (the tests' redis-server, started one way)
from testing.support import LocalServer  # noqa: E402

BIN = ROOT / ".venv" / "bin"
PYTHON = BIN / "python"
TOKEN = "bench-attack-token-0123456789"
AUTH = {"Authorization": f"Token {TOKEN}", "Content-Type": "application/json"}
EXTRA = os.environ.get("BENCH_EXTRA_PATH", "/tmp/hw-extra")  # gevent/waitress for --candidates only


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
        [str(BIN / "gunicorn"), "-c", "python:hatespeech.service.gunicorn_conf", "app:application"],
        {},
    ),
    "gevent (gunicorn -k gevent, 2 workers x 1000 connections)": lambda port: (
        [str(BIN / "gunicorn"), "-c", "python:hatespeech.service.gunicorn_conf", "-k", "gevent", "app:application"],
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
        end(self.proc, patience=40, group=True)
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
            conn.request("POST", path, json.dumps(payload, ensure_ascii=False).encode(), AUTH)
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


def group_cpu_seconds(pgid: int) -> float:
    """CPU time (user + system) used so far by the live processes of a process group."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:
                ticks += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


def throughput(port: int, seconds: int = 10, connections: int = 16, pgid: int | None = None) -> dict:
    sys.path.insert(0, str(ROOT / "bench"))
    import http_load

    script = http_load.lua([json.dumps({"text": t}) for t in http_load.texts()], None)
    with open(script, "a") as f:
        f.write(f'wrk.headers["Authorization"] = "Token {TOKEN}"\n')
    cpu = group_cpu_seconds(pgid) if pgid else 0.0
    try:
        r = http_load.wrk(f"http://127.0.0.1:{port}", script, seconds, connections)
    finally:
        script.unlink()
    r.pop("raw")
    if pgid and r["requests"]:
        # CPU the server spent per request: unlike req/s, hardly moved by other load on the machine
        r["cpu_us_per_request"] = round((group_cpu_seconds(pgid) - cpu) / r["requests"] * 1e6, 1)
    return r


# --- the alert stack: a real redis-server, a webhook receiver -------------------------------------

BLOCKED = "shut up you stupid bitch, fuck you"  # blocked by the committed model (tests/test_alerts_server.py)
SECRET = "bench-attack-alert-secret"


def alert_redis(directory: Path) -> RedisServer:
    """redis-server on a free loopback port, with every write on disk (appendfsync always) so that a
    kill -9 loses nothing that was acknowledged: the configuration docs/alerts.md asks for."""
    return RedisServer(directory, appendonly=True)


class Receiver(LocalServer):
    """A webhook receiver on loopback: records every alert body; ``failing`` answers 503."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler

        self.alerts: list[dict] = []
        self.failing = False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if outer.failing:
                    self.send_response(503)
                    self.end_headers()
                    return
                with contextlib.suppress(ValueError):
                    outer.alerts.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        super().__init__(Handler)
        self.url += "/hook"

    def posts(self) -> set[str]:
        """Every post id named by a delivered alert (a message alert's post, an aggregate's posts)."""
        found = set()
        for a in list(self.alerts):
            if a.get("post", {}).get("id"):
                found.add(a["post"]["id"])
            found.update(p.get("id") for p in a.get("posts", []) if p.get("id"))
        return found


def alert_env(receiver: Receiver, redis: RedisServer, **extra: str) -> dict[str, str]:
    return {
        "ALERT_WEBHOOK_URL": receiver.url,
        "ALERT_FORMAT": "json",
        "ALERT_SECRET": SECRET,
        "ALERT_POLL": "0.2",
        "ALERT_BACKOFF_BASE": "0.2",
        "ALERT_BACKOFF_MAX": "2",
        "REDIS_URL": redis.url,
        "ALERT_SPOOL_PATH": str(redis.directory / "alerts-spool.sqlite3"),  # not the repository's data/
        "ALERT_BURST_MINUTES": "0.25",  # 15 s slots (default 2 min): the raid's summaries arrive within the run
        **extra,
    }


def group_rss_mb(pgid: int) -> float:
    """Resident memory of every process in the group (the launcher, nginx, gunicorn and its workers)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:
                total += int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    return total / 1e6


def crafted_texts() -> dict[str, str]:
    n = 10_000
    return {
        "dots + slash": "a." * 4999 + "/",
        "url-ish dots": "x" + ".com" * 2499,
        "digits": "1" * n,
        "leet run": "4$" * 5000,
        "symbols": "!?*#" * 2500,
        "one long word": "a" * n,
        "accents": "é" * n,
        "emoji": "😀" * n,
        "combining marks": ("e" + "\u0301" * 9) * 1000,
        "zero-width": ("a\u200b" * 5000),
        "mixed": ("a.1@#é😀\u200b\u0301 " * 1000)[:n],
        "at-signs": "@" * n,
        "repeated letters": "fuuuuck " * 1250,
    }


def crafted(port: int) -> dict:
    worst: dict[str, object] = {"ms": 0.0}
    rows = {}
    for name, text in crafted_texts().items():
        times, statuses = [], set()
        for _ in range(3):
            started = time.perf_counter()
            status, _ = call(port, "/moderate", {"text": text, "explain": True}, timeout=30)
            times.append((time.perf_counter() - started) * 1000)
            statuses.add(status)
        rows[name] = {"ms": round(max(times), 1), "status": sorted(statuses)}
        if max(times) > worst["ms"]:  # type: ignore[operator]
            worst = {"text": name, "ms": round(max(times), 1), "status": sorted(statuses)}
    return {"worst": worst, "each": rows}


def memory(server_pgid: int, port: int) -> dict:
    rng = random.Random(13)
    accents = "éèêàâäöüçñøåß"
    before = group_rss_mb(server_pgid)

    def accented_text(i: int) -> str:
        words = []
        while sum(len(w) + 1 for w in words) < 10_000:
            words.append("".join(rng.choice(accents + "abcdefghij") for _ in range(rng.randint(3, 12))))
        return (f"{i} " + " ".join(words))[:10_000]

    def long_word(i: int) -> str:
        return (str(i) + "".join(rng.choice(accents) for _ in range(10_000)))[:10_000]

    bodies = [accented_text(i) for i in range(1200)] + [long_word(i) for i in range(1500)]
    failed = 0
    lock = threading.Lock()
    queue = list(bodies)

    def worker() -> None:
        nonlocal failed
        while True:
            with lock:
                if not queue:
                    return
                text = queue.pop()
            status, _ = call(port, "/predict", {"text": text}, timeout=30)
            if status != 200:
                with lock:
                    failed += 1

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    after = group_rss_mb(server_pgid)
    return {
        "requests": len(bodies),
        "failed": failed,
        "rss_before_mb": round(before),
        "rss_after_mb": round(after),
        "growth_mb": round(after - before),
    }


def moderate_clients(port: int, seconds: float, clients: int, prefix: str) -> dict:
    """``clients`` posting blocked texts to /moderate, each post in its own thread (so each is the
    first of its burst: its own message alert), for ``seconds``."""
    blocked_ids: list[str] = []
    failures: list[str] = []
    times: list[float] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(n: int) -> None:
        i = 0
        while time.monotonic() < deadline:
            post = f"{prefix}-{n}-{i}"
            started = time.perf_counter()
            status, body = call(port, "/moderate", {"text": BLOCKED, "id": post, "thread": post}, timeout=10)
            with lock:
                times.append(time.perf_counter() - started)
                if status == 200 and isinstance(body, dict) and body.get("action") == "block":
                    blocked_ids.append(post)
                else:
                    failures.append(f"{status} {str(body)[:80]}")
            i += 1
            time.sleep(0.05)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {
        "blocked": blocked_ids,
        "failed": len(failures),
        "failures": failures[:3],
        "p95_ms": round(pct(times, 0.95) * 1000, 1),
        "max_ms": round(max(times, default=0) * 1000, 1),
    }


def wait_delivered(receiver: Receiver, wanted: set[str], timeout: float = 60) -> set[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not wanted <= receiver.posts():
        time.sleep(0.5)
    return wanted - receiver.posts()


def redis_faults(port: int, redis: RedisServer, receiver: Receiver, seconds: float = 12) -> dict:
    out: dict[str, object] = {}
    # SIGSTOP for `seconds` under 16 /moderate clients; /predict measured meanwhile
    box: dict[str, dict] = {}
    load = threading.Thread(target=lambda: box.update(m=moderate_clients(port, seconds + 4, 16, "stall")))
    load.start()
    time.sleep(2)
    redis.proc.send_signal(signal.SIGSTOP)  # type: ignore[union-attr]
    predict = legit_calls(port, seconds, clients=2)
    redis.proc.send_signal(signal.SIGCONT)  # type: ignore[union-attr]
    load.join()
    lost = wait_delivered(receiver, set(box["m"]["blocked"]))
    out["sigstop"] = {
        "predict": predict,
        "moderate": {k: v for k, v in box["m"].items() if k != "blocked"},
        "blocked_posts": len(box["m"]["blocked"]),
        "alerts_lost": len(lost),
    }
    # kill -9, 5 s down, restarted (its append-only file restores what it had acknowledged)
    load = threading.Thread(target=lambda: box.update(k=moderate_clients(port, 12, 8, "kill")))
    load.start()
    time.sleep(2)
    redis.stop()  # kill -9
    time.sleep(5)
    redis.start()
    load.join()
    lost = wait_delivered(receiver, set(box["k"]["blocked"]))
    out["kill"] = {
        "moderate": {k: v for k, v in box["k"].items() if k != "blocked"},
        "blocked_posts": len(box["k"]["blocked"]),
        "alerts_lost": len(lost),
    }
    return out


def raid(port: int, receiver: Receiver) -> dict:
    before = len(receiver.alerts)
    statuses = [
        call(port, "/moderate", {"text": BLOCKED, "id": f"raid-{i}", "thread": "raid-thread"})[0] for i in range(50)
    ]
    time.sleep(float(os.environ.get("BENCH_RAID_WAIT", "35")))  # two 15 s slots: every summary is due
    about = [a for a in receiver.alerts[before:] if a.get("thread") == "raid-thread"]
    return {
        "posts": 50,
        "ok": statuses.count(200),
        "alerts_about_the_thread": len(about),
        "types": sorted({a.get("type", "?") for a in about}),
        "posts_named": len({p for p in receiver.posts() if p.startswith("raid-")}),
    }


def flood(receiver: Receiver, redis: RedisServer) -> dict:
    """Webhook down; 5 genuine alerts, then a flood of 300 blocked posts in 300 threads, with an
    outbox of 50; webhook back: are the 5 genuine ones delivered?"""
    receiver.failing = True
    env = alert_env(receiver, redis, ALERT_OUTBOX_MAX="50", ALERT_BACKOFF_BASE="1", ALERT_BACKOFF_MAX="2")
    with serving(image_argv(), env) as server:
        genuine = [f"genuine-{i}" for i in range(5)]
        for post in genuine:
            call(server.port, "/moderate", {"text": BLOCKED, "id": post, "thread": post})
        time.sleep(1)
        for i in range(300):
            call(server.port, "/moderate", {"text": BLOCKED, "id": f"flood-{i}", "thread": f"flood-{i}"})
        time.sleep(15)  # a few maintenance passes with the outbox over its limit
        receiver.failing = False
        lost = wait_delivered(receiver, set(genuine), timeout=60)
    return {"genuine": 5, "flood": 300, "outbox_max": 50, "genuine_lost": sorted(lost)}


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def gunicorn_workers(launcher: int) -> tuple[int, list[int]]:
    """(gunicorn's master, its workers) under the image's launcher process."""
    for child in _children(launcher):
        if b"gunicorn" in Path(f"/proc/{child}/cmdline").read_bytes():
            return child, sorted(_children(child))
    raise RuntimeError("no gunicorn under the launcher")


def worker_kills(server: Server) -> dict:
    """The figures test_faults.py used to assert on (moved here: no timed assertions in tests): a
    worker killed -9 under load (4 clients): failures and the longest gap without an answer."""
    master, workers = gunicorn_workers(server.proc.pid)
    times: list[float] = []
    failed = 0
    stop = threading.Event()

    def client() -> None:
        nonlocal failed
        while not stop.is_set():
            status, _ = call(server.port, "/predict", {"text": "see you at the game"}, timeout=10)
            if status == 200:
                times.append(time.monotonic())
            else:
                failed += 1

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(2)
    killed_at = time.monotonic()
    os.kill(workers[0], signal.SIGKILL)
    replaced = None
    while replaced is None and time.monotonic() < killed_at + 10:
        now_workers = sorted(_children(master))
        if len(now_workers) == len(workers) and workers[0] not in now_workers:
            replaced = time.monotonic() - killed_at
        time.sleep(0.005)
    time.sleep(2)
    stop.set()
    for t in threads:
        t.join()
    after = sorted(t for t in times if t > killed_at)
    gaps = [b - a for a, b in zip([killed_at, *after], after, strict=False)]
    return {
        "requests": len(times) + failed,
        "failed": failed,
        "replaced_after_s": replaced,
        "longest_gap_s": round(max(gaps, default=float("nan")), 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="slow,http,crafted,memory,faults,raid,redis,flood")
    parser.add_argument("--candidates", action="store_true", help="also measure the other server designs")
    parser.add_argument("--seconds", type=float, default=30, help="how long the slow clients hold on")
    args = parser.parse_args(argv)
    parts = set(args.only.split(","))
    print(f"loadavg {' '.join(Path('/proc/loadavg').read_text().split()[:3])}; command: {dockerfile_cmd()}")
    if args.candidates:
        for name, make in CANDIDATES.items():
            port = free_port()
            argv_, env = make(port)
            with serving(argv_, env, port) as server:
                row: dict[str, object] = {}
                if "http" in parts:
                    row["http"] = throughput(server.port, pgid=server.proc.pid)
                if "slow" in parts:
                    row["slow"] = slow_clients(server.port, args.seconds)
            print(json.dumps({name: row}), flush=True)
    if "http" in parts:  # today's design and the image's, twice each, interleaved
        today = CANDIDATES["gthread (today: gunicorn alone, 2 x 4 threads)"]
        rates: dict[str, list[float]] = {"today": [], "image": []}
        cpu: dict[str, list[float]] = {"today": [], "image": []}
        for _ in range(3):
            for key, make in (("today", today), ("image", lambda p: (image_argv(), {}))):
                port = free_port()
                argv_, env = make(port)
                with serving(argv_, env, port) as server:
                    r = throughput(server.port, pgid=server.proc.pid)
                    rates[key].append(r["rate"])
                    cpu[key].append(r["cpu_us_per_request"])
        ratio = sum(rates["image"]) / sum(rates["today"])
        cpu_ratio = sum(cpu["today"]) / sum(cpu["image"])
        print(
            json.dumps(
                {
                    "http (b) req/s": rates,
                    "image / today": round(ratio, 3),
                    "server CPU µs per request": cpu,
                    "requests per CPU second, image / today": round(cpu_ratio, 3),
                }
            ),
            flush=True,
        )
    with tempfile.TemporaryDirectory(prefix="attack-") as tmp:
        redis, receiver = alert_redis(Path(tmp)), Receiver()
        redis.start()
        try:
            with serving(image_argv(), alert_env(receiver, redis)) as server:
                if "slow" in parts:
                    print(json.dumps({"slow clients (image)": slow_clients(server.port, args.seconds)}), flush=True)
                if "crafted" in parts:
                    print(json.dumps({"crafted 10k /moderate explain": crafted(server.port)}), flush=True)
                if "memory" in parts:
                    print(json.dumps({"memory": memory(server.proc.pid, server.port)}), flush=True)
                if "faults" in parts:
                    print(json.dumps({"worker killed -9 under load": worker_kills(server)}), flush=True)
                if "raid" in parts:
                    print(json.dumps({"raid": raid(server.port, receiver)}), flush=True)
                if "redis" in parts:
                    print(json.dumps({"redis": redis_faults(server.port, redis, receiver)}), flush=True)
            if "flood" in parts:
                print(json.dumps({"flood": flood(receiver, redis)}), flush=True)
        finally:
            receiver.close()
            redis.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
