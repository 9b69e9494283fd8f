"""The review page over HTTP: the public shell and static files, and the token-protected data calls.

- ``GET /review``: the page (``static/index.html``); ``GET /review/static/<file>``: its script,
  style sheet and icon. Public: they hold no data. Served with a ``Content-Security-Policy``
  that allows scripts, styles and calls from this origin only (no inline script, nothing
  from outside), so the page works offline and a post's text can never run as code.
- ``GET /review/access``: ``{"token_required": bool}``, public: whether the data calls need the
  token, so the page asks for one only when the server has one (never the token itself).
- ``GET /review/queue?action=&class=&threat=&thread=&language=&before=&limit=``: a page of the queue (JSON);
  each post has the ``feedback_key`` (source and id) its label is stored under (core/boards.py).
- ``GET /review/model``: the model, the thresholds in force, the card's out-of-fold threshold
  curves (for the sliders), the text retention and the retrain command.
- ``GET /review/candidate?sha256=``: the newest candidate (or the one whose sha256 starts so) beside the
  served model, as ``model.py compare`` sets it (``candidate.py``); read-only.

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

from hatespeech.core.boards import feedback_key
from hatespeech.core.context import Context, InvalidContext
from hatespeech.review import ABUSIVE, LANGUAGE, QUEUED_ACTIONS, Reviewer
from hatespeech.review.candidate import Candidates, UnknownCandidate
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
Environ = dict[str, Any]
StartResponse = Callable[..., Any]


ACCESS = "/review/access"
CANDIDATE = "/review/candidate"


def is_public(path: str) -> bool:
    """The page's shell, its static files and whether a token is needed: served without the token."""
    return path in FILES or path == ACCESS


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


# The queue's query parameters, the one definition that ``query`` checks and openapi.yaml's
# GET /review/queue states (tests/review/test_query.py compares the two): name → what it takes.
PARAMETERS: dict[str, Any] = {
    "action": {"enum": QUEUED_ACTIONS},
    "class": {"enum": ABUSIVE},
    "threat": {"enum": ("true",)},  # only the posts in which the threat check found a threat
    "thread": {"context": "thread"},  # exactly what /moderate takes as a thread (core/context.py)
    "language": {"pattern": "^([a-z]{2}|und)$"},  # ISO 639-1, or "und": the language /moderate named
    "before": {"minimum": 1, "maximum": 2**62},
    "limit": {"minimum": 1, "maximum": MAX_PAGE, "default": 20},
}
MAX_NUMBER_CHARS = 25  # a whole number's digits, leading zeros included: int() of a huge string is slow


def query(raw: str) -> dict[str, Any]:
    """The queue's filters from a query string; ``BadQuery`` for anything else.

    A value is read as UTF-8 after percent-decoding; one that is not (``%FF``, an encoded
    surrogate) is refused rather than matched with its bytes replaced by U+FFFD. A thread is
    checked as ``/moderate`` checks one: a thread it would refuse can never be in the queue.

    >>> query("action=block&class=hate+speech&threat=true&limit=5&language=de")  # doctest: +NORMALIZE_WHITESPACE
    {'action': 'block', 'category': 'hate speech', 'threat': True, 'thread': None, 'before': None, 'limit': 5,
     'language': 'de'}
    >>> query("thread=%FF")
    Traceback (most recent call last):
    ...
    hatespeech.review.web.BadQuery: the query string is not UTF-8 once percent-decoded
    """
    try:
        pairs = urllib.parse.parse_qsl(raw, keep_blank_values=True, errors="strict", max_num_fields=20)
    except UnicodeDecodeError:
        raise BadQuery("the query string is not UTF-8 once percent-decoded") from None
    except ValueError as err:
        raise BadQuery(f"the query string is not usable: {err}") from None
    given: dict[str, str] = {}
    for name, value in pairs:
        if name == "key":  # the token, checked by the guard
            continue
        if name not in PARAMETERS:
            raise BadQuery(f"unknown query parameter {name[:50]!r}; use {', '.join(PARAMETERS)}")
        if name in given:
            raise BadQuery(f"{name} is given twice")
        if not value:
            raise BadQuery(f"{name} is empty; leave it out instead")
        given[name] = value
    for name in ("action", "class", "threat"):
        allowed = PARAMETERS[name]["enum"]
        if name in given and given[name] not in allowed:
            raise BadQuery(f"{name} must be one of {list(allowed)}, not {given[name][:50]!r}")
    language = given.get("language")
    if language is not None and not LANGUAGE.fullmatch(language):
        raise BadQuery(f"language must be an ISO 639-1 code (two lower-case letters) or 'und', not {language[:50]!r}")
    try:
        thread = Context.check(thread=given.get("thread")).thread
    except InvalidContext as err:
        raise BadQuery(str(err)) from None
    numbers = {}
    for name in ("before", "limit"):
        spec, raw_value = PARAMETERS[name], given.get(name)
        if raw_value is None:
            numbers[name] = spec.get("default")
            continue
        low, high = spec["minimum"], spec["maximum"]
        digits = raw_value.isascii() and raw_value.isdigit() and len(raw_value) <= MAX_NUMBER_CHARS
        if not digits or not low <= int(raw_value) <= high:
            raise BadQuery(f"{name} must be a whole number from {low} to {high}")
        numbers[name] = int(raw_value)
    threat = True if "threat" in given else None
    filters = {"action": given.get("action"), "category": given.get("class"), "threat": threat, "thread": thread}
    return filters | numbers | {"language": language}


def candidate_query(raw: str) -> str | None:
    """``sha256`` (a prefix of 4 to 64 lower-case hex digits) from ``GET /review/candidate``'s query string.

    >>> candidate_query("sha256=12a3517c"), candidate_query("")
    ('12a3517c', None)
    """
    try:
        pairs = urllib.parse.parse_qsl(raw, keep_blank_values=True, errors="strict", max_num_fields=5)
    except (UnicodeDecodeError, ValueError):
        raise BadQuery("the query string is not usable") from None
    given = [value for name, value in pairs if name != "key"]  # key: the token, checked by the guard
    if any(name not in ("sha256", "key") for name, _ in pairs):
        raise BadQuery("unknown query parameter; use sha256")
    if len(given) > 1:
        raise BadQuery("sha256 is given twice")
    if not given:
        return None
    value = given[0]
    if not (4 <= len(value) <= 64 and all(c in "0123456789abcdef" for c in value)):
        raise BadQuery("sha256 must be 4 to 64 lower-case hexadecimal digits (the start of a candidate's sha256)")
    return value


class ReviewPages:
    """Answers the paths under ``/review`` (the guard has checked the token where needed)."""

    def __init__(
        self,
        reviewer: Callable[[], Reviewer],
        model: Callable[[], Mapping[str, Any]],
        token_required: bool = True,
        candidate: Candidates | None = None,
    ):
        self.reviewer = reviewer
        self.model = model  # what GET /review/model answers, built by the service
        self.candidate = candidate  # GET /review/candidate; None: this server compares no candidate
        self.token_required = token_required  # FIREFLY_TOKEN is set: the guard checks the data calls
        self.files: dict[str, tuple[bytes, str, str]] = {}
        for path, (name, kind) in FILES.items():
            data = (STATIC / name).read_bytes()
            self.files[path] = (data, kind, '"' + hashlib.sha256(data).hexdigest()[:16] + '"')

    is_public = staticmethod(is_public)
    handles = staticmethod(handles)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        known = path in self.files or path in ("/review/queue", "/review/model", CANDIDATE, ACCESS)
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
        if path == ACCESS:
            return _json(start_response, "200 OK", {"token_required": self.token_required})
        if path == "/review/model":
            return _json(start_response, "200 OK", self.model())
        if path == CANDIDATE:
            return self.compare(environ, start_response)
        try:
            filters = query(environ.get("QUERY_STRING", ""))
        except BadQuery as err:
            return _json(start_response, "400 Bad Request", {"error": str(err)})
        reviewer = self.reviewer()
        if not reviewer.settings.enabled:
            return _json(start_response, "200 OK", {"posts": [], "next": None, "total": 0})
        reviewer.maintain()  # texts past their retention are erased before anyone sees them
        page = reviewer.queue.page(**filters)
        for post in page["posts"]:  # what the page sends POST /feedback: a board's post under its board's name
            source, post_id = feedback_key(post["id"])
            post["feedback_key"] = {"source": source, "id": post_id}
        return _json(start_response, "200 OK", page)

    def compare(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        try:
            wanted = candidate_query(environ.get("QUERY_STRING", ""))
        except BadQuery as err:
            return _json(start_response, "400 Bad Request", {"error": str(err)})
        if self.candidate is None:
            return _json(start_response, "404 Not Found", {"error": "this server compares no candidate"})
        try:
            return _json(start_response, "200 OK", self.candidate.answer(wanted))
        except UnknownCandidate as err:
            return _json(start_response, "404 Not Found", {"error": str(err)})

    def static(self, environ: Environ, start_response: StartResponse, path: str) -> Iterable[bytes]:
        data, kind, etag = self.files[path]
        headers = [("Content-Type", kind), ("Cache-Control", "no-cache"), ("ETag", etag), *SECURITY_HEADERS]
        if environ.get("HTTP_IF_NONE_MATCH") == etag:
            start_response("304 Not Modified", headers)
            return []
        start_response("200 OK", [*headers, ("Content-Length", str(len(data)))])
        return [data] if environ.get("REQUEST_METHOD") != "HEAD" else []
