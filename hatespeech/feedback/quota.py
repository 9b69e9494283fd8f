"""How much feedback one origin may write: a rate with a burst, and a cap per day.

Feedback becomes training data, so whoever can write it can steer the next model. Each origin
(a credential: ``token``, ``moderation-key``; or a board's signed webhook: ``discourse-webhook``)
has its own share, so a leaked key fills only its own, and a moderator's review page or a
board's decisions are never starved by it:

- a token bucket (``FEEDBACK_RATE`` writes per second, up to ``FEEDBACK_BURST`` at once), kept in
  each worker process: with W workers an origin gets at most W times the rate;
- a cap (``FEEDBACK_DAILY_CAP`` rows per origin written in the last 24 hours), counted in the store
  itself, so it holds across workers and containers (``FeedbackStore``).

>>> now = [0.0]
>>> quota = Quota(rate=1.0, burst=2, clock=lambda: now[0])
>>> quota.take("token"), quota.take("token"), quota.take("token")
(0.0, 0.0, 1.0)
>>> quota.take("discourse-webhook")  # another origin, another bucket
0.0
>>> now[0] = 1.0
>>> quota.take("token")
0.0
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Quota:
    """Token buckets, one per origin (a handful of names: memory stays bounded)."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # origin -> (tokens, when counted)

    def take(self, origin: str) -> float:
        """Take one write from ``origin``'s bucket: 0.0 if it may write now, else the seconds until it may."""
        with self._lock:
            now = self.clock()
            tokens, then = self._buckets.get(origin, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - then) * self.rate)
            if tokens >= 1.0:
                self._buckets[origin] = (tokens - 1.0, now)
                return 0.0
            self._buckets[origin] = (tokens, now)
            return (1.0 - tokens) / self.rate
