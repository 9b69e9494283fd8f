"""The alert store in one SQLite file (the default): every worker and thread of one machine shares it."""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path

from hatespeech.alerts.overflow import victims
from hatespeech.alerts.store import ALERT_PAYLOADS, BURST, Maintenance, Row, Store, is_call, worse
from hatespeech.connections import PerThread, open_sqlite

# Each store's tables carry a version (hatespeech/connections.py): step 1 is the schema of the release
# before versions, written with IF NOT EXISTS so that a file it made is adopted as it is, rows and all.
# A later change is a new step at the end; a step is never edited once released.
_V1 = """
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
MIGRATIONS = ("alerts", [[s for s in _V1.split(";") if s.strip()]])
_COLUMNS = "id, alert_id, url, format, alert, text, created, due, attempts, lease, error"


class SQLiteStore(Store):
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._connections = PerThread(lambda: open_sqlite(self.path, "", rows=True, migrations=MIGRATIONS))

    def _db(self) -> sqlite3.Connection:
        return self._connections.get()

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

    def window(self, thread: str, now: float, max_age: float) -> list[dict]:
        rows = self._db().execute(
            "SELECT entry FROM windows WHERE thread = ? AND ts >= ? ORDER BY seq DESC", (thread, now - max_age)
        )
        return [json.loads(r["entry"]) for r in rows]

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
            if last and now < last["until"] and not worse(share, mean, last["share"], last["mean"], step):
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
                everything = [  # boards' calls are never dropped: only alerts are candidates
                    (r["id"], r["created"], r["alert"])
                    for r in db.execute("SELECT id, created, alert, format FROM outbox")
                    if not is_call(r["format"])
                ]
                for row_id in victims(everything, count - outbox_max):
                    done.dropped += [
                        Row.from_mapping(dict(r))
                        for r in db.execute(f"DELETE FROM outbox WHERE id = ? RETURNING {_COLUMNS}", (row_id,))
                    ]
            done.pending = count - len(done.dropped)
            db.execute("DELETE FROM cooldowns WHERE until < ?", (now,))
            # threads gone quiet; a burst's posts stay as long as its summary may wait for delivery
            db.execute("DELETE FROM windows WHERE ts < ? AND substr(thread, 1, 6) != ?", (now - window_age, BURST))
            db.execute("DELETE FROM windows WHERE ts < ?", (now - max(max_age, window_age),))
        return done

    def pending(self) -> int:
        return self._db().execute("SELECT COUNT(*) FROM outbox").fetchone()[0]

    def calls_pending(self) -> int:
        marks = ",".join("?" * len(ALERT_PAYLOADS))
        query = f"SELECT COUNT(*) FROM outbox WHERE format NOT IN ({marks})"
        return self._db().execute(query, ALERT_PAYLOADS).fetchone()[0]

    def close(self) -> None:
        self._connections.close()


class _Transaction:
    """``with``: one ``BEGIN IMMEDIATE`` … ``COMMIT`` (or ``ROLLBACK`` on an exception)."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        self.db.execute("ROLLBACK" if kind else "COMMIT")
