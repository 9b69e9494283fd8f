"""What a platform's webhook costs over ``/moderate`` itself, over HTTP (issue 16).

    .venv/bin/python bench/integrations.py [--requests 800] [--workers 1]

One production server (gunicorn, the Dockerfile's command line) with the three integrations
configured against local stand-ins of Discourse and Mastodon (testing/standins.py), no alert
webhook. One client on one keep-alive connection per endpoint sends, in a random interleaved
order so that all see the same machine:

- ``/moderate``: ``{"text", "id", "thread", "author", "url"}`` with the token (the baseline);
- ``/integrations/discourse``: a signed ``post_created`` as Discourse sends it (raw + cooked);
- ``/integrations/coral``: a signed, pretty-printed external moderation request;
- ``/integrations/mastodon``: a signed ``status.created``.

Every endpoint gets the same texts in the same proportions: 90% clean, 7% for review, 3% to
block (each abusive post a new post, so its flag or report is queued and delivered to the
stand-in meanwhile). Wall time per request at the client: p50, p90, p99 in milliseconds, and
the p50 difference from ``/moderate``; then the same for the review/block posts alone (where
the flag or report is queued). Prints a Markdown table for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the checkout's packages (hatespeech, testing)

from testing.standins import (  # noqa: E402
    ABUSIVE,
    CLEAN,
    CORAL_SECRET,
    DISCOURSE_SECRET,
    MASTODON_SECRET,
    REVIEW,
    TOKEN,
    Coral,
    Discourse,
    Mastodon,
    board_env,
    discourse_post,
    mastodon_status,
    sha256_signature,
    wait_outbox_empty,
)
from testing.support import gunicorn  # noqa: E402

ENDPOINTS = ("moderate", "discourse", "coral", "mastodon")
CLEAN_TEXTS = [
    CLEAN,
    "Does anyone know when the library opens on Sunday?",
    "Great write-up, the second chart finally made it click for me.",
    "I disagree with the premise, but the sources are solid.",
]


def request_for(endpoint: str, i: int, text: str) -> tuple[str, bytes, dict[str, str]]:
    """(path, body, headers) as the platform (or an API client) would send them."""
    if endpoint == "moderate":
        body = {"text": text, "id": f"p{i}", "thread": f"t{i % 50}", "author": "alice", "url": f"https://f.example/{i}"}
        return "/moderate", json.dumps(body).encode(), {"Authorization": f"Token {TOKEN}"}
    if endpoint == "discourse":
        raw = json.dumps({"post": discourse_post(i, text, topic_id=i % 50)}, separators=(",", ":")).encode()
        headers = {"X-Discourse-Event": "post_created", "X-Discourse-Event-Type": "post"}
        return (
            "/integrations/discourse",
            raw,
            {**headers, "X-Discourse-Event-Signature": sha256_signature(DISCOURSE_SECRET, raw)},
        )
    if endpoint == "coral":
        raw = json.dumps(Coral.request(f"<p>{text}</p>", story=f"s{i % 50}"), indent=2).encode()
        return "/integrations/coral", raw, {"X-Coral-Signature": sha256_signature(CORAL_SECRET, raw)}
    event = {
        "event": "status.created",
        "created_at": "2026-11-27T12:00:00.000Z",
        "object": mastodon_status(str(i), f"<p>{text}</p>"),
    }
    raw = json.dumps(event, separators=(",", ":")).encode()
    return "/integrations/mastodon", raw, {"X-Hub-Signature": sha256_signature(MASTODON_SECRET, raw)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=800, help="per endpoint")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    discourse, mastodon = Discourse(), Mastodon()
    with (
        tempfile.TemporaryDirectory() as tmp,
        gunicorn(
            Path(tmp),
            **board_env(Path(tmp), discourse, mastodon),
            WEB_CONCURRENCY=str(args.workers),
            LOG_LEVEL="warning",
        ) as server,
    ):
        server.wait_ready()
        host = urllib.parse.urlsplit(server.url)
        conns = {e: http.client.HTTPConnection(host.hostname, host.port, timeout=30) for e in ENDPOINTS}
        plan = [e for e in ENDPOINTS for _ in range(args.requests)]
        rng.shuffle(plan)
        times: dict[str, list[float]] = {e: [] for e in ENDPOINTS}
        acted: dict[str, list[float]] = {e: [] for e in ENDPOINTS}  # the review/block posts only
        statuses: dict[str, dict[int, int]] = {e: {} for e in ENDPOINTS}
        for i, endpoint in enumerate(plan, start=1000):
            text = rng.choices([rng.choice(CLEAN_TEXTS), REVIEW, ABUSIVE], [90, 7, 3])[0]
            path, body, headers = request_for(endpoint, i, text)
            conn = conns[endpoint]
            started = time.perf_counter()
            conn.request("POST", path, body, {"Content-Type": "application/json", **headers})
            response = conn.getresponse()
            response.read()
            elapsed = (time.perf_counter() - started) * 1000
            if i >= 1000 + 4 * 20:  # the first requests warm the connections and the worker's caches
                times[endpoint].append(elapsed)
                if text != CLEAN and text not in CLEAN_TEXTS:
                    acted[endpoint].append(elapsed)
            statuses[endpoint][response.status] = statuses[endpoint].get(response.status, 0) + 1
        wait_outbox_empty(Path(tmp) / "alerts.sqlite3", timeout=60)  # every flag and report delivered
        flags = len(discourse.accepted("/post_actions"))
        reports = len(mastodon.accepted("/api/v1/reports"))
    discourse.close()
    mastodon.close()

    def q(values: list[float], p: int) -> float:
        return statistics.quantiles(values, n=100)[p - 1]

    base = statistics.median(times["moderate"])
    print(
        f"\n{platform.node()} · {os.cpu_count()} cores · Python {platform.python_version()} · "
        f"{args.requests} requests per endpoint, {args.workers} worker(s), seed {args.seed}"
    )
    print(f"statuses: {statuses}; Discourse flags delivered: {flags}, Mastodon reports delivered: {reports}\n")
    print("| endpoint | p50 ms | p90 ms | p99 ms | p50 over /moderate |")
    print("|---|---:|---:|---:|---:|")
    for endpoint in ENDPOINTS:
        v = times[endpoint]
        name = "/moderate" if endpoint == "moderate" else f"/integrations/{endpoint}"
        extra = "—" if endpoint == "moderate" else f"{statistics.median(v) - base:+.2f} ms"
        print(f"| {name} | {statistics.median(v):.2f} | {q(v, 90):.2f} | {q(v, 99):.2f} | {extra} |")
    base = statistics.median(acted["moderate"])
    print("\nOnly the posts for review or block (flag or report queued, the words that weighed computed):\n")
    print("| endpoint | requests | p50 ms | p90 ms | p50 over /moderate |")
    print("|---|---:|---:|---:|---:|")
    for endpoint in ENDPOINTS:
        v = acted[endpoint]
        name = "/moderate" if endpoint == "moderate" else f"/integrations/{endpoint}"
        extra = "—" if endpoint == "moderate" else f"{statistics.median(v) - base:+.2f} ms"
        print(f"| {name} | {len(v)} | {statistics.median(v):.2f} | {q(v, 90):.2f} | {extra} |")


if __name__ == "__main__":
    main()
