"""The state behind alerts: discussion windows, cool-downs and the outbox, in SQLite or Redis.

One interface (``Store``), two backends:

- ``SQLiteStore`` (the default): one file (``ALERT_DB_PATH``) shared by every gunicorn worker
  and thread of one machine. WAL mode, so readers never wait for the writer; ``busy_timeout``,
  so writers queue instead of failing; each write is one short ``BEGIN IMMEDIATE`` transaction.
  Connections are opened lazily, one per process and thread, and never carried across a fork.
  ``synchronous=NORMAL``: a committed alert survives the process being killed (the WAL is in
  the OS's cache), though not a power cut; ``FULL`` would cost an fsync per request.
- ``RedisStore`` (when ``REDIS_URL`` is set): several containers share one view of each
  discussion and one outbox. Each operation that must be atomic is one Lua script or one
  ``MULTI`` pipeline.

The outbox holds one row per alert and webhook URL. A sender *claims* due rows with a lease: the
row's due time moves to the end of the lease, so if the sender dies mid-delivery the row becomes
due again for anyone (at-least-once). ``maintain`` keeps the outbox bounded: texts erased after
their retention, rows given up after ``max_age``, and beyond ``outbox_max`` the alerts that matter
least (hatespeech/alerts/overflow.py: lowest severity and newest first, a thread's only alert last).
A board's API call (a flag, a report) is never dropped to make room: when ``outbox_max`` calls
wait, a new one is refused (``enqueue_call``) and the board's webhook answers 503, so it retries.

>>> import tempfile, pathlib
>>> from hatespeech.alerts.sqlite_store import SQLiteStore
>>> store = SQLiteStore(pathlib.Path(tempfile.mkdtemp()) / "alerts.sqlite3")
>>> [e["id"] for e in store.append("t1", {"ts": 1.0, "id": "p1"}, now=1.0, max_messages=2, max_age=60)]
['p1']
>>> [e["id"] for e in store.append("t1", {"ts": 2.0, "id": "p2"}, now=2.0, max_messages=2, max_age=60)]
['p2', 'p1']
>>> [e["id"] for e in store.append("t1", {"ts": 3.0, "id": "p3"}, now=3.0, max_messages=2, max_age=60)]
['p3', 'p2']
>>> store.close()
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any


def valid_unicode(text: str) -> str:
    """``text`` with each lone surrogate (``"\\ud800"``, which Node's and Ruby's JSON write for half an emoji
    cut in two) replaced by U+FFFD: what neither UTF-8, SQLite nor Redis can hold is dropped, not the row.

    >>> valid_unicode("ok \\ud83d"), valid_unicode("😀")
    ('ok \ufffd', '😀')
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


@dataclass
class Row:
    """One outbox row: one alert for one webhook URL."""

    alert_id: str
    url: str
    format: str
    alert: str  # the alert as JSON, without the text
    created: float
    due: float
    text: str | None = None  # the post's text, kept apart so retention can erase it
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    attempts: int = 0  # failed attempts so far
    lease: str | None = None  # set on a claimed row: the claim's token
    error: str | None = None  # the last failure

    def __post_init__(self) -> None:
        self.alert = valid_unicode(self.alert)
        if self.text is not None:
            self.text = valid_unicode(self.text)

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> Row:
        return cls(
            alert_id=values["alert_id"],
            url=values["url"],
            format=values["format"],
            alert=values["alert"],
            created=float(values["created"]),
            due=float(values.get("due") or 0),
            text=values.get("text"),
            id=values["id"],
            attempts=int(values.get("attempts") or 0),
            lease=values.get("lease"),
            error=values.get("error"),
        )


@dataclass
class Maintenance:
    """What one ``maintain`` pass did."""

    texts_erased: int = 0
    expired: list[Row] = field(default_factory=list)  # not delivered within max_age: given up
    dropped: list[Row] = field(default_factory=list)  # the oldest, beyond outbox_max
    pending: int = 0  # rows left in the outbox


def worse(share: float, mean: float, last_share: float, last_mean: float, step: float) -> bool:
    return share >= last_share + step - 1e-9 or mean >= last_mean + step - 1e-9


ALERT_PAYLOADS = ("slack", "discord", "json")  # a row's format; any other is a board's API call (integrations)


def is_call(format: str) -> bool:
    """True for a board's API call (a flag, a report): never dropped to make room (a dropped call is a lost
    flag, while a refused webhook is retried by its board)."""
    return format not in ALERT_PAYLOADS


BURST = "burst\x1f"  # window keys of a thread's burst (thread names cannot hold control characters)


class Store(ABC):
    """Discussion windows, cool-downs and the outbox; safe to share between threads and workers."""

    @abstractmethod
    def append(self, thread: str, entry: dict, now: float, max_messages: int, max_age: float) -> list[dict]:
        """Add ``entry`` (with ``ts``) to the thread's window; return the window, newest first."""

    @abstractmethod
    def window(self, thread: str, now: float, max_age: float) -> list[dict]:
        """The thread's window as ``append`` last returned it (newest first), without adding to it."""

    @abstractmethod
    def enqueue(self, rows: list[Row]) -> None:
        """Add rows to the outbox, all or none."""

    @abstractmethod
    def enqueue_if_cooled(
        self, thread: str, now: float, cooldown: float, share: float, mean: float, step: float, rows: list[Row]
    ) -> bool:
        """Atomically: unless the thread is cooling down at a level not ``step`` better than this
        one, start its cool-down at this level and enqueue ``rows``. True if it did."""

    @abstractmethod
    def claim(self, now: float, lease_seconds: float, limit: int) -> list[Row]:
        """Due rows, leased to the caller until ``now + lease_seconds``; each to one claimer only."""

    @abstractmethod
    def delivered(self, row: Row) -> None:
        """The row was delivered: delete it."""

    @abstractmethod
    def retry(self, row: Row, due: float, error: str) -> None:
        """The attempt failed: try again at ``due`` (unless the lease was lost to another sender)."""

    @abstractmethod
    def give_up(self, row: Row) -> None:
        """The row cannot be delivered: delete it."""

    @abstractmethod
    def maintain(
        self, now: float, text_retention: float, max_age: float, outbox_max: int, window_age: float
    ) -> Maintenance:
        """Erase old texts, give up old rows, drop the oldest beyond ``outbox_max``, forget idle windows."""

    @abstractmethod
    def pending(self) -> int:
        """Rows in the outbox."""

    @abstractmethod
    def calls_pending(self) -> int:
        """Rows in the outbox that are boards' API calls (``is_call``)."""

    @abstractmethod
    def close(self) -> None:
        """Close this process's connections."""


def open_store(alert_settings: Any) -> Store:
    """The store that ``AlertSettings`` asks for: Redis when ``REDIS_URL`` is set (behind a circuit
    breaker, with a local SQLite spool: hatespeech/alerts/resilient.py), else SQLite."""
    from hatespeech.alerts.sqlite_store import SQLiteStore

    if alert_settings.redis_url:
        from hatespeech.alerts.redis_store import RedisStore
        from hatespeech.alerts.resilient import ResilientStore
        from hatespeech.resilience import breaker_for

        return ResilientStore(
            RedisStore(
                alert_settings.redis_url,
                timeout=alert_settings.store_timeout,
                aof_rewrite_seconds=alert_settings.aof_rewrite_seconds,
            ),
            SQLiteStore(alert_settings.spool),
            breaker_for(alert_settings.redis_url, alert_settings.store_retry_seconds),
        )
    return SQLiteStore(alert_settings.db_path)
