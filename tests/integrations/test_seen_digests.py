"""The "seen" keys (kept 30 days) hold a keyed digest of each post's words, not a plain SHA-256 that
anyone reading the store could confirm a guessed text with; the same post delivered again, by another
worker or after a restart, is still "already handled" (issue 23, item 10)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import redis

from hatespeech.integrations.discourse import post_text
from hatespeech.integrations.mastodon import status_text
from testing.alerting import flush
from testing.standins import ABUSIVE, Discourse, Mastodon, board_env, discourse_post, mastodon_status
from testing.support import gunicorn


def _plain_hashes(*texts: str) -> list[bytes]:
    return [hashlib.sha256(t.encode()).hexdigest()[:16].encode() for t in texts]


def _stored(tmp_path: Path, redis_url: str | None) -> bytes:
    """Everything the service keeps: its files (SQLite and their WAL) and every Redis key and value."""
    found = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and not p.name.endswith(".log"))
    if redis_url:
        with redis.Redis.from_url(redis_url) as client:
            for key in client.scan_iter():
                found += key + b"\n" + repr(client.dump(key)).encode() + b"\n"
    return found


@pytest.mark.parametrize("store", ["sqlite", "redis"])
def test_seen_keys_are_keyed_and_still_recognise_a_redelivery(
    store: str, tmp_path: Path, redis_url: str, discourse: Discourse, mastodon: Mastodon
) -> None:
    flush(redis_url)
    extra = {"REDIS_URL": redis_url} if store == "redis" else {}
    env = {**board_env(tmp_path, discourse, mastodon), **extra}
    post_id = 9201 if store == "sqlite" else 9202
    post = discourse_post(post_id, f"{ABUSIVE} number {post_id}")
    status = mastodon_status(str(post_id), f"<p>{ABUSIVE} status {post_id}</p>")
    texts = (post_text(post).text, status_text(status).text)
    for attempt in ("first", "again", "after a restart"):
        with gunicorn(tmp_path, **env) as server:
            server.wait_ready()
            sent = discourse.webhook(server.url + "/integrations/discourse", "post_created", post)[1]
            told = mastodon.webhook(server.url + "/integrations/mastodon", "status.created", status)[1]
            if attempt == "first":
                assert sent["flag"]["queued"] and told["report"]["queued"], (sent, told)
            else:
                assert "already handled" in sent["ignored"] and "already handled" in told["ignored"], (attempt, sent)
            sent = discourse.webhook(server.url + "/integrations/discourse", "post_created", post)[1]
            assert "already handled" in sent["ignored"], sent  # on either worker
    stored = _stored(tmp_path, redis_url if store == "redis" else None)
    assert str(post_id).encode() in stored  # the keys are there to look at
    for plain in _plain_hashes(*texts):
        assert plain not in stored
