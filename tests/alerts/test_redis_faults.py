"""A stalled or dead Redis (issue 13): a short timeout, a circuit breaker, a local spool."""

from __future__ import annotations

import contextlib
import logging
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from alerting import Receiver, fast_settings, moderated
from support import free_port

from hatespeech.alerts import Alerter
from hatespeech.alerts.resilient import Breaker, ResilientStore
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
        self.port, self.dir = free_port(), directory
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--dir", str(self.dir)]
        argv += ["--appendonly", "yes", "--appendfsync", "always"]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def redis_process(tmp_path: Path) -> Iterator[RedisProcess]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not on PATH (Debian: apt-get install redis-server)")
    r = RedisProcess(tmp_path)
    r.start()
    yield r
    r.stop()


def _alerter(receiver: Receiver, redis: RedisProcess, tmp_path: Path) -> Alerter:
    settings = fast_settings(
        (receiver.url + "/hook",),
        redis_url=redis.url,
        spool_path=tmp_path / "spool.sqlite3",
        store_timeout=0.2,
        store_retry_seconds=0.5,
    )
    store = open_store(settings)
    assert isinstance(store, ResilientStore)
    return Alerter(settings, store)


def _posts(receiver: Receiver) -> set[str]:
    return {r.json()["post"]["id"] for r in receiver.accepted() if r.json()["type"] == "message"}


def test_alerts_made_while_redis_is_stopped_are_spooled_and_delivered(
    receiver: Receiver, redis_process: RedisProcess, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    alerter = _alerter(receiver, redis_process, tmp_path)
    try:
        alerter.record(moderated("block"), {"id": "before"})
        receiver.wait(lambda r: _posts(r) == {"before"})
        assert redis_process.proc is not None
        redis_process.proc.send_signal(signal.SIGSTOP)
        with caplog.at_level(logging.WARNING, logger="hatespeech.alerts"):
            for i in range(20):
                assert alerter.record(moderated("block"), {"id": f"stalled-{i}"})  # created, not dropped
            receiver.wait(lambda r: len(_posts(r)) == 21)  # delivered from the spool, Redis still stopped
            redis_process.proc.send_signal(signal.SIGCONT)
            time.sleep(0.7)
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
    finally:
        alerter.stop()
    assert len(receiver.accepted()) == 20  # each once
