"""Discourse: a webhook with the "Post" events in, flags out, moderators' reviews back as feedback.

What Discourse sends (discourse/discourse, app/jobs/regular/emit_web_hook_event.rb): a POST whose
JSON body is ``{"<event type>": <payload>}`` (``{"post": {...}}`` for post events) or
``{"ping": "OK"}``, with ``X-Discourse-Event`` (``post_created``, ``post_edited``…),
``X-Discourse-Event-Type`` (``post``), ``X-Discourse-Event-Id`` (new on every attempt) and, when
the webhook has a secret, ``X-Discourse-Event-Signature: sha256=<hex HMAC-SHA256(secret, body)>``.
Anything but a 2xx is retried (4 times, 1, 5, 25 and 125 minutes apart). The post payload
(WebHookPostSerializer) has ``id``, ``username``, ``raw``, ``cooked``, ``topic_id``,
``topic_slug``, ``post_number``, ``post_type``.

What we do: score what a reader is shown (``post_text``): the rendered post, ``cooked`` (entities
decoded, oneboxes' titles and descriptions included; ``raw`` only when ``cooked`` is absent), and
on a topic's first post its ``topic_title``, all of it, long posts in windows, through
``/moderate`` with the post's context (the topic is the thread, ``username`` the author, the link
``DISCOURSE_URL/t/<slug>/<topic>/<n>``). A quote is someone else's words only when it verifiably
is: the ``<aside class="quote" data-post="N" data-topic="M">`` that Discourse renders for
``[quote="name, post:N, topic:M"]`` naming another post. Its words are scored apart and can send
the post to review, never block it (anyone can write that tag around their own words, so a quote
is never left unscored; but quoting a hateful post to answer it is not hate). Any other quote (a
bare ``[quote]``, ``>``, an aside that never closes) is the author's own.
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
import re
from typing import Any

from hatespeech.config import IntegrationSettings
from hatespeech.feedback.store import TooManyWrites
from hatespeech.integrations.common import (
    Header,
    Reply,
    board_id,
    board_time,
    error,
    flag_label,
    object_at,
    read_html,
    signed_json,
)
from hatespeech.integrations.service import QUOTED_AT_MOST, Part, Post, Service, digest, flag_message, seen_key

KIND = "discourse"
POST_EVENTS = ("post_created", "post_edited")
ORIGIN = f"{KIND}-webhook"  # what feedback records as the writer of this board's decisions
REVIEW_EVENTS = ("reviewable_transitioned_to", "reviewable_updated")
FLAG_EVENTS = {"flag_agreed": True, "flag_disagreed": False}
SKIPPED_POST_TYPES = (2, 3)  # moderator actions and small actions: Discourse's words, not a user's
# Reviewable.statuses (app/models/reviewable.rb); the webhook sends the name or the number
AGREED, DISAGREED = ("approved", 1), ("rejected", 2)


_NUMBER = re.compile(r"[0-9]{1,12}")


def post_text(post: dict[str, Any]) -> Post:
    """What a reader is shown of a post (a WebHookPostSerializer payload, or a reviewable's).

    >>> cooked = ('<aside class="quote no-group" data-username="bob" data-post="3" data-topic="7">'
    ...           '<blockquote><p>his words</p></blockquote></aside><p>my &amp; words</p>')
    >>> [(p.text, p.at_most) for p in post_text({"cooked": cooked, "topic_id": 7, "post_number": 1,
    ...                                          "topic_title": "A title"}).parts]
    [('A title', 'block'), ('my & words', 'block'), ('his words', 'review')]
    """
    topic, number = post.get("topic_id"), post.get("post_number")

    def another_post(attrs: dict[str, str]) -> bool:  # the quote Discourse renders for [quote="…, post:N, topic:M"]
        quoted_post, quoted_topic = attrs.get("data-post", ""), attrs.get("data-topic", "")
        if "quote" not in attrs.get("class", "").split():
            return False
        if not (_NUMBER.fullmatch(quoted_post) and _NUMBER.fullmatch(quoted_topic)):
            return False
        return (int(quoted_topic), int(quoted_post)) != (topic, number)

    cooked, raw = post.get("cooked"), post.get("raw")
    if isinstance(cooked, str):
        seen = read_html(cooked, another_post)
    else:  # no rendering to go by: all of it is the author's
        seen = read_html(raw if isinstance(raw, str) else "")
    title = post.get("topic_title")
    parts = [Part(title)] if number == 1 and isinstance(title, str) else []
    return Post([*parts, Part(seen.own), Part(seen.quoted, QUOTED_AT_MOST)])


def own_words(post: dict[str, Any]) -> str:
    """The author's own words in a post, what a moderator's decision labels: quotes of other posts left out."""
    parts = post_text({**post, "post_number": None}).parts
    return parts[0].text


class Discourse:
    """The ``POST /integrations/discourse`` handler."""

    def __init__(self, settings: IntegrationSettings, service: Service):
        self.settings, self.service = settings, service
        self.base = settings.discourse_url or ""
        self.flags = {"review": settings.discourse_review_flag, "block": settings.discourse_block_flag}
        self.seen_key = seen_key(settings.discourse_secret or "")

    def __call__(self, body: bytes, header: Header) -> Reply:
        payload = signed_json(body, header, "X-Discourse-Event-Signature", [self.settings.discourse_secret or ""])
        if isinstance(payload, Reply):
            return payload
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
        shown = post_text(post)
        text = shown.text
        context = {
            "id": board_id(KIND, post_id),  # its feedback is (KIND, post_id): core/boards.py's naming rule
            "thread": board_id(KIND, topic_id) if topic_id is not None else None,
            "author": post.get("username"),
            "url": url,
        }
        key = f"{KIND}:seen:{post_id}:{digest(text, self.seen_key)}"
        with self.service.delivery(key, shown, lambda a: bool(self.flags.get(a["action"])), **context) as (
            answer,
            fresh,
        ):
            if answer is None:
                return Reply(200, {"ignored": "nothing to score"})
            if not fresh:
                return Reply(200, {"ignored": "already handled (the same post and text)"})
            flag = self.flags.get(answer["action"], 0)
            reply = {"event": event, "label": answer["label"], "action": answer["action"], "flag": None}
            if flag:
                label = flag_label(answer)
                message = flag_message(answer, self.service.why(text, label, window=answer["window"]))
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
        # a reviewable's "version" counts its changes: a replayed older decision has a lower one
        version = reviewable.get("version")
        revision = version if isinstance(version, int) and not isinstance(version, bool) and version >= 0 else 0
        return self._decided(post_id, own_words(reviewable), agreed, None, None, revision)

    def flag_resolved(self, flag: dict[str, Any], agreed: bool) -> Reply:
        if flag.get("created_by") != self.settings.discourse_api_username:
            return Reply(200, {"ignored": "not our flag"})
        post = object_at(flag, "post")
        decided_at = board_time(flag.get("resolved_at"))  # when the moderator decided, by Discourse's clock
        return self._decided(post.get("id"), own_words(post), agreed, flag.get("resolved_by"), decided_at, 0)

    def _decided(
        self, post_id: object, text: str, agreed: bool, moderator: object, event_at: float | None, revision: int
    ) -> Reply:
        flagged = self.service.outbox.keys.recall(f"{KIND}:flagged:{post_id}")
        if flagged is None:
            return Reply(200, {"ignored": "not a post we flagged"})
        if not text.strip():
            return Reply(200, {"ignored": "the post has no text"})
        label = flagged if agreed else "neither"
        try:
            stored = self.service.add_feedback(
                text,
                label,
                source=KIND,
                id=post_id,
                moderator=moderator,
                origin=ORIGIN,
                event_at=event_at,
                revision=revision,
            )
        except TooManyWrites as err:  # Discourse redelivers a failed event later
            return Reply(429, {"error": str(err)}, [("Retry-After", str(max(1, round(err.retry_after))))])
        if stored is None:
            return Reply(200, {"feedback": None, "ignored": "a newer decision on this post is stored"})
        return Reply(200, {"feedback": label if stored else None})
