"""The integrations' durable outbound queue: platform API calls ride the alert outbox.

A webhook is answered 2xx once its platform call is *queued*: a row in the alert outbox (SQLite
at ``ALERT_DB_PATH``, or Redis when ``REDIS_URL`` is set), which the alert sender delivers in
the background, at least once, retried with backoff and jitter, a 429's ``Retry-After``
honoured, and kept across restarts (see hatespeech/alerts). Only the call's URL and its
parameters are stored; the API key or token is added by the sender at delivery time, from the
settings, so no secret is ever written to the outbox (nor logged: the sender logs the host only).

Deliveries are replayed (Discourse retries anything but 2xx, 4 times; Mastodon up to 16; an
admin can press "redeliver"), and an edit sends the post again. So each call has a *key*, such
as ``discourse:post:42:flag:7``, claimed in a small keyed table beside the outbox: *pending*
while the row is queued, *done* once it is. A later delivery of the same post and event finds
it done and queues nothing; one that finds it pending (a delivery being handled right now) is
answered 503, and a pending claim older than ``PENDING_SECONDS`` is taken over. If queueing
fails, the key is released and the webhook answers 503, so the platform's own retry brings the
work back (at least once, end to end), even when the release itself is lost with the store.

The same table remembers what was flagged (``remember``/``recall``), so that a moderator's
later decision on the flag can be turned into the right label.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from hatespeech.config import DEFAULT_ALERT_DB_PATH, StoreSettings
from hatespeech.connections import PerThread, open_redis, open_sqlite
from hatespeech.resilience import Guard, StoreUnavailable, guard

log = logging.getLogger("hatespeech.integrations")
T = TypeVar("T")
KEEP_SECONDS = 30 * 86_400.0  # keys and memories older than this are forgotten
# A claim's work (scoring, queueing a call) takes milliseconds; a claim pending longer than this was
# lost (its holder died, or its release never reached the store) and is taken over. Shorter than the
# boards' first retry (Discourse: 1 minute; Mastodon: about 15 s).
PENDING_SECONDS = 10
# Versioned (hatespeech/connections.py); step 1 adopts a file of the release before versions as it is.
MIGRATIONS = (
    "integration_keys",
    [
        [
            "CREATE TABLE IF NOT EXISTS integration_keys (key TEXT PRIMARY KEY, value TEXT, at REAL NOT NULL)",
            "CREATE INDEX IF NOT EXISTS integration_keys_at ON integration_keys (at)",
        ]
    ],
)

Enqueue = Callable[[str, str, str, str], None]  # (kind, call id, url, JSON body)


# ARGV: now, pending seconds, keep seconds, and "pending" or "done". A claim is "pending:<unix time>"
# until the work is queued, then "" (done); a pending claim older than its seconds is anybody's to take
# over. A delivery with no work to queue is claimed "done" at once (one write instead of two).
_TAKE = """
local v = redis.call('GET', KEYS[1])
if v then
  if string.sub(v, 1, 8) ~= 'pending:' then return 0 end
  if tonumber(string.sub(v, 9)) >= tonumber(ARGV[1]) - tonumber(ARGV[2]) then return 2 end
end
local value = ''
if ARGV[4] == 'pending' then value = 'pending:' .. ARGV[1] end
redis.call('SET', KEYS[1], value, 'EX', ARGV[3])
return 1
"""
DONE, FRESH, BUSY = "done", "fresh", "busy"
_STATES = {0: DONE, 1: FRESH, 2: BUSY}


class InProgress(RuntimeError):
    """Another delivery of the same work is being handled right now: the platform should send it again later."""


class Keys:
    """A small shared key → value table with once-only claims; SQLite or Redis.

    A claim (``take``) is *pending* until the work it guards is safely queued (``done``), or released
    if that failed; a pending claim older than ``PENDING_SECONDS`` (its holder died, or the store
    lost the release) is taken over. So a delivery the platform retries because we answered 503 is
    always handled again, never "already handled". With ``stores`` (the service's ``StoreSettings``)
    every call is guarded (hatespeech/resilience.py): ``done``, ``release`` and ``remember`` are
    spooled while the store is away, and a claim the store cannot answer is handled as new (``once``).
    """

    def __init__(
        self,
        db_path: Path | str | None = None,
        redis_url: str | None = None,
        prefix: str = "hatespeech:",
        stores: StoreSettings | None = None,
    ):
        self.path = Path(db_path) if db_path is not None else None
        self.redis_url, self.prefix = redis_url, prefix + "ik:"
        self._connections = PerThread(lambda: open_sqlite(self.path, "", migrations=MIGRATIONS))  # type: ignore[arg-type]  # opened only without Redis, when path is set
        self._client: Any = None
        self._lock = threading.Lock()
        self.stores = stores
        self.guard: Guard | None = None
        if stores is not None:
            ops: dict[str, Callable[..., Any]] = {
                "done": self._done,
                "release": self._release,
                "remember": self._remember,
            }
            address = redis_url or str(Path(db_path or ".").resolve())
            self.guard = guard("keys", ops, address, stores, self.path or DEFAULT_ALERT_DB_PATH)

    # -- backends
    def _db(self) -> sqlite3.Connection:
        return self._connections.get()

    def _redis(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    client = open_redis(self.redis_url or "", self.stores.timeout if self.stores else 2.0)
                    self._take_script = client.register_script(_TAKE)
                    self._client = client
        return self._client

    def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return self.guard.call(fn, *args) if self.guard is not None else fn(*args)

    def _write(self, op: str, *args: Any) -> None:
        if self.guard is not None:
            self.guard.write(op, *args)
        else:
            getattr(self, "_" + op)(*args)

    def _take(self, key: str, pending: bool = True) -> str:
        now = time.time()
        if self.redis_url:
            self._redis()
            found = self._take_script(
                keys=[self.prefix + key],
                args=[repr(now), PENDING_SECONDS, int(KEEP_SECONDS), "pending" if pending else "done"],
            )
            return _STATES[int(found)]
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            if random.random() < 1 / 256:  # forget old keys now and then
                db.execute("DELETE FROM integration_keys WHERE at < ?", (now - KEEP_SECONDS,))
            row = db.execute(
                "SELECT value FROM integration_keys WHERE key = ? AND at >= ?", (key, now - KEEP_SECONDS)
            ).fetchone()
            state = FRESH
            if row is not None and not str(row[0]).startswith("pending:"):
                state = DONE
            elif row is not None and float(row[0][8:]) >= now - PENDING_SECONDS:
                state = BUSY
            else:
                db.execute(
                    "INSERT OR REPLACE INTO integration_keys (key, value, at) VALUES (?, ?, ?)",
                    (key, f"pending:{now!r}" if pending else "", now),
                )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return state

    def _done(self, key: str) -> None:
        self._remember(key, "")

    def _release(self, key: str) -> None:
        if self.redis_url:
            self._redis().delete(self.prefix + key)
        else:
            self._db().execute("DELETE FROM integration_keys WHERE key = ?", (key,))

    def _remember(self, key: str, value: str) -> None:
        if self.redis_url:
            self._redis().set(self.prefix + key, value, ex=int(KEEP_SECONDS))
        else:
            self._db().execute(
                "INSERT OR REPLACE INTO integration_keys (key, value, at) VALUES (?, ?, ?)", (key, value, time.time())
            )

    def _recall(self, key: str) -> str | None:
        if self.redis_url:
            return self._redis().get(self.prefix + key)
        row = (
            self._db()
            .execute("SELECT value FROM integration_keys WHERE key = ? AND at >= ?", (key, time.time() - KEEP_SECONDS))
            .fetchone()
        )
        return row[0] if row else None

    # -- the interface
    def take(self, key: str) -> str:
        """Claim ``key`` as pending: ``FRESH`` (the caller's now), ``DONE`` (handled before) or ``BUSY``
        (another caller's, pending); ``StoreUnavailable`` if the store cannot answer in time."""
        return self._call(self._take, key)

    def mark(self, key: str) -> str:
        """``take`` for work with nothing to queue: ``key`` is recorded done at once if it was free (``FRESH``)."""
        return self._call(self._take, key, False)

    def claim(self, key: str) -> bool:
        """True if the caller took ``key`` now (see ``take``)."""
        return self.take(key) == FRESH

    def done(self, key: str) -> None:
        """The work ``key`` guards is queued: later deliveries of it are replays (spooled if the store is away)."""
        self._write("done", key)

    def release(self, key: str) -> None:
        """The work failed: the next delivery handles it (spooled if the store is away; a claim lapses anyway)."""
        self._write("release", key)

    def remember(self, key: str, value: str) -> None:
        self._write("remember", key, value)

    def recall(self, key: str) -> str | None:
        return self._call(self._recall, key)

    @contextlib.contextmanager
    def once(self, key: str) -> Iterator[bool]:
        """``with keys.once(key) as fresh:`` — True unless ``key``'s work was done before.

        The claim is done when the block ends normally and released when it raises, so the
        platform's retry of a failed delivery is handled again. ``InProgress`` if another delivery
        holds the claim. When the store cannot answer, the work is handled as new: at least once.
        """
        try:
            state = self.take(key)
        except StoreUnavailable:
            state = FRESH
        if state == BUSY:
            raise InProgress(key)
        if state == DONE:
            yield False
            return
        try:
            yield True
        except BaseException:
            with contextlib.suppress(StoreUnavailable):
                self.release(key)
            raise
        try:
            self.done(key)
        except StoreUnavailable:  # the store and its spool failed: the claim lapses, a retry redoes the work
            log.error(json.dumps({"integrations": "claim_not_recorded", "error": "store and spool unavailable"}))

    def close(self) -> None:
        """Close the Redis client and the SQLite connections (a later call opens new ones)."""
        if self.guard is not None:
            self.guard.close()
        if self._client is not None:
            self._client.close()
            self._client = None
        self._connections.close()


class Outbox:
    """Queue platform calls once per key; see the module docstring."""

    def __init__(self, keys: Keys, enqueue: Enqueue):
        self.keys, self._enqueue = keys, enqueue

    def call_once(self, kind: str, key: str, url: str, body: str) -> bool:
        """Queue one call unless ``key`` was queued before: True if queued now, False for a replay.

        Raises if the call could not be queued (the key is released first), so the webhook can
        answer 503 and the platform send it again.
        """
        with self.keys.once(key) as fresh:
            if fresh:
                self._enqueue(kind, call_id(key), url, body)
        return fresh


def call_id(key: str) -> str:
    """A call's id, sent as ``Idempotency-Key``: the same for every attempt of one call.

    >>> call_id("discourse:post:42:flag:7")
    '3e38549550dd08926f5297fe67eadf5c'
    """
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
