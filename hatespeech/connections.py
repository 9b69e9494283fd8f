"""Database connections for the stores (alerts, feedback, review queue, integrations, spool): one idea, written once.

``PerThread`` keeps one connection per thread and process. gunicorn forks after the app is
imported, and a connection must never cross a fork: a child forgets its parent's (it does not close
them, which would close the parent's too) and opens its own on first use. ``open_sqlite`` opens a
SQLite file the way every store here wants it: WAL (readers never wait for the writer), a busy
timeout (writers queue instead of failing), ``synchronous=NORMAL`` (a committed row survives the
process being killed, not a power cut; FULL would cost an fsync per request), autocommit.

Every store's tables carry a version: a row per store in ``hatespeech_schema``, beside its tables,
counting the steps of its ``migrations`` they have had. Each connection applies the steps it lacks,
under a write lock (several workers and containers start at once), and is done with one read once
they are applied. A store's step 1 is the schema of the release before versions, written with
``IF NOT EXISTS``, so that tables it made are adopted as they are, rows and all; a step, once
released, is never edited: a change is a new step at the end.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> conns = PerThread(lambda: open_sqlite(folder / "x.sqlite3", "CREATE TABLE IF NOT EXISTS t (a);"))
>>> conns.get() is conns.get()
True
>>> conns.close()
"""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

BUSY_TIMEOUT_MS = 5000  # a SQLite writer waits this long for another before giving up
CONNECT_TIMEOUT = 5  # seconds: a PostgreSQL that does not answer is an error, not a hung request
SCHEMA_VERSIONS = "hatespeech_schema"  # one row per store: how many of its migrations its tables have had
# A step's statement: SQL, or a function of the connection for what SQL cannot say (SQLite has no
# "ADD COLUMN IF NOT EXISTS": adopting a file of an older release may need to look first).
Statement = str | Callable[[Any], None]
Migrations = tuple[str, Sequence[Sequence[Statement]]]  # (the store's name, its steps: each a list of statements)
VERSIONS_LOCK = 0x68736D67  # PostgreSQL advisory lock held while any store migrates (see open_postgres)


def _migrate(conn: Any, migrations: Migrations, placeholder: str) -> None:
    """Apply the steps of ``migrations`` that the store's tables have not had, in order; the caller
    holds the write lock (SQLite's ``BEGIN IMMEDIATE``, PostgreSQL's advisory lock) and the transaction,
    so two processes never migrate at once and a step that fails leaves the tables as they were."""
    store, steps = migrations
    conn.execute(f"CREATE TABLE IF NOT EXISTS {SCHEMA_VERSIONS} (store TEXT PRIMARY KEY, version INTEGER NOT NULL)")
    row = conn.execute(f"SELECT version FROM {SCHEMA_VERSIONS} WHERE store = {placeholder}", (store,)).fetchone()
    done = int(row[0]) if row else 0
    if done >= len(steps):
        return
    for step in steps[done:]:
        for statement in step:
            if callable(statement):
                statement(conn)
            else:
                conn.execute(statement)
    conn.execute(
        f"INSERT INTO {SCHEMA_VERSIONS} (store, version) VALUES ({placeholder}, {placeholder}) "
        "ON CONFLICT (store) DO UPDATE SET version = excluded.version",
        (store, len(steps)),
    )


def open_sqlite(
    path: Path, schema: str, rows: bool = False, migrations: Migrations | None = None
) -> sqlite3.Connection:
    """A connection to the SQLite file at ``path`` (created with its folder), ``schema`` applied.

    ``rows``: rows as ``sqlite3.Row`` (by column name) instead of tuples. ``migrations``: the store's
    name and its steps, applied once each, in one transaction (``_migrate``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # check_same_thread=False only so close() may run in another thread: each thread uses its own
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    if rows:
        conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    # subtle: processes that open a new file at once (gunicorn's workers, say) race to switch it to
    # WAL, which needs the file to themselves: the loser is told "database is locked" at once, without
    # the busy timeout. Each step is idempotent, so it is tried again, for at most the busy timeout.
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.executescript(schema)  # each statement is idempotent and waits its turn (busy_timeout)
            if migrations is not None and not _sqlite_up_to_date(conn, migrations):
                conn.execute("BEGIN IMMEDIATE")  # the write lock first: another process may be migrating
                try:
                    _migrate(conn, migrations, "?")
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            return conn
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                conn.close()
                raise
            time.sleep(0.01 + random.random() * 0.04)  # jitter, not a secret


def open_postgres(
    url: str, schema: str, lock: int, options: str | None = None, migrations: Migrations | None = None
) -> Any:
    """An autocommit connection to PostgreSQL at ``url``, ``schema`` and then ``migrations`` (as for
    ``open_sqlite``) applied under the advisory lock ``lock`` (processes creating the same tables at
    once would otherwise collide).

    ``options``: libpq's, such as ``StoreSettings.postgres_options`` (``statement_timeout`` and
    ``lock_timeout``: a slow or blocked statement ends instead of holding a thread).
    """
    import psycopg  # a dependency only when DATABASE_URL is set

    extra: dict[str, Any] = {"options": options} if options else {}
    conn = psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT, **extra)
    try:
        if not schema.strip() and migrations is not None and _up_to_date(conn, migrations):
            return conn  # the common case: no lock to queue for (every worker thread opens a connection)
        with conn.transaction():
            if migrations is not None:
                # subtle: two stores (two locks) creating the versions table at once collide in PostgreSQL's
                # catalogue ("CREATE TABLE IF NOT EXISTS" is not atomic): this lock is every store's, taken first
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (VERSIONS_LOCK,))
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock,))
            if schema.strip():
                conn.execute(schema)
            if migrations is not None:
                conn.execute("SET LOCAL statement_timeout = 0")  # a migration may rewrite a large table, once
                _migrate(conn, migrations, "%s")
    except BaseException:
        conn.close()  # a failed start must not leave a connection open until the collector finds it
        raise
    return conn


def _sqlite_up_to_date(conn: sqlite3.Connection, migrations: Migrations) -> bool:
    """True when the store's tables have had every step: a read, no write lock to queue for (each
    thread of each worker opens a connection). A false answer is checked again under the lock."""
    store, steps = migrations
    try:
        row = conn.execute(f"SELECT version FROM {SCHEMA_VERSIONS} WHERE store = ?", (store,)).fetchone()
    except sqlite3.OperationalError as err:
        if "no such table" in str(err):
            return False
        raise
    return row is not None and int(row[0]) >= len(steps)


def _up_to_date(conn: Any, migrations: Migrations) -> bool:
    import psycopg

    store, steps = migrations
    try:
        row = conn.execute(f"SELECT version FROM {SCHEMA_VERSIONS} WHERE store = %s", (store,)).fetchone()
    except psycopg.errors.UndefinedTable:
        return False
    return row is not None and int(row[0]) >= len(steps)


def open_redis(url: str, timeout: float, decode_responses: bool = True) -> Any:
    """A redis-py client for ``url`` whose calls give up after ``timeout`` seconds.

    redis-py's default retry (10 times, with backoff) made a stalled Redis hold each request for
    20 s and more. Here a call is retried once, at once, only when the connection broke (one gone
    stale across a Redis restart); a timeout is not retried: the store's breaker decides
    (hatespeech/resilience.py). redis-py's pool notices a fork and opens new connections in the child.
    """
    import redis  # a dependency only when REDIS_URL is set
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=30,
        retry=Retry(NoBackoff(), 1, supported_errors=(redis.exceptions.ConnectionError,)),
        decode_responses=decode_responses,
    )


def postgres_usable(conn: Any) -> bool:
    """False once the server closed or broke the connection: ``PerThread`` then opens a new one."""
    return not (conn.closed or conn.broken)


class PerThread:
    """One connection per thread and process, opened by ``connect`` on first use; see the module docstring."""

    def __init__(self, connect: Callable[[], Any], usable: Callable[[Any], bool] = lambda conn: True) -> None:
        self._connect, self._usable = connect, usable
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._local = threading.local()
        self._all: list[Any] = []

    def get(self) -> Any:
        if self._pid != os.getpid():
            # subtle: a connection must not cross a fork; the parent's are forgotten, not closed
            with self._lock:
                self._pid, self._all, self._local = os.getpid(), [], threading.local()
        conn = getattr(self._local, "conn", None)
        if conn is not None and not self._usable(conn):
            conn = None  # broken (the server restarted, say): this call opens a new one
        if conn is None:
            conn = self._local.conn = self._connect()
            with self._lock:
                self._all.append(conn)
        return conn

    def close(self) -> None:
        """Close this process's connections (a later ``get`` opens new ones)."""
        with self._lock:
            if self._pid == os.getpid():
                for conn in self._all:
                    conn.close()
            self._all, self._local = [], threading.local()
