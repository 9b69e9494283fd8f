"""Helpers for the alert tests: a real webhook receiver, both stores (the redis-server: testing/services.py)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from hatespeech.alerts.redis_store import RedisStore
from hatespeech.alerts.sqlite_store import SQLiteStore
from hatespeech.alerts.store import Store
from hatespeech.config import AlertSettings
from testing.support import LocalServer, wait_for

STORES = ("sqlite", "redis")
SECRET = "test-secret"


def flush(redis_url: str) -> None:
    import redis

    with redis.Redis.from_url(redis_url) as client:
        client.flushdb()


def open_test_store(kind: str, tmp_path: Path, redis_url: str | None) -> Store:
    if kind == "sqlite":
        return SQLiteStore(tmp_path / "alerts.sqlite3")
    assert redis_url
    flush(redis_url)
    return RedisStore(redis_url)


def store_env(kind: str, tmp_path: Path, redis_url: str | None) -> dict[str, str]:
    """The environment that makes ``open_store`` open the same store in another process."""
    if kind == "sqlite":
        return {"ALERT_DB_PATH": str(tmp_path / "alerts.sqlite3")}
    # the spool (where alerts wait while Redis is away) in this test's directory, not the repository's data/
    return {"REDIS_URL": redis_url or "", "ALERT_SPOOL_PATH": str(tmp_path / "alerts-spool.sqlite3")}


def alert_env(webhook: str, kind: str, tmp_path: Path, redis_url: str | None) -> dict[str, str]:
    """A server's or a process's environment for signed JSON alerts with millisecond retries.

    A delivery may take 2 s: a shorter timeout is a window a busy machine misses, and the retry
    delivers the alert twice (at least once, by design), which the tests would count.
    """
    return {
        "ALERT_WEBHOOK_URL": webhook,
        "ALERT_FORMAT": "json",
        "ALERT_SECRET": SECRET,
        "ALERT_TIMEOUT": "2",
        "ALERT_BACKOFF_BASE": "0.05",
        "ALERT_BACKOFF_MAX": "0.2",
        "ALERT_LEASE": "5",
        "ALERT_POLL": "0.05",
        **store_env(kind, tmp_path, redis_url),
    }


def fast_settings(urls: tuple[str, ...], **changes: object) -> AlertSettings:
    """Alert settings with short backoff, so that retries take milliseconds (the timeout: see ``alert_env``)."""
    base = AlertSettings(
        webhook_urls=urls,
        format="json",
        secret=SECRET,
        timeout=2.0,
        backoff_base=0.05,
        backoff_max=0.2,
        lease_seconds=10.0,
        poll_seconds=0.05,
    )
    return dataclasses.replace(base, **changes)


def moderated(action: str = "block", label: str = "hate speech", abusive: float = 0.9) -> dict:
    """A ``/moderate`` answer with the given action (what ``alerts.record`` receives)."""
    hate = abusive if label == "hate speech" else 0.02
    offensive = abusive - hate if label == "hate speech" else abusive
    return {
        "scores": {"hate speech": hate, "offensive language": offensive, "neither": 1 - abusive},
        "label": label,
        "flagged": action != "allow",
        "action": action,
        "categories": {"hate speech": label == "hate speech", "offensive language": label != "hate speech"},
        "model": {"version": "1.0.0", "sha256": "ab" * 32},
    }


class Clock:
    """Unix time that a test moves forward (real time plus a skew), for an ``Alerter``'s ``clock``:
    a cool-down or a burst ends when the test says, not after a wait that a busy machine can stretch."""

    def __init__(self, start: float | None = None) -> None:
        self.skew = 0.0 if start is None else start - time.time()

    def __call__(self) -> float:
        return time.time() + self.skew

    def advance(self, seconds: float) -> None:
        self.skew += seconds


@dataclasses.dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    status: int

    def json(self) -> dict:
        return json.loads(self.body)


class Receiver(LocalServer):
    """A webhook receiver on 127.0.0.1 that can be told to fail, hang or answer 429."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.plan: list[tuple[int, float, dict[str, str]]] = []  # (status, delay, headers) for the next requests
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    status, delay, headers = receiver.plan.pop(0) if receiver.plan else (200, 0.0, {})
                    receiver.requests.append(Received(self.path, dict(self.headers), body, time.monotonic(), status))
                if delay:
                    time.sleep(delay)
                with contextlib.suppress(OSError):
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")

        super().__init__(Handler)

    def then(self, status: int, times: int = 1, delay: float = 0.0, headers: dict[str, str] | None = None) -> None:
        """Answer the next ``times`` requests with ``status`` (after ``delay`` seconds)."""
        with self.lock:
            self.plan += [(status, delay, headers or {})] * times

    def accepted(self) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.status == 200]

    def wait(self, condition: Callable[[Receiver], bool], timeout: float = 60.0) -> None:
        """Wait (bounded) until ``condition(self)`` holds; fail with what arrived if it never does."""
        wait_for(lambda: condition(self), lambda: [(r.status, r.body[:80]) for r in self.requests], timeout)
