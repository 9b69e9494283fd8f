"""Coral Talk against its stand-in, through the real server.

Shapes from coralproject/talk: server/src/core/server/services/comments/pipeline/phases/external.ts
(request, reply with ``actions`` and ``status``, 204), services/fetch/fetch.ts (pretty-printed
body, ``X-Coral-Signature``), models/settings/signingSecret/helpers.ts (one ``sha256=`` per active
secret, comma-separated), services/perspective/perspective.ts (``comments:analyze`` with
``languages`` and ``doNotStore``; ``comments:suggestscore`` from sendFeedback; ``?key=``).
"""

from __future__ import annotations

import re

from testing.standins import ABUSIVE, CLEAN, CORAL_SECRET, REVIEW, SECRETS, TOKEN, Coral, feedback_rows
from testing.support import Server, request

FLAG = {"actionType": "FLAG", "reason": "COMMENT_DETECTED_TOXIC"}


def url(server: Server) -> str:
    return server.url + "/integrations/coral"


def test_an_abusive_comment_is_flagged_and_withheld(boards: Server) -> None:
    status, reply = Coral().moderate(url(boards), Coral.request(f"<p>{ABUSIVE}</p>"))
    assert (status, reply) == (200, {"actions": [FLAG], "status": "SYSTEM_WITHHELD"})


def test_a_comment_for_review_is_flagged_only(boards: Server) -> None:
    assert Coral().moderate(url(boards), Coral.request(REVIEW)) == (200, {"actions": [FLAG]})


def test_a_clean_comment_is_answered_204(boards: Server) -> None:
    assert Coral().moderate(url(boards), Coral.request(f"<p>{CLEAN}</p>")) == (204, None)
    quoting = f"<blockquote><p>{CLEAN}</p></blockquote><p>Agreed, see you there.</p>"
    assert Coral().moderate(url(boards), Coral.request(quoting)) == (204, None)


def test_an_edit_is_moderated_again(boards: Server) -> None:
    assert Coral().moderate(url(boards), Coral.request(ABUSIVE, "EDIT"))[1]["actions"] == [FLAG]


def test_unsigned_and_forged_comments_are_refused(boards: Server) -> None:
    status, reply = Coral().moderate(url(boards), Coral.request(ABUSIVE), signature="")
    assert status == 401 and "X-Coral-Signature" in reply["error"]
    assert Coral(secrets=("ems_not-our-secret-123456",)).moderate(url(boards), Coral.request(ABUSIVE))[0] == 401
    assert Coral().moderate(url(boards), Coral.request(ABUSIVE), signature="sha256=" + "0" * 64)[0] == 401


def test_while_a_secret_rotates_any_one_signature_may_match(boards: Server) -> None:
    rotating = Coral(secrets=("ems_the-old-secret-being-retired", CORAL_SECRET))
    assert rotating.moderate(url(boards), Coral.request(ABUSIVE))[0] == 200


def test_bad_requests_are_400(boards: Server) -> None:
    status, reply = Coral().moderate(url(boards), {"action": "DELETE", "comment": {"body": "x"}})
    assert status == 400 and "action" in reply["error"]


def test_corals_perspective_analyze_request_is_answered(boards: Server) -> None:
    status, reply = Coral.perspective(boards.url, "comments:analyze", TOKEN, Coral.analyze_body(ABUSIVE))
    assert status == 200, reply
    assert reply["attributeScores"]["TOXICITY"]["summaryScore"]["value"] > 0.5
    assert Coral.perspective(boards.url, "comments:analyze", "wrong-key", Coral.analyze_body(ABUSIVE))[0] == 403


def test_suggestscore_stores_the_moderators_decision_as_feedback(boards: Server) -> None:
    db = boards.tmp / "feedback.sqlite3"  # type: ignore[attr-defined]
    rejected = Coral.suggest_body(ABUSIVE, "c-1", approved=False)
    status, reply = Coral.perspective(boards.url, "comments:suggestscore", TOKEN, rejected)
    assert (status, reply) == (
        200,
        {"detectedLanguages": ["en"], "requestedLanguages": ["en"], "clientToken": "comment:c-1"},
    )
    # stored under the comment's own id, as every board's posts are (integrations/common.py)
    assert [r for r in feedback_rows(db) if r[3] == "c-1"] == [(ABUSIVE, "offensive language", "coral", "c-1")]

    hate = Coral.suggest_body(ABUSIVE, "c-2", approved=False)
    hate["attributeScores"]["IDENTITY_ATTACK"] = {"summaryScore": {"value": 1}}
    assert Coral.perspective(boards.url, "comments:suggestscore", TOKEN, hate)[0] == 200

    # the moderator changes their mind: the label is replaced, not added
    approved = Coral.suggest_body(ABUSIVE, "c-1", approved=True)
    assert Coral.perspective(boards.url, "comments:suggestscore", TOKEN, approved)[0] == 200
    labels = {r[3]: r[1] for r in feedback_rows(db) if r[2] == "coral"}
    assert labels == {"c-1": "neither", "c-2": "hate speech"}


def test_suggestscore_needs_the_key_and_a_well_formed_body(boards: Server) -> None:
    body = Coral.suggest_body(ABUSIVE, "c-3", approved=False)
    assert Coral.perspective(boards.url, "comments:suggestscore", "wrong-key", body)[0] == 403
    body["attributeScores"] = {"TOXICITY": {"summaryScore": {"value": 7}}}
    status, reply = Coral.perspective(boards.url, "comments:suggestscore", TOKEN, body)
    assert status == 400 and "summaryScore.value" in reply["error"]["message"]


def test_no_secret_reaches_the_log(boards: Server) -> None:
    log = boards.output()
    assert "/integrations/coral" in log and not [s for s in SECRETS if s in log]


def _decisions(server: Server) -> float:
    """How many texts the server has counted as decided (its metrics, every worker together)."""
    status, _, text = request(server.url + "/metrics", headers={"Authorization": f"Token {TOKEN}"}, method="GET")
    assert status == 200
    found = re.findall(r"^hatespeech_decisions_total\{[^}]*\} ([0-9.e+]+)$", text, re.MULTILINE)
    return sum(float(n) for n in found)


def test_a_replayed_comment_gets_its_answer_each_time_and_is_recorded_once(boards: Server) -> None:
    """Coral's request has no comment id: five deliveries of the same signed body (a replay, or retries) are
    answered alike, and recorded (the alerts' windows, the metrics) once, not as five posts."""
    before = _decisions(boards)
    body = Coral.request(ABUSIVE, story="story-replayed", author="user-replay")
    answers = [Coral().moderate(url(boards), body) for _ in range(5)]
    assert answers == [(200, {"actions": [FLAG], "status": "SYSTEM_WITHHELD"})] * 5
    assert _decisions(boards) == before + 1
    other_author = Coral.request(ABUSIVE, story="story-replayed", author="user-other")
    assert Coral().moderate(url(boards), other_author)[0] == 200
    assert _decisions(boards) == before + 2
