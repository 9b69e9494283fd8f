"""What alerting adds to a request: ``alerts.record`` on vs off, in-process (issue 8).

    .venv/bin/python bench/alerts.py [--calls 3000] [--stores sqlite,redis]

``record`` is what ``/moderate`` calls after deciding: with alerts off (no ``ALERT_WEBHOOK_URL``)
it returns at once; on, it appends the post to its discussion's window and, when an alert is
due, writes it to the outbox (the sender thread delivers it meanwhile to a local receiver in
another process, so its work competes with the requests as in a worker). Calls on and off are
interleaved in a random order, so both see the same machine. Two mixes:

- ``realistic``: every post has a thread (50 threads) and an id and URL; 90% allow, 7% review,
  3% block, so some message and discussion alerts are created;
- ``every post alerts``: every post is a block in one thread: a message alert each time.

Wall time per call (``perf_counter_ns``): p50, p90, p99 in microseconds. Prints a Markdown table
for bench/RESULTS.md. Redis is measured if ``redis-server`` is on PATH (started on a free port).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the checkout's packages (hatespeech, testing)

import pytest  # noqa: E402

from hatespeech.alerts import Alerter  # noqa: E402
from hatespeech.alerts.redis_store import RedisStore  # noqa: E402
from hatespeech.alerts.sqlite_store import SQLiteStore  # noqa: E402
from hatespeech.alerts.store import Store  # noqa: E402
from hatespeech.config import AlertSettings  # noqa: E402
from testing.alerting import fast_settings, moderated  # noqa: E402
from testing.services import redis_server  # noqa: E402


def realistic(rng: random.Random) -> Callable[[int], tuple[dict, dict]]:
    def make(i: int) -> tuple[dict, dict]:
        action = rng.choices(["allow", "review", "block"], [90, 7, 3])[0]
        result = moderated(action, abusive=0.05 if action == "allow" else 0.8)
        thread = f"t{rng.randrange(50)}"
        return result, {"id": f"p{i}", "thread": thread, "url": f"https://forum.example/{thread}#p{i}"}

    return make


def every_post_alerts(rng: random.Random) -> Callable[[int], tuple[dict, dict]]:
    return lambda i: (moderated("block"), {"id": f"p{i}", "thread": "raid", "url": f"https://forum.example/raid#p{i}"})


def measure(
    on: Alerter, off: Alerter, make: Callable[[int], tuple[dict, dict]], calls: int, rng: random.Random
) -> dict:
    times: dict[str, list[int]] = {"on": [], "off": []}
    for i in range(calls * 2):
        which = rng.choice(["on", "off"]) if len(times["on"]) < calls and len(times["off"]) < calls else None
        which = which or ("on" if len(times["on"]) < calls else "off")
        alerter = on if which == "on" else off
        result, context = make(i)
        started = time.perf_counter_ns()
        alerter.record(result, context, "a text of some length, as a forum post would be")
        times[which].append(time.perf_counter_ns() - started)

    def q(values: list[int], p: float) -> float:
        return statistics.quantiles(values, n=100)[int(p) - 1] / 1000 if p < 100 else max(values) / 1000

    return {k: {"p50": statistics.median(v) / 1000, "p90": q(v, 90), "p99": q(v, 99)} for k, v in times.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--stores", default="sqlite,redis")
    args = parser.parse_args(argv)
    rng = random.Random(8)
    rows = []
    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        # the receiver in its own process: in production it is on another machine
        code = "from testing.alerting import Receiver; import time; print(Receiver().url, flush=True); time.sleep(3600)"
        receiver = subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        stack.callback(receiver.wait, 10)
        stack.callback(receiver.terminate)
        receiver_url = receiver.stdout.readline().strip()  # type: ignore[union-attr]
        stores: dict[str, Callable[[], Store]] = {}
        if "sqlite" in args.stores:
            stores["SQLite (WAL, synchronous=NORMAL)"] = lambda: SQLiteStore(Path(tmp) / "bench.sqlite3")
        if "redis" in args.stores:
            try:
                url = stack.enter_context(redis_server(Path(tmp)))
                stores["Redis 127.0.0.1"] = lambda: RedisStore(url)
            except pytest.skip.Exception as err:  # redis-server is missing
                print(f"Redis not measured: {err}", file=sys.stderr)
        for name, open_store in stores.items():
            for mix_name, mix in (("realistic", realistic), ("every post alerts", every_post_alerts)):
                settings = dataclasses.replace(fast_settings((receiver_url + "/hook",)), poll_seconds=0.2)
                on, off = Alerter(settings, open_store()), Alerter(AlertSettings())
                try:
                    for i in range(200):  # warm up: connections, schema, scripts
                        on.record(*mix(rng)(i), "warm")
                    result = measure(on, off, mix(rng), args.calls, rng)
                finally:
                    on.stop()
                rows.append((name, mix_name, result))
    print(
        f"Python {platform.python_version()}, {platform.machine()}, {args.calls} calls each, on and off interleaved\n"
    )
    print("| store | mix | off p50 | on p50 | on p90 | on p99 | added p50 |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, mix_name, r in rows:
        on, off = r["on"], r["off"]
        print(
            f"| {name} | {mix_name} | {off['p50']:.1f} µs | {on['p50']:.1f} µs | {on['p90']:.1f} µs "
            f"| {on['p99']:.1f} µs | **{on['p50'] - off['p50']:.1f} µs** |"
        )


if __name__ == "__main__":
    main()
