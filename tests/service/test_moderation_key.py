"""MODERATION_API_KEY, against the real server: the key Coral and other drop-in clients hold reaches
the OpenAI and Perspective drop-ins, and nothing else; FIREFLY_TOKEN keeps reaching everything."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from hatespeech.config import ConfigError, Settings
from testing.support import Server, gunicorn, post_json, request

TOKEN = "moderation-test-token"
KEY = "moderation-api-key-for-coral"
ANALYZE = "/v1alpha1/comments:analyze"
SUGGEST = "/v1alpha1/comments:suggestscore"
WARNING = "MODERATION_API_KEY is not set"


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with gunicorn(tmp_path_factory.mktemp("moderation-key"), FIREFLY_TOKEN=TOKEN, MODERATION_API_KEY=KEY) as server:
        yield server.wait_ready()


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def counts(server: Server) -> dict:
    status, _, text = request(server.url + "/feedback", method="GET", headers={"Authorization": f"Token {TOKEN}"})
    assert status == 200
    return json.loads(text)


def test_the_key_answers_the_drop_ins(keyed: Server) -> None:
    status, reply = post_json(keyed.url + "/v1/moderations", {"input": "shut up you stupid retard"}, bearer(KEY))
    assert status == 200 and reply["results"][0]["flagged"] is True  # type: ignore[index]
    body = {"comment": {"text": "have a lovely day"}, "requestedAttributes": {"TOXICITY": {}}}
    status, reply = post_json(f"{keyed.url}{ANALYZE}?key={KEY}", body)
    assert status == 200 and "TOXICITY" in reply["attributeScores"]  # type: ignore[index]


def test_the_keys_suggested_scores_are_stored_as_corals(keyed: Server) -> None:
    before = counts(keyed)["by_source"]
    # no communityId: with FIREFLY_TOKEN this would be "perspective"; the key is Coral's
    body = {
        "comment": {"text": "a moderator rejected this one"},
        "attributeScores": {"TOXICITY": {"summaryScore": {"value": 1}}},
        "clientToken": "comment:c-77",
    }
    status, _ = post_json(f"{keyed.url}{SUGGEST}?key={KEY}", body)
    assert status == 200
    after = counts(keyed)["by_source"]
    assert after.get("coral", 0) == before.get("coral", 0) + 1 and "perspective" not in after


@pytest.mark.parametrize(
    ("method", "path", "payload"),
    [
        ("POST", "/feedback", {"text": "fine words", "label": "neither", "source": "discourse", "id": "1101"}),
        ("POST", "/feedback/erase", {"source": "discourse", "id": "1101"}),
        ("GET", "/feedback", None),
        ("GET", "/review/queue", None),
        ("GET", "/review/model", None),
        ("GET", "/metrics", None),
        ("POST", "/moderate", {"text": "hello"}),
        ("POST", "/predict", {"text": "hello"}),
    ],
)
def test_the_key_reaches_nothing_else(keyed: Server, method: str, path: str, payload: dict | None) -> None:
    body = None if payload is None else json.dumps(payload)
    for headers, url in ((bearer(KEY), keyed.url + path), ({}, f"{keyed.url}{path}?key={KEY}")):
        status, _, text = request(url, body, {"Content-Type": "application/json", **headers}, method=method)
        assert status in (401, 403), (path, status)
        assert isinstance(json.loads(text)["error"], str)
    assert counts(keyed)["by_source"].get("discourse") is None  # the refused POST wrote nothing


def test_the_token_still_reaches_everything(keyed: Server) -> None:
    assert post_json(keyed.url + "/v1/moderations", {"input": "hello"}, bearer(TOKEN))[0] == 200
    body = {"text": "a kind reply", "label": "neither", "source": "review-page", "id": "t-1"}
    assert post_json(keyed.url + "/feedback", body, bearer(TOKEN))[0] == 201
    assert request(keyed.url + "/review/queue", method="GET", headers=bearer(TOKEN))[0] == 200


def test_a_wrong_key_is_refused_on_the_drop_ins(keyed: Server) -> None:
    status, reply = post_json(keyed.url + "/v1/moderations", {"input": "hello"}, bearer(KEY + "x"))
    assert status in (401, 403) and reply["error"]["code"] == "invalid_api_key"  # type: ignore[index]
    body = {"comment": {"text": "hello"}, "requestedAttributes": {"TOXICITY": {}}}
    assert post_json(f"{keyed.url}{ANALYZE}?key={KEY[:-1]}", body)[0] in (401, 403)


def test_the_start_up_warning_only_without_the_key(keyed: Server, with_token: Server) -> None:
    assert WARNING not in keyed.output()
    assert with_token.output().count(WARNING) == 1  # once, from the master, not per worker


@pytest.fixture(scope="module")
def with_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with gunicorn(tmp_path_factory.mktemp("token-only"), FIREFLY_TOKEN=TOKEN) as server:
        server.wait_ready()
        status, _ = post_json(server.url + "/v1/moderations", {"input": "hello"}, bearer(TOKEN))
        assert status == 200  # as before the key existed
        yield server


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MODERATION_API_KEY": KEY}, "FIREFLY_TOKEN is not"),
        ({"MODERATION_API_KEY": TOKEN, "FIREFLY_TOKEN": TOKEN}, "must differ from FIREFLY_TOKEN"),
        ({"MODERATION_API_KEY": KEY, "FIREFLY_TOKEN": TOKEN, "METRICS_TOKEN": KEY}, "must differ from METRICS_TOKEN"),
        ({"MODERATION_API_KEY": "short", "FIREFLY_TOKEN": TOKEN}, "at least 16"),
    ],
)
def test_a_key_that_would_not_narrow_anything_stops_start_up(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)
