"""Mastodon against its stand-in, through the real server.

Shapes from mastodon/mastodon: app/workers/webhooks/delivery_worker.rb (``X-Hub-Signature``),
app/services/webhook_service.rb and app/serializers/rest/admin/webhook_event_serializer.rb
(``{"event", "created_at", "object"}``), app/models/webhook.rb (status.created, status.updated),
app/controllers/api/v1/reports_controller.rb (``account_id``, ``status_ids[]``, ``comment``,
``category``, ``forward``; ``write:reports``), app/models/report.rb (comment ≤ 1,000 characters).
"""

from __future__ import annotations

import json

from testing.standins import (
    ABUSIVE,
    CLEAN,
    MASTODON_TOKEN,
    SECRETS,
    TOKEN,
    Mastodon,
    mastodon_status,
    wait_outbox_empty,
)
from testing.support import Server, request


def url(server: Server) -> str:
    return server.url + "/integrations/mastodon"


def reports_for(mastodon: Mastodon, status_id: str, accepted_only: bool = True) -> list[dict]:
    calls = mastodon.accepted("/api/v1/reports") if accepted_only else mastodon.calls
    return [c.json() for c in calls if status_id in c.json().get("status_ids", [])]


def test_an_abusive_status_is_reported_once_with_the_token(boards: Server, mastodon: Mastodon) -> None:
    status, reply = mastodon.webhook(url(boards), "status.created", mastodon_status("1001", f"<p>{ABUSIVE}</p>"))
    assert status == 200
    assert reply == {
        "event": "status.created",
        "label": "offensive language",
        "action": "block",
        "report": {"queued": True},
    }
    mastodon.wait(lambda m: len(reports_for(m, "1001")) == 1)
    (call,) = [c for c in mastodon.calls if "1001" in c.json()["status_ids"]]
    assert call.headers["Authorization"] == f"Bearer {MASTODON_TOKEN}"
    report = call.json()
    assert report["account_id"] == "1093" and report["status_ids"] == ["1001"]
    assert report["category"] == "other" and report["forward"] is False
    assert "offensive language (block)" in report["comment"] and len(report["comment"]) <= 1000


def test_clean_unsigned_and_updated_statuses_make_no_new_report(boards: Server, mastodon: Mastodon) -> None:
    assert (
        mastodon.webhook(url(boards), "status.created", mastodon_status("2001", f"<p>{CLEAN}</p>"))[1]["report"] is None
    )
    status, reply = mastodon.webhook(url(boards), "status.created", mastodon_status("2002", ABUSIVE), secret=None)
    assert status == 401 and "X-Hub-Signature" in reply["error"]
    assert (
        mastodon.webhook(url(boards), "status.created", mastodon_status("2003", ABUSIVE), secret="nope-nope-nope")[0]
        == 401
    )
    first = mastodon.webhook(url(boards), "status.created", mastodon_status("2004", ABUSIVE))[1]
    updated = mastodon.webhook(url(boards), "status.updated", mastodon_status("2004", ABUSIVE + " again"))[1]
    replayed = mastodon.webhook(url(boards), "status.created", mastodon_status("2004", ABUSIVE))[1]
    assert first["report"]["queued"] and updated["report"] == {"queued": False}
    assert replayed == {"ignored": "already handled (the same status and text)"}
    wait_outbox_empty(boards.tmp / "alerts.sqlite3")  # type: ignore[attr-defined]
    assert [reports_for(mastodon, s, accepted_only=False) for s in ("2001", "2002", "2003")] == [[], [], []]
    assert len(reports_for(mastodon, "2004", accepted_only=False)) == 1


def test_other_events_are_acknowledged(boards: Server, mastodon: Mastodon) -> None:
    status, reply = mastodon.webhook(url(boards), "account.created", {"id": "5"})  # type: ignore[arg-type]
    assert (status, reply) == (200, {"ignored": "account.created"})


def test_the_api_down_then_back_is_retried(boards: Server, mastodon: Mastodon) -> None:
    mastodon.then(502, times=2, match=lambda path, body: "3001" in json.loads(body).get("status_ids", []))
    assert mastodon.webhook(url(boards), "status.created", mastodon_status("3001", ABUSIVE))[1]["report"]["queued"]
    mastodon.wait(lambda m: len(reports_for(m, "3001")) == 1)
    assert [c.status for c in mastodon.calls if "3001" in c.json()["status_ids"]] == [502, 502, 200]


def test_no_secret_reaches_the_log(boards: Server) -> None:
    log = boards.output()
    assert "/integrations/mastodon" in log and not [s for s in SECRETS if s in log]


def test_a_queued_status_is_labelled_under_mastodons_name(boards: Server, mastodon: Mastodon) -> None:
    """The review queue has it as ``mastodon:<status id>``; the page labels it (mastodon, <status id>)."""
    assert mastodon.webhook(url(boards), "status.created", mastodon_status("1501", f"<p>{ABUSIVE}</p>"))[0] == 200
    status, _, body = request(
        boards.url + "/review/queue?thread=mastodon:1501", headers={"Authorization": f"Token {TOKEN}"}, method="GET"
    )
    assert status == 200, body
    (post,) = json.loads(body)["posts"]
    assert post["id"] == "mastodon:1501" and post["feedback_key"] == {"source": "mastodon", "id": "1501"}
