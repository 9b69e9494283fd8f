"""The review queue: posts that reached ``review`` or ``block``, kept for the moderators' page.

One interface (``Queue``), three backends (``open_queue``):

- ``SQLiteQueue`` (the default): one file (``REVIEW_DB_PATH``) shared by every worker and thread
  of one machine; WAL, ``busy_timeout``, one short transaction per write, connections opened
  lazily per process and thread (never carried across a fork), as in ``hatespeech.alerts.sqlite_store``.
- ``RedisQueue`` (when ``REDIS_URL`` is set): several containers share one queue. A post is one
  field of a hash; sorted sets by sequence number index it by action, class and thread; each
  write is one Lua script, so a reader never sees half of it.
- ``PostgresQueue`` (when ``DATABASE_URL`` is set, in ``postgres.py``): the SQLite table and
  queries on PostgreSQL, shared by several containers (and beside the moderators' feedback).

A post is keyed by its id: moderating the same post again replaces it and moves it to the top.
Posts come back newest first, filtered by action, class (an abusive class whose ``review``
threshold the post reached), threat (the threat check found one) and thread, a page at a time
(``before``: the ``seq`` of the last post of the previous page). ``maintain`` erases texts (and the
spans and threat span that point into them) older than the retention, and drops the oldest posts
beyond ``max_posts``.

>>> import tempfile, pathlib
>>> queue = SQLiteQueue(pathlib.Path(tempfile.mkdtemp()) / "review.sqlite3")
>>> for i in (1, 2, 3):
...     _ = queue.add(post(f"p{i}", "text", {"hate speech": 0.6}, "review", "hate speech", ["hate speech"], ts=i))
>>> [p["id"] for p in queue.page(limit=2)["posts"]], queue.page(limit=2)["next"]
(['p3', 'p2'], 2)
>>> queue.close()
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NotRequired, TypedDict, cast

from hatespeech.aof import after_erase
from hatespeech.config import StoreSettings
from hatespeech.connections import Migrations, PerThread, open_redis, open_sqlite
from hatespeech.resilience import SPOOLED, guard

MAX_PAGE = 100  # posts per page at most
UNKNOWN_LANGUAGE = "und"  # ISO 639's "undetermined": what a post queued without a language is filtered as
READ_TIMEOUT = 2.0  # seconds the review page waits for the queue's store (a request's write waits STORE_TIMEOUT)


class Post(TypedDict):
    """One queued post, as ``GET /review/queue`` answers it."""

    id: str
    seq: int  # its place in the queue: larger is newer
    text: str | None  # None once erased (retention)
    scores: dict[str, float]
    action: str  # review or block
    label: str  # the model's label
    categories: list[str]  # the abusive classes whose review threshold it reached
    thread: str | None
    author: str | None
    url: str | None
    time: float  # unix time it was moderated
    spans: list[list[Any]]  # [start, end, class, contribution]: the parts that pushed toward an abusive class
    threat: NotRequired[list[int] | None]  # [start, end] of the threat the threat check found (absent: queued before)
    model: str  # the model's sha256, first 12 characters
    language: NotRequired[str]  # ISO 639-1 or "und" (the answer named none, or the post was queued before)
    language_supported: NotRequired[bool | None]  # None: the answer did not say
    feedback: str | None  # the label a moderator gave it on the page, if any
    feedback_key: NotRequired[dict[str, str]]  # what the page sends POST /feedback (added by hatespeech.review.web)


def stored(body: str, seq: int, feedback: str | None) -> Post:
    """A post as a queue keeps it: the JSON that ``add`` wrote (a ``Post``: trusted), its place and its label."""
    return cast(Post, {**json.loads(body), "seq": seq, "feedback": feedback})


class Page(TypedDict):
    posts: list[Post]
    next: int | None  # pass as ``before`` for the next page; None on the last page
    total: int  # posts matching the filters, all pages


def post(
    id: str,
    text: str | None,
    scores: Mapping[str, float],
    action: str,
    label: str,
    categories: Sequence[str],
    thread: str | None = None,
    author: str | None = None,
    url: str | None = None,
    ts: float = 0.0,
    spans: Sequence[Sequence[Any]] = (),
    model: str = "",
    threat: Sequence[int] | None = None,
    language: str | None = None,
    language_supported: bool | None = None,
) -> Post:
    """A ``Post`` to add (its ``seq`` is given by the queue); no ``language``: ``"und"``."""
    return Post(
        id=id,
        seq=0,
        text=text,
        scores={k: float(v) for k, v in scores.items()},
        action=action,
        label=label,
        categories=list(categories),
        thread=thread,
        author=author,
        url=url,
        time=float(ts),
        spans=[list(s) for s in spans],
        threat=[int(threat[0]), int(threat[1])] if threat is not None else None,
        model=model,
        language=language or UNKNOWN_LANGUAGE,
        language_supported=language_supported,
        feedback=None,
    )


class Queue(ABC):
    """The review queue; safe to share between threads and workers."""

    @abstractmethod
    def add(self, item: Post) -> int:
        """Add ``item`` (replacing a post with its id) at the top; return its ``seq``."""

    @abstractmethod
    def page(
        self,
        action: str | None = None,
        category: str | None = None,
        thread: str | None = None,
        before: int | None = None,
        limit: int = 20,
        threat: bool | None = None,
        language: str | None = None,
    ) -> Page:
        """Newest first: the posts matching every filter given, with ``seq`` below ``before``
        (``threat=True``: those in which the threat check found a threat; ``language``: an ISO 639-1 code
        or "und")."""

    @abstractmethod
    def set_feedback(self, id: str, label: str) -> bool:
        """Remember the label a moderator gave post ``id``; False if it is not in the queue."""

    @abstractmethod
    def maintain(self, now: float, text_retention: float, max_posts: int) -> tuple[int, int]:
        """Erase texts older than ``text_retention`` seconds and drop the oldest beyond ``max_posts``:
        return (texts erased, posts dropped)."""

    @abstractmethod
    def close(self) -> None:
        """Close this process's connections."""


class GuardedQueue(Queue):
    """A queue behind ``hatespeech.resilience``: ``add`` and ``set_feedback`` never wait on a stalled
    store (they are spooled and replayed), ``page`` and ``maintain`` raise ``StoreUnavailable`` at once."""

    def __init__(self, inner: Queue, address: str, stores: StoreSettings, spool_beside: Path | str):
        self.inner = inner
        ops: dict[str, Callable[..., Any]] = {"add": self._add, "set_feedback": inner.set_feedback}
        self.guard = guard("review", ops, address, stores, spool_beside)

    def _add(self, item: dict) -> int:
        return self.inner.add(Post(**item))  # type: ignore[typeddict-item]  # a Post, replayed from the spool as JSON

    def add(self, item: Post) -> int:
        """The post's ``seq``, or 0 when it was spooled (it reaches the queue once the store is back)."""
        seq = self.guard.write("add", dict(item))
        return 0 if seq is SPOOLED else int(seq)

    def page(
        self,
        action: str | None = None,
        category: str | None = None,
        thread: str | None = None,
        before: int | None = None,
        limit: int = 20,
        threat: bool | None = None,
        language: str | None = None,
    ) -> Page:
        # a moderator's read may wait longer than a request's write (a first connection, say)
        timeout = max(self.guard.timeout, READ_TIMEOUT)
        return self.guard.call(
            self.inner.page, action, category, thread, before, limit, threat, language, timeout=timeout
        )

    def set_feedback(self, id: str, label: str) -> bool:
        """True once stored or spooled (a spooled label finds its post when it is replayed)."""
        self.guard.write("set_feedback", id, label)
        return True

    def maintain(
        self, now: float, text_retention: float, max_posts: int, timeout: float | None = None
    ) -> tuple[int, int]:
        """As ``Queue.maintain``, waiting ``timeout`` (else ``STORE_TIMEOUT``): a missed deadline leaves it
        running in the background."""
        return self.guard.call(self.inner.maintain, now, text_retention, max_posts, timeout=timeout)

    def close(self) -> None:
        self.guard.close()
        self.inner.close()


def open_queue(
    db_path: Path | str,
    redis_url: str | None = None,
    database_url: str | None = None,
    stores: StoreSettings | None = None,
) -> Queue:
    """PostgreSQL when ``database_url`` is given, else Redis when ``redis_url`` is, else SQLite at ``db_path``;
    behind a ``GuardedQueue`` when ``stores`` (the deadline, breaker and spool settings) is given."""
    inner: Queue
    if database_url:
        from hatespeech.review.postgres import PostgresQueue

        inner = PostgresQueue(database_url, stores)
    elif redis_url:
        inner = RedisQueue(
            redis_url,
            timeout=stores.timeout if stores is not None else 2.0,
            aof_rewrite_seconds=(stores or StoreSettings()).aof_rewrite_seconds,
        )
    else:
        inner = SQLiteQueue(db_path)
    if stores is None:
        return inner
    return GuardedQueue(inner, database_url or redis_url or str(Path(db_path).resolve()), stores, db_path)


def _limit(limit: int) -> int:
    return max(1, min(int(limit), MAX_PAGE))


# ------------------------------------------------------------------------------------------ SQLite

# Versioned (hatespeech/connections.py). Version 1 is the layout of the release before versions;
# step 1 adopts its files as they are, and older ones too: a file made before the threat filter gets
# its column, filled from the posts' categories (their JSON).
_V1 = """
CREATE TABLE IF NOT EXISTS posts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, post_id TEXT NOT NULL UNIQUE, action TEXT NOT NULL,
    hate INTEGER NOT NULL, offensive INTEGER NOT NULL, thread TEXT, ts REAL NOT NULL,
    texted INTEGER NOT NULL, body TEXT NOT NULL, feedback TEXT);
CREATE INDEX IF NOT EXISTS posts_action ON posts (action, seq);
CREATE INDEX IF NOT EXISTS posts_thread ON posts (thread, seq);
CREATE INDEX IF NOT EXISTS posts_texted ON posts (texted, ts);
"""
_CLASS_COLUMNS = {"hate speech": "hate", "offensive language": "offensive"}


def _threat_column(db: sqlite3.Connection) -> None:
    """``threat INTEGER NOT NULL`` (the threat check found one), unless the file has it already."""
    if "threat" not in {row[1] for row in db.execute("PRAGMA table_info(posts)")}:
        db.execute("ALTER TABLE posts ADD COLUMN threat INTEGER NOT NULL DEFAULT 0")
        db.execute(
            "UPDATE posts SET threat = 1 "
            "WHERE EXISTS (SELECT 1 FROM json_each(body, '$.categories') WHERE value = 'threat')"
        )


MIGRATIONS: Migrations = (
    "review",
    [
        [
            *(statement for statement in _V1.split(";") if statement.strip()),
            _threat_column,
            "CREATE INDEX IF NOT EXISTS posts_threat ON posts (threat, seq)",
        ],
        [  # 2: the post's language, as the answer named it ("und" for the posts queued before)
            f"ALTER TABLE posts ADD COLUMN language TEXT NOT NULL DEFAULT '{UNKNOWN_LANGUAGE}'",
            "CREATE INDEX posts_language ON posts (language, seq)",
        ],
    ],
)


class SQLPages:
    """``Queue.page`` for the SQL stores (SQLite and PostgreSQL): one query, their dialects as attributes."""

    table, placeholder, true = "posts", "?", "1"

    def _db(self) -> Any:
        raise NotImplementedError

    def page(
        self,
        action: str | None = None,
        category: str | None = None,
        thread: str | None = None,
        before: int | None = None,
        limit: int = 20,
        threat: bool | None = None,
        language: str | None = None,
    ) -> Page:
        where, args, ph = [], [], self.placeholder
        if action is not None:
            where.append(f"action = {ph}")
            args.append(action)
        if category is not None:
            where.append(f"{_CLASS_COLUMNS[category]} = 1")
        if threat:
            where.append("threat = 1")
        if thread is not None:
            where.append(f"thread = {ph}")
            args.append(thread)
        if language is not None:
            where.append(f"language = {ph}")
            args.append(language)
        filters = " AND ".join(where) or self.true
        limit = _limit(limit)
        db = self._db()
        total = db.execute(f"SELECT COUNT(*) FROM {self.table} WHERE {filters}", args).fetchone()[0]
        cursor = f" AND seq < {ph}" if before is not None else ""
        rows = db.execute(
            f"SELECT seq, body, feedback FROM {self.table} WHERE {filters}{cursor} ORDER BY seq DESC LIMIT {ph}",
            [*args, *([before] if before is not None else []), limit + 1],
        ).fetchall()
        posts = [stored(body, seq, feedback) for seq, body, feedback in rows[:limit]]
        return Page(posts=posts, next=posts[-1]["seq"] if len(rows) > limit else None, total=int(total))


class SQLiteQueue(SQLPages, Queue):
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._connections = PerThread(lambda: open_sqlite(self.path, "", migrations=MIGRATIONS))

    def _db(self) -> sqlite3.Connection:
        return self._connections.get()

    def add(self, item: Post) -> int:
        body = {k: v for k, v in item.items() if k not in ("seq", "feedback")}
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("DELETE FROM posts WHERE post_id = ?", (item["id"],))
            seq = db.execute(
                "INSERT INTO posts (post_id, action, hate, offensive, threat, thread, ts, texted, body, language) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq",
                (
                    item["id"],
                    item["action"],
                    "hate speech" in item["categories"],
                    "offensive language" in item["categories"],
                    "threat" in item["categories"],
                    item["thread"],
                    item["time"],
                    item["text"] is not None,
                    json.dumps(body),
                    item.get("language") or UNKNOWN_LANGUAGE,
                ),
            ).fetchone()[0]
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return int(seq)

    def set_feedback(self, id: str, label: str) -> bool:
        return self._db().execute("UPDATE posts SET feedback = ? WHERE post_id = ?", (label, id)).rowcount > 0

    def maintain(self, now: float, text_retention: float, max_posts: int) -> tuple[int, int]:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            old = db.execute(
                "SELECT seq, body FROM posts WHERE texted = 1 AND ts < ?", (now - text_retention,)
            ).fetchall()
            for seq, body in old:
                values = json.loads(body)
                values["text"], values["spans"], values["threat"] = None, [], None
                db.execute("UPDATE posts SET body = ?, texted = 0 WHERE seq = ?", (json.dumps(values), seq))
            count = db.execute("SELECT COUNT(*) FROM posts").fetchone()[0]
            dropped = 0
            if count > max_posts:
                dropped = db.execute(
                    "DELETE FROM posts WHERE seq IN (SELECT seq FROM posts ORDER BY seq LIMIT ?)", (count - max_posts,)
                ).rowcount
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return len(old), dropped

    def close(self) -> None:
        self._connections.close()


# ------------------------------------------------------------------------------------------- Redis

# ARGV: prefix, id, post JSON, action, classes (JSON list), thread ('' for none), ts, has text (0/1), language
_ADD = """
local p, id = ARGV[1], ARGV[2]
local old = redis.call('HGET', p .. 'idx', id)
if old then
  local o = cjson.decode(old)
  redis.call('ZREM', p .. 'a:' .. o[1], id)
  for _, c in ipairs(o[2]) do redis.call('ZREM', p .. 'c:' .. c, id) end
  if o[3] ~= '' then redis.call('ZREM', p .. 't:' .. o[3], id) end
  if o[4] then redis.call('ZREM', p .. 'l:' .. o[4], id) end
end
local seq = redis.call('INCR', p .. 'seq')
local classes = cjson.decode(ARGV[5])
redis.call('HSET', p .. 'posts', id, ARGV[3])
redis.call('HDEL', p .. 'feedback', id)
redis.call('HSET', p .. 'idx', id, cjson.encode({ARGV[4], classes, ARGV[6], ARGV[9]}))
redis.call('ZADD', p .. 'l:' .. ARGV[9], seq, id)
redis.call('ZADD', p .. 'all', seq, id)
redis.call('ZADD', p .. 'a:' .. ARGV[4], seq, id)
for _, c in ipairs(classes) do redis.call('ZADD', p .. 'c:' .. c, seq, id) end
if ARGV[6] ~= '' then redis.call('ZADD', p .. 't:' .. ARGV[6], seq, id) end
if ARGV[8] == '1' then redis.call('ZADD', p .. 'texted', ARGV[7], id) else redis.call('ZREM', p .. 'texted', id) end
return seq
"""

# ARGV: prefix, ids...
_DROP = """
local p = ARGV[1]
for i = 2, #ARGV do
  local id = ARGV[i]
  local old = redis.call('HGET', p .. 'idx', id)
  if old then
    local o = cjson.decode(old)
    redis.call('ZREM', p .. 'a:' .. o[1], id)
    for _, c in ipairs(o[2]) do redis.call('ZREM', p .. 'c:' .. c, id) end
    if o[3] ~= '' then redis.call('ZREM', p .. 't:' .. o[3], id) end
    if o[4] then redis.call('ZREM', p .. 'l:' .. o[4], id) end
  end
  redis.call('HDEL', p .. 'posts', id)
  redis.call('HDEL', p .. 'idx', id)
  redis.call('HDEL', p .. 'feedback', id)
  redis.call('ZREM', p .. 'all', id)
  redis.call('ZREM', p .. 'texted', id)
end
return #ARGV - 1
"""

# ARGV: prefix, then (id, body read, body without its text) triples. Compare-and-set: a post moderated
# again meanwhile keeps its new text. (The JSON is edited in Python: cjson would round the scores.)
_ERASE = """
local p = ARGV[1]
local n = 0
for i = 2, #ARGV, 3 do
  if redis.call('HGET', p .. 'posts', ARGV[i]) == ARGV[i + 1] then
    redis.call('HSET', p .. 'posts', ARGV[i], ARGV[i + 2])
    redis.call('ZREM', p .. 'texted', ARGV[i])
    n = n + 1
  end
end
return n
"""

# ARGV: prefix, id, label
_FEEDBACK = """
if redis.call('HEXISTS', ARGV[1] .. 'posts', ARGV[2]) == 0 then return 0 end
redis.call('HSET', ARGV[1] .. 'feedback', ARGV[2], ARGV[3])
return 1
"""


class RedisQueue(Queue):
    def __init__(
        self, url: str, prefix: str = "hatespeech:review:", timeout: float = 2.0, aof_rewrite_seconds: float = 0.0
    ):
        self.client = open_redis(url, timeout)
        self.prefix = prefix
        self.aof_rewrite_seconds = aof_rewrite_seconds  # hatespeech/aof.py
        self._add = self.client.register_script(_ADD)
        self._drop = self.client.register_script(_DROP)
        self._erase = self.client.register_script(_ERASE)
        self._feedback = self.client.register_script(_FEEDBACK)

    def add(self, item: Post) -> int:
        body = {k: v for k, v in item.items() if k not in ("seq", "feedback")}
        args: list[str | int] = [
            self.prefix,
            item["id"],
            json.dumps(body),
            item["action"],
            json.dumps(item["categories"]),
        ]
        args += [item["thread"] or "", repr(item["time"]), int(item["text"] is not None)]
        args.append(item.get("language") or UNKNOWN_LANGUAGE)
        return int(self._add(args=args))

    def page(
        self,
        action: str | None = None,
        category: str | None = None,
        thread: str | None = None,
        before: int | None = None,
        limit: int = 20,
        threat: bool | None = None,
        language: str | None = None,
    ) -> Page:
        p = self.prefix
        keys = [p + "a:" + action] if action is not None else []
        keys += [p + "c:" + category] if category is not None else []
        keys += [p + "c:threat"] if threat else []  # every category has its index, the threat check's too
        keys += [p + "t:" + thread] if thread is not None else []
        # posts queued before languages were indexed are in no language's index, "und" included
        keys += [p + "l:" + language] if language is not None else []
        limit = _limit(limit)
        top = f"({before}" if before is not None else "+inf"
        with self.client.pipeline(transaction=True) as pipe:
            if len(keys) > 1:  # several filters: intersect the indexes (scores stay the seq) for this call only
                key = f"{p}tmp:{os.getpid()}:{threading.get_ident()}"
                pipe.zinterstore(key, keys, aggregate="MAX")
                pipe.expire(key, 10)
            else:
                key = keys[0] if keys else p + "all"
            pipe.zcard(key)
            pipe.zrevrangebyscore(key, top, "-inf", start=0, num=limit + 1, withscores=True)
            found = pipe.execute()
        total, ids = found[-2], found[-1]
        shown = ids[:limit]
        posts: list[Post] = []
        if shown:
            names = [i for i, _ in shown]
            with self.client.pipeline(transaction=False) as pipe:
                pipe.hmget(p + "posts", names)
                pipe.hmget(p + "feedback", names)
                bodies, labels = pipe.execute()
            for (_, seq), body, label in zip(shown, bodies, labels, strict=True):
                if body is not None:  # dropped between the two calls
                    posts.append(stored(body, int(seq), label))
        return Page(posts=posts, next=int(shown[-1][1]) if len(ids) > limit else None, total=int(total))

    def set_feedback(self, id: str, label: str) -> bool:
        return bool(self._feedback(args=[self.prefix, id, label]))

    def maintain(self, now: float, text_retention: float, max_posts: int) -> tuple[int, int]:
        p = self.prefix
        old = self.client.zrangebyscore(p + "texted", "-inf", f"({now - text_retention!r}")
        erased = 0
        if old:
            args: list[str] = [p]
            for post_id, body in zip(old, self.client.hmget(p + "posts", old), strict=True):
                if body is None:
                    self.client.zrem(p + "texted", post_id)
                    continue
                values = json.loads(body)
                values["text"], values["spans"], values["threat"] = None, [], None
                args += [post_id, body, json.dumps(values)]
            erased = int(self._erase(args=args)) if len(args) > 1 else 0
        count = self.client.zcard(p + "all")
        dropped = 0
        if count > max_posts:
            oldest = self.client.zrange(p + "all", 0, count - max_posts - 1)
            dropped = int(self._drop(args=[p, *oldest])) if oldest else 0
        after_erase(self.client, p, erased + dropped, self.aof_rewrite_seconds)  # dropped posts held texts too
        return erased, dropped

    def close(self) -> None:
        self.client.close()
