"""The alert store, the same tests on SQLite and on a real Redis: windows, cool-downs, the outbox."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from hatespeech.alerts.store import Row, Store
from testing.alerting import open_test_store, store_env
from testing.support import ROOT


def row(created: float, text: str | None = None, due: float | None = None) -> Row:
    return Row(
        "a" + str(created), "http://127.0.0.1:9/hook", "json", '{"type": "message"}', created, due or created, text
    )


def test_window_keeps_the_last_n_messages_of_the_last_t_seconds(store: Store) -> None:
    for i in range(5):
        window = store.append("t", {"ts": 100.0 + i, "id": f"p{i}"}, now=100.0 + i, max_messages=3, max_age=60)
    assert [e["id"] for e in window] == ["p4", "p3", "p2"]
    window = store.append("t", {"ts": 200.0, "id": "late"}, now=200.0, max_messages=3, max_age=60)
    assert [e["id"] for e in window] == ["late"]  # the others are older than 60 s
    assert [e["id"] for e in store.append("u", {"ts": 200.0, "id": "x"}, 200.0, 3, 60)] == ["x"]  # threads apart


def test_cooldown_allows_a_further_alert_only_when_worse_or_after_it(store: Store) -> None:
    claim = lambda now, share: store.enqueue_if_cooled("t", now, 100, share, 0.1, 0.2, [row(now)])  # noqa: E731
    assert claim(1000, 0.35)
    assert not claim(1001, 0.35)  # same level, cooling down
    assert not claim(1002, 0.5)  # worse, but by less than the step
    assert claim(1003, 0.55)  # worse by the step: alert, and the cool-down restarts at this level
    assert not claim(1050, 0.6)
    assert claim(1104, 0.35)  # the cool-down is over
    assert store.pending() == 3


def test_claimed_rows_are_leased_to_one_sender(store: Store) -> None:
    store.enqueue([row(10.0), row(11.0), row(12.0, due=500.0)])
    first = store.claim(now=20.0, lease_seconds=30, limit=10)
    assert [r.created for r in first] == [10.0, 11.0]  # the third is not due yet
    assert store.claim(now=21.0, lease_seconds=30, limit=10) == []  # leased to the first claimer
    store.delivered(first[0])
    store.retry(first[1], due=25.0, error="HTTP 503")
    (again,) = store.claim(now=26.0, lease_seconds=30, limit=10)
    assert (again.id, again.attempts, again.error) == (first[1].id, 1, "HTTP 503")
    (lapsed,) = store.claim(now=57.0, lease_seconds=30, limit=10)  # the lease lapsed: due again
    assert lapsed.id == again.id
    store.retry(again, due=58.0, error="too late")  # the old lease is ignored
    assert store.claim(now=59.0, lease_seconds=30, limit=10) == []
    assert store.pending() == 2


def test_outbox_is_bounded(store: Store) -> None:
    store.enqueue([row(float(t), text=f"text {t}") for t in range(100, 130)])
    done = store.maintain(now=1000.0, text_retention=895, max_age=10_000, outbox_max=20, window_age=60)
    assert done.texts_erased == 5  # created before 105
    # the 10 newest (same severity): a flood evicts itself, never what was queued before it
    assert sorted(r.created for r in done.dropped) == [float(t) for t in range(120, 130)]
    assert done.pending == 20 == store.pending()
    done = store.maintain(now=1000.0 + 7_890, text_retention=895, max_age=8_775, outbox_max=20, window_age=60)
    assert len(done.expired) == 15  # not delivered within max_age: given up
    assert store.pending() == 5
    rows = store.claim(now=10_000.0, lease_seconds=30, limit=10)
    assert all(r.text is None for r in rows)  # every text is past its retention now


WORKER = """
import json, sys, threading
from hatespeech.config import AlertSettings
from hatespeech.alerts.store import Row, open_store

env, job, worker = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
store = open_store(AlertSettings.from_env(env))
claimed = []

def write(t):
    for i in range(25):
        store.enqueue([Row(f"{worker}-{t}-{i}", "http://127.0.0.1:9/", "json", "{}", 1.0, 1.0)])
        store.append("raid", {"ts": 1.0, "id": f"{worker}-{t}-{i}"}, 1.0, 1000, 1e9)

def claim(t):
    while rows := store.claim(2.0, 600, 3):
        claimed.extend(r.alert_id for r in rows)

threads = [threading.Thread(target=write if job == "write" else claim, args=(t,)) for t in range(3)]
for t in threads: t.start()
for t in threads: t.join()
store.close()
print(json.dumps(claimed))
"""


def test_several_processes_and_threads_at_once(
    alert_backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("redis_url") if alert_backend == "redis" else None
    store = open_test_store(alert_backend, tmp_path, url)
    try:
        env = json.dumps(store_env(alert_backend, tmp_path, url))

        def run(job: str) -> list[str]:
            procs = [
                subprocess.Popen([sys.executable, "-c", WORKER, env, job, str(w)], cwd=ROOT, stdout=subprocess.PIPE)
                for w in range(4)
            ]
            outputs = [p.communicate(timeout=60)[0] for p in procs]
            assert [p.returncode for p in procs] == [0, 0, 0, 0]
            return [alert for out in outputs for alert in json.loads(out)]

        run("write")  # 4 processes × 3 threads × 25 rows, all at once
        assert store.pending() == 300
        window = store.append("raid", {"ts": 1.0, "id": "last"}, 1.0, 1000, 1e9)
        assert len(window) == 301
        claimed = Counter(run("claim"))  # 4 processes × 3 threads claiming
        assert len(claimed) == 300 and set(claimed.values()) == {1}  # each row claimed once
    finally:
        store.close()
