"""The feedback table and what is done with it, on SQLite; ``postgres.py`` changes only the connection.

Connections are opened on first use, one per process and thread, and never carried across a
fork (gunicorn forks after the app is imported). SQLite runs in WAL mode with a busy timeout, so
writers from several workers queue instead of failing, and readers never wait.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypedDict, TypeVar

from hatespeech.config import StoreSettings
from hatespeech.connections import PerThread, open_sqlite
from hatespeech.core.labels import LABELS
from hatespeech.resilience import SPOOLED, Guard, StoreUnavailable, guard

__all__ = ["FeedbackStore", "SQLiteFeedbackStore", "StoreUnavailable"]  # StoreUnavailable: the web layer answers 503
T = TypeVar("T")
API_TIMEOUT = 2.0  # seconds POST/GET /feedback wait for the database (a board's decision waits STORE_TIMEOUT)

TABLE = "hatespeech_feedback"  # prefixed: on Heroku the database may be shared with other apps
FETCH_ROWS = 1000  # rows() reads this many at a time: bounded memory whatever the table's size

# One row per decision. (source, ext_id) is unique; NULL ext_ids never collide, so a row sent
# without an id is always a new row. created_at (seconds since the epoch) is when the row was
# last written: GET /feedback counts the rows newer than the served model by it.
UPSERT = f"""
INSERT INTO {TABLE} (text, label, source, ext_id, moderator, created_at) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (source, ext_id) DO UPDATE SET
    text = excluded.text, label = excluded.label, moderator = excluded.moderator, created_at = excluded.created_at
RETURNING row_id
"""
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    row_id INTEGER PRIMARY KEY AUTOINCREMENT, text TEXT NOT NULL, label TEXT NOT NULL, source TEXT NOT NULL,
    ext_id TEXT, moderator TEXT, created_at REAL NOT NULL, UNIQUE (source, ext_id));
CREATE INDEX IF NOT EXISTS {TABLE}_created ON {TABLE} (created_at);
"""


class Counts(TypedDict):
    """What ``counts`` answers (and ``GET /feedback``, with the served model added): never a text."""

    total: int
    by_label: dict[str, int]  # every label, 0 included
    by_source: dict[str, int]
    newer_than_model: int | None  # rows written after the given time; None when none was given


class FeedbackStore:
    """Moderators' labels; safe to share between threads, and between processes after a fork.

    With ``stores`` (the service's ``StoreSettings``) every call on the request's path goes through a
    ``hatespeech.resilience.Guard``: ``add``, ``counts`` and ``erase`` wait at most ``API_TIMEOUT``
    (``StoreUnavailable`` then: 503), and ``keep`` (a board's decision) is spooled while the
    database is away and replayed once it is back.
    """

    placeholder = "?"
    errors: tuple[type[BaseException], ...] = (sqlite3.Error, OSError)  # the driver's failures

    def __init__(self, max_text_chars: int = 10_000, stores: StoreSettings | None = None) -> None:
        self.max_text_chars = max_text_chars
        self._connections = PerThread(lambda: self._connect(), lambda conn: self._usable(conn))
        self.stores = stores
        self._guard: Guard | None = None

    def _address(self) -> str:
        """Which server (or file) this is, for its breaker; and the spool's file is beside ``_spool_beside``."""
        raise NotImplementedError

    def _spool_beside(self) -> Path:
        raise NotImplementedError

    @property
    def guard(self) -> Guard | None:
        if self._guard is None and self.stores is not None:
            self._guard = guard(
                "feedback", {"upsert": self._upsert}, self._address(), self.stores, self._spool_beside()
            )
        return self._guard

    def _guarded(self, fn: Callable[..., T], *args: Any) -> T:
        found = self.guard
        if found is None:
            return fn(*args)
        # not on /moderate's path: a moderator's call may wait for a first connection
        return found.call(fn, *args, timeout=max(found.timeout, API_TIMEOUT))

    # --- the backend's part
    def _connect(self) -> Any:
        raise NotImplementedError

    def _usable(self, conn: Any) -> bool:
        return True

    def _sql(self, statement: str) -> str:
        return statement if self.placeholder == "?" else statement.replace("?", self.placeholder)

    def _db(self) -> Any:
        return self._connections.get()

    def _execute(self, statement: str, params: tuple = ()) -> Any:
        try:
            return self._db().execute(self._sql(statement), params)
        except self.errors as err:
            raise StoreUnavailable(f"the feedback store failed: {type(err).__name__}: {err}") from err

    def _write(self, statement: str, params: tuple = ()) -> tuple[list[Any], int]:
        """One writing statement, read to its end: its rows (``RETURNING``) and how many rows it changed."""
        cursor = self._execute(statement, params)
        return (cursor.fetchall() if cursor.description is not None else []), cursor.rowcount

    # --- the interface
    def add(
        self,
        text: str,
        label: str,
        *,
        source: str = "api",
        id: str | None = None,
        moderator: str | None = None,
    ) -> int:
        """Store one label (validated first: ``InvalidFeedback`` and nothing stored if any field is bad).

        The same ``(source, id)`` replaces the earlier row and keeps its row id, which is returned.
        """
        from hatespeech.feedback import check_feedback

        f = check_feedback(text, label, source, id, moderator, self.max_text_chars)
        return self._guarded(self._upsert, f.text, f.label, f.source, f.id, f.moderator, time.time())

    def keep(
        self,
        text: str,
        label: str,
        *,
        source: str = "api",
        id: str | None = None,
        moderator: str | None = None,
    ) -> int | None:
        """``add`` that never waits on a stalled database: the row id, or None when the row was spooled
        (it is stored once the database is back). ``InvalidFeedback`` as ``add``; ``StoreUnavailable``
        only if the spool failed too."""
        from hatespeech.feedback import check_feedback

        f = check_feedback(text, label, source, id, moderator, self.max_text_chars)
        params = (f.text, f.label, f.source, f.id, f.moderator, time.time())
        found = self.guard
        if found is None:
            return self._upsert(*params)
        written = found.write("upsert", *params)
        return None if written is SPOOLED else int(written)

    def _upsert(
        self, text: str, label: str, source: str, id: str | None, moderator: str | None, created_at: float
    ) -> int:
        rows, _ = self._write(UPSERT, (text, label, source, id, moderator, created_at))
        return int(rows[0][0])

    def counts(self, newer_than: float | None = None) -> Counts:
        """``total``, ``by_label`` (every label, 0 included), ``by_source``, and ``newer_than_model``:
        the rows written after ``newer_than`` (seconds since the epoch), or None without it."""
        return self._guarded(self._counts, newer_than)

    def _counts(self, newer_than: float | None) -> Counts:
        by_label = dict.fromkeys(LABELS, 0)
        by_source: dict[str, int] = {}
        for label, source, n in self._execute(f"SELECT label, source, COUNT(*) FROM {TABLE} GROUP BY label, source"):
            by_label[label] = by_label.get(label, 0) + int(n)
            by_source[source] = by_source.get(source, 0) + int(n)
        newer = None
        if newer_than is not None:
            (newer,) = self._execute(f"SELECT COUNT(*) FROM {TABLE} WHERE created_at > ?", (newer_than,)).fetchone()
            newer = int(newer)
        return {
            "total": sum(by_label.values()),
            "by_label": by_label,
            "by_source": dict(sorted(by_source.items())),
            "newer_than_model": newer,
        }

    def erase(self, source: str, id: str | int) -> bool:
        """Delete the row sent with this ``(source, id)``; True if there was one."""
        return self._guarded(self._erase, str(source), str(id))

    def _erase(self, source: str, id: str) -> bool:
        _, changed = self._write(f"DELETE FROM {TABLE} WHERE source = ? AND ext_id = ?", (source, id))
        return changed > 0

    def rows(self) -> Iterator[tuple[str, str, str, str | None, float]]:
        """Every row as ``(text, label, source, id, created_at)``, oldest first, read in pages."""
        last = 0
        statement = (
            f"SELECT row_id, text, label, source, ext_id, created_at FROM {TABLE} "
            f"WHERE row_id > ? ORDER BY row_id LIMIT {FETCH_ROWS}"
        )
        while True:
            cursor = self._execute(statement, (last,))
            try:
                page = cursor.fetchall()
            except self.errors as err:
                raise StoreUnavailable(f"the feedback store failed: {type(err).__name__}: {err}") from err
            for row in page:
                yield row[1], row[2], row[3], row[4], float(row[5])
            if len(page) < FETCH_ROWS:
                return
            last = page[-1][0]

    def close(self) -> None:
        """Close this process's connections (a later call opens new ones)."""
        if self._guard is not None:
            self._guard.close()
        self._connections.close()


class SQLiteFeedbackStore(FeedbackStore):
    """One SQLite file shared by the workers of one machine (``FEEDBACK_DB_PATH``)."""

    def __init__(self, path: Path | str, max_text_chars: int = 10_000, stores: StoreSettings | None = None) -> None:
        super().__init__(max_text_chars, stores)
        self.path = Path(path)

    def _address(self) -> str:
        return str(self.path.resolve())

    def _spool_beside(self) -> Path:
        return self.path

    def _connect(self) -> sqlite3.Connection:
        return open_sqlite(self.path, SCHEMA)

    def _write(self, statement: str, params: tuple = ()) -> tuple[list[Any], int]:
        # subtle: in WAL mode a statement that reads before it writes (an upsert) and finds that another
        # writer committed since its read began fails at once with "database is locked", without
        # waiting: BEGIN IMMEDIATE takes the write lock first, waiting its turn (busy_timeout).
        db = self._db()
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                cursor = db.execute(statement, params)
                rows, changed = (cursor.fetchall() if cursor.description is not None else []), cursor.rowcount
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        except self.errors as err:
            raise StoreUnavailable(f"the feedback store failed: {type(err).__name__}: {err}") from err
        return rows, changed
