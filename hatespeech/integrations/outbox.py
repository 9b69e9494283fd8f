"""The integrations' durable outbound queue: platform API calls ride the alert outbox.

A webhook is answered 2xx once its platform call is *queued*: a row in the alert outbox (SQLite
at ``ALERT_DB_PATH``, or Redis when ``REDIS_URL`` is set), which the alert sender delivers in
the background, at least once, retried with backoff and jitter, a 429's ``Retry-After``
honoured, and kept across restarts (see hatespeech/alerts). Only the call's URL and its
parameters are stored; the API key or token is added by the sender at delivery time, from the
settings, so no secret is ever written to the outbox (nor logged: the sender logs the host only).

Deliveries are replayed (Discourse retries anything but 2xx, 4 times; Mastodon up to 16; an
admin can press "redeliver"), and an edit sends the post again. So each call has a *key*, such
as ``discourse:post:42:flag:7``, claimed once in a small keyed table beside the outbox before
the row is queued: a second delivery of the same post and event finds the key taken and
queues nothing. If queueing fails, the key is released and the webhook answers 503, so the
platform's own retry brings the work back (at least once, end to end).

The same table remembers what was flagged (``remember``/``recall``), so that a moderator's
later decision on the flag can be turned into the right label.
"""

from __future__ import annotations

import hashlib
import random
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hatespeech.connections import PerThread, open_sqlite

KEEP_SECONDS = 30 * 86_400.0  # keys and memories older than this are forgotten
_SCHEMA = """
CREATE TABLE IF NOT EXISTS integration_keys (key TEXT PRIMARY KEY, value TEXT, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS integration_keys_at ON integration_keys (at);
"""

Enqueue = Callable[[str, str, str, str], None]  # (kind, call id, url, JSON body)


class Keys:
    """A small shared key → value table with first-writer-wins ``claim``; SQLite or Redis."""

    def __init__(self, db_path: Path | str | None = None, redis_url: str | None = None, prefix: str = "hatespeech:"):
        self.path = Path(db_path) if db_path is not None else None
        self.redis_url, self.prefix = redis_url, prefix + "ik:"
        self._connections = PerThread(lambda: open_sqlite(self.path, _SCHEMA))  # type: ignore[arg-type]
        self._client: Any = None

    # -- backends
    def _db(self) -> sqlite3.Connection:
        return self._connections.get()

    def _redis(self) -> Any:
        if self._client is None:
            import redis  # a dependency only when REDIS_URL is set

            self._client = redis.Redis.from_url(
                self.redis_url, socket_timeout=2, socket_connect_timeout=2, decode_responses=True
            )
        return self._client

    # -- the interface
    def claim(self, key: str, value: str = "") -> bool:
        """Take ``key`` if nobody has: True for the first caller only (across workers and containers)."""
        if self.redis_url:
            return bool(self._redis().set(self.prefix + key, value, nx=True, ex=int(KEEP_SECONDS)))
        now = time.time()
        db = self._db()
        if random.random() < 1 / 256:  # forget old keys now and then, in a statement of its own
            db.execute("DELETE FROM integration_keys WHERE at < ?", (now - KEEP_SECONDS,))
        cursor = db.execute(
            "INSERT OR IGNORE INTO integration_keys (key, value, at) VALUES (?, ?, ?)", (key, value, now)
        )
        return cursor.rowcount == 1

    def close(self) -> None:
        """Close the Redis client and the SQLite connections (a later call opens new ones)."""
        if self._client is not None:
            self._client.close()
            self._client = None
        self._connections.close()

    def release(self, key: str) -> None:
        if self.redis_url:
            self._redis().delete(self.prefix + key)
        else:
            self._db().execute("DELETE FROM integration_keys WHERE key = ?", (key,))

    def remember(self, key: str, value: str) -> None:
        if self.redis_url:
            self._redis().set(self.prefix + key, value, ex=int(KEEP_SECONDS))
        else:
            self._db().execute(
                "INSERT OR REPLACE INTO integration_keys (key, value, at) VALUES (?, ?, ?)", (key, value, time.time())
            )

    def recall(self, key: str) -> str | None:
        if self.redis_url:
            return self._redis().get(self.prefix + key)
        row = (
            self._db()
            .execute("SELECT value FROM integration_keys WHERE key = ? AND at >= ?", (key, time.time() - KEEP_SECONDS))
            .fetchone()
        )
        return row[0] if row else None


class Outbox:
    """Queue platform calls once per key; see the module docstring."""

    def __init__(self, keys: Keys, enqueue: Enqueue):
        self.keys, self._enqueue = keys, enqueue

    def call_once(self, kind: str, key: str, url: str, body: str) -> bool:
        """Queue one call unless ``key`` was queued before: True if queued now, False for a replay.

        Raises if the call could not be queued (the key is released first), so the webhook can
        answer 503 and the platform send it again.
        """
        if not self.keys.claim(key):
            return False
        try:
            self._enqueue(kind, call_id(key), url, body)
        except BaseException:
            self.keys.release(key)
            raise
        return True


def call_id(key: str) -> str:
    """A call's id, sent as ``Idempotency-Key``: the same for every attempt of one call.

    >>> call_id("discourse:post:42:flag:7")
    '3e38549550dd08926f5297fe67eadf5c'
    """
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
