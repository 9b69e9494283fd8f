"""Speed over HTTP on loopback, with wrk (Debian's `wrk` 4.1): the tutorial, ours, and the ceiling (issue 5).

    .venv/bin/python bench/http_load.py [--seconds 10] [--soak 60] [--connections 16]
    .venv/bin/python bench/http_load.py --interleaved 5 [--seconds 10]       # issue 28's HTTP figure

(Not ``bench/http.py``: a file of that name in bench/ shadows the standard library's ``http`` for
every script run as ``python bench/<script>.py``, and breaks their ``urllib.request`` import.)

One command, one run, side by side (servers started here on free loopback ports, one at a time,
stopped after their run; the load generator shares the machine's cores with them):

(a) the tutorial as published: its pipeline (bench/tutorial.py) served by ``firefly`` (wsgiref);
(b) our production configuration: ``gunicorn -c python:hatespeech.service.gunicorn_conf app:application``;
(c) ``bare`` below, a WSGI app returning a constant, under exactly (b)'s configuration: the ceiling;
(d) ``firefly_constant`` below: firefly alone, serving a function that returns a constant, under
    (b)'s configuration: what serving through firefly costs before our guard and model add anything;

then (b) at half its measured maximum rate (wrk has no rate option and wrk2 is not in Debian:
each connection waits ``delay`` ms between requests from a Lua script, so latency is measured from
each request's actual send, without coordinated-omission correction); (b) with other worker
classes and counts; slow clients that stall mid-body against sync and gthread; and a ``--soak``
seconds run of (b) that must end without errors. Every request POSTs a real tweet (1000 of them,
rotating; the Lua script is written under /tmp, never into the repository).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the checkout's packages, as `python -m` from the root would find them
from testing.services import end, free_port  # noqa: E402 (the tests' helpers: one copy)

BIN = ROOT / ".venv" / "bin"
SHARED_DATA = ROOT.parent / "shared" / "data" / "davidson" / "labeled_data.csv"
BODY = json.dumps({"hate speech": 0.01, "offensive language": 0.04, "neither": 0.95}).encode()


def bare(environ: dict, start_response) -> list[bytes]:
    """(c): read the body, answer a constant, nothing else."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length:
        environ["wsgi.input"].read(length)
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))])
    return [BODY]


def constant(text: str = "") -> dict:
    """(d): the constant answer as a firefly function."""
    return {"hate speech": 0.01, "offensive language": 0.04, "neither": 0.95}


def _firefly_constant() -> object:
    from firefly.app import Firefly

    app = Firefly()
    app.add_route("/predict", constant, "predict")
    return app


firefly_constant = _firefly_constant()  # (d): firefly alone (no guard, no model) under (b)'s config


def texts(n: int = 1000) -> list[str]:
    import random

    from hatespeech.config import DEFAULT_DATA_PATH
    from hatespeech.training.data import load_dataset

    rows = load_dataset(DEFAULT_DATA_PATH if DEFAULT_DATA_PATH.is_file() else SHARED_DATA).texts
    random.Random(5).shuffle(rows)
    return [t for t in rows if len(t) <= 1000][:n]


def lua(bodies: list[str], delay_ms: float | None) -> Path:
    """A wrk script: POST the bodies in turn (each thread from its own offset), optional delay."""
    items = ",\n".join("[==[" + b + "]==]" for b in bodies if "]==]" not in b)
    script = f"""
bodies = {{
{items}
}}
counter = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  counter = counter + 1
  return wrk.format(nil, "/predict", nil, bodies[(counter % #bodies) + 1])
end
"""
    if delay_ms is not None:
        script += f"delay = function() return {delay_ms:.3f} end\n"
    f = tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="hatespeech-wrk-", delete=False)  # noqa: SIM115
    f.write(script)
    f.close()
    return Path(f.name)


def wrk(url: str, script: Path, seconds: int, connections: int) -> dict:
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "--latency", "-s", str(script), url]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=False).stdout

    def ms(label: str) -> float | None:
        m = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return None
        return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]

    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    requests = re.search(r"(\d+) requests in", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: (.*)", out)
    errors = []
    if non2xx:
        errors.append(f"non-2xx {non2xx.group(1)}")
    if sock:
        errors.append(f"socket: {sock.group(1).strip()}")
    return {
        "rate": float(rate.group(1)) if rate else 0.0,
        "requests": int(requests.group(1)) if requests else 0,
        "p50": ms("50%"),
        "p99": ms("99%"),
        "errors": "; ".join(errors) or "none",
        "raw": out,
    }


@contextlib.contextmanager
def server(argv: list[str], port: int, env: dict[str, str], cwd: Path = ROOT) -> Iterator[str]:
    full_env = {k: v for k, v in os.environ.items() if k not in ("FIREFLY_TOKEN", "MODEL_PATH")}
    full_env.update({"PYTHONPATH": str(ROOT), "PORT": str(port), "HOST": "127.0.0.1", **env})
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in the finally below)
    proc = subprocess.Popen(argv, cwd=cwd, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"{argv} exited: {log.read().decode(errors='replace')[-2000:]}")
            try:
                req = urllib.request.Request(
                    url + "/predict", b'{"text": "hello"}', {"Content-Type": "application/json"}
                )
                urllib.request.urlopen(req, timeout=10).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield url
    finally:
        end(proc)
        log.close()


def gunicorn(port: int, app: str = "app:application", extra: tuple[str, ...] = ()) -> list[str]:
    return [str(BIN / "gunicorn"), "-c", "python:hatespeech.service.gunicorn_conf", *extra, app]


def stalled_clients(url: str, stalled: int) -> float:
    """Open ``stalled`` connections that send half a body and stop; time one normal request then."""
    host, port = url.removeprefix("http://").split(":")
    socks = []
    try:
        for _ in range(stalled):
            s = socket.create_connection((host, int(port)), timeout=5)
            s.sendall(
                b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
            )
            socks.append(s)
        time.sleep(0.5)
        started = time.perf_counter()
        req = urllib.request.Request(url + "/predict", b'{"text": "hello"}', {"Content-Type": "application/json"})
        try:
            urllib.request.urlopen(req, timeout=3).read()
            return time.perf_counter() - started
        except OSError:
            return float("inf")
    finally:
        for s in socks:
            s.close()


# Issue 28: the production server against firefly alone serving the same ``predict``, run after run.
INTERLEAVED = {
    "production: nginx + gunicorn + firefly (`python -m hatespeech.service.launch`, the image's CMD)": lambda port: [
        str(BIN / "python"),
        "-m",
        "hatespeech.service.launch",
    ],
    "firefly alone: `firefly app.predict` (its own server)": lambda port: [
        str(BIN / "firefly"),
        "app.predict",
        "--bind",
        f"127.0.0.1:{port}",
    ],
    "gunicorn + firefly, no nginx (`gunicorn app:application`)": gunicorn,
}


def interleaved(rounds: int, seconds: int, connections: int) -> None:
    """Each server of ``INTERLEAVED`` in turn, ``rounds`` times, the same wrk load; medians and their ratios."""
    import statistics

    bodies = [json.dumps({"text": t}) for t in texts()]
    script = lua(bodies, None)
    runs: dict[str, list[dict]] = {name: [] for name in INTERLEAVED}
    load = [Path("/proc/loadavg").read_text().split()[0]]
    try:
        for _ in range(rounds):
            for name, argv in INTERLEAVED.items():
                port = free_port()
                with server(argv(port), port, {"LOG_LEVEL": "warning"}) as url:
                    runs[name].append(wrk(url, script, seconds, connections))
            load.append(Path("/proc/loadavg").read_text().split()[0])
    finally:
        script.unlink()
    print(f"\n{rounds} interleaved rounds, wrk -t1 -c{connections} -d{seconds}s, /predict, 1000 real tweets in turn;")
    print(f"load average (1 min) at the start and after each round: {', '.join(load)}\n")
    print("| server | req/s, median | runs | p50 ms (median) | errors |")
    print("|---|---:|---|---:|---|")
    medians = {}
    for name, found in runs.items():
        medians[name] = statistics.median(r["rate"] for r in found)
        each = ", ".join(f"{r['rate']:,.0f}" for r in found)
        p50 = statistics.median(r["p50"] or 0.0 for r in found)
        errors = "; ".join(sorted({r["errors"] for r in found}))
        print(f"| {name} | {medians[name]:,.0f} | {each} | {p50:.2f} | {errors} |")
    production, firefly, plain = medians.values()
    print(f"\nproduction / firefly alone = {production / max(firefly, 1e-9):.2f} (target ≥ 0.85); ")
    print(f"production / gunicorn without nginx = {production / max(plain, 1e-9):.2f}")


def row(name: str, r: dict, ours: dict | None = None) -> str:
    ratio = f"{r['rate'] / ours['rate']:.2f}" if ours and ours["rate"] else "—"
    p50 = f"{r['p50']:.2f}" if r["p50"] is not None else "—"
    p99 = f"{r['p99']:.2f}" if r["p99"] is not None else "—"
    return f"| {name} | {r['rate']:,.0f} | {p50} | {p99} | {r['errors']} | {ratio} |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--soak", type=int, default=60)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--interleaved", type=int, default=0, help="only: N rounds of production vs firefly alone")
    args = parser.parse_args(argv)
    if args.interleaved:
        interleaved(args.interleaved, args.seconds, args.connections)
        return 0
    sys.path.insert(0, str(ROOT / "bench"))
    import tutorial

    tutorial.load()  # fit and cache it first if needed (minutes), outside any timed run
    bodies = [json.dumps({"text": t}) for t in texts()]
    script = lua(bodies, None)
    secs, conns = args.seconds, args.connections
    quiet = {"LOG_LEVEL": "warning"}
    results: list[tuple[str, dict]] = []
    try:
        print(
            f"wrk -t1 -c{conns} -d{secs}s --timeout 5s --latency, POSTing 1000 real tweets in turn; loadavg "
            f"{' '.join(Path('/proc/loadavg').read_text().split()[:3])}"
        )
        port = free_port()
        tut = [str(BIN / "firefly"), "tutorial.predict", "--bind", f"127.0.0.1:{port}"]
        with server(
            tut, port, {"TUTORIAL_MODEL": str(tutorial.cache_path()), "PYTHONPATH": str(ROOT / "bench")}
        ) as url:
            results.append(
                ("(a) the tutorial as published: its pipeline under `firefly` (wsgiref)", wrk(url, script, secs, conns))
            )
        port = free_port()
        with server(gunicorn(port), port, {}) as url:
            ours = wrk(url, script, secs, conns)
            results.append(("(b) **ours, production config** (gthread, 2 workers × 4 threads, INFO access log)", ours))
        port = free_port()
        with server(gunicorn(port, "bench.http_load:bare"), port, {}) as url:
            results.append(("(c) bare WSGI constant under (b)'s exact config (ceiling)", wrk(url, script, secs, conns)))

        port = free_port()
        with server(gunicorn(port, "bench.http_load:firefly_constant"), port, {}) as url:
            results.append(
                (
                    "(d) firefly alone: a constant function, no guard or model, under (b)'s config",
                    wrk(url, script, secs, conns),
                )
            )

        half = ours["rate"] / 2
        paced = lua(bodies, conns * 1000 / half)
        port = free_port()
        with server(gunicorn(port), port, {}) as url:
            r = wrk(url, paced, secs, conns)
            results.append((f"(b) paced at ~half its max: target {half:,.0f} req/s", r))
        paced.unlink()

        variants = [
            ("gthread 2×4, access log off (LOG_LEVEL=warning)", {**quiet}, ()),
            ("gthread 2×8", {"THREADS": "8"}, ()),
            ("gthread 4×4", {"WEB_CONCURRENCY": "4"}, ()),
            ("gthread 2×2", {"THREADS": "2"}, ()),
            ("gthread 3×4", {"WEB_CONCURRENCY": "3"}, ()),
            ("sync ×2", {"THREADS": "1"}, ("-k", "sync")),
            ("sync ×4", {"THREADS": "1", "WEB_CONCURRENCY": "4"}, ("-k", "sync")),
        ]
        for name, env, extra in variants:
            port = free_port()
            with server(gunicorn(port, extra=extra), port, env) as url:
                results.append((f"(b) variant: {name}", wrk(url, script, secs, conns)))

        print("\n| server | req/s | p50 ms | p99 ms | errors | req/s vs (b) |")
        print("|---|---:|---:|---:|---|---:|")
        for name, r in results:
            print(row(name, r, ours))
        a, c, d = results[0][1], results[2][1], results[3][1]
        ba, bc = ours["rate"] / max(a["rate"], 1e-9), ours["rate"] / max(c["rate"], 1e-9)
        print(f"\n(b)/(a) = {ba:.1f}×; (b)/(c) = {bc:.2f}; (d)/(c) = {d['rate'] / max(c['rate'], 1e-9):.2f}")

        print("\nSlow clients: N connections send headers and 1 byte of a 100-byte body, then stall; a normal")
        print("request is then timed (client timeout 3 s).\n")
        print("| server | stalled clients | normal request took |")
        print("|---|---:|---|")
        for name, env, extra, stalled in (
            ("sync ×2", {"THREADS": "1"}, ("-k", "sync"), 2),
            ("gthread 2×4 (production)", {}, (), 2),
            ("gthread 2×4 (production)", {}, (), 6),
        ):
            port = free_port()
            with server(gunicorn(port, extra=extra), port, env) as url:
                took = stalled_clients(url, stalled)
            print(f"| {name} | {stalled} | {'blocked (> 3 s)' if took == float('inf') else f'{took * 1000:.0f} ms'} |")

        if args.soak:
            port = free_port()
            with server(gunicorn(port), port, {}) as url:
                r = wrk(url, script, args.soak, conns)
            print(
                f"\nSoak: (b) for {args.soak} s at {conns} connections: {r['requests']:,} requests, "
                f"{r['rate']:,.0f} req/s, p50 {r['p50']} ms, p99 {r['p99']} ms, errors: {r['errors']}"
            )
    finally:
        script.unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
