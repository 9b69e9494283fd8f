"""A stalled or dead store never holds a request nor loses a flagged post (issue 22; issue 23 items 4–6).

Each test plays the fault against a real server process (``SIGSTOP``, then ``SIGCONT``) and the
production server (gunicorn). How long the answers took is measured in bench/stall.py, not here:
the tests assert what must hold whatever the machine's load (every call answered, decided, and
every flagged post in the queue once the store is back).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from testing.stalls import HATEFUL, OwnRedis, stopped
from testing.support import Server, gunicorn, post_json, request, wait_for

TOKEN = "stall-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
STALL_SECONDS = 12.0  # issue 22's "Done when"


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    try:
        redis = OwnRedis(tmp_path)
    except FileNotFoundError as err:
        pytest.skip(str(err))
    yield redis
    redis.close()


def queued(server: Server) -> list[str]:
    """Every post id in the review queue (all pages), as the review page reads it."""
    ids: list[str] = []
    before = ""
    while True:
        status, _, body = request(server.url + f"/review/queue?limit=100{before}", headers=AUTH, method="GET")
        if status != 200:
            return [*ids, f"<{status}>"]
        page = json.loads(body)
        ids += [p["id"] for p in page["posts"]]
        if page["next"] is None:
            return ids
        before = f"&before={page['next']}"


@pytest.mark.slow  # a 12 s stall, played in full
def test_with_redis_stopped_every_flagged_post_is_answered_and_reaches_the_queue(
    own_redis: OwnRedis, tmp_path: Path
) -> None:
    with gunicorn(tmp_path, FIREFLY_TOKEN=TOKEN, REDIS_URL=own_redis.url, STORE_RETRY="1") as server:
        server.wait_ready()
        assert post_json(server.url + "/moderate", {"text": HATEFUL, "id": "before"}, AUTH)[0] == 200
        wait_for(lambda: queued(server) == ["before"], lambda: queued(server))
        answers: dict[str, tuple[int, object]] = {}
        with stopped(own_redis.proc.pid):
            until = time.monotonic() + STALL_SECONDS  # the fault's length, not a bound on any answer
            while time.monotonic() < until:
                post_id = f"stalled-{len(answers)}"
                answers[post_id] = post_json(server.url + "/moderate", {"text": HATEFUL, "id": post_id}, AUTH)
            # the queue's store is away: the review page says so, in JSON
            status, _, body = request(server.url + "/review/queue", headers=AUTH, method="GET")
        assert len(answers) >= 5
        refused = {k: v for k, v in answers.items() if v[0] != 200 or v[1]["action"] not in ("review", "block")}  # type: ignore[index]
        assert not refused  # every call answered, and decided as without the stall
        assert status == 503 and "unavailable" in json.loads(body)["error"]
        expected = {"before", *answers}
        wait_for(lambda: set(queued(server)) == expected, lambda: sorted(set(queued(server)) ^ expected))
        assert len(queued(server)) == len(expected)  # each once


@pytest.mark.slow  # a 12 s stall, played in full
def test_with_postgresql_stopped_predict_never_waits_and_no_flagged_post_is_lost(tmp_path: Path) -> None:
    """Issue 23 item 6: the review queue and feedback on PostgreSQL, which is stopped for a while
    (a server of the test's own, as for Redis: the run's shared one is never stopped)."""
    from testing.services import postgres_server
    from testing.stalls import postmaster_pid

    with postgres_server() as url, gunicorn(tmp_path, FIREFLY_TOKEN=TOKEN, DATABASE_URL=url, STORE_RETRY="1") as server:
        server.wait_ready()
        assert post_json(server.url + "/moderate", {"text": HATEFUL, "id": "pg-before"}, AUTH)[0] == 200
        wait_for(lambda: queued(server) == ["pg-before"], lambda: queued(server))
        answers: dict[str, tuple[int, object]] = {}
        with stopped(postmaster_pid(url)):
            until = time.monotonic() + STALL_SECONDS
            while time.monotonic() < until:
                post_id = f"pg-stalled-{len(answers)}"
                answers[post_id] = post_json(server.url + "/moderate", {"text": HATEFUL, "id": post_id}, AUTH)
                predicted = post_json(server.url + "/predict", {"text": HATEFUL}, AUTH)
                assert predicted[0] == 200, predicted
            status, _, body = request(server.url + "/review/queue", headers=AUTH, method="GET")
            feedback = request(server.url + "/feedback", headers=AUTH, method="GET")[0]
        assert len(answers) >= 5
        assert all(v[0] == 200 and v[1]["action"] in ("review", "block") for v in answers.values())  # type: ignore[index]
        assert status == 503 and "unavailable" in json.loads(body)["error"]  # JSON, not a 500
        assert feedback == 503
        expected = {"pg-before", *answers}
        wait_for(lambda: set(queued(server)) == expected, lambda: sorted(set(queued(server)) ^ expected))
        assert len(queued(server)) == len(expected)


def test_postgresql_connections_have_a_statement_and_a_lock_timeout(postgres_url: str) -> None:
    from hatespeech.config import StoreSettings
    from hatespeech.feedback.postgres import PostgresFeedbackStore
    from hatespeech.review.postgres import PostgresQueue

    settings = StoreSettings.from_env({"PG_STATEMENT_TIMEOUT_MS": "1500", "PG_LOCK_TIMEOUT_MS": "300"})
    for store in (PostgresQueue(postgres_url, settings), PostgresFeedbackStore(postgres_url, stores=settings)):
        try:
            db = store._db()  # type: ignore[attr-defined]
            assert db.execute("SHOW statement_timeout").fetchone()[0] == "1500ms"
            assert db.execute("SHOW lock_timeout").fetchone()[0] == "300ms"
        finally:
            store.close()
