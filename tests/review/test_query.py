"""GET /review/queue's query parameters: the parser and openapi.yaml say the same thing.

schemathesis once (seed 199715981310647061861235731936473568434) reported "ST201
schema-violating request accepted" on GET /review/queue: its request line was 5.8 KB and was
refused with 414 before the parser saw it, a status schemathesis did not count as a refusal
(tests/service/schemathesis.toml now does). Looking for the mismatch the report suggested
found real ones: a thread that is not UTF-8 once percent-decoded (``%FF``, an encoded surrogate)
was matched with U+FFFD in place of its bytes, and a thread /moderate refuses (only spaces, a
control character) was taken as a filter, while openapi.yaml allowed any string.
"""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

import pytest
import yaml
from rawhttp import exchange

from hatespeech.core.context import MAX_CHARS
from hatespeech.review.web import PARAMETERS, query
from testing.support import ROOT, Server, post_json, request

TOKEN = "review-test-token"  # the review_server fixture's FIREFLY_TOKEN
AUTH = {"Authorization": f"Token {TOKEN}"}
ST201_REQUEST = Path(__file__).parent / "data" / "st201-review-queue.txt"  # the path and query schemathesis sent


def get(server: Server, path: str) -> tuple[int, dict]:
    status, _, body = request(server.url + path, headers=AUTH, method="GET")
    return status, json.loads(body)


def _spec() -> dict:
    return yaml.safe_load((ROOT / "openapi.yaml").read_text())


def test_openapi_yaml_states_the_parsers_parameters() -> None:
    spec = _spec()
    schemas = spec["components"]["schemas"]
    documented = {p["name"]: p for p in spec["paths"]["/review/queue"]["get"]["parameters"]}
    assert set(documented) == set(PARAMETERS)
    for name, rule in PARAMETERS.items():
        schema = documented[name]["schema"]
        assert documented[name]["in"] == "query" and documented[name]["required"] is False
        if "enum" in rule:
            assert schema == {"type": "string", "enum": list(rule["enum"])}, name
        elif "pattern" in rule:
            assert schema == {"type": "string", "pattern": rule["pattern"]}, name
        elif "context" in rule:  # the thread: the very schema /moderate's context strings have
            assert schema == {"$ref": "#/components/schemas/ContextText"}
            text = schemas["ContextText"]
            assert text["maxLength"] == MAX_CHARS[rule["context"]] and text["minLength"] == 1
            assert {"$ref": "#/components/schemas/ContextText"} in schemas["ContextId"]["anyOf"]
        else:
            expected = {"type": "integer", "minimum": rule["minimum"], "maximum": rule["maximum"]}
            if "default" in rule:
                expected["default"] = rule["default"]
            assert {k: v for k, v in schema.items() if k != "description"} == expected, name


@pytest.mark.parametrize(
    "value",
    ["%FF", "%ED%A0%80", "a%C3", "%00", "a%0Ab", "%C2%85", "%20%20", "%E3%80%80", "t" * 201, "%F4%8F%BF%BD" * 201],
)
def test_a_thread_moderate_would_refuse_is_400(review_server: Server, value: str) -> None:
    status, body = get(review_server, "/review/queue?thread=" + value)
    assert status == 400 and body["error"], body


def test_the_longest_valid_query_is_answered(review_server: Server) -> None:
    """200 code points of 4 UTF-8 bytes each: 2,400 bytes once percent-encoded, inside the request line."""
    thread = "\U0010fffd" * MAX_CHARS["thread"]
    post = {"text": "those zorgs are vermin, kill them all you faggots", "id": "q-1", "thread": thread}
    status, answer = post_json(review_server.url + "/moderate", post, AUTH)
    assert status == 200 and answer["action"] in ("review", "block")
    params = {"action": answer["action"], "class": "offensive language", "thread": thread}
    params |= {"before": str(2**62), "limit": "100"}
    path = "/review/queue?" + urllib.parse.urlencode(params, quote_via=urllib.parse.quote)
    status, page = get(review_server, path)
    assert status == 200, page
    if answer["categories"]["offensive language"]:  # it reached that class's review threshold
        assert [p["id"] for p in page["posts"]] == ["q-1"]
    status, page = get(review_server, "/review/queue?" + urllib.parse.urlencode({"thread": thread}))
    assert status == 200 and [p["id"] for p in page["posts"]] == ["q-1"]


def test_schemathesis_st201_request_is_refused(review_server: Server) -> None:
    """The request of the ST201 report, byte for byte: refused (414, JSON), never a page."""
    target = ST201_REQUEST.read_text().strip()
    assert len(target) > 4094  # gunicorn's request line limit
    raw = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token {TOKEN}\r\nConnection: close\r\n\r\n"
    response = exchange(review_server.port, raw.encode("ascii"), timeout=30)
    assert response.status == 414 and json.loads(response.body)["error"]
    # and the same filters in a short request line are refused by the parser (class, thread, before twice)
    with pytest.raises(ValueError, match="given twice"):
        query(target.partition("?")[2])


def test_query_reads_what_it_documents() -> None:
    assert query("thread=%E2%80%94t+1&limit=007") == {
        "action": None,
        "category": None,
        "threat": None,
        "thread": "—t 1",
        "before": None,
        "limit": 7,
        "language": None,
    }
    with pytest.raises(ValueError, match="whole number"):
        query("limit=" + "0" * 30 + "1")


def test_the_threat_filter() -> None:
    assert query("threat=true")["threat"] is True and query("")["threat"] is None
    for bad in ("threat=false", "threat=1", "threat=TRUE", "threat=", "threat=true&threat=true"):
        with pytest.raises(ValueError, match="threat"):
            query(bad)


def test_the_language_filter() -> None:
    assert query("language=de")["language"] == "de" and query("language=und")["language"] == "und"
    for bad in ("language=DE", "language=deu", "language=d", "language=", "language=de&language=pt", "language=%FF"):
        with pytest.raises(ValueError, match=r"language|UTF-8|empty|twice"):
            query(bad)
