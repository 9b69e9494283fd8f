"""Signing json alerts like Stripe's webhooks: ``X-Hatespeech-Signature: t=<unix time>,v1=<hex>``.

``verify`` uses the standard library only, so a receiver can copy it as it is.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Hatespeech-Signature"
REPLAY_TOLERANCE = 300  # seconds: verify() refuses older (or future) timestamps


class InvalidSignature(ValueError):
    """A signed alert failed verification; the message says why."""


# ---------------------------------------------------------------------------------- signing


def sign(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """The ``X-Hatespeech-Signature`` value for ``body``: ``t=<unix time>,v1=<hex>``.

    >>> sign(b'{"a": 1}', "s3cret", timestamp=1700000000)
    't=1700000000,v1=82fc0b8ba35d4f5b38af534e00d41a2de7d21fa3bae904bd50a8f0c3a7afb835'
    """
    t = int(time.time()) if timestamp is None else int(timestamp)
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def verify(body: bytes, header: str, secret: str, tolerance: int = REPLAY_TOLERANCE, now: float | None = None) -> int:
    """Check a received alert; return its timestamp, or raise ``InvalidSignature``.

    A receiver can copy this function as it is (standard library only). ``body`` must be the raw
    bytes received, before any JSON parsing. Timestamps more than ``tolerance`` seconds from now
    are refused, so a captured request cannot be replayed later; to be safe from replays within
    those 5 minutes as well, and to drop the duplicates at-least-once delivery may send, remember
    the alert ids seen: the body's ``id``, which the signature covers. (The ``Idempotency-Key``
    header carries the same id but is not signed: a replay could change it.)

    >>> body = b'{"type": "message"}'
    >>> verify(body, sign(body, "s3cret", 1700000000), "s3cret", now=1700000100)
    1700000000
    >>> verify(body + b" ", sign(body, "s3cret", 1700000000), "s3cret", now=1700000100)
    Traceback (most recent call last):
    ...
    hatespeech.alerts.signing.InvalidSignature: the signature does not match the body
    """
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        raise InvalidSignature("the signature header has no timestamp t=") from None
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        raise InvalidSignature(f"the timestamp is {int(now - timestamp)} s away from now (more than {tolerance})")
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest().encode()
    # As bytes: compare_digest raises TypeError on a str that is not ASCII (a forged header can be anything).
    given = [value.encode("utf-8", "surrogatepass") for value in parts.get("v1", [])]
    if not any(hmac.compare_digest(expected, g) for g in given):
        raise InvalidSignature("the signature does not match the body")
    return timestamp
