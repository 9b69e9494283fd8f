"""A lone surrogate (``"\\ud83d"``: Node's JSON writes one for half an emoji cut in two) in a board's
post: its alert goes out with U+FFFD in place of the half character, on SQLite and on a real Redis,
and the Redis breaker stays closed (a row that cannot be written is not the store being down)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from hatespeech.alerts.redis_store import RedisStore
from hatespeech.alerts.resilient import ResilientStore
from hatespeech.alerts.rules import Alerter
from hatespeech.alerts.sqlite_store import SQLiteStore
from hatespeech.resilience import BadRow, Breaker, Guard, Spool
from testing.alerting import Receiver, alert_env, fast_settings, flush, moderated
from testing.standins import ABUSIVE, Discourse, Mastodon, board_env, discourse_post
from testing.support import gunicorn

HALF = "\ud83d"  # the first half of 😀, alone


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _messages(receiver: Receiver) -> list[dict]:
    return [r.json() for r in receiver.accepted() if r.json().get("type") == "message"]


@pytest.mark.parametrize("store", ["sqlite", "redis"])
def test_a_discourse_post_with_a_lone_surrogate_is_alerted(
    store: str, tmp_path: Path, redis_url: str, discourse: Discourse, mastodon: Mastodon, receiver: Receiver
) -> None:
    flush(redis_url)
    env = {**board_env(tmp_path, discourse, mastodon), **alert_env(receiver.url, store, tmp_path, redis_url)}
    post_id = 9101 if store == "sqlite" else 9102
    with gunicorn(tmp_path, **env) as server:
        server.wait_ready()
        post = discourse_post(post_id, f"{ABUSIVE} {HALF}", username=f"al{HALF}ice", topic_id=71)
        status, answer = discourse.webhook(server.url + "/integrations/discourse", "post_created", post)
        assert status == 200 and answer["flag"]["queued"], answer
        receiver.wait(lambda r: len(_messages(r)) == 1)
        (alert,) = _messages(receiver)
        assert alert["text"].startswith(ABUSIVE) and alert["text"].endswith("\ufffd"), alert
        discourse.wait(lambda d: len(d.flags_of(post_id)) == 1)
        log = server.output()
    assert "store_unavailable" not in log and "store_error" not in log and "bad_row" not in log, log[-3000:]


def _resilient(tmp_path: Path, redis_url: str, receiver: Receiver) -> tuple[Alerter, Breaker]:
    flush(redis_url)
    breaker = Breaker(3600.0, "test")  # once open, it would stay open for the whole test
    store = ResilientStore(RedisStore(redis_url), SQLiteStore(tmp_path / "spool.sqlite3"), breaker)
    return Alerter(fast_settings((receiver.url + "/hook",)), store), breaker


def test_a_lone_surrogate_in_the_text_reaches_redis_and_keeps_its_breaker_closed(
    tmp_path: Path, redis_url: str, receiver: Receiver
) -> None:
    alerter, breaker = _resilient(tmp_path, redis_url, receiver)
    try:
        # the text as an in-process caller hands it (context fields with one are refused: Context.check)
        assert alerter.record(moderated("block"), {"id": "p1", "thread": "t1"}, f"you {HALF}")
        receiver.wait(lambda r: len(_messages(r)) == 1)
        (alert,) = _messages(receiver)
        assert alert["text"] == "you \ufffd", alert
        assert breaker.closed
        assert SQLiteStore(tmp_path / "spool.sqlite3").pending() == 0  # went to Redis, not to the spool
    finally:
        alerter.stop()


def test_a_bad_row_is_not_a_store_failure(tmp_path: Path, redis_url: str, receiver: Receiver) -> None:
    alerter, breaker = _resilient(tmp_path, redis_url, receiver)
    store = alerter.store
    try:
        with pytest.raises(BadRow):
            store.append("t", {"ts": 1.0, "id": object()}, 1.0, 10, 60)  # cannot be written, anywhere
        assert breaker.closed  # Redis answered nothing wrong: still used
        assert [e["id"] for e in store.append("t", {"ts": 2.0, "id": "ok"}, 2.0, 10, 60)] == ["ok"]
        assert RedisStore(redis_url).window("t", 2.0, 60) == [{"ts": 2.0, "id": "ok"}]  # in Redis, not spooled
        assert alerter.record(moderated("block"), {"id": "p2"}, "after the bad row")
        receiver.wait(lambda r: len(_messages(r)) == 1)
        assert breaker.closed
    finally:
        alerter.stop()


def test_a_guarded_store_neither_opens_its_breaker_nor_spools_a_bad_row(tmp_path: Path, redis_url: str) -> None:
    """The review queue's, feedback's and the keys' guard: a write Redis cannot take for its data."""
    flush(redis_url)
    client = redis.Redis.from_url(redis_url)
    spool, breaker = Spool(tmp_path / "spool.sqlite3"), Breaker(3600.0, "test")
    guard = Guard("test", {"set": client.set}, spool, breaker, timeout=30.0)
    try:
        with pytest.raises(BadRow):
            guard.write("set", f"k{HALF}", "v")  # redis-py cannot encode the key
        assert breaker.closed and spool.count() == 0
        assert guard.write("set", "k", "v") is True and client.get("k") == b"v"
    finally:
        guard.close()
        spool.close()
        client.close()
