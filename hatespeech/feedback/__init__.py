"""Moderators' decisions, kept to teach the model a board's own standards.

One label per post and origin: ``(text, label, source, id, moderator, origin, event_at)``. The
``origin`` is who wrote it: a credential (``token``: FIREFLY_TOKEN, the review page's too;
``moderation-key``: MODERATION_API_KEY, what Coral holds; ``open`` when no token is set) or a
board's signed webhook (``discourse-webhook``). A board's own decision and a label given for the
same post through the API are kept side by side; training takes the newest by the board's event
time (``FeedbackStore.decisions``), and a replayed older decision never overrides a newer one. The
same ``(source, id, origin)`` sent again replaces its earlier row (a moderator changed their mind);
a row without an ``id`` is always a new row and cannot be erased by id. Each origin's writes are
bounded (quota.py). Texts are kept until erased: they are the training data of the next model
(``python train.py --feedback store``).

Two backends, one interface (``FeedbackStore``):

- SQLite (the default), one file at ``FEEDBACK_DB_PATH`` shared by the workers of one machine;
- PostgreSQL when ``DATABASE_URL`` is set (what Heroku's Postgres add-on sets), shared by
  several containers.

Each write is one ``INSERT … ON CONFLICT (source, ext_id, origin) DO UPDATE`` statement, atomic
on both, so concurrent writers lose nothing and each origin's newest label for a post is kept.

>>> import tempfile, pathlib
>>> store = SQLiteFeedbackStore(pathlib.Path(tempfile.mkdtemp()) / "feedback.sqlite3")
>>> first = store.add("you people are vermin", "hate speech", source="forum", id="p1")
>>> store.add("you people are vermin", "offensive language", source="forum", id="p1") == first
True
>>> store.add("you people are vermin", "neither", source="forum", id="p1", event_at=0.0)  # older: kept out
0
>>> store.counts()["by_label"]
{'hate speech': 0, 'offensive language': 1, 'neither': 0}
>>> store.erase("forum", "p1"), store.counts()["total"]
(True, 0)
>>> store.close()
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, NamedTuple

from hatespeech.core.labels import LABELS
from hatespeech.core.validate import UnknownFields, check_id, check_text, json_type
from hatespeech.feedback.quota import Quota
from hatespeech.feedback.store import FeedbackStore, Row, SQLiteFeedbackStore, StoreUnavailable, TooManyWrites

__all__ = [
    "FIELDS",
    "LABELS",
    "MAX_FIELD_CHARS",
    "MAX_SOURCE_CHARS",
    "Feedback",
    "FeedbackStore",
    "InvalidFeedback",
    "Row",
    "SQLiteFeedbackStore",
    "StoreUnavailable",
    "TooManyWrites",
    "UnknownFeedbackFields",
    "check_feedback",
    "check_key",
    "check_unknown",
    "open_store",
    "row_language",
]

FIELDS = ("text", "label", "id", "source", "moderator", "language")  # what POST /feedback accepts
LANGUAGE = re.compile(r"[a-z]{2}|und")  # ISO 639-1, or "und" (undetermined)
MAX_SOURCE_CHARS = 64
MAX_FIELD_CHARS = 200  # id and moderator
DEFAULT_SOURCE = "api"


class InvalidFeedback(ValueError):
    """A feedback field is missing, of the wrong type or out of bounds; the message names it."""


class UnknownFeedbackFields(InvalidFeedback, UnknownFields):
    """Fields feedback does not take (a typo must not be silently dropped); the message names them."""


class Feedback(NamedTuple):
    """One validated piece of feedback, as ``FeedbackStore.add`` takes it."""

    text: str
    label: str
    source: str
    id: str | None
    moderator: str | None
    language: str | None = None  # ISO 639-1 or "und"; None: not given (the store identifies it)


def _check_text(text: object, max_chars: int) -> str:
    # The one text rule of the service (the same messages as /predict): type, blank, length.
    try:
        checked = check_text(text, max_chars)
    except ValueError as err:
        raise InvalidFeedback(str(err)) from None
    try:
        checked.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, from an in-process caller (HTTP refuses it earlier)
        raise InvalidFeedback("text is not valid Unicode (it has a lone surrogate)") from None
    # PostgreSQL cannot store NUL in a text column; both backends store U+FFFD instead, so they agree.
    return checked.replace("\x00", "\ufffd") if "\x00" in checked else checked


def _check_name(name: str, value: object, max_chars: int, numbers: bool) -> str:
    return check_id(name, value, max_chars, InvalidFeedback, numbers)  # the same rule as /moderate's context


def check_feedback(
    text: object,
    label: object,
    source: object = None,
    id: object = None,
    moderator: object = None,
    max_text_chars: int = 10_000,
    language: object = None,
) -> Feedback:
    """Every field checked before anything is stored; ``InvalidFeedback`` (a ``ValueError``) names the first bad one.

    >>> check_feedback("fine post", "neither", id=42)
    Feedback(text='fine post', label='neither', source='api', id='42', moderator=None, language=None)
    >>> check_feedback("fine post", "spam")
    Traceback (most recent call last):
    ...
    hatespeech.feedback.InvalidFeedback: label must be one of 'hate speech', 'offensive language', 'neither', not 'spam'
    """
    if text is None:
        raise InvalidFeedback("text is required")
    if label is None:
        raise InvalidFeedback("label is required: one of " + ", ".join(repr(x) for x in LABELS))
    checked_text = _check_text(text, max_text_chars)
    if not isinstance(label, str) or label not in LABELS:
        shown = repr(label[:50]) if isinstance(label, str) else json_type(label)
        raise InvalidFeedback("label must be one of " + ", ".join(repr(x) for x in LABELS) + f", not {shown}")
    checked_source = DEFAULT_SOURCE if source is None else _check_name("source", source, MAX_SOURCE_CHARS, False)
    checked_id = None if id is None else _check_name("id", id, MAX_FIELD_CHARS, True)
    checked_moderator = None if moderator is None else _check_name("moderator", moderator, MAX_FIELD_CHARS, True)
    if language is not None and not (isinstance(language, str) and LANGUAGE.fullmatch(language)):
        shown = repr(language[:50]) if isinstance(language, str) else json_type(language)
        raise InvalidFeedback(f"language must be an ISO 639-1 code (two lower-case letters) or 'und', not {shown}")
    return Feedback(checked_text, label, checked_source, checked_id, checked_moderator, language)


def check_key(source: object, id: object) -> tuple[str, str]:
    """``(source, id)`` of a row to erase, checked as when it was sent (the source defaults to "api")."""
    if id is None:
        raise InvalidFeedback("id is required: the id the post was sent with")
    checked_source = DEFAULT_SOURCE if source is None else _check_name("source", source, MAX_SOURCE_CHARS, False)
    return checked_source, _check_name("id", id, MAX_FIELD_CHARS, True)


def check_unknown(fields: dict[str, Any], known: tuple[str, ...] = FIELDS) -> None:
    """Refuse fields an endpoint does not know, by name (a typo must not be silently dropped)."""
    if fields:
        names = ", ".join(repr(k) for k in sorted(fields))
        raise UnknownFeedbackFields(f"unknown field(s) {names}; the fields are " + ", ".join(known))


def row_language(row: Row) -> str:
    """The language whose model a row's label teaches: the one it was stored with, or, for a row written
    before languages were recorded, its text's (``hatespeech.core.language.identify``). ``und`` counts as
    English: the service judges as English what it cannot place.

    >>> row_language(Row("Ihr seid alle dreckiges Pack und gehört weg", "hate speech", "b", "1", 0.0, "x", 0.0, 0))
    'de'
    >>> row_language(Row("ok", "neither", "b", "2", 0.0, "x", 0.0, 0, "und"))
    'en'
    """
    from hatespeech.core.language import ENGLISH, UNDETERMINED, identify

    code = row.language or identify(row.text).code
    return ENGLISH if code == UNDETERMINED else code


def open_store(settings: Any) -> FeedbackStore:
    """The store the settings ask for: PostgreSQL when ``DATABASE_URL`` is set, else SQLite.

    ``settings`` is a ``Settings`` (its ``feedback``) or a ``FeedbackSettings``. Opens nothing
    yet: connections are made on first use, per process and thread (safe across gunicorn's fork).
    """
    feedback = getattr(settings, "feedback", settings)
    max_text_chars = getattr(settings, "max_text_chars", 10_000)  # MAX_TEXT_CHARS, as /predict
    stores = getattr(feedback, "stores", None)
    limits = {"quota": Quota(feedback.rate, feedback.burst), "daily_cap": feedback.daily_cap}
    if feedback.database_url:
        from hatespeech.feedback.postgres import PostgresFeedbackStore

        store = PostgresFeedbackStore(feedback.database_url, max_text_chars, stores, **limits)
        store.spool_beside = Path(feedback.db_path)  # FEEDBACK_DB_PATH's folder: the container's volume
        return store
    return SQLiteFeedbackStore(Path(feedback.db_path), max_text_chars, stores, **limits)
