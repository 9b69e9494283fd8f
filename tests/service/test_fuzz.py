"""Fuzzing the production server: over 10,000 generated bad requests, zero 5xx.

Every answer must be a 4xx (or a 200 for the rare input that happens to be good) whose error is
a JSON body with ``Content-Type: application/json`` saying what is wrong; afterwards the server
still answers a good request and has logged no traceback.

Hypothesis draws each example as a batch of ``BATCH`` requests, sent by 4 threads over kept-alive
raw sockets (one per thread): fast, and a failing batch still shrinks to a small one.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rawhttp import Connection, Response, exchange, request

from testing.support import Server, gunicorn

BATCH = 25
SENT: Counter[str] = Counter()  # requests sent, by test
STATUSES: Counter[int] = Counter()  # answers, by status
FUZZ = dict(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


class Clients:
    """4 threads, each with its own kept-alive connection."""

    def __init__(self, port: int):
        self.port = port
        self.pool = ThreadPoolExecutor(4)
        self.local = threading.local()
        self.connections: list[Connection] = []

    def _send(self, item: tuple[bytes, bool]) -> tuple[bytes, Response]:
        raw, half_close = item
        if half_close:  # the request ends with EOF: a connection of its own
            return raw, exchange(self.port, raw, timeout=30, half_close=True)
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = Connection(self.port, timeout=30)
            self.connections.append(conn)
        reused = conn.sock is not None
        try:
            return raw, conn.send(raw)
        except ConnectionError:
            conn.close()
            if not reused:
                raise
            return raw, conn.send(raw)  # the kept-alive connection had expired: once more, afresh

    def send(self, test: str, items: list[tuple[bytes, bool]]) -> None:
        for raw, response in self.pool.map(self._send, items):
            SENT[test] += 1
            STATUSES[response.status] += 1
            check(raw, response)

    def close(self) -> None:
        self.pool.shutdown()
        for conn in self.connections:
            conn.close()


def check(raw: bytes, response: Response) -> None:
    where = f"request {raw[:300]!r} → {response.status} {response.body[:300]!r}"
    assert response.status < 500, where
    if raw.startswith(b"HEAD "):
        return
    assert response.headers.get("content-type") in ("application/json", "application/yaml"), where
    if response.status >= 400:
        error = json.loads(response.body)["error"]
        assert isinstance(error, str) and error, where


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with gunicorn(tmp_path_factory.mktemp("fuzz"), READ_TIMEOUT="2") as server:
        yield server.wait_ready()
        assert "Traceback" not in server.output()


@pytest.fixture(scope="module")
def clients(server: Server) -> Iterator[Clients]:
    clients = Clients(server.port)
    yield clients
    clients.close()


def still_serves(server: Server) -> None:
    response = exchange(server.port, request("POST", "/predict", b'{"text": "have a nice day"}'))
    assert response.status == 200 and len(response.json()) == 3
    assert "Traceback" not in server.output()


# --- strategies ---------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
CONTENT_TYPES = [
    None,
    "application/json",
    "application/json; charset=latin-1",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "application/xml",
    "*/*",
    "",
    "application/json\x7f",
]


@st.composite
def bad_bodies(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(0, 13))
    if kind == 0:  # random bytes
        return draw(st.binary(max_size=200))
    if kind == 1:  # valid JSON, cut short
        data = json.dumps({"text": draw(st.text(max_size=40)), "x": draw(json_values)}).encode()
        return data[: draw(st.integers(0, max(0, len(data) - 1)))]
    if kind == 2:  # text of the wrong type
        return json.dumps({"text": draw(json_values.filter(lambda v: not isinstance(v, str)))}).encode()
    if kind == 3:  # not an object
        return json.dumps(draw(json_values.filter(lambda v: not isinstance(v, dict)))).encode()
    if kind == 4:  # deep nesting, balanced or not
        n = draw(st.integers(1, 40_000))
        return b'{"text": ' + b"[" * n + b"]" * draw(st.sampled_from([0, n])) + b"}"
    if kind == 5:  # huge numbers
        digits = "9" * draw(st.integers(300, 30_000))
        return draw(st.sampled_from([f'{{"text": {digits}}}', f'{{"text": 1e{digits}}}', f"{digits}"])).encode()
    if kind == 6:  # invalid UTF-8 inside a string
        junk = draw(st.binary(min_size=1, max_size=8).filter(lambda b: any(c >= 0x80 for c in b)))
        return b'{"text": "abc' + junk + b'"}'
    if kind == 7:  # NUL bytes, raw (not valid in JSON) or escaped
        return draw(st.sampled_from([b'{"text": "a\x00b"}', b'{"text": "\x00"}', b'\x00{"text": "a"}']))
    if kind == 8:  # lone surrogates
        code = draw(st.integers(0xD800, 0xDFFF))
        text = draw(st.text(max_size=10))
        return ('{"text": ' + json.dumps(text)[:-1] + f'\\u{code:04x}"' + "}").encode()
    if kind == 9:  # only white space
        return json.dumps({"text": draw(st.text(alphabet=" \t\n\r\u00a0\u2003\u3000", max_size=30))}).encode()
    if kind == 10:  # too long
        return json.dumps({"text": "x" * draw(st.integers(10_001, 12_000))}).encode()
    if kind == 11:  # missing or unknown fields
        fields = draw(st.dictionaries(st.text(max_size=10).filter(lambda k: k != "text"), json_values, max_size=3))
        return json.dumps(fields if draw(st.booleans()) else {**fields, "text": "hi", "extra": 1}).encode()
    if kind == 12:  # over the body limit
        return b'{"text": "' + b"a" * draw(st.integers(65_536, 70_000)) + b'"}'
    return draw(st.sampled_from([b"", b"null", b"[]", b"{}", b'{"text": null}', b"NaN", b'{"text": Infinity}']))


@st.composite
def bad_predict_requests(draw: st.DrawFn) -> tuple[bytes, bool]:
    body = draw(bad_bodies())
    content_type = draw(st.sampled_from(CONTENT_TYPES))
    headers = {"Content-Type": content_type} if content_type is not None else {}
    headers["Content-Length"] = str(len(body))
    return request("POST", "/predict", body, headers), False


tchar = st.sampled_from("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND", "get", "Post"]
PATHS = ["/predict", "/health", "/", "/openapi.yaml"]


@st.composite
def odd_methods_and_paths(draw: st.DrawFn) -> tuple[bytes, bool]:
    method = draw(st.sampled_from(METHODS) | st.text(tchar, min_size=1, max_size=10).filter(lambda m: m != "HEAD"))
    path = draw(
        st.sampled_from(PATHS)
        | st.builds(lambda p: "/" + p, st.text(st.sampled_from("abcz09-._~!$&'()*+,;=:@/%"), max_size=30))
        | st.builds(lambda bs: "/" + "".join(f"%{b:02x}" for b in bs), st.binary(max_size=10))
        | st.sampled_from(PATHS).map(lambda p: p + "/")
        | st.sampled_from(PATHS).map(lambda p: p + "?key=nope&text=hi")
    )
    body = draw(st.sampled_from([b"", b'{"text": "hi"}', b"{", b"\xff"]))
    headers = {"Content-Length": str(len(body))} if body or draw(st.booleans()) else {}
    return request(method, path, body, headers), False


header_values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=40)
ODD_HEADERS = [
    ("Content-Length", "abc"),
    ("Content-Length", "1, 2"),
    ("Content-Length", "+5"),
    ("Content-Length", "0x10"),
    ("Content-Length", " 3 "),
    ("Transfer-Encoding", "chunked, chunked"),
    ("Transfer-Encoding", "identity"),
    ("Transfer-Encoding", "gzip, chunked"),
    ("Expect", "100-continue"),
    ("Expect", "200-ok"),
    ("Authorization", "Token"),
    ("Authorization", "Bearer \u00e9\u00e9"),
    ("Authorization", "Basic Zm9vOmJhcg=="),
    ("Host", ""),
    ("Connection", "upgrade"),
    ("Upgrade", "h2c"),
    ("Upgrade", "websocket"),
    ("Content-Type", "multipart/form-data"),
    ("Content-Encoding", "gzip"),
    ("X-Forwarded-Proto", "https"),
    ("Forwarded", "for=1.2.3.4"),
    ("Range", "bytes=0-1"),
]


@st.composite
def odd_headers(draw: st.DrawFn) -> tuple[bytes, bool]:
    headers = draw(
        st.lists(
            st.sampled_from(ODD_HEADERS)
            | st.tuples(st.text(tchar, min_size=1, max_size=20), header_values)
            | st.tuples(st.sampled_from(["Bad Name", "Bad:Name", "Ünï", "X\x00"]), header_values),
            max_size=5,
        )
    )
    body = draw(st.sampled_from([b'{"text": "hi"}', b"", b"x"]))
    path = draw(st.sampled_from(PATHS))
    lines = [f"{draw(st.sampled_from(['POST', 'GET']))} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in headers]
    if not any(n.lower() in ("content-length", "transfer-encoding") for n, _ in headers):
        lines.append(f"Content-Length: {len(body)}")
    chunked = any(n.lower() == "transfer-encoding" for n, _ in headers)
    if chunked:
        body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body) if body else b"0\r\n\r\n"
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
    return raw, True  # odd framing may leave the server waiting for more: end with EOF


@st.composite
def garbage_and_truncation(draw: st.DrawFn) -> tuple[bytes, bool]:
    if draw(st.booleans()):  # a garbage request line
        line = draw(
            st.binary(min_size=1, max_size=60).filter(lambda b: b"\r" not in b and b"\n" not in b and b.strip())
        )
        return line + b"\r\nHost: 127.0.0.1\r\n\r\n", True
    body = json.dumps({"text": draw(st.text(min_size=1, max_size=50))}).encode()
    cut = draw(st.integers(0, len(body) - 1))
    head = f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    return head + body[:cut], True  # a truncated body, then EOF


# --- tests ----------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("strategy", "examples"),
    [
        (bad_predict_requests(), 160),  # 4,000 requests
        (odd_methods_and_paths(), 80),  # 2,000
        (odd_headers(), 80),  # 2,000
        (garbage_and_truncation(), 80),  # 2,000
    ],
    ids=["bodies", "methods-and-paths", "headers", "garbage-and-truncation"],
)
def test_bad_requests_get_a_json_4xx(
    server: Server, clients: Clients, strategy: st.SearchStrategy, examples: int
) -> None:
    name = repr(strategy)[:40]

    @settings(max_examples=examples, **FUZZ)
    @given(st.lists(strategy, min_size=BATCH, max_size=BATCH))
    def fuzz(items: list[tuple[bytes, bool]]) -> None:
        clients.send(name, items)

    fuzz()
    assert SENT[name] >= examples * BATCH  # the four together: 10,000 requests
    still_serves(server)
