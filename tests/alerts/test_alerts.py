"""Alerts end to end against a real local webhook receiver, on both stores (SQLite and a real Redis).

``alerts.record`` is driven with ``/moderate`` answers; the sender thread delivers to a receiver
that the tests make fail, hang or answer 429. Short backoff settings keep retries in milliseconds;
waits are bounded and nothing asserts how fast something happened.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from hatespeech import alerts
from hatespeech.alerts import Alerter, InvalidSignature, sign, verify
from hatespeech.alerts.render import render
from hatespeech.alerts.store import Store
from hatespeech.core.context import Context, InvalidContext
from testing.alerting import SECRET, Clock, Receiver, alert_env, fast_settings, moderated
from testing.support import ROOT, wait_for

NASTY = (
    "@everyone @here <!channel> <!here> <@U123> <@&42> *bold* _it_ ~s~ `code` ```block``` "
    "[x](http://evil.example) # Title"
)


@pytest.fixture
def alerter(store: Store, receiver: Receiver) -> Iterator[Alerter]:
    """An alerter posting json to the receiver; a test changes settings with ``alerter.settings = …``."""
    a = Alerter(fast_settings((receiver.url + "/hook",)), store)
    yield a
    a.stop()


def with_settings(alerter: Alerter, clock: Clock | None = None, **changes: object) -> Alerter:
    fresh = Alerter(fast_settings(alerter.settings.webhook_urls, **changes), alerter.store, clock or time.time)
    alerter.stop = fresh.stop  # the fixture stops the one the test uses
    return fresh


def all_sent(alerter: Alerter) -> None:
    """Wait until the outbox is empty: every alert delivered (or given up), so no other request can come."""
    store = alerter.store
    wait_for(lambda: store.pending() == 0, lambda: f"{store.pending()} alerts still in the outbox")


# ------------------------------------------------------------------------------ message alerts


@pytest.mark.parametrize("fmt", ["json", "slack", "discord"])
def test_a_message_alert_arrives_once_in_each_format(alerter: Alerter, receiver: Receiver, fmt: str) -> None:
    a = with_settings(alerter, format=fmt)
    ctx = {"id": "p1", "thread": "t9", "author": "someone", "url": "https://forum.example/t/9#p1"}
    (alert_id,) = a.record(moderated("block"), ctx, text="you are all <vermin>")
    receiver.wait(lambda r: len(r.accepted()) == 1)
    all_sent(a)
    (got,) = receiver.requests
    assert got.headers["Idempotency-Key"] == alert_id
    body = got.json()
    if fmt == "json":
        assert verify(got.body, got.headers["X-Hatespeech-Signature"], SECRET) > 0
        assert body["type"] == "message" and body["id"] == alert_id and body["action"] == "block"
        assert body["post"] == {"id": "p1", "author": "someone", "url": ctx["url"]} and body["thread"] == "t9"
        assert body["text"] == "you are all <vermin>" and body["scores"]["hate speech"] == 0.9
    elif fmt == "slack":
        assert "Message alert: hate speech → block" in body["text"]
        texts = [b.get("text", {}).get("text", "") for b in body["blocks"]]
        assert "you are all &lt;vermin&gt;" in texts
        assert "<https://forum.example/t/9#p1|Open the post>" in json.dumps(body["blocks"][-1])
    else:
        assert body["allowed_mentions"] == {"parse": []}
        assert "you are all <vermin>" in body["content"]  # inside a code block
        assert "<https://forum.example/t/9#p1>" in body["content"]


def test_below_the_alert_action_there_is_no_message_alert(alerter: Alerter) -> None:
    assert alerter.record(moderated("review"), {"id": "p1"}, "meh") == []
    assert alerter.record(moderated("allow"), None, "hi") == []
    assert alerter.store.pending() == 0
    a = with_settings(alerter, message_action="review")
    assert len(a.record(moderated("review"), {"id": "p2"}, "meh")) == 1


def test_without_text_the_alert_carries_ids_scores_and_links_only(alerter: Alerter, receiver: Receiver) -> None:
    a = with_settings(alerter, include_text=False, webhook_urls=tuple(f"{receiver.url}/{f}" for f in "abc"))
    a.record(moderated("block"), {"id": "p1", "url": "https://forum.example/p1"}, text="secret words")
    receiver.wait(lambda r: len(r.accepted()) == 3)
    for got in receiver.requests:
        assert b"secret words" not in got.body
    assert all(r.text is None for r in a.store.claim(time.time() + 1e6, 1, 100))


# ------------------------------------------------------------------------------ discussion alerts


def test_a_discussion_alert_once_then_only_when_worse(alerter: Alerter, receiver: Receiver) -> None:
    a = with_settings(alerter, flagged_share=0.35, mean_abusive=0.99, message_action="off")
    posts = iter(range(1000))

    def post(action: str) -> list[str]:
        n = next(posts)
        result = moderated(action, abusive=0.9 if action != "allow" else 0.05)
        return a.record(result, {"id": f"p{n}", "thread": "t1", "url": f"https://forum.example/t1#p{n}"}, "x")

    created = [post("allow") for _ in range(13)] + [post("review") for _ in range(7)]
    assert [len(c) for c in created] == [0] * 19 + [1]  # at 7 of 20 flagged, not before
    assert post("allow") == []  # still 7 of the last 20: cooling down
    assert [len(post("review")) for _ in range(4)] == [0, 0, 0, 1]  # 11 of 20: worse by the step
    receiver.wait(lambda r: len(r.accepted()) == 2)
    all_sent(a)
    first, second = (r.json() for r in receiver.requests)
    assert first["type"] == "discussion" and first["thread"] == "t1"
    assert first["summary"] == "7 of the last 20 messages flagged"
    assert (first["flagged"], first["messages"], first["share"]) == (7, 20, 0.35)
    assert [w["id"] for w in first["worst"]] == ["p19", "p18", "p17"]  # the most abusive, newest first
    assert first["worst"][0]["url"] == "https://forum.example/t1#p19"
    assert second["summary"] == "11 of the last 20 messages flagged"


def test_a_discussion_alert_again_after_the_cooldown(alerter: Alerter, receiver: Receiver) -> None:
    clock = Clock()
    a = with_settings(alerter, clock, cooldown_seconds=600, message_action="off", min_messages=2)
    ctx = {"thread": "t2"}
    assert len(a.record(moderated("block"), ctx)) == 0
    assert len(a.record(moderated("block"), ctx)) == 1
    assert a.record(moderated("block"), ctx) == []
    clock.advance(599)
    assert a.record(moderated("block"), ctx) == []  # still cooling down
    clock.advance(2)
    assert len(a.record(moderated("block"), ctx)) == 1
    receiver.wait(lambda r: len(r.accepted()) == 2)


def test_the_mean_abusive_probability_alone_can_make_a_discussion_alert(alerter: Alerter) -> None:
    a = with_settings(alerter, mean_abusive=0.5, flagged_share=1.0, min_messages=3, message_action="off")
    results = [a.record(moderated("allow", abusive=0.6), {"thread": "t3"}) for _ in range(3)]
    assert [len(r) for r in results] == [0, 0, 1]


# ------------------------------------------------------------------------------ delivery


def test_a_receiver_down_for_a_while_then_up_receives_everything_once(alerter: Alerter, receiver: Receiver) -> None:
    receiver.then(503, times=12)
    ids = [alerter.record(moderated("block"), {"id": f"p{i}"}, "x")[0] for i in range(5)]
    receiver.wait(lambda r: len(r.accepted()) == 5)
    all_sent(alerter)
    assert sorted(r.headers["Idempotency-Key"] for r in receiver.accepted()) == sorted(ids)
    assert len(receiver.requests) == 17  # 12 refused, then each alert once
    assert alerter.store.pending() == 0


def test_429_retry_after_is_honoured(alerter: Alerter, receiver: Receiver) -> None:
    receiver.then(429, headers={"Retry-After": "1"})
    alerter.record(moderated("block"), None, "x")
    receiver.wait(lambda r: len(r.accepted()) == 1)
    limited, accepted = receiver.requests
    assert accepted.at - limited.at >= 0.9  # not before Retry-After (the backoff alone is ≤ 0.2 s)


def test_a_receiver_that_hangs_is_timed_out_and_retried(alerter: Alerter, receiver: Receiver) -> None:
    receiver.then(200, delay=60)  # far longer than ALERT_TIMEOUT (2 s): the sender gives up on it
    (alert_id,) = alerter.record(moderated("block"), None, "x")
    receiver.wait(lambda r: len(r.requests) >= 2 and r.requests[-1].status == 200)
    assert {r.headers["Idempotency-Key"] for r in receiver.requests} == {alert_id}


def test_a_permanent_refusal_is_given_up(alerter: Alerter, receiver: Receiver) -> None:
    receiver.then(404)
    alerter.record(moderated("block"), None, "x")
    receiver.wait(lambda r: len(r.requests) == 1)
    all_sent(alerter)
    assert len(receiver.requests) == 1


def test_several_senders_share_the_outbox_without_sending_twice(
    alerter: Alerter, receiver: Receiver, alert_backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("redis_url") if alert_backend == "redis" else None
    # A lease far longer than any stall of a busy machine: a lapsed lease is sent twice by design (at least once).
    alerter = with_settings(alerter, lease_seconds=600)
    receiver.then(200, times=40, delay=0.01)
    ids = [alerter.record(moderated("block"), None, "x")[0] for _ in range(40)]
    others = [Alerter(alerter.settings, open_test_store_again(alert_backend, tmp_path, url)) for _ in range(2)]
    try:
        for other in others:
            other.start()
        receiver.wait(lambda r: len(r.accepted()) >= 40)
        all_sent(alerter)
    finally:
        for other in others:
            other.stop()
    assert Counter(r.headers["Idempotency-Key"] for r in receiver.requests) == Counter(ids)


def open_test_store_again(kind: str, tmp_path: Path, redis_url: str | None) -> Store:
    """Another connection to the same store (not flushed)."""
    from hatespeech.alerts.redis_store import RedisStore
    from hatespeech.alerts.sqlite_store import SQLiteStore

    return SQLiteStore(tmp_path / "alerts.sqlite3") if kind == "sqlite" else RedisStore(redis_url or "")


PROCESS = """
import json, sys
from hatespeech.alerts import Alerter
from hatespeech.config import AlertSettings
from testing.alerting import moderated

alerter = Alerter(AlertSettings.from_env(json.loads(sys.argv[1])))
if sys.argv[2] == "record":
    ids = [alerter.record(moderated("block"), {"id": f"p{i}"}, "x")[0] for i in range(5)]
    print(json.dumps(ids), flush=True)
else:
    alerter.start()
sys.stdin.read()  # live until the test ends this process (or itself ends: EOF)
"""


def test_alerts_pending_at_kill_9_are_delivered_after_a_restart(
    alert_backend: str, store: Store, receiver: Receiver, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("redis_url") if alert_backend == "redis" else None
    env = alert_env(receiver.url + "/hook", alert_backend, tmp_path, url)
    receiver.then(503, times=10_000)  # down
    argv = [sys.executable, "-c", PROCESS, json.dumps(env)]
    first = subprocess.Popen([*argv, "record"], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        ids = json.loads(first.stdout.readline())  # type: ignore[union-attr]
        receiver.wait(lambda r: len(r.requests) >= 3)  # the sender is retrying
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.communicate(timeout=10)
    assert store.pending() == 5
    receiver.plan.clear()  # up again
    second = subprocess.Popen([*argv, "send"], cwd=ROOT, stdin=subprocess.PIPE)
    try:
        receiver.wait(lambda r: len(r.accepted()) == 5, timeout=60)
    finally:
        second.terminate()
        second.communicate(timeout=30)
    assert sorted(r.headers["Idempotency-Key"] for r in receiver.accepted()) == sorted(ids)


def test_a_broken_store_never_fails_the_request(tmp_path: Path) -> None:
    from hatespeech.alerts.sqlite_store import SQLiteStore

    (tmp_path / "dir").mkdir()
    a = Alerter(fast_settings(("http://127.0.0.1:9/hook",)), SQLiteStore(tmp_path / "dir"))  # a directory
    assert a.record(moderated("block"), {"thread": "t"}, "x") == []
    a.stop()


def test_the_module_level_alerter_is_off_until_configured() -> None:
    assert alerts.record(moderated("block"), None, "x") == []


# ------------------------------------------------------------------------------ escaping, limits


def test_user_text_cannot_ping_or_inject_markup_in_slack() -> None:
    alert = _message_alert(post={"id": "<!channel>", "author": "@here *boss*", "url": "https://e.example/a|b>c"})
    body = json.loads(render("slack", alert, NASTY))
    dumped = json.dumps(body, ensure_ascii=False)
    for ping in ("<!channel>", "<!here>", "<@U123>", "<@&42>", "@everyone", "@here"):
        assert ping not in dumped
    for block in body["blocks"]:
        for obj in [block.get("text"), *block.get("fields", []), *block.get("elements", [])]:
            if obj and obj["type"] == "mrkdwn":
                assert "boss" not in obj["text"] and "channel" not in obj["text"]  # user content is plain_text
    assert "https://e.example/a%7Cb%3Ec|Open the post" in dumped  # the link cannot be ended early


def test_user_text_cannot_ping_or_inject_markup_in_discord() -> None:
    alert = _message_alert(post={"id": "[x](http://evil)", "author": "@everyone", "url": "https://e.example/a>b"})
    body = json.loads(render("discord", alert, NASTY))
    assert body["allowed_mentions"] == {"parse": []}
    content = body["content"]
    assert "@everyone" not in content and "@here" not in content and "<@U123>" not in content
    head, _, code = content.partition("```\n")
    assert "Post: \\[x\\]\\(http\\://evil\\)" in head and "Author: @\u200beveryone" in head
    assert code.count("```") == 1  # only the closing fence: the text's ``` cannot end the block
    assert "<https://e.example/a%3Eb>" in head


def test_texts_are_cut_to_each_platforms_limits() -> None:
    alert, text = _message_alert(), "w" * 10_000
    discord = json.loads(render("discord", alert, text))
    assert len(discord["content"]) <= 2000 and discord["content"].endswith("…\n```")
    slack = json.loads(render("slack", alert, text))
    assert all(len(b["text"]["text"]) <= 3000 for b in slack["blocks"] if "text" in b)
    assert any(b.get("text", {}).get("text", "").endswith("…") for b in slack["blocks"])


def _message_alert(**changes: object) -> dict:
    alert = {
        "type": "message",
        "id": "a1",
        "created": "2026-01-01T00:00:00.000Z",
        "thread": "t1",
        "post": {"id": "p1", "author": None, "url": None},
        "label": "hate speech",
        "action": "block",
        "flagged": True,
        "scores": {"hate speech": 0.9, "offensive language": 0.05, "neither": 0.05},
        "model": {"version": "1.0.0", "sha256": "ab" * 32},
    }
    return {**alert, **changes}


# ------------------------------------------------------------------------------ signatures


def test_a_signature_verifies_and_a_tampered_or_replayed_body_fails() -> None:
    body = render("json", _message_alert(), "text")
    header = sign(body, SECRET)
    assert verify(body, header, SECRET)
    with pytest.raises(InvalidSignature, match="does not match"):
        verify(body.replace(b"block", b"allow"), header, SECRET)
    with pytest.raises(InvalidSignature, match="does not match"):
        verify(body, header, "another secret")
    old = sign(body, SECRET, timestamp=int(time.time()) - 301)
    with pytest.raises(InvalidSignature, match="away from now"):
        verify(body, old, SECRET)
    with pytest.raises(InvalidSignature, match="no timestamp"):
        verify(body, "v1=abc", SECRET)


# ------------------------------------------------------------------------------ context


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"id": True}, "id must be a string or a whole number, not a boolean"),
        ({"thread": 1.5}, "thread must be a string or a whole number, not a number"),
        ({"author": ""}, "author must not be empty"),
        ({"id": "x" * 201}, "id is 201 characters long; the maximum is 200"),
        ({"thread": "a\nb"}, "thread must not contain control characters"),
        ({"url": "javascript:alert(1)"}, "url must be an absolute http:// or https:// link"),
        ({"url": "https://e.example/a b"}, "url must not contain spaces"),
        ({"url": ["https://e.example"]}, "url must be a string, not an array"),
    ],
)
def test_bad_context_is_a_clear_400(fields: dict, error: str) -> None:
    with pytest.raises(InvalidContext, match=error.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        Context.check(**fields)
    assert issubclass(InvalidContext, ValueError)  # web.bad_input_is_400 turns it into a 400


def test_context_is_optional_and_ids_may_be_numbers() -> None:
    assert Context.check() == Context()
    assert Context.check(id=7, thread=12).as_dict() == {"id": "7", "thread": "12"}
    assert Context.from_mapping({"url": "http://e.example/x"}).url == "http://e.example/x"
