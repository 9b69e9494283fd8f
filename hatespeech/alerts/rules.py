"""When to alert: a message that crosses the line, a discussion that turns sour (see the package docstring).

``Alerter.record`` runs on the request path: it decides and writes to the outbox only (one or two short
store transactions; no network). It also owns this process's sender thread.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hatespeech.alerts import bursts
from hatespeech.alerts.counters import NO_COUNTERS, Counters
from hatespeech.alerts.sender import Calls, Sender
from hatespeech.alerts.store import BURST, Row, Store, open_store
from hatespeech.config import AlertSettings, alert_format
from hatespeech.core.context import Context
from hatespeech.core.labels import abusive_probability
from hatespeech.core.policy import ACTION_RANK
from hatespeech.resilience import BadRow

log = logging.getLogger("hatespeech.alerts")

WORST_POSTS = 3  # posts named in a discussion alert


class Alerter:
    """Decides alerts on the request path and owns this process's sender thread."""

    def __init__(
        self,
        settings: AlertSettings,
        store: Store | None = None,
        clock: Callable[[], float] = time.time,
        counters: Counters = NO_COUNTERS,
        calls: Calls | None = None,
    ):
        """``clock`` (Unix seconds) dates alerts, windows, cool-downs and bursts; its sender runs on it too,
        so a test can move time past a cool-down or a burst instead of waiting for it. ``counters``: the
        service's metrics (alerts created, dropped, delivered…), for this alerter and its sender.
        ``calls``: the platform calls its sender delivers too (``Sender``)."""
        self.settings = settings
        self._store = store
        self.clock = clock
        self.counters = counters
        self.calls: Calls = calls or {}
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
        return self._guarded(lambda: self._record(result, context, text, None, self.clock()))

    def record_many(
        self,
        results: Sequence[Mapping[str, Any]],
        contexts: Sequence[Context | Mapping[str, Any] | None],
        texts: Sequence[str | None],
    ) -> list[str]:
        """``record`` for a batch: at most ``ALERT_BATCH_MAX`` message alerts, the rest in one summary."""

        def work() -> list[str]:
            now, batch = self.clock(), _Batch(self.settings.batch_max)
            created = []
            for result, context, text in zip(results, contexts, texts, strict=True):
                created += self._record(result, context, text, batch, now)
            if batch.over:
                alert = bursts.summarise(self._burst_alert(None, now, None, results[0]), batch.over)
                self.store.enqueue(self._rows(alert, None, now))
                self.counters.alert_created("burst")
                created.append(alert["id"])
            return created

        return self._guarded(work)

    def _guarded(self, work: Callable[[], list[str]]) -> list[str]:
        if not self.settings.enabled:
            return []
        try:
            created = work()
        except BadRow:  # the alert's data, not the store: the store is fine
            log.exception(json.dumps({"alerts": "bad_row"}))
            self.counters.alerts_dropped("bad_row")
            return []
        except Exception:  # an alert must never fail the request that made it
            log.exception(json.dumps({"alerts": "store_error"}))
            self.counters.alerts_dropped("store_error")
            return []
        if created:
            self.start()
            self._sender.wake()  # type: ignore[union-attr]  # start() has just set it
        return created

    def _record(
        self,
        result: Mapping[str, Any],
        context: Context | Mapping | None,
        text: str | None,
        batch: _Batch | None,
        now: float,
    ) -> list[str]:
        ctx = context if isinstance(context, Context) else Context.from_mapping(context)
        scores = result["scores"]
        abusive = float(abusive_probability(scores))
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
                # the post's language, and whether a model judged it (a result from before languages: English)
                "language": str(result.get("language", "en")),
                "language_supported": bool(result.get("language_supported", True)),
            }
            kept = text if self.settings.include_text else None
            post = {
                "ts": now,
                "id": ctx.id,
                "url": ctx.url,
                "thread": ctx.thread,
                "label": result["label"],
                "action": result["action"],
                "abusive": round(abusive, 4),
            }
            rows = self._rows(alert, kept, now)
            if batch is not None and not batch.take():
                batch.over.append(post)  # past the batch's cap: in its summary
            elif ctx.thread is None:
                self.store.enqueue(rows)
                self.counters.alert_created("message")
                created.append(alert["id"])
            elif self.store.enqueue_if_cooled(BURST + ctx.thread, now, self.settings.burst_seconds, 0, 0, 2, rows):
                self.counters.alert_created("message")  # the first of a burst: at once
                created.append(alert["id"])
            else:
                created += self._follow_up(ctx.thread, post, result, now)
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
            discussion = self._discussion(ctx.thread, window, result, now)
            if discussion is not None and self._cooling(ctx.thread, now, discussion):
                discussion = None  # this process saw the cool-down start: the store would refuse too
            if discussion is not None and self.store.enqueue_if_cooled(
                ctx.thread,
                now,
                s.cooldown_seconds,
                discussion["share"],
                discussion["mean_abusive"],
                s.worsen_step,
                self._rows(discussion, None, now),
            ):
                self.counters.alert_created("discussion")
                created.append(discussion["id"])
                self._cooldowns[ctx.thread] = (
                    now + s.cooldown_seconds,
                    discussion["share"],
                    discussion["mean_abusive"],
                )
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

    def _follow_up(self, thread: str, post: dict, result: Mapping[str, Any], now: float) -> list[str]:
        """A message alert within its thread's burst: into the slot's window; the slot's first
        post also enqueues the slot's summary, due when the slot ends (see hatespeech/alerts/bursts.py)."""
        s = self.settings
        slot = int(now // s.burst_seconds)
        key = f"{BURST}{thread}#{slot}"
        window = self.store.append(key, post, now, bursts.KEEP, s.max_age_seconds)
        if len(window) != 1:
            return []
        alert = self._burst_alert(thread, now, key, result)
        self.store.enqueue(self._rows(alert, None, now, due=(slot + 1) * s.burst_seconds))
        self.counters.alert_created("burst")
        return [alert["id"]]

    def _burst_alert(self, thread: str | None, now: float, window: str | None, result: Mapping[str, Any]) -> dict:
        return {
            "type": "burst",
            "id": uuid.uuid4().hex,
            "created": _iso(now),
            "thread": thread,
            "window": window,  # where the sender finds the posts (None: they are in the alert already)
            "model": dict(result.get("model") or {}),
        }

    def _rows(self, alert: dict, text: str | None, now: float, due: float | None = None) -> list[Row]:
        body = json.dumps(alert, ensure_ascii=False)
        return [
            Row(alert["id"], url, alert_format(url, self.settings.format), body, now, now if due is None else due, text)
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
                self._sender = Sender(self.settings, self.store, self.clock, self.calls)
                self._sender.counters = self.counters
                self._sender.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the sender (it finishes the delivery under way) and close this process's connections."""
        sender = self._sender
        if sender is not None and sender.pid == os.getpid():
            sender.stop(timeout)
        self._sender = None
        if self._store is not None:
            self._store.close()


class _Batch:
    """One batch request's message alerts: ``take`` says whether another may go out on its own."""

    def __init__(self, cap: int):
        self.cap, self.taken = cap, 0
        self.over: list[dict] = []

    def take(self) -> bool:
        if self.taken >= self.cap:
            return False
        self.taken += 1
        return True


def _iso(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
