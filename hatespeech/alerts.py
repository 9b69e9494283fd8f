"""Alerts: tell the moderator when a message crosses the line or a discussion turns sour.

On the request path, ``record(result, context, text)`` decides and writes to the outbox only
(one or two short store transactions; no network):

- a **message alert** when the message's action reaches ``ALERT_ACTION`` (default ``block``);
- a **discussion alert** when, within one ``thread``, over its window (the last
  ``ALERT_WINDOW_MESSAGES`` messages of the last ``ALERT_WINDOW_MINUTES``), the share of flagged
  messages reaches ``ALERT_FLAGGED_SHARE`` or the mean abusive probability (P(hate speech) +
  P(offensive language)) reaches ``ALERT_MEAN_ABUSIVE``: "7 of the last 20 messages flagged",
  with the worst posts. Then the discussion cools down for ``ALERT_COOLDOWN_MINUTES``: a further
  alert only if the share or the mean has risen by ``ALERT_WORSEN_STEP`` since, or after that.

A background ``Sender`` thread in each worker process delivers the outbox: it claims due rows
with a lease (so workers and containers never send one at the same time), posts them with a
timeout, and on failure retries with exponential backoff and jitter, or after a 429's
``Retry-After``. Delivery is at least once: every request carries ``Idempotency-Key: <alert id>``.
Alerts survive restarts (they are in the store) and are given up only after ``ALERT_MAX_AGE_HOURS``.

Payloads (``ALERT_FORMAT``): ``slack`` (incoming webhook: ``text`` + blocks, user content only in
``plain_text`` and escaped), ``discord`` (``content`` with ``allowed_mentions: {"parse": []}``,
user content escaped or in a code block), ``json`` (the alert as is, signed like Stripe's
webhooks: ``X-Hatespeech-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">``;
receivers check it with ``verify`` below, which they can copy).
"""

from __future__ import annotations

import datetime
import email.utils
import hashlib
import hmac
import http.client
import json
import logging
import os
import random
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from hatespeech import metrics
from hatespeech.config import AlertSettings, alert_format
from hatespeech.context import Context
from hatespeech.store import Row, Store, open_store

log = logging.getLogger("hatespeech.alerts")

ACTION_RANK = {"allow": 0, "review": 1, "block": 2}
ABUSIVE = ("hate speech", "offensive language")
WORST_POSTS = 3  # posts named in a discussion alert
SIGNATURE_HEADER = "X-Hatespeech-Signature"
REPLAY_TOLERANCE = 300  # seconds: verify() refuses older (or future) timestamps
SLACK_BLOCK_CHARS = 3000  # Slack: a section's text
SLACK_FIELD_CHARS = 2000  # Slack: one field
DISCORD_CONTENT_CHARS = 2000  # Discord: a message's content
USER_AGENT = "hatespeech-detect-alerts/1"
ZWSP = "\u200b"  # zero-width space: breaks @everyone and ``` without changing what a reader sees


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
    those 5 minutes as well, remember the ``Idempotency-Key`` values seen.

    >>> body = b'{"type": "message"}'
    >>> verify(body, sign(body, "s3cret", 1700000000), "s3cret", now=1700000100)
    1700000000
    >>> verify(body + b" ", sign(body, "s3cret", 1700000000), "s3cret", now=1700000100)
    Traceback (most recent call last):
    ...
    hatespeech.alerts.InvalidSignature: the signature does not match the body
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
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, given) for given in parts.get("v1", [])):
        raise InvalidSignature("the signature does not match the body")
    return timestamp


# ---------------------------------------------------------------------------------- escaping


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_escape(text: str) -> str:
    """Slack text that cannot mention or link: ``& < >`` as entities, ``@`` followed by a ZWSP.

    >>> slack_escape("<!channel> @here & <@U123>")
    '&lt;!channel&gt; @\\u200bhere &amp; &lt;@\\u200bU123&gt;'
    """
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped.replace("@", "@" + ZWSP)


_DISCORD_MARKUP = set("\\*_~`|>#-[]()<:")


def discord_escape(text: str) -> str:
    """Discord text without markup or mentions: markdown characters backslashed, ``@`` + ZWSP.

    >>> discord_escape("@everyone **hi** [x](http://e)")
    '@\\u200beveryone \\\\*\\\\*hi\\\\*\\\\* \\\\[x\\\\]\\\\(http\\\\://e\\\\)'
    """
    out = "".join("\\" + c if c in _DISCORD_MARKUP else c for c in text)
    return out.replace("@", "@" + ZWSP)


def safe_url(url: str) -> str:
    """The URL with characters that could end a link in Slack or Discord markup percent-encoded."""
    return "".join(urllib.parse.quote(c, safe="") if c in '<>|"`()[] ' else c for c in url)


# ---------------------------------------------------------------------------------- payloads


def _scores_line(scores: Mapping[str, float]) -> str:
    return " · ".join(f"{label} {float(p):.2f}" for label, p in scores.items())


def _message_lines(alert: dict) -> list[tuple[str, str]]:
    post = alert.get("post", {})
    lines = [("Thread", alert.get("thread") or "—"), ("Post", post.get("id") or "—")]
    if post.get("author"):
        lines.append(("Author", post["author"]))
    lines.append(("Scores", _scores_line(alert["scores"])))
    return lines


def render(fmt: str, alert: dict, text: str | None) -> bytes:
    """The request body for one alert in one format (``text`` is None when left out or erased)."""
    if fmt == "slack":
        payload = _slack(alert, text)
    elif fmt == "discord":
        payload = _discord(alert, text)
    else:
        payload = {**alert, "text": text} if text is not None else dict(alert)
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def _title(alert: dict) -> str:
    if alert["type"] == "message":
        return f"Message alert: {alert['label']} → {alert['action']}"
    return f"Discussion alert: {alert['summary']}"


def _slack(alert: dict, text: str | None) -> dict:
    plain = lambda s, n=SLACK_FIELD_CHARS: {"type": "plain_text", "text": _cut(slack_escape(s), n)}  # noqa: E731
    blocks: list[dict] = [{"type": "header", "text": plain(_title(alert), 150)}]
    links: list[str] = []
    if alert["type"] == "message":
        fields = [plain(f"{k}: {v}") for k, v in _message_lines(alert)]
        blocks.append({"type": "section", "fields": fields})
        if text is not None:
            blocks.append({"type": "section", "text": plain(text, SLACK_BLOCK_CHARS)})
        if alert["post"].get("url"):
            links.append(f"<{slack_escape(safe_url(alert['post']['url']))}|Open the post>")
    else:
        fields = [
            plain(f"Thread: {alert['thread']}"),
            plain(f"Flagged: {alert['flagged']} of {alert['messages']} ({alert['share']:.0%})"),
            plain(f"Mean abusive probability: {alert['mean_abusive']:.2f}"),
            plain(f"Window: last {alert['window']['messages']} messages, {alert['window']['minutes']:g} min"),
        ]
        blocks.append({"type": "section", "fields": fields})
        worst = [
            f"{i}. post {p.get('id') or '—'} · {p['label']} {p['abusive']:.2f} · {p['action']}"
            for i, p in enumerate(alert["worst"], 1)
        ]
        blocks.append({"type": "section", "text": plain("Worst posts:\n" + "\n".join(worst), SLACK_BLOCK_CHARS)})
        links += [
            f"<{slack_escape(safe_url(p['url']))}|Post {i}>" for i, p in enumerate(alert["worst"], 1) if p.get("url")
        ]
    context = [f"model {alert['model'].get('version', '')} · alert {alert['id']}"]
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": "  ".join(links + context)}]})
    summary = _title(alert) + (f" in thread {alert['thread']}" if alert.get("thread") else "")
    return {"text": _cut(slack_escape(summary), 3000), "blocks": blocks}


def _discord(alert: dict, text: str | None) -> dict:
    if alert["type"] == "message":
        lines = [f"**{_title(alert)}**"]  # our words: no escaping
        lines += [f"{k}: {discord_escape(v)}" for k, v in _message_lines(alert)]
        if alert["post"].get("url"):
            lines.append(f"<{safe_url(alert['post']['url'])}>")
    else:
        lines = [f"**{_title(alert)}** in thread {discord_escape(alert['thread'])}"]
        lines.append(f"Mean abusive probability {alert['mean_abusive']:.2f}; worst posts:")
        for i, p in enumerate(alert["worst"], 1):
            link = f" <{safe_url(p['url'])}>" if p.get("url") else ""
            post = discord_escape(p.get("id") or "—")
            lines.append(f"{i}. post {post} · {p['label']} {p['abusive']:.2f} · {p['action']}{link}")
    head = _cut("\n".join(lines), DISCORD_CONTENT_CHARS - 200)
    if text is not None:
        # inside a code block nothing is markup or a mention; only ``` could end it early
        inner = text.replace("`", "`" + ZWSP).replace("@", "@" + ZWSP)
        budget = DISCORD_CONTENT_CHARS - len(head) - len("\n```\n\n```")
        head += "\n```\n" + _cut(inner, budget) + "\n```"
    return {"content": head, "allowed_mentions": {"parse": []}, "username": "hatespeech-detect"}


# ---------------------------------------------------------------------------------- recording


class Alerter:
    """Decides alerts on the request path and owns this process's sender thread."""

    def __init__(self, settings: AlertSettings, store: Store | None = None):
        self.settings = settings
        self._store = store
        self._lock = threading.RLock()  # start() opens the store under it
        self._sender: Sender | None = None
        self._message_rank = ACTION_RANK.get(settings.message_action, 99)  # "off" never matches
        self._cooldowns: dict[str, tuple[float, float, float]] = {}  # thread → (until, share, mean) started here

    @property
    def store(self) -> Store:
        if self._store is None:
            with self._lock:
                if self._store is None:
                    self._store = open_store(self.settings)
        return self._store

    def record(
        self, result: Mapping[str, Any], context: Context | Mapping | None = None, text: str | None = None
    ) -> list[str]:
        """Record what alerts ``result`` (a ``/moderate`` answer) makes; return their ids.

        Never raises and never waits for the network: a store that fails is logged and counted
        (``hatespeech_alerts_dropped_total{reason="store_error"}``), and the request goes on.
        """
        if not self.settings.enabled:
            return []
        try:
            created = self._record(result, context, text)
        except Exception:  # an alert must never fail the request that made it
            log.exception(json.dumps({"alerts": "store_error"}))
            metrics.alerts_dropped("store_error")
            return []
        if created:
            self.start()
            self._sender.wake()  # type: ignore[union-attr]
        return created

    def _record(self, result: Mapping[str, Any], context: Context | Mapping | None, text: str | None) -> list[str]:
        ctx = context if isinstance(context, Context) else Context.from_mapping(context)
        now = time.time()
        scores = result["scores"]
        abusive = min(1.0, sum(float(scores.get(label, 0.0)) for label in ABUSIVE))
        created = []
        if ACTION_RANK.get(result["action"], 0) >= self._message_rank:
            alert = {
                "type": "message",
                "id": uuid.uuid4().hex,
                "created": _iso(now),
                "thread": ctx.thread,
                "post": {"id": ctx.id, "author": ctx.author, "url": ctx.url},
                "label": result["label"],
                "action": result["action"],
                "flagged": bool(result["flagged"]),
                "scores": {k: round(float(v), 4) for k, v in scores.items()},
                "model": dict(result.get("model") or {}),
            }
            kept = text if self.settings.include_text else None
            self.store.enqueue(self._rows(alert, kept, now))
            metrics.alert_created("message")
            created.append(alert["id"])
        if ctx.thread:
            entry = {
                "ts": now,
                "id": ctx.id,
                "url": ctx.url,
                "flagged": bool(result["flagged"]),
                "abusive": round(abusive, 4),
                "label": result["label"],
                "action": result["action"],
            }
            s = self.settings
            window = self.store.append(ctx.thread, entry, now, s.window_messages, s.window_seconds)
            alert = self._discussion(ctx.thread, window, result, now)
            if alert is not None and self._cooling(ctx.thread, now, alert):
                alert = None  # this process saw the cool-down start: the store would refuse too
            if alert is not None and self.store.enqueue_if_cooled(
                ctx.thread,
                now,
                s.cooldown_seconds,
                alert["share"],
                alert["mean_abusive"],
                s.worsen_step,
                self._rows(alert, None, now),
            ):
                metrics.alert_created("discussion")
                created.append(alert["id"])
                self._cooldowns[ctx.thread] = (now + s.cooldown_seconds, alert["share"], alert["mean_abusive"])
        return created

    def _cooling(self, thread: str, now: float, alert: dict) -> bool:
        """True if a cool-down this process started still holds at this level (saves a store call in a raid).

        Safe to skip the store on it: the store's cool-down for the thread is this one or a stricter one
        that another worker started later.
        """
        until, share, mean = self._cooldowns.get(thread, (0.0, 0.0, 0.0))
        if now >= until:
            self._cooldowns.pop(thread, None)
            return False
        return not (
            alert["share"] >= share + self.settings.worsen_step - 1e-9
            or alert["mean_abusive"] >= mean + self.settings.worsen_step - 1e-9
        )

    def _discussion(self, thread: str, window: list[dict], result: Mapping[str, Any], now: float) -> dict | None:
        s = self.settings
        if len(window) < s.min_messages:
            return None
        flagged = sum(1 for e in window if e["flagged"])
        share, mean = flagged / len(window), sum(e["abusive"] for e in window) / len(window)
        if share < s.flagged_share and mean < s.mean_abusive:
            return None
        worst = sorted(window, key=lambda e: e["abusive"], reverse=True)[:WORST_POSTS]
        return {
            "type": "discussion",
            "id": uuid.uuid4().hex,
            "created": _iso(now),
            "thread": thread,
            "summary": f"{flagged} of the last {len(window)} messages flagged",
            "messages": len(window),
            "flagged": flagged,
            "share": round(share, 4),
            "mean_abusive": round(mean, 4),
            "window": {"messages": s.window_messages, "minutes": round(s.window_seconds / 60, 3)},
            "thresholds": {"flagged_share": s.flagged_share, "mean_abusive": s.mean_abusive},
            "worst": [
                {"id": e["id"], "url": e["url"], "label": e["label"], "action": e["action"], "abusive": e["abusive"]}
                for e in worst
            ],
            "model": dict(result.get("model") or {}),
        }

    def _rows(self, alert: dict, text: str | None, now: float) -> list[Row]:
        body = json.dumps(alert, ensure_ascii=False)
        return [
            Row(alert["id"], url, alert_format(url, self.settings.format), body, now, now, text)
            for url in self.settings.webhook_urls
        ]

    # -- the sender's life in this process

    def start(self) -> None:
        """Start this process's sender thread if it is not running (after a fork, it is not)."""
        sender = self._sender
        if sender is not None and sender.pid == os.getpid() and sender.is_alive():
            return
        with self._lock:
            if self._sender is None or self._sender.pid != os.getpid() or not self._sender.is_alive():
                self._sender = Sender(self.settings, self.store)
                self._sender.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the sender (it finishes the delivery under way) and close this process's connections."""
        sender = self._sender
        if sender is not None and sender.pid == os.getpid():
            sender.stop(timeout)
        self._sender = None
        if self._store is not None:
            self._store.close()


def _iso(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ---------------------------------------------------------------------------------- delivery


class Sender(threading.Thread):
    """Delivers due outbox rows, one at a time, until stopped; see the module docstring."""

    def __init__(self, settings: AlertSettings, store: Store):
        super().__init__(name="hatespeech-alerts", daemon=True)
        self.settings, self.store = settings, store
        self.pid = os.getpid()
        self._wake, self._stopping = threading.Event(), threading.Event()
        # claim no more than can be sent well within the lease, so a lease never lapses mid-batch
        self.batch = max(1, min(20, int(settings.lease_seconds // (settings.timeout * 2 + 1))))
        self.maintenance_every = max(1.0, settings.poll_seconds * 10)

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)

    def run(self) -> None:
        next_maintenance = 0.0
        while not self._stopping.is_set():
            try:
                if time.time() >= next_maintenance:
                    self.maintain()
                    next_maintenance = time.time() + self.maintenance_every
                rows = self.store.claim(time.time(), self.settings.lease_seconds, self.batch)
                for row in rows:
                    if self._stopping.is_set():
                        self.store.retry(row, time.time(), "sender stopped")  # due again now, for another
                    elif time.time() < row.due - self.settings.timeout:  # still ours for a whole attempt
                        self.deliver(row)
            except Exception:  # the store may be down for a while: keep trying
                log.exception(json.dumps({"alerts": "sender_error"}))
                rows = []
                self._stopping.wait(self.settings.poll_seconds)
            if not rows:
                self._wake.wait(self.settings.poll_seconds)
                self._wake.clear()

    def maintain(self) -> None:
        s = self.settings
        done = self.store.maintain(
            time.time(), s.text_retention_seconds, s.max_age_seconds, s.outbox_max, s.window_seconds
        )
        if done.texts_erased:
            log.info(json.dumps({"alerts": "texts_erased", "rows": done.texts_erased}))
        for reason, rows in (("too_old", done.expired), ("outbox_full", done.dropped)):
            if rows:
                metrics.alerts_dropped(reason, len(rows))
                log.warning(
                    json.dumps(
                        {
                            "alerts": reason,
                            "dropped": len(rows),
                            "limit": s.max_age_seconds if reason == "too_old" else s.outbox_max,
                            "last_error": rows[-1].error,
                        }
                    )
                )
        metrics.alerts_pending(done.pending)

    def deliver(self, row: Row) -> None:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Idempotency-Key": row.alert_id,
        }
        credentials = _CALLS.get(row.format)
        if credentials is not None:  # a platform API call (hatespeech/integrations): its JSON body as queued
            body = row.alert.encode("utf-8")
            headers.update(credentials())
        else:
            alert = json.loads(row.alert)
            body = render(row.format, alert, row.text)
        if row.format == "json":
            headers["X-Hatespeech-Event"] = alert["type"]
            headers[SIGNATURE_HEADER] = sign(body, self.settings.secret or "")
        outcome = post(row.url, body, headers, self.settings.timeout)
        status, retry_after, error = outcome
        where = urllib.parse.urlsplit(row.url).netloc  # never the path: webhook URLs hold their secret
        if status is not None and 200 <= status < 300:
            self.store.delivered(row)
            metrics.alert_delivered(row.format)
            log.info(
                json.dumps({"alerts": "delivered", "alert": row.alert_id, "to": where, "attempts": row.attempts + 1})
            )
            return
        retryable = status is None or status in (408, 425, 429) or status >= 500
        if not retryable:
            self.store.give_up(row)
            metrics.alert_failed(f"http_{status}")
            log.error(json.dumps({"alerts": "given_up", "alert": row.alert_id, "to": where, "error": error}))
            return
        delay = self.backoff(row.attempts)
        if retry_after is not None:
            delay = max(min(retry_after, 3600.0), 0.0)
        self.store.retry(row, time.time() + delay, error)
        metrics.alert_retry("rate_limited" if status == 429 else "http_error" if status else "network")
        log.warning(
            json.dumps({"alerts": "retry", "alert": row.alert_id, "to": where, "error": error, "in_s": round(delay, 3)})
        )

    def backoff(self, attempts: int) -> float:
        """Seconds before the next attempt: doubling from ``ALERT_BACKOFF_BASE`` up to ``_MAX``, with jitter."""
        ceiling = min(self.settings.backoff_max, self.settings.backoff_base * 2 ** min(attempts, 30))
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # jitter, not a secret


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int | None, float | None, str]:
    """POST once: ``(status or None, Retry-After seconds or None, a short description)``."""
    parts = urllib.parse.urlsplit(url)
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = kind(parts.hostname or "", parts.port, timeout=timeout)
    try:
        conn.request("POST", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), body, headers)
        response = conn.getresponse()
        reply = response.read(2048).decode("utf-8", "replace")
        return response.status, _retry_after(response.getheader("Retry-After")), f"HTTP {response.status} {reply[:200]}"
    except (OSError, http.client.HTTPException) as err:
        return None, None, f"{type(err).__name__}: {err}"[:300]
    finally:
        conn.close()


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header: a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


# ---------------------------------------------------------------------------------- the process's alerter

_alerter: Alerter | None = None
# Platform API calls ride the same outbox (hatespeech/integrations): a row whose format is one of
# these kinds is POSTed as queued, with the headers the kind's function gives at delivery time
# (API keys and tokens come from the settings then: they are never written to the store).
_CALLS: dict[str, Callable[[], dict[str, str]]] = {}


def register_calls(kinds: Mapping[str, Callable[[], dict[str, str]]]) -> None:
    """Deliver outbox rows of these kinds as platform calls; the sender then runs without ``ALERT_WEBHOOK_URL`` too."""
    _CALLS.update(kinds)


def enqueue_call(kind: str, call_id: str, url: str, body: str) -> None:
    """Queue one platform call (``body`` is its JSON) and wake the sender; raises if the store cannot take it."""
    if _alerter is None or kind not in _CALLS:
        raise RuntimeError(f"no sender is configured for {kind} calls")
    now = time.time()
    _alerter.store.enqueue([Row(call_id, url, kind, body, now, now)])
    _alerter.start()
    _alerter._sender.wake()  # type: ignore[union-attr]


def configure(settings: AlertSettings) -> Alerter:
    """Set this process's alerter (``app.py``, at import: before the fork, it opens nothing)."""
    global _alerter
    if _alerter is not None:
        _alerter.stop()
    _alerter = Alerter(settings)
    return _alerter


def record(result: Mapping[str, Any], context: Context | Mapping | None = None, text: str | None = None) -> list[str]:
    """``Alerter.record`` on the configured alerter (nothing if ``configure`` was not called)."""
    return _alerter.record(result, context, text) if _alerter is not None else []


def start() -> None:
    """Start this worker's sender when alerts are on (gunicorn's ``post_worker_init``)."""
    if _alerter is not None and (_alerter.settings.enabled or _CALLS):
        _alerter.start()


def stop() -> None:
    """Stop this worker's sender (gunicorn's ``worker_exit``)."""
    if _alerter is not None:
        _alerter.stop()
