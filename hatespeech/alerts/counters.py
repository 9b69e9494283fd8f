"""What alerts count, handed in by the service: alerts sit below it and do not import its metrics.

``Counters`` is the part of ``hatespeech/service/metrics.py`` that alerts call (that module is one:
``alerts.configure(settings, metrics)``); ``NO_COUNTERS`` counts nothing, for an ``Alerter`` built
without them (tests, benchmarks, a script).
"""

from __future__ import annotations

from typing import Protocol


class Counters(Protocol):
    def alert_created(self, kind: str) -> None: ...
    def alert_delivered(self, fmt: str) -> None: ...
    def alert_retry(self, reason: str) -> None: ...
    def alert_failed(self, reason: str) -> None: ...
    def alerts_dropped(self, reason: str, count: int = 1) -> None: ...
    def alerts_pending(self, count: int) -> None: ...


class _Uncounted:
    def alert_created(self, kind: str) -> None:
        pass

    def alert_delivered(self, fmt: str) -> None:
        pass

    def alert_retry(self, reason: str) -> None:
        pass

    def alert_failed(self, reason: str) -> None:
        pass

    def alerts_dropped(self, reason: str, count: int = 1) -> None:
        pass

    def alerts_pending(self, count: int) -> None:
        pass


NO_COUNTERS: Counters = _Uncounted()
