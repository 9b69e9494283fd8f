"""The optional context of a moderated post: ``id``, ``thread``, ``author``, ``url``.

All four are optional and never required; when given they are checked here, once, before anything
is scored or stored (core: plain validation, below the service that checks it and the alerts and
review queue that receive it checked). A bad one raises ``InvalidContext`` (a ``ValueError``: the web layer answers
400 with its message). Ids may be strings or whole numbers (forums use both); they come back as
strings. The URL must be an absolute http(s) link: it ends up in a Slack or Discord message, where
a ``javascript:`` link or one with spaces or angle brackets could turn into markup.

>>> Context.check(id=42, thread="t-1", url="https://forum.example/t/1#p42")
Context(id='42', thread='t-1', author=None, url='https://forum.example/t/1#p42')
>>> Context.check(thread="")
Traceback (most recent call last):
...
hatespeech.core.context.InvalidContext: thread must not be empty
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from hatespeech.core.validate import check_id, json_type

MAX_CHARS = {"id": 200, "thread": 200, "author": 200, "url": 2048}


class InvalidContext(ValueError):
    """A context field has the wrong type, length or form; the message names it."""


def _check_id(name: str, value: object) -> str | None:
    return None if value is None else check_id(name, value, MAX_CHARS[name], InvalidContext)


def _check_url(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidContext(f"url must be a string, not {json_type(value)}")
    if len(value) > MAX_CHARS["url"]:
        raise InvalidContext(f"url is {len(value)} characters long; the maximum is {MAX_CHARS['url']}")
    scheme, sep, rest = value.partition("://")
    if not sep or scheme.lower() not in ("http", "https") or not rest or rest.startswith("/"):
        raise InvalidContext("url must be an absolute http:// or https:// link")
    if any(c.isspace() or c in '<>"`' or unicodedata.category(c) in ("Cc", "Cs") for c in value):
        raise InvalidContext("url must not contain spaces, control characters, quotes or angle brackets")
    return value


@dataclass(frozen=True)
class Context:
    """Where a post comes from; every field optional (``None`` when not given)."""

    id: str | None = None
    thread: str | None = None
    author: str | None = None
    url: str | None = None

    @classmethod
    def check(cls, id: object = None, thread: object = None, author: object = None, url: object = None) -> Context:
        """The validated context, or ``InvalidContext`` naming the first bad field."""
        return cls(_check_id("id", id), _check_id("thread", thread), _check_id("author", author), _check_url(url))

    @classmethod
    def from_mapping(cls, fields: Mapping[str, Any] | None, name: str = "context") -> Context:
        """From a JSON object (a batch item's context); unknown keys are refused, by name.

        >>> Context.from_mapping({"thread": 7, "colour": "red"})
        Traceback (most recent call last):
        ...
        hatespeech.core.context.InvalidContext: context has an unknown field 'colour'; use id, thread, author or url
        """
        if fields is None:
            return cls()
        if not isinstance(fields, Mapping):
            raise InvalidContext(f"{name} must be an object with id, thread, author or url, not {json_type(fields)}")
        for key in fields:
            if key not in MAX_CHARS:
                raise InvalidContext(f"{name} has an unknown field {key!r}; use id, thread, author or url")
        return cls.check(**fields)

    def as_dict(self) -> dict[str, str]:
        """The fields that are set."""
        return {k: v for k, v in asdict(self).items() if v is not None}
