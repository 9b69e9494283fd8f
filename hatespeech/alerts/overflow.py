"""Which alerts go when the outbox is full: never the only alert of a thread, if it can be helped.

The outbox is bounded (``ALERT_OUTBOX_MAX``). Dropping the oldest rows would let a flood of new
alerts evict every genuine alert queued before it, so the rows dropped are, in this order:

1. the lowest severity first (a message alert for ``review`` before one for ``block``, those before
   discussion and burst alerts);
2. within a severity, the newest first: a flood's latest rows go before what was queued earlier;
3. and a thread's only alert is kept while any other row can go (posts without a thread count as
   one thread, so a thread-less flood is not protected by this rule).

>>> rows = [("g", 1.0, '{"id": "g", "type": "message", "action": "block", "thread": "t1"}'),
...         ("f1", 2.0, '{"id": "f1", "type": "message", "action": "block", "thread": "t2"}'),
...         ("f2", 3.0, '{"id": "f2", "type": "message", "action": "block", "thread": "t2"}'),
...         ("r", 4.0, '{"id": "r", "type": "message", "action": "review", "thread": "t3"}')]
>>> victims(rows, 2)
['f2', 'r']
>>> victims(rows, 3)
['f2', 'r', 'f1']
"""

from __future__ import annotations

import json
from collections import Counter
from typing import NamedTuple

SEVERITY = {"review": 1, "block": 2}  # a message alert's action; discussion and burst alerts rank 3


class _Info(NamedTuple):
    id: str
    created: float
    thread: str
    alert_id: str
    severity: int


def severity(alert: dict) -> int:
    """How much an alert matters when something must go: 1 (review) to 3 (a thread's summary)."""
    if alert.get("type") == "message":
        return SEVERITY.get(str(alert.get("action")), 0)
    return 3


def victims(rows: list[tuple[str, float, str]], excess: int) -> list[str]:
    """The ids of ``excess`` rows to drop, from ``(row id, created, alert JSON)`` of every row."""
    if excess <= 0:
        return []
    info = []
    for row_id, created, body in rows:
        try:
            alert = json.loads(body)
        except ValueError:
            alert = {}
        thread, alert_id = str(alert.get("thread") or ""), str(alert.get("id") or row_id)
        info.append(_Info(row_id, created, thread, alert_id, severity(alert)))
    alerts_left = Counter(thread for thread, _ in {(i.thread, i.alert_id) for i in info})
    order = sorted(info, key=lambda i: (i.severity, -i.created))
    chosen: list[str] = []
    taken: set[str] = set()
    gone: set[str] = set()  # alerts with a row already chosen (its other rows cost no extra loss)
    for protect in (True, False):
        for i in order:
            if len(chosen) == excess:
                return chosen
            if i.id in taken:
                continue
            last = i.alert_id not in gone and alerts_left[i.thread] <= 1
            if protect and last and i.thread:
                continue
            chosen.append(i.id)
            taken.add(i.id)
            if i.alert_id not in gone:
                gone.add(i.alert_id)
                alerts_left[i.thread] -= 1
    return chosen
