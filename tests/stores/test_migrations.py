"""Every store opened on tables the previous release made: its rows intact and read through the store's
API, its version recorded, a second opening a no-op, and several processes opening one new file or
database at once all succeeding; SQLite, and PostgreSQL where the store has it.

Each ``PREVIOUS_*`` below is the previous release's schema, copied from commit d87e560 (the last
before versions: ``git show d87e560:<file>``), never imported from today's code, which may change.
"""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from hatespeech.alerts.sqlite_store import SQLiteStore
from hatespeech.alerts.store import Row
from hatespeech.connections import SCHEMA_VERSIONS, open_postgres, open_sqlite
from hatespeech.feedback import SQLiteFeedbackStore
from hatespeech.feedback.postgres import MIGRATIONS as POSTGRES_FEEDBACK
from hatespeech.feedback.postgres import PostgresFeedbackStore
from hatespeech.feedback.store import MIGRATIONS as SQLITE_FEEDBACK
from hatespeech.feedback.store import FeedbackStore
from hatespeech.integrations.outbox import Keys
from hatespeech.resilience import Spool
from hatespeech.review.postgres import PostgresQueue
from hatespeech.review.store import Queue, SQLiteQueue, post
from testing.services import new_database

NOW = time.time()

# d87e560:hatespeech/alerts/sqlite_store.py
PREVIOUS_ALERTS = """
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
# d87e560:hatespeech/integrations/outbox.py
PREVIOUS_KEYS = """
CREATE TABLE IF NOT EXISTS integration_keys (key TEXT PRIMARY KEY, value TEXT, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS integration_keys_at ON integration_keys (at);
"""
# d87e560:hatespeech/resilience.py
PREVIOUS_SPOOL = """
CREATE TABLE IF NOT EXISTS spool (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, store TEXT NOT NULL, op TEXT NOT NULL, args TEXT NOT NULL,
    created REAL NOT NULL, due REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS spool_store ON spool (store, seq);
"""
# d87e560:hatespeech/review/store.py: _SCHEMA, then _THREAT_COLUMN and _THREAT_INDEX (a file it opened)
PREVIOUS_REVIEW = """
CREATE TABLE IF NOT EXISTS posts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, post_id TEXT NOT NULL UNIQUE, action TEXT NOT NULL,
    hate INTEGER NOT NULL, offensive INTEGER NOT NULL, thread TEXT, ts REAL NOT NULL,
    texted INTEGER NOT NULL, body TEXT NOT NULL, feedback TEXT);
CREATE INDEX IF NOT EXISTS posts_action ON posts (action, seq);
CREATE INDEX IF NOT EXISTS posts_thread ON posts (thread, seq);
CREATE INDEX IF NOT EXISTS posts_texted ON posts (texted, ts);
ALTER TABLE posts ADD COLUMN threat INTEGER NOT NULL DEFAULT 0;
UPDATE posts SET threat = 1 WHERE EXISTS (SELECT 1 FROM json_each(body, '$.categories') WHERE value = 'threat');
CREATE INDEX IF NOT EXISTS posts_threat ON posts (threat, seq);
"""
# d87e560:hatespeech/review/postgres.py
PREVIOUS_REVIEW_POSTGRES = """
CREATE SEQUENCE IF NOT EXISTS review_posts_seq;
CREATE TABLE IF NOT EXISTS review_posts (
    seq BIGINT PRIMARY KEY DEFAULT nextval('review_posts_seq'), post_id TEXT NOT NULL UNIQUE,
    action TEXT NOT NULL, hate INTEGER NOT NULL, offensive INTEGER NOT NULL, thread TEXT,
    ts DOUBLE PRECISION NOT NULL, texted INTEGER NOT NULL, body TEXT NOT NULL, feedback TEXT);
CREATE INDEX IF NOT EXISTS review_posts_action ON review_posts (action, seq);
CREATE INDEX IF NOT EXISTS review_posts_thread ON review_posts (thread, seq);
CREATE INDEX IF NOT EXISTS review_posts_texted ON review_posts (texted, ts);
DO $$ BEGIN  -- a table made before the threat filter: its column, filled from the posts' categories, once
  IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name = 'review_posts' AND column_name = 'threat') THEN
    ALTER TABLE review_posts ADD COLUMN threat INTEGER NOT NULL DEFAULT 0;
    UPDATE review_posts SET threat = 1 WHERE (body::jsonb -> 'categories') @> '["threat"]'::jsonb;
  END IF;
END $$;
CREATE INDEX IF NOT EXISTS review_posts_threat ON review_posts (threat, seq);
"""
# d87e560:hatespeech/feedback/store.py: MIGRATIONS' two steps, as the release left a file (version 2)
PREVIOUS_FEEDBACK = """
CREATE TABLE IF NOT EXISTS hatespeech_feedback (
    row_id INTEGER PRIMARY KEY AUTOINCREMENT, text TEXT NOT NULL, label TEXT NOT NULL, source TEXT NOT NULL,
    ext_id TEXT, moderator TEXT, created_at REAL NOT NULL, UNIQUE (source, ext_id));
CREATE INDEX IF NOT EXISTS hatespeech_feedback_created ON hatespeech_feedback (created_at);
CREATE TABLE hatespeech_feedback_v2 (
    row_id INTEGER PRIMARY KEY AUTOINCREMENT, text TEXT NOT NULL, label TEXT NOT NULL,
    source TEXT NOT NULL, ext_id TEXT, moderator TEXT, created_at REAL NOT NULL, origin TEXT NOT NULL,
    event_at REAL NOT NULL, revision INTEGER NOT NULL DEFAULT 0, UNIQUE (source, ext_id, origin));
INSERT INTO hatespeech_feedback_v2 (row_id, text, label, source, ext_id, moderator, created_at, origin, event_at)
    SELECT row_id, text, label, source, ext_id, moderator, created_at, 'unrecorded', created_at
    FROM hatespeech_feedback;
DROP TABLE hatespeech_feedback;
ALTER TABLE hatespeech_feedback_v2 RENAME TO hatespeech_feedback;
CREATE INDEX hatespeech_feedback_created ON hatespeech_feedback (created_at);
CREATE INDEX hatespeech_feedback_origin ON hatespeech_feedback (origin, created_at);
CREATE TABLE IF NOT EXISTS hatespeech_schema (store TEXT PRIMARY KEY, version INTEGER NOT NULL);
INSERT INTO hatespeech_schema (store, version) VALUES ('feedback', 2);
"""
# d87e560:hatespeech/feedback/postgres.py: MIGRATIONS' two steps (version 2)
PREVIOUS_FEEDBACK_POSTGRES = """
CREATE TABLE IF NOT EXISTS hatespeech_feedback (
    row_id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, text TEXT NOT NULL, label TEXT NOT NULL,
    source TEXT NOT NULL, ext_id TEXT, moderator TEXT, created_at DOUBLE PRECISION NOT NULL,
    UNIQUE (source, ext_id));
CREATE INDEX IF NOT EXISTS hatespeech_feedback_created ON hatespeech_feedback (created_at);
ALTER TABLE hatespeech_feedback ADD COLUMN origin TEXT NOT NULL DEFAULT 'unrecorded';
ALTER TABLE hatespeech_feedback ALTER COLUMN origin DROP DEFAULT;
ALTER TABLE hatespeech_feedback ADD COLUMN event_at DOUBLE PRECISION;
UPDATE hatespeech_feedback SET event_at = created_at;
ALTER TABLE hatespeech_feedback ALTER COLUMN event_at SET NOT NULL;
ALTER TABLE hatespeech_feedback ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
ALTER TABLE hatespeech_feedback DROP CONSTRAINT IF EXISTS hatespeech_feedback_source_ext_id_key;
ALTER TABLE hatespeech_feedback ADD CONSTRAINT hatespeech_feedback_post_origin UNIQUE (source, ext_id, origin);
CREATE INDEX hatespeech_feedback_origin ON hatespeech_feedback (origin, created_at);
CREATE TABLE IF NOT EXISTS hatespeech_schema (store TEXT PRIMARY KEY, version INTEGER NOT NULL);
INSERT INTO hatespeech_schema (store, version) VALUES ('feedback', 2);
"""
FEEDBACK_COLUMNS = "(text, label, source, ext_id, moderator, created_at, origin, event_at, revision)"
# rows as the previous release could hold them: a row of its own first version ("unrecorded"), since
# replaced by a newer label from the board (post 5); one kept beside an older board decision (post 6)
FEEDBACK_ROWS = [
    ("old five", "hate speech", "discourse", "5", "mia", 1.7e9, "unrecorded", 1.7e9, 0),
    ("new five", "neither", "discourse", "5", "mia", 1.8e9, "discourse-webhook", 1.8e9, 2),
    ("old six", "offensive language", "discourse", "6", None, 1.7e9, "unrecorded", 1.7e9, 0),
    ("six", "neither", "discourse", "6", "kim", 1.75e9, "discourse-webhook", 1.6e9, 1),
    ("no id", "neither", "api", None, None, 1.7e9, "token", 1.7e9, 0),
]
REVIEW_POSTS = [  # (post, its threat flag as the previous release kept it)
    (post("p1", "one", {"hate speech": 0.9}, "block", "hate speech", ["hate speech", "threat"], "t1", ts=1.0), 1),
    (post("p2", "two", {"offensive language": 0.6}, "review", "offensive language", ["offensive language"]), 0),
]


def version(connect: Callable[[], Any], store: str) -> int | None:
    with connect() as db:
        row = db.execute(f"SELECT version FROM {SCHEMA_VERSIONS} WHERE store = '{store}'").fetchone()
    return None if row is None else int(row[0])


def sqlite_snapshot(path: Path) -> list[Any]:
    """Every table's definition and rows: what a second opening must leave as it was."""
    with sqlite3.connect(path) as db:
        tables = db.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name").fetchall()
        rows = [
            db.execute(f"SELECT * FROM {name} ORDER BY 1").fetchall() for kind, name, _ in tables if kind == "table"
        ]
    return [tables, rows]


def postgres_snapshot(url: str) -> list[Any]:
    with psycopg.connect(url) as db:
        columns = db.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() ORDER BY 1, 2"
        ).fetchall()
        indexes = db.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() ORDER BY 1"
        ).fetchall()
        tables = sorted({name for name, _, _ in columns})
        rows = [db.execute(f"SELECT * FROM {name} ORDER BY 1").fetchall() for name in tables]
    return [columns, indexes, rows]


def previous_sqlite(path: Path, schema: str, *inserts: tuple[str, list[tuple]]) -> None:
    with sqlite3.connect(path) as db:
        db.executescript(schema)
        for statement, rows in inserts:
            db.executemany(statement, rows)
    db.close()


def previous_postgres(url: str, schema: str, *inserts: tuple[str, list[tuple]]) -> None:
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(schema)
        for statement, rows in inserts:
            with db.cursor() as cursor:
                cursor.executemany(statement.replace("?", "%s"), rows)


def read_once(store: Any, read: Callable[[Any], Any]) -> Any:
    """Open ``store``'s connection (each opens on first use) with one ``read(store)``, and close it."""
    try:
        return read(store)
    finally:
        store.close()


def opened_twice(store: Callable[[], Any], read: Callable[[Any], Any], snapshot: Callable[[], list[Any]]) -> None:
    """A second opening of a migrated store changes nothing."""
    before = snapshot()
    read_once(store(), read)
    assert snapshot() == before


# ------------------------------------------------------------------------------------------ alerts


def test_the_alert_store_adopts_the_previous_releases_file(tmp_path: Path) -> None:
    path = tmp_path / "alerts.sqlite3"
    alert = json.dumps({"kind": "thread", "thread": "t1"})
    previous_sqlite(
        path,
        PREVIOUS_ALERTS,
        (
            "INSERT INTO outbox (id, alert_id, url, format, alert, text, created, due) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [("o1", "a1", "https://hooks.example/x", "slack", alert, "a text", NOW - 5, NOW - 1)],
        ),
        ("INSERT INTO windows (thread, ts, entry) VALUES (?, ?, ?)", [("t1", NOW - 2, json.dumps({"ts": NOW - 2}))]),
        ("INSERT INTO cooldowns VALUES (?, ?, ?, ?)", [("t1", NOW + 600, 0.5, 0.5)]),
    )
    store = SQLiteStore(path)
    try:
        (row,) = store.claim(NOW, 60, 10)
        assert (row.id, row.alert_id, row.alert, row.text, row.created) == ("o1", "a1", alert, "a text", NOW - 5)
        assert store.window("t1", NOW, 60) == [{"ts": NOW - 2}]
        new = Row("a2", "https://hooks.example/x", "slack", alert, NOW, NOW)
        assert store.enqueue_if_cooled("t1", NOW, 600, 0.5, 0.5, 0.1, [new]) is False  # still cooling down
    finally:
        store.close()
    assert version(lambda: sqlite3.connect(path), "alerts") == 1
    opened_twice(lambda: SQLiteStore(path), lambda store: store.pending(), lambda: sqlite_snapshot(path))


# ------------------------------------------------------------------------------------------ integrations


def test_the_integrations_keys_adopt_the_previous_releases_file(tmp_path: Path) -> None:
    path = tmp_path / "alerts.sqlite3"  # the keys live beside the alert outbox: both stores in one file
    previous_sqlite(path, PREVIOUS_ALERTS)
    previous_sqlite(
        path,
        PREVIOUS_KEYS,
        (
            "INSERT INTO integration_keys VALUES (?, ?, ?)",
            [("discourse:flagged:42", "hate speech", NOW - 5), ("discourse:post:42:flag:7", "", NOW - 5)],
        ),
    )
    keys = Keys(path)
    try:
        assert keys.recall("discourse:flagged:42") == "hate speech"
        assert keys.claim("discourse:post:42:flag:7") is False  # done by the previous release: a replay
        assert keys.claim("discourse:post:43:flag:7") is True
    finally:
        keys.close()
    assert version(lambda: sqlite3.connect(path), "integration_keys") == 1
    read_once(SQLiteStore(path), lambda store: store.pending())
    assert version(lambda: sqlite3.connect(path), "alerts") == 1
    opened_twice(lambda: Keys(path), lambda keys: keys.recall("x"), lambda: sqlite_snapshot(path))


# ------------------------------------------------------------------------------------------ spool


def test_the_spool_adopts_the_previous_releases_file(tmp_path: Path) -> None:
    path = tmp_path / "stores-spool.sqlite3"
    # a feedback write spooled by the release before origins: its six arguments still replay (store.py)
    args = ["a text", "neither", "api", "9", None, NOW - 5]
    previous_sqlite(
        path,
        PREVIOUS_SPOOL,
        (
            "INSERT INTO spool (store, op, args, created, due) VALUES (?, ?, ?, ?, ?)",
            [("feedback", "upsert", json.dumps(args), NOW - 5, 0.0)],
        ),
    )
    spool = Spool(path)
    try:
        assert spool.take("feedback") == [(1, "upsert", args)]
    finally:
        spool.close()
    assert version(lambda: sqlite3.connect(path), "spool") == 1
    opened_twice(lambda: Spool(path), lambda store: store.count(), lambda: sqlite_snapshot(path))


# ------------------------------------------------------------------------------------------ review queue


def review_rows() -> list[tuple]:
    rows = []
    for p, threat in REVIEW_POSTS:
        left_out = ("seq", "feedback", "language", "language_supported")  # the previous release wrote no language
        body = json.dumps({k: v for k, v in p.items() if k not in left_out})
        hate, offensive = int("hate speech" in p["categories"]), int("offensive language" in p["categories"])
        rows.append((p["id"], p["action"], hate, offensive, threat, p["thread"], p["time"], 1, body))
    return rows


REVIEW_INSERT = (
    "INSERT INTO {} (post_id, action, hate, offensive, threat, thread, ts, texted, body) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def review_is_intact(queue: Queue) -> None:
    page = queue.page()
    assert [(p["id"], p["text"], p["categories"]) for p in page["posts"]] == [
        ("p2", "two", ["offensive language"]),
        ("p1", "one", ["hate speech", "threat"]),
    ]
    # queued before languages were named: filtered as "und", and no language yet in the post
    assert [p["id"] for p in queue.page(language="und")["posts"]] == ["p2", "p1"]
    assert all("language" not in p for p in page["posts"]) and queue.page(language="en")["total"] == 0
    assert [p["id"] for p in queue.page(threat=True)["posts"]] == ["p1"]
    assert queue.set_feedback("p2", "neither")
    assert queue.page(category="offensive language")["posts"][0]["feedback"] == "neither"


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_the_review_queue_adopts_the_previous_releases_tables(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        path = tmp_path / "review.sqlite3"
        previous_sqlite(path, PREVIOUS_REVIEW, (REVIEW_INSERT.format("posts"), review_rows()))
        reopen: Callable[[], Queue] = lambda: SQLiteQueue(path)  # noqa: E731
        connect: Callable[[], Any] = lambda: sqlite3.connect(path)  # noqa: E731
        snapshot = lambda: sqlite_snapshot(path)  # noqa: E731
    else:
        url = new_database(request.getfixturevalue("postgres_server_url"), "review")
        previous_postgres(url, PREVIOUS_REVIEW_POSTGRES, (REVIEW_INSERT.format("review_posts"), review_rows()))
        reopen = lambda: PostgresQueue(url)  # noqa: E731
        connect = lambda: psycopg.connect(url)  # noqa: E731
        snapshot = lambda: postgres_snapshot(url)  # noqa: E731
    queue = reopen()
    try:
        review_is_intact(queue)
    finally:
        queue.close()
    assert version(connect, "review") == 2
    opened_twice(reopen, lambda store: store.page(), snapshot)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_the_review_queue_at_version_1_gets_its_language_column(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The tables as the last release left them (version 1, rows in them): step 2 adds the language."""
    versioned = f"CREATE TABLE {SCHEMA_VERSIONS} (store TEXT PRIMARY KEY, version INTEGER NOT NULL);" + (
        f"INSERT INTO {SCHEMA_VERSIONS} (store, version) VALUES ('review', 1);"
    )
    if backend == "sqlite":
        path = tmp_path / "review.sqlite3"
        previous_sqlite(path, PREVIOUS_REVIEW + versioned, (REVIEW_INSERT.format("posts"), review_rows()))
        queue: Queue = SQLiteQueue(path)
        connect: Callable[[], Any] = lambda: sqlite3.connect(path)  # noqa: E731
    else:
        url = new_database(request.getfixturevalue("postgres_server_url"), "review_v1")
        schema = PREVIOUS_REVIEW_POSTGRES + versioned
        previous_postgres(url, schema, (REVIEW_INSERT.format("review_posts"), review_rows()))
        queue = PostgresQueue(url)
        connect = lambda: psycopg.connect(url)  # noqa: E731
    try:
        review_is_intact(queue)
        queue.add(post("p3", "Ihr seid alle Abschaum", {"hate speech": 0.7}, "review", "hate speech", ["hate speech"],
                       language="de", language_supported=True))  # fmt: skip
        assert [p["id"] for p in queue.page(language="de")["posts"]] == ["p3"]
        assert queue.page(language="und")["total"] == 2
    finally:
        queue.close()
    assert version(connect, "review") == 2


def test_a_review_file_older_than_the_threat_filter_is_adopted_too(tmp_path: Path) -> None:
    path = tmp_path / "review.sqlite3"
    before_threats = PREVIOUS_REVIEW.split("ALTER TABLE")[0]
    rows = [row[:4] + row[5:] for row in review_rows()]
    insert = (
        "INSERT INTO posts (post_id, action, hate, offensive, thread, ts, texted, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    )
    previous_sqlite(path, before_threats, (insert, rows))
    queue = SQLiteQueue(path)
    try:
        review_is_intact(queue)  # the threat filter included: the column was filled from the posts' categories
    finally:
        queue.close()


# ------------------------------------------------------------------------------------------ feedback


def feedback_is_intact(store: FeedbackStore) -> None:
    """Every row but post 5's first-version label, which the board's newer decision replaced, as it
    did when the key was the post alone (store.py's REPLACES_UNRECORDED)."""
    assert [(r.text, r.label, r.source, r.id, r.origin, r.event_at, r.revision) for r in store.rows()] == [
        (text, label, source, ext_id, origin, event_at, revision)
        for text, label, source, ext_id, _, _, origin, event_at, revision in FEEDBACK_ROWS
        if text != "old five"
    ]
    assert [r.text for r in store.decisions()] == ["new five", "old six", "no id"]
    assert {r.language for r in store.rows()} == {None}  # written before languages: training identifies them
    store.add("newest six", "hate speech", source="discourse", id="6", origin="token")  # replaces "old six"
    assert store.counts()["by_origin"] == {"discourse-webhook": 2, "token": 2}
    store.add("Ihr seid alle dreckiges Pack und gehört weg", "hate speech", source="board", id="7")
    store.add("vous êtes tous des ordures", "hate speech", source="board", id="8", language="fr")
    assert [r.language for r in store.rows()][-3:] == ["en", "de", "fr"]  # identified, or as given


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_the_feedback_store_adopts_the_previous_releases_tables(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    insert = f"INSERT INTO hatespeech_feedback {FEEDBACK_COLUMNS} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    if backend == "sqlite":
        path = tmp_path / "feedback.sqlite3"
        previous_sqlite(path, PREVIOUS_FEEDBACK, (insert, FEEDBACK_ROWS))
        reopen: Callable[[], FeedbackStore] = lambda: SQLiteFeedbackStore(path)  # noqa: E731
        connect: Callable[[], Any] = lambda: sqlite3.connect(path)  # noqa: E731
        snapshot = lambda: sqlite_snapshot(path)  # noqa: E731
    else:
        url = new_database(request.getfixturevalue("postgres_server_url"), "feedback")
        previous_postgres(url, PREVIOUS_FEEDBACK_POSTGRES, (insert, FEEDBACK_ROWS))
        reopen = lambda: PostgresFeedbackStore(url)  # noqa: E731
        connect = lambda: psycopg.connect(url)  # noqa: E731
        snapshot = lambda: postgres_snapshot(url)  # noqa: E731
    store = reopen()
    try:
        feedback_is_intact(store)
    finally:
        store.close()
    assert version(connect, "feedback") == 4
    opened_twice(reopen, lambda store: store.counts(), snapshot)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_the_feedback_store_at_version_3_gets_its_language_column(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The table as the last release left it (its steps 1 to 3, which a release never edits), with rows."""
    insert = f"INSERT INTO hatespeech_feedback {FEEDBACK_COLUMNS} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    if backend == "sqlite":
        path = tmp_path / "feedback.sqlite3"
        open_sqlite(path, "", migrations=(SQLITE_FEEDBACK[0], SQLITE_FEEDBACK[1][:3])).close()
        previous_sqlite(path, "", (insert, FEEDBACK_ROWS[1:]))
        store: FeedbackStore = SQLiteFeedbackStore(path)
        connect: Callable[[], Any] = lambda: sqlite3.connect(path)  # noqa: E731
    else:
        url = new_database(request.getfixturevalue("postgres_server_url"), "feedback_v3")
        open_postgres(url, "", 1, migrations=(POSTGRES_FEEDBACK[0], POSTGRES_FEEDBACK[1][:3])).close()
        previous_postgres(url, "", (insert, FEEDBACK_ROWS[1:]))
        store = PostgresFeedbackStore(url)
        connect = lambda: psycopg.connect(url)  # noqa: E731
    try:
        assert [(r.text, r.language) for r in store.rows()] == [(row[0], None) for row in FEEDBACK_ROWS[1:]]
        store.add("Ihr seid alle dreckiges Pack und gehört weg", "hate speech", source="board", id="7")
        assert [r.language for r in store.rows()][-1] == "de"
    finally:
        store.close()
    assert version(connect, "feedback") == 4


# ------------------------------------------------------------------------------------------ at once

PROCESSES = 6


def _open_every_sqlite_store(folder: Path, start: Any, me: int) -> None:
    start.wait()
    alerts = SQLiteStore(folder / "alerts.sqlite3")
    alerts.enqueue([Row(f"a{me}", "https://hooks.example/x", "slack", "{}", NOW, NOW)])
    keys = Keys(folder / "alerts.sqlite3")
    keys.remember(f"k{me}", "v")
    spool = Spool(folder / "stores-spool.sqlite3")
    spool.add("feedback", "upsert", [me])
    queue = SQLiteQueue(folder / "review.sqlite3")
    queue.add(post(f"p{me}", "text", {"neither": 1.0}, "allow", "neither", []))
    feedback = SQLiteFeedbackStore(folder / "feedback.sqlite3")
    feedback.add("text", "neither", id=str(me))
    for store in (alerts, keys, spool, queue, feedback):
        store.close()


def _open_every_postgres_store(url: str, start: Any, me: int) -> None:
    start.wait()
    queue, feedback = PostgresQueue(url), PostgresFeedbackStore(url)
    # half the processes start with each store: each store's lock is its own, the versions table is both's
    writes = [
        lambda: queue.add(post(f"p{me}", "text", {"neither": 1.0}, "allow", "neither", [])),
        lambda: feedback.add("text", "neither", id=str(me)),
    ]
    for write in writes[:: 1 if me % 2 else -1]:
        write()
    queue.close()
    feedback.close()


def at_once(target: Callable[..., None], where: Any) -> None:
    """``target(where, barrier, i)`` in ``PROCESSES`` processes released together; each must succeed."""
    context = multiprocessing.get_context("fork")
    start = context.Barrier(PROCESSES)
    processes = [context.Process(target=target, args=(where, start, i)) for i in range(PROCESSES)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
    assert [process.exitcode for process in processes] == [0] * PROCESSES


def test_processes_opening_new_sqlite_files_at_once_all_succeed(tmp_path: Path) -> None:
    at_once(_open_every_sqlite_store, tmp_path)
    assert read_once(SQLiteStore(tmp_path / "alerts.sqlite3"), lambda store: store.pending()) == PROCESSES
    assert read_once(Spool(tmp_path / "stores-spool.sqlite3"), lambda spool: spool.count()) == PROCESSES
    assert read_once(SQLiteQueue(tmp_path / "review.sqlite3"), lambda queue: queue.page()["total"]) == PROCESSES
    feedback = SQLiteFeedbackStore(tmp_path / "feedback.sqlite3")
    assert read_once(feedback, lambda store: store.counts()["total"]) == PROCESSES
    path = tmp_path / "alerts.sqlite3"
    assert [version(lambda: sqlite3.connect(path), store) for store in ("alerts", "integration_keys")] == [1, 1]


def test_processes_opening_a_new_postgres_database_at_once_all_succeed(postgres_server_url: str) -> None:
    url = new_database(postgres_server_url, "at_once")
    at_once(_open_every_postgres_store, url)
    assert read_once(PostgresQueue(url), lambda queue: queue.page()["total"]) == PROCESSES
    assert read_once(PostgresFeedbackStore(url), lambda store: store.counts()["total"]) == PROCESSES
    connect = lambda: psycopg.connect(url)  # noqa: E731
    assert [version(connect, "review"), version(connect, "feedback")] == [2, 4]


# ------------------------------------------------------------------------------------------ the helper

PROBE_LOCK = 0x70726F62


def probe(connect_sqlite: Path | None, url: str | None, steps: list[list[str]]) -> None:
    """Open a store "probe" with ``steps`` on SQLite at ``connect_sqlite`` or PostgreSQL at ``url``."""
    if connect_sqlite is not None:
        open_sqlite(connect_sqlite, "", migrations=("probe", steps)).close()
    else:
        open_postgres(url or "", "", PROBE_LOCK, "-c lock_timeout=2000", migrations=("probe", steps)).close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_step_that_fails_changes_nothing(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    path = tmp_path / "probe.sqlite3" if backend == "sqlite" else None
    url = None if path else new_database(request.getfixturevalue("postgres_server_url"), "probe")
    connect: Callable[[], Any] = (lambda: sqlite3.connect(path)) if path else (lambda: psycopg.connect(url))
    first = ["CREATE TABLE probe (a INTEGER)", "INSERT INTO probe (a) VALUES (1)"]
    probe(path, url, [first])
    with pytest.raises((sqlite3.Error, psycopg.Error)):
        probe(path, url, [first, ["ALTER TABLE probe ADD COLUMN b INTEGER", "INSERT INTO nowhere VALUES (1)"]])
    assert version(connect, "probe") == 1
    with connect() as db:
        assert db.execute("SELECT * FROM probe").fetchall() == [(1,)]  # no column b: the step's first statement undone
    probe(path, url, [first, ["ALTER TABLE probe ADD COLUMN b INTEGER", "UPDATE probe SET b = 2"]])
    assert version(connect, "probe") == 2
    with connect() as db:
        assert db.execute("SELECT * FROM probe").fetchall() == [(1, 2)]


def test_tables_a_newer_release_migrated_are_left_alone(tmp_path: Path) -> None:
    """Code rolled back after a newer release ran: it uses the tables as they are, and the version stays."""
    path = tmp_path / "feedback.sqlite3"
    read_once(SQLiteFeedbackStore(path), lambda store: store.counts())
    with sqlite3.connect(path) as db:
        db.execute(f"UPDATE {SCHEMA_VERSIONS} SET version = 99 WHERE store = 'feedback'")
    db.close()
    assert read_once(SQLiteFeedbackStore(path), lambda store: store.add("a text", "neither", id="1")) > 0
    assert version(lambda: sqlite3.connect(path), "feedback") == 99


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_an_up_to_date_store_opens_while_another_holds_its_lock(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Every thread of every worker opens a connection: once the tables are up to date, that is one read,
    never a wait for the lock a writer (SQLite) or a migrating process (PostgreSQL) holds."""
    steps = [["CREATE TABLE probe (a INTEGER)"]]
    if backend == "sqlite":
        path = tmp_path / "probe.sqlite3"
        probe(path, None, steps)
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another process writing, for longer than the busy timeout
        try:
            probe(path, None, steps)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
    else:
        url = new_database(request.getfixturevalue("postgres_server_url"), "probe_lock")
        probe(None, url, steps)
        with psycopg.connect(url, autocommit=True) as holder:
            holder.execute("SELECT pg_advisory_lock(%s)", (PROBE_LOCK,))  # a process migrating, say
            probe(None, url, steps)  # lock_timeout 2 s: waiting for the lock would fail it
