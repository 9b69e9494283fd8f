"""The review queue on PostgreSQL (``DATABASE_URL``), shared by several containers.

The same table and queries as ``SQLiteQueue``; what differs: the sequence is PostgreSQL's, and a
post moderated again is one ``INSERT … ON CONFLICT (post_id) DO UPDATE`` that gives it a new
sequence number (so two workers queuing the same post at once cannot collide). psycopg (3) is
imported only when ``DATABASE_URL`` is set.
"""

from __future__ import annotations

import json
from typing import Any

from hatespeech.config import StoreSettings
from hatespeech.connections import PerThread, open_postgres, postgres_usable
from hatespeech.review.store import UNKNOWN_LANGUAGE, Post, Queue, SQLPages

SCHEMA_LOCK = 0x72657669  # advisory lock: two processes creating the table at once would collide
# Versioned (hatespeech/connections.py). Version 1 is the layout of the release before versions;
# step 1 adopts its tables as they are, and older ones too (a table made before the threat filter gets
# its column, filled from the posts' categories).
MIGRATIONS = (
    "review",
    [
        [
            "CREATE SEQUENCE IF NOT EXISTS review_posts_seq",
            """CREATE TABLE IF NOT EXISTS review_posts (
                seq BIGINT PRIMARY KEY DEFAULT nextval('review_posts_seq'), post_id TEXT NOT NULL UNIQUE,
                action TEXT NOT NULL, hate INTEGER NOT NULL, offensive INTEGER NOT NULL, thread TEXT,
                ts DOUBLE PRECISION NOT NULL, texted INTEGER NOT NULL, body TEXT NOT NULL, feedback TEXT)""",
            "CREATE INDEX IF NOT EXISTS review_posts_action ON review_posts (action, seq)",
            "CREATE INDEX IF NOT EXISTS review_posts_thread ON review_posts (thread, seq)",
            "CREATE INDEX IF NOT EXISTS review_posts_texted ON review_posts (texted, ts)",
            """DO $$ BEGIN
              IF NOT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()
                             AND table_name = 'review_posts' AND column_name = 'threat') THEN
                ALTER TABLE review_posts ADD COLUMN threat INTEGER NOT NULL DEFAULT 0;
                UPDATE review_posts SET threat = 1 WHERE (body::jsonb -> 'categories') @> '["threat"]'::jsonb;
              END IF;
            END $$""",
            "CREATE INDEX IF NOT EXISTS review_posts_threat ON review_posts (threat, seq)",
        ],
        [  # 2: the post's language, as the answer named it ("und" for the posts queued before)
            f"ALTER TABLE review_posts ADD COLUMN language TEXT NOT NULL DEFAULT '{UNKNOWN_LANGUAGE}'",
            "CREATE INDEX review_posts_language ON review_posts (language, seq)",
        ],
    ],
)


class PostgresQueue(SQLPages, Queue):
    table, placeholder, true = "review_posts", "%s", "TRUE"

    def __init__(self, url: str, stores: StoreSettings | None = None):
        self.url = url
        options = stores.postgres_options if stores is not None else None
        self._connections = PerThread(
            lambda: open_postgres(url, "", SCHEMA_LOCK, options, migrations=MIGRATIONS), postgres_usable
        )

    def _db(self) -> Any:
        return self._connections.get()

    def add(self, item: Post) -> int:
        body = {k: v for k, v in item.items() if k not in ("seq", "feedback")}
        row = (
            self._db()
            .execute(
                "INSERT INTO review_posts "
                "(post_id, action, hate, offensive, threat, thread, ts, texted, body, language) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (post_id) DO UPDATE SET "
                "seq = nextval('review_posts_seq'), action = EXCLUDED.action, hate = EXCLUDED.hate, "
                "offensive = EXCLUDED.offensive, threat = EXCLUDED.threat, thread = EXCLUDED.thread, ts = EXCLUDED.ts, "
                "texted = EXCLUDED.texted, body = EXCLUDED.body, language = EXCLUDED.language, feedback = NULL "
                "RETURNING seq",
                (
                    item["id"],
                    item["action"],
                    int("hate speech" in item["categories"]),
                    int("offensive language" in item["categories"]),
                    int("threat" in item["categories"]),
                    item["thread"],
                    item["time"],
                    int(item["text"] is not None),
                    json.dumps(body),
                    item.get("language") or UNKNOWN_LANGUAGE,
                ),
            )
            .fetchone()
        )
        return int(row[0])

    def set_feedback(self, id: str, label: str) -> bool:
        return self._db().execute("UPDATE review_posts SET feedback = %s WHERE post_id = %s", (label, id)).rowcount > 0

    def maintain(self, now: float, text_retention: float, max_posts: int) -> tuple[int, int]:
        db = self._db()
        with db.transaction():
            old = db.execute(
                "SELECT seq, body FROM review_posts WHERE texted = 1 AND ts < %s FOR UPDATE", (now - text_retention,)
            ).fetchall()
            for seq, body in old:
                values = json.loads(body)
                values["text"], values["spans"], values["threat"] = None, [], None
                db.execute("UPDATE review_posts SET body = %s, texted = 0 WHERE seq = %s", (json.dumps(values), seq))
            count = db.execute("SELECT COUNT(*) FROM review_posts").fetchone()[0]
            dropped = 0
            if count > max_posts:
                dropped = db.execute(
                    "DELETE FROM review_posts WHERE seq IN (SELECT seq FROM review_posts ORDER BY seq LIMIT %s)",
                    (count - max_posts,),
                ).rowcount
        return len(old), dropped

    def close(self) -> None:
        self._connections.close()
