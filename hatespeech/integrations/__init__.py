"""Connections to real boards: Discourse, Coral Talk and Mastodon, in and out.

Each platform calls us with its own request shape and signature (not ``FIREFLY_TOKEN``: a
platform cannot send our header); we check the signature in constant time against the raw
body, score the post with ``/moderate`` itself (so alerts and the review queue see it with its
thread, author and link), act on the platform through its API (queued in the alert outbox,
delivered in the background) or in the reply it waits for, and take its moderators' later
decisions as feedback.

    discourse.py   POST /integrations/discourse   webhook "Post" events → flags (post_actions)
    coral.py       POST /integrations/coral       external moderation phase → FLAG / withheld;
                   comments:suggestscore          Perspective feedback → the feedback store
    mastodon.py    POST /integrations/mastodon    admin webhook status.* → reports
    common.py      signatures, HTML to text, safe context fields, ``Reply``
    outbox.py      once-per-key platform calls through the alert outbox; what was flagged
    service.py     what the integrations need from the service (``Service``)

An integration whose settings are missing answers 404 (it is off); one half configured stops
the service at start with a message naming what is missing (hatespeech/config.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from hatespeech.config import IntegrationSettings
from hatespeech.core.boards import feedback_key, queued_id
from hatespeech.integrations.common import Header, Reply, error
from hatespeech.integrations.coral import Coral, suggest_score
from hatespeech.integrations.discourse import Discourse
from hatespeech.integrations.mastodon import Mastodon
from hatespeech.integrations.outbox import InProgress, Keys, Outbox
from hatespeech.integrations.service import Service

__all__ = [
    "PATHS",
    "Handler",
    "Keys",
    "Outbox",
    "Reply",
    "Service",
    "call_headers",
    "feedback_key",
    "queued_id",
    "routes",
    "suggest_score",
]

log = logging.getLogger("hatespeech.integrations")
Handler = Callable[[bytes, Header], Reply]
PATHS = {
    "discourse": "/integrations/discourse",
    "coral": "/integrations/coral",
    "mastodon": "/integrations/mastodon",
}
NEEDS = {
    "discourse": "DISCOURSE_URL, DISCOURSE_API_KEY and DISCOURSE_WEBHOOK_SECRET",
    "coral": "CORAL_WEBHOOK_SECRET",
    "mastodon": "MASTODON_URL, MASTODON_TOKEN and MASTODON_WEBHOOK_SECRET",
}


def _off(name: str) -> Handler:
    def handler(body: bytes, header: Header) -> Reply:
        return error(404, f"the {name} integration is off: set {NEEDS[name]} to turn it on")

    return handler


def _guarded(name: str, handler: Handler) -> Handler:
    """The handler, with a store that fails answered 503 (the platform retries) instead of 500."""

    def guarded(body: bytes, header: Header) -> Reply:
        try:
            return handler(body, header)
        except InProgress:  # the same delivery is being handled right now: the platform sends it again
            return Reply(503, {"error": "this delivery is being handled; send it again later"}, [("Retry-After", "10")])
        except Exception as err:  # noqa: BLE001 (any store error: tell the platform to retry) the outbox or the feedback store is down: nothing was queued
            log.error(json.dumps({"integrations": "unavailable", "platform": name, "error": type(err).__name__}))
            return Reply(503, {"error": "the work could not be queued; send it again later"}, [("Retry-After", "60")])

    return guarded


def routes(settings: IntegrationSettings, service: Service) -> dict[str, Handler]:
    """The handler of each integration path (an "off" one for the integrations not configured)."""
    made: dict[str, Handler] = {}
    for name, cls, on in (
        ("discourse", Discourse, settings.discourse),
        ("coral", Coral, settings.coral),
        ("mastodon", Mastodon, settings.mastodon),
    ):
        made[PATHS[name]] = _guarded(name, cls(settings, service)) if on else _off(name)
    return made


def call_headers(settings: IntegrationSettings) -> dict[str, Callable[[], dict[str, str]]]:
    """For each outbox row kind, the credentials the sender adds at delivery time (never stored)."""
    kinds: dict[str, Callable[[], dict[str, str]]] = {}
    if settings.discourse:
        kinds["discourse"] = lambda: {
            "Api-Key": settings.discourse_api_key or "",
            "Api-Username": settings.discourse_api_username,
            "Accept": "application/json",
        }
    if settings.mastodon:
        kinds["mastodon"] = lambda: {"Authorization": f"Bearer {settings.mastodon_token}", "Accept": "application/json"}
    return kinds
