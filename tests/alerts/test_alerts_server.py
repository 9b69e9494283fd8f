"""Alerts through the real server: `/moderate` with context → the outbox → a real webhook receiver.

The production server (gunicorn, 2 workers) on both stores; the receiver is down at first, then
the server is killed with the alert pending, restarted, and delivers it once, signed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hatespeech.alerts import verify
from testing.alerting import SECRET, STORES, Receiver, alert_env
from testing.support import gunicorn, post_json, wait_for
from testing.support import request as http_request

# A message the committed model blocks (offensive language, well over its block threshold), in
# words we wrote; and a polite one it allows.
BLOCKED = "shut up you stupid bitch, fuck you"
POLITE = "Thanks for the recipe, it was lovely."


@pytest.mark.parametrize("kind", STORES)
def test_a_blocked_message_alerts_once_even_across_a_kill_9(
    kind: str, receiver: Receiver, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("redis_url") if kind == "redis" else None
    env = {
        **alert_env(receiver.url + "/hook", kind, tmp_path, url),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }
    (tmp_path / "metrics").mkdir()
    receiver.then(503, times=10_000)  # the receiver is down
    with gunicorn(tmp_path, **env) as server:
        server.wait_ready()
        status, answer = post_json(server.url + "/moderate", {"text": POLITE, "id": "p1", "thread": "t1"})
        assert status == 200 and answer["action"] == "allow"
        status, answer = post_json(
            server.url + "/moderate",
            {"text": BLOCKED, "id": "p2", "thread": "t1", "author": "someone", "url": "https://forum.example/t/1#p2"},
        )
        assert status == 200 and answer["action"] == "block", answer
        receiver.wait(lambda r: len(r.requests) >= 2)  # the sender is retrying
        _, _, metrics = http_request(server.url + "/metrics", method="GET")
        assert 'hatespeech_decisions_total{action="block",label="offensive language"} 1.0' in metrics
        server.proc.kill()  # kill -9 of the master; its workers follow (gunicorn watches its parent)
        # ...before the restart: else their senders, still running, could deliver the alert themselves (and,
        # once this test is over, claim the next test's rows on the shared redis-server)
        wait_for(lambda: not server.processes(), server.processes, timeout=30)
        for line in server.output().splitlines():
            assert BLOCKED not in line  # the text never reaches the log
    receiver.plan.clear()  # the receiver is up again
    with gunicorn(tmp_path, **env) as server:
        server.wait_ready()
        receiver.wait(lambda r: len(r.accepted()) >= 1, timeout=30)
    delivered = receiver.accepted()
    assert len({r.headers["Idempotency-Key"] for r in delivered}) == 1  # one alert (at least once, same key)
    alert = delivered[0]
    verify(alert.body, alert.headers["X-Hatespeech-Signature"], SECRET)
    payload = alert.json()
    assert json.dumps(payload).count("p2") >= 1 and "p1" not in json.dumps(payload)
