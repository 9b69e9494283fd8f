"""The image's entry point (hatespeech/service/launch.py): nginx in front of gunicorn.

Started as the Dockerfile starts it, with PORT set, on a free loopback port.
"""

from __future__ import annotations

import json
import select
import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from testing.support import Server, accepted, free_port, request, server_env, wait_for

TOKEN = "launch-test-token-0123456789"
AUTH = {"Authorization": f"Token {TOKEN}", "Content-Type": "application/json"}


@pytest.fixture
def launched(tmp_path: Path) -> Iterator[Server]:
    port = free_port()
    # READ_TIMEOUT 60 s: gunicorn alone would hold a thread that long per stalled client.
    env = server_env(PORT=str(port), FIREFLY_TOKEN=TOKEN, WEB_CONCURRENCY="1", THREADS="2", READ_TIMEOUT="60")
    env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "metrics")  # else gunicorn's master makes a /tmp/hs-metrics-*
    server = Server([sys.executable, "-m", "hatespeech.service.launch"], env, port, tmp_path / "launch.log")
    try:
        yield server.wait_ready()
    finally:
        server.stop()


def _stalled(port: int, idle: int, trickling: int) -> list[socket.socket]:
    socks = []
    for i in range(idle + trickling):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        if i >= idle:  # headers sent, then 1 byte of a 100-byte body, then nothing
            s.sendall(
                b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + f"Authorization: Token {TOKEN}\r\nContent-Length: 100\r\n\r\n{{".encode()
            )
        socks.append(s)
    return socks


def test_idle_and_stalled_clients_do_not_hold_the_workers(launched: Server) -> None:
    # 2 threads in all; gunicorn alone would give each of these sockets a thread for READ_TIMEOUT.
    socks = _stalled(launched.port, idle=20, trickling=8)
    try:
        for i in range(5):
            status, _, body = request(launched.url + "/predict", json.dumps({"text": f"hello {i}"}), AUTH)
            assert status == 200, body
    finally:
        for s in socks:
            s.close()


def test_nginx_refusals_are_json_and_every_line_logged_is_json(launched: Server) -> None:
    status, _, body = request(launched.url + "/predict", b"x" * 70_000, AUTH)
    assert status == 413 and "error" in json.loads(body)
    status, _, body = request(launched.url + "/predict", json.dumps({"text": "hi"}), {"Authorization": "Token no"})
    assert status == 403 and json.loads(body) == {"error": "Invalid auth token"}
    launched.proc.send_signal(signal.SIGTERM)
    assert launched.proc.wait(timeout=60) == 0
    lines = launched.output().splitlines()
    assert any('"status": 413' in line for line in lines)
    for line in lines:
        assert isinstance(json.loads(line), dict), line


def test_sigterm_finishes_a_request_in_flight(launched: Server) -> None:
    body = json.dumps({"text": "see you all at the game tonight"}).encode()
    with socket.create_connection(("127.0.0.1", launched.port), timeout=30) as s:
        s.sendall(
            b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n"
            + f"Authorization: Token {TOKEN}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body[:5]
        )
        # In flight means accepted: a connection still in the listen backlog goes with the listener.
        wait_for(lambda: accepted(s), lambda: "nginx has not accepted the connection")
        launched.proc.send_signal(signal.SIGTERM)  # mid-body: nginx must finish this request before going
        s.sendall(body[5:])
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert launched.proc.wait(timeout=60) == 0


_LOG_PROBE = """
import logging, logging.config, sys
sys.argv = ["gunicorn"]
from hatespeech.service import gunicorn_conf
logging.config.dictConfig(gunicorn_conf.logconfig_dict)
logging.getLogger("gunicorn.error").info("Booting worker with pid: %s", 7)
logging.getLogger("firefly").warning("Function %s failed with ValueError: %s.", "predict", "bad")
try:
    1 / 0
except ZeroDivisionError:
    logging.getLogger("firefly").error("Function %s failed with exception.", "predict", exc_info=True)
logging.getLogger("hatespeech.access").warning('{"status": 200}')
"""


def test_gunicorns_and_fireflys_own_lines_are_json(tmp_path: Path) -> None:
    import subprocess

    env = server_env(PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", _LOG_PROBE], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line.get("message") for line in lines[:3]] == [
        "Booting worker with pid: 7",
        "Function predict failed with ValueError: bad.",
        "Function predict failed with exception.",
    ]
    assert "ZeroDivisionError" in lines[2]["exception"] and lines[3] == {"status": 200}


def test_headers_have_a_total_deadline_even_when_trickled(tmp_path: Path) -> None:
    """nginx's header timer is set once: a client sending a byte every 0.3 s is cut off anyway."""
    port = free_port()
    env = server_env(
        PORT=str(port),
        FIREFLY_TOKEN=TOKEN,
        WEB_CONCURRENCY="1",
        READ_TIMEOUT="2",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
    )
    server = Server([sys.executable, "-m", "hatespeech.service.launch"], env, port, tmp_path / "launch.log")
    try:
        server.wait_ready()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            cut = False
            for _ in range(40):  # 12 s of trickling, if it were allowed
                try:
                    s.sendall(b"a")
                except OSError:
                    cut = True
                    break
                readable, _, _ = select.select([s], [], [], 0.3)
                if readable:
                    cut = True  # an answer (408) or the close
                    break
        assert cut, "a trickling client kept its connection past READ_TIMEOUT"
    finally:
        server.stop()


def test_a_second_server_on_a_busy_port_says_so(launched: Server, tmp_path: Path) -> None:
    """The first server answered the second's readiness check: it said `listening at`, then "nginx exited"."""
    env = server_env(PORT=str(launched.port), FIREFLY_TOKEN=TOKEN, WEB_CONCURRENCY="1")
    second = Server([sys.executable, "-m", "hatespeech.service.launch"], env, launched.port, tmp_path / "second.log")
    try:
        assert second.proc.wait(timeout=120) != 0
    finally:
        second.stop()
    lines = [json.loads(line) for line in second.log.read_text().splitlines()]
    assert not any("listening at" in line.get("message", "") for line in lines), lines
    [refusal] = [line for line in lines if line.get("level") == "error"]
    assert f"port {launched.port} on 127.0.0.1 is not free" in refusal["message"]
    status, _, _ = request(launched.url + "/health", method="GET")  # the first one is untouched
    assert status == 200


def test_a_model_it_cannot_serve_is_an_error_that_names_the_fix(tmp_path: Path) -> None:
    """MODEL_PATH at the .npz: the fix is the card beside it, not retraining; and the line is not a warning."""
    [npz] = (Path(__file__).resolve().parents[2] / "models").glob("model-*.npz")
    env = server_env(PORT=str(free_port()), MODEL_PATH=str(npz), WEB_CONCURRENCY="1")
    server = Server([sys.executable, "-m", "hatespeech.service.launch"], env, 0, tmp_path / "launch.log")
    try:
        assert server.proc.wait(timeout=120) != 0
    finally:
        server.stop()
    lines = [json.loads(line) for line in server.log.read_text().splitlines()]
    [fatal] = [line for line in lines if "cannot serve the model" in line.get("message", "")]
    assert fatal["level"] in ("error", "critical"), fatal
    assert f"point MODEL_PATH at the card beside it, {npz.parent / 'model.json'}" in fatal["message"]
    assert "Retrain" not in fatal["message"]
    assert all(line.get("level") != "warning" for line in lines if "gunicorn" in line.get("message", "")), lines


def test_nginxs_own_refusals_under_v1_are_openai_shaped(launched: Server) -> None:
    """nginx answers a body over MAX_BODY_BYTES itself: the openai client showed only "Error code: 413"."""
    import openai

    client = openai.OpenAI(base_url=launched.url + "/v1", api_key=TOKEN, max_retries=0, timeout=30)
    with client, pytest.raises(openai.APIStatusError) as caught:
        client.moderations.create(input="x" * 70_000)
    assert caught.value.status_code == 413
    assert caught.value.body == {  # what the client reads the message from
        "message": "the body is larger than 65536 bytes",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    assert "the body is larger than 65536 bytes" in str(caught.value)
    wrong = openai.OpenAI(base_url=launched.url + "/v1", api_key="wrong", max_retries=0, timeout=30)
    with wrong, pytest.raises(openai.AuthenticationError, match="Invalid auth token"):  # OpenAI's 401, via nginx
        wrong.moderations.create(input="hi")
    status, _, body = request(launched.url + "/predict", b"x" * 70_000, AUTH)  # elsewhere, the service's own shape
    assert status == 413 and json.loads(body) == {"error": "the body is larger than 65536 bytes"}


def test_a_nul_in_the_path_is_a_json_400(launched: Server) -> None:
    """nginx refuses %00 in a path; redirecting that to a named error location failed, and it answered HTML 500."""
    for path in ("/predict%00", "/health%00x", "/%00"):
        status, headers, body = request(launched.url + path, method="GET")
        assert (status, headers["Content-Type"]) == (400, "application/json"), body
        assert json.loads(body) == {"error": "the request is not valid HTTP"}
    status, _, body = request(launched.url + "/v1/moderations%00", json.dumps({"input": "hi"}), AUTH)
    assert status == 400 and json.loads(body)["error"]["message"] == "the request is not valid HTTP"
    status, headers, body = request(launched.url + "/.errors/400", method="GET")  # the error page is not a page
    assert (status, headers["Content-Type"]) == (404, "application/json"), body


def test_a_flood_of_big_webhook_bodies_is_not_logged_line_by_line(launched: Server) -> None:
    """Each webhook body over the in-memory buffer (MAX_BODY_BYTES) goes to a temporary file, which nginx
    said at [warn], once per request: an unsigned flood wrote thousands of lines."""
    flood = 40
    for _ in range(flood):
        status, _, _ = request(launched.url + "/integrations/discourse", b"x" * 200_000, {"Content-Type": "text/plain"})
        assert status == 404  # the integration is off: the app answers, after nginx buffered the whole body
    launched.proc.send_signal(signal.SIGTERM)
    assert launched.proc.wait(timeout=60) == 0
    nginx = [line for line in launched.output().splitlines() if '"source": "nginx"' in line]
    assert nginx == [], f"{len(nginx)} nginx lines for {flood} requests: {nginx[:2]}"


@pytest.mark.parametrize(
    "env",
    [
        {"DISCOURSE_URL": "https://forum.example", "DISCOURSE_API_KEY": "k" * 20, "DISCOURSE_WEBHOOK_SECRET": "s3cr"},
        {"CORAL_WEBHOOK_SECRET": "ems_long-enough-secret-0123, s3cr"},  # every secret while rotating
        {"MASTODON_URL": "https://social.example", "MASTODON_TOKEN": "t" * 20, "MASTODON_WEBHOOK_SECRET": "s3cr"},
    ],
    ids=["discourse", "coral", "mastodon"],
)
def test_a_short_webhook_secret_stops_start_up(tmp_path: Path, env: dict[str, str]) -> None:
    """A one-character secret was accepted: anyone who guesses it signs posts. Discourse asks for 12 at least."""
    [name] = [n for n in env if n.endswith("_WEBHOOK_SECRET")]
    server_settings = server_env(PORT=str(free_port()), **env)
    server = Server([sys.executable, "-m", "hatespeech.service.launch"], server_settings, 0, tmp_path / "launch.log")
    try:
        assert server.proc.wait(timeout=120) == 2
    finally:
        server.stop()
    [line] = [json.loads(line) for line in server.log.read_text().splitlines()]
    assert line["level"] == "error" and f"{name} is 4 characters long" in line["message"], line
    assert "at least 12" in line["message"] and "s3cr" not in line["message"]
