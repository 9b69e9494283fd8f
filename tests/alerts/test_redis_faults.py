"""A stalled or dead Redis (issue 13): a short timeout, a circuit breaker, a local spool."""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from hatespeech.alerts import Alerter
from hatespeech.alerts.redis_store import RedisStore
from hatespeech.alerts.resilient import Breaker, ResilientStore
from hatespeech.alerts.sqlite_store import SQLiteStore
from hatespeech.alerts.store import open_store
from testing.alerting import Receiver, fast_settings, moderated
from testing.services import RedisServer
from testing.support import wait_for


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_breaker_opens_on_a_failure_then_lets_one_probe_through() -> None:
    clock = Clock()
    breaker = Breaker(5.0, clock=clock)
    assert breaker.allow()
    breaker.failure(TimeoutError())
    assert not breaker.allow()
    clock.now = 5.0
    assert breaker.allow()  # the probe…
    assert not breaker.allow()  # …alone
    breaker.failure(TimeoutError())
    assert not breaker.allow()
    clock.now = 10.0
    assert breaker.allow()
    breaker.success()
    assert breaker.allow() and breaker.allow() and breaker.closed


@pytest.fixture
def redis_process(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own (it is stopped and restarted), every write on disk so a restart keeps it.
    Missing, it skips the test, or fails it under CI (testing.services.missing)."""
    r = RedisServer(tmp_path, appendonly=True).start()
    yield r
    r.stop()


# Seconds per Redis call: long, so that a Redis that is only slow (a busy machine) is not taken for a
# stalled one, which would open the breaker (one more log line) and could spool an alert Redis also took.
STORE_TIMEOUT = 2.0


def _alerter(receiver: Receiver, redis: RedisServer, tmp_path: Path, breaker: Breaker | None = None) -> Alerter:
    settings = fast_settings(
        (receiver.url + "/hook",),
        redis_url=redis.url,
        spool_path=tmp_path / "spool.sqlite3",
        store_timeout=STORE_TIMEOUT,
        store_retry_seconds=0.5,
    )
    store = open_store(settings)
    assert isinstance(store, ResilientStore)
    if breaker is not None:  # the breaker as open_store builds it, on the test's clock
        store.close()
        primary = RedisStore(settings.redis_url or "", timeout=settings.store_timeout)
        store = ResilientStore(primary, SQLiteStore(settings.spool), breaker)
    return Alerter(settings, store)


def _posts(receiver: Receiver) -> set[str]:
    return {r.json()["post"]["id"] for r in receiver.accepted() if r.json()["type"] == "message"}


def test_alerts_made_while_redis_is_stopped_are_spooled_and_delivered(
    receiver: Receiver, redis_process: RedisServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()  # the breaker's: it stays open (no probe of the stopped Redis) until the test moves it on
    breaker = Breaker(5.0, clock=clock)
    alerter = _alerter(receiver, redis_process, tmp_path, breaker)
    try:
        alerter.record(moderated("block"), {"id": "before"})
        receiver.wait(lambda r: _posts(r) == {"before"})
        wait_for(lambda: alerter.store.pending() == 0, alerter.store.pending)  # its row deleted in Redis too
        assert redis_process.proc is not None
        redis_process.proc.send_signal(signal.SIGSTOP)
        with caplog.at_level(logging.WARNING, logger="hatespeech.alerts"):
            for i in range(20):
                assert alerter.record(moderated("block"), {"id": f"stalled-{i}"})  # created, not dropped
            receiver.wait(lambda r: len(_posts(r)) == 21)  # delivered from the spool, Redis still stopped
            assert not breaker.closed
            redis_process.proc.send_signal(signal.SIGCONT)

            def probed_back() -> bool:
                clock.now += 5.0  # each look lets one probe through: the sender's next call to Redis
                return breaker.closed

            wait_for(probed_back, lambda: "the breaker is still open")
            alerter.record(moderated("block"), {"id": "after"})
            receiver.wait(lambda r: "after" in _posts(r))
        logged = [r.getMessage() for r in caplog.records]
    finally:
        alerter.stop()
    assert sum("store_unavailable" in m for m in logged) == 1  # one line, not a traceback per request
    assert not [r for r in caplog.records if r.exc_info]
    assert any("store_back" in m for m in logged)


def test_alerts_made_while_redis_is_dead_are_not_lost(
    receiver: Receiver, redis_process: RedisServer, tmp_path: Path
) -> None:
    alerter = _alerter(receiver, redis_process, tmp_path)
    try:
        redis_process.stop()
        for i in range(10):
            alerter.record(moderated("block"), {"id": f"dead-{i}"})
        redis_process.start()
        for i in range(10):
            alerter.record(moderated("block"), {"id": f"back-{i}"})
        receiver.wait(lambda r: len(_posts(r)) == 20, timeout=30)
        wait_for(lambda: alerter.store.pending() == 0, alerter.store.pending)  # nothing more can come
    finally:
        alerter.stop()
    assert len(receiver.accepted()) == 20  # each once
