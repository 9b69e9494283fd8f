"""The moderators' review page and its queue.

- ``store``: the queue of posts that reached ``review`` or ``block`` (SQLite, Redis or PostgreSQL).
- ``web``: ``GET /review`` (the page: static files in ``static/``, public) and its data calls
  (``GET /review/queue``, ``GET /review/model``: the token is needed).

On the request path, ``record(answer, context, text, explain)`` puts a post that reached
``review`` or ``block`` and came with an ``id`` in the queue, with the parts of its text that pushed
it toward an abusive class (the exact explanation; computed here only for such posts when the
caller did not ask for it). It fills whether or not alert webhooks are set, and never waits on a
stalled store: a write the store does not take in ``STORE_TIMEOUT`` is spooled and replayed once
it is back (hatespeech/resilience.py), and the answer goes out.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from hatespeech.config import ReviewSettings
from hatespeech.core.context import Context
from hatespeech.core.labels import ABUSIVE
from hatespeech.core.policy import BLOCK, REVIEW
from hatespeech.resilience import StoreUnavailable
from hatespeech.review.store import READ_TIMEOUT, GuardedQueue, Queue, open_queue, post

log = logging.getLogger("hatespeech.review")

QUEUED_ACTIONS = (REVIEW, BLOCK)
LANGUAGE = re.compile(r"[a-z]{2}|und")  # ISO 639-1, or "und" (undetermined)
MAINTAIN_EVERY = 60.0  # seconds between two retention passes in one process


def spans(explanation: Mapping[str, Any]) -> list[list[Any]]:
    """The parts that pushed toward an abusive class: ``[start, end, class, contribution]``.

    >>> spans({"spans": [{"start": 0, "end": 3, "class": "hate speech", "contribution": 0.5},
    ...                  {"start": 0, "end": 3, "class": "neither", "contribution": 0.9},
    ...                  {"start": 4, "end": 6, "class": "offensive language", "contribution": -0.2}]})
    [[0, 3, 'hate speech', 0.5]]
    """
    return [
        [s["start"], s["end"], s["class"], round(float(s["contribution"]), 6)]
        for s in explanation.get("spans", [])
        if s["class"] in ABUSIVE and s["contribution"] > 0
    ]


def _threat_span(found: Mapping[str, Any] | None) -> list[int] | None:
    """``[start, end]`` of the threat check's match (``/moderate``'s ``threat``): the text is the post's own."""
    return [found["start"], found["end"]] if found else None


def _language(answer: Mapping[str, Any]) -> tuple[str | None, bool | None]:
    """The answer's ``language`` and ``language_supported``, if it names them (else unknown: None).

    >>> _language({"language": "de", "language_supported": True}), _language({})
    (('de', True), (None, None))
    """
    code, supported = answer.get("language"), answer.get("language_supported")
    return (
        code if isinstance(code, str) and LANGUAGE.fullmatch(code) else None,
        supported if isinstance(supported, bool) else None,
    )


class Reviewer:
    """This process's access to the queue, opened on first use (after gunicorn's fork)."""

    def __init__(self, settings: ReviewSettings, queue: Queue | None = None):
        self.settings = settings
        self._queue = queue
        self._lock = threading.Lock()
        self._maintained = 0.0

    @property
    def queue(self) -> Queue:
        if self._queue is None:
            with self._lock:
                if self._queue is None:
                    self._queue = open_queue(
                        self.settings.db_path, self.settings.redis_url, self.settings.database_url, self.settings.stores
                    )
        return self._queue

    def record(
        self,
        answer: Mapping[str, Any],
        context: Context,
        text: str,
        explain: Callable[[], Mapping[str, Any]] | None = None,
    ) -> bool:
        """Queue the post if it reached review or block and has an id; True if it was queued."""
        if not self.settings.enabled or context.id is None or answer["action"] not in QUEUED_ACTIONS:
            return False
        try:
            explanation = answer.get("explanation") or (explain() if explain is not None else {})
            now = time.time()
            self.queue.add(
                post(
                    context.id,
                    text,
                    answer["scores"],
                    answer["action"],
                    answer["label"],
                    [label for label, reached in answer["categories"].items() if reached],
                    context.thread,
                    context.author,
                    context.url,
                    now,
                    spans(explanation),
                    str(answer.get("model", {}).get("sha256", ""))[:12],
                    _threat_span(answer.get("threat")),
                    *_language(answer),
                )
            )
            with contextlib.suppress(StoreUnavailable):  # housekeeping: the next write tries again
                self.maintain(now)
        except Exception:  # the queue must never fail the request that fills it (its spool failed too)
            log.exception(json.dumps({"review": "store_error"}))
            return False
        return True

    def maintain(self, now: float | None = None) -> None:
        """Erase old texts and bound the queue, at most once a minute per process (on writes and on
        reads: a quiet board's texts are erased too, once someone looks)."""
        reading, now = now is None, time.time() if now is None else now
        if now - self._maintained >= MAINTAIN_EVERY:
            self._maintained = now
            args = (now, self.settings.text_retention_seconds, self.settings.max_posts)
            if reading and isinstance(self.queue, GuardedQueue):  # a moderator's read may wait longer
                self.queue.maintain(*args, timeout=max(self.settings.stores.timeout, READ_TIMEOUT))
            else:
                self.queue.maintain(*args)

    def labelled(self, post_id: object, label: str) -> None:
        """A moderator labelled post ``post_id`` (``POST /feedback``): show it in the queue."""
        if not self.settings.enabled or not isinstance(post_id, str | int) or isinstance(post_id, bool):
            return
        try:
            self.queue.set_feedback(str(post_id), label)
        except Exception:
            log.exception(json.dumps({"review": "store_error"}))

    def close(self) -> None:
        if self._queue is not None:
            self._queue.close()


_reviewer: Reviewer | None = None


def configure(settings: ReviewSettings, queue: Queue | None = None) -> Reviewer:
    """Set this process's reviewer (the service, at import: it opens nothing before the fork)."""
    global _reviewer
    _reviewer = Reviewer(settings, queue)
    return _reviewer


def reviewer() -> Reviewer:
    """The configured reviewer (one with the default settings if ``configure`` was not called)."""
    global _reviewer
    if _reviewer is None:
        _reviewer = Reviewer(ReviewSettings())
    return _reviewer


def record(
    answer: Mapping[str, Any], context: Context, text: str, explain: Callable[[], Mapping[str, Any]] | None = None
) -> bool:
    """``Reviewer.record`` on the configured reviewer."""
    return _reviewer.record(answer, context, text, explain) if _reviewer is not None else False


def labelled(post_id: object, label: object) -> None:
    """``Reviewer.labelled`` on the configured reviewer, once a label is stored (``POST /feedback``, or a
    board's decision: ``post_id`` is the queue's id, ``core.boards.queued_id``)."""
    if _reviewer is not None and isinstance(label, str):
        _reviewer.labelled(post_id, label)
