"""What an integration needs from the service: scoring with context, the words that weighed, the
outbox, the feedback store. ``hatespeech/service/api.py`` builds one ``Service`` and hands it to
the three integrations, which know nothing of HTTP frameworks or of the model's internals.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hatespeech.integrations.common import clean_field, clean_url, queued_id
from hatespeech.integrations.outbox import Outbox

log = logging.getLogger("hatespeech.integrations")
TOP_WORDS = 5


@dataclass
class Service:
    # ``/moderate`` itself: (text, *, id, thread, author, url) → its answer; ValueError for bad input.
    # Calling it (not the model) is what puts the post in the alerts' windows and the review queue.
    moderate: Callable[..., dict[str, Any]]
    explain: Callable[[str], dict[str, Any]]  # /moderate's explanation of one text (may raise NotImplementedError)
    outbox: Outbox
    feedback: Callable[[], Any]  # the FeedbackStore, opened on first use
    max_text_chars: int
    # (queued post's id, label): a stored decision, shown on the review page (review.labelled)
    labelled: Callable[[str, str], None] = lambda post_id, label: None

    def score(
        self, text: str, *, id: object = None, thread: object = None, author: object = None, url: object = None
    ) -> dict[str, Any] | None:
        """``/moderate``'s answer for a post, or None if there is nothing to score.

        A post longer than ``MAX_TEXT_CHARS`` is scored on its first ``MAX_TEXT_CHARS``
        characters (a platform cannot be told to send less, and refusing would only make it retry).
        A context field the API would refuse is left out rather than losing the post.
        """
        text = text[: self.max_text_chars]
        if not text.strip():
            return None
        context = {
            "id": clean_field(id),
            "thread": clean_field(thread),
            "author": clean_field(author),
            "url": clean_url(url),
        }
        try:
            return self.moderate(text, **context)
        except ValueError:
            try:
                return self.moderate(text)
            except ValueError as err:
                log.warning(json.dumps({"integrations": "not_scored", "error": str(err)[:200]}))
                return None

    def first_delivery(self, key: str) -> contextlib.AbstractContextManager[bool]:
        """``with service.first_delivery(key) as fresh:`` — True unless ``key``'s work was done before.

        The "seen" claim is recorded only once the block has queued its work; if the block fails
        (the outbox is down, say), it is released, so the platform's retry is handled as a first
        delivery (``Keys.once``).
        """
        return self.outbox.keys.once(key)

    def why(self, text: str, label: str, limit: int = TOP_WORDS) -> list[str]:
        """The parts of ``text`` that pushed hardest toward ``label``, strongest first (distinct, at most ``limit``).

        Empty when the model cannot be explained exactly (``/moderate`` answers 501 then).
        """
        try:
            spans = self.explain(text[: self.max_text_chars])["spans"]
        except NotImplementedError:
            return []
        ranked = sorted(
            (s for s in spans if s["class"] == label and s["contribution"] > 0), key=lambda s: -s["contribution"]
        )
        words: list[str] = []
        for span in ranked:
            if span["text"] not in words:
                words.append(span["text"])
            if len(words) == limit:
                break
        return words

    def add_feedback(self, text: str, label: str, *, source: str, id: object, moderator: object = None) -> bool:
        """Store a moderator's decision (the same ``source``/``id`` again replaces it); False if refused.

        ``source`` is the board and ``id`` the post's id on it (common.py's naming rule), so a label
        given on the review page to the same post replaces this one, and this one shows there.
        """
        post_id = clean_field(id)
        try:
            # spooled while the database is away: a board's decision is never lost, nor holds its webhook
            self.feedback().keep(
                text[: self.max_text_chars], label, source=source, id=post_id, moderator=clean_field(moderator)
            )
        except ValueError as err:  # InvalidFeedback: an empty text, say
            log.warning(json.dumps({"integrations": "feedback_refused", "source": source, "error": str(err)[:200]}))
            return False
        queued = queued_id(source, post_id)
        if queued is not None:
            self.labelled(queued, label)
        return True


def digest(text: str) -> str:
    """A short fingerprint of a post's words (a delivery's identity, with the post's id).

    >>> digest("hello")
    '2cf24dba5fb0a30e'
    """
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def flag_message(answer: dict[str, Any], words: list[str], limit: int = 1000) -> str:
    """What a moderator reads with the flag: the decision, the scores, the words that weighed most.

    >>> answer = {"label": "hate speech", "action": "block", "scores": {"hate speech": 0.8, "neither": 0.2},
    ...           "model": {"version": "1.0.0"}}
    >>> for part in flag_message(answer, ["vermin"]).split(". "):
    ...     print(part)
    hatespeech-detect: hate speech (block)
    Scores: hate speech 0.80 · neither 0.20
    Words that weighed most: "vermin"
    Model 1.0.0.
    """
    from hatespeech.integrations.common import scores_line

    parts = [f"hatespeech-detect: {answer['label']} ({answer['action']}).", f"Scores: {scores_line(answer['scores'])}."]
    if words:
        parts.append("Words that weighed most: " + ", ".join(json.dumps(w, ensure_ascii=False) for w in words) + ".")
    version = (answer.get("model") or {}).get("version")
    if version:
        parts.append(f"Model {version}.")
    message = " ".join(parts)
    return message if len(message) <= limit else message[: limit - 1] + "…"
