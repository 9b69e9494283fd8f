"""Drop-in compatibility, against the real server: OpenAI's client and a Perspective client.

The shapes checked here are those of the APIs' own references: OpenAI's moderation object
(``id``, ``model``, ``results[].flagged/categories/category_scores``) and Perspective's
AnalyzeComment request/response and Google-style errors (``error.code/message/status/details``).
"""

from __future__ import annotations

import json
import urllib.error
from collections.abc import Iterator

import openai
import pytest
from perspective import PerspectiveAPI

from hatespeech.service.compat import OPENAI_CATEGORIES
from testing.support import Server, gunicorn, post_json, request

TOKEN = "compat-test-token"
ANALYZE = "/v1alpha1/comments:analyze"
WRONG = {"Authorization": "Bearer wrong", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def with_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with gunicorn(tmp_path_factory.mktemp("compat"), FIREFLY_TOKEN=TOKEN) as server:
        yield server.wait_ready()


def openai_client(server: Server, key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0, timeout=30)


def perspective_client(server: Server, key: str = "unused") -> PerspectiveAPI:
    client = PerspectiveAPI(key)
    client.api_client.url = server.url + "/v1alpha1/{endpoint}"  # the library's one address setting
    return client


# --- OpenAI -------------------------------------------------------------------------------------


def test_openai_client_one_text(production: Server) -> None:
    response = openai_client(production).moderations.create(input="shut up you stupid idiot")
    assert response.id.startswith("modr-") and response.model.startswith("hatespeech-detect-")
    [result] = response.results
    _, ours = post_json(production.url + "/moderate", {"text": "shut up you stupid idiot"})
    assert result.flagged is ours["flagged"]
    assert result.categories.hate is ours["categories"]["hate speech"]
    assert result.categories.harassment is ours["categories"]["offensive language"]
    assert result.category_scores.hate == ours["scores"]["hate speech"]
    assert result.category_scores.harassment == ours["scores"]["offensive language"]


def test_openai_client_many_texts_and_a_model_name(production: Server) -> None:
    texts = ["Have a nice day", "you are a stupid bitch", "I love this recipe"]
    response = openai_client(production).moderations.create(input=texts, model="omni-moderation-latest")
    assert len(response.results) == len(texts)
    raw = response.model_dump(by_alias=True, exclude_none=True)
    for result, text in zip(raw["results"], texts, strict=True):
        # Categories we do not model are left out, never reported as 0 or false.
        modelled = {*OPENAI_CATEGORIES.values(), "harassment/threatening", "hate/threatening"}
        assert set(result["categories"]) == set(result["category_scores"]) == modelled
        _, ours = post_json(production.url + "/moderate", {"text": text})
        assert result["flagged"] is ours["flagged"]


def test_openai_client_errors(production: Server) -> None:
    client = openai_client(production)
    with pytest.raises(openai.BadRequestError) as caught:
        client.moderations.create(input=["fine", "  "])
    assert caught.value.body["type"] == "invalid_request_error"
    assert "input[1] must contain something other than white space" in caught.value.body["message"]
    with pytest.raises(openai.BadRequestError, match="text only"):
        client.moderations.create(input=[{"type": "image_url", "image_url": {"url": "http://x/y.png"}}])


def test_openai_client_sends_its_key_as_the_bearer_token(with_token: Server) -> None:
    response = openai_client(with_token, TOKEN).moderations.create(input="have a nice day")
    assert len(response.results) == 1
    with pytest.raises(openai.AuthenticationError, match="Invalid auth token") as caught:  # 401, as OpenAI's
        openai_client(with_token, "wrong").moderations.create(input="have a nice day")
    assert caught.value.status_code == 401
    assert caught.value.body == {
        "message": "Invalid auth token",
        "type": "authentication_error",
        "param": None,
        "code": "invalid_api_key",
    }


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"input": "hi", "colour": "red"}, 422, "unexpected keyword argument 'colour'"),
        ({}, 400, "input"),
        ("{not json", 400, "not valid JSON"),
    ],
)
def test_refusals_under_v1_are_in_openai_error_shape(
    production: Server, body: object, status: int, message: str
) -> None:
    if isinstance(body, str):  # not JSON at all
        got, _, text = request(production.url + "/v1/moderations", body, {"Content-Type": "application/json"})
        answer = json.loads(text)
    else:
        got, answer = post_json(production.url + "/v1/moderations", body)
    assert got == status and set(answer) == {"error"}
    assert set(answer["error"]) == {"message", "type", "param", "code"} and message in answer["error"]["message"]
    got, answer = post_json(production.url + "/v1/nope", {"input": "hi"})
    assert got == 404 and answer["error"]["type"] == "invalid_request_error"


# --- Perspective ----------------------------------------------------------------------------------


def test_perspective_reference_example(production: Server) -> None:
    """The AnalyzeComment example of Perspective's API reference, as raw JSON."""
    text = "What kind of idiot name is foo? Sorry, I like your name."
    request = {
        "comment": {"text": text},
        "languages": ["en"],
        "requestedAttributes": {"TOXICITY": {}, "IDENTITY_ATTACK": {}},
        "spanAnnotations": True,
        "doNotStore": True,
        "clientToken": "comment-53922",
    }
    status, response = post_json(production.url + ANALYZE, request)
    assert status == 200
    assert set(response) == {"attributeScores", "languages", "detectedLanguages", "clientToken"}
    assert response["languages"] == ["en"] and response["clientToken"] == "comment-53922"
    assert response["detectedLanguages"] == ["en"]
    _, ours = post_json(production.url + "/predict", {"text": text})
    toxicity = response["attributeScores"]["TOXICITY"]
    assert toxicity["summaryScore"] == {"value": pytest.approx(1 - ours["neither"], abs=1e-12), "type": "PROBABILITY"}
    identity = response["attributeScores"]["IDENTITY_ATTACK"]["summaryScore"]["value"]
    assert identity == pytest.approx(ours["hate speech"], abs=1e-12)
    # One span per sentence, as Perspective's reference example cuts them.
    assert [(s["begin"], s["end"]) for s in toxicity["spanScores"]] == [(0, 31), (32, 56)]
    for span in toxicity["spanScores"]:
        _, part = post_json(production.url + "/predict", {"text": text[span["begin"] : span["end"]]})
        assert span["score"] == {"value": pytest.approx(1 - part["neither"], abs=1e-12), "type": "PROBABILITY"}


def test_perspective_client_library(production: Server) -> None:
    client = perspective_client(production)
    response = client.analyze_comment(
        "you are a stupid idiot",
        requested_attributes={"TOXICITY": {}, "PROFANITY": {"scoreType": "PROBABILITY"}},
        languages=["en"],
        do_not_store=True,
        span_annotations=True,
        client_token="abc",
        session_id="s1",
        community_id="/forum/x",
        context=[{"text": "the post it answers", "type": "PLAIN_TEXT"}],
    )
    assert set(response["attributeScores"]) == {"TOXICITY", "PROFANITY"}
    assert response["clientToken"] == "abc"
    assert client.score("have a nice day", tests=["TOXICITY", "IDENTITY_ATTACK"]).keys() == {
        "TOXICITY",
        "IDENTITY_ATTACK",
    }


def test_perspective_score_threshold_leaves_low_scores_out(production: Server) -> None:
    request = {
        "comment": {"text": "have a lovely day"},
        "requestedAttributes": {"TOXICITY": {"scoreThreshold": 0.99}, "IDENTITY_ATTACK": {}},
    }
    status, response = post_json(production.url + ANALYZE, request)
    assert status == 200 and set(response["attributeScores"]) == {"IDENTITY_ATTACK"}
    assert "spanScores" not in response["attributeScores"]["IDENTITY_ATTACK"]


def perspective_refusal(server: Server, request: dict) -> dict:
    status, response = post_json(server.url + ANALYZE, request)
    assert status == 400
    error = response["error"]
    assert error["code"] == 400 and error["status"] == "INVALID_ARGUMENT" and error["message"]
    assert error["details"][0]["@type"].endswith("commentanalyzer.v1alpha1.Error")
    return error


@pytest.mark.parametrize(
    ("request_body", "error_type", "message"),
    [
        (
            {"comment": {"text": "hi"}, "requestedAttributes": {"TOXICITY": {}}, "languages": ["fr"]},
            "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE",
            "Attribute TOXICITY does not support request languages: fr",
        ),
        (
            {"comment": {"text": "hi"}, "requestedAttributes": {"SEXUALLY_EXPLICIT": {}}},
            "INVALID_REQUEST",
            "Unknown requested attribute: SEXUALLY_EXPLICIT",
        ),
        ({"comment": {"text": " "}, "requestedAttributes": {"TOXICITY": {}}}, "COMMENT_EMPTY", "non-empty"),
        ({"comment": {"text": "hi"}, "requestedAttributes": {}}, "NO_REQUESTED_ATTRIBUTES", "requested_attributes"),
        ({"comment": {"text": "hi"}}, "NO_REQUESTED_ATTRIBUTES", "requested_attributes"),
        (
            {"comment": {"text": "x" * 10_001}, "requestedAttributes": {"TOXICITY": {}}},
            "COMMENT_TOO_LONG",
            "too long",
        ),
        (
            {"comment": {"text": "hi", "type": "HTML"}, "requestedAttributes": {"TOXICITY": {}}},
            "INVALID_REQUEST",
            "PLAIN_TEXT",
        ),
        (
            {"comment": {"text": "hi"}, "requestedAttributes": {"TOXICITY": {"scoreType": "STD_DEV_SCORE"}}},
            "INVALID_REQUEST",
            "score type STD_DEV_SCORE is not supported",
        ),
        (
            {"comment": {"text": "hi"}, "requestedAttributes": {"TOXICITY": {}}, "colour": "red"},
            "INVALID_REQUEST",
            'Unknown name "colour"',
        ),
        ({"comment": "hi", "requestedAttributes": {"TOXICITY": {}}}, "INVALID_REQUEST", "comment.text"),
        (
            {"comment": {"text": "hi"}, "requestedAttributes": {"TOXICITY": {}}, "clientToken": 5},
            "INVALID_REQUEST",
            "Invalid value at 'clientToken': a string expected",
        ),
        (
            {"comment": {"text": "hi"}, "requestedAttributes": {"TOXICITY": {}}, "spanAnnotations": "yes"},
            "INVALID_REQUEST",
            "'spanAnnotations': a boolean expected",
        ),
        (
            {"comment": {"text": "hi"}, "requestedAttributes": {"TOXICITY": {"scoreThreshold": 2}}},
            "INVALID_REQUEST",
            "scoreThreshold must be a number in [0, 1]",
        ),
    ],
)
def test_perspective_refusals_in_its_error_shape(
    production: Server, request_body: dict, error_type: str, message: str
) -> None:
    error = perspective_refusal(production, request_body)
    assert error["details"][0]["errorType"] == error_type and message in error["message"]


def test_perspective_client_library_sees_the_refusal(production: Server) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        perspective_client(production).analyze_comment("hola", languages=["es"])
    assert caught.value.code == 400
    with caught.value:  # an HTTPError holds the connection open until closed
        body = json.loads(caught.value.read())
    assert body["error"]["details"][0]["errorType"] == "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE"


def test_perspective_key_in_the_query_string(with_token: Server) -> None:
    response = perspective_client(with_token, TOKEN).score("have a nice day")
    assert set(response) == {"TOXICITY"}
    with pytest.raises(urllib.error.HTTPError) as caught:
        perspective_client(with_token, "wrong").score("have a nice day")
    caught.value.close()
    assert caught.value.code == 403


def test_openai_client_shows_why_a_body_is_too_large(production: Server) -> None:
    """The guard's 413 (gunicorn alone; nginx's own is tested in test_launch.py) in OpenAI's shape: its client
    showed only "Error code: 413"."""
    with openai_client(production) as client, pytest.raises(openai.APIStatusError) as caught:
        client.moderations.create(input="x" * 70_000)
    assert caught.value.status_code == 413 and caught.value.body["type"] == "invalid_request_error"
    assert caught.value.body["message"] == "the body is larger than 65536 bytes"
    assert "the body is larger than 65536 bytes" in str(caught.value)


def test_a_wrong_token_under_v1_is_401_and_elsewhere_403(with_token: Server) -> None:
    status, headers, body = request(with_token.url + "/v1/moderations", json.dumps({"input": "hi"}), WRONG)
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
    assert json.loads(body)["error"]["code"] == "invalid_api_key"
    status, _, body = request(with_token.url + "/moderate", json.dumps({"text": "hi"}), WRONG)
    assert status == 403 and json.loads(body) == {"error": "Invalid auth token"}
