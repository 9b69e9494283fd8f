"""How fast the review page's first screen loads with 10,000 posts in the queue (issue 17: ≤ 300 ms).

    .venv/bin/python bench/review.py [--posts 10000] [--loads 15] [--stores sqlite,redis,postgres]

For each store, the queue is filled with ``--posts`` made-up posts (texts of ~25 words with
their highlighted spans, as ``/moderate`` queues them), the production server (gunicorn, the
committed model, a token) is started on a free loopback port, and Debian's chromium (headless,
through chromedriver, as the browser tests drive it) loads ``/review`` ``--loads`` times, with
the token already in the tab's session storage. The time is the page's own: from the start of
the navigation to the moment the first screen is drawn (the queue's first page, the model and
the threshold sliders: ``window.reviewReadyAt``, ``performance.now()`` when it sets
``body[data-ready]``). Two ways, interleaved so both see the same machine:

- ``cold``: the browser's cache disabled (DevTools ``Network.setCacheDisabled``): every file
  fetched again, as on a moderator's first visit;
- ``warm``: the cache on (the files are revalidated with their ETag: 304s).

Also, per store: the server's time for ``GET /review/queue`` (20 posts of the 10,000, newest
first; p50 of 50 calls over HTTP from this process). Prints a Markdown table for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the checkout's packages (hatespeech, testing)

import pytest  # noqa: E402

from hatespeech.review.postgres import PostgresQueue  # noqa: E402
from hatespeech.review.store import Queue, RedisQueue, SQLiteQueue, post  # noqa: E402
from testing.review import chromium, model_with_curves  # noqa: E402
from testing.services import postgres_server, redis_server  # noqa: E402
from testing.support import gunicorn  # noqa: E402

TOKEN = "bench-token-0123456789"  # FIREFLY_TOKEN needs at least 16 characters
ABUSIVE_WORDS = ("zorg", "blarf", "vermin", "idiot", "moron", "crap")  # made up, or mild: no text from the data
WORDS = (*ABUSIVE_WORDS, "loud", "slow", "game", "recipe", "thanks", "lovely", "day", "park", "walk", "the", "you")


def fill(queue: Queue, count: int, seed: int = 17) -> None:
    rng = random.Random(seed)
    start = time.time() - count
    for i in range(count):
        words = [rng.choice(WORDS) for _ in range(25)]
        text = " ".join(words)
        spans, at = [], 0
        for word in words:
            if word in ABUSIVE_WORDS:
                cls = rng.choice(["hate speech", "offensive language"])
                spans.append([at, at + len(word), cls, round(rng.uniform(0.05, 0.9), 6)])
            at += len(word) + 1
        action = rng.choices(["review", "block"], [4, 1])[0]
        hate = rng.uniform(0.05, 0.9)
        queue.add(
            post(
                f"post-{i}",
                text,
                {"hate speech": hate, "offensive language": (1 - hate) * 0.9, "neither": (1 - hate) * 0.1},
                action,
                rng.choice(["hate speech", "offensive language"]),
                rng.choice([["hate speech"], ["offensive language"], ["hate speech", "offensive language"]]),
                f"thread-{rng.randrange(200)}",
                f"user{rng.randrange(1000)}",
                f"https://forum.example/t/{i}",
                start + i,
                spans,
                "bench",
            )
        )


@contextlib.contextmanager
def store(kind: str, tmp: Path, count: int) -> Iterator[dict[str, str]]:
    if kind == "sqlite":
        queue = SQLiteQueue(tmp / "review.sqlite3")
        fill(queue, count)
        queue.close()
        yield {"REVIEW_DB_PATH": str(tmp / "review.sqlite3")}
        return
    if kind == "postgres":
        with postgres_server() as url:
            queue = PostgresQueue(url)
            fill(queue, count)
            queue.close()
            yield {"DATABASE_URL": url}  # the feedback goes there too
        return
    with redis_server(tmp) as url:
        queue = RedisQueue(url)
        fill(queue, count)
        queue.close()
        yield {"REDIS_URL": url}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def load(driver: object, url: str, cold: bool) -> float:
    driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": cold})
    driver.get(url)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready = driver.execute_script("return window.reviewReadyAt || null")
        if ready is not None:
            errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
            if errors:
                raise RuntimeError(f"console errors: {errors}")
            return float(ready)
        time.sleep(0.005)
    raise RuntimeError("the page never became ready")


def queue_call_ms(base: str, calls: int = 50) -> float:
    times = []
    for _ in range(calls):
        request = urllib.request.Request(base + "/review/queue?limit=20", headers={"Authorization": f"Token {TOKEN}"})
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--loads", type=int, default=15, help="page loads per way and store")
    parser.add_argument("--stores", default="sqlite,redis,postgres")
    args = parser.parse_args(argv)
    rows = []
    profile = tempfile.mkdtemp(prefix="bench-review-")
    driver = chromium(profile)
    try:
        driver.execute_cdp_cmd("Network.enable", {})
        for kind in args.stores.split(","):
            tmp = Path(tempfile.mkdtemp(prefix=f"bench-review-{kind}-"))
            filled = time.perf_counter()
            try:
                with store(kind, tmp, args.posts) as env:
                    filled = time.perf_counter() - filled
                    env |= {"FIREFLY_TOKEN": TOKEN, "MODEL_PATH": str(model_with_curves(tmp / "models"))}
                    env |= {"ALERT_DB_PATH": str(tmp / "alerts.sqlite3"), "FEEDBACK_DB_PATH": str(tmp / "fb.sqlite3")}
                    with gunicorn(tmp, **env) as server:
                        server.wait_ready()
                        page = server.url + "/review"
                        driver.get(f"{page}?key={TOKEN}")  # the token into this tab's session storage
                        load(driver, page, cold=True)  # a first load outside the figures
                        times: dict[bool, list[float]] = {True: [], False: []}
                        for i in range(args.loads * 2):
                            cold = i % 2 == 0
                            times[cold].append(load(driver, page, cold))
                        api = queue_call_ms(server.url)
            except pytest.skip.Exception as err:
                print(f"{kind}: skipped ({err})", file=sys.stderr)
                continue
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            for cold in (True, False):
                t = times[cold]
                rows.append(
                    f"| {kind} | {args.posts:,} | {'cold' if cold else 'warm'} | {len(t)} | "
                    f"{percentile(t, 0.5):.0f} | {percentile(t, 0.9):.0f} | {max(t):.0f} | {api:.1f} | {filled:.0f} s |"
                )
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    print(f"\n{platform.node()} · {os.cpu_count()} cores · chromium headless · {time.strftime('%Y-%m-%d %H:%M')}")
    print(
        "\n| store | posts | cache | loads | first screen p50 ms | p90 ms | max ms | GET /review/queue p50 ms | fill |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
