"""A stalled or dead Redis (issue 13): a short timeout, a circuit breaker, a local spool."""

from __future__ import annotations

import logging
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from alerting import Receiver, fast_settings, moderated, redis_binary, wait_for_redis
from support import free_port, wait_for

from hatespeech.alerts import Alerter
from hatespeech.alerts.redis_store import RedisStore
from hatespeech.alerts.resilient import Breaker, ResilientStore
from hatespeech.alerts.sqlite_store import SQLiteStore
from hatespeech.alerts.store import open_store


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


class RedisProcess:
    def __init__(self, directory: Path):
        self.binary = redis_binary()
        self.port, self.dir = free_port(), directory
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        argv = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--dir", str(self.dir)]
        argv += ["--appendonly", "yes", "--appendfsync", "always"]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_redis(self.port, self.proc)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def redis_process(tmp_path: Path) -> Iterator[RedisProcess]:
    r = RedisProcess(tmp_path)
    r.start()
    yield r
    r.stop()


# Seconds per Redis call: long, so that a Redis that is only slow (a busy machine) is not taken for a
# stalled one, which would open the breaker (one more log line) and could spool an alert Redis also took.
STORE_TIMEOUT = 2.0


def _alerter(receiver: Receiver, redis: RedisProcess, tmp_path: Path, breaker: Breaker | None = None) -> Alerter:
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
    receiver: Receiver, redis_process: RedisProcess, tmp_path: Path, caplog: pytest.LogCaptureFixture
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
    receiver: Receiver, redis_process: RedisProcess, tmp_path: Path
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
