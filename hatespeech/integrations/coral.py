"""Coral Talk: its external moderation phase, and Perspective's ``comments:suggestscore``.

External moderation (coralproject/talk, server/src/core/server/services/comments/pipeline/
phases/external.ts): for each new or edited comment Coral POSTs ``{"action": "NEW" | "EDIT",
"comment": {"body", "parentID"}, "author": {"id", "role"}, "story": {"id", "url"}, "site":
{"id"}, "tenantID", "tenantDomain"}``, pretty-printed (``JSON.stringify(data, null, 2)``,
services/fetch/fetch.ts), signed in ``X-Coral-Signature``: ``sha256=<hex HMAC-SHA256(secret,
body)>`` for each active secret, comma-separated while a secret is being rotated
(models/settings/signingSecret/helpers.ts). It waits for the answer (its timeout, then it goes
on without us): a 204 or ``{}`` changes nothing; ``{"actions": [{"actionType": "FLAG", "reason":
"COMMENT_DETECTED_TOXIC"}], "status": ...}`` flags the comment, and ``status`` (e.g.
``SYSTEM_WITHHELD``) holds it back for the moderators' queue. The comment has no id yet: the
story is the thread, the author's id the author, the story's URL the link. We score the whole
body as a reader sees it (HTML to text, ``<blockquote>`` included: Coral cannot tell us whose
words a quote holds, so they are the author's), long ones in windows.

``comments:suggestscore`` (services/perspective/perspective.ts): when a moderator approves or
rejects a comment Coral sends Perspective ``{"comment": {"text"}, "attributeScores": {"<model>":
{"summaryScore": {"value": 0 | 1}}}, "languages", "communityId": "Coral:<tenant URL>",
"clientToken": "comment:<id>", "context": ...}`` (1 = rejected). We store it as feedback:
a score ≥ 0.5 is "offensive language", or "hate speech" when ``IDENTITY_ATTACK`` ≥ 0.5 is sent
too; below, "neither"; the comment's id (``clientToken`` without ``comment:``) is the
feedback's id, so a moderator who changes their mind replaces their earlier label (the naming
rule of all three boards: core/boards.py, ``BOARDS``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from hatespeech.config import IntegrationSettings
from hatespeech.core.language import identify
from hatespeech.integrations.common import (
    Header,
    Reply,
    board_id,
    error,
    object_at,
    read_html,
    signed_json,
    strip_html,
)
from hatespeech.integrations.service import Part, Post, Service, digest, seen_key

KIND = "coral"
TOKEN_PREFIX = "comment:"  # Coral's clientToken is "comment:<the comment's id>"
FLAG = {"actionType": "FLAG", "reason": "COMMENT_DETECTED_TOXIC"}
# SuggestCommentScore's other fields, and their JSON types (Google's APIs refuse unknown ones)
SUGGEST_OPTIONS: dict[str, type] = {
    "languages": list,
    "clientToken": str,
    "communityId": str,
    "sessionId": str,
    "context": dict,
}
ACTIONS = ("NEW", "EDIT")
MAX_ATTRIBUTES = 20
MAX_TOKEN_CHARS = 200  # it becomes the feedback's id


class Coral:
    """The ``POST /integrations/coral`` handler (Coral's external moderation phase)."""

    def __init__(self, settings: IntegrationSettings, service: Service):
        self.settings, self.service = settings, service
        self.seen_key = seen_key((settings.coral_secrets or ("",))[0])

    def __call__(self, body: bytes, header: Header) -> Reply:
        payload = signed_json(body, header, "X-Coral-Signature", self.settings.coral_secrets)
        if isinstance(payload, Reply):
            return payload
        comment = payload.get("comment")
        if (
            payload.get("action") not in ACTIONS
            or not isinstance(comment, dict)
            or not isinstance(comment.get("body"), str)
        ):
            return error(400, 'expected {"action": "NEW" | "EDIT", "comment": {"body": "..."}, ...}')
        story = object_at(payload, "story")
        author = object_at(payload, "author")
        text = read_html(comment["body"]).own
        context = {
            "thread": board_id(KIND, story["id"]) if isinstance(story.get("id"), str) else None,
            "author": author.get("id"),
            "url": story.get("url"),
        }
        # Coral's comment has no id yet, so a delivery replayed (or retried) looks like a new comment: one
        # seen before (same story, author and words) gets the same answer but is recorded once, so five
        # replays do not make "5 of the last 5 messages flagged". Coral's own repeat-post check stops a
        # commenter from posting the same words twice.
        seen = json.dumps([context["thread"], str(context["author"]), text])
        key = f"{KIND}:seen:{digest(seen, self.seen_key)}"
        with self.service.delivery(key, Post([Part(text)]), lambda answer: False, **context) as (answer, _):
            pass  # Coral waits for the answer: one seen before gets it again, without being recorded again
        if answer is None or answer["action"] == "allow":
            return Reply(204)
        reply: dict[str, Any] = {"actions": [dict(FLAG)]}
        if answer["action"] == "block" and self.settings.coral_block_status != "NONE":
            reply["status"] = self.settings.coral_block_status
        return Reply(200, reply)


def feedback_label(attribute_scores: object) -> str:
    """The label a moderator's Perspective ``attributeScores`` stand for; ``ValueError`` if malformed.

    >>> feedback_label({"TOXICITY": {"summaryScore": {"value": 1}}})
    'offensive language'
    >>> feedback_label({"TOXICITY": {"summaryScore": {"value": 1}}, "IDENTITY_ATTACK": {"summaryScore": {"value": 1}}})
    'hate speech'
    >>> feedback_label({"SEVERE_TOXICITY": {"summaryScore": {"value": 0}}})
    'neither'
    """
    if not isinstance(attribute_scores, Mapping) or not attribute_scores or len(attribute_scores) > MAX_ATTRIBUTES:
        raise ValueError('attributeScores must be an object such as {"TOXICITY": {"summaryScore": {"value": 1}}}')
    values: dict[str, float] = {}
    for name, score in attribute_scores.items():
        summary = score.get("summaryScore") if isinstance(score, Mapping) else None
        value = summary.get("value") if isinstance(summary, Mapping) else None
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise ValueError(f"attributeScores.{str(name)[:50]}.summaryScore.value must be a number in [0, 1]")
        values[str(name)] = float(value)
    if not any(v >= 0.5 for v in values.values()):
        return "neither"
    return "hate speech" if values.get("IDENTITY_ATTACK", 0.0) >= 0.5 else "offensive language"


def suggest_score(
    service: Service,
    comment: object,
    attribute_scores: object,
    options: Mapping[str, Any],
    source: str | None = None,
    origin: str = "token",
) -> tuple[dict[str, Any], str]:
    """Store one suggested score as feedback: ``(Perspective's answer, the label stored)``; ValueError if malformed.

    ``source``, when given, is what the caller's credential stands for (``coral`` for
    ``MODERATION_API_KEY``), whatever ``communityId`` claims; ``origin`` is that credential, as feedback
    records it. Perspective's request carries no time of the decision: it counts from its arrival.
    """
    for name, value in options.items():
        kind = SUGGEST_OPTIONS.get(name)
        if kind is None:
            raise ValueError(f'Invalid JSON payload received. Unknown name "{str(name)[:50]}": Cannot find field.')
        if not isinstance(value, kind):
            raise ValueError(f"Invalid value at '{name}': {kind.__name__} expected.")
    if (
        not isinstance(comment, Mapping)
        or set(comment) - {"text", "type"}
        or comment.get("type", "PLAIN_TEXT") != "PLAIN_TEXT"
    ):
        raise ValueError('comment must be {"text": "..."} (PLAIN_TEXT)')
    if not isinstance(comment.get("text"), str) or not comment["text"].strip():
        raise ValueError("comment.text must be a non-empty string")
    if len(comment["text"]) > service.max_text_chars:
        raise ValueError(
            f"comment.text is {len(comment['text'])} characters long; the maximum is {service.max_text_chars}"
        )
    token = options.get("clientToken")
    if token is not None and not 0 < len(token) <= MAX_TOKEN_CHARS:
        raise ValueError(f"clientToken must be 1 to {MAX_TOKEN_CHARS} characters long")
    if not all(isinstance(code, str) for code in options.get("languages", [])):
        raise ValueError("languages must be an array of language codes")
    label = feedback_label(attribute_scores)
    community = options.get("communityId")
    if source is None:
        source = KIND if isinstance(community, str) and community.startswith("Coral:") else "perspective"
    post_id = token
    if source == KIND and token is not None and token.startswith(TOKEN_PREFIX) and len(token) > len(TOKEN_PREFIX):
        post_id = token[len(TOKEN_PREFIX) :]  # the comment's own id, as the other boards' (core/boards.py)
    text = strip_html(comment["text"]) if "<" in comment["text"] else comment["text"]
    if service.add_feedback(text, label, source=source, id=post_id, origin=origin) is False:
        raise ValueError("comment.text cannot be stored as feedback")
    languages = options.get("languages")
    found = identify(text)  # as comments:analyze names them
    answer: dict[str, Any] = {"detectedLanguages": [found.code, *found.also]}
    if isinstance(languages, list):
        answer["requestedLanguages"] = [code for code in languages if isinstance(code, str)][:10]
    if token is not None:
        answer["clientToken"] = token
    return answer, label
