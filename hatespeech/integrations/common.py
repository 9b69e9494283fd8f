"""What the three integrations share: signature checks, HTML to text, a safe context, the reply.

Everything here is standard library, linear in its input and bounded: a webhook body is
hostile until its signature checks, and a post's HTML is hostile after.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# Re-exported for the integrations that name posts (the rule itself lives below them, in core/boards.py).
from hatespeech.core.boards import board_id as board_id
from hatespeech.core.boards import queued_id as queued_id

Header = Callable[[str], "str | None"]  # a request header by name, or None
MAX_SIGNATURES = 8  # a header listing more is refused: each costs an HMAC
MAX_CONTEXT_CHARS = 200  # as /moderate takes id, thread and author
MAX_URL_CHARS = 2048
MAX_TIME_CHARS = 40  # an ISO 8601 time with its fraction and offset


@dataclass
class Reply:
    """What an integration answers: a status and a JSON body (``None``: no body, as for 204)."""

    status: int
    body: dict[str, Any] | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)


def error(status: int, message: str) -> Reply:
    return Reply(status, {"error": message})


def hmac_hex(secret: str, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``body`` under ``secret``: what all three platforms sign with.

    >>> hmac_hex("s3cret", b"{}")
    'adbde1ce40c89c14215687d5d762a47df6dfaefcfad61e2e86718ffc8498571b'
    """
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def signed(body: bytes, header: str | None, secrets: Iterable[str]) -> bool:
    """True if ``header`` holds a ``sha256=<hex>`` HMAC of the raw ``body`` under one of ``secrets``.

    The header may list several, comma-separated (Coral, while a secret is rotated): any one
    may match. Every comparison is ``hmac.compare_digest`` (constant time), and every
    candidate is compared with every secret, so the time says nothing about which one failed.

    >>> signed(b"{}", "sha256=" + hmac_hex("k" * 12, b"{}"), ["k" * 12])
    True
    >>> signed(b"{}", "sha256=00, sha256=" + hmac_hex("new-secret-1", b"{}"), ["new-secret-1"])
    True
    >>> signed(b"{} ", "sha256=" + hmac_hex("k" * 12, b"{}"), ["k" * 12]), signed(b"{}", None, ["k" * 12])
    (False, False)
    """
    if not header:
        return False
    given = [part.strip() for part in header.split(",")]
    if len(given) > MAX_SIGNATURES:
        return False
    expected = [("sha256=" + hmac_hex(secret, body)).encode() for secret in secrets]
    ok = False
    for candidate in given:
        raw = candidate.encode("latin-1", "replace")  # a WSGI header value is latin-1
        for value in expected:
            ok |= hmac.compare_digest(raw, value)
    return ok


def parse(body: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None if it is not one."""
    try:
        payload = json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError):
        return None
    return payload if isinstance(payload, dict) else None


def signed_json(body: bytes, header: Header, name: str, secrets: Iterable[str]) -> dict[str, Any] | Reply:
    """A platform's webhook body as a JSON object once the ``name`` header signs it under one of
    ``secrets``; else the refusal to answer: 401 (unsigned, forged), 400 (not a JSON object)."""
    if not signed(body, header(name), secrets):
        return error(401, f"the {name} header is missing or matches none of the body's signatures")
    payload = parse(body)
    if payload is None:
        return error(400, "the body is not a JSON object")
    return payload


# ------------------------------------------------------------------------------- HTML to text

_BREAKS = {
    *("br", "p", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "td", "th", "pre", "hr"),
    *("aside", "blockquote", "article", "header", "footer", "section", "figcaption", "details", "summary"),
    *("dd", "dt", "table", "caption"),
}
_HIDDEN = {"script", "style"}  # not shown to a reader: left out, once closed
_TAG_NAME = re.compile(r"/?([a-zA-Z][a-zA-Z0-9]*)")
# A tag's attributes: a name starts only where a run of name characters starts, and is taken
# possessively, so a long run without "=" is read once (linear in the tag's length).
_ATTRIBUTE = re.compile(r"(?<![-\w:.])([a-zA-Z_:][-\w:.]*+)\s*+=\s*+(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'=<>`]++))")
MAX_TAG_CHARS = 2000  # a longer tag is not read for attributes (a quote's are a few dozen characters)


def object_at(payload: dict[str, Any], key: str) -> dict[str, Any]:
    """``payload[key]`` if it is a JSON object, else an empty one: a board may leave out or null any field.

    >>> object_at({"poll": None, "card": {"title": "x"}}, "poll"), object_at({"card": {"title": "x"}}, "card")
    ({}, {'title': 'x'})
    """
    value = payload.get(key)
    return value if isinstance(value, dict) else {}


def attributes(tag: str) -> dict[str, str]:
    """The attributes of one start tag (``<aside class="quote" data-post="3">``), lower-cased names, values decoded.

    >>> attributes("<aside class='quote no-group' data-post=3 data-topic=\\"7\\">")
    {'class': 'quote no-group', 'data-post': '3', 'data-topic': '7'}
    """
    found: dict[str, str] = {}
    if len(tag) <= MAX_TAG_CHARS:
        for match in _ATTRIBUTE.finditer(tag):
            value = next((v for v in match.groups()[1:] if v is not None), "")
            found.setdefault(match.group(1).lower(), html.unescape(value))
    return found


@dataclass
class Visible:
    """The text a reader is shown in a post: the author's own, and what verifiably quotes another post."""

    own: str
    quoted: str = ""


def read_html(markup: str, quote: Callable[[dict[str, str]], bool] | None = None) -> Visible:
    """What a reader sees in ``markup``: tags removed, entities decoded, comments, scripts and styles left out.

    One pass, linear in the input whatever it holds. What is not closed counts as the author's
    words, as a reader sees them: a ``<`` that never closes ends the scan for tags (the rest is
    text); an unclosed comment, script, style or quote gives back everything after it. An
    ``<aside>`` is someone else's words only when ``quote`` (given its attributes) says it
    verifiably is; its text is then ``quoted``, apart. ``<blockquote>`` and any other aside are
    the author's.

    >>> read_html('<p>Hi &amp; <b>welcome</b></p><blockquote>mine too</blockquote><!-- hidden --><p>bye</p>')
    Visible(own='Hi & welcome\\nmine too\\nbye', quoted='')
    >>> read_html('<aside data-post="2"><p>theirs</p></aside><p>mine</p>', lambda a: a.get("data-post") == "2")
    Visible(own='mine', quoted='theirs')
    >>> read_html('a < b and <b>c</b><script>never closed')
    Visible(own='a < b and c\\nnever closed', quoted='')
    """
    own: list[str] = []
    quoted: list[str] = []
    held: list[str] | None = None  # the text of a hidden element or a quote, until it closes
    held_tag, held_depth, held_quote = "", 0, False

    def emit(text: str) -> None:
        (own if held is None else held).append(text)

    i, n = 0, len(markup)
    end = -1  # the next ">" found so far: kept, so "< < < … >" is not searched again for each "<"
    while i < n:
        start = markup.find("<", i)
        if start < 0:
            start = n
        if start > i:
            emit(markup[i:start])
        if start >= n:
            break
        if markup.startswith("<!--", start):
            close = markup.find("-->", start + 4)
            if close < 0:  # never closed: a reader of the source sees it all; counted as text
                emit(markup[start:])
                break
            i = close + 3
            continue
        if end <= start:
            end = markup.find(">", start + 1)
        if end < 0:  # no tag can close: the rest is text
            emit(markup[start:])
            break
        match = _TAG_NAME.match(markup, start + 1, end)
        if match is None:  # "a < b": a character, not a tag
            emit("<")
            i = start + 1
            continue
        name = match.group(1).lower()
        closing = match.group(0).startswith("/")
        self_closing = markup[end - 1] == "/"
        i = end + 1
        if held is not None and name == held_tag and not self_closing:
            held_depth += -1 if closing else 1
            if held_depth == 0:  # closed: a quote is kept apart, a hidden element dropped
                if held_quote:
                    quoted.extend([*held, "\n"])
                held = None
                continue
        elif (held is None and not closing and not self_closing) and (
            name in _HIDDEN or (name == "aside" and quote is not None and quote(attributes(markup[start : end + 1])))
        ):
            emit("\n")
            held, held_tag, held_depth, held_quote = [], name, 1, name == "aside"
            continue
        if name in _BREAKS:
            emit("\n")
    if held is not None:  # never closed: the author's words, as a reader sees them
        own.extend(held)
    return Visible(_lines("".join(own)), _lines("".join(quoted)))


def _lines(markup_text: str) -> str:
    text = html.unescape(markup_text)
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def strip_html(markup: str) -> str:
    """All the text a reader sees in ``markup``, quotes included (what a moderator's decision was about).

    >>> strip_html('<p>Hi &amp; <b>welcome</b></p><aside><blockquote>quoted</blockquote></aside><p>bye</p>')
    'Hi & welcome\\nquoted\\nbye'
    """
    return read_html(markup).own


# ------------------------------------------------------------------------------- context

# How a board's post is named (``board_id``, ``feedback_key``, ``queued_id``) is core/boards.py's rule:
# the review page and the service follow it too, and they do not import the integrations.


def clean_field(value: object, limit: int = MAX_CONTEXT_CHARS) -> str | None:
    """A platform's id or name as ``/moderate``'s context takes it, or None: cut, without control characters.

    >>> clean_field(42), clean_field("  "), clean_field("a\\x00b")
    ('42', None, 'ab')
    """
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = "".join(c for c in str(value) if unicodedata.category(c) not in ("Cc", "Cs"))[:limit]
    return text if text.strip() else None


def board_time(value: object) -> float | None:
    """An ISO 8601 time a platform sent, as seconds since the epoch; None if it is not one.

    >>> board_time("2026-12-07T15:04:05.500Z"), board_time("yesterday"), board_time(None)
    (1796655845.5, None, None)
    """
    if not isinstance(value, str) or len(value) > MAX_TIME_CHARS:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (when if when.tzinfo is not None else when.replace(tzinfo=UTC)).timestamp()


def clean_url(value: object) -> str | None:
    """An absolute http(s) link that /moderate accepts, or None.

    >>> clean_url("https://forum.example/t/x/1/2"), clean_url("javascript:alert(1)")
    ('https://forum.example/t/x/1/2', None)
    """
    if not isinstance(value, str) or len(value) > MAX_URL_CHARS:
        return None
    scheme, sep, rest = value.partition("://")
    if not sep or scheme.lower() not in ("http", "https") or not rest or rest.startswith("/"):
        return None
    if any(c.isspace() or c in '<>"`' or unicodedata.category(c) in ("Cc", "Cs") for c in value):
        return None
    return value


def scores_line(scores: dict[str, float]) -> str:
    """The scores in one line, for a flag's message.

    >>> scores_line({"hate speech": 0.1, "neither": 0.9})
    'hate speech 0.10 · neither 0.90'
    """
    return " · ".join(f"{label} {float(p):.2f}" for label, p in scores.items())


def abusive_label(scores: dict[str, float]) -> str:
    """The abusive class the scores lean to: what a moderator who agreed with a flag confirmed.

    >>> abusive_label({"hate speech": 0.3, "offensive language": 0.5, "neither": 0.2})
    'offensive language'
    """
    hate, offensive = float(scores.get("hate speech", 0.0)), float(scores.get("offensive language", 0.0))
    return "hate speech" if hate > offensive else "offensive language"


def flag_label(answer: dict[str, Any]) -> str:
    """The abusive class a flag names: the answer's label if abusive, else the class whose threshold set the
    action (its first reason with a score), else hate speech for an identity attack (``hatespeech.core.attacks``),
    else the class the scores lean to (a threat alone).

    >>> flag_label({"label": "neither", "scores": {"hate speech": 0.18, "offensive language": 0.43},
    ...             "reasons": [{"category": "hate speech", "score": 0.18, "threshold": "review", "at": 0.1167}]})
    'hate speech'
    >>> flag_label({"label": "neither", "scores": {"hate speech": 0.05, "offensive language": 0.3},
    ...             "reasons": [{"category": "identity attack", "start": 0, "end": 12, "text": "X are vermin"}]})
    'hate speech'
    """
    if answer["label"] != "neither":
        return str(answer["label"])
    reasons = answer.get("reasons", ())
    for reason in reasons:
        if "score" in reason:  # a class's threshold, not a pattern check's match
            return str(reason["category"])
    if any(reason["category"] == "identity attack" for reason in reasons):
        return "hate speech"
    return abusive_label(answer["scores"])
