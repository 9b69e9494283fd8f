"""The one mechanism every store on a request's path goes through (hatespeech/resilience.py): a
deadline, a breaker, a spool replayed in order once the store is back. Played on a store made here."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hatespeech.resilience import SPOOLED, Breaker, Guard, Spool, StoreUnavailable
from testing.support import wait_for


class Flaky:
    """A store that fails (``down``) or hangs (``stall``) on demand, and records what it took."""

    def __init__(self) -> None:
        self.down = False
        self.stall = threading.Event()
        self.stall.set()  # set: answering
        self.taken: list[str] = []

    def put(self, value: str) -> str:
        self.stall.wait()
        if self.down:
            raise ConnectionError("the store is down")
        self.taken.append(value)
        return value


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Callable[[float], tuple[Flaky, Guard]]]:
    """A store and its guard, whose breaker cools off in ``cooloff`` seconds."""
    made: list[tuple[Flaky, Guard]] = []

    def build(cooloff: float) -> tuple[Flaky, Guard]:
        store = Flaky()
        spool = Spool(tmp_path / "spool.sqlite3")
        made.append((store, Guard("t", {"put": store.put}, spool, Breaker(cooloff, "t"), timeout=0.5, poll=0.02)))
        return made[-1]

    yield build
    for store, guard in made:
        store.stall.set()
        guard.close()


def test_writes_the_store_refused_are_replayed_in_order_and_later_ones_queue_behind(make) -> None:
    store, guard = make(0.05)  # the replayer probes the store every 0.05 s
    assert guard.write("put", "a") == "a"
    store.down = True
    assert guard.write("put", "b") is SPOOLED and guard.write("put", "c") is SPOOLED
    with pytest.raises(StoreUnavailable):
        guard.call(store.put, "read")  # a read is refused at once while the breaker is open
    store.down = False
    guard.write("put", "d")  # the store may answer again, but b and c wait: d goes behind them
    wait_for(lambda: store.taken == ["a", "b", "c", "d"] and guard.spool.count("t") == 0, lambda: store.taken)


def test_a_stalled_store_costs_one_deadline_and_its_late_write_is_not_replayed_twice(make) -> None:
    store, guard = make(3600.0)  # no probe: only the late write's own success closes the breaker
    store.stall.clear()  # the store hangs (SIGSTOP)
    assert guard.write("put", "late") is SPOOLED  # after the deadline: spooled
    assert guard.write("put", "next") is SPOOLED  # the breaker is open: no wait at all
    store.stall.set()  # it resumes: the hung write lands, its spooled copy is withdrawn
    wait_for(lambda: store.taken == ["late", "next"] and guard.spool.count("t") == 0, lambda: store.taken)
