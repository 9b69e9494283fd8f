"""The review page's routes over HTTP: what is public, what needs the token, what is refused."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import userdocs

from hatespeech.review.web import CSP, FILES
from testing.alerting import flush
from testing.support import Server, gunicorn, post_json, request, wait_for

TOKEN = "review-test-token"  # the review_server fixture's FIREFLY_TOKEN
AUTH = {"Authorization": f"Token {TOKEN}"}


def get(server: Server, path: str, headers: dict | None = None) -> tuple[int, dict, str]:
    return request(server.url + path, headers=headers or {}, method="GET")


@pytest.mark.parametrize("path", list(FILES))
def test_the_shell_and_its_files_are_public_with_a_strict_policy(review_server: Server, path: str) -> None:
    status, headers, body = get(review_server, path)
    assert status == 200 and body
    assert headers["Content-Security-Policy"] == CSP
    assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP and "default-src 'none'" in CSP
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["Referrer-Policy"] == "no-referrer"
    again, _, _ = request(review_server.url + path, headers={"If-None-Match": headers["ETag"]}, method="GET")
    assert again == 304


def test_the_shell_has_no_inline_script_nor_outside_address(review_server: Server) -> None:
    _, _, html = get(review_server, "/review")
    assert "<script>" not in html and "onclick" not in html and "style=" not in html
    for path in FILES:
        _, _, text = get(review_server, path)
        assert "http://" not in text.replace("http://www.w3.org/2000/svg", "") and "https://" not in text


@pytest.mark.parametrize("path", ["/review/queue", "/review/model", "/review/queue?action=block"])
def test_data_needs_the_token(review_server: Server, path: str) -> None:
    assert get(review_server, path)[0] == 403
    assert get(review_server, path, {"Authorization": "Token wrong"})[0] == 403
    status, _, body = get(review_server, path, AUTH)
    assert status == 200, body


@pytest.mark.parametrize(
    "query",
    ["action=allow", "class=neither", "limit=0", "limit=101", "before=-1", "before=x", "thread=" + "t" * 201,
     "colour=red", "action=block&action=review", "limit=%EF%BC%91"],
)  # fmt: skip
def test_bad_filters_are_400(review_server: Server, query: str) -> None:
    status, _, body = get(review_server, "/review/queue?" + query, AUTH)
    assert status == 400 and "error" in json.loads(body)


def test_whether_a_token_is_needed_is_public(review_server: Server, tmp_path: Path) -> None:
    """``GET /review/access`` says whether the data calls need the token (never the token itself)."""
    status, headers, body = get(review_server, "/review/access")
    assert status == 200 and json.loads(body) == {"token_required": True}
    assert headers["Cache-Control"] == "no-store" and TOKEN not in body
    assert get(review_server, "/review/queue")[0] == 403  # and they do
    assert request(review_server.url + "/review/access", b"{}", method="POST")[0] == 405
    with gunicorn(tmp_path, WEB_CONCURRENCY="1") as server:  # no FIREFLY_TOKEN
        server.wait_ready()
        assert json.loads(get(server, "/review/access")[2]) == {"token_required": False}
        assert get(server, "/review/queue")[0] == 200


def test_the_threat_filter_over_http(review_server: Server) -> None:
    posts = {"h-threat": "i'm going to shoot you tomorrow", "h-plain": "what a bitch"}
    for post_id, text in posts.items():
        status, answer = post_json(review_server.url + "/moderate", {"text": text, "id": post_id, "thread": "h"}, AUTH)
        assert status == 200 and answer["action"] in ("review", "block")
        assert answer["categories"]["threat"] is (post_id == "h-threat")
    status, _, body = get(review_server, "/review/queue?thread=h&threat=true", AUTH)
    [queued] = json.loads(body)["posts"]
    assert status == 200 and queued["id"] == "h-threat" and "threat" in queued["categories"]
    start, end = queued["threat"]
    assert queued["text"][start:end] == "i'm going to shoot you"
    _, _, body = get(review_server, "/review/queue?thread=h", AUTH)
    assert [p["id"] for p in json.loads(body)["posts"]] == ["h-plain", "h-threat"]
    assert get(review_server, "/review/queue?threat=false", AUTH)[0] == 400


def test_unknown_paths_and_methods(review_server: Server) -> None:
    assert get(review_server, "/review/static/nope.js", AUTH)[0] == 404
    assert get(review_server, "/review/static/../../app.py", AUTH)[0] == 404
    assert get(review_server, "/review/static/nope.js")[0] == 403  # not public: nothing told without the token
    status, headers, _ = request(review_server.url + "/review/queue", b"{}", AUTH, method="POST")
    assert status == 405 and headers["Allow"] == "GET, HEAD"


def test_moderate_with_an_id_fills_the_queue(review_server: Server) -> None:
    post = {"text": "those zorgs are vermin, kill them all you faggots", "id": "r-1", "thread": "routes"}
    status, answer = post_json(review_server.url + "/moderate", post, AUTH)
    assert status == 200 and answer["action"] in ("review", "block")
    assert "explanation" not in answer  # explained for the queue only, not in the answer
    status, answer = post_json(review_server.url + "/moderate", {**post, "id": None}, AUTH)
    status, _, body = get(review_server, "/review/queue?thread=routes", AUTH)
    page = json.loads(body)
    assert [p["id"] for p in page["posts"]] == ["r-1"]
    queued = page["posts"][0]
    assert queued["text"] == post["text"] and queued["spans"]
    for start, end, cls, contribution in queued["spans"]:
        assert 0 <= start < end <= len(post["text"]) and cls in ("hate speech", "offensive language")
        assert contribution > 0
    contexts = [{"id": "r-2", "thread": "routes"}, {"id": "r-3", "thread": "routes"}]
    texts = ["what a bitch", "have a lovely day everyone"]
    status, answers = post_json(review_server.url + "/moderate_batch", {"texts": texts, "contexts": contexts}, AUTH)
    assert status == 200
    _, _, body = get(review_server, "/review/queue?thread=routes", AUTH)
    flagged = [c["id"] for c, a in zip(contexts, answers, strict=True) if a["action"] != "allow"]
    assert [p["id"] for p in json.loads(body)["posts"]] == [*reversed(flagged), "r-1"]


def test_record_false_only_answers(review_server: Server) -> None:
    """``record: false`` (the page's "Try a text"): the same answer, and the post is not queued even with an id."""
    post = {"text": "those zorgs are vermin, kill them all you faggots", "id": "rec-1", "thread": "rec"}
    status, answer = post_json(review_server.url + "/moderate", {**post, "record": False}, AUTH)
    assert status == 200 and answer["action"] in ("review", "block") and answer["categories"]["threat"]
    _, _, body = get(review_server, "/review/queue?thread=rec", AUTH)
    assert json.loads(body)["total"] == 0
    status, recorded = post_json(review_server.url + "/moderate", post, AUTH)
    assert status == 200 and recorded == answer
    _, _, body = get(review_server, "/review/queue?thread=rec", AUTH)
    assert json.loads(body)["total"] == 1
    status, refused = post_json(review_server.url + "/moderate", {**post, "record": "no"}, AUTH)
    assert status == 400 and "record" in refused["error"]


def test_the_model_call_has_what_the_sliders_need(review_server: Server) -> None:
    status, _, body = get(review_server, "/review/model", AUTH)
    model = json.loads(body)
    assert status == 200 and model["queue"] is True and model["retention_hours"] == 168
    for label, values in model["thresholds"].items():
        curve = model["threshold_curves"][label]
        assert len(curve["thresholds"]) == len(curve["clean_reached"]) == len(curve["caught"])
        assert curve["thresholds"] == sorted(curve["thresholds"])
        assert values["review"] in curve["thresholds"] and values["block"] in curve["thresholds"]


def test_the_readme_curls(review_server: Server) -> None:
    """docs/review.md's commands, as written (the token and port substituted)."""
    commands = re.findall(r"^curl [^\n]*127\.0\.0\.1:5000/review/[^\n]*$", userdocs.text(), re.MULTILINE)
    assert len(commands) == 3, commands  # the queue, the model, the candidate
    answers = []
    for command in commands:
        command = command.replace("$FIREFLY_TOKEN", TOKEN).replace("127.0.0.1:5000", f"127.0.0.1:{review_server.port}")
        argv = ["curl", "-sS", "-w", "\n%{http_code}", *shlex.split(command)[1:]]
        out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=30).stdout
        body, status = out.rsplit("\n", 1)
        answers.append((int(status), json.loads(body)))
    assert answers[0][0] == 200 and all(p["action"] == "block" for p in answers[0][1]["posts"])
    assert answers[1][0] == 200 and "threshold_curves" in answers[1][1]
    assert answers[2][0] == 200 and answers[2][1]["status"] in ("none", "computing", "ready"), answers[2]


@pytest.mark.parametrize("kind", ["redis", "postgres"])
def test_the_server_queues_in_redis_or_postgresql(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if kind == "redis":
        url = request.getfixturevalue("redis_url")
        flush(url)
        env = {"REDIS_URL": url}
    else:
        url = request.getfixturevalue("postgres_url")
        env = {"DATABASE_URL": url}
    with gunicorn(tmp_path, FIREFLY_TOKEN=TOKEN, WEB_CONCURRENCY="2", **env) as server:
        server.wait_ready()
        post = {"text": "what a bitch", "id": f"{kind}-1", "thread": f"{kind}-thread"}
        assert post_json(server.url + "/moderate", post, AUTH)[0] == 200

        def queued() -> list[str] | None:
            # on a loaded machine a new worker's first connection can outlast STORE_TIMEOUT: the post is then
            # spooled and the queue answers 503 until the breaker closes; it must arrive, exactly once
            status, _, body = get(server, f"/review/queue?thread={kind}-thread", AUTH)
            return [p["id"] for p in json.loads(body)["posts"]] if status == 200 else None

        wait_for(lambda: bool(queued()), queued)
        assert queued() == [f"{kind}-1"]
        assert not (tmp_path / "review.sqlite3").exists() and not list(tmp_path.glob("review-*.sqlite3"))
