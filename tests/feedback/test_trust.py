"""Feedback as trusted as its source: who wrote each row, the newest decision, each origin's share,
and the table of an older version migrated in place; on SQLite and a real PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from postgresql import open_feedback_store

from hatespeech.feedback import FeedbackStore, Quota, SQLiteFeedbackStore, TooManyWrites
from hatespeech.feedback.store import TABLE, V1


def test_a_boards_decision_and_a_tokens_label_are_kept_side_by_side(feedback_store: FeedbackStore) -> None:
    board = feedback_store.add("you zorgs", "hate speech", source="discourse", id="7", origin="discourse-webhook")
    token = feedback_store.add("you zorgs", "neither", source="discourse", id="7", origin="token")
    assert board and token and board != token
    assert feedback_store.counts()["by_origin"] == {"discourse-webhook": 1, "token": 1}
    # the newest decides what training learns: here the token's label, sent last
    assert [(r.label, r.origin) for r in feedback_store.decisions()] == [("neither", "token")]
    feedback_store.add("you zorgs", "hate speech", source="discourse", id="7", origin="discourse-webhook")
    assert [(r.label, r.origin) for r in feedback_store.decisions()] == [("hate speech", "discourse-webhook")]
    assert feedback_store.erase("discourse", "7") is True  # a deleted post: every origin's row goes
    assert feedback_store.counts()["total"] == 0


def test_an_older_decision_replayed_changes_nothing(feedback_store: FeedbackStore) -> None:
    add = feedback_store.add
    row = add("a post", "neither", source="discourse", id="9", origin="discourse-webhook", revision=3)
    assert add("a post", "hate speech", source="discourse", id="9", origin="discourse-webhook", revision=2) == 0
    assert add("a post", "neither", source="discourse", id="9", origin="discourse-webhook", revision=3) == row
    at = 1_800_000_000.0
    add("b post", "neither", source="discourse", id="10", origin="discourse-webhook", event_at=at)
    assert add("b post", "hate speech", source="discourse", id="10", origin="discourse-webhook", event_at=at - 60) == 0
    decided = {r.id: r.label for r in feedback_store.decisions()}
    assert decided == {"9": "neither", "10": "neither"}


def test_each_origin_has_its_own_rate_and_daily_cap(store_url: str, feedback_backend: str) -> None:
    now = [0.0]
    store = open_feedback_store(feedback_backend, store_url)
    store.quota, store.daily_cap = Quota(rate=1.0, burst=3, clock=lambda: now[0]), 5
    try:
        for i in range(3):
            store.add(f"text {i}", "neither", id=str(i), origin="token")
        with pytest.raises(TooManyWrites) as refused:
            store.add("text 3", "neither", id="3", origin="token")
        assert refused.value.retry_after == pytest.approx(1.0)
        store.add("text 3", "neither", id="3", origin="moderation-key")  # another origin, another share
        now[0] = 10.0  # the bucket refills; the day's cap does not
        store.add("text 4", "neither", id="4", origin="token")
        store.add("text 5", "neither", id="5", origin="token")
        with pytest.raises(TooManyWrites, match="FEEDBACK_DAILY_CAP"):
            store.add("text 6", "neither", id="6", origin="token")
        now[0] = 20.0
        with pytest.raises(TooManyWrites, match="FEEDBACK_DAILY_CAP"):  # a board's decision too
            store.keep("text 6", "neither", id="6", origin="token")
        assert store.counts()["by_origin"] == {"moderation-key": 1, "token": 5}
    finally:
        store.close()


def test_a_table_of_the_first_version_is_migrated_with_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "feedback.sqlite3"
    with sqlite3.connect(path) as old:  # as the previous release left it
        old.executescript(V1)
        old.execute(
            f"INSERT INTO {TABLE} (text, label, source, ext_id, moderator, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            ("an old label", "hate speech", "discourse", "5", "mia", 1_700_000_000.0),
        )
    old.close()
    store = SQLiteFeedbackStore(path)
    try:
        (row,) = store.rows()
        assert (row.text, row.label, row.source, row.id, row.origin, row.event_at) == (
            "an old label",
            "hate speech",
            "discourse",
            "5",
            "unrecorded",
            1_700_000_000.0,
        )
        replaced_by_a_newer_label_from_any_origin(store)
    finally:
        store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version FROM hatespeech_schema WHERE store = 'feedback'").fetchone() == (4,)
    SQLiteFeedbackStore(path).close()  # opened again: nothing to migrate, nothing lost
    assert len(list(SQLiteFeedbackStore(path).rows())) == 2


def replaced_by_a_newer_label_from_any_origin(store: FeedbackStore) -> None:
    """A row of version 1 (its post "5", decided at 1_700_000_000) was written under its post's key
    alone: a label older than it is kept beside it; the first newer one, from any origin, replaces it."""
    store.add("an old label", "neither", source="discourse", id="5", origin="discourse-webhook", event_at=1.6e9)
    assert store.counts()["by_origin"] == {"discourse-webhook": 1, "unrecorded": 1}
    assert [r.label for r in store.decisions()] == ["hate speech"]
    store.add("an old label", "neither", source="discourse", id="5", origin="token")
    assert store.counts()["by_origin"] == {"discourse-webhook": 1, "token": 1}
    assert [(r.label, r.origin) for r in store.decisions()] == [("neither", "token")]


def test_a_postgres_table_of_the_first_version_is_migrated_in_place(postgres_url: str) -> None:
    import psycopg
    from postgresql import empty_postgres

    from hatespeech.feedback.postgres import MIGRATIONS, PostgresFeedbackStore

    empty_postgres(postgres_url)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        for statement in MIGRATIONS[1][0]:
            conn.execute(statement)
        conn.execute(
            f"INSERT INTO {TABLE} (text, label, source, ext_id, moderator, created_at) VALUES (%s, %s, %s, %s, %s, %s)",
            ("an old label", "hate speech", "discourse", "5", "mia", 1_700_000_000.0),
        )
    store = PostgresFeedbackStore(postgres_url)
    try:
        assert [(r.id, r.origin, r.event_at) for r in store.rows()] == [("5", "unrecorded", 1_700_000_000.0)]
        replaced_by_a_newer_label_from_any_origin(store)
    finally:
        store.close()


def test_over_http_an_origin_past_its_share_gets_429_and_the_others_go_on(tmp_path: Path) -> None:
    """The production server with one worker, a burst of 3 and almost no refill: the token's fourth write
    is a JSON 429 with Retry-After; Coral's key (its own origin) still writes, and GET /feedback says who wrote what."""
    from testing.support import gunicorn, post_json, request

    token, key = "s3cret-feedback-token", "coral-moderation-key-0123"
    env = {"FIREFLY_TOKEN": token, "MODERATION_API_KEY": key, "WEB_CONCURRENCY": "1"}
    with gunicorn(tmp_path, **env, FEEDBACK_BURST="3", FEEDBACK_RATE="0.001") as server:
        server.wait_ready()
        auth = {"Authorization": f"Token {token}"}
        sent = [
            post_json(server.url + "/feedback", {"text": f"post {i}", "label": "neither", "id": i}, auth)[0]
            for i in range(4)
        ]
        assert sent == [201, 201, 201, 429]
        status, headers, body = request(
            server.url + "/feedback",
            '{"text": "post 9", "label": "neither"}',
            {**auth, "Content-Type": "application/json"},
        )
        assert status == 429 and int(headers["Retry-After"]) >= 1 and "token" in body
        suggested = {
            "comment": {"text": "a rejected comment"},
            "attributeScores": {"TOXICITY": {"summaryScore": {"value": 1}}},
            "communityId": "Coral:https://news.example",
            "clientToken": "comment:c-1",
        }
        assert (
            request(
                server.url + f"/v1alpha1/comments:suggestscore?key={key}",
                json.dumps(suggested),
                {"Content-Type": "application/json"},
            )[0]
            == 200
        )
        status, _, counts = request(server.url + "/feedback", headers=auth, method="GET")
        assert status == 200 and json.loads(counts)["by_origin"] == {"moderation-key": 1, "token": 3}
