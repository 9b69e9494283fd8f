"""A flag queued while Discourse is down survives a restart of the service and is delivered after."""

from __future__ import annotations

from pathlib import Path

from testing.standins import ABUSIVE, Discourse, Mastodon, board_env, discourse_post
from testing.support import gunicorn


def test_a_queued_flag_survives_a_restart(tmp_path: Path, discourse: Discourse, mastodon: Mastodon) -> None:
    env = board_env(tmp_path, discourse, mastodon)
    discourse.then(503, times=1000)  # down for as long as the first server runs
    with gunicorn(tmp_path, **env) as first:
        first.wait_ready()
        reply = discourse.webhook(first.url + "/integrations/discourse", "post_created", discourse_post(7001, ABUSIVE))
        assert reply[1]["flag"]["queued"]
        discourse.wait(lambda d: any(c.path == "/post_actions" for c in d.calls))  # tried, refused
    with discourse.lock:
        discourse.plan.clear()  # Discourse is back
    with gunicorn(tmp_path, **env) as second:
        second.wait_ready()
        discourse.wait(lambda d: len(d.flags_of(7001)) == 1)  # the new workers' sender found it in the outbox
