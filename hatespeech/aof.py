"""Texts erased from Redis leave its append-only file too: a rate-limited ``BGREWRITEAOF`` after an erase.

Redis with ``appendonly yes`` logs every write, so a text erased from memory (the review queue's and
the alert outbox's text retention, a post dropped from the queue) is still on disk in the AOF until the
file is rewritten from what memory holds now. After a pass that erased texts, ``after_erase`` marks a
rewrite as owed (a key in Redis itself) and ``rewrite_if_owed`` asks for it:

- at most once per ``REDIS_AOF_REWRITE_MINUTES`` (default 60; 0: never) across every worker and
  container, through a ``SET NX EX`` key in the same Redis; a rewrite owed meanwhile is done by the
  first maintenance pass after the interval (the review queue's, once a minute; the alert sender's);
- only when that Redis has AOF on (``INFO persistence``: ``aof_enabled:1``); otherwise the debt is dropped;
- it never raises and never waits for the rewrite (Redis forks and rewrites in the background): a
  failure is one log line, and the debt stays for the next pass.

Not touched here: RDB snapshots (``save``: an erased text leaves them at the next snapshot), replicas' own
AOFs (each rewrites on its own schedule) and backups of any of these files.
"""

from __future__ import annotations

import json
import logging
from typing import Any

log = logging.getLogger("hatespeech.stores")

OWED = "aof:rewrite-owed"  # after the store's prefix: a text was erased since the last rewrite
LOCK = "aof:rewrite-lock"  # after the store's prefix: a rewrite was asked for less than ``every`` seconds ago
OWED_SECONDS = 30 * 86_400  # an owed rewrite nobody could do (AOF stayed off, say) is forgotten after this


def after_erase(client: Any, prefix: str, erased: int, every: float) -> bool:
    """Call after a maintenance pass on Redis (``erased``: texts it erased): True if a rewrite was asked for."""
    if every <= 0:
        return False
    try:
        if erased:
            client.set(prefix + OWED, "1", ex=OWED_SECONDS)
        return rewrite_if_owed(client, prefix, every)
    except Exception as err:  # noqa: BLE001 (housekeeping: never the caller's failure)
        log.warning(json.dumps({"stores": "aof_rewrite_failed", "error": f"{type(err).__name__}: {err}"[:200]}))
        return False


def rewrite_if_owed(client: Any, prefix: str, every: float) -> bool:
    """``BGREWRITEAOF`` if a rewrite is owed, AOF is on and none was asked for within ``every`` seconds."""
    if not client.exists(prefix + OWED):
        return False
    if str(client.info("persistence").get("aof_enabled", 0)) != "1":
        client.delete(prefix + OWED)  # nothing on disk to clean
        return False
    if not client.set(prefix + LOCK, "1", nx=True, px=max(1, int(every * 1000))):
        return False  # asked for recently, here or by another container: the next pass after it
    client.delete(prefix + OWED)
    try:
        client.bgrewriteaof()
    except Exception:
        client.set(prefix + OWED, "1", ex=OWED_SECONDS)  # owed still, after the interval
        raise
    log.info(json.dumps({"stores": "aof_rewrite_asked"}))
    return True
