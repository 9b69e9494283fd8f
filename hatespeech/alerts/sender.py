"""Delivery: a background thread per worker posts due outbox rows, retrying with backoff and jitter.

It claims due rows with a lease (so workers and containers never send one at the same time),
posts them with a timeout, and on failure retries with exponential backoff and jitter, or after a
429's ``Retry-After``. Delivery is at least once: every request carries ``Idempotency-Key: <alert
id>`` (not signed: receivers of signed json dedupe on the body's ``id``).

Each sender posts through one ``requests.Session``: its connections are kept alive between alerts,
and the environment's ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` (and ``REQUESTS_CA_BUNDLE``) apply.
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import random
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping

import requests
import urllib3

from hatespeech.alerts import bursts
from hatespeech.alerts.counters import NO_COUNTERS, Counters
from hatespeech.alerts.render import render
from hatespeech.alerts.signing import SIGNATURE_HEADER, sign
from hatespeech.alerts.store import Row, Store
from hatespeech.config import AlertSettings

Calls = Mapping[str, Callable[[], dict[str, str]]]  # a platform call's kind -> its headers, made at delivery time

log = logging.getLogger("hatespeech.alerts")
USER_AGENT = "hatespeech-detect-alerts/1"
REPLY_BYTES = 2048  # of a reply's body, read for the log and the store's last error: never the whole of it


class Sender(threading.Thread):
    """Delivers due outbox rows, one at a time, until stopped; see the module docstring."""

    counters: Counters = NO_COUNTERS  # the service's metrics, which its Alerter hands over

    def __init__(
        self, settings: AlertSettings, store: Store, clock: Callable[[], float] = time.time, calls: Calls | None = None
    ):
        super().__init__(name="hatespeech-alerts", daemon=True)
        self.settings, self.store, self.clock = settings, store, clock  # clock: Unix seconds (what is due when)
        # Platform API calls ride the same outbox (hatespeech/integrations): a row whose format is one of
        # these kinds is POSTed as queued, with the headers the kind's function gives at delivery time
        # (API keys and tokens come from the settings then: they are never written to the store).
        self.calls: Calls = calls or {}
        self.pid = os.getpid()
        self._wake, self._stopping = threading.Event(), threading.Event()
        # claim no more than can be sent well within the lease, so a lease never lapses mid-batch
        self.batch = max(1, min(20, int(settings.lease_seconds // (settings.timeout * 2 + 1))))
        self.maintenance_every = max(1.0, settings.poll_seconds * 10)
        # used by this thread only (a Session is not thread-safe); closed when the thread ends
        self.session = requests.Session()
        # what http.client sent: a reply is read for the log only, and a compressed one could inflate far past its cap
        self.session.headers["Accept-Encoding"] = "identity"

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)

    def run(self) -> None:
        try:
            self._loop()
        finally:
            self.session.close()

    def _loop(self) -> None:
        next_maintenance = 0.0
        while not self._stopping.is_set():
            try:
                if self.clock() >= next_maintenance:
                    self.maintain()
                    next_maintenance = self.clock() + self.maintenance_every
                rows = self.store.claim(self.clock(), self.settings.lease_seconds, self.batch)
                for row in rows:
                    if self._stopping.is_set():
                        self.store.retry(row, self.clock(), "sender stopped")  # due again now, for another
                    elif self.clock() < row.due - self.settings.timeout:  # still ours for a whole attempt
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
            self.clock(), s.text_retention_seconds, s.max_age_seconds, s.outbox_max, s.window_seconds
        )
        if done.texts_erased:
            log.info(json.dumps({"alerts": "texts_erased", "rows": done.texts_erased}))
        for reason, rows in (("too_old", done.expired), ("outbox_full", done.dropped)):
            if rows:
                self.counters.alerts_dropped(reason, len(rows))
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
        self.counters.alerts_pending(done.pending)

    def deliver(self, row: Row) -> None:
        alert = json.loads(row.alert)
        if alert.get("type") == "burst" and alert.get("window"):
            posts = self.store.window(alert["window"], self.clock(), self.settings.max_age_seconds)
            if not posts:  # nothing to tell (the window is gone): nothing to send
                self.store.delivered(row)
                return
            alert = bursts.summarise(alert, posts)
        body = render(row.format, alert, row.text)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Idempotency-Key": row.alert_id,
        }
        if row.format == "json":
            headers["X-Hatespeech-Event"] = alert["type"]
            headers[SIGNATURE_HEADER] = sign(body, self.settings.secret or "")
        if (
            row.format in self.calls
        ):  # a platform API call (hatespeech/integrations): its JSON as queued, its credentials
            body, headers = row.alert.encode("utf-8"), {**headers, **self.calls[row.format]()}
        status, retry_after, error = post(self.session, row.url, body, headers, self.settings.timeout)
        where = _where(row.url)
        if status is not None and 200 <= status < 300:
            self.store.delivered(row)
            self.counters.alert_delivered(row.format)
            log.info(
                json.dumps({"alerts": "delivered", "alert": row.alert_id, "to": where, "attempts": row.attempts + 1})
            )
            return
        retryable = status is None or status in (408, 425, 429) or status >= 500
        if not retryable:
            self.store.give_up(row)
            self.counters.alert_failed(f"http_{status}")
            log.error(json.dumps({"alerts": "given_up", "alert": row.alert_id, "to": where, "error": error}))
            return
        delay = self.backoff(row.attempts)
        if retry_after is not None:
            delay = max(min(retry_after, 3600.0), 0.0)
        self.store.retry(row, self.clock() + delay, error)
        self.counters.alert_retry("rate_limited" if status == 429 else "http_error" if status else "network")
        log.warning(
            json.dumps({"alerts": "retry", "alert": row.alert_id, "to": where, "error": error, "in_s": round(delay, 3)})
        )

    def backoff(self, attempts: int) -> float:
        """Seconds before the next attempt: doubling from ``ALERT_BACKOFF_BASE`` up to ``_MAX``, with jitter."""
        ceiling = min(self.settings.backoff_max, self.settings.backoff_base * 2 ** min(attempts, 30))
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # jitter, not a secret


def _where(url: str) -> str:
    """The host (and port) a URL points at, for the log: never its path (webhook URLs hold their
    secret there) nor its user:password@.

    >>> _where("https://user:pa55@hooks.example.org:8443/services/T/B/secret")
    'hooks.example.org:8443'
    """
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    return f"{host}:{parts.port}" if parts.port else host


def post(
    session: requests.Session, url: str, body: bytes, headers: dict[str, str], timeout: float
) -> tuple[int | None, float | None, str]:
    """POST once: ``(status or None, Retry-After seconds or None, a short description)``.

    Redirects are not followed (a 3xx is a refusal, given up): the body and its signature must not
    go to a host nobody configured. ``timeout`` bounds the connection and each read, not the whole.
    """
    try:
        with session.post(
            url, data=body, headers=headers, timeout=timeout, allow_redirects=False, stream=True
        ) as response:
            # at most REPLY_BYTES of the body; a reply read to its end leaves the connection for the next alert
            reply = response.raw.read(REPLY_BYTES)
            status = response.status_code
            text = reply.decode("utf-8", "replace")[:200]
            return status, _retry_after(response.headers.get("Retry-After")), f"HTTP {status} {text}"
    # requests' errors are OSErrors; a few of urllib3's get through unwrapped (LocationParseError)
    except (OSError, urllib3.exceptions.HTTPError) as err:
        return None, None, _describe(err, url)


def _describe(err: BaseException, url: str) -> str:
    """An error, short and without the URL's path, query or credentials (where webhooks keep their secret).

    The innermost cause says what happened ("ConnectionRefusedError: [Errno 111] Connection refused");
    requests' and urllib3's own messages quote the URL ("Max retries exceeded with url: /services/…").
    """
    while (cause := err.__cause__ or err.__context__) is not None:
        err = cause
    text = f"{type(err).__name__}: {err}"
    parts = urllib.parse.urlsplit(url)
    for secret in (url, parts.path, parts.query):
        if len(secret) > 1:  # not "" nor "/"
            text = text.replace(secret, "…")
    return text[:300]


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
