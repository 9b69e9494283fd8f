"""Feedback test helpers: each feedback store backend, and emptying its PostgreSQL table.

The PostgreSQL server itself is testing/services.py's (tests/conftest.py: one per run, a database per module).
"""

from __future__ import annotations

from hatespeech.connections import SCHEMA_VERSIONS
from hatespeech.feedback import FeedbackStore, SQLiteFeedbackStore
from hatespeech.feedback.store import TABLE

FEEDBACK_BACKENDS = ("sqlite", "postgres")


def empty_postgres(url: str) -> None:
    forget_tables(url, "feedback", TABLE)  # the migrations run again on the empty table


def forget_tables(url: str, store: str, *tables: str) -> None:
    """Drop a store's ``tables`` and its version, so that it is made anew by its migrations."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for table in tables:
            conn.execute(f"DROP TABLE IF EXISTS {table}")
        if conn.execute("SELECT to_regclass(%s)", (SCHEMA_VERSIONS,)).fetchone()[0] is not None:
            conn.execute(f"DELETE FROM {SCHEMA_VERSIONS} WHERE store = %s", (store,))


def open_feedback_store(backend: str, where: str) -> FeedbackStore:
    """The feedback store of ``backend`` (one of ``FEEDBACK_BACKENDS``) at ``where``: a URL or a file."""
    if backend == "postgres":
        from hatespeech.feedback.postgres import PostgresFeedbackStore

        return PostgresFeedbackStore(where)
    return SQLiteFeedbackStore(where)
