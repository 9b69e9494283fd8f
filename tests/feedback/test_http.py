"""The feedback endpoints over HTTP, on the production server: SQLite and a real PostgreSQL."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from postgresql import empty_postgres

from testing.support import Server, gunicorn, post_json, request

TOKEN = "s3cret-feedback-token"  # 16+ characters: a shorter one refuses to start (issue 13)
AUTH = {"Authorization": f"Token {TOKEN}"}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # FEEDBACK_BURST: 200 writes at once from one token, here to show nothing is lost (test_trust.py: the share)
    env = {"FIREFLY_TOKEN": TOKEN, "MAX_TEXT_CHARS": "200", "FEEDBACK_BURST": "1000", "STORE_RETRY": "1"}
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        empty_postgres(url)
        env["DATABASE_URL"] = url
    with gunicorn(tmp_path_factory.mktemp(f"feedback-{request.param}"), **env) as started:
        yield started.wait_ready()


def counts(server: Server) -> dict:
    status, headers, text = request(server.url + "/feedback", method="GET", headers=AUTH)
    assert status == 200 and headers["Content-Type"] == "application/json"
    return json.loads(text)


def send(server: Server, payload: object) -> tuple[int, object]:
    return post_json(server.url + "/feedback", payload, AUTH)


def test_round_trip_replacement_and_erasure(server: Server) -> None:
    before = counts(server)["total"]
    status, body = send(server, {"text": "you zorgs are vermin", "label": "hate speech", "source": "rt", "id": "p1"})
    assert status == 201 and isinstance(body, dict) and isinstance(body["id"], int)
    again = send(
        server, {"text": "you zorgs are vermin", "label": "neither", "source": "rt", "id": "p1", "moderator": "ann"}
    )
    assert again == (201, body)  # same (source, id): the same row, relabelled
    assert send(server, {"text": "a lovely day", "label": "neither"})[0] == 201  # source "api", no id

    seen = counts(server)
    assert seen["total"] == before + 2
    assert seen["by_source"]["rt"] == 1 and seen["by_source"]["api"] >= 1
    assert seen["newer_than_model"] >= 2  # the committed model is older than these rows
    assert set(seen["model"]) == {"created_at", "sha256"}
    assert "zorgs" not in json.dumps(seen)  # counts only, never texts

    assert post_json(server.url + "/feedback/erase", {"source": "rt", "id": "p1"}, AUTH) == (200, {"erased": True})
    assert post_json(server.url + "/feedback/erase", {"source": "rt", "id": "p1"}, AUTH) == (200, {"erased": False})
    assert counts(server)["total"] == before + 1
    assert "rt" not in counts(server)["by_source"]


BAD = [
    ({"text": "", "label": "neither"}, "text must contain something other than white space"),
    ({"text": "x" * 201, "label": "neither"}, "text is 201 characters long; the maximum is 200"),
    ({"text": 7, "label": "neither"}, "text must be a string, not a number"),
    ({"label": "neither"}, "text is required"),
    ({"text": "fine"}, "label is required"),
    ({"text": "fine", "label": "spam"}, "label must be one of 'hate speech', 'offensive language', 'neither'"),
    ({"text": "fine", "label": ["neither"]}, "label must be one of"),
    ({"text": "fine", "label": "neither", "id": {"a": 1}}, "id must be a string or a whole number, not an object"),
    ({"text": "fine", "label": "neither", "source": " "}, "source must not be empty"),
    ({"text": "fine", "label": "neither", "moderator": "m" * 201}, "moderator is 201 characters long"),
]


@pytest.mark.parametrize(("payload", "message"), BAD, ids=[m[:30] for _, m in BAD])
def test_bad_input_is_400_and_stores_nothing(server: Server, payload: dict, message: str) -> None:
    before = counts(server)
    status, body = send(server, payload)
    assert status == 400 and isinstance(body, dict) and message in body["error"], body
    assert counts(server) == before


def test_bad_erasure_and_bad_bodies(server: Server) -> None:
    before = counts(server)
    erase = server.url + "/feedback/erase"
    assert post_json(erase, {"source": "rt"}, AUTH) == (400, {"error": "id is required: the id the post was sent with"})
    assert request(server.url + "/feedback", b"[1, 2]", AUTH)[0] == 400
    assert request(server.url + "/feedback", b'{"text": "a", "label": "neither"', AUTH)[0] == 400
    assert counts(server) == before


def test_methods_and_the_token(server: Server) -> None:
    assert request(server.url + "/feedback", method="GET")[0] == 403
    assert request(server.url + "/feedback", b'{"text": "a", "label": "neither"}')[0] == 403
    status, headers, _ = request(server.url + "/feedback", b"{}", AUTH, method="PUT")
    assert status == 405 and headers["Allow"] == "GET, HEAD, POST"
    status, headers, _ = request(server.url + "/feedback/erase", method="GET", headers=AUTH)
    assert status == 405 and headers["Allow"] == "POST"


def test_concurrent_requests_lose_nothing(server: Server) -> None:
    """Two workers × four threads, eight clients at once: every row is there, once."""
    before = counts(server)["total"]
    statuses: list[int] = []

    def client(n: int) -> None:
        for i in range(25):
            payload = {"text": f"client {n} post {i}", "label": "neither", "source": f"c{n}", "id": i}
            status = send(server, payload)[0]
            # A 503 (with Retry-After) is the store's answer when it cannot keep up on a loaded machine: a
            # client sends again, as told; what must hold is that nothing is lost and nothing is doubled.
            for _ in range(30):
                if status != 503:
                    break
                time.sleep(1)
                status = send(server, payload)[0]
            statuses.append(status)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert statuses == [201] * 200
    seen = counts(server)
    assert seen["total"] == before + 200
    assert all(seen["by_source"][f"c{n}"] == 25 for n in range(8))


def test_an_unreachable_database_is_503_and_the_rest_serves(tmp_path: Path) -> None:
    from testing.support import free_port

    url = f"postgresql://nobody@127.0.0.1:{free_port()}/none"  # nothing listens there
    with gunicorn(tmp_path, DATABASE_URL=url, WEB_CONCURRENCY="1") as started:
        started.wait_ready()
        status, body = post_json(started.url + "/feedback", {"text": "fine", "label": "neither"})
        assert status == 503 and body == {"error": "the feedback store is unavailable; try again later"}
        assert request(started.url + "/feedback", method="GET")[0] == 503
        assert post_json(started.url + "/predict", {"text": "have a nice day"})[0] == 200
        assert "nobody@" not in json.dumps(body)


def test_the_readme_curls(server: Server) -> None:
    """docs/feedback.md's commands, as written (the token and port substituted): send, count, erase."""
    import re
    import shlex
    import subprocess

    import userdocs

    commands = re.findall(r"^curl [^\n]*127\.0\.0\.1:5000/feedback[^\n]*$", userdocs.text(), re.MULTILINE)
    assert len(commands) == 3, commands  # send, count, erase: in that order
    answers = []
    for command in commands:
        command = command.replace("$FIREFLY_TOKEN", TOKEN).replace("127.0.0.1:5000", f"127.0.0.1:{server.port}")
        argv = ["curl", "-sS", "-w", "\n%{http_code}", *shlex.split(command)[1:]]
        out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=30).stdout
        body, status = out.rsplit("\n", 1)
        answers.append((int(status), json.loads(body)))
    assert answers[0][0] == 201 and isinstance(answers[0][1]["id"], int)
    assert answers[1][0] == 200 and answers[1][1]["by_source"].get("discourse", 0) >= 1
    assert answers[2] == (200, {"erased": True})


def test_an_unknown_field_is_422_as_on_every_endpoint(server: Server) -> None:
    """/predict answers 422 for an unknown field; /feedback answered 400. Now 422 everywhere, naming the field."""
    before = counts(server)
    status, body = send(server, {"text": "fine", "label": "neither", "colour": "red"})
    assert status == 422 and "unknown field(s) 'colour'" in body["error"], body  # type: ignore[index]
    status, body = post_json(server.url + "/feedback/erase", {"id": "p1", "text": "x"}, AUTH)
    assert status == 422 and "unknown field(s) 'text'" in body["error"]  # type: ignore[index]
    assert post_json(server.url + "/predict", {"text": "fine", "colour": "red"}, AUTH)[0] == 422
    assert counts(server) == before


def test_the_language_is_taken_or_refused_by_name(server: Server) -> None:
    base = {"text": "Ihr seid alle Abschaum", "label": "hate speech", "source": "lang"}
    assert send(server, {**base, "id": "l1", "language": "de"})[0] == 201
    assert send(server, {**base, "id": "l2", "language": None})[0] == 201  # identified by the server
    status, body = send(server, {**base, "id": "l3", "language": "German"})
    assert status == 400 and "language must be" in body["error"]
