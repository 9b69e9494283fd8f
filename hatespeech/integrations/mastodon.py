"""Mastodon: an admin webhook with ``status.created`` / ``status.updated`` in, reports out.

What Mastodon sends (mastodon/mastodon: app/services/webhook_service.rb,
app/serializers/rest/admin/webhook_event_serializer.rb, app/workers/webhooks/delivery_worker.rb):
a POST with ``{"event": "status.created", "created_at": ..., "object": <the status as the REST
API shows it>}``, signed ``X-Hub-Signature: sha256=<hex HMAC-SHA256(secret, body)>``, retried
(up to 16 times) on failure. The status has ``id``, ``content`` (HTML), ``spoiler_text``,
``account`` (``id``, ``acct``), ``url``, ``in_reply_to_id``.

What we do: score what a reader is shown of the status (``status_text``): its content warning
(``spoiler_text``), its content (HTML, ``<blockquote>`` included: the author's words), its poll's
options (``poll.options[].title``), its images' descriptions (``media_attachments[].description``)
and its link preview (``card``), all of it, long ones in windows, through ``/moderate`` (the status
it replies to is the thread, so a pile-on under one post is one discussion; the account is the
author), and when the action reaches ``MASTODON_REPORT_ACTION`` (``review`` by default) queue a
report, ``POST MASTODON_URL/api/v1/reports`` with ``account_id``, ``status_ids[]``, ``comment``
(at most 1,000 characters: app/models/report.rb), ``category`` and ``forward: false``, sent with
``Authorization: Bearer MASTODON_TOKEN`` (a token of a moderator's account with the
``write:reports`` scope: app/controllers/api/v1/reports_controller.rb). One report per status.

Moderators' decisions do not come back: Mastodon's webhooks have ``report.created`` but no
event when a report is resolved, so resolved reports cannot become feedback here.
"""

from __future__ import annotations

import json
from typing import Any

from hatespeech.config import IntegrationSettings
from hatespeech.core.policy import ACTION_RANK
from hatespeech.integrations.common import (
    Header,
    Reply,
    board_id,
    error,
    flag_label,
    object_at,
    read_html,
    signed_json,
)
from hatespeech.integrations.service import Part, Post, Service, digest, flag_message, seen_key

KIND = "mastodon"
EVENTS = ("status.created", "status.updated")
MAX_COMMENT_CHARS = 1000


def _listed(value: object, key: str) -> list[str]:
    """``value[i][key]`` for each item of a list that has a string there."""
    items = value if isinstance(value, list) else []
    return [item[key] for item in items if isinstance(item, dict) and isinstance(item.get(key), str)]


def status_text(status: dict[str, Any]) -> Post:
    """What a reader is shown of a status (REST::StatusSerializer), each field a part, all of them the author's.

    >>> status = {"spoiler_text": "cw", "content": "<p>a &amp; <blockquote>b</blockquote></p>",
    ...           "poll": {"options": [{"title": "yes"}, {"title": "no"}]},
    ...           "media_attachments": [{"description": "a cat"}, {"description": None}]}
    >>> status_text(status).text.split()
    ['cw', 'a', '&', 'b', 'yes', 'no', 'a', 'cat']
    """
    content = status.get("content")
    poll = object_at(status, "poll")
    card = object_at(status, "card")
    plain = [
        *_listed(poll.get("options"), "title"),
        *_listed(status.get("media_attachments"), "description"),
        *(card[key] for key in ("title", "description") if isinstance(card.get(key), str)),
    ]
    spoiler = status.get("spoiler_text")
    return Post(
        [
            Part(spoiler if isinstance(spoiler, str) else ""),
            Part(read_html(content).own if isinstance(content, str) else ""),
            *(Part(text) for text in plain),
        ]
    )


class Mastodon:
    """The ``POST /integrations/mastodon`` handler."""

    def __init__(self, settings: IntegrationSettings, service: Service):
        self.settings, self.service = settings, service
        self.base = settings.mastodon_url or ""
        self.seen_key = seen_key(settings.mastodon_secret or "")

    def __call__(self, body: bytes, header: Header) -> Reply:
        payload = signed_json(body, header, "X-Hub-Signature", [self.settings.mastodon_secret or ""])
        if isinstance(payload, Reply):
            return payload
        event = payload.get("event")
        status = payload.get("object")
        if event not in EVENTS or not isinstance(status, dict):
            return Reply(200, {"ignored": str(event)[:100]})
        return self.status(status, str(event))

    def _reported(self, answer: dict[str, Any]) -> bool:
        """The posts reported to the instance's moderators: ``MASTODON_ACTION`` (review, or block only) and above."""
        return ACTION_RANK.get(answer["action"], 0) >= ACTION_RANK[self.settings.mastodon_action]

    def status(self, status: dict[str, Any], event: str) -> Reply:
        status_id = status.get("id")
        account = object_at(status, "account")
        if not isinstance(status_id, str | int) or not isinstance(account.get("id"), str | int):
            return error(400, "object.id and object.account.id are required")
        shown = status_text(status)
        text = shown.text
        context = {
            "id": board_id(KIND, status_id),  # its feedback is (KIND, status_id): core/boards.py's naming rule
            "thread": board_id(KIND, status.get("in_reply_to_id") or status_id),
            "author": account.get("acct") or account.get("username") or account.get("id"),
            "url": status.get("url") or status.get("uri"),
        }
        key = f"{KIND}:seen:{status_id}:{digest(text, self.seen_key)}"
        with self.service.delivery(key, shown, self._reported, **context) as (answer, fresh):
            if answer is None:
                return Reply(200, {"ignored": "nothing to score"})
            if not fresh:  # a retry, or an update that leaves the words alone: already scored and acted on
                return Reply(200, {"ignored": "already handled (the same status and text)"})
            reply: dict[str, Any] = {
                "event": event,
                "label": answer["label"],
                "action": answer["action"],
                "report": None,
            }
            if self._reported(answer):
                label = flag_label(answer)
                words = self.service.why(text, label, window=answer["window"])
                call: dict[str, Any] = {
                    "account_id": str(account["id"]),
                    "status_ids": [str(status_id)],
                    "comment": flag_message(answer, words, MAX_COMMENT_CHARS),
                    "category": self.settings.mastodon_category,
                    "forward": False,
                }
                if self.settings.mastodon_category == "violation":
                    call["rule_ids"] = list(self.settings.mastodon_rule_ids)
                key = f"{KIND}:status:{status_id}:report"
                queued = self.service.outbox.call_once(KIND, key, f"{self.base}/api/v1/reports", json.dumps(call))
                reply["report"] = {"queued": queued}
            return Reply(200, reply)
