"""The HTTP layer: firefly serves the functions; a small WSGI guard adds what firefly lacks.

firefly (0.1.15) parses JSON and calls the function; on its own it reads any body whole, checks
no method, compares tokens with ``==`` and turns exceptions into a 500 that leaks their text
(see ../shared/notes/firefly-0.1.15.md). ``Guard`` sits in front of it and

- answers ``GET /health`` (no token: it is for the platform's checks),
- checks ``Authorization: Token <FIREFLY_TOKEN>`` (or ``Bearer``) in constant time,
- answers 404/405 for unknown paths and methods,
- refuses bodies over ``MAX_BODY_BYTES`` with 413 without reading them (chunked ones too),
- answers 400 for anything that is not a JSON object, before firefly sees it,
- replaces any 5xx body by a generic message (the traceback goes to the log only),
- writes one JSON log line per request: never the text or the token, only length and hash.

Nothing here knows about scikit-learn.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import io
import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from firefly.app import Firefly, HTTPError

from hatespeech.config import Settings

log = logging.getLogger("hatespeech.access")
JSON = [("Content-Type", "application/json")]
Environ = dict[str, Any]
StartResponse = Callable[..., Any]
App = Callable[[Environ, StartResponse], Iterable[bytes]]


def bad_input_is_400(function: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a ``ValueError`` raised by the function into a JSON 400 (firefly would answer 500).

    ``functools.wraps`` keeps the signature, which firefly checks (422 for a missing argument)
    and lists on ``GET /``.
    """

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except ValueError as err:
            raise HTTPError("400 Bad Request", json.dumps({"error": str(err)}), dict(JSON)) from None

    return wrapper


def _reply(
    start_response: StartResponse, status: str, body: dict, headers: Iterable[tuple[str, str]] = ()
) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [*JSON, ("Content-Length", str(len(data))), *headers])
    return [data]


class Guard:
    """WSGI middleware in front of a Firefly app; see the module docstring."""

    def __init__(self, app: App, functions: Iterable[str], settings: Settings, health: Callable[[], dict]):
        self.app = app
        self.functions = {"/" + name for name in functions}
        self.settings = settings
        self.health = health
        self.token = settings.token.encode() if settings.token else None

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        record: dict[str, Any] = {"method": environ.get("REQUEST_METHOD"), "path": environ.get("PATH_INFO")}

        def recording_start_response(status: str, headers: list, exc_info: Any = None) -> Any:
            record["status"] = int(status[:3])
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        try:
            return self.route(environ, recording_start_response, record)
        except Exception:
            log.exception("unhandled error")
            return _reply(recording_start_response, "500 Internal Server Error", {"error": "internal server error"})
        finally:
            record["ms"] = round((time.perf_counter() - started) * 1000, 3)
            log.info(json.dumps(record))

    def route(self, environ: Environ, start_response: StartResponse, record: dict) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        if path == "/health":
            if method not in ("GET", "HEAD"):
                return _reply(
                    start_response,
                    "405 Method Not Allowed",
                    {"error": f"{method} is not allowed on {path}; use GET"},
                    [("Allow", "GET, HEAD")],
                )
            return _reply(start_response, "200 OK", self.health())
        if not self.authorised(environ):
            return _reply(start_response, "403 Forbidden", {"error": "Invalid auth token"})
        if path == "/":
            if method not in ("GET", "HEAD"):
                return _reply(
                    start_response,
                    "405 Method Not Allowed",
                    {"error": f"{method} is not allowed on /; use GET"},
                    [("Allow", "GET, HEAD")],
                )
            return self.app(environ, start_response)
        if path not in self.functions:
            return _reply(start_response, "404 Not Found", {"error": f"no endpoint at {path}"})
        if method != "POST":
            return _reply(
                start_response,
                "405 Method Not Allowed",
                {"error": f"{method} is not allowed on {path}; use POST with a JSON body"},
                [("Allow", "POST")],
            )

        body, problem = self.read_body(environ)
        if problem:
            return _reply(start_response, *problem)
        record["bytes"] = len(body)
        try:
            payload = json.loads(body.decode("utf-8"))
        except UnicodeDecodeError as err:
            return _reply(
                start_response,
                "400 Bad Request",
                {"error": f"the body is not valid UTF-8 ({err.reason} at byte {err.start})"},
            )
        except (ValueError, RecursionError) as err:
            return _reply(start_response, "400 Bad Request", {"error": f"the body is not valid JSON: {err}"})
        if not isinstance(payload, dict):
            return _reply(
                start_response, "400 Bad Request", {"error": 'the body must be a JSON object, such as {"text": "..."}'}
            )
        text = payload.get("text")
        if isinstance(text, str):
            record["text_chars"] = len(text)
            record["text_sha256"] = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]

        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ["CONTENT_TYPE"] = "application/json"
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        return self.call_firefly(environ, start_response)

    def authorised(self, environ: Environ) -> bool:
        if self.token is None:
            return True
        scheme, _, given = environ.get("HTTP_AUTHORIZATION", "").strip().partition(" ")
        if scheme.lower() not in ("token", "bearer"):
            return False
        return hmac.compare_digest(given.strip().encode("utf-8", "surrogateescape"), self.token)

    def read_body(self, environ: Environ) -> tuple[bytes, tuple | None]:
        """The body, read only if it fits: ``(body, None)`` or ``(b"", (status, error, headers))``."""
        limit = self.settings.max_body_bytes
        too_large = (
            "413 Payload Too Large",
            {"error": f"the body is larger than {limit} bytes"},
            [("Connection", "close")],
        )
        content_type = environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
        if content_type.startswith("multipart/"):
            return b"", (
                "415 Unsupported Media Type",
                {"error": 'send the request as JSON, such as {"text": "..."}'},
                [],
            )
        stream = environ["wsgi.input"]
        length = environ.get("CONTENT_LENGTH", "").strip()
        if length:
            if not length.isdigit():
                return b"", ("400 Bad Request", {"error": "Content-Length is not a number"}, [("Connection", "close")])
            if int(length) > limit:
                return b"", too_large
            body = stream.read(int(length))
            if len(body) < int(length):
                return b"", (
                    "400 Bad Request",
                    {"error": "the body is shorter than its Content-Length"},
                    [("Connection", "close")],
                )
            return body, None
        if environ.get("wsgi.input_terminated") or "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            body = stream.read(limit + 1)  # gunicorn de-chunks; read one byte more to see if it goes over
            if len(body) > limit:
                return b"", too_large
            return body, None
        return b"", None

    def call_firefly(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list, exc_info: Any = None) -> Callable[[bytes], None]:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        body = b"".join(self.app(environ, capture))
        status: str = captured["status"]
        if status.startswith("5"):
            log.error("firefly answered %s: %s", status, body[:500].decode("utf-8", "replace"))
            return _reply(start_response, "500 Internal Server Error", {"error": "internal server error"})
        headers = [(k, v) for k, v in captured["headers"] if k.lower() not in ("content-type", "content-length")]
        start_response(status, [*JSON, ("Content-Length", str(len(body))), *headers])
        return [body]


def create_app(functions: dict[str, Callable[..., Any]], settings: Settings, health: Callable[[], dict]) -> Guard:
    """A WSGI app serving each function at ``POST /<name>``, behind the guard."""
    firefly = Firefly()  # no auth_token: the guard checks the token, in constant time
    for name, function in functions.items():
        firefly.add_route("/" + name, function, name)
    return Guard(firefly, functions, settings, health)
