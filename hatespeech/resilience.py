"""A store that may stall or die, kept off the request's path: a deadline, a circuit breaker, a local spool.

Every store written while a request is answered (the review queue, feedback, the integrations'
keys; Redis, SQLite or PostgreSQL) goes through one ``Guard``:

- each call runs on a small pool of threads and the request waits for it at most ``timeout``
  seconds (``STORE_TIMEOUT``, 0.25 s): a Redis or PostgreSQL stopped with ``SIGSTOP`` answers no
  socket timeout a server could enforce, so the deadline is the caller's own;
- the first failure (or a missed deadline) opens the ``Breaker``: for ``STORE_RETRY`` seconds
  nobody calls that server, then one caller probes it. Breakers are shared by server address
  (``breaker_for``), so the review queue's failure spares the alert store's call on the same Redis
  its own timeout. One log line when a breaker opens, one when it closes;
- a *write* the store did not take is kept in a local SQLite ``Spool`` (``STORE_SPOOL_PATH``) and
  replayed, oldest first, by a background thread once the store answers again. While a store has
  rows waiting, its new writes queue behind them, so a replay never overwrites a newer write;
- a *read* (or a claim, whose answer is needed) raises ``StoreUnavailable`` at once: the web
  layer answers 503, the integrations ask the board to retry.

Writes are idempotent by design (an upsert by key, a replace by id), so a write both spooled and
later taken by the store (it missed the deadline and then went through) leaves one row; the
spooled copy is also withdrawn when the late write is seen to have succeeded.

>>> import tempfile, pathlib
>>> spool = Spool(pathlib.Path(tempfile.mkdtemp()) / "spool.sqlite3")
>>> seen = []
>>> guard = Guard("demo", {"put": seen.append}, spool, Breaker(5.0, "demo"), timeout=1.0)
>>> guard.write("put", "a"), seen
(None, ['a'])
>>> guard.close(); spool.close()
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from hatespeech.connections import PerThread, open_sqlite

if TYPE_CHECKING:
    from hatespeech.config import StoreSettings

log = logging.getLogger("hatespeech.stores")
T = TypeVar("T")

POOL_THREADS = 4  # per guarded store and process: a stalled server can hold at most this many
REPLAY_BATCH = 50  # spooled writes taken at a time
REPLAY_LEASE = 30.0  # seconds a replayer holds the rows it took (another process takes them after)


class _Spooled:
    def __repr__(self) -> str:
        return "SPOOLED"


SPOOLED: Any = _Spooled()  # what ``Guard.write`` answers for a write it spooled


class StoreUnavailable(RuntimeError):
    """The store failed, missed its deadline or is behind an open breaker: answer 503, or spool."""

    future: Future[Any] | None = None  # a call that missed its deadline: it may still land, the caller says what then


class BadRow(StoreUnavailable):
    """The call's own data cannot be stored (text that is not valid Unicode, a value of the wrong type): the
    store is not down, so the breaker stays as it was and the write is not spooled (it would fail again).
    Callers that answer 503 for ``StoreUnavailable`` still do."""


def is_bad_row(err: BaseException) -> bool:
    """True for an error raised by the data of a call, before or without the store being at fault: a
    lone surrogate that UTF-8 cannot encode, a value redis-py or sqlite3 cannot take.

    >>> is_bad_row(UnicodeEncodeError("utf-8", "\\ud800", 0, 1, "surrogates not allowed")), is_bad_row(OSError())
    (True, False)
    """
    if isinstance(err, ValueError | TypeError):  # UnicodeError is a ValueError; no connection error is one
        return True
    return type(err).__name__ == "DataError" and type(err).__module__.startswith("redis")


class Breaker:
    """Closed (calls go through) until a failure; then open for ``cooloff`` seconds; then one
    caller at a time may probe. Thread-safe."""

    def __init__(self, cooloff: float, name: str = "redis", clock: Callable[[], float] = time.monotonic):
        self.cooloff, self.name, self.clock = cooloff, name, clock
        self._lock = threading.Lock()
        self._open_until: float | None = None  # None: closed
        self._probing = False

    @property
    def closed(self) -> bool:
        return self._open_until is None

    def ready(self) -> bool:
        """Whether ``allow`` would let a caller through now (without taking the probe)."""
        with self._lock:
            return self._open_until is None or (self.clock() >= self._open_until and not self._probing)

    def allow(self) -> bool:
        with self._lock:
            if self._open_until is None:
                return True
            if self.clock() >= self._open_until and not self._probing:
                self._probing = True  # this caller probes; the others keep away until it is done
                return True
            return False

    def success(self) -> None:
        with self._lock:
            was_open, self._open_until, self._probing = self._open_until is not None, None, False
        if was_open:
            log.warning(json.dumps({"stores": "store_back", "store": self.name}))

    def abstain(self) -> None:
        """The call said nothing about the store (its own data was bad): as it was, and another may probe."""
        with self._lock:
            self._probing = False

    def failure(self, error: BaseException) -> None:
        with self._lock:
            was_closed = self._open_until is None
            self._open_until, self._probing = self.clock() + self.cooloff, False
        if was_closed:
            log.warning(
                json.dumps(
                    {
                        "stores": "store_unavailable",
                        "store": self.name,
                        "error": type(error).__name__,
                        "spooling_for_s": self.cooloff,
                    }
                )
            )


_breakers: dict[str, Breaker] = {}
_breakers_lock = threading.Lock()


def breaker_for(address: str, cooloff: float) -> Breaker:
    """The one breaker of the server at ``address`` in this process: a store that finds it down
    spares every other store on it the wait. The name logged is the address without credentials."""
    with _breakers_lock:
        found = _breakers.get(address)
        if found is None:
            shown = address.rsplit("@", 1)[-1] if "://" in address else address
            found = _breakers[address] = Breaker(cooloff, shown)
        return found


# ------------------------------------------------------------------------------------------ spool

# Versioned (hatespeech/connections.py); step 1 adopts a file of the release before versions as it is.
MIGRATIONS = (
    "spool",
    [
        [
            """CREATE TABLE IF NOT EXISTS spool (
                seq INTEGER PRIMARY KEY AUTOINCREMENT, store TEXT NOT NULL, op TEXT NOT NULL, args TEXT NOT NULL,
                created REAL NOT NULL, due REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0)""",
            "CREATE INDEX IF NOT EXISTS spool_store ON spool (store, seq)",
        ]
    ],
)


class Spool:
    """Writes waiting for their store: one local SQLite file shared by the workers of one machine."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._connections = PerThread(lambda: open_sqlite(self.path, "", migrations=MIGRATIONS))

    def add(self, store: str, op: str, args: list[Any]) -> int:
        now = time.time()
        cursor = self._connections.get().execute(
            "INSERT INTO spool (store, op, args, created, due) VALUES (?, ?, ?, ?, ?)",
            (store, op, json.dumps(args), now, 0.0),
        )
        return int(cursor.lastrowid or 0)

    def waiting(self, store: str) -> bool:
        """True while ``store`` has spooled writes (its new writes must queue behind them)."""
        return (
            self._connections.get().execute("SELECT 1 FROM spool WHERE store = ? LIMIT 1", (store,)).fetchone()
            is not None
        )

    def count(self, store: str | None = None) -> int:
        db = self._connections.get()
        if store is None:
            return int(db.execute("SELECT COUNT(*) FROM spool").fetchone()[0])
        return int(db.execute("SELECT COUNT(*) FROM spool WHERE store = ?", (store,)).fetchone()[0])

    def take(self, store: str, limit: int = REPLAY_BATCH, lease: float = REPLAY_LEASE) -> list[tuple[int, str, list]]:
        """The oldest spooled writes of ``store`` nobody is replaying, leased to the caller; in order:
        none if the oldest is another replayer's (so two replayers never reorder one store's writes)."""
        db = self._connections.get()
        now = time.time()
        db.execute("BEGIN IMMEDIATE")
        try:
            rows = db.execute(
                "SELECT seq, op, args, due FROM spool WHERE store = ? ORDER BY seq LIMIT ?", (store, limit)
            ).fetchall()
            taken = []
            for seq, op, args, due in rows:
                if due > now:
                    break
                taken.append((int(seq), str(op), json.loads(args)))
            if taken:
                db.execute(
                    f"UPDATE spool SET due = ? WHERE seq IN ({','.join('?' * len(taken))})",
                    (now + lease, *(seq for seq, _, _ in taken)),
                )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return taken

    def done(self, seq: int) -> None:
        self._connections.get().execute("DELETE FROM spool WHERE seq = ?", (seq,))

    def withdraw(self, seq: int) -> None:
        """Forget a spooled write the store took late after all, unless a replayer holds it."""
        self._connections.get().execute("DELETE FROM spool WHERE seq = ? AND due = 0", (seq,))

    def release(self, seqs: list[int]) -> None:
        """Leased writes not replayed (the store failed again): due at once for the next replay."""
        if seqs:
            self._connections.get().execute(
                f"UPDATE spool SET due = 0, attempts = attempts + 1 WHERE seq IN ({','.join('?' * len(seqs))})",
                seqs,
            )

    def close(self) -> None:
        self._connections.close()


# ------------------------------------------------------------------------------------------ guard


class Guard:
    """One store behind a deadline, a breaker and the spool; see the module docstring.

    ``ops`` names the store's writes that may be spooled: each takes JSON-able arguments and is
    idempotent. ``poll`` is how often the replayer looks for spooled writes.
    """

    def __init__(
        self,
        name: str,
        ops: Mapping[str, Callable[..., Any]],
        spool: Spool,
        breaker: Breaker,
        timeout: float,
        poll: float = 1.0,
    ):
        self.name, self.ops, self.spool, self.breaker = name, dict(ops), spool, breaker
        self.timeout, self.poll = timeout, poll
        self._lock = threading.Lock()
        self._pid = -1
        self._pool: ThreadPoolExecutor | None = None
        self._replayer: threading.Thread | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()

    # -- this process's threads, made on first use (never carried across gunicorn's fork)
    def _started(self) -> ThreadPoolExecutor:
        if self._pid != os.getpid() or self._pool is None:
            with self._lock:
                if self._pid != os.getpid() or self._pool is None:
                    self._pid = os.getpid()
                    self._stop = threading.Event()
                    self._pool = ThreadPoolExecutor(POOL_THREADS, thread_name_prefix=f"store-{self.name}")
                    self._replayer = threading.Thread(target=self._replay_loop, name=f"replay-{self.name}", daemon=True)
                    self._replayer.start()
        return self._pool

    def _run(self, fn: Callable[..., T], args: tuple, timeout: float | None = None) -> tuple[Future, T]:
        if not self.breaker.allow():
            raise StoreUnavailable(f"the {self.name} store is unavailable (retrying in the background)")
        timeout = self.timeout if timeout is None else timeout
        future = self._started().submit(fn, *args)
        try:
            result = future.result(timeout)
        except FutureTimeout:
            self.breaker.failure(TimeoutError(f"no answer in {timeout} s"))
            late = StoreUnavailable(f"the {self.name} store did not answer in {timeout} s")
            late.future = future
            raise late from None
        except Exception as err:
            if is_bad_row(err):
                self.breaker.abstain()
                raise BadRow(f"the {self.name} store cannot take this write: {type(err).__name__}") from err
            self.breaker.failure(err)
            raise StoreUnavailable(f"the {self.name} store failed: {type(err).__name__}") from err
        self.breaker.success()
        return future, result

    def _when_landed(
        self,
        err: StoreUnavailable,
        first: Callable[[], object] = lambda: None,
        otherwise: Callable[[], object] = lambda: None,
    ) -> None:
        """If the call that missed its deadline succeeds after all: ``first()``, then close the breaker
        and replay (subtle: a slow store, a first connection or a busy machine, is not a stalled one);
        if it fails, ``otherwise()``. A call that did not miss its deadline: ``otherwise()`` at once."""
        future = _pending(err)
        if future is None:
            with contextlib.suppress(Exception):
                otherwise()
            return

        def landed(f: Future) -> None:
            ok = not f.cancelled() and f.exception() is None
            with contextlib.suppress(Exception):
                first() if ok else otherwise()
            if ok:
                self.breaker.success()
                self._wake.set()

        future.add_done_callback(landed)  # at once if it has landed meanwhile

    def call(self, fn: Callable[..., T], *args: Any, timeout: float | None = None) -> T:
        """``fn(*args)`` on the store within the deadline (``timeout``, else the guard's), or
        ``StoreUnavailable`` (a read, or a write whose answer is needed)."""
        try:
            return self._run(fn, args, timeout)[1]
        except BadRow:
            raise
        except StoreUnavailable as err:
            self._when_landed(err)
            raise

    def write(self, op: str, *args: Any) -> Any:
        """Apply the write ``op`` now (its result) or spool it for later (``SPOOLED``); ``StoreUnavailable``
        only if the spool cannot take it either."""
        fn = self.ops[op]
        missed: StoreUnavailable | None = None
        try:
            if not self.spool.waiting(self.name):
                try:
                    return self._run(fn, args)[1]
                except BadRow:
                    raise
                except StoreUnavailable as err:
                    missed = err
        except BadRow:
            raise  # not spooled: it would fail the same way on every replay
        except Exception as err:  # the spool itself (a full disk, say)
            raise StoreUnavailable(f"the {self.name} store's spool failed: {type(err).__name__}") from err
        try:
            seq = self.spool.add(self.name, op, list(args))
        except Exception as err:
            log.error(json.dumps({"stores": "spool_failed", "store": self.name, "error": type(err).__name__}))
            raise StoreUnavailable(f"the {self.name} store and its spool failed") from err
        if missed is not None:  # the write may still land (late): then the spooled copy is not needed
            self._when_landed(missed, lambda: self.spool.withdraw(seq))
        self._started()
        self._wake.set()
        return SPOOLED

    def replay(self) -> int:
        """Apply this store's spooled writes while it answers: how many were applied."""
        applied = 0
        while True:
            if not self.breaker.ready():  # not leasing rows it cannot replay: a late write may withdraw them
                return applied
            rows = self.spool.take(self.name)
            if not rows:
                return applied
            for index, (seq, op, args) in enumerate(rows):
                try:
                    self._run(self.ops[op], tuple(args))
                except BadRow as err:  # would fail on every replay, and hold the writes behind it
                    dropped = {"stores": "bad_row_dropped", "store": self.name, "op": op, "error": str(err)}
                    log.error(json.dumps(dropped))
                    self.spool.done(seq)
                    continue
                except StoreUnavailable as err:
                    self.spool.release([s for s, _, _ in rows[index + 1 :]])
                    # the one tried may land late: then it is done, else it is due again
                    self._when_landed(
                        err, functools.partial(self.spool.done, seq), functools.partial(self.spool.release, [seq])
                    )
                    return applied
                self.spool.done(seq)
                applied += 1
            if applied:
                log.info(json.dumps({"stores": "replayed", "store": self.name, "writes": applied}))

    def _replay_loop(self) -> None:
        stop = self._stop
        while not stop.is_set():
            self._wake.wait(self.poll)
            self._wake.clear()
            if stop.is_set():
                return
            try:
                if self.spool.waiting(self.name):
                    if not self.breaker.closed:
                        # wait out the breaker's cool-off here rather than spinning on it
                        stop.wait(min(self.poll, self.breaker.cooloff))
                    self.replay()
            except Exception:  # the spool or an op failed unexpectedly: try again later
                log.exception(json.dumps({"stores": "replay_error", "store": self.name}))
                stop.wait(self.poll)

    def close(self) -> None:
        """Stop this process's replayer and threads (a later call starts new ones)."""
        with self._lock:
            self._stop.set()
            self._wake.set()
            if self._pool is not None and self._pid == os.getpid():
                self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool, self._replayer, self._pid = None, None, -1


_spools: dict[Path, Spool] = {}


def guard(
    name: str, ops: Mapping[str, Callable[..., Any]], address: str, settings: StoreSettings, beside: Path | str
) -> Guard:
    """A ``Guard`` for the store ``name`` on the server (or SQLite file) at ``address``, with this
    process's breaker for that address and the spool at ``STORE_SPOOL_PATH`` (else beside ``beside``)."""
    path = settings.spool(beside)
    with _breakers_lock:
        spool = _spools.get(path)
        if spool is None:
            spool = _spools[path] = Spool(path)
    return Guard(name, ops, spool, breaker_for(address, settings.retry_seconds), settings.timeout)


def _pending(err: StoreUnavailable) -> Future | None:
    return getattr(err, "future", None)
