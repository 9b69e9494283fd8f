"""Alert floods (issue 13): bursts aggregated per thread, a cap per batch, and what goes when the
outbox is full."""

from __future__ import annotations

import json
import math
import time
import uuid

import pytest

from hatespeech.alerts import Alerter
from hatespeech.alerts.overflow import victims
from hatespeech.alerts.redis_store import RedisStore
from hatespeech.alerts.store import Row, Store
from testing.alerting import Clock, Receiver, fast_settings, moderated
from testing.support import wait_for


def _alert_row(alert_id: str, created: float, thread: str | None, action: str = "block") -> Row:
    alert = {"type": "message", "id": alert_id, "thread": thread, "action": action}
    return Row(alert_id, "http://127.0.0.1:9/hook", "json", json.dumps(alert), created, created + 3600)


def test_a_flood_never_evicts_an_earlier_alert() -> None:
    genuine = [
        (f"g{i}", float(i), json.dumps({"id": f"g{i}", "type": "message", "action": "block", "thread": f"t{i}"}))
        for i in range(5)
    ]
    one_thread = [
        (f"f{i}", 10.0 + i, json.dumps({"id": f"f{i}", "type": "message", "action": "block", "thread": "raid"}))
        for i in range(300)
    ]
    many_threads = [
        (f"m{i}", 10.0 + i, json.dumps({"id": f"m{i}", "type": "message", "action": "block", "thread": f"r{i}"}))
        for i in range(300)
    ]
    for flood in (one_thread, many_threads):
        rows = genuine + flood
        dropped = victims(rows, len(rows) - 50)
        assert len(dropped) == len(rows) - 50
        assert not {g[0] for g in genuine} & set(dropped)
    # the raid's thread keeps one alert (its oldest) while anything else can go
    assert "f0" not in victims(genuine + one_thread, 299)


def test_lowest_severity_goes_first() -> None:
    rows = [
        ("old-review", 1.0, json.dumps({"id": "a", "type": "message", "action": "review", "thread": "x"})),
        ("x-block", 2.0, json.dumps({"id": "b", "type": "message", "action": "block", "thread": "x"})),
        ("discussion", 3.0, json.dumps({"id": "c", "type": "discussion", "thread": "y"})),
    ]
    assert victims(rows, 1) == ["old-review"]


def test_the_store_drops_by_that_rule(store: Store, alert_backend: str, request: pytest.FixtureRequest) -> None:
    if alert_backend == "redis":
        # keys of its own: on the shared redis-server, a sender another test left running would claim the
        # row due first (g0, due at t=100) and take it out of this count
        store = RedisStore(request.getfixturevalue("redis_url"), prefix=f"floods-{uuid.uuid4().hex}:")
        request.addfinalizer(store.close)
    store.enqueue([_alert_row(f"g{i}", 100.0 + i, f"t{i}") for i in range(5)])
    store.enqueue([_alert_row(f"f{i}", 200.0 + i, "raid") for i in range(40)])
    done = store.maintain(300.0, 86_400, 86_400, outbox_max=10, window_age=3600)
    assert len(done.dropped) == 35 and done.pending == 10
    kept = {row.alert_id for row in store.claim(10_000.0, 60, 100)}
    assert {f"g{i}" for i in range(5)} <= kept and "f0" in kept


BURST = 600.0  # seconds: longer than any stall of a busy machine; the test moves the alerter's clock past it


def _burst_alerter(receiver: Receiver, store: Store, clock: Clock, **changes: object) -> Alerter:
    settings = fast_settings((receiver.url + "/hook",), burst_seconds=BURST, **changes)
    return Alerter(settings, store, clock)


def _outbox_empty(store: Store) -> None:
    """Wait until every alert is delivered: nothing is left to send, so what the receiver has is all."""
    wait_for(lambda: store.pending() == 0, lambda: f"{store.pending()} alerts still in the outbox")


def test_a_raid_in_one_thread_is_one_alert_then_a_summary(receiver: Receiver, store: Store) -> None:
    clock = Clock(start=math.ceil(time.time() / BURST) * BURST + 1)  # a burst slot has just begun: the raid fits in it
    alerter = _burst_alerter(receiver, store, clock)
    try:
        for i in range(50):
            alerter.record(moderated("block", abusive=0.5 + i / 100), {"id": f"p{i}", "thread": "t7"})
        receiver.wait(lambda r: any(q.json()["type"] == "message" for q in r.accepted()))  # the burst's first, at once
        clock.advance(BURST)  # the slot is over: its summary is due
        receiver.wait(lambda r: any(q.json()["type"] == "burst" for q in r.accepted()))
        _outbox_empty(store)
        got = [r.json() for r in receiver.accepted() if r.json()["type"] != "discussion"]  # the thread turned sour too
    finally:
        alerter.stop()
    assert [g["type"] for g in got] == ["message", "burst"], got
    (summary,) = got[1:]
    assert summary["count"] == 49  # every other post is in the summary
    assert "49 posts blocked in t7" in summary["summary"] and "worst three" in summary["summary"]
    assert summary["worst"][0]["id"] == "p49"  # the worst of the raid
    assert {p["id"] for p in summary["posts"]} == {f"p{i}" for i in range(1, 50)}


def test_a_batch_makes_at_most_its_cap_of_message_alerts(receiver: Receiver, store: Store) -> None:
    alerter = _burst_alerter(receiver, store, Clock(), batch_max=5)
    try:
        answers = [moderated("block")] * 30
        contexts = [{"id": f"b{i}", "thread": f"thread-{i}"} for i in range(30)]
        created = alerter.record_many(answers, contexts, [None] * 30)
        receiver.wait(lambda r: len(r.accepted()) >= 6)
        _outbox_empty(store)
        got = [r.json() for r in receiver.accepted()]
    finally:
        alerter.stop()
    assert len(created) == 6 and len(got) == 6
    assert sum(g["type"] == "message" for g in got) == 5
    (summary,) = [g for g in got if g["type"] == "burst"]
    assert summary["count"] == 25 and {p["id"] for p in summary["posts"]} == {f"b{i}" for i in range(5, 30)}
