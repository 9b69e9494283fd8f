"""The review page over HTTP: the public shell and static files, and the token-protected data calls.

- ``GET /review``: the page (``static/index.html``); ``GET /review/static/<file>``: its script,
  style sheet and icon. Public: they hold no data. Served with a ``Content-Security-Policy``
  that allows scripts, styles and calls from this origin only (no inline script, nothing
  from outside), so the page works offline and a post's text can never run as code.
- ``GET /review/queue?action=&class=&thread=&before=&limit=``: a page of the queue (JSON).
- ``GET /review/model``: the model, the thresholds in force, the card's out-of-fold threshold
  curves (for the sliders), the text retention and the retrain command.

The service's guard checks the token for the data calls before they get here (``is_public``
says which paths it must not check).
"""

from __future__ import annotations

import hashlib
import json
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from hatespeech.review import ABUSIVE, QUEUED_ACTIONS, Reviewer
from hatespeech.review.store import MAX_PAGE

STATIC = Path(__file__).resolve().parent / "static"
FILES = {  # path → (file in static/, content type)
    "/review": ("index.html", "text/html; charset=utf-8"),
    "/review/static/review.js": ("review.js", "text/javascript; charset=utf-8"),
    "/review/static/review.css": ("review.css", "text/css; charset=utf-8"),
    "/review/static/favicon.svg": ("favicon.svg", "image/svg+xml"),
}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),  # /review?key=TOKEN must never leak through a Referer
    ("X-Frame-Options", "DENY"),
]
RETRAIN_COMMAND = "python train.py --feedback store"  # the moderators' labels join the training data
MAX_THREAD_CHARS = 200
Environ = dict[str, Any]
StartResponse = Callable[..., Any]


def is_public(path: str) -> bool:
    """The page's shell and static files: served without the token."""
    return path in FILES


def handles(path: str) -> bool:
    """A path this module answers (the data calls need the token)."""
    return path == "/review" or path.startswith("/review/")


class BadQuery(ValueError):
    """A query parameter the queue cannot use; the message names it."""


def _json(start_response: StartResponse, status: str, body: object) -> list[bytes]:
    data = json.dumps(body).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data))), ("Cache-Control", "no-store")]
    start_response(status, [*headers, *SECURITY_HEADERS])
    return [data]


def query(raw: str) -> dict[str, Any]:
    """The queue's filters from a query string; ``BadQuery`` for anything else.

    >>> query("action=block&class=hate+speech&limit=5")
    {'action': 'block', 'category': 'hate speech', 'thread': None, 'before': None, 'limit': 5}
    """
    try:
        pairs = urllib.parse.parse_qsl(raw, keep_blank_values=True, strict_parsing=False, max_num_fields=20)
    except ValueError as err:
        raise BadQuery(f"the query string is not usable: {err}") from None
    given: dict[str, str] = {}
    for name, value in pairs:
        if name == "key":  # the token, checked by the guard
            continue
        if name not in ("action", "class", "thread", "before", "limit"):
            raise BadQuery(f"unknown query parameter {name!r}; use action, class, thread, before, limit")
        if name in given:
            raise BadQuery(f"{name} is given twice")
        if not value:
            raise BadQuery(f"{name} is empty; leave it out instead")
        given[name] = value
    action = given.get("action")
    if action is not None and action not in QUEUED_ACTIONS:
        raise BadQuery(f"action must be one of {list(QUEUED_ACTIONS)}, not {action!r}")
    category = given.get("class")
    if category is not None and category not in ABUSIVE:
        raise BadQuery(f"class must be one of {list(ABUSIVE)}, not {category!r}")
    thread = given.get("thread")
    if thread is not None and len(thread) > MAX_THREAD_CHARS:
        raise BadQuery(f"thread is longer than {MAX_THREAD_CHARS} characters")
    numbers = {}
    for name, default, low, high in (("before", None, 1, 2**62), ("limit", 20, 1, MAX_PAGE)):
        raw_value = given.get(name, "")
        if not raw_value:
            numbers[name] = default
            continue
        if not raw_value.isascii() or not raw_value.isdigit() or not low <= int(raw_value) <= high:
            raise BadQuery(f"{name} must be a whole number from {low} to {high}")
        numbers[name] = int(raw_value)
    return {"action": action, "category": category, "thread": thread, **numbers}


class ReviewPages:
    """Answers the paths under ``/review`` (the guard has checked the token where needed)."""

    def __init__(self, reviewer: Callable[[], Reviewer], model: Callable[[], Mapping[str, Any]]):
        self.reviewer = reviewer
        self.model = model  # what GET /review/model answers, built by the service
        self.files: dict[str, tuple[bytes, str, str]] = {}
        for path, (name, kind) in FILES.items():
            data = (STATIC / name).read_bytes()
            self.files[path] = (data, kind, '"' + hashlib.sha256(data).hexdigest()[:16] + '"')

    is_public = staticmethod(is_public)
    handles = staticmethod(handles)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        known = path in self.files or path in ("/review/queue", "/review/model")
        if not known:
            return _json(start_response, "404 Not Found", {"error": f"no page at {path}"})
        if method not in ("GET", "HEAD"):
            data = json.dumps({"error": f"{method} is not allowed on {path}; use GET"}).encode()
            start_response(
                "405 Method Not Allowed",
                [("Content-Type", "application/json"), ("Content-Length", str(len(data))), ("Allow", "GET, HEAD")],
            )
            return [data]
        if path in self.files:
            return self.static(environ, start_response, path)
        if path == "/review/model":
            return _json(start_response, "200 OK", self.model())
        try:
            filters = query(environ.get("QUERY_STRING", ""))
        except BadQuery as err:
            return _json(start_response, "400 Bad Request", {"error": str(err)})
        reviewer = self.reviewer()
        if not reviewer.settings.enabled:
            return _json(start_response, "200 OK", {"posts": [], "next": None, "total": 0})
        reviewer.maintain()  # texts past their retention are erased before anyone sees them
        return _json(start_response, "200 OK", reviewer.queue.page(**filters))

    def static(self, environ: Environ, start_response: StartResponse, path: str) -> Iterable[bytes]:
        data, kind, etag = self.files[path]
        headers = [("Content-Type", kind), ("Cache-Control", "no-cache"), ("ETag", etag), *SECURITY_HEADERS]
        if environ.get("HTTP_IF_NONE_MATCH") == etag:
            start_response("304 Not Modified", headers)
            return []
        start_response("200 OK", [*headers, ("Content-Length", str(len(data)))])
        return [data] if environ.get("REQUEST_METHOD") != "HEAD" else []
