"""The HTTP layer: firefly serves the functions; a small WSGI guard adds what firefly lacks.

firefly (0.1.15) parses JSON and calls the function; on its own it reads any body whole, checks
no method, compares tokens with ``==`` and turns exceptions into a 500 that leaks their text
(see ../shared/notes/firefly-0.1.15.md). ``Guard`` sits in front of it and

- answers ``GET /health`` and ``GET /openapi.yaml`` without a token (the platform's checks; the
  API's public description),
- hands the integrations' webhooks (``/integrations/...``) their raw body and headers without a
  token: each is authenticated by its platform's signature (hatespeech/integrations),
- checks ``Authorization: Token <FIREFLY_TOKEN>`` (or ``Bearer``), or ``?key=<FIREFLY_TOKEN>`` as
  Perspective API clients send it, in constant time,
- lets ``MODERATION_API_KEY`` (what Coral and other clients hold) reach the drop-ins only
  (``DROP_INS``), and answers 403 with it anywhere else: whoever holds it can score texts and send
  Coral's moderators' scores, not write ``/feedback``, read ``/review/*`` or ``/metrics``,
- answers 404/405 for unknown paths and methods,
- refuses bodies over ``MAX_BODY_BYTES`` with 413 without reading them (chunked ones too), and
  answers 408 to a client that stops sending its body for ``READ_TIMEOUT`` seconds,
- answers 400 for anything that is not a JSON object of valid Unicode, before firefly sees it,
- replaces firefly's 500 body (the exception's text) by a generic message (the traceback goes to
  the log only),
- writes one JSON log line per request: the path, status, time, and the text's length and keyed
  hash (``text_hmac``: HMAC-SHA256 under ``LOG_HASH_KEY``, or a random key drawn when the server
  starts, so a known text cannot be tested against the logs); never the text, the token or the
  query string.

A refused body is left unread, so its connection cannot carry another request: the guard sets
``environ[CLOSE]``, and the gunicorn worker (``hatespeech.service.gunicorn_conf``) answers with
``Connection: close`` and closes the connection instead of draining what is left.

Nothing here knows about scikit-learn.
"""

from __future__ import annotations

import contextvars
import functools
import hmac
import http
import inspect
import io
import json
import logging
import secrets
import time
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any

from firefly.app import Firefly, FireflyFunction, HTTPError

from hatespeech.config import OPENAPI_PATH, Settings
from hatespeech.core.moderator import ModelUnavailable
from hatespeech.core.validate import UnknownFields
from hatespeech.resilience import StoreUnavailable
from hatespeech.service import compat, metrics

log = logging.getLogger("hatespeech.access")
JSON = [("Content-Type", "application/json")]
CLOSE = "hatespeech.close_connection"  # environ key: close the connection after this response
PAYLOAD = "hatespeech.payload"  # environ key: the JSON object the guard parsed from the body
Environ = dict[str, Any]
StartResponse = Callable[..., Any]
App = Callable[[Environ, StartResponse], Iterable[bytes]]
Problem = tuple[str, dict, list]  # status, JSON body, extra headers
# The OpenAI and Perspective drop-ins: all that MODERATION_API_KEY reaches.
DROP_INS = frozenset({"/v1/moderations", "/v1alpha1/comments:analyze", "/v1alpha1/comments:suggestscore"})
# Which credential the request in this thread came with: firefly calls the function in the
# guard's own thread and context, so the function can ask (``moderation_key_used``).
_credential: contextvars.ContextVar[str | None] = contextvars.ContextVar("hatespeech_credential", default=None)
MODERATION_KEY, TOKEN = "moderation-key", "token"  # the credentials, as the access log and feedback name them


def moderation_key_used() -> bool:
    """The request being answered came with ``MODERATION_API_KEY`` (not ``FIREFLY_TOKEN``)."""
    return _credential.get() == MODERATION_KEY


def origin() -> str:
    """Which credential the request being answered came with, as feedback records it: ``token``
    (FIREFLY_TOKEN), ``moderation-key`` (MODERATION_API_KEY), or ``open`` (no token is set)."""
    return _credential.get() or "open"


def bad_input_is_400(function: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a ``ValueError`` raised by the function into a JSON 400 (firefly would answer 500), and
    ``UnknownFields`` into the 422 firefly answers for an unexpected argument (one status for it everywhere).

    ``functools.wraps`` keeps the signature, which firefly checks (422 for a missing argument)
    and lists on ``GET /``.
    """

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except UnknownFields as err:
            raise HTTPError("422 Unprocessable Entity", json.dumps({"error": str(err)}), dict(JSON)) from None
        except ModelUnavailable as err:  # a language model that failed to load on its first post (first-use)
            log.error("%s", err)
            raise HTTPError("503 Service Unavailable", json.dumps({"error": str(err)}), dict(JSON)) from None
        except ValueError as err:
            raise HTTPError("400 Bad Request", json.dumps({"error": str(err)}), dict(JSON)) from None

    return wrapper


def _reply(
    start_response: StartResponse, status: str, body: dict, headers: Iterable[tuple[str, str]] = ()
) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [*JSON, ("Content-Length", str(len(data))), *headers])
    return [data]


def _not_allowed(start_response: StartResponse, method: str, path: str) -> list[bytes]:
    return _reply(
        start_response,
        "405 Method Not Allowed",
        {"error": f"{method} is not allowed on {path}; use GET"},
        [("Allow", "GET, HEAD")],
    )


class Guard:
    """WSGI middleware in front of a Firefly app; see the module docstring."""

    def __init__(
        self,
        app: App,
        functions: Iterable[str],
        settings: Settings,
        health: Callable[[], dict],
        openapi: bytes | None = None,
        gets: dict[str, Callable[[], dict]] | None = None,
        pages: Any = None,  # the review page (hatespeech.review.web.ReviewPages): is_public, handles, WSGI
        integrations: dict[str, Callable[..., Any]] | None = None,
    ):
        self.app = app
        self.integrations = dict(integrations or {})  # path → handler(body, header) → Reply
        self.functions = {"/" + name for name in functions}
        self.gets = {"/" + name: answer for name, answer in (gets or {}).items()}  # GET paths, behind the token
        self.settings = settings
        self.health = health
        self.openapi = openapi
        self.pages = pages
        self.token = settings.token.encode() if settings.token else None
        self.moderation_key = settings.moderation_key.encode() if settings.moderation_key else None
        self.metrics_token = (settings.metrics_token or settings.token or "").encode() or None
        # Drawn once, before gunicorn forks (preload): every worker's lines agree until a restart.
        self.hash_key = settings.log_hash_key.encode() if settings.log_hash_key else secrets.token_bytes(32)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        # PATH_INFO only: the query string may hold the token (?key=).
        record: dict[str, Any] = {"method": environ.get("REQUEST_METHOD"), "path": environ.get("PATH_INFO")}

        def recording_start_response(status: str, headers: list, exc_info: Any = None) -> Any:
            record["status"] = int(status[:3])
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        credential = _credential.set(None)
        try:
            if (environ.get("PATH_INFO") or "").startswith("/v1/"):
                return self.openai_shaped(environ, recording_start_response, record)
            return self.route(environ, recording_start_response, record)
        except Exception:
            log.exception("unhandled error")
            return _reply(recording_start_response, "500 Internal Server Error", {"error": "internal server error"})
        finally:
            _credential.reset(credential)
            seconds = time.perf_counter() - started
            record["ms"] = round(seconds * 1000, 3)
            log.info(json.dumps(record))
            metrics.observe_request(record.get("path") or "", record.get("status", 500), seconds)

    def route(self, environ: Environ, start_response: StartResponse, record: dict) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        if path == "/health":
            if method not in ("GET", "HEAD"):
                return _not_allowed(start_response, method, path)
            return _reply(start_response, "200 OK", self.health())
        if path == "/openapi.yaml" and self.openapi is not None:
            if method not in ("GET", "HEAD"):
                return _not_allowed(start_response, method, path)
            start_response("200 OK", [("Content-Type", "application/yaml"), ("Content-Length", str(len(self.openapi)))])
            return [self.openapi]
        if path == "/metrics":  # its own token: METRICS_TOKEN, else FIREFLY_TOKEN
            if method not in ("GET", "HEAD"):
                return _not_allowed(start_response, method, path)
            if not self.authorised(environ, self.metrics_token, query=False):
                return _reply(start_response, "403 Forbidden", {"error": "Invalid auth token"})
            body = metrics.render()
            start_response("200 OK", [("Content-Type", metrics.CONTENT_TYPE), ("Content-Length", str(len(body)))])
            return [b""] if method == "HEAD" else [body]
        if self.pages is not None and self.pages.is_public(path):
            return self.pages(environ, start_response)
        if path in self.integrations:  # the platform's signature, checked by the handler, stands for the token
            return self.integration(environ, start_response, record, self.integrations[path])
        if self.moderation_key is not None and self.authorised(environ, self.moderation_key):
            if path not in DROP_INS:
                reach = ", ".join(sorted(DROP_INS))
                error = f"MODERATION_API_KEY reaches only {reach}; {path} needs FIREFLY_TOKEN"
                return _reply(start_response, "403 Forbidden", {"error": error})
            record["credential"] = MODERATION_KEY
            _credential.set(MODERATION_KEY)
        elif not self.authorised(environ, self.token):
            return _reply(start_response, "403 Forbidden", {"error": "Invalid auth token"})
        elif self.token is not None:
            _credential.set(TOKEN)
        if self.pages is not None and self.pages.handles(path):
            try:
                return self.pages(environ, start_response)
            except StoreUnavailable as err:  # the queue's store is away: the page says so and retries
                log.warning(json.dumps({"review": "store_unavailable", "error": str(err)[:200]}))
                unavailable = {"error": "the review queue's store is unavailable; try again later"}
                return _reply(start_response, "503 Service Unavailable", unavailable, [("Retry-After", "5")])
        if path == "/":
            if method not in ("GET", "HEAD"):
                return _not_allowed(start_response, method, path)
            return self.app(environ, start_response)
        if path in self.gets and method in ("GET", "HEAD"):
            try:
                return _reply(start_response, "200 OK", self.gets[path]())
            except HTTPError as err:  # as firefly answers a function's HTTPError (say, 503 from a store)
                data = err.body.encode()
                start_response(str(err.status_code), [*JSON, ("Content-Length", str(len(data)))])
                return [data]
        if path not in self.functions:
            if path in self.gets:
                return _not_allowed(start_response, method, path)
            return _reply(start_response, "404 Not Found", {"error": f"no endpoint at {path}"})
        if method != "POST":
            use = "GET, or POST with a JSON body" if path in self.gets else "POST with a JSON body"
            return _reply(
                start_response,
                "405 Method Not Allowed",
                {"error": f"{method} is not allowed on {path}; use {use}"},
                [("Allow", "GET, HEAD, POST" if path in self.gets else "POST")],
            )

        body, problem = self.read_body(environ)
        if problem:
            environ[CLOSE] = True  # the rest of the body is unread: this connection is done
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
        if b"\\u" in body and (where := _lone_surrogate(payload)) is not None:
            return _reply(
                start_response,
                "400 Bad Request",
                {"error": f"the body has a lone surrogate escape ({where}), which is not valid Unicode"},
            )
        text = payload.get("text")
        if isinstance(text, str):
            record["text_chars"] = len(text)
            record["text_hmac"] = hmac.digest(self.hash_key, text.encode("utf-8"), "sha256")[:8].hex()

        environ[PAYLOAD] = payload  # parsed once, here: ``_Function`` hands it to the function
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ["CONTENT_TYPE"] = "application/json"
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        return self.call_firefly(environ, start_response)

    def openai_shaped(self, environ: Environ, start_response: StartResponse, record: dict) -> Iterable[bytes]:
        """``route``, with every ``{"error": "..."}`` refusal in OpenAI's error shape (its client shows the message)."""
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list, exc_info: Any = None) -> Callable[[bytes], None]:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        body = b"".join(self.route(environ, capture, record))
        status, headers = captured["status"], captured["headers"]
        if status.startswith("403"):  # a missing or wrong token: OpenAI answers 401, which its client names
            status, headers = "401 Unauthorized", [*headers, ("WWW-Authenticate", 'Bearer realm="hatespeech-detect"')]
        if int(status[:3]) >= 400:
            try:
                error = json.loads(body).get("error")
            except (ValueError, AttributeError):
                error = None
            if isinstance(error, str):
                body = json.dumps(compat.openai_error_body(error, int(status[:3]))).encode()
                headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
                headers.append(("Content-Length", str(len(body))))
        start_response(status, headers)
        return [body]

    @staticmethod
    def authorised(environ: Environ, token: bytes | None, query: bool = True) -> bool:
        """The token from ``Authorization: Token|Bearer <it>``, or else (``query``) from ``?key=<it>``, is right.

        The one place a token is parsed and compared (in constant time). WSGI gives header values and
        the query string as latin-1 strings of the raw bytes: they are turned back into those bytes
        and compared with the token's UTF-8 bytes.
        """
        if token is None:
            return True
        header = environ.get("HTTP_AUTHORIZATION", "")
        if header:
            scheme, _, given = header.strip().partition(" ")
            if scheme.lower() not in ("token", "bearer"):
                return False
            return hmac.compare_digest(_raw(given.strip()), token)
        key = _query_key(environ.get("QUERY_STRING", "")) if query else None
        return key is not None and hmac.compare_digest(key, token)

    def integration(
        self, environ: Environ, start_response: StartResponse, record: dict, handler: Callable[..., Any]
    ) -> Iterable[bytes]:
        """A platform's webhook: the raw body (signatures are over its bytes) and headers to ``handler``."""
        method = environ.get("REQUEST_METHOD", "")
        if method != "POST":
            error = {"error": f"{method} is not allowed; use POST"}
            return _reply(start_response, "405 Method Not Allowed", error, [("Allow", "POST")])
        body, problem = self.read_body(environ, self.settings.integrations.max_body_bytes)
        if problem:
            environ[CLOSE] = True
            return _reply(start_response, *problem)
        record["bytes"] = len(body)
        reply = handler(body, lambda name: environ.get("HTTP_" + name.upper().replace("-", "_")))
        status = f"{reply.status} {http.HTTPStatus(reply.status).phrase}"
        if reply.body is None:
            start_response(status, [("Content-Length", "0"), *reply.headers])
            return [b""]
        return _reply(start_response, status, reply.body, reply.headers)

    def read_body(self, environ: Environ, limit: int | None = None) -> tuple[bytes, Problem | None]:
        """The body, read only if it fits: ``(body, None)`` or ``(b"", (status, error, headers))``."""
        limit = limit or self.settings.max_body_bytes
        too_large: Problem = ("413 Payload Too Large", {"error": f"the body is larger than {limit} bytes"}, [])
        content_type = environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
        if content_type.startswith("multipart/"):
            return b"", (
                "415 Unsupported Media Type",
                {"error": 'send the request as JSON, such as {"text": "..."}'},
                [],
            )
        length = environ.get("CONTENT_LENGTH", "").strip()
        if length:
            if not length.isdigit():
                return b"", ("400 Bad Request", {"error": "Content-Length is not a number"}, [])
            if int(length) > limit:
                return b"", too_large
            body = self.read_stream(environ, int(length))
            if isinstance(body, tuple):
                return b"", body
            if len(body) < int(length):
                return b"", ("400 Bad Request", {"error": "the body is shorter than its Content-Length"}, [])
            return body, None
        if environ.get("wsgi.input_terminated") or "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            body = self.read_stream(environ, limit + 1)  # gunicorn de-chunks; one byte more shows it goes over
            if isinstance(body, tuple):
                return b"", body
            if len(body) > limit:
                return b"", too_large
            return body, None
        return b"", None

    def read_stream(self, environ: Environ, size: int) -> bytes | Problem:
        """Up to ``size`` bytes of the body, or the problem: the client stalled or sent broken chunks.

        gunicorn reads the body from a socket without a timeout: a client that stops sending
        would hold this thread for ever. ``READ_TIMEOUT`` bounds each wait for more bytes.
        """
        sock = environ.get("gunicorn.socket")
        if sock is not None:
            sock.settimeout(self.settings.read_timeout)
        try:
            return environ["wsgi.input"].read(size)
        except TimeoutError:
            seconds = self.settings.read_timeout
            return ("408 Request Timeout", {"error": f"the body did not arrive: nothing for {seconds} s"}, [])
        except Exception as err:  # noqa: BLE001 (gunicorn's parse errors have no common public base)
            # The client may be gone (then nobody reads this); the connection is closed either way.
            return ("400 Bad Request", {"error": f"the body could not be read: {_describe(err)}"}, [])

    def call_firefly(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list, exc_info: Any = None) -> Callable[[bytes], None]:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        body = b"".join(self.app(environ, capture))
        status: str = captured["status"]
        # firefly's own 500 carries the exception's text: replaced. Another 5xx (503: the feedback
        # store is down) can only come from an HTTPError a function raised, with its own JSON body.
        if status.startswith("500"):
            log.error("firefly answered %s: %s", status, body[:500].decode("utf-8", "replace"))
            return _reply(start_response, "500 Internal Server Error", {"error": "internal server error"})
        headers = [(k, v) for k, v in captured["headers"] if k.lower() not in ("content-type", "content-length")]
        start_response(status, [*JSON, ("Content-Length", str(len(body))), *headers])
        return [body]


def _raw(value: str) -> bytes:
    """The bytes a WSGI string stands for (PEP 3333: latin-1), or b"" if it is not such a string."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return b""


def _query_key(query: str) -> bytes | None:
    """The first ``key=`` parameter of a query string, percent-decoded to bytes.

    >>> _query_key("alt=json&key=s3cr%C3%A9t&key=other")
    b's3cr\\xc3\\xa9t'
    """
    for part in query.split("&"):
        name, equals, value = part.partition("=")
        if equals and urllib.parse.unquote(name) == "key":
            return urllib.parse.unquote_to_bytes(value.replace("+", " "))
    return None


def _lone_surrogate(payload: object) -> str | None:
    """Which character of ``payload`` (parsed JSON) is half a surrogate pair, alone; or None.

    JSON lets ``"\\ud800"`` through, but no such character exists in Unicode: the text could not
    be written as UTF-8, hashed or logged.

    >>> _lone_surrogate({"text": "😀"}) is None, _lone_surrogate({"text": "ab" + chr(0xD800)})
    (True, 'U+D800')
    """
    try:
        json.dumps(payload, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as err:
        return f"U+{ord(err.object[err.start]):04X}"
    return None


def _describe(err: Exception) -> str:
    """A body-reading error in words, without echoing what the client sent."""
    names = {
        "InvalidChunkSize": "a chunk size is not valid",
        "ChunkMissingTerminator": "a chunk does not end with CRLF",
        "InvalidChunkExtension": "a chunk extension is not valid",
        "NoMoreData": "the connection closed before the body ended",
    }
    if type(err).__name__ in names:
        return names[type(err).__name__]
    if isinstance(err, OSError):
        return "the connection broke"
    return f"malformed ({type(err).__name__})"


class _Function(FireflyFunction):
    """firefly's function wrapper, taking the body the guard already parsed instead of parsing it again."""

    def get_inputs(self, request: Any) -> Any:
        payload = request.environ.get(PAYLOAD)
        return payload if payload is not None else super().get_inputs(request)


def create_app(
    functions: dict[str, Callable[..., Any]],
    settings: Settings,
    health: Callable[[], dict],
    gets: dict[str, Callable[[], dict]] | None = None,
    pages: Any = None,
    integrations: dict[str, Callable[..., Any]] | None = None,
) -> Guard:
    """A WSGI app serving each function at ``POST /<name>``, each of ``gets`` at ``GET /<name>``, behind the guard;
    and the integrations' webhooks (each path its handler)."""
    firefly = Firefly()  # no auth_token: the guard checks the token, in constant time
    for name, function in functions.items():
        # firefly calls inspect.signature on every request; a function that carries its signature
        # answers at once (inspect's own fast path) instead of unwrapping decorators each time.
        function.__signature__ = inspect.signature(function)  # type: ignore[attr-defined]  # inspect reads it; typeshed's functions lack it
        firefly.mapping["/" + name] = _Function(function, name)  # what firefly.add_route does, with our class
    openapi = OPENAPI_PATH.read_bytes() if OPENAPI_PATH.is_file() else None
    metrics.register_endpoints([*("/" + name for name in [*functions, *(gets or {})]), *(integrations or {})])
    return Guard(firefly, functions, settings, health, openapi, gets, pages, integrations)
