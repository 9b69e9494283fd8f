"""Checking what a caller sent, once, before anything is scored or stored.

Every check raises ``InvalidText`` (a ``ValueError``) with a message a caller can act on; the
service answers it with a 400. ``json_type`` names a value as JSON would, for those messages.

>>> check_text("  ", 100)
Traceback (most recent call last):
...
hatespeech.core.validate.InvalidText: text must contain something other than white space
>>> check_texts(["ok", 5], 10, 100, 50)
Traceback (most recent call last):
...
hatespeech.core.validate.InvalidText: texts[1] must be a string, not a number
"""

from __future__ import annotations

import unicodedata

_JSON_TYPES = {
    type(None): "null",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    str: "a string",
    list: "an array",
    dict: "an object",
}


class InvalidText(ValueError):
    """The text cannot be scored; the message says why, in words a caller can act on."""


class UnknownFields(ValueError):
    """Fields an endpoint does not take, named: answered 422, as every endpoint answers an unexpected field."""


def json_type(value: object) -> str:
    """What ``value`` is called in JSON: ``a number``, ``an array``, ``null``…"""
    return _JSON_TYPES.get(type(value), type(value).__name__)


def check_text(text: object, max_chars: int, name: str = "text") -> str:
    """``text`` if it is a string of 1 to ``max_chars`` characters with something besides white space."""
    if not isinstance(text, str):
        raise InvalidText(f"{name} must be a string, not {json_type(text)}")
    if not text or text.isspace():  # no copy of the text, unlike strip()
        raise InvalidText(f"{name} must contain something other than white space")
    if len(text) > max_chars:
        raise InvalidText(f"{name} is {len(text)} characters long; the maximum is {max_chars}")
    return text


def check_texts(texts: object, max_texts: int, max_chars: int, max_text_chars: int, name: str = "texts") -> list[str]:
    """A whole batch, checked before anything is scored; the error names the first bad index."""
    if not isinstance(texts, list):
        raise InvalidText(f"{name} must be an array of strings, not {json_type(texts)}")
    if len(texts) > max_texts:
        raise InvalidText(f"{name} has {len(texts)} items; the maximum is {max_texts}")
    for i, text in enumerate(texts):
        check_text(text, max_text_chars, name=f"{name}[{i}]")
    total = sum(len(text) for text in texts)
    if total > max_chars:
        raise InvalidText(f"{name} hold {total} characters in all; the maximum is {max_chars}")
    return texts


MAX_WHOLE_NUMBER = 10**18  # an id sent as a number (openapi.yaml says so); a larger one comes as a string


def check_id(name: str, value: object, max_chars: int, error: type[ValueError], numbers: bool = True) -> str:
    """An id or name a caller sent (a post's id, thread or author; feedback's source or moderator), as a string.

    A string, or (``numbers``) a whole number, of 1 to ``max_chars`` characters with something besides
    white space and no control character: it is stored, logged and shown on the review page. The one
    rule of ``/moderate``'s context and ``/feedback``; each raises its own ``error`` with the message.

    >>> check_id("thread", 7, 200, ValueError)
    '7'
    >>> check_id("source", 7, 64, ValueError, numbers=False)
    Traceback (most recent call last):
    ...
    ValueError: source must be a string, not a number
    """
    if isinstance(value, bool) or not (isinstance(value, str) or (numbers and isinstance(value, int))):
        allowed = "a string or a whole number" if numbers else "a string"
        raise error(f"{name} must be {allowed}, not {json_type(value)}")
    if isinstance(value, int) and abs(value) > MAX_WHOLE_NUMBER:
        raise error(f"{name} must be at most {MAX_WHOLE_NUMBER} in size; send a larger one as a string")
    text = str(value)
    if not text.strip():
        raise error(f"{name} must not be empty")
    if len(text) > max_chars:
        raise error(f"{name} is {len(text)} characters long; the maximum is {max_chars}")
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in text):
        raise error(f"{name} must not contain control characters")
    return text
