"""Discourse against its stand-in (testing/standins.py), through the real server.

Shapes from discourse/discourse: app/jobs/regular/emit_web_hook_event.rb (body, headers,
``X-Discourse-Event-Signature``), app/serializers/web_hook_post_serializer.rb (the post),
app/controllers/post_actions_controller.rb (``id``, ``post_action_type_id``, ``message``),
PostActionType.types (4 inappropriate, 7 notify_moderators), config/initializers/
012-web_hook_events.rb and app/models/web_hook.rb (reviewable events),
app/serializers/reviewable_serializer.rb and reviewable_flagged_post_serializer.rb,
app/models/reviewable.rb (statuses), app/serializers/web_hook_flag_serializer.rb (older flags).
"""

from __future__ import annotations

import json

from testing.standins import (
    ABUSIVE,
    CLEAN,
    DISCOURSE_KEY,
    REVIEW,
    SECRETS,
    TOKEN,
    Discourse,
    discourse_post,
    discourse_reviewable,
    feedback_rows,
    stored_feedback,
    wait_outbox_empty,
)
from testing.support import Server, post_json, request


def url(server: Server) -> str:
    return server.url + "/integrations/discourse"


def calls_for(discourse: Discourse, post_id: int) -> list[dict]:
    return [c.json() for c in discourse.calls if c.path.startswith("/post_actions") and c.json()["id"] == post_id]


def test_a_ping_is_answered(boards: Server, discourse: Discourse) -> None:
    assert discourse.webhook(url(boards), "ping", None) == (200, {"ping": "OK"})


def test_a_signed_abusive_post_is_flagged_once_with_the_api_key(boards: Server, discourse: Discourse) -> None:
    status, reply = discourse.webhook(url(boards), "post_created", discourse_post(101, ABUSIVE))
    assert status == 200
    assert reply == {
        "event": "post_created",
        "label": "offensive language",
        "action": "block",
        "flag": {"post_action_type_id": 4, "queued": True},
    }
    discourse.wait(lambda d: len(d.flags_of(101)) == 1)
    (call,) = [c for c in discourse.calls if c.path == "/post_actions"]
    assert call.headers["Api-Key"] == DISCOURSE_KEY and call.headers["Api-Username"] == "system"
    params = call.json()
    assert params["id"] == 101 and params["post_action_type_id"] == 4
    assert "offensive language (block)" in params["message"] and "bitch" in params["message"]


def test_a_post_for_review_notifies_the_moderators(boards: Server, discourse: Discourse) -> None:
    status, reply = discourse.webhook(url(boards), "post_created", discourse_post(102, REVIEW))
    assert status == 200 and reply["action"] == "review"
    discourse.wait(lambda d: len(d.flags_of(102)) == 1)
    (flag,) = discourse.flags_of(102)
    assert flag["post_action_type_id"] == 7 and "Scores:" in flag["message"]  # a message flag: with its message


def test_clean_unsigned_forged_and_replayed_posts_make_no_call(boards: Server, discourse: Discourse) -> None:
    assert discourse.webhook(url(boards), "post_created", discourse_post(201, CLEAN))[1]["flag"] is None
    status, reply = discourse.webhook(url(boards), "post_created", discourse_post(202, ABUSIVE), secret=None)
    assert status == 401 and "X-Discourse-Event-Signature" in reply["error"]
    forged_secret = discourse.webhook(url(boards), "post_created", discourse_post(203, ABUSIVE), secret="not-it")
    assert forged_secret[0] == 401
    # signed, then changed on the way: the signature is over the bytes
    body = json.dumps({"post": discourse_post(203, CLEAN)}).encode()
    forged = body.replace(CLEAN.encode(), ABUSIVE.encode())
    assert discourse.webhook(url(boards), "post_created", None, body=forged, secret=None)[0] == 401

    first = discourse.webhook(url(boards), "post_created", discourse_post(204, ABUSIVE))[1]
    again = discourse.webhook(url(boards), "post_created", discourse_post(204, ABUSIVE))[1]  # Discourse's retry
    edited = discourse.webhook(url(boards), "post_edited", discourse_post(204, ABUSIVE + "!!"))[1]
    assert first["flag"]["queued"]
    assert again == {"ignored": "already handled (the same post and text)"}  # not even scored again
    assert edited["event"] == "post_edited" and edited["flag"] == {"post_action_type_id": 4, "queued": False}

    wait_outbox_empty(boards.tmp / "alerts.sqlite3")  # type: ignore[attr-defined]
    assert [calls_for(discourse, p) for p in (201, 202, 203)] == [[], [], []]
    assert len(calls_for(discourse, 204)) == 1


def test_an_edit_that_makes_a_post_abusive_flags_it(boards: Server, discourse: Discourse) -> None:
    assert discourse.webhook(url(boards), "post_created", discourse_post(205, CLEAN))[1]["flag"] is None
    reply = discourse.webhook(url(boards), "post_edited", discourse_post(205, ABUSIVE))[1]
    assert reply["event"] == "post_edited" and reply["flag"]["queued"]
    discourse.wait(lambda d: len(d.flags_of(205)) == 1)


def test_a_quote_of_another_post_is_not_the_authors_own(boards: Server, discourse: Discourse) -> None:
    raw = f'[quote="bob, post:1, topic:7"]\n{ABUSIVE}\n[/quote]\n\nPlease keep it civil, everyone.'
    assert discourse.webhook(url(boards), "post_created", discourse_post(206, raw))[1]["action"] == "review"
    discourse.wait(lambda d: len(d.flags_of(206)) == 1)  # delivered before the next test scripts the API's answers


def test_the_api_down_then_back_is_retried_until_it_takes_the_flag(boards: Server, discourse: Discourse) -> None:
    def for_301(path: str, body: bytes) -> bool:  # a flag of an earlier test's post may still be on its way
        return path == "/post_actions" and json.loads(body)["id"] == 301

    discourse.then(503, times=2, match=for_301)
    discourse.then(429, headers={"Retry-After": "1"}, match=for_301)
    status, reply = discourse.webhook(url(boards), "post_created", discourse_post(301, ABUSIVE))
    assert status == 200 and reply["flag"]["queued"]  # answered at once: the flag waits in the outbox
    discourse.wait(lambda d: len(d.flags_of(301)) == 1)
    attempts = [c for c in discourse.calls if c.path == "/post_actions" and c.json()["id"] == 301]
    assert [c.status for c in attempts] == [503, 503, 429, 200]
    assert len({c.headers["Idempotency-Key"] for c in attempts}) == 1  # one call, attempted four times
    assert attempts[3].at - attempts[2].at >= 0.9  # not before Retry-After (the backoff alone is ≤ 0.2 s)


def test_moderators_decisions_become_feedback(boards: Server, discourse: Discourse) -> None:
    hook = url(boards)
    for post_id, text in ((401, ABUSIVE), (402, REVIEW)):
        discourse.webhook(hook, "post_created", discourse_post(post_id, text))
        discourse.wait(lambda d, p=post_id: len(d.flags_of(p)) == 1)

    agreed = discourse_reviewable(401, ABUSIVE, "approved")
    assert discourse.webhook(hook, "reviewable_transitioned_to", agreed) == (200, {"feedback": "offensive language"})
    assert discourse.webhook(hook, "reviewable_transitioned_to", agreed)[1] == {"feedback": "offensive language"}
    disagreed = discourse_reviewable(402, REVIEW, 2, reviewable_id=91)  # the status as a number
    assert discourse.webhook(hook, "reviewable_updated", disagreed) == (200, {"feedback": "neither"})
    pending = discourse_reviewable(402, REVIEW, "pending", reviewable_id=91)
    assert "ignored" in discourse.webhook(hook, "reviewable_created", pending)[1]
    never_flagged = discourse_reviewable(499, ABUSIVE, "approved", reviewable_id=92)
    assert discourse.webhook(hook, "reviewable_transitioned_to", never_flagged)[1] == {
        "ignored": "not a post we flagged"
    }

    rows = feedback_rows(boards.tmp / "feedback.sqlite3")  # type: ignore[attr-defined]
    mine = sorted(r for r in rows if r[2] == "discourse")
    assert mine == [(ABUSIVE, "offensive language", "discourse", "401"), (REVIEW, "neither", "discourse", "402")]


def test_older_discourse_flag_events_become_feedback(boards: Server, discourse: Discourse) -> None:
    hook = url(boards)
    discourse.webhook(hook, "post_created", discourse_post(403, ABUSIVE))
    discourse.wait(lambda d: len(d.flags_of(403)) == 1)
    flag = {
        "id": 77,
        "post": {"id": 403, "username": "alice", "cooked": f"<p>{ABUSIVE}</p>"},
        "flag_type": "inappropriate",
        "created_by": "system",
        "created_at": "2026-11-27T12:00:05.000Z",
        "resolved_at": "2026-11-27T12:30:00.000Z",
        "resolved_by": "mod_mia",
    }
    assert discourse.webhook(hook, "flag_agreed", flag) == (200, {"feedback": "offensive language"})
    someone_elses = {**flag, "created_by": "carol"}
    assert discourse.webhook(hook, "flag_disagreed", someone_elses)[1] == {"ignored": "not our flag"}


def test_other_events_and_bad_bodies(boards: Server, discourse: Discourse) -> None:
    assert discourse.webhook(url(boards), "topic_created", {"id": 7}) == (200, {"ignored": "topic_created"})
    status, reply = discourse.webhook(url(boards), "post_created", None, body=b"[1, 2")
    assert status == 400 and "JSON" in reply["error"]
    status, _, _ = request(url(boards), method="GET")
    assert status == 405


def test_no_secret_reaches_the_log(boards: Server) -> None:
    log = boards.output()
    assert "/integrations/discourse" in log  # the requests were logged…
    assert not [s for s in SECRETS if s in log]  # …without a secret, key or token


def _queued(server: Server, thread: str) -> list[dict]:
    status, _, body = request(
        server.url + "/review/queue?thread=" + thread, headers={"Authorization": f"Token {TOKEN}"}, method="GET"
    )
    assert status == 200, body
    return json.loads(body)["posts"]


def _label_on_the_page(server: Server, post: dict, label: str) -> None:
    """What review.js sends when a moderator labels ``post``: its feedback_key, as the server named it."""
    key = post["feedback_key"]
    status, _ = post_json(
        server.url + "/feedback",
        {"text": post["text"], "label": label, "id": key["id"], "source": key["source"]},
        {"Authorization": f"Token {TOKEN}"},
    )
    assert status == 201


def test_the_review_pages_label_is_kept_beside_discourses_and_the_newest_decides(
    boards: Server, discourse: Discourse
) -> None:
    """A post's label from the review page (the token) and its Discourse reviewable (the signed webhook) are
    two rows, neither overwriting the other; training learns the newest. (Until origins were recorded they
    were one row, the last write winning: then the token could overwrite a board's decision.)"""
    hook, db = url(boards), boards.tmp / "feedback.sqlite3"  # type: ignore[attr-defined]
    for post_id in (601, 602):
        discourse.webhook(hook, "post_created", discourse_post(post_id, ABUSIVE, topic_id=60))
        discourse.wait(lambda d, p=post_id: len(d.flags_of(p)) == 1)
    queued = {p["id"]: p for p in _queued(boards, "discourse:60")}
    assert set(queued) == {"discourse:601", "discourse:602"}
    assert queued["discourse:601"]["feedback_key"] == {"source": "discourse", "id": "601"}

    # 601: the page first, then Discourse's moderators disagree: theirs is newest
    _label_on_the_page(boards, queued["discourse:601"], "hate speech")
    assert {p["id"]: p["feedback"] for p in _queued(boards, "discourse:60")}["discourse:601"] == "hate speech"
    disagreed = discourse_reviewable(601, ABUSIVE, "rejected", reviewable_id=93)
    assert discourse.webhook(hook, "reviewable_transitioned_to", disagreed) == (200, {"feedback": "neither"})
    # 602: Discourse first (agreed: the flag's label), then the page: the page's is newest
    agreed = discourse_reviewable(602, ABUSIVE, "approved", reviewable_id=94)
    assert discourse.webhook(hook, "reviewable_transitioned_to", agreed) == (200, {"feedback": "offensive language"})
    labels = {p["id"]: p["feedback"] for p in _queued(boards, "discourse:60")}
    assert labels == {"discourse:601": "neither", "discourse:602": "offensive language"}  # the board's, shown
    _label_on_the_page(boards, queued["discourse:602"], "hate speech")

    rows = {(r.id, r.origin): r.label for r in stored_feedback(db) if r.id in ("601", "602")}
    assert rows == {
        ("601", "token"): "hate speech",
        ("601", "discourse-webhook"): "neither",
        ("602", "discourse-webhook"): "offensive language",
        ("602", "token"): "hate speech",
    }
    decided = {r.id: r.label for r in stored_feedback(db, decisions=True) if r.id in ("601", "602")}
    assert decided == {"601": "neither", "602": "hate speech"}
    labels = {p["id"]: p["feedback"] for p in _queued(boards, "discourse:60")}
    assert labels == {"discourse:601": "neither", "discourse:602": "hate speech"}


def test_a_replayed_older_decision_never_overrides_a_newer_one(boards: Server, discourse: Discourse) -> None:
    """A signed "approved" captured earlier and replayed after "rejected" changes nothing: a reviewable's
    version counts its changes, an older flag event's ``resolved_at`` is older."""
    hook, db = url(boards), boards.tmp / "feedback.sqlite3"  # type: ignore[attr-defined]
    for post_id in (611, 612):
        discourse.webhook(hook, "post_created", discourse_post(post_id, ABUSIVE, topic_id=61))
        discourse.wait(lambda d, p=post_id: len(d.flags_of(p)) == 1)
    approved = discourse_reviewable(611, ABUSIVE, "approved", reviewable_id=95, version=2)
    rejected = discourse_reviewable(611, ABUSIVE, "rejected", reviewable_id=95, version=3)
    assert discourse.webhook(hook, "reviewable_transitioned_to", approved)[1] == {"feedback": "offensive language"}
    assert discourse.webhook(hook, "reviewable_transitioned_to", rejected)[1] == {"feedback": "neither"}
    replayed = discourse.webhook(hook, "reviewable_transitioned_to", approved)
    assert replayed == (200, {"feedback": None, "ignored": "a newer decision on this post is stored"})

    flag = {
        "id": 78,
        "post": {"id": 612, "username": "alice", "cooked": f"<p>{ABUSIVE}</p>"},
        "flag_type": "inappropriate",
        "created_by": "system",
        "created_at": "2026-11-27T12:00:05.000Z",
        "resolved_by": "mod_mia",
    }
    agreed_first = {**flag, "resolved_at": "2026-11-27T12:30:00.000Z"}
    disagreed_later = {**flag, "resolved_at": "2026-11-27T12:45:00.000Z"}
    assert discourse.webhook(hook, "flag_agreed", agreed_first)[1] == {"feedback": "offensive language"}
    assert discourse.webhook(hook, "flag_disagreed", disagreed_later)[1] == {"feedback": "neither"}
    assert discourse.webhook(hook, "flag_agreed", agreed_first)[1]["feedback"] is None

    decided = {r.id: r.label for r in stored_feedback(db, decisions=True) if r.id in ("611", "612")}
    assert decided == {"611": "neither", "612": "neither"}
