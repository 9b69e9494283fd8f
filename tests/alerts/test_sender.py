"""The sender's one POST (``sender.post``) against real local servers: what goes over the wire.

test_alerts.py covers delivery end to end (retries, 429, timeouts, give-ups); here: the body and
headers as given, connections kept alive, the environment's proxy, no redirect followed, a reply
read only so far, and no URL secret in an error. Everything listens on 127.0.0.1.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest
import requests

from hatespeech.alerts import Alerter
from hatespeech.alerts.sender import post
from hatespeech.alerts.store import Store
from testing.alerting import Receiver, fast_settings, moderated
from testing.support import LocalServer, wait_for

BODY = '{"id": "a1", "text": "caf\u00e9 \U0001f600"}'.encode()
HEADERS = {"Content-Type": "application/json", "Idempotency-Key": "a1"}


class KeepAlive(LocalServer):
    """An HTTP/1.1 server that keeps connections open and records each request's client port."""

    def __init__(self) -> None:
        self.ports: list[int] = []
        self.bodies: list[bytes] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                owner.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
                owner.ports.append(self.client_address[1])
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        super().__init__(Handler)


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def test_the_body_and_headers_arrive_as_given(receiver: Receiver, session: requests.Session) -> None:
    status, retry_after, description = post(session, receiver.url + "/hook?x=1", BODY, HEADERS, 5.0)
    assert (status, retry_after, description) == (200, None, "HTTP 200 ok")
    (got,) = receiver.requests
    assert got.path == "/hook?x=1" and got.body == BODY
    assert got.headers["Idempotency-Key"] == "a1" and got.headers["Content-Type"] == "application/json"


def test_retry_after_is_read(receiver: Receiver, session: requests.Session) -> None:
    receiver.then(429, headers={"Retry-After": "7"})
    assert post(session, receiver.url, BODY, HEADERS, 5.0)[:2] == (429, 7.0)


def test_one_session_keeps_its_connection_between_posts(session: requests.Session) -> None:
    server = KeepAlive()
    try:
        for _ in range(3):
            assert post(session, server.url + "/hook", BODY, HEADERS, 5.0)[0] == 200
    finally:
        server.close()
    assert server.bodies == [BODY] * 3
    assert len(set(server.ports)) == 1, "each post opened a connection of its own"


def test_the_environments_proxy_is_used(
    receiver: Receiver, session: requests.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the receiver stands in for the proxy: a plain-HTTP request through a proxy names the whole URL
    for name in ("NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", receiver.url)
    assert post(session, "http://hooks.example.invalid/services/T/B/x", BODY, HEADERS, 5.0)[0] == 200
    (got,) = receiver.requests
    assert got.path == "http://hooks.example.invalid/services/T/B/x" and got.body == BODY


def test_a_redirect_is_not_followed_and_the_alert_is_given_up(receiver: Receiver, store: Store) -> None:
    elsewhere = Receiver()
    try:
        receiver.then(307, headers={"Location": elsewhere.url + "/stolen"})
        alerter = Alerter(fast_settings((receiver.url + "/hook",)), store)
        try:
            alerter.record(moderated("block"), None, "x")
            # given up, as any 4xx but 408/425/429: what it was with http.client, which never follows one
            wait_for(lambda: len(receiver.requests) == 1 and store.pending() == 0, lambda: store.pending())
        finally:
            alerter.stop()
        assert elsewhere.requests == [] and len(receiver.requests) == 1
    finally:
        elsewhere.close()


def test_an_endless_reply_is_read_only_so_far(session: requests.Session) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    sent = {"bytes": 0}

    def answer() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n")
            chunk = b"%x\r\n%s\r\n" % (4096, b"x" * 4096)
            try:
                while sent["bytes"] < 1 << 30:  # 1 GiB: far more than anyone should read
                    conn.sendall(chunk)
                    sent["bytes"] += 4096
            except OSError:  # the sender hung up: it read what it wanted
                pass

    server = threading.Thread(target=answer, daemon=True)
    server.start()
    try:
        status, _, description = post(session, f"http://127.0.0.1:{listener.getsockname()[1]}/", BODY, HEADERS, 5.0)
        server.join(timeout=60)
    finally:
        listener.close()
    assert status == 500 and description == "HTTP 500 " + "x" * 200
    assert not server.is_alive() and sent["bytes"] < 1 << 30


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/services/T/B/SECRETPATH?token=SECRETQUERY",  # refused: nobody listens there
        "http://user:SECRETPASSWORD@127.0.0.1:{port}/SECRETPATH",
        "http://127.0.0.1:99999/SECRETPATH?token=SECRETQUERY",  # not a port
        "http://" + "a" * 300 + "/SECRETPATH",  # not a host name
    ],
)
def test_an_error_names_no_secret_of_the_url(session: requests.Session, url: str) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))  # bound, never listening: connections to it are refused
        status, _, description = post(session, url.format(port=unused.getsockname()[1]), BODY, HEADERS, 5.0)
    assert status is None and description
    assert "SECRET" not in description and len(description) <= 300
