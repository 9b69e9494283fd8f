"""Which model is served, shared by every worker of every container: kept where the feedback lives.

Two tables, in the feedback's database (the SQLite file ``FEEDBACK_DB_PATH``, or PostgreSQL with
``DATABASE_URL``), created by ``hatespeech.connections``' migrations:

- ``models``: each promoted model's card and compiled file (``.npz`` bytes, ~2 MB), by its sha256.
  Containers share no disk, so the database carries the model itself; a worker verifies it
  (sha256, probes) before serving it.
- ``model_events``: every promotion and rollback, with who, when, why, and the model served after
  it (``served``; NULL: the model the container was built with, ``MODEL_PATH``'s default).

A promotion pushes a model, a rollback pops one: the served model is the top of that stack,
written on each event so that a worker's poll reads one row.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hatespeech.config import Settings
from hatespeech.connections import PerThread, open_postgres, open_sqlite, postgres_usable

_SQLITE = (
    "models",
    [
        [
            "CREATE TABLE models (sha256 TEXT PRIMARY KEY, card TEXT NOT NULL, model BLOB NOT NULL, "
            "added_at REAL NOT NULL)",
            "CREATE TABLE model_events (id INTEGER PRIMARY KEY AUTOINCREMENT, action TEXT NOT NULL, served TEXT, "
            "at REAL NOT NULL, who TEXT NOT NULL, why TEXT NOT NULL, forced INTEGER NOT NULL)",
        ]
    ],
)
_POSTGRES = (
    "models",
    [
        [
            "CREATE TABLE models (sha256 TEXT PRIMARY KEY, card TEXT NOT NULL, model BYTEA NOT NULL, "
            "added_at DOUBLE PRECISION NOT NULL)",
            "CREATE TABLE model_events (id BIGSERIAL PRIMARY KEY, action TEXT NOT NULL, served TEXT, "
            "at DOUBLE PRECISION NOT NULL, who TEXT NOT NULL, why TEXT NOT NULL, forced INTEGER NOT NULL)",
        ]
    ],
)
SCHEMA_LOCK = 0x6D6F646C  # advisory lock: processes migrating or writing the tables at once take turns


class RegistryError(RuntimeError):
    """The registry cannot do what was asked (nothing to roll back to, say); the message says why."""


@dataclass(frozen=True)
class Event:
    id: int
    action: str  # promote or rollback
    served: str | None  # the sha256 served after it; None: the container's own model
    at: float
    who: str
    why: str
    forced: bool


class Registry:
    """The served model's record in the feedback's database; connections per thread and process (after a fork)."""

    def __init__(self, settings: Settings) -> None:
        feedback = settings.feedback
        self.url, self.path = feedback.database_url, Path(feedback.db_path)
        self.where = "PostgreSQL (DATABASE_URL)" if self.url else f"SQLite {self.path} (FEEDBACK_DB_PATH)"
        if self.url:
            url, options = self.url, settings.stores.postgres_options
            self._connections = PerThread(
                lambda: open_postgres(url, "", SCHEMA_LOCK, options, migrations=_POSTGRES), postgres_usable
            )
            self._p = "%s"
        else:
            path = self.path
            self._connections = PerThread(lambda: open_sqlite(path, "", migrations=_SQLITE))
            self._p = "?"
        self.errors: tuple[type[BaseException], ...] = (sqlite3.Error, OSError)
        if self.url:
            import psycopg

            self.errors += (psycopg.Error,)

    def _sql(self, statement: str) -> str:
        return statement.replace("?", self._p)

    def _absent(self) -> bool:
        # reading creates nothing: a service that never had feedback nor a promotion leaves no file behind
        return not self.url and not self.path.exists()

    def served(self) -> str | None:
        """The sha256 of the promoted model; None when none is (or the last was rolled back): the container's own."""
        if self._absent():
            return None
        row = self._connections.get().execute("SELECT served FROM model_events ORDER BY id DESC LIMIT 1").fetchone()
        return None if row is None else row[0]

    def events(self) -> list[Event]:
        if self._absent():
            return []
        rows = self._connections.get().execute(
            "SELECT id, action, served, at, who, why, forced FROM model_events ORDER BY id"
        )
        return [Event(int(r[0]), r[1], r[2], float(r[3]), r[4], r[5], bool(r[6])) for r in rows.fetchall()]

    def stack(self) -> list[str]:
        """The promoted models still in force, oldest first (the last is served)."""
        return _replay(self.events())

    def cards(self) -> dict[str, dict[str, Any]]:
        """Every model the registry holds: sha256 → card."""
        if self._absent():
            return {}
        rows = self._connections.get().execute("SELECT sha256, card FROM models").fetchall()
        return {r[0]: json.loads(r[1]) for r in rows}

    def model(self, sha256: str) -> tuple[dict[str, Any], bytes]:
        """A promoted model's card and compiled file; ``RegistryError`` if the registry does not hold it."""
        row = (
            self._connections.get()
            .execute(self._sql("SELECT card, model FROM models WHERE sha256 = ?"), (sha256,))
            .fetchone()
        )
        if row is None:
            raise RegistryError(f"the registry ({self.where}) holds no model {sha256[:12]}")
        return json.loads(row[0]), bytes(row[1])

    @contextlib.contextmanager
    def _writing(self) -> Iterator[Any]:
        """A transaction holding the write lock: two promotions at once are applied one after the other."""
        conn = self._connections.get()
        if self.url:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
                yield conn
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def promote(self, card: dict[str, Any], model: bytes, who: str, why: str, forced: bool) -> Event:
        """Keep the model and serve it (every worker, within its next poll)."""
        now = time.time()
        with self._writing() as conn:
            conn.execute(
                self._sql(
                    "INSERT INTO models (sha256, card, model, added_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"
                ),
                (card["sha256"], json.dumps(card), model, now),
            )
            return self._event(conn, "promote", card["sha256"], now, who, why, forced)

    def rollback(self, who: str, why: str) -> Event:
        """Serve the model served before the last promotion still in force; ``RegistryError`` if there is none."""
        now = time.time()
        with self._writing() as conn:
            stack = _replay(self.events())
            if not stack:
                raise RegistryError(f"nothing to roll back: no promotion in force ({self.where})")
            return self._event(conn, "rollback", stack[-2] if len(stack) > 1 else None, now, who, why, False)

    def _event(self, conn: Any, action: str, served: str | None, at: float, who: str, why: str, forced: bool) -> Event:
        conn.execute(
            self._sql("INSERT INTO model_events (action, served, at, who, why, forced) VALUES (?, ?, ?, ?, ?, ?)"),
            (action, served, at, who, why, int(forced)),
        )
        return self.events()[-1]

    def close(self) -> None:
        self._connections.close()


def _replay(events: list[Event]) -> list[str]:
    stack: list[str] = []
    for event in events:
        if event.action == "promote" and event.served is not None:
            stack.append(event.served)
        elif event.action == "rollback" and stack:
            stack.pop()
    return stack
