"""A shared store (Redis) that may stall or die, behind a circuit breaker, with a local spool.

Redis holds the alert state that several containers share. When it stalls (``SIGSTOP``, a
network partition) or dies, no request may wait for redis-py's own timeout and its ten retries, nor
log a traceback per failure:

- each Redis call has a short timeout (``ALERT_STORE_TIMEOUT``, default 0.25 s), retried once only when
  its connection broke (hatespeech/connections.py, ``open_redis``);
- the first failure opens the breaker (hatespeech/resilience.py's, shared with the review queue and
  the integrations' keys on the same Redis): for ``ALERT_STORE_RETRY`` seconds (default 5) nobody
  calls Redis; then one caller probes it, and a success closes the breaker. One log line when it
  opens, one when it closes;
- while it is open, alerts are written to a local SQLite spool (``ALERT_SPOOL_PATH``) and the
  discussion rules run on the spool's windows (this container's view only); the sender delivers
  the spool's rows as it delivers Redis's, so nothing waits for Redis to come back and nothing
  created meanwhile is lost.
- a row that cannot be stored (its data: ``BadRow``) is not an outage: the breaker stays as it was,
  and the caller gets the error (rows are made valid first: store.py's ``valid_unicode``).

``/predict`` never touches the store; ``/moderate`` pays at most one short timeout per
``ALERT_STORE_RETRY`` seconds of outage, on one request (none when the review queue, writing
first to the same Redis, has already found it down).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

from hatespeech.alerts.store import Maintenance, Row, Store
from hatespeech.resilience import BadRow, Breaker, is_bad_row

__all__ = ["Breaker", "ResilientStore"]
T = TypeVar("T")


class _Skipped(Exception):
    """The primary store was not called (breaker open) or failed (breaker now open)."""


class ResilientStore(Store):
    """``primary`` (Redis) while it answers, ``spool`` (local SQLite) while it does not; see above."""

    def __init__(self, primary: Store, spool: Store, breaker: Breaker):
        self.primary, self.spool, self.breaker = primary, spool, breaker
        self._spooled: set[str] = set()  # ids of claimed rows that came from the spool

    def _try(self, call: Callable[..., T], *args: Any) -> T:
        if not self.breaker.allow():
            raise _Skipped
        try:
            result = call(*args)
        except Exception as err:  # redis-py's errors, OSError, anything: the spool takes over
            if is_bad_row(err):  # the row, not Redis: no breaker, no spool (it would fail there too)
                self.breaker.abstain()
                raise BadRow(f"the alert store cannot take this row: {type(err).__name__}: {err}") from err
            self.breaker.failure(err)
            raise _Skipped from None
        self.breaker.success()
        return result

    def append(self, thread: str, entry: dict, now: float, max_messages: int, max_age: float) -> list[dict]:
        try:
            return self._try(self.primary.append, thread, entry, now, max_messages, max_age)
        except _Skipped:
            return self.spool.append(thread, entry, now, max_messages, max_age)

    def window(self, thread: str, now: float, max_age: float) -> list[dict]:
        try:
            found = self._try(self.primary.window, thread, now, max_age)
        except _Skipped:
            found = []
        return found + self.spool.window(thread, now, max_age)

    def enqueue(self, rows: list[Row]) -> None:
        try:
            self._try(self.primary.enqueue, rows)
        except _Skipped:
            self.spool.enqueue(rows)

    def enqueue_if_cooled(
        self, thread: str, now: float, cooldown: float, share: float, mean: float, step: float, rows: list[Row]
    ) -> bool:
        args = (thread, now, cooldown, share, mean, step, rows)
        try:
            return self._try(self.primary.enqueue_if_cooled, *args)
        except _Skipped:
            return self.spool.enqueue_if_cooled(*args)

    def claim(self, now: float, lease_seconds: float, limit: int) -> list[Row]:
        rows = self.spool.claim(now, lease_seconds, limit)
        self._spooled.update(row.id for row in rows)
        if len(rows) < limit:
            with contextlib.suppress(_Skipped):
                rows += self._try(self.primary.claim, now, lease_seconds, limit - len(rows))
        return rows

    def _route(self, name: str, row: Row, *args: Any) -> None:
        if row.id in self._spooled:
            self._spooled.discard(row.id)
            getattr(self.spool, name)(row, *args)
            return
        # If Redis is away, the row's lease lapses and it is due again there: at least once, as ever.
        with contextlib.suppress(_Skipped):
            self._try(getattr(self.primary, name), row, *args)

    def delivered(self, row: Row) -> None:
        self._route("delivered", row)

    def retry(self, row: Row, due: float, error: str) -> None:
        self._route("retry", row, due, error)

    def give_up(self, row: Row) -> None:
        self._route("give_up", row)

    def maintain(
        self, now: float, text_retention: float, max_age: float, outbox_max: int, window_age: float
    ) -> Maintenance:
        done = self.spool.maintain(now, text_retention, max_age, outbox_max, window_age)
        try:
            more = self._try(self.primary.maintain, now, text_retention, max_age, outbox_max, window_age)
        except _Skipped:
            return done
        done.texts_erased += more.texts_erased
        done.expired += more.expired
        done.dropped += more.dropped
        done.pending += more.pending
        return done

    def pending(self) -> int:
        try:
            return self.spool.pending() + self._try(self.primary.pending)
        except _Skipped:
            return self.spool.pending()

    def calls_pending(self) -> int:
        try:
            return self.spool.calls_pending() + self._try(self.primary.calls_pending)
        except _Skipped:
            return self.spool.calls_pending()

    def close(self) -> None:
        self.spool.close()
        self.primary.close()
