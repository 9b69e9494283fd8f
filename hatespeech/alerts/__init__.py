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

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hatespeech.alerts.counters import NO_COUNTERS, Counters
from hatespeech.alerts.rules import Alerter
from hatespeech.alerts.signing import InvalidSignature, sign, verify
from hatespeech.alerts.store import Row
from hatespeech.config import AlertSettings
from hatespeech.core.context import Context

log = logging.getLogger("hatespeech.alerts")

__all__ = [
    "Alerter",
    "InvalidSignature",
    "OutboxFull",
    "configure",
    "record",
    "record_many",
    "sign",
    "start",
    "stop",
    "verify",
]

_alerter: Alerter | None = None


def configure(
    settings: AlertSettings,
    counters: Counters = NO_COUNTERS,
    calls: Mapping[str, Callable[[], dict[str, str]]] | None = None,
) -> Alerter:
    """Set this process's alerter (``app.py``, at import: before the fork, it opens nothing).

    ``counters``: the service's metrics. ``calls``: the outbox rows of these kinds are platform calls
    (hatespeech/integrations), each with a function giving its headers at delivery time; with any,
    the sender runs without ``ALERT_WEBHOOK_URL`` too.
    """
    global _alerter
    if _alerter is not None:
        _alerter.stop()
    _alerter = Alerter(settings, counters=counters, calls=calls)
    return _alerter


def record(result: Mapping[str, Any], context: Context | Mapping | None = None, text: str | None = None) -> list[str]:
    """``Alerter.record`` on the configured alerter (nothing if ``configure`` was not called)."""
    return _alerter.record(result, context, text) if _alerter is not None else []


def record_many(
    results: Sequence[Mapping[str, Any]],
    contexts: Sequence[Context | Mapping[str, Any] | None],
    texts: Sequence[str | None],
) -> list[str]:
    """``Alerter.record_many`` (a batch: at most ``ALERT_BATCH_MAX`` message alerts) on the configured alerter."""
    return _alerter.record_many(results, contexts, texts) if _alerter is not None else []


def start() -> None:
    """Start this worker's sender when alerts are on (gunicorn's ``post_worker_init``)."""
    if _alerter is not None and (_alerter.settings.enabled or _alerter.calls):
        _alerter.start()


def stop() -> None:
    """Stop this worker's sender (gunicorn's ``worker_exit``)."""
    if _alerter is not None:
        _alerter.stop()


class OutboxFull(RuntimeError):
    """``ALERT_OUTBOX_MAX`` boards' calls already wait: the board's webhook answers 503 and the board retries."""


def enqueue_call(kind: str, call_id: str, url: str, body: str) -> None:
    """Queue one platform call (``body`` is its JSON) and wake the sender; raises if the store cannot take it,
    or ``OutboxFull`` (with an error-level log line for the operator) when ``ALERT_OUTBOX_MAX`` calls wait:
    a board's call is never dropped to make room, so a new one is refused instead."""
    if _alerter is None or kind not in _alerter.calls:
        raise RuntimeError(f"no sender is configured for {kind} calls")
    waiting, limit = _alerter.store.calls_pending(), _alerter.settings.outbox_max
    if waiting >= limit:
        log.error(json.dumps({"alerts": "outbox_full", "kind": kind, "calls_pending": waiting, "limit": limit}))
        raise OutboxFull(f"{waiting} calls wait in the outbox (ALERT_OUTBOX_MAX={limit})")
    now = time.time()
    _alerter.store.enqueue([Row(call_id, url, kind, body, now, now)])
    _alerter.start()
    _alerter._sender.wake()  # type: ignore[union-attr]  # start() has just set it
