"""The Dockerfile's CMD, tried as the platforms would: real server, stand-ins for the boards.

The image's own command line and environment (read from the Dockerfile: nginx in front of
gunicorn), with the state paths moved to a temporary folder, alert webhooks ON this time (the
other tests run without them), and every integration configured.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from testing.alerting import SECRET, Receiver
from testing.standins import (
    ABUSIVE,
    CLEAN,
    DISCOURSE_KEY,
    ENCODED,
    HATEFUL,
    MILD,
    TOKEN,
    Coral,
    Discourse,
    Mastodon,
    board_env,
    discourse_post,
    discourse_reviewable,
    feedback_rows,
    stored_feedback,
    wait_outbox_empty,
    weather,
)
from testing.support import BIN, ROOT, Server, free_port, post_json, request


def dockerfile() -> tuple[list[str], dict[str, str]]:
    """The Dockerfile's CMD and ENV."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    (cmd,) = [json.loads(line.split(None, 1)[1]) for line in lines if line.startswith("CMD ")]
    env: dict[str, str] = {}
    for line in lines:
        if line.startswith("ENV "):
            env.update(item.split("=", 1) for item in shlex.split(line.split(None, 1)[1]))
    return cmd, env


@pytest.fixture(scope="module")
def container(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Discourse, Receiver, Path]]:
    tmp = tmp_path_factory.mktemp("container")
    cmd, image_env = dockerfile()
    assert cmd[0] in ("gunicorn", "python")  # nginx + gunicorn through hatespeech.service.launch, or gunicorn alone
    discourse, mastodon, alerts = Discourse(), Mastodon(), Receiver()
    port = free_port()
    env = {
        "PATH": f"{BIN}:/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        **image_env,
        "HOST": "127.0.0.1",  # loopback only here; the image listens on 0.0.0.0
        "PORT": str(port),
        **board_env(tmp, discourse, mastodon),
        "ALERT_WEBHOOK_URL": alerts.url + "/alerts",
        "ALERT_FORMAT": "json",
        "ALERT_SECRET": SECRET,
    }
    server = Server([str(BIN / cmd[0]), *cmd[1:]], env, port, tmp / "container.log")
    try:
        yield server.wait_ready(), discourse, alerts, tmp
    finally:
        server.stop()
        for stand_in in (discourse, mastodon, alerts):
            stand_in.close()


def test_discourse_exactly_one_flag_for_a_hateful_post_none_for_clean_or_unsigned(container: tuple) -> None:
    server, discourse, alerts, tmp = container
    hook = server.url + "/integrations/discourse"
    assert discourse.webhook(hook, "post_created", discourse_post(11, ABUSIVE))[0] == 200
    assert discourse.webhook(hook, "post_created", discourse_post(11, ABUSIVE))[0] == 200  # Discourse's retry
    assert discourse.webhook(hook, "post_created", discourse_post(12, CLEAN))[0] == 200
    assert discourse.webhook(hook, "post_created", discourse_post(13, ABUSIVE), secret=None)[0] == 401
    discourse.wait(lambda d: len(d.flags_of(11)) == 1)
    wait_outbox_empty(tmp / "alerts.sqlite3")
    calls = [c for c in discourse.calls if c.path == "/post_actions"]
    assert [c.json()["id"] for c in calls] == [11]
    assert calls[0].headers["Api-Key"] == DISCOURSE_KEY

    # the same post reached the alerts, with its context
    alerts.wait(lambda r: any(x.json().get("post", {}).get("id") == "discourse:11" for x in r.accepted()))
    wait_outbox_empty(tmp / "alerts.sqlite3")  # every alert delivered too: the retry made no second one
    (alert,) = [x.json() for x in alerts.accepted() if x.json().get("post", {}).get("id") == "discourse:11"]
    assert alert["thread"] == "discourse:7" and alert["post"]["author"] == "alice"
    assert alert["post"]["url"] == f"{discourse.url}/t/weekend-plans/7/2"


def test_a_long_post_passes_nginx(container: tuple) -> None:
    server, discourse = container[0], container[1]
    # ~200 KB with raw + cooked; under the 100,000 characters of one post that are scored (past them: review)
    long_post = discourse_post(14, "Here is my week, day by day. " * 3400)
    status, reply = discourse.webhook(server.url + "/integrations/discourse", "post_created", long_post)
    assert status == 200 and reply["action"] == "allow"  # over MAX_BODY_BYTES (64 KiB), under 1 MiB


def test_what_readers_see_is_scored_all_of_it(container: tuple) -> None:
    """Issue 23's posts, through nginx: each flagged on Discourse, withheld or flagged on Coral; the hateful
    words are `block` alone, and a long clean post whose sentences are only `review` alone is not flagged."""
    server, discourse = container[0], container[1]
    status, reply = discourse.webhook(
        server.url + "/integrations/discourse", "post_created", discourse_post(29, HATEFUL)
    )
    assert status == 200 and reply["action"] == "block"
    padding = {"zero-width": "\u200b" * 10_000, "comment": "<!-- " + weather(12_000) + " -->"}
    attacks = {  # name: (Discourse's raw, Coral's HTML body)
        "quoted": (f"[quote]\n{HATEFUL}\n[/quote]\n\nagreed.", f"<blockquote>{HATEFUL}</blockquote><p>agreed.</p>"),
        "unclosed": (f"[quote]\n{HATEFUL}", f"<p>Hello.</p><blockquote><p>{HATEFUL}"),
        "entity-encoded": (ENCODED, f"<p>{ENCODED}</p>"),
        "zero-width padded": (padding["zero-width"] + HATEFUL, f"<p>{padding['zero-width']}{HATEFUL}</p>"),
        "comment padded": (padding["comment"] + HATEFUL, f"<p>{padding['comment']}{HATEFUL}</p>"),
        "paragraph first": (weather(12_000) + "\n\n" + HATEFUL, f"<p>{weather(12_000)}</p><p>{HATEFUL}</p>"),
        "same paragraph": (weather(12_000) + " " + HATEFUL, f"<p>{weather(12_000)} {HATEFUL}</p>"),
    }
    for i, (name, (raw, body)) in enumerate(attacks.items()):
        post = discourse_post(30 + i, raw)
        status, reply = discourse.webhook(server.url + "/integrations/discourse", "post_created", post)
        assert status == 200 and reply["flag"] is not None, (name, reply)
        status, reply = Coral().moderate(server.url + "/integrations/coral", Coral.request(body))
        assert status == 200 and reply["actions"][0]["actionType"] == "FLAG", (name, reply)
    title_only = discourse_post(40, CLEAN, number=1, title=HATEFUL, topic_id=40)
    status, reply = discourse.webhook(server.url + "/integrations/discourse", "post_created", title_only)
    assert status == 200 and reply["flag"] is not None
    mild = weather(3_000) + " " + " ".join(MILD) + " " + weather(3_000, seed=5)
    status, reply = discourse.webhook(server.url + "/integrations/discourse", "post_created", discourse_post(41, mild))
    assert status == 200 and reply["action"] == "allow" and reply["flag"] is None
    assert Coral().moderate(server.url + "/integrations/coral", Coral.request(f"<p>{mild}</p>")) == (204, None)


def test_coral_hateful_comment_is_flagged_clean_one_204(container: tuple) -> None:
    server = container[0]
    hook = server.url + "/integrations/coral"
    assert Coral().moderate(hook, Coral.request(f"<p>{ABUSIVE}</p>"))[1]["actions"][0]["actionType"] == "FLAG"
    assert Coral().moderate(hook, Coral.request(f"<p>{CLEAN}</p>")) == (204, None)


def test_a_suggestscore_changes_get_feedback(container: tuple) -> None:
    server, tmp = container[0], container[3]
    token = {"Authorization": f"Token {TOKEN}"}

    def counts() -> dict:
        status, _, text = request(server.url + "/feedback", method="GET", headers=token)
        assert status == 200
        return json.loads(text)

    before = counts()
    body = Coral.suggest_body(ABUSIVE, "c-77", approved=False)
    assert Coral.perspective(server.url, "comments:suggestscore", TOKEN, body)[0] == 200
    after = counts()
    assert after["total"] == before["total"] + 1
    assert after["by_label"]["offensive language"] == before["by_label"]["offensive language"] + 1
    assert after["by_source"].get("coral", 0) == before["by_source"].get("coral", 0) + 1
    rows = feedback_rows(tmp / "feedback.sqlite3")
    assert (ABUSIVE, "offensive language", "coral", "c-77") in rows  # the comment's own id (common.py)


def test_feedback_is_as_trusted_as_its_source(container: tuple) -> None:
    """Through the image's command: a stale signed "approved" replayed after "rejected" changes nothing; the
    token's label for the same post is kept beside Discourse's, not over it; the token past its burst gets 429."""
    server, discourse, _, tmp = container
    hook, token = server.url + "/integrations/discourse", {"Authorization": f"Token {TOKEN}"}
    discourse.webhook(hook, "post_created", discourse_post(31, ABUSIVE))
    discourse.wait(lambda d: len(d.flags_of(31)) == 1)
    approved = discourse_reviewable(31, ABUSIVE, "approved", reviewable_id=131, version=2)
    rejected = discourse_reviewable(31, ABUSIVE, "rejected", reviewable_id=131, version=3)
    assert discourse.webhook(hook, "reviewable_transitioned_to", approved)[1] == {"feedback": "offensive language"}
    assert discourse.webhook(hook, "reviewable_transitioned_to", rejected)[1] == {"feedback": "neither"}
    assert discourse.webhook(hook, "reviewable_transitioned_to", approved)[1]["feedback"] is None  # replayed
    overwrite = {"text": ABUSIVE, "label": "hate speech", "source": "discourse", "id": "31"}
    assert post_json(server.url + "/feedback", overwrite, token)[0] == 201
    rows = {(r.id, r.origin): r.label for r in stored_feedback(tmp / "feedback.sqlite3") if r.id == "31"}
    assert rows == {("31", "discourse-webhook"): "neither", ("31", "token"): "hate speech"}
