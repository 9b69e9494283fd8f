"""Limits of the production server: body size, text length, request line and headers, slow clients.

Each answer is JSON with a message, and a refused request leaves the server free for others.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from rawhttp import Connection, exchange, request

from testing.support import Server, accepted, gunicorn, wait_for

# Seconds. Short, so the stalled clients' 408 comes soon; yet long against a slow client's gaps (a
# twentieth of it), so that a busy machine that stretches a gap does not cut a steady client off.
READ_TIMEOUT = 5


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The production server with a short READ_TIMEOUT, 2 workers × 4 threads."""
    with gunicorn(tmp_path_factory.mktemp("limits"), READ_TIMEOUT=str(READ_TIMEOUT), THREADS="4") as server:
        yield server.wait_ready()


def _error(response, status: int, words: str) -> None:
    assert response.status == status, response
    assert response.headers["content-type"] == "application/json"
    assert words in response.json()["error"]


def _good(port: int) -> None:
    response = exchange(port, request("POST", "/predict", b'{"text": "have a nice day"}'), timeout=10)
    assert response.status == 200 and set(response.json()) == {"hate speech", "offensive language", "neither"}


def test_huge_content_length_is_refused_unread(server: Server) -> None:
    with Connection(server.port) as conn:  # a server that waited for the body would answer 408 (READ_TIMEOUT)
        head = request("POST", "/predict", headers={"Content-Length": str(10**12)})
        response = conn.send(head + b'{"text": "')
        _error(response, 413, "larger than 65536 bytes")
        assert response.closed, "the unread rest of the body cannot carry another request"
        assert conn.wait_closed(5)
    _good(server.port)


def test_chunked_body_over_the_limit_is_refused(server: Server) -> None:
    chunks = b"".join(b"%x\r\n%s\r\n" % (8192, b"a" * 8192) for _ in range(9)) + b"0\r\n\r\n"
    response = exchange(server.port, request("POST", "/predict", chunks, {"Transfer-Encoding": "chunked"}))
    _error(response, 413, "larger than 65536 bytes")
    _good(server.port)


def test_small_chunked_body_is_served(server: Server) -> None:
    body = b'{"text": "have a nice day"}'
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    response = exchange(server.port, request("POST", "/predict", chunked, {"Transfer-Encoding": "chunked"}))
    assert response.status == 200


def test_malformed_chunks_are_a_400(server: Server) -> None:
    response = exchange(
        server.port, request("POST", "/predict", b"zz\r\nabc\r\n0\r\n\r\n", {"Transfer-Encoding": "chunked"})
    )
    _error(response, 400, "chunk size is not valid")


def test_text_over_max_text_chars_is_a_400(server: Server) -> None:
    body = json.dumps({"text": "x" * 10_001}).encode()
    _error(exchange(server.port, request("POST", "/predict", body)), 400, "the maximum is 10000")


@pytest.mark.parametrize(
    ("raw", "status", "words"),
    [
        (request("GET", "/" + "a" * 5000), 414, "request line is too long"),
        (request("GET", "/health", headers={f"X-{i}": "y" for i in range(60)}), 431, "too many headers"),
        (request("GET", "/health", headers={"X-Big": "a" * 9000}), 431, "too many headers, or one too large"),
        (b"GARBAGE\r\n\r\n", 400, "request line is not valid"),
        (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 400, "HTTP version"),
        (request("POST", "/predict", b"{}", {"Content-Length": "-1"}), 400, "header is not valid"),
        (request("POST", "/predict", b"", {"Transfer-Encoding": "gzip"}), 400, "not valid"),
        (request("POST", "/predict", b"{}", {"Expect": "tea"}), 417, "100-continue"),
    ],
    ids=["request-line", "header-count", "header-size", "garbage", "http2", "negative-length", "gzip", "expect"],
)
def test_gunicorn_refusals_are_json_too(server: Server, raw: bytes, status: int, words: str) -> None:
    with Connection(server.port) as conn:
        response = conn.send(raw)
        _error(response, status, words)
        assert response.closed and conn.wait_closed(5)


def _stall_mid_body(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(request("POST", "/predict", headers={"Content-Length": "1000"}) + b'{"text": "')
    return sock


def _stall_mid_headers(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    return sock


def _answer(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    sock.close()
    return data


@pytest.mark.parametrize("stall", [_stall_mid_body, _stall_mid_headers], ids=["mid-body", "mid-headers"])
def test_stalled_clients_block_nobody_and_are_cut_off(server: Server, stall) -> None:
    """6 clients stall (the server has 8 threads): good requests still pass, the stalled end."""
    stalled = [stall(server.port) for _ in range(6)]
    wait_for(lambda: all(map(accepted, stalled)), lambda: f"{sum(map(accepted, stalled))} of 6 accepted")
    with ThreadPoolExecutor(4) as pool:  # each must succeed (how fast: bench/attack.py's slow-client mix)
        list(pool.map(lambda _: _good(server.port), range(8)))

    # Each stalled request ends: 408 mid-body (the guard's answer), a close mid-headers.
    with ThreadPoolExecutor(len(stalled)) as pool:
        answers = list(pool.map(_answer, stalled))
    for answer in answers:
        if stall is _stall_mid_body:
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 408 ") and b"application/json" in head
            assert "did not arrive" in json.loads(body)["error"]
        else:
            assert answer == b""
    assert "Traceback" not in server.output()


def test_a_slow_but_steady_body_is_served(server: Server) -> None:
    """READ_TIMEOUT bounds each wait for data, not the whole body: a slow uplink still gets through."""
    body = b'{"text": "have a nice day"}'  # 27 bytes, one at a time: 27 gaps of READ_TIMEOUT / 20 > READ_TIMEOUT
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    sock.sendall(request("POST", "/predict", headers={"Content-Length": str(len(body)), "Connection": "close"}))
    for i in range(len(body)):
        time.sleep(READ_TIMEOUT / 20)  # a slow client, not a wait: the whole body takes longer than READ_TIMEOUT
        sock.sendall(body[i : i + 1])
    assert _answer(sock).startswith(b"HTTP/1.1 200 ")


def test_body_limit_is_configurable(tmp_path: Path) -> None:
    with gunicorn(tmp_path, MAX_BODY_BYTES="100", WEB_CONCURRENCY="1") as small:
        small.wait_ready()
        body = json.dumps({"text": "a" * 200}).encode()
        _error(exchange(small.port, request("POST", "/predict", body)), 413, "larger than 100 bytes")
