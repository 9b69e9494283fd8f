"""Discourse: a webhook with the "Post" events in, flags out, moderators' reviews back as feedback.

What Discourse sends (discourse/discourse, app/jobs/regular/emit_web_hook_event.rb): a POST whose
JSON body is ``{"<event type>": <payload>}`` (``{"post": {...}}`` for post events) or
``{"ping": "OK"}``, with ``X-Discourse-Event`` (``post_created``, ``post_edited``…),
``X-Discourse-Event-Type`` (``post``), ``X-Discourse-Event-Id`` (new on every attempt) and, when
the webhook has a secret, ``X-Discourse-Event-Signature: sha256=<hex HMAC-SHA256(secret, body)>``.
Anything but a 2xx is retried (4 times, 1, 5, 25 and 125 minutes apart). The post payload
(WebHookPostSerializer) has ``id``, ``username``, ``raw``, ``cooked``, ``topic_id``,
``topic_slug``, ``post_number``, ``post_type``.

What we do: score the author's words (``raw`` without ``[quote]`` blocks; ``cooked`` with HTML
and quotes stripped when ``raw`` is absent) through ``/moderate`` with the post's context (the
topic is the thread, ``username`` the author, the link ``DISCOURSE_URL/t/<slug>/<topic>/<n>``),
and for ``review`` or ``block`` queue ``POST DISCOURSE_URL/post_actions`` with ``id`` (the post),
``post_action_type_id`` (7 notify_moderators for review, 4 inappropriate for block, as
configured) and a ``message`` (scores and the words that weighed most), sent with ``Api-Key`` and
``Api-Username`` (app/controllers/post_actions_controller.rb). One flag per post and flag type,
whatever the replays and edits (Discourse itself refuses a second flag of one type by one user).

Moderators' decisions come back as ``reviewable`` events (``reviewable_transitioned_to``, or
``reviewable_updated``: app/models/web_hook.rb; payload from ReviewableFlaggedPostSerializer with
``status``, ``post_id``, ``raw``): on a post we flagged, ``approved`` (agreed) stores the label we
flagged it for, ``rejected`` (disagreed) stores ``neither``; ``ignored`` stores nothing. Older
Discourse versions sent ``flag_agreed`` / ``flag_disagreed`` with ``{"flag": {...}}``
(WebHookFlagSerializer): taken the same way when the flag is ours.
"""

from __future__ import annotations

import json
from typing import Any

from hatespeech.config import IntegrationSettings
from hatespeech.integrations.common import (
    Header,
    Reply,
    abusive_label,
    board_id,
    error,
    parse,
    signed,
    strip_bbcode_quotes,
    strip_html,
)
from hatespeech.integrations.service import Service, digest, flag_message

KIND = "discourse"
POST_EVENTS = ("post_created", "post_edited")
REVIEW_EVENTS = ("reviewable_transitioned_to", "reviewable_updated")
FLAG_EVENTS = {"flag_agreed": True, "flag_disagreed": False}
SKIPPED_POST_TYPES = (2, 3)  # moderator actions and small actions: Discourse's words, not a user's
# Reviewable.statuses (app/models/reviewable.rb); the webhook sends the name or the number
AGREED, DISAGREED = ("approved", 1), ("rejected", 2)


def post_text(post: dict[str, Any]) -> str:
    """The author's own words: ``raw`` without quotes, else ``cooked`` as text."""
    raw = post.get("raw")
    if isinstance(raw, str):
        return strip_bbcode_quotes(raw)
    cooked = post.get("cooked")
    return strip_html(cooked) if isinstance(cooked, str) else ""


class Discourse:
    """The ``POST /integrations/discourse`` handler."""

    def __init__(self, settings: IntegrationSettings, service: Service):
        self.settings, self.service = settings, service
        self.base = settings.discourse_url or ""
        self.flags = {"review": settings.discourse_review_flag, "block": settings.discourse_block_flag}

    def __call__(self, body: bytes, header: Header) -> Reply:
        if not signed(body, header("X-Discourse-Event-Signature"), [self.settings.discourse_secret or ""]):
            return error(401, "the X-Discourse-Event-Signature header is missing or does not match the body")
        payload = parse(body)
        if payload is None:
            return error(400, "the body is not a JSON object")
        if payload.get("ping") == "OK":
            return Reply(200, {"ping": "OK"})
        event = header("X-Discourse-Event") or ""
        if event in POST_EVENTS and isinstance(payload.get("post"), dict):
            return self.post(payload["post"], event)
        if event in REVIEW_EVENTS and isinstance(payload.get("reviewable"), dict):
            return self.reviewed(payload["reviewable"])
        if event in FLAG_EVENTS and isinstance(payload.get("flag"), dict):
            return self.flag_resolved(payload["flag"], FLAG_EVENTS[event])
        return Reply(200, {"ignored": event[:100] or "no X-Discourse-Event"})

    def post(self, post: dict[str, Any], event: str) -> Reply:
        post_id = post.get("id")
        if isinstance(post_id, bool) or not isinstance(post_id, int):
            return error(400, "post.id must be a number")
        if post.get("post_type") in SKIPPED_POST_TYPES or post.get("username") == self.settings.discourse_api_username:
            return Reply(200, {"ignored": "not a user's post"})
        topic_id, slug, number = post.get("topic_id"), post.get("topic_slug"), post.get("post_number")
        url = f"{self.base}/t/{slug or 'topic'}/{topic_id}/{number}" if topic_id is not None and number else None
        text = post_text(post)
        # A retry, a "redeliver" or an edit that leaves the words alone: already scored and acted
        # on; scoring again would count the post twice in its discussion's alert window.
        with self.service.first_delivery(f"{KIND}:seen:{post_id}:{digest(text)}") as fresh:
            if not fresh:
                return Reply(200, {"ignored": "already handled (the same post and text)"})
            answer = self.service.score(
                text,
                id=board_id(KIND, post_id),  # its feedback is (KIND, post_id): common.py's naming rule
                thread=board_id(KIND, topic_id) if topic_id is not None else None,
                author=post.get("username"),
                url=url,
            )
            if answer is None:
                return Reply(200, {"ignored": "nothing to score"})
            flag = self.flags.get(answer["action"], 0)
            reply = {"event": event, "label": answer["label"], "action": answer["action"], "flag": None}
            if flag:
                label = answer["label"] if answer["label"] != "neither" else abusive_label(answer["scores"])
                message = flag_message(answer, self.service.why(text, label))
                call = {"id": post_id, "post_action_type_id": flag, "message": message}
                key = f"{KIND}:post:{post_id}:flag:{flag}"
                queued = self.service.outbox.call_once(KIND, key, f"{self.base}/post_actions", json.dumps(call))
                self.service.outbox.keys.remember(f"{KIND}:flagged:{post_id}", label)
                reply["flag"] = {"post_action_type_id": flag, "queued": queued}
            return Reply(200, reply)

    def reviewed(self, reviewable: dict[str, Any]) -> Reply:
        status = reviewable.get("status")
        agreed = True if status in AGREED else False if status in DISAGREED else None
        post_id = reviewable.get("post_id", reviewable.get("target_id"))
        if agreed is None or reviewable.get("type", "ReviewableFlaggedPost") != "ReviewableFlaggedPost":
            return Reply(200, {"ignored": "no decision on a flagged post"})
        return self._decided(post_id, post_text(reviewable), agreed, None)

    def flag_resolved(self, flag: dict[str, Any], agreed: bool) -> Reply:
        if flag.get("created_by") != self.settings.discourse_api_username:
            return Reply(200, {"ignored": "not our flag"})
        post = flag.get("post") if isinstance(flag.get("post"), dict) else {}
        return self._decided(post.get("id"), post_text(post), agreed, flag.get("resolved_by"))

    def _decided(self, post_id: object, text: str, agreed: bool, moderator: object) -> Reply:
        flagged = self.service.outbox.keys.recall(f"{KIND}:flagged:{post_id}")
        if flagged is None:
            return Reply(200, {"ignored": "not a post we flagged"})
        if not text.strip():
            return Reply(200, {"ignored": "the post has no text"})
        label = flagged if agreed else "neither"
        stored = self.service.add_feedback(text, label, source=KIND, id=post_id, moderator=moderator)
        return Reply(200, {"feedback": label if stored else None})
