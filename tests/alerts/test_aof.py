"""Texts erased from a Redis with ``appendonly yes`` leave its append-only files too (issue 23, item 10):
after the review queue's or the alert outbox's retention erases them, a ``BGREWRITEAOF`` (rate-limited
across containers, owed until done, its failures logged and never raised) rewrites the files without them.
A real redis-server; the tests wait on the files, never for a fixed time."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from hatespeech.alerts.redis_store import RedisStore
from hatespeech.alerts.store import Row
from hatespeech.aof import LOCK, OWED, after_erase
from hatespeech.review.store import RedisQueue, post
from testing.services import redis_server
from testing.support import free_port, wait_for

HOUR = 3600.0


@pytest.fixture
def aof_redis(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    with redis_server(tmp_path, appendonly=True) as url:
        yield url, tmp_path


def on_disk(directory: Path) -> bytes:
    """Every append-only file Redis keeps (Redis 7: appendonlydir/, base and increments)."""
    return b"".join(p.read_bytes() for p in directory.rglob("appendonly*") if p.is_file())


def rewritten(url: str) -> bool:
    with redis.Redis.from_url(url) as client:
        info = client.info("persistence")
    return not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]


def queued(text: str) -> dict:
    return post(uuid.uuid4().hex, text, {"hate speech": 0.9, "neither": 0.1}, "block", "hate speech", ["hate speech"])


def test_texts_erased_from_the_review_queue_leave_the_aof(aof_redis: tuple[str, Path]) -> None:
    url, directory = aof_redis
    queue = RedisQueue(url, aof_rewrite_seconds=HOUR)
    try:
        first = f"erase-me-{uuid.uuid4().hex}"
        queue.add(queued(first))
        assert first.encode() in on_disk(directory)
        assert queue.maintain(now=10**10, text_retention=60, max_posts=100) == (1, 0)
        wait_for(lambda: rewritten(url) and first.encode() not in on_disk(directory), lambda: "still in the AOF")

        # a second erase within the hour: owed, not asked for (rate-limited), and the text still on disk
        second = f"erase-me-too-{uuid.uuid4().hex}"
        queue.add(queued(second))
        assert queue.maintain(now=10**10, text_retention=60, max_posts=100) == (1, 0)
        assert queue.client.exists(queue.prefix + OWED) and second.encode() in on_disk(directory)
        queue.client.delete(queue.prefix + LOCK)  # the hour is over: the next pass, erasing nothing, pays the debt
        assert queue.maintain(now=10**10, text_retention=60, max_posts=100) == (0, 0)
        wait_for(lambda: rewritten(url) and second.encode() not in on_disk(directory), lambda: "still in the AOF")
        assert not queue.client.exists(queue.prefix + OWED)
    finally:
        queue.close()


def test_texts_erased_from_the_alert_outbox_leave_the_aof(aof_redis: tuple[str, Path]) -> None:
    url, directory = aof_redis
    store = RedisStore(url, aof_rewrite_seconds=HOUR)
    try:
        text = f"alert-text-{uuid.uuid4().hex}"
        store.enqueue([Row("a1", "http://127.0.0.1:9/hook", "json", '{"type": "message"}', 100.0, 100.0, text)])
        assert text.encode() in on_disk(directory)
        done = store.maintain(now=1000.0, text_retention=60, max_age=10**6, outbox_max=100, window_age=60)
        assert done.texts_erased == 1 and done.pending == 1  # the alert itself stays, without its text
        wait_for(lambda: rewritten(url) and text.encode() not in on_disk(directory), lambda: "still in the AOF")
    finally:
        store.close()


def test_no_rewrite_without_aof_or_when_off(redis_url: str) -> None:
    with redis.Redis.from_url(redis_url) as client:
        prefix = f"aof-{uuid.uuid4().hex}:"
        assert not after_erase(client, prefix, 1, HOUR)  # this server has appendonly no: nothing on disk
        assert not client.exists(prefix + OWED) and not client.exists(prefix + LOCK)
        assert not after_erase(client, prefix, 1, 0)  # REDIS_AOF_REWRITE_MINUTES=0
        assert not client.exists(prefix + OWED)


def test_a_failed_rewrite_is_logged_never_raised(caplog: pytest.LogCaptureFixture) -> None:
    with redis.Redis(port=free_port(), socket_connect_timeout=1) as nobody, caplog.at_level(logging.WARNING):
        assert not after_erase(nobody, "p:", 3, HOUR)
    assert "aof_rewrite_failed" in caplog.text
