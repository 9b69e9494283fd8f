"""The production server over real HTTP: curl, http.client and firefly's own client."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import firefly
import pytest
import userdocs

from hatespeech.core.labels import LABELS
from hatespeech.core.model import KERNEL
from testing.support import BIN, ROOT, Server, free_port, gunicorn, post_json, request, server_env


def test_curl_from_the_readme_answers_the_contract(production: Server) -> None:
    """Every curl against /predict in the README and docs/, as written (the token is not set here)."""
    commands = re.findall(r"^curl [^\n]*127\.0\.0\.1:5000/predict$", userdocs.text(), re.MULTILINE)
    assert len(commands) >= 2, "the README shows a curl against /predict, with and without a token"
    assert shutil.which("curl"), "curl is installed"
    for command in commands:
        argv = ["curl", "-sS", *_split(command)[1:]]
        argv = [a.replace("127.0.0.1:5000", f"127.0.0.1:{production.port}") for a in argv]
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        scores = json.loads(out)
        assert list(scores) == list(LABELS)
        assert all(type(p) is float and 0 <= p <= 1 for p in scores.values())
        assert sum(scores.values()) == pytest.approx(1, abs=1e-9)


def _split(command: str) -> list[str]:
    import shlex

    return shlex.split(command)


def test_http_client_without_content_type(production: Server) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", production.port, timeout=10)
    conn.request("POST", "/predict", body=b'{"text": "have a nice day"}')
    response = conn.getresponse()
    assert response.status == 200
    assert response.getheader("Content-Type") == "application/json"
    assert set(json.loads(response.read())) == set(LABELS)
    conn.close()


def test_firefly_client_against_production(production: Server) -> None:
    client = firefly.Client(production.url)
    scores = client.predict(text="Please respect each other.")
    assert list(scores) == list(LABELS)
    with pytest.raises(ValueError, match="white space"):
        client.predict(text="   ")


def test_health_and_index(production: Server) -> None:
    status, _, text = request(production.url + "/health", method="GET")
    health = json.loads(text)
    assert status == 200 and health["status"] == "ok"
    # the production server scores with the C kernel wherever it was built (CI builds it: tests/core/test_kernel.py)
    assert health["kernel"] == KERNEL and (KERNEL == "C" or os.environ.get("CI") != "true")
    status, _, text = request(production.url + "/", method="GET")
    assert status == 200 and "predict" in json.loads(text)["functions"]


BAD = [
    ({"text": ""}, 400, "white space"),
    ({"text": "   \n\t"}, 400, "white space"),
    ({"text": 5}, 400, "must be a string"),
    ({"text": None}, 400, "must be a string"),
    ({"text": ["a"]}, 400, "must be a string"),
    ({"text": "x" * 10_001}, 400, "maximum is 10000"),
    ({}, 422, "missing a required argument: 'text'"),
    ({"text": "hi", "colour": "red"}, 422, "unexpected keyword argument 'colour'"),
    (["text"], 400, "must be a JSON object"),
    ("text", 400, "must be a JSON object"),
]


@pytest.mark.parametrize(("payload", "status", "message"), BAD)
def test_bad_input_is_a_clear_4xx(production: Server, payload: object, status: int, message: str) -> None:
    got, body = post_json(production.url + "/predict", payload)
    assert got == status
    assert message in body["error"]


@pytest.mark.parametrize(
    ("body", "message"),
    [(b'{"text": ', "not valid JSON"), (b"", "not valid JSON"), (b'{"text": "\xff"}', "not valid UTF-8")],
)
def test_malformed_bodies(production: Server, body: bytes, message: str) -> None:
    status, headers, text = request(production.url + "/predict", body)
    assert status == 400
    assert headers["Content-Type"] == "application/json"
    assert message in json.loads(text)["error"]


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_wrong_method_is_405(production: Server, method: str) -> None:
    status, headers, text = request(production.url + "/predict", b'{"text": "hi"}', method=method)
    assert status == 405
    assert headers["Allow"] == "POST"
    assert "use POST" in json.loads(text)["error"]


def test_unknown_path_is_a_json_404(production: Server) -> None:
    status, headers, text = request(production.url + "/predict/", b'{"text": "hi"}')
    assert status == 404
    assert headers["Content-Type"] == "application/json"
    assert "no endpoint" in json.loads(text)["error"]


def test_firefly_command_as_in_the_tutorial(tmp_path: Path) -> None:
    """`firefly app.predict --bind 127.0.0.1:PORT` serves the same function (one request at a time)."""
    port = free_port()
    argv = [str(BIN / "firefly"), "app.predict", "--bind", f"127.0.0.1:{port}"]
    server = Server(
        argv, server_env(PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics")), port, tmp_path / "firefly.log"
    )
    try:
        server.wait_ready(path="/")
        status, body = post_json(server.url + "/predict", {"text": "Please respect each other."})
        assert status == 200 and list(body) == list(LABELS)
        status, body = post_json(server.url + "/predict", {"text": " "})
        assert status == 400 and "white space" in body["error"]
    finally:
        server.stop()


def test_firefly_command_refuses_to_serve_without_the_token_it_would_ignore(tmp_path: Path) -> None:
    argv = [str(BIN / "firefly"), "app.predict", "--bind", f"127.0.0.1:{free_port()}"]
    done = subprocess.run(
        argv,
        cwd=ROOT,
        env=server_env(FIREFLY_TOKEN="s3cret-0123456789", PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics")),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "FIREFLY_TOKEN is set" in done.stderr


def test_token_is_required_when_set(tmp_path: Path) -> None:
    with gunicorn(tmp_path, FIREFLY_TOKEN="s3cret-0123456789") as server:
        server.wait_ready()
        assert post_json(server.url + "/predict", {"text": "hi"})[0] == 403
        for header in (
            "Token wrong",
            "Tokens3cret-0123456789",
            "token s3cret-0123456789-and-more",
            "s3cret-0123456789",
        ):
            assert post_json(server.url + "/predict", {"text": "hi"}, {"Authorization": header})[0] == 403
        assert (
            post_json(server.url + "/predict", {"text": "hi"}, {"Authorization": "Token s3cret-0123456789"})[0] == 200
        )
        assert (
            post_json(server.url + "/predict", {"text": "hi"}, {"Authorization": "Bearer s3cret-0123456789"})[0] == 200
        )
        assert request(server.url + "/health", method="GET")[0] == 200  # the platform's check stays open
        assert firefly.Client(server.url, auth_token="s3cret-0123456789").predict(text="hi")
        assert "s3cret-0123456789" not in server.output()


def test_token_in_the_query_string_as_perspective_clients_send_it(tmp_path: Path) -> None:
    with gunicorn(tmp_path, FIREFLY_TOKEN="s3cr\u00e9t-0123456789ab", WEB_CONCURRENCY="1") as server:
        server.wait_ready()
        url = server.url + "/predict"
        assert post_json(url + "?key=s3cr%C3%A9t-0123456789ab", {"text": "hi"})[0] == 200
        assert post_json(url + "?alt=json&key=s3cr%C3%A9t-0123456789ab", {"text": "hi"})[0] == 200
        for query in (
            "?key=s3cr",
            "?key=",
            "?key",
            "?KEY=s3cr%C3%A9t-0123456789ab",
            "?other=s3cr%C3%A9t-0123456789ab",
            "?key=s3cr%C3%A9t-0123456789ab%00",
        ):
            assert post_json(url + query, {"text": "hi"})[0] == 403, query
        # A wrong header is not rescued by a right key.
        assert post_json(url + "?key=s3cr%C3%A9t-0123456789ab", {"text": "hi"}, {"Authorization": "Token no"})[0] == 403
        assert (
            post_json(
                url, {"text": "hi"}, {"Authorization": "Bearer s3cr\u00e9t-0123456789ab".encode().decode("latin-1")}
            )[0]
            == 200
        )


def test_the_token_and_the_texts_are_never_logged(tmp_path: Path) -> None:
    token, text = "tok-5ecret-7f3a9", "zyzzyva quixotic marmalade 42"
    with gunicorn(tmp_path, FIREFLY_TOKEN=token, WEB_CONCURRENCY="1", LOG_LEVEL="debug") as server:
        server.wait_ready()
        url = server.url + "/predict"
        assert post_json(url, {"text": text}, {"Authorization": f"Token {token}"})[0] == 200
        assert post_json(url + f"?key={token}", {"text": text})[0] == 200
        assert post_json(url + f"?key={token}x", {"text": text})[0] == 403
        assert post_json(url, {"text": text}, {"Authorization": f"Bearer {token}x"})[0] == 403
        assert post_json(url, {"text": text, "extra": text}, {"Authorization": f"Token {token}"})[0] == 422
        assert post_json(url, {"text": text * 500}, {"Authorization": f"Token {token}"})[0] == 400
        # Requests gunicorn refuses before the guard sees them, the token in their request line.
        for raw in (
            f"GET /predict?key={token}&t={text} HTTP/1.1 junk\r\nHost: x\r\n\r\n",
            f"GET /predict?key={token}{'a' * 5000} HTTP/1.1\r\nHost: x\r\n\r\n",
            f"POST /predict?key={token} HTTP/1.1\r\nHost: x\r\nBad Header: {text}\r\n\r\n",
        ):
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            conn.connect()
            conn.sock.sendall(raw.encode())
            assert conn.sock.recv(65536).startswith(b"HTTP/1.1 4")
            conn.close()
        output = server.output()
    assert '"path": "/predict"' in output and '"text_hmac"' in output  # requests are logged…
    assert token not in output and "zyzzyva" not in output  # …without the token or the text
