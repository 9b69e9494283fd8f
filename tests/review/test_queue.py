"""The review queue on its three backends (a file, a real redis-server, a throw-away PostgreSQL), and what fills it."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from postgresql import forget_tables

from hatespeech.config import ReviewSettings, StoreSettings
from hatespeech.core.context import Context
from hatespeech.resilience import Spool
from hatespeech.review import Reviewer, spans
from hatespeech.review.postgres import PostgresQueue
from hatespeech.review.store import Queue, RedisQueue, SQLiteQueue, open_queue, post
from testing.alerting import flush
from testing.support import ROOT, wait_for

HATE, OFFENSIVE = "hate speech", "offensive language"


@pytest.fixture(params=["sqlite", "redis", "postgres"])
def queue(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Queue]:
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        flush(url)
        opened: Queue = RedisQueue(url)
    elif request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        forget_tables(url, "review", "review_posts")
        opened = PostgresQueue(url)
    else:
        opened = SQLiteQueue(tmp_path / "review.sqlite3")
    yield opened
    opened.close()


def add(queue: Queue, i: int, action: str = "review", classes: tuple[str, ...] = (HATE,), thread: str = "t1") -> int:
    return queue.add(
        post(f"p{i}", f"text {i}", {HATE: 0.5, OFFENSIVE: 0.4, "neither": 0.1}, action, HATE, classes, thread,
             "author", "https://forum.example/p", ts=float(i), spans=[[0, 4, HATE, 0.25]], model="abc")
    )  # fmt: skip


def ids(page: dict) -> list[str]:
    return [p["id"] for p in page["posts"]]


def test_newest_first_in_pages(queue: Queue) -> None:
    for i in range(7):
        add(queue, i)
    first = queue.page(limit=3)
    assert ids(first) == ["p6", "p5", "p4"] and first["total"] == 7
    second = queue.page(limit=3, before=first["next"])
    assert ids(second) == ["p3", "p2", "p1"]
    last = queue.page(limit=3, before=second["next"])
    assert ids(last) == ["p0"] and last["next"] is None
    got = first["posts"][0]
    assert got["text"] == "text 6" and got["spans"] == [[0, 4, HATE, 0.25]] and got["feedback"] is None
    assert got["thread"] == "t1" and got["url"] == "https://forum.example/p" and got["time"] == 6.0


def test_filters_combine(queue: Queue) -> None:
    add(queue, 1, "review", (HATE,), "t1")
    add(queue, 2, "block", (HATE, OFFENSIVE), "t1")
    add(queue, 3, "block", (OFFENSIVE,), "t2")
    add(queue, 4, "review", (OFFENSIVE,), "t2")
    assert ids(queue.page(action="block")) == ["p3", "p2"]
    assert ids(queue.page(category=HATE)) == ["p2", "p1"]
    assert ids(queue.page(thread="t2")) == ["p4", "p3"]
    both = queue.page(action="block", category=OFFENSIVE, thread="t1")
    assert ids(both) == ["p2"] and both["total"] == 1
    assert queue.page(action="review", category=HATE, thread="t2") == {"posts": [], "next": None, "total": 0}
    paged = queue.page(action="block", category=OFFENSIVE, limit=1)
    assert ids(paged) == ["p3"] and ids(queue.page(action="block", category=OFFENSIVE, before=paged["next"])) == ["p2"]


def test_the_threat_filter_and_the_threat_span(queue: Queue) -> None:
    """``threat=True``: the posts whose categories hold the threat check's ``threat`` (its span kept until
    the text is erased), combined with the other filters."""
    add(queue, 1, "review", (HATE,), "t1")
    queue.add(post("p2", "i will hurt you", {HATE: 0.1}, "review", "neither", ["threat"], "t1", ts=2.0, threat=[0, 15]))
    queue.add(post("p3", "kill them all, zorgs", {HATE: 0.9}, "block", HATE, [HATE, "threat"], "t2", ts=3.0,
                   threat=(0, 9)))  # fmt: skip
    add(queue, 4, "block", (HATE,), "t2")
    threats = queue.page(threat=True)
    assert ids(threats) == ["p3", "p2"] and threats["total"] == 2
    assert [p["threat"] for p in threats["posts"]] == [[0, 9], [0, 15]]
    assert ids(queue.page(threat=True, category=HATE)) == ["p3"]
    assert ids(queue.page(threat=True, action="review", thread="t1")) == ["p2"]
    assert ids(queue.page(threat=True, limit=1, before=threats["posts"][0]["seq"])) == ["p2"]
    assert queue.page(threat=True, thread="nope")["total"] == 0
    assert queue.page()["total"] == 4 and queue.page(threat=None)["total"] == 4
    assert queue.page()["posts"][0]["threat"] is None  # none found
    queue.maintain(now=12.5, text_retention=10, max_posts=10)  # erases the texts of times < 2.5
    erased = {p["id"]: p for p in queue.page()["posts"]}
    assert erased["p2"]["text"] is None and erased["p2"]["threat"] is None and erased["p3"]["threat"] == [0, 9]


OLD_POSTS = (  # the table as it was before the threat filter, with a threat post and another
    "CREATE TABLE {table} (seq {seq} PRIMARY KEY, post_id TEXT NOT NULL UNIQUE, action TEXT NOT NULL, "
    "hate INTEGER NOT NULL, offensive INTEGER NOT NULL, thread TEXT, ts {real} NOT NULL, texted INTEGER NOT NULL, "
    "body TEXT NOT NULL, feedback TEXT)"
)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_queue_made_before_the_threat_filter_gets_it(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    rows = [
        (1, "old-threat", "review", 0, 0, "t", 1.0, 1, json.dumps({"id": "old-threat", "categories": ["threat"]})),
        (2, "old-plain", "block", 1, 0, "t", 2.0, 1, json.dumps({"id": "old-plain", "categories": [HATE]})),
    ]
    if kind == "sqlite":
        with sqlite3.connect(tmp_path / "old.sqlite3") as db:
            db.execute(OLD_POSTS.format(table="posts", seq="INTEGER", real="REAL"))
            db.executemany("INSERT INTO posts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)", rows)
        queue: Queue = SQLiteQueue(tmp_path / "old.sqlite3")
    else:
        url = request.getfixturevalue("postgres_url")
        forget_tables(url, "review", "review_posts")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(OLD_POSTS.format(table="review_posts", seq="BIGINT", real="DOUBLE PRECISION"))
            with conn.cursor() as cursor:
                cursor.executemany("INSERT INTO review_posts VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, NULL)", rows)
        queue = PostgresQueue(url)
    try:
        assert [p["id"] for p in queue.page(threat=True)["posts"]] == ["old-threat"]
        assert queue.page()["total"] == 2
    finally:
        queue.close()


def test_the_language_filter(queue: Queue) -> None:
    for i, language in enumerate(["de", None, "de", "pt"]):
        supported = None if language is None else language == "de"
        queue.add(post(f"p{i}", f"text {i}", {HATE: 0.5}, "review", HATE, [HATE], "t1", ts=float(i),
                       language=language, language_supported=supported))  # fmt: skip
    german = queue.page(language="de")
    assert ids(german) == ["p2", "p0"] and german["total"] == 2
    assert [(p["language"], p["language_supported"]) for p in german["posts"]] == [("de", True)] * 2
    assert ids(queue.page(language="und")) == ["p1"]  # the answer named none: unknown
    assert queue.page(language="und")["posts"][0]["language_supported"] is None
    assert ids(queue.page(language="pt", action="review", category=HATE, thread="t1")) == ["p3"]
    assert queue.page(language="ko")["total"] == 0
    queue.add(post("p0", "again", {HATE: 0.5}, "block", HATE, [HATE], "t1", ts=9.0, language="pt"))  # moderated again
    assert ids(queue.page(language="de")) == ["p2"] and ids(queue.page(language="pt")) == ["p0", "p3"]


def test_the_same_post_again_replaces_it_at_the_top(queue: Queue) -> None:
    add(queue, 1, "review", (HATE,), "t1")
    add(queue, 2)
    assert queue.set_feedback("p1", "neither")
    add(queue, 1, "block", (OFFENSIVE,), "t9")  # edited and moderated again
    page = queue.page()
    assert ids(page) == ["p1", "p2"] and page["total"] == 2
    assert page["posts"][0]["action"] == "block" and page["posts"][0]["feedback"] is None
    assert ids(queue.page(thread="t1")) == ["p2"]  # no longer indexed under its old thread or class
    assert ids(queue.page(category=HATE)) == ["p2"]


def test_feedback_is_shown_and_unknown_posts_are_refused(queue: Queue) -> None:
    add(queue, 1)
    assert queue.set_feedback("p1", OFFENSIVE)
    assert not queue.set_feedback("nope", OFFENSIVE)
    assert queue.page()["posts"][0]["feedback"] == OFFENSIVE


def test_retention_erases_texts_and_spans_and_bounds_the_queue(queue: Queue) -> None:
    for i in range(1, 6):
        add(queue, i)  # times 1 … 5
    erased, dropped = queue.maintain(now=13.5, text_retention=10, max_posts=4)  # erase times < 3.5
    assert (erased, dropped) == (3, 1)
    page = queue.page()
    assert ids(page) == ["p5", "p4", "p3", "p2"]
    assert [p["text"] for p in page["posts"]] == ["text 5", "text 4", None, None]
    assert page["posts"][-1]["spans"] == [] and page["posts"][-1]["scores"][HATE] == 0.5
    assert queue.maintain(now=13.5, text_retention=10, max_posts=4) == (0, 0)


_WRITER = """
import sys
from hatespeech.review.postgres import PostgresQueue
from hatespeech.review.store import SQLiteQueue, post
queue = SQLiteQueue(sys.argv[1])
for i in range(int(sys.argv[2]), int(sys.argv[2]) + 50):
    queue.add(post(f"p{i}", "text", {"hate speech": 0.5}, "review", "hate speech", ["hate speech"], ts=i))
"""


def test_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "review.sqlite3")
    writers = [subprocess.Popen([sys.executable, "-c", _WRITER, path, str(k * 100)], cwd=ROOT) for k in range(3)]
    assert [w.wait(timeout=60) for w in writers] == [0, 0, 0]
    page = SQLiteQueue(path).page(limit=100)
    assert page["total"] == 150 and len({p["seq"] for p in page["posts"]}) == 100


def test_open_queue_follows_the_settings(tmp_path: Path, redis_url: str) -> None:
    assert isinstance(open_queue(tmp_path / "q.sqlite3"), SQLiteQueue)
    assert isinstance(open_queue(tmp_path / "q.sqlite3", redis_url), RedisQueue)
    assert isinstance(open_queue(tmp_path / "q.sqlite3", redis_url, "postgresql://u@127.0.0.1/x"), PostgresQueue)


ANSWER = {
    "scores": {HATE: 0.6, OFFENSIVE: 0.35, "neither": 0.05},
    "label": HATE,
    "flagged": True,
    "action": "review",
    "categories": {HATE: True, OFFENSIVE: False},
    "model": {"version": "1", "sha256": "ab" * 32},
}
EXPLANATION = {
    "spans": [
        {"start": 0, "end": 5, "text": "zorgs", "class": HATE, "contribution": 0.8},
        {"start": 0, "end": 5, "text": "zorgs", "class": "neither", "contribution": 0.3},
        {"start": 6, "end": 9, "text": "are", "class": OFFENSIVE, "contribution": -0.1},
    ]
}


def test_the_reviewer_queues_only_flagged_posts_with_an_id(tmp_path: Path) -> None:
    reviewer = Reviewer(ReviewSettings(db_path=tmp_path / "q.sqlite3"))
    calls = []

    def explain() -> dict:
        calls.append(1)
        return EXPLANATION

    assert not reviewer.record(ANSWER, Context.check(), "zorgs are bad", explain)  # no id
    assert not reviewer.record({**ANSWER, "action": "allow"}, Context.check(id="a"), "zorgs", explain)
    assert calls == []  # nothing explained for a post it does not keep
    assert reviewer.record(ANSWER, Context.check(id=7, thread="t", author="bob"), "zorgs are bad", explain)
    [queued] = reviewer.queue.page()["posts"]
    assert queued["id"] == "7" and queued["categories"] == [HATE] and queued["model"] == "abab" * 3
    assert queued["spans"] == [[0, 5, HATE, 0.8]] == spans(EXPLANATION)
    reviewer.labelled(7, "neither")
    assert reviewer.queue.page()["posts"][0]["feedback"] == "neither"
    assert queued["threat"] is None
    threat = {"start": 0, "end": 14, "text": "kill the zorgs"}
    categories = {**ANSWER["categories"], "threat": True}
    answer = {**ANSWER, "categories": categories, "threat": threat}
    assert reviewer.record(answer, Context.check(id=8), "kill the zorgs")
    queued = reviewer.queue.page(threat=True)["posts"]
    assert [(p["id"], p["categories"], p["threat"]) for p in queued] == [("8", [HATE, "threat"], [0, 14])]
    assert [p["language"] for p in reviewer.queue.page()["posts"]] == ["und", "und"]  # no language named
    assert reviewer.record({**ANSWER, "language": "de", "language_supported": True}, Context.check(id=9), "Zorgs")
    assert reviewer.record({**ANSWER, "language": "<b>", "language_supported": "yes"}, Context.check(id=10), "z")
    [german] = reviewer.queue.page(language="de")["posts"]
    assert (german["id"], german["language"], german["language_supported"]) == ("9", "de", True)
    odd = reviewer.queue.page()["posts"][0]  # a value that is no language code is not stored as one
    assert (odd["id"], odd["language"], odd["language_supported"]) == ("10", "und", None)
    off = Reviewer(ReviewSettings(enabled=False, db_path=tmp_path / "off.sqlite3"))
    assert not off.record(ANSWER, Context.check(id="x"), "zorgs", explain)
    assert not (tmp_path / "off.sqlite3").exists()


def test_the_reviewer_erases_old_texts_at_most_once_a_minute(tmp_path: Path) -> None:
    reviewer = Reviewer(ReviewSettings(db_path=tmp_path / "q.sqlite3", text_retention_seconds=3600))
    reviewer.queue.add(post("old", "an old text", {HATE: 0.9}, "block", HATE, [HATE], ts=1000.0))
    reviewer.maintain(now=1000.0 + 3599)
    assert reviewer.queue.page()["posts"][0]["text"] == "an old text"
    reviewer.maintain(now=1000.0 + 3601)  # within a minute of the last pass: not yet
    assert reviewer.queue.page()["posts"][0]["text"] == "an old text"
    reviewer.maintain(now=1000.0 + 3660)
    assert reviewer.queue.page()["posts"][0]["text"] is None


def test_a_broken_store_never_fails_the_request_and_its_post_arrives_once_it_is_back(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    stores = StoreSettings(spool_path=tmp_path / "spool.sqlite3", retry_seconds=0.1)
    reviewer = Reviewer(ReviewSettings(db_path=tmp_path / "dir", stores=stores))  # a folder: SQLite cannot open it
    try:
        assert reviewer.record(ANSWER, Context.check(id="x"), "zorgs", lambda: EXPLANATION) is True  # spooled
        assert Spool(stores.spool_path).count("review") == 1
        (tmp_path / "dir").rmdir()  # the store is back: the spooled post is replayed into it
        wait_for(
            lambda: SQLiteQueue(tmp_path / "dir").page()["total"] == 1, lambda: SQLiteQueue(tmp_path / "dir").page()
        )
        wait_for(lambda: Spool(stores.spool_path).count("review") == 0, lambda: "the spool kept the post")
        assert [p["id"] for p in SQLiteQueue(tmp_path / "dir").page()["posts"]] == ["x"]
    finally:
        reviewer.close()
