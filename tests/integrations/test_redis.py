"""The same contract with REDIS_URL set: outbox and once-per-key table in a real redis-server
(several containers share them), as on Heroku."""

from __future__ import annotations

from pathlib import Path

from testing.alerting import flush
from testing.standins import ABUSIVE, Discourse, Mastodon, board_env, discourse_post, mastodon_status
from testing.support import gunicorn


def test_flags_and_reports_go_through_redis_once(
    tmp_path: Path, redis_url: str, discourse: Discourse, mastodon: Mastodon
) -> None:
    flush(redis_url)
    with gunicorn(tmp_path, **board_env(tmp_path, discourse, mastodon), REDIS_URL=redis_url) as server:
        server.wait_ready()
        hook = server.url + "/integrations/discourse"
        assert discourse.webhook(hook, "post_created", discourse_post(9001, ABUSIVE))[1]["flag"]["queued"]
        assert "ignored" in discourse.webhook(hook, "post_created", discourse_post(9001, ABUSIVE))[1]
        status = mastodon_status("9001", ABUSIVE)
        assert mastodon.webhook(server.url + "/integrations/mastodon", "status.created", status)[1]["report"]["queued"]
        discourse.wait(lambda d: len(d.flags_of(9001)) == 1)
        mastodon.wait(lambda m: any("9001" in c.json()["status_ids"] for c in m.accepted("/api/v1/reports")))
    assert not (tmp_path / "alerts.sqlite3").exists()  # nothing went to SQLite
