"""Local stand-ins of Discourse, Coral and Mastodon, built from the platforms' published sources.

Each stand-in does both halves of its platform on 127.0.0.1:

- it *sends* webhooks exactly as the platform does (body bytes, headers, signature), and
- it *is* the platform's API for what we call back, recording every call and answering as the
  platform would (refusing a call without credentials, a second flag of one type on one post),
  or as told (down: 503; rate limited: 429 with ``Retry-After``).

Sources (read in the platforms' public repositories):

- discourse/discourse app/jobs/regular/emit_web_hook_event.rb: body ``{"<type>": payload}``
  compact (MultiJson.dump), ``{"ping": "OK"}``; headers ``X-Discourse-Event``,
  ``X-Discourse-Event-Type``, ``X-Discourse-Event-Id``, ``X-Discourse-Instance``,
  ``X-Discourse-Event-Signature: sha256=<hex HMAC-SHA256(secret, body)>``.
- discourse/discourse app/serializers/web_hook_post_serializer.rb (the post payload, raw included),
  config/initializers/012-web_hook_events.rb and app/models/web_hook.rb (post_created, post_edited,
  reviewable_created, reviewable_transitioned_to → reviewable_updated),
  app/serializers/reviewable_serializer.rb + reviewable_flagged_post_serializer.rb (status, post_id,
  raw), app/models/reviewable.rb (statuses: pending 0, approved 1, rejected 2, ignored 3, deleted 4),
  app/serializers/web_hook_flag_serializer.rb (older flag_agreed / flag_disagreed payload).
- discourse/discourse app/controllers/post_actions_controller.rb (``id``, ``post_action_type_id``,
  ``message``; the API user must be able to act) and PostActionType.types (4 inappropriate,
  7 notify_moderators).
- coralproject/talk server/src/core/server/services/comments/pipeline/phases/external.ts (request
  and reply), services/fetch/fetch.ts (``JSON.stringify(data, null, 2)``, ``X-Coral-Signature``),
  models/settings/signingSecret/helpers.ts (``sha256=<hex>`` per active secret, joined by ``,``),
  services/perspective/perspective.ts (``comments:analyze`` and ``comments:suggestscore`` bodies,
  ``?key=``).
- mastodon/mastodon app/workers/webhooks/delivery_worker.rb (``X-Hub-Signature: sha256=<hex>``),
  app/services/webhook_service.rb + app/serializers/rest/admin/webhook_event_serializer.rb
  (``{"event", "created_at", "object"}``), app/models/webhook.rb (status.created, status.updated),
  app/controllers/api/v1/reports_controller.rb (``account_id``, ``status_ids[]``, ``comment``,
  ``category``, ``forward``, ``rule_ids[]``; scope ``write:reports``), app/models/report.rb
  (comment ≤ 1,000 characters).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import hmac
import html
import itertools
import json
import random
import re
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from testing.support import LocalServer, request, wait_for

DISCOURSE_SECRET = "discourse-secret-0123456789"
DISCOURSE_KEY = "discourse-api-key-abcdef0123456789"
CORAL_SECRET = "ems_coral-secret-0123456789abcdef"
MASTODON_SECRET = "mastodon-secret-0123456789abcdef"
MASTODON_TOKEN = "mastodon-token-0123456789abcdef"
SECRETS = (DISCOURSE_SECRET, DISCOURSE_KEY, CORAL_SECRET, MASTODON_SECRET, MASTODON_TOKEN)

TOKEN = "firefly-token-for-the-rest-of-the-api"
FAST_OUTBOX = {  # retries in milliseconds, so "down then back" takes a moment (the timeout: testing.alerting.alert_env)
    "ALERT_TIMEOUT": "2",
    "ALERT_BACKOFF_BASE": "0.05",
    "ALERT_BACKOFF_MAX": "0.2",
    "ALERT_LEASE": "5",
    "ALERT_POLL": "0.05",
}


def board_env(tmp: Path, discourse: Discourse, mastodon: Mastodon, **extra: str) -> dict[str, str]:
    return {
        "FIREFLY_TOKEN": TOKEN,
        "ALERT_DB_PATH": str(tmp / "alerts.sqlite3"),
        "FEEDBACK_DB_PATH": str(tmp / "feedback.sqlite3"),
        "DISCOURSE_URL": discourse.url,
        "DISCOURSE_API_KEY": DISCOURSE_KEY,
        "DISCOURSE_WEBHOOK_SECRET": DISCOURSE_SECRET,
        "CORAL_WEBHOOK_SECRET": CORAL_SECRET,
        "MASTODON_URL": mastodon.url,
        "MASTODON_TOKEN": MASTODON_TOKEN,
        "MASTODON_WEBHOOK_SECRET": MASTODON_SECRET,
        **FAST_OUTBOX,
        **extra,
    }


ABUSIVE = "shut up you stupid bitch ass hoe"  # `block` for the committed model (offensive language)
REVIEW = "you are a dumb ass idiot"  # `review`
CLEAN = "Thanks for the recipe, see you at the game tonight"  # `allow`
HATEFUL = "those dirty n*ggers and k*kes"  # `block` (hate speech) for the committed model, disguises read
# Harmless sentences, each `review` on its own for the committed model ("a bitch" as "a pain", a phrase it
# learnt from insults), `allow` among other words: what a long clean post holds here and there.
MILD = [
    "This traffic is a bitch today.",
    "Parking downtown is a bitch.",
    "The rain is a bitch this week.",
    "Mondays are a bitch.",
    "The hill on my run is a bitch.",
    "Winter here is a bitch.",
    "The last mile is a bitch.",
    "Assembling this desk is a bitch.",
]
ENCODED = "you stupid &#102;&#97;&#103;"  # `allow` as written; Discourse shows "you stupid fag" (`block`)
_WORDS = [
    "garden",
    "rain",
    "tomatoes",
    "beans",
    "morning",
    "library",
    "bicycle",
    "river",
    "coffee",
    "teacher",
    "window",
    "market",
    "station",
    "concert",
    "recipe",
    "bread",
    "cheese",
    "mountain",
    "valley",
    "forest",
    "summer",
    "winter",
    "ticket",
    "museum",
    "painting",
    "chapter",
    "kitchen",
    "harbour",
]


def weather(chars: int, seed: int = 23) -> str:
    """A harmless paragraph of about ``chars`` characters, sentences that do not repeat."""
    rng = random.Random(seed)
    sentences: list[str] = []
    total = 0
    while total < chars:
        sentences.append(f"We saw the {rng.choice(_WORDS)} near the {rng.choice(_WORDS)} and the {rng.choice(_WORDS)}.")
        total += len(sentences[-1]) + 1
    return " ".join(sentences)


def sha256_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclasses.dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int  # what the stand-in answered
    at: float  # time.monotonic() when it arrived

    def json(self) -> dict:
        return json.loads(self.body)


class PlatformAPI(LocalServer):
    """The platform's API on 127.0.0.1: records calls; ``answer`` decides the reply (overridden by ``then``)."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        # scripted answers: (status, headers, which calls it is for: None for any)
        self.plan: list[tuple[int, dict[str, str], Callable[[str, bytes], bool] | None]] = []
        self.lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with api.lock:
                    status, headers = api.planned(self.path, body) or api.answer(self.path, dict(self.headers), body)
                    api.calls.append(Call("POST", self.path, dict(self.headers), body, status, time.monotonic()))
                reply = json.dumps({"status": status}).encode()
                with contextlib.suppress(OSError):
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)

        super().__init__(Handler)

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str]]:
        return 200, {}

    def then(
        self,
        status: int,
        times: int = 1,
        headers: dict[str, str] | None = None,
        match: Callable[[str, bytes], bool] | None = None,
    ) -> None:
        """Answer the next ``times`` calls with ``status`` (the API down, or rate limiting); with ``match``
        (path, body), only the calls it accepts, so a call left over from an earlier test cannot take them."""
        with self.lock:
            self.plan += [(status, headers or {}, match)] * times

    def planned(self, path: str, body: bytes) -> tuple[int, dict[str, str]] | None:
        """The first scripted answer for this call, taken off the plan (the lock is held)."""
        for i, (status, headers, match) in enumerate(self.plan):
            try:
                fits = match is None or match(path, body)
            except (ValueError, KeyError):  # a body the match cannot read (not JSON, say): not its call
                fits = False
            if fits:
                del self.plan[i]
                return status, headers
        return None

    def accepted(self, path_prefix: str = "/") -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.status == 200 and c.path.startswith(path_prefix)]

    def wait(self, condition: Callable[[PlatformAPI], bool], timeout: float = 60.0) -> None:
        """Wait (bounded) for ``condition``; fail with what arrived if it never holds."""
        wait_for(lambda: condition(self), lambda: [(c.path, c.status, c.body[:120]) for c in self.calls], timeout)


# ------------------------------------------------------------------------------------- Discourse


class Discourse(PlatformAPI):
    """A Discourse site: sends its webhooks, takes flags at ``POST /post_actions``."""

    def __init__(self) -> None:
        super().__init__()
        self.event_ids = itertools.count(1)
        self.flags: set[tuple[int, int]] = set()

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str]]:
        if urllib.parse.urlsplit(path).path not in ("/post_actions", "/post_actions.json"):
            return 404, {}
        if headers.get("Api-Key") != DISCOURSE_KEY or not headers.get("Api-Username"):
            return 403, {}  # not logged in: ensure_logged_in
        params = json.loads(body) if body else {}
        if "id" not in params or "post_action_type_id" not in params:
            return 400, {}  # params.require
        flag = (int(params["id"]), int(params["post_action_type_id"]))
        if flag in self.flags:
            return 403, {}  # guardian.ensure_post_can_act!: already flagged so
        if flag[1] == 7 and not params.get("message"):
            return 422, {}  # notify_moderators is a message flag
        self.flags.add(flag)
        return 200, {}

    def flags_of(self, post_id: int) -> list[dict]:
        return [c.json() for c in self.accepted("/post_actions") if c.json()["id"] == post_id]

    def webhook(
        self,
        url: str,
        event: str,
        payload: dict | None,
        *,
        secret: str | None = DISCOURSE_SECRET,
        body: bytes | None = None,
    ) -> tuple[int, dict]:
        """POST one event as Discourse's EmitWebHookEvent job does; the answer's status and JSON."""
        event_type = "ping" if event == "ping" else event.split("_")[0]
        if body is None:
            wrapped = {"ping": "OK"} if event == "ping" else {event_type: payload}
            body = json.dumps(wrapped, separators=(",", ":")).encode()  # MultiJson.dump: compact
        headers = {
            "Accept": "*/*",
            "Content-Type": "application/json",
            "User-Agent": "Discourse/3.4.0",
            "X-Discourse-Instance": self.url,
            "X-Discourse-Event-Id": str(next(self.event_ids)),
            "X-Discourse-Event-Type": event_type,
        }
        if event != "ping":
            headers["X-Discourse-Event"] = event
        if secret is not None:
            headers["X-Discourse-Event-Signature"] = sha256_signature(secret, body)
        return send(url, body, headers)


_QUOTE_BLOCK = re.compile(r'\[quote(?:="([^"\]\n]*)")?\]\n?(.*?)\n?\[/quote\]', re.DOTALL)


def _paragraphs(markdown: str) -> str:
    """Plain paragraphs as markdown-it renders them: entities decoded, then &, < and > escaped."""
    blocks = [b.strip() for b in re.split(r"\n\s*\n", markdown) if b.strip()]
    return "\n".join(
        "<p>" + html.escape(html.unescape(b), quote=False).replace("\n", "<br>\n") + "</p>" for b in blocks
    )


def discourse_cook(raw: str) -> str:
    """``cooked`` for a ``raw`` made of paragraphs and ``[quote]`` blocks, as Discourse renders them.

    A ``[quote="name, post:N, topic:M"]`` becomes the aside of pretty-text's quotes.js (class,
    data-username, data-post, data-topic, the title, the blockquote); a bare ``[quote]`` the same
    aside without them; a ``[quote]`` never closed stays text (the bbcode-block rule needs its end).
    """
    out, last = [], 0
    for match in _QUOTE_BLOCK.finditer(raw):
        out.append(_paragraphs(raw[last : match.start()]))
        info = [part.strip() for part in (match.group(1) or "").split(",") if part.strip()]
        attrs = ' class="quote no-group"'
        title = ""
        if info:
            attrs += f' data-username="{html.escape(info[0])}"'
            for part in info[1:]:
                key, _, value = part.partition(":")
                if key in ("post", "topic") and value.strip().isdigit():
                    attrs += f' data-{key}="{value.strip()}"'
            title = f'<div class="title">\n<div class="quote-controls"></div>\n {html.escape(info[0])}:</div>\n'
        out.append(f"<aside{attrs}>\n{title}<blockquote>\n{_paragraphs(match.group(2))}\n</blockquote>\n</aside>")
        last = match.end()
    out.append(_paragraphs(raw[last:]))
    return "\n".join(part for part in out if part)


def discourse_post(
    post_id: int,
    raw: str,
    *,
    topic_id: int = 7,
    username: str = "alice",
    number: int = 2,
    cooked: str | None = None,
    title: str = "Weekend plans",
) -> dict:
    """A post as WebHookPostSerializer shows it (the fields we read, and a few we do not).

    ``cooked`` is rendered from ``raw`` (``discourse_cook``) unless given (a onebox, say).
    """
    return {
        "id": post_id,
        "name": username.title(),
        "username": username,
        "avatar_template": f"/user_avatar/forum/{username}/{{size}}/1_2.png",
        "created_at": "2026-11-27T12:00:00.000Z",
        "cooked": discourse_cook(raw) if cooked is None else cooked,
        "raw": raw,
        "post_number": number,
        "post_type": 1,
        "updated_at": "2026-11-27T12:00:00.000Z",
        "reply_count": 0,
        "version": 1,
        "topic_id": topic_id,
        "topic_slug": "weekend-plans",
        "topic_title": title,
        "topic_posts_count": number,
        "topic_filtered_posts_count": number,
        "topic_archetype": "regular",
        "category_id": 4,
        "category_slug": "general",
        "user_id": 12,
        "wiki": False,
    }


def discourse_reviewable(
    post_id: int, raw: str, status: str | int, *, reviewable_id: int = 90, version: int = 2
) -> dict:
    """A flagged post's reviewable as ReviewableFlaggedPostSerializer shows it (``version`` counts its changes)."""
    return {
        "id": reviewable_id,
        "status": status,
        "type": "ReviewableFlaggedPost",
        "topic_id": 7,
        "topic_url": "/t/weekend-plans/7",
        "target_url": f"/t/weekend-plans/7/{post_id}",
        "created_at": "2026-11-27T12:00:05.000Z",
        "score": 6.0,
        "version": version,
        "post_id": post_id,
        "raw": raw,
        "cooked": f"<p>{raw}</p>",
        "post_version": 1,
    }


# ------------------------------------------------------------------------------------- Coral


class Coral:
    """A Coral tenant: its external moderation phase requests and its Perspective calls."""

    def __init__(self, secrets: tuple[str, ...] = (CORAL_SECRET,)):
        self.secrets = secrets

    @staticmethod
    def request(body_html: str, action: str = "NEW", *, story: str = "story-1", author: str = "user-9") -> dict:
        return {
            "action": action,
            "comment": {"body": body_html, "parentID": None},
            "author": {"id": author, "role": "COMMENTER"},
            "story": {"id": story, "url": f"https://news.example/{story}"},
            "site": {"id": "site-1"},
            "tenantID": "tenant-1",
            "tenantDomain": "news.example",
        }

    def moderate(self, url: str, payload: dict, *, signature: str | None = None) -> tuple[int, dict | None]:
        body = json.dumps(payload, indent=2).encode()  # JSON.stringify(data, null, 2)
        if signature is None:
            signature = ",".join(sha256_signature(s, body) for s in self.secrets)
        headers = {"Content-Type": "application/json", "User-Agent": "Coral Moderation/9.0.0"}
        if signature:
            headers["X-Coral-Signature"] = signature
        return send(url, body, headers)

    @staticmethod
    def perspective(base: str, operation: str, key: str, body: dict) -> tuple[int, dict | None]:
        """``sendToPerspective``: POST <endpoint>/<operation>?key=<key> with a compact JSON body."""
        url = f"{base}/v1alpha1/{operation}?" + urllib.parse.urlencode({"key": key})
        return send(url, json.dumps(body).encode(), {"Content-Type": "application/json"})

    @staticmethod
    def analyze_body(text: str) -> dict:
        return {
            "comment": {"text": text},
            "doNotStore": True,
            "requestedAttributes": {"TOXICITY": {}},
            "languages": ["en"],
        }

    @staticmethod
    def suggest_body(text: str, comment_id: str, approved: bool) -> dict:
        return {
            "comment": {"text": text},
            "context": {
                "entries": [
                    {
                        "text": json.dumps(
                            {
                                "url": f"https://news.example/story-1?commentID={comment_id}",
                                "Coral_comment_id": comment_id,
                            }
                        )
                    }
                ]
            },
            "attributeScores": {"TOXICITY": {"summaryScore": {"value": 0 if approved else 1}}},
            "languages": ["en"],
            "communityId": "Coral:https://news.example",
            "clientToken": f"comment:{comment_id}",
        }


# ------------------------------------------------------------------------------------- Mastodon


class Mastodon(PlatformAPI):
    """A Mastodon server: sends admin webhooks, takes reports at ``POST /api/v1/reports``."""

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str]]:
        if path != "/api/v1/reports":
            return 404, {}
        if headers.get("Authorization") != f"Bearer {MASTODON_TOKEN}":
            return 401, {}  # doorkeeper_authorize! :write, :'write:reports'
        params = json.loads(body)
        if "account_id" not in params or len(params.get("comment", "")) > 1000:
            return 422, {}
        return 200, {}

    def webhook(
        self, url: str, event: str, status: dict, *, secret: str | None = MASTODON_SECRET
    ) -> tuple[int, dict | None]:
        body = json.dumps(
            {"event": event, "created_at": "2026-11-27T12:00:00.000Z", "object": status}, separators=(",", ":")
        ).encode()  # Oj.dump of REST::Admin::WebhookEventSerializer
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Hub-Signature"] = sha256_signature(secret, body)
        return send(url, body, headers)


def mastodon_status(
    status_id: str,
    content_html: str,
    *,
    account_id: str = "1093",
    reply_to: str | None = None,
    spoiler: str = "",
    poll: list[str] | None = None,
    descriptions: tuple[str | None, ...] = (),
) -> dict:
    """A status as REST::StatusSerializer shows it (the fields we read, and a few we do not).

    ``spoiler`` is its content warning, ``poll`` its options' titles (REST::PollSerializer),
    ``descriptions`` its images' alt texts (REST::MediaAttachmentSerializer).
    """
    media = [
        {
            "id": f"{status_id}{i}",
            "type": "image",
            "url": f"https://social.example/media/{i}.png",
            "preview_url": f"https://social.example/media/{i}-small.png",
            "remote_url": None,
            "meta": {},
            "description": description,
            "blurhash": "UFBWY:8_0Jxu",
        }
        for i, description in enumerate(descriptions)
    ]
    return {
        "id": status_id,
        "created_at": "2026-11-27T12:00:00.000Z",
        "in_reply_to_id": reply_to,
        "in_reply_to_account_id": None,
        "sensitive": bool(spoiler),
        "spoiler_text": spoiler,
        "visibility": "public",
        "language": "en",
        "uri": f"https://social.example/users/bob/statuses/{status_id}",
        "url": f"https://social.example/@bob/{status_id}",
        "content": content_html,
        "account": {"id": account_id, "username": "bob", "acct": "bob", "display_name": "Bob"},
        "media_attachments": media,
        "mentions": [],
        "tags": [],
        "card": None,
        "poll": None
        if poll is None
        else {
            "id": f"9{status_id}",
            "expires_at": "2026-11-28T12:00:00.000Z",
            "expired": False,
            "multiple": False,
            "votes_count": 0,
            "voters_count": 0,
            "options": [{"title": title, "votes_count": 0} for title in poll],
            "emojis": [],
        },
        "edited_at": None,
    }


def send(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict | None]:
    status, _, text = request(url, body, headers)
    return status, json.loads(text) if text else None


def pending_calls(db_path: Path) -> int:
    """Rows left in the server's outbox (SQLite): 0 once every queued call was delivered or given up."""
    with contextlib.closing(sqlite3.connect(db_path, timeout=5)) as db:
        return db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]


def wait_outbox_empty(db_path: Path, timeout: float = 60.0) -> None:
    wait_for(
        lambda: db_path.exists() and pending_calls(db_path) == 0,
        lambda: f"the outbox still holds {pending_calls(db_path) if db_path.exists() else '?'} rows",
        timeout,
    )


def feedback_rows(db_path: Path) -> list[tuple[str, str, str, str | None]]:
    """(text, label, source, id) of every stored label, read with the feedback package's own store."""
    return [row[:4] for row in stored_feedback(db_path)]


def stored_feedback(db_path: Path, decisions: bool = False) -> list:
    """Every stored row (``hatespeech.feedback.Row``, with its origin), or with ``decisions`` what training reads."""
    from hatespeech.feedback import SQLiteFeedbackStore

    store = SQLiteFeedbackStore(db_path)
    try:
        return store.decisions() if decisions else list(store.rows())
    finally:
        store.close()
