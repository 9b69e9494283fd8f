"""HTTP/1.1 over a bare socket, for requests no well-behaved client would send.

``Connection`` keeps one socket alive between requests (gunicorn's gthread worker keeps
connections alive), reconnects when the server closes it, and parses just enough of a response:
status, headers, and a body of ``Content-Length`` bytes.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass


@dataclass
class Response:
    status: int
    headers: dict[str, str]  # names lower-cased
    body: bytes
    closed: bool  # the server closed the connection after it

    def json(self) -> object:
        return json.loads(self.body)


class Connection:
    def __init__(self, port: int, timeout: float = 30):
        self.port, self.timeout = port, timeout
        self.sock: socket.socket | None = None
        self.buffer = b""

    def open(self) -> socket.socket:
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout)
            self.buffer = b""
        return self.sock

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = None

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def wait_closed(self, timeout: float) -> bool:
        """Whether the server closes the connection within ``timeout`` seconds (sending nothing more)."""
        if self.sock is None:
            return True
        self.sock.settimeout(timeout)
        try:
            return not self._fill()
        except TimeoutError:
            return False
        finally:
            self.close()

    def send(self, data: bytes, half_close: bool = False) -> Response:
        """Send raw bytes (one request), then read one response. ``half_close``: then send EOF."""
        sock = self.open()
        try:
            sock.sendall(data)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may answer and close before it reads everything: read its answer
        response = self.read_response(head_only=data.startswith(b"HEAD "))
        if response.closed or half_close:
            self.close()
        return response

    def _fill(self) -> bool:
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        self.buffer += chunk
        return bool(chunk)

    def read_response(self, head_only: bool = False) -> Response:
        while True:
            while b"\r\n\r\n" not in self.buffer:
                if not self._fill():
                    raise ConnectionError(f"the server closed the connection without an answer: {self.buffer[:200]!r}")
            head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            if 100 <= status < 200:
                continue  # 100 Continue: the real answer follows
            length = 0 if head_only else int(headers.get("content-length", "0"))
            while len(self.buffer) < length:
                if not self._fill():
                    break
            body, self.buffer = self.buffer[:length], self.buffer[length:]
            return Response(status, headers, body, headers.get("connection", "").lower() == "close")


def exchange(port: int, data: bytes, timeout: float = 30, half_close: bool = False) -> Response:
    """One request on a connection of its own."""
    with Connection(port, timeout) as conn:
        return conn.send(data, half_close)


def request(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    """The bytes of a well-formed HTTP/1.1 request (``Content-Length`` added when there is a body)."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body and not any(name.lower() in ("content-length", "transfer-encoding") for name in headers or {}):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
