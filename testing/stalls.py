"""Helpers for the store-stall tests and bench/stall.py: a redis-server of one's own, and stopping a
server (with every process it forked) as a stalled host would: ``SIGSTOP``, then ``SIGCONT``."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

from testing.services import RedisServer

HATEFUL = "you are a worthless bitch and a disgusting whore"  # made up: flagged (review or block) by the model


def descendants(pid: int) -> list[int]:
    """``pid`` and every process it forked, still running (from Linux's /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path("/proc", entry, "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


@contextlib.contextmanager
def stopped(pid: int) -> Iterator[None]:
    """The process ``pid`` and its children stopped (``SIGSTOP``) for the block; continued after, whatever happens."""
    pids = descendants(pid)
    for each in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(each, signal.SIGSTOP)
    try:
        yield
    finally:
        for each in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(each, signal.SIGCONT)


class OwnRedis(RedisServer):
    """A redis-server of the caller's own, started (the session's is shared: it must never be stopped).
    Missing, it skips the test, or fails it under CI (testing.services.missing)."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.start()


def postmaster_pid(url: str) -> int:
    """The pid of the PostgreSQL server at ``url`` (its postmaster, which forks a process per connection)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        directory = conn.execute("SHOW data_directory").fetchone()[0]
    return int(Path(directory, "postmaster.pid").read_text().split()[0])
