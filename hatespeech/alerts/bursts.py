"""A raid in one thread is one alert, then summaries: "23 posts blocked in t7 in 2 minutes, worst three: …".

The first message alert of a thread goes out at once and starts its burst (``ALERT_BURST_MINUTES``,
a cool-down in the store, shared by every worker and container). Every further one in that time
is not an alert of its own: its post is added to the thread's burst window for the current
``ALERT_BURST_MINUTES`` slot, and the first post of a slot enqueues one summary alert, due when
the slot ends. The sender fills the summary in from the window when it delivers it (``summarise``),
so it counts every post of the slot. A batch request makes at most ``ALERT_BATCH_MAX`` message
alerts; the rest of its posts go into one summary, sent at once.
"""

from __future__ import annotations

import math
from collections import Counter

KEEP = 200  # posts kept per burst slot: the summary names them all (and counts on beyond, as "200+")
WORST = 3


def summarise(alert: dict, posts: list[dict]) -> dict:
    """The summary alert ``alert`` (type ``burst``) completed with ``posts`` (entries, any order)."""
    posts = sorted(posts, key=lambda p: p.get("ts", 0.0))
    worst = sorted(posts, key=lambda p: p.get("abusive", 0.0), reverse=True)[:WORST]
    actions = Counter(p.get("action") for p in posts)
    verb = "blocked" if set(actions) <= {"block"} else "flagged"
    count = f"{len(posts)}+" if len(posts) >= KEEP else str(len(posts))
    where = f"in {alert['thread']}" if alert.get("thread") else "in one batch request"
    span = (posts[-1]["ts"] - posts[0]["ts"]) if posts else 0.0
    minutes = max(1, math.ceil(span / 60))
    named = ", ".join(f"{p.get('id') or '—'} ({p.get('label')} {p.get('abusive', 0.0):.2f})" for p in worst)
    plural = "s" if len(posts) != 1 else ""
    summary = f"{count} post{plural} {verb} {where} in {minutes} minute{'s' if minutes != 1 else ''}"
    summary += f", worst {'three' if len(worst) == WORST else len(worst)}: {named}" if worst else ""
    shown = ("id", "url", "thread", "label", "action", "abusive")
    return {
        **alert,
        "summary": summary,
        "count": len(posts),
        "worst": [{k: p.get(k) for k in shown} for p in worst],
        "posts": [{k: p.get(k) for k in shown} for p in posts],
    }
