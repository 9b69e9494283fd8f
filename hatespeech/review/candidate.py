"""The review page's Candidate section: ``GET /review/candidate[?sha256=PREFIX]``.

A candidate (a trained model not served: ``hatespeech.lifecycle.compare.candidates``) beside the served
model, as ``model.py compare`` sets it (``hatespeech.lifecycle.compare.compare``: one implementation),
for the moderator who must approve it. Read-only: promoting stays with ``model.py promote``.

Scoring the board's labels and the queue's posts with two models takes seconds, so it never runs on
the request's thread: the first call starts it in one background thread per process (one at a time)
and answers ``"status": "computing"``; the page asks again. Results are cached by the pair of sha256s
(``CACHE_PAIRS`` of them), and the board's labels are bounded (``MAX_BOARD_ROWS``, the newest): the
answer says how many were scored out of how many.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from hatespeech.config import Settings
from hatespeech.core.moderator import Moderator

log = logging.getLogger("hatespeech.review")

MAX_BOARD_ROWS = 5000  # the newest labels the page scores (model.py compare scores them all)
CACHE_PAIRS = 8  # comparisons kept per process
MAX_CANDIDATES = 20  # listed for the page's chooser
RETRY_FAILED = 60.0  # seconds before a failed comparison (a store down, say) is tried again


class UnknownCandidate(LookupError):
    """No candidate has the sha256 asked for; the message says so."""


def promote_command(path: object) -> str:
    return f"python model.py promote {path if path is not None else 'CARD'}"


class Candidates:
    """Compares the chosen candidate with the served model, off the request path, cached by the pair of sha256s."""

    def __init__(
        self,
        settings: Settings,
        served: Callable[[], Moderator],
        max_board_rows: int = MAX_BOARD_ROWS,
    ) -> None:
        self.settings, self.served, self.max_board_rows = settings, served, max_board_rows
        self._done: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self._running: tuple[str, str] | None = None
        self._lock = threading.Lock()

    def answer(self, wanted: str | None) -> dict[str, Any]:
        """What ``GET /review/candidate`` answers; ``UnknownCandidate`` when ``wanted`` names none."""
        from hatespeech.lifecycle.compare import candidates, summary
        from hatespeech.lifecycle.registry import Registry

        served = self.served()  # read once: a promotion meanwhile is the next call's
        registry = Registry(self.settings)
        try:
            found = candidates(self.settings, registry, served.card)
        except registry.errors as err:
            log.warning(json.dumps({"candidate": "registry unavailable", "error": f"{type(err).__name__}: {err}"}))
            found = {}
        finally:
            registry.close()
        listed = [
            {**summary(card), "where": str(path) if path is not None else "the registry"}
            for card, path in list(found.values())[:MAX_CANDIDATES]
        ]
        base = {
            "served": summary(served.card),
            "candidates": listed,
            "pinned": self.settings.model_pinned,
            "read_only": "this page promotes nothing: run model.py promote (its gate refuses what the figures refuse)",
        }
        if not found:
            return base | {"status": "none"}
        if wanted is None:
            sha = next(iter(found))
        else:
            matches = [sha for sha in found if sha.startswith(wanted)]
            if len(matches) != 1:
                what = "no candidate" if not matches else f"{len(matches)} candidates"
                raise UnknownCandidate(
                    f"{what} with a sha256 starting {wanted!r}; the candidates are listed at GET /review/candidate"
                )
            sha = matches[0]
        card, path = found[sha]
        base |= {"chosen": summary(card), "promote": promote_command(path)}
        key = (sha, served.card["sha256"])
        with self._lock:
            failed = self._done.get(key, {}).get("status") == "failed"
            if failed and time.time() - self._done[key]["computed_at"] > RETRY_FAILED:
                del self._done[key]
            if key in self._done:
                self._done.move_to_end(key)
                return base | self._done[key]
            if self._running is None:
                self._running = key
                threading.Thread(
                    target=self._compute, args=(key, card, path, served), name="candidate", daemon=True
                ).start()
            elif self._running != key:
                return base | {"status": "busy", "note": "another comparison is being computed: ask again soon"}
        return base | {"status": "computing"}

    def _compute(self, key: tuple[str, str], card: dict[str, Any], path: Any, served: Moderator) -> None:
        from hatespeech.lifecycle.compare import candidate_model, compare
        from hatespeech.lifecycle.registry import Registry

        started = time.time()
        registry = Registry(self.settings)
        try:
            model = candidate_model(self.settings, registry, card, path)
            result = {"status": "ready", **compare(self.settings, model, served, self.max_board_rows).as_json()}
        except Exception as err:  # a candidate that fails verification or a store that fails: said, not raised
            log.exception(json.dumps({"candidate": "comparison failed", "sha256": key[0]}))
            result = {"status": "failed", "error": f"{type(err).__name__}: {str(err)[:300]}"}
        finally:
            registry.close()
        result["computed_at"], result["seconds"] = started, round(time.time() - started, 3)
        with self._lock:
            self._done[key] = result
            while len(self._done) > CACHE_PAIRS:
                self._done.popitem(last=False)
            self._running = None
