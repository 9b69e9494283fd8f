"""The state behind alerts: discussion windows, cool-downs and the outbox, in SQLite or Redis.

One interface (``Store``), two backends:

- ``SQLiteStore`` (the default): one file (``ALERT_DB_PATH``) shared by every gunicorn worker
  and thread of one machine. WAL mode, so readers never wait for the writer; ``busy_timeout``,
  so writers queue instead of failing; each write is one short ``BEGIN IMMEDIATE`` transaction.
  Connections are opened lazily, one per process and thread, and never carried across a fork.
  ``synchronous=NORMAL``: a committed alert survives the process being killed (the WAL is in
  the OS's cache), though not a power cut; ``FULL`` would cost an fsync per request.
- ``RedisStore`` (when ``REDIS_URL`` is set): several containers share one view of each
  discussion and one outbox. Each operation that must be atomic is one Lua script or one
  ``MULTI`` pipeline.

The outbox holds one row per alert and webhook URL. A sender *claims* due rows with a lease: the
row's due time moves to the end of the lease, so if the sender dies mid-delivery the row becomes
due again for anyone (at-least-once). ``maintain`` keeps the outbox bounded: texts erased after
their retention, rows given up after ``max_age``, the oldest dropped beyond ``outbox_max``.

>>> import tempfile, pathlib
>>> store = SQLiteStore(pathlib.Path(tempfile.mkdtemp()) / "alerts.sqlite3")
>>> [e["id"] for e in store.append("t1", {"ts": 1.0, "id": "p1"}, now=1.0, max_messages=2, max_age=60)]
['p1']
>>> [e["id"] for e in store.append("t1", {"ts": 2.0, "id": "p2"}, now=2.0, max_messages=2, max_age=60)]
['p2', 'p1']
>>> [e["id"] for e in store.append("t1", {"ts": 3.0, "id": "p3"}, now=3.0, max_messages=2, max_age=60)]
['p3', 'p2']
>>> store.close()
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BUSY_TIMEOUT_MS = 5000  # a writer waits this long for another before giving up


@dataclass
class Row:
    """One outbox row: one alert for one webhook URL."""

    alert_id: str
    url: str
    format: str
    alert: str  # the alert as JSON, without the text
    created: float
    due: float
    text: str | None = None  # the post's text, kept apart so retention can erase it
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    attempts: int = 0  # failed attempts so far
    lease: str | None = None  # set on a claimed row: the claim's token
    error: str | None = None  # the last failure

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> Row:
        return cls(
            alert_id=values["alert_id"],
            url=values["url"],
            format=values["format"],
            alert=values["alert"],
            created=float(values["created"]),
            due=float(values.get("due") or 0),
            text=values.get("text"),
            id=values["id"],
            attempts=int(values.get("attempts") or 0),
            lease=values.get("lease"),
            error=values.get("error"),
        )


@dataclass
class Maintenance:
    """What one ``maintain`` pass did."""

    texts_erased: int = 0
    expired: list[Row] = field(default_factory=list)  # not delivered within max_age: given up
    dropped: list[Row] = field(default_factory=list)  # the oldest, beyond outbox_max
    pending: int = 0  # rows left in the outbox


def _worse(share: float, mean: float, last_share: float, last_mean: float, step: float) -> bool:
    return share >= last_share + step - 1e-9 or mean >= last_mean + step - 1e-9


class Store(ABC):
    """Discussion windows, cool-downs and the outbox; safe to share between threads and workers."""

    @abstractmethod
    def append(self, thread: str, entry: dict, now: float, max_messages: int, max_age: float) -> list[dict]:
        """Add ``entry`` (with ``ts``) to the thread's window; return the window, newest first."""

    @abstractmethod
    def enqueue(self, rows: list[Row]) -> None:
        """Add rows to the outbox, all or none."""

    @abstractmethod
    def enqueue_if_cooled(
        self, thread: str, now: float, cooldown: float, share: float, mean: float, step: float, rows: list[Row]
    ) -> bool:
        """Atomically: unless the thread is cooling down at a level not ``step`` better than this
        one, start its cool-down at this level and enqueue ``rows``. True if it did."""

    @abstractmethod
    def claim(self, now: float, lease_seconds: float, limit: int) -> list[Row]:
        """Due rows, leased to the caller until ``now + lease_seconds``; each to one claimer only."""

    @abstractmethod
    def delivered(self, row: Row) -> None:
        """The row was delivered: delete it."""

    @abstractmethod
    def retry(self, row: Row, due: float, error: str) -> None:
        """The attempt failed: try again at ``due`` (unless the lease was lost to another sender)."""

    @abstractmethod
    def give_up(self, row: Row) -> None:
        """The row cannot be delivered: delete it."""

    @abstractmethod
    def maintain(
        self, now: float, text_retention: float, max_age: float, outbox_max: int, window_age: float
    ) -> Maintenance:
        """Erase old texts, give up old rows, drop the oldest beyond ``outbox_max``, forget idle windows."""

    @abstractmethod
    def pending(self) -> int:
        """Rows in the outbox."""

    @abstractmethod
    def close(self) -> None:
        """Close this process's connections."""


def open_store(alert_settings: Any) -> Store:
    """The store that ``AlertSettings`` asks for: Redis when ``REDIS_URL`` is set, else SQLite."""
    if alert_settings.redis_url:
        return RedisStore(alert_settings.redis_url)
    return SQLiteStore(alert_settings.db_path)


# ------------------------------------------------------------------------------------------ SQLite

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id TEXT PRIMARY KEY, alert_id TEXT NOT NULL, url TEXT NOT NULL, format TEXT NOT NULL,
    alert TEXT NOT NULL, text TEXT, created REAL NOT NULL, due REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, lease TEXT, error TEXT);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (due);
CREATE INDEX IF NOT EXISTS outbox_created ON outbox (created);
CREATE TABLE IF NOT EXISTS windows (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, thread TEXT NOT NULL, ts REAL NOT NULL, entry TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS windows_thread ON windows (thread, seq);
CREATE INDEX IF NOT EXISTS windows_ts ON windows (ts);
CREATE TABLE IF NOT EXISTS cooldowns (
    thread TEXT PRIMARY KEY, until REAL NOT NULL, share REAL NOT NULL, mean REAL NOT NULL);
"""
_COLUMNS = "id, alert_id, url, format, alert, text, created, due, attempts, lease, error"


class SQLiteStore(Store):
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._connections: list[sqlite3.Connection] = []

    def _db(self) -> sqlite3.Connection:
        if self._pid != os.getpid():
            # subtle: a connection must not cross a fork; the parent's are forgotten, not closed
            with self._lock:
                self._pid, self._connections, self._local = os.getpid(), [], threading.local()
        conn = getattr(self._local, "conn", None)
        if conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # check_same_thread=False only so close() may run in another thread: each thread uses its own
            conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.executescript(_SCHEMA)  # each statement is idempotent and waits its turn (busy_timeout)
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _write(self) -> _Transaction:
        return _Transaction(self._db())

    def append(self, thread: str, entry: dict, now: float, max_messages: int, max_age: float) -> list[dict]:
        with self._write() as db:
            db.execute(
                "INSERT INTO windows (thread, ts, entry) VALUES (?, ?, ?)", (thread, entry["ts"], json.dumps(entry))
            )
            rows = db.execute(
                "SELECT seq, ts, entry FROM windows WHERE thread = ? ORDER BY seq DESC", (thread,)
            ).fetchall()
            keep = [r for r in rows[:max_messages] if r["ts"] >= now - max_age]
            if len(keep) < len(rows):
                oldest_kept = keep[-1]["seq"] if keep else rows[0]["seq"] + 1
                db.execute(
                    "DELETE FROM windows WHERE thread = ? AND (seq < ? OR ts < ?)", (thread, oldest_kept, now - max_age)
                )
        return [json.loads(r["entry"]) for r in keep]

    @staticmethod
    def _insert(db: sqlite3.Connection, rows: list[Row]) -> None:
        db.executemany(
            f"INSERT INTO outbox ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (r.id, r.alert_id, r.url, r.format, r.alert, r.text, r.created, r.due, r.attempts, None, None)
                for r in rows
            ],
        )

    def enqueue(self, rows: list[Row]) -> None:
        with self._write() as db:
            self._insert(db, rows)

    def enqueue_if_cooled(
        self, thread: str, now: float, cooldown: float, share: float, mean: float, step: float, rows: list[Row]
    ) -> bool:
        with self._write() as db:
            last = db.execute("SELECT until, share, mean FROM cooldowns WHERE thread = ?", (thread,)).fetchone()
            if last and now < last["until"] and not _worse(share, mean, last["share"], last["mean"], step):
                return False
            db.execute(
                "INSERT OR REPLACE INTO cooldowns (thread, until, share, mean) VALUES (?, ?, ?, ?)",
                (thread, now + cooldown, share, mean),
            )
            self._insert(db, rows)
        return True

    def claim(self, now: float, lease_seconds: float, limit: int) -> list[Row]:
        lease = uuid.uuid4().hex
        with self._write() as db:
            found = db.execute(
                f"UPDATE outbox SET due = ?, lease = ? WHERE id IN "
                f"(SELECT id FROM outbox WHERE due <= ? ORDER BY due LIMIT ?) RETURNING {_COLUMNS}",
                (now + lease_seconds, lease, now, limit),
            ).fetchall()
        return sorted((Row.from_mapping(dict(r)) for r in found), key=lambda r: r.created)

    def delivered(self, row: Row) -> None:
        with self._write() as db:
            db.execute("DELETE FROM outbox WHERE id = ?", (row.id,))

    def retry(self, row: Row, due: float, error: str) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE outbox SET due = ?, attempts = attempts + 1, lease = NULL, error = ? "
                "WHERE id = ? AND lease = ?",
                (due, error[:500], row.id, row.lease),
            )

    def give_up(self, row: Row) -> None:
        self.delivered(row)

    def maintain(
        self, now: float, text_retention: float, max_age: float, outbox_max: int, window_age: float
    ) -> Maintenance:
        done = Maintenance()
        with self._write() as db:
            done.texts_erased = db.execute(
                "UPDATE outbox SET text = NULL WHERE created < ? AND text IS NOT NULL", (now - text_retention,)
            ).rowcount
            done.expired = [
                Row.from_mapping(dict(r))
                for r in db.execute(f"DELETE FROM outbox WHERE created < ? RETURNING {_COLUMNS}", (now - max_age,))
            ]
            count = db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
            if count > outbox_max:
                done.dropped = [
                    Row.from_mapping(dict(r))
                    for r in db.execute(
                        f"DELETE FROM outbox WHERE id IN (SELECT id FROM outbox ORDER BY created LIMIT ?) "
                        f"RETURNING {_COLUMNS}",
                        (count - outbox_max,),
                    )
                ]
            done.pending = count - len(done.dropped)
            db.execute("DELETE FROM cooldowns WHERE until < ?", (now,))
            db.execute("DELETE FROM windows WHERE ts < ?", (now - window_age,))  # threads gone quiet
        return done

    def pending(self) -> int:
        return self._db().execute("SELECT COUNT(*) FROM outbox").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                for conn in self._connections:
                    conn.close()
            self._connections, self._local = [], threading.local()


class _Transaction:
    """``with``: one ``BEGIN IMMEDIATE`` … ``COMMIT`` (or ``ROLLBACK`` on an exception)."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        self.db.execute("ROLLBACK" if kind else "COMMIT")


# ------------------------------------------------------------------------------------------- Redis

# KEYS: cooldown, due, created, texted. ARGV: now, until, share, mean, step, ttl_ms, prefix, rows (JSON)
_ENQUEUE_IF_COOLED = """
local last = redis.call('HMGET', KEYS[1], 'until', 'share', 'mean')
local now, share, mean, step = tonumber(ARGV[1]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
if last[1] and now < tonumber(last[1]) then
  if not (share >= tonumber(last[2]) + step - 1e-9 or mean >= tonumber(last[3]) + step - 1e-9) then
    return 0
  end
end
redis.call('HSET', KEYS[1], 'until', ARGV[2], 'share', ARGV[3], 'mean', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
for _, r in ipairs(cjson.decode(ARGV[8])) do
  local key = ARGV[7] .. 'o:' .. r.id
  redis.call('HSET', key, 'id', r.id, 'alert_id', r.alert_id, 'url', r.url, 'format', r.format,
             'alert', r.alert, 'created', r.created, 'due', r.due, 'attempts', 0)
  if r.text then
    redis.call('HSET', key, 'text', r.text)
    redis.call('ZADD', KEYS[4], r.created, r.id)
  end
  redis.call('ZADD', KEYS[2], r.due, r.id)
  redis.call('ZADD', KEYS[3], r.created, r.id)
end
return 1
"""

# KEYS: due, created, texted. ARGV: now, lease_until, lease, limit, prefix
_CLAIM = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[4])
local out = {}
for _, id in ipairs(ids) do
  local key = ARGV[5] .. 'o:' .. id
  if redis.call('EXISTS', key) == 1 then
    redis.call('ZADD', KEYS[1], ARGV[2], id)
    redis.call('HSET', key, 'lease', ARGV[3], 'due', ARGV[2])
    out[#out + 1] = redis.call('HGETALL', key)
  else
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZREM', KEYS[2], id)
    redis.call('ZREM', KEYS[3], id)
  end
end
return out
"""

# KEYS: row, due. ARGV: lease, due, error, id
_RETRY = """
if redis.call('HGET', KEYS[1], 'lease') ~= ARGV[1] then return 0 end
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('HSET', KEYS[1], 'error', ARGV[3], 'due', ARGV[2])
redis.call('HDEL', KEYS[1], 'lease')
redis.call('ZADD', KEYS[2], 'XX', ARGV[2], ARGV[4])
return 1
"""


class RedisStore(Store):
    def __init__(self, url: str, prefix: str = "hatespeech:"):
        import redis  # only a dependency when REDIS_URL is set

        # redis-py's pool notices a fork and opens new connections in the child
        self.client = redis.Redis.from_url(
            url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=30, decode_responses=True
        )
        self.prefix = prefix
        self.keys = {name: prefix + name for name in ("due", "created", "texted")}
        self._enqueue_if_cooled = self.client.register_script(_ENQUEUE_IF_COOLED)
        self._claim = self.client.register_script(_CLAIM)
        self._retry = self.client.register_script(_RETRY)

    def append(self, thread: str, entry: dict, now: float, max_messages: int, max_age: float) -> list[dict]:
        key = f"{self.prefix}w:{thread}"
        with self.client.pipeline(transaction=True) as pipe:
            pipe.lpush(key, json.dumps(entry))
            pipe.ltrim(key, 0, max_messages - 1)
            pipe.pexpire(key, int(max_age * 1000) + 1000)
            pipe.lrange(key, 0, -1)
            window = pipe.execute()[-1]
        return [e for e in map(json.loads, window) if e["ts"] >= now - max_age]

    @staticmethod
    def _fields(row: Row) -> dict[str, Any]:
        fields = {
            "id": row.id,
            "alert_id": row.alert_id,
            "url": row.url,
            "format": row.format,
            "alert": row.alert,
            "created": repr(row.created),
            "due": repr(row.due),
        }
        if row.text is not None:
            fields["text"] = row.text
        return fields

    def enqueue(self, rows: list[Row]) -> None:
        with self.client.pipeline(transaction=True) as pipe:
            for row in rows:
                pipe.hset(f"{self.prefix}o:{row.id}", mapping={**self._fields(row), "attempts": 0})
                pipe.zadd(self.keys["due"], {row.id: row.due})
                pipe.zadd(self.keys["created"], {row.id: row.created})
                if row.text is not None:
                    pipe.zadd(self.keys["texted"], {row.id: row.created})
            pipe.execute()

    def enqueue_if_cooled(
        self, thread: str, now: float, cooldown: float, share: float, mean: float, step: float, rows: list[Row]
    ) -> bool:
        keys = [f"{self.prefix}c:{thread}", self.keys["due"], self.keys["created"], self.keys["texted"]]
        args = [repr(now), repr(now + cooldown), repr(share), repr(mean), repr(step), int(cooldown * 1000) + 1000]
        args += [self.prefix, json.dumps([self._fields(r) for r in rows])]
        return bool(self._enqueue_if_cooled(keys=keys, args=args))

    def claim(self, now: float, lease_seconds: float, limit: int) -> list[Row]:
        keys = [self.keys["due"], self.keys["created"], self.keys["texted"]]
        found = self._claim(
            keys=keys, args=[repr(now), repr(now + lease_seconds), uuid.uuid4().hex, limit, self.prefix]
        )
        rows = [Row.from_mapping(dict(zip(flat[::2], flat[1::2], strict=True))) for flat in found]
        return sorted(rows, key=lambda r: r.created)

    def _delete(self, ids: list[str]) -> None:
        if not ids:
            return
        with self.client.pipeline(transaction=True) as pipe:
            pipe.delete(*(f"{self.prefix}o:{i}" for i in ids))
            for key in self.keys.values():
                pipe.zrem(key, *ids)
            pipe.execute()

    def delivered(self, row: Row) -> None:
        self._delete([row.id])

    def retry(self, row: Row, due: float, error: str) -> None:
        self._retry(
            keys=[f"{self.prefix}o:{row.id}", self.keys["due"]], args=[row.lease, repr(due), error[:500], row.id]
        )

    def give_up(self, row: Row) -> None:
        self._delete([row.id])

    def _rows(self, ids: list[str]) -> list[Row]:
        with self.client.pipeline(transaction=False) as pipe:
            for i in ids:
                pipe.hgetall(f"{self.prefix}o:{i}")
            return [Row.from_mapping(values) for values in pipe.execute() if values]

    def maintain(
        self, now: float, text_retention: float, max_age: float, outbox_max: int, window_age: float
    ) -> Maintenance:
        # windows and cool-downs expire by themselves (PEXPIRE)
        done = Maintenance()
        old_texts = self.client.zrangebyscore(self.keys["texted"], "-inf", f"({now - text_retention!r}")
        if old_texts:
            with self.client.pipeline(transaction=True) as pipe:
                for i in old_texts:
                    pipe.hdel(f"{self.prefix}o:{i}", "text")
                pipe.zrem(self.keys["texted"], *old_texts)
                done.texts_erased = sum(pipe.execute()[:-1])
        expired = self.client.zrangebyscore(self.keys["created"], "-inf", f"({now - max_age!r}")
        done.expired = self._rows(expired)
        self._delete(expired)
        count = self.client.zcard(self.keys["created"])
        if count > outbox_max:
            oldest = self.client.zrange(self.keys["created"], 0, count - outbox_max - 1)
            done.dropped = self._rows(oldest)
            self._delete(oldest)
        done.pending = self.pending()
        return done

    def pending(self) -> int:
        return self.client.zcard(self.keys["created"])

    def close(self) -> None:
        self.client.close()
