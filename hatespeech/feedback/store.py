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
from typing import Any, NamedTuple, TypedDict, TypeVar

from hatespeech.config import StoreSettings
from hatespeech.connections import PerThread, open_sqlite
from hatespeech.core.labels import LABELS
from hatespeech.feedback.quota import Quota
from hatespeech.resilience import SPOOLED, Guard, StoreUnavailable, guard

__all__ = [
    "FeedbackStore",
    "Row",
    "SQLiteFeedbackStore",
    "StoreUnavailable",
    "TooManyWrites",
]  # StoreUnavailable: the web layer answers 503
T = TypeVar("T")
API_TIMEOUT = 2.0  # seconds POST/GET /feedback wait for the database (a board's decision waits STORE_TIMEOUT)

TABLE = "hatespeech_feedback"  # prefixed: on Heroku the database may be shared with other apps
FETCH_ROWS = 1000  # rows() reads this many at a time: bounded memory whatever the table's size
DAY = 86_400.0
UNRECORDED = "unrecorded"  # the origin of rows written before origins were recorded

# One row per (source, ext_id, origin): a board's own decision (origin "discourse-webhook", say) and a
# label given for the same post with the API token ("token") or Coral's key ("moderation-key") are kept
# side by side, so neither overwrites the other; training takes the newest by event_at (decisions()).
# A write replaces its origin's row only if it is not older: a higher revision (the board's own counter
# of changes to the decision, where it sends one), or the same revision and an event_at (the board's
# time of the decision, else when it reached us) as new or newer. So a replayed stale "approved" never
# overrides the "rejected" that followed. NULL ext_ids never collide: a row sent without an id is
# always a new row. created_at is when the row was last written (GET /feedback counts the rows newer
# than the served model by it; the daily cap counts an origin's rows by it).
UPSERT = f"""
INSERT INTO {TABLE} (text, label, source, ext_id, moderator, created_at, origin, event_at, revision, language)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (source, ext_id, origin) DO UPDATE SET
    text = excluded.text, label = excluded.label, moderator = excluded.moderator,
    created_at = excluded.created_at, event_at = excluded.event_at, revision = excluded.revision,
    language = excluded.language
WHERE excluded.revision > {TABLE}.revision
   OR (excluded.revision = {TABLE}.revision AND excluded.event_at >= {TABLE}.event_at)
RETURNING row_id
"""
# A row of version 1 was written under the key (source, ext_id), without its writer (its origin
# "unrecorded"): any later label for the post replaced it. So it still is, by the board's event time,
# as the rule of the day says: a newer row for the post from any origin deletes it (the store's
# trigger, with "?" the new row's values); one already there did when the version-3 step ran.
REPLACES_UNRECORDED = (
    f"DELETE FROM {TABLE} WHERE source = ?source AND ext_id = ?ext_id AND origin = '{UNRECORDED}' "
    "AND event_at <= ?event_at"
)
REPLACED_UNRECORDED = f"""DELETE FROM {TABLE} WHERE origin = '{UNRECORDED}' AND ext_id IS NOT NULL AND EXISTS (
    SELECT 1 FROM {TABLE} AS newer WHERE newer.source = {TABLE}.source AND newer.ext_id = {TABLE}.ext_id
    AND newer.origin != '{UNRECORDED}' AND newer.event_at >= {TABLE}.event_at)"""
# Version 1: (source, ext_id) unique, no origin. Its rows keep their text and label, with the origin
# "unrecorded" and the time they were written as their event time.
V1 = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    row_id INTEGER PRIMARY KEY AUTOINCREMENT, text TEXT NOT NULL, label TEXT NOT NULL, source TEXT NOT NULL,
    ext_id TEXT, moderator TEXT, created_at REAL NOT NULL, UNIQUE (source, ext_id));
CREATE INDEX IF NOT EXISTS {TABLE}_created ON {TABLE} (created_at);
"""
MIGRATIONS = (
    "feedback",
    [
        [s for s in V1.split(";") if s.strip()],
        [  # 2: who wrote each row (origin), when the board decided (event_at, revision); SQLite cannot change a
            # UNIQUE constraint in place, so the table is copied
            f"""CREATE TABLE {TABLE}_v2 (
                row_id INTEGER PRIMARY KEY AUTOINCREMENT, text TEXT NOT NULL, label TEXT NOT NULL,
                source TEXT NOT NULL, ext_id TEXT, moderator TEXT, created_at REAL NOT NULL, origin TEXT NOT NULL,
                event_at REAL NOT NULL, revision INTEGER NOT NULL DEFAULT 0, UNIQUE (source, ext_id, origin))""",
            f"""INSERT INTO {TABLE}_v2 (row_id, text, label, source, ext_id, moderator, created_at, origin, event_at)
                SELECT row_id, text, label, source, ext_id, moderator, created_at, '{UNRECORDED}', created_at
                FROM {TABLE}""",
            f"DROP TABLE {TABLE}",
            f"ALTER TABLE {TABLE}_v2 RENAME TO {TABLE}",
            f"CREATE INDEX {TABLE}_created ON {TABLE} (created_at)",
            f"CREATE INDEX {TABLE}_origin ON {TABLE} (origin, created_at)",
        ],
        [  # 3: a row of version 1 ("unrecorded") keeps its key, its post alone: a newer label for the post,
            # from any origin, replaces it, as it did when it was written (see REPLACES_UNRECORDED)
            REPLACED_UNRECORDED,
            *(
                f"""CREATE TRIGGER {TABLE}_replaces_unrecorded_{event} AFTER {event} ON {TABLE}
                    WHEN NEW.origin != '{UNRECORDED}' AND NEW.ext_id IS NOT NULL
                    BEGIN {REPLACES_UNRECORDED.replace("?", "NEW.")}; END"""
                for event in ("INSERT", "UPDATE")
            ),
        ],
        [  # 4: the post's language (ISO 639-1 or "und"); NULL for the rows written before: training identifies them
            f"ALTER TABLE {TABLE} ADD COLUMN language TEXT",
        ],
    ],
)


class TooManyWrites(RuntimeError):
    """An origin wrote more than its share (``FEEDBACK_RATE``, ``FEEDBACK_BURST``, ``FEEDBACK_DAILY_CAP``):
    nothing stored; the web layer answers 429 with ``Retry-After: retry_after``."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Row(NamedTuple):
    """One stored row, as ``rows()`` reads them."""

    text: str
    label: str
    source: str
    id: str | None
    created_at: float
    origin: str
    event_at: float
    revision: int
    language: str | None = None  # ISO 639-1 or "und"; None: written before languages were recorded


class Counts(TypedDict):
    """What ``counts`` answers (and ``GET /feedback``, with the served model added): never a text."""

    total: int
    by_label: dict[str, int]  # every label, 0 included
    by_source: dict[str, int]
    by_origin: dict[str, int]  # who wrote the rows: a credential ("token", "moderation-key") or a board's webhook
    newer_than_model: int | None  # rows written after the given time; None when none was given


class FeedbackStore:
    """Moderators' labels; safe to share between threads, and between processes after a fork.

    With ``stores`` (the service's ``StoreSettings``) every call on the request's path goes through a
    ``hatespeech.resilience.Guard``: ``add``, ``counts`` and ``erase`` wait at most ``API_TIMEOUT``
    (``StoreUnavailable`` then: 503), and ``keep`` (a board's decision) is spooled while the
    database is away and replayed once it is back. With ``quota`` and ``daily_cap``, each origin's
    writes are bounded (quota.py): ``TooManyWrites`` beyond them.
    """

    placeholder = "?"
    errors: tuple[type[BaseException], ...] = (sqlite3.Error, OSError)  # the driver's failures

    def __init__(
        self,
        max_text_chars: int = 10_000,
        stores: StoreSettings | None = None,
        quota: Quota | None = None,
        daily_cap: int | None = None,
    ) -> None:
        self.max_text_chars = max_text_chars
        self._connections = PerThread(lambda: self._connect(), lambda conn: self._usable(conn))
        self.stores = stores
        self.quota, self.daily_cap = quota, daily_cap
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
    def add(self, text: str, label: str, **fields: Any) -> int:
        """Store one label (validated first: ``InvalidFeedback`` and nothing stored if any field is bad).

        ``fields`` (keywords, all optional): ``source`` ("api"), ``id`` (the post's, None), ``moderator``;
        ``origin`` names who wrote it (a credential, or a board's signed webhook; "library"); ``event_at``
        (seconds since the epoch) is when the board decided, if it says, else now; ``revision`` the board's
        own counter of changes to the decision, if it has one (0). The same ``(source, id, origin)``
        replaces the earlier row (unless that one is newer: see ``UPSERT``) and keeps its row id, which is
        returned; 0 when a newer decision was kept instead. ``TooManyWrites`` when the origin is over its share.
        """
        params = self._checked(text, label, **fields)
        self._rate(params[6])
        # the cap's count and the write in one trip to the store (each trip may wait for a pool thread)
        row, written = self._guarded(self._capped_upsert, *params)
        if row is None:
            raise self._over_cap(params[6], written)
        return row

    def keep(self, text: str, label: str, **fields: Any) -> int | None:
        """``add`` that never waits on a stalled database: the row id (0: a newer decision was kept), or None
        when the row was spooled (it is stored once the database is back). ``InvalidFeedback`` and
        ``TooManyWrites`` as ``add``; ``StoreUnavailable`` only if the spool failed too."""
        params = self._checked(text, label, **fields)
        self._rate(params[6])
        self._within_cap(params[6], params[5])
        found = self.guard
        if found is None:
            return self._upsert(*params)
        written = found.write("upsert", *params)
        return None if written is SPOOLED else int(written)

    def _checked(
        self,
        text: str,
        label: str,
        *,
        source: str = "api",
        id: str | None = None,
        moderator: str | None = None,
        origin: str = "library",
        event_at: float | None = None,
        revision: int = 0,
        language: str | None = None,
    ) -> tuple[str, str, str, str | None, str | None, float, str, float, int, str]:
        """Every field checked: the row's values, in ``UPSERT``'s order. No ``language``: the text's, as
        ``hatespeech.core.language.identify`` names it."""
        from hatespeech.core.language import identify
        from hatespeech.feedback import check_feedback

        f = check_feedback(text, label, source, id, moderator, self.max_text_chars, language)
        now = time.time()
        return (
            f.text,
            f.label,
            f.source,
            f.id,
            f.moderator,
            now,
            origin,
            now if event_at is None else event_at,
            revision,
            f.language or identify(f.text).code,
        )

    def _rate(self, origin: str) -> None:
        """``TooManyWrites`` if ``origin`` is over its rate (this process's bucket)."""
        if self.quota is not None and (wait := self.quota.take(origin)) > 0:
            raise TooManyWrites(f"too many feedback writes from {origin}; try again in {wait:.1f} s", wait)

    def _over_cap(self, origin: str, written: int) -> TooManyWrites:
        return TooManyWrites(
            f"{origin} wrote {written} feedback rows in the last 24 hours; the cap is {self.daily_cap} "
            "(FEEDBACK_DAILY_CAP)",
            3600.0,
        )

    def _within_cap(self, origin: str, now: float) -> None:
        """``TooManyWrites`` if ``origin`` wrote its daily cap. For a board's decision: a store that cannot
        answer in time lets it through, to the spool (that decision must not be lost)."""
        if self.daily_cap is None:
            return
        try:
            written = self._quick(origin, now)
        except StoreUnavailable:
            return
        if written >= self.daily_cap:
            raise self._over_cap(origin, written)

    def _capped_upsert(self, *params: Any) -> tuple[int | None, int]:
        """``_upsert`` unless the row's origin (``params[6]``) wrote its daily cap: ``(row id, 0)``, or
        ``(None, rows written)``."""
        if self.daily_cap is not None:
            written = self._written_since(params[6], params[5] - DAY)
            if written >= self.daily_cap:
                return None, written
        return self._upsert(*params), 0

    def _quick(self, origin: str, now: float) -> int:
        found = self.guard
        if found is None:
            return self._written_since(origin, now - DAY)
        return found.call(self._written_since, origin, now - DAY)  # the request's own deadline (STORE_TIMEOUT)

    def _written_since(self, origin: str, since: float) -> int:
        (n,) = self._execute(
            f"SELECT COUNT(*) FROM {TABLE} WHERE origin = ? AND created_at > ?", (origin, since)
        ).fetchone()
        return int(n)

    def _upsert(
        self,
        text: str,
        label: str,
        source: str,
        id: str | None,
        moderator: str | None,
        created_at: float,
        origin: str = UNRECORDED,  # a row spooled before origins were recorded
        event_at: float | None = None,
        revision: int = 0,
        language: str | None = None,  # None: a row spooled before languages were recorded
    ) -> int:
        event = created_at if event_at is None else event_at
        values = (text, label, source, id, moderator, created_at, origin, event, revision, language)
        rows, _ = self._write(UPSERT, values)
        return int(rows[0][0]) if rows else 0

    def counts(self, newer_than: float | None = None) -> Counts:
        """``total``, ``by_label`` (every label, 0 included), ``by_source``, and ``newer_than_model``:
        the rows written after ``newer_than`` (seconds since the epoch), or None without it."""
        return self._guarded(self._counts, newer_than)

    def _counts(self, newer_than: float | None) -> Counts:
        by_label = dict.fromkeys(LABELS, 0)
        by_source: dict[str, int] = {}
        by_origin: dict[str, int] = {}
        grouped = f"SELECT label, source, origin, COUNT(*) FROM {TABLE} GROUP BY label, source, origin"
        for label, source, origin, n in self._execute(grouped):
            by_label[label] = by_label.get(label, 0) + int(n)
            by_source[source] = by_source.get(source, 0) + int(n)
            by_origin[origin] = by_origin.get(origin, 0) + int(n)
        newer = None
        if newer_than is not None:
            (newer,) = self._execute(f"SELECT COUNT(*) FROM {TABLE} WHERE created_at > ?", (newer_than,)).fetchone()
            newer = int(newer)
        return {
            "total": sum(by_label.values()),
            "by_label": by_label,
            "by_source": dict(sorted(by_source.items())),
            "by_origin": dict(sorted(by_origin.items())),
            "newer_than_model": newer,
        }

    def erase(self, source: str, id: str | int, origin: str = "library") -> bool:
        """Delete every row for this ``(source, id)``, whoever wrote it (a deleted post's text must go
        everywhere); True if there was one. It counts against ``origin``'s rate (``TooManyWrites``)."""
        self._rate(origin)
        return self._guarded(self._erase, str(source), str(id))

    def _erase(self, source: str, id: str) -> bool:
        _, changed = self._write(f"DELETE FROM {TABLE} WHERE source = ? AND ext_id = ?", (source, id))
        return changed > 0

    def rows(self) -> Iterator[Row]:
        """Every row, oldest first, read in pages (several per post when several origins labelled it)."""
        last = 0
        statement = (
            "SELECT row_id, text, label, source, ext_id, created_at, origin, event_at, revision, language "
            f"FROM {TABLE} WHERE row_id > ? ORDER BY row_id LIMIT {FETCH_ROWS}"
        )
        while True:
            cursor = self._execute(statement, (last,))
            try:
                page = cursor.fetchall()
            except self.errors as err:
                raise StoreUnavailable(f"the feedback store failed: {type(err).__name__}: {err}") from err
            for row in page:
                yield Row(row[1], row[2], row[3], row[4], float(row[5]), row[6], float(row[7]), int(row[8]), row[9])
            if len(page) < FETCH_ROWS:
                return
            last = page[-1][0]

    def decisions(self) -> list[Row]:
        """What training learns from: for each post ``(source, id)``, the newest row by the board's event
        time (then revision), whoever wrote it; every row sent without an id. In the order stored."""
        newest: dict[tuple[str, str], tuple[int, Row]] = {}
        kept: list[tuple[int, Row]] = []
        for at, row in enumerate(self.rows()):
            if row.id is None:
                kept.append((at, row))
                continue
            seen = newest.get((row.source, row.id))
            if seen is None or (row.event_at, row.revision) > (seen[1].event_at, seen[1].revision):
                newest[(row.source, row.id)] = (at, row)
        return [row for _, row in sorted([*kept, *newest.values()], key=lambda pair: pair[0])]

    def close(self) -> None:
        """Close this process's connections (a later call opens new ones)."""
        if self._guard is not None:
            self._guard.close()
        self._connections.close()


class SQLiteFeedbackStore(FeedbackStore):
    """One SQLite file shared by the workers of one machine (``FEEDBACK_DB_PATH``)."""

    def __init__(
        self, path: Path | str, max_text_chars: int = 10_000, stores: StoreSettings | None = None, **limits: Any
    ) -> None:
        super().__init__(max_text_chars, stores, **limits)
        self.path = Path(path)

    def _address(self) -> str:
        return str(self.path.resolve())

    def _spool_beside(self) -> Path:
        return self.path

    def _connect(self) -> sqlite3.Connection:
        return open_sqlite(self.path, "", migrations=MIGRATIONS)

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
