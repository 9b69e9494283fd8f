"""A full outbox never drops a board's call (issue 23 item 5): a new one is refused with 503 (the board
retries) and the operator is told; every post is flagged once Discourse takes the calls again."""

from __future__ import annotations

from pathlib import Path

from testing.standins import ABUSIVE, Discourse, Mastodon, board_env, discourse_post, pending_calls
from testing.support import gunicorn

OUTBOX_MAX = 10  # ALERT_OUTBOX_MAX's minimum


def test_with_the_outbox_full_nothing_is_dropped(tmp_path: Path) -> None:
    discourse, mastodon = Discourse(), Mastodon()
    env = board_env(tmp_path, discourse, mastodon, ALERT_OUTBOX_MAX=str(OUTBOX_MAX))
    discourse.then(503, times=100_000)  # Discourse is down: every flag waits in the outbox
    posts = [9301 + i for i in range(OUTBOX_MAX + 3)]
    try:
        with gunicorn(tmp_path, **env) as server:
            server.wait_ready()
            hook = server.url + "/integrations/discourse"
            first = {p: discourse.webhook(hook, "post_created", discourse_post(p, ABUSIVE)) for p in posts}
            queued = [p for p, (status, body) in first.items() if status == 200 and body["flag"]["queued"]]
            refused = [p for p, (status, _) in first.items() if status == 503]
            assert queued == posts[:OUTBOX_MAX] and refused == posts[OUTBOX_MAX:]
            assert '"alerts": "outbox_full"' in server.output()  # an error-level line for the operator
            assert pending_calls(tmp_path / "alerts.sqlite3") == OUTBOX_MAX  # none of the queued ones evicted
            with discourse.lock:
                discourse.plan.clear()  # Discourse is back: the outbox drains
            discourse.wait(lambda d: all(len(d.flags_of(p)) == 1 for p in queued))
            for p in refused:  # Discourse's own retry of what answered 503
                status, body = discourse.webhook(hook, "post_created", discourse_post(p, ABUSIVE))
                assert status == 200 and body["flag"]["queued"], body
            discourse.wait(lambda d: all(len(d.flags_of(p)) == 1 for p in posts))
    finally:
        discourse.close()
        mastodon.close()
