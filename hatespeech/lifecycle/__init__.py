"""A model's life after training: kept, compared, promoted, rolled back, and followed by every worker.

- ``rows``: which rows a card's figures were measured on (keys, never texts), to compare like with like.
- ``registry``: the promoted model and its history, in the feedback's database (SQLite or PostgreSQL).
- ``gate``: a candidate beside the served model, and whether it may be promoted.
- ``Follower`` (here): each worker asks the registry which model is promoted, every
  ``MODEL_POLL_SECONDS``, off the request path; a new one is loaded and verified in that thread,
  then served by one assignment (``serve``). One that fails verification is logged and never served.

Needs only the serving requirements: ``model.py`` runs inside the image.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hatespeech.config import Settings
from hatespeech.core.classifier import Classifier
from hatespeech.core.modelfile import ModelError, check_card, compiled_from
from hatespeech.core.moderator import Moderator
from hatespeech.core.policy import Policy, PolicyError
from hatespeech.lifecycle.registry import Registry, RegistryError

log = logging.getLogger("hatespeech.lifecycle")


def moderator_from(settings: Settings, card: object, data: bytes, where: str) -> Moderator:
    """The model in ``data`` its ``card`` vouches for, with the settings' thresholds and limits;
    ``ModelError`` or ``PolicyError`` say why not."""
    checked = check_card(card, Path(where))
    classifier = Classifier(compiled_from(checked, data, where), checked)
    return Moderator(
        classifier,
        Policy.from_card(checked, settings.thresholds),
        max_text_chars=settings.max_text_chars,
        explain_max_spans=settings.explain_max_spans,
    )


def promoted(settings: Settings, registry: Registry, sha256: str) -> Moderator:
    """The promoted model ``sha256``, from the registry, verified."""
    card, data = registry.model(sha256)
    return moderator_from(settings, card, data, f"the promoted model {sha256[:12]} ({registry.where})")


class Follower:
    """Serves, in this process, the model the registry says is promoted (see the module docstring).

    ``own``: the model the container was built with (served when nothing is promoted); ``current``:
    the one served now; ``serve``: the one assignment that swaps it.
    """

    def __init__(
        self, settings: Settings, own: Moderator, current: Moderator, serve: Callable[[Moderator], None]
    ) -> None:
        self.settings, self.own, self.serve = settings, own, serve
        self.registry = Registry(settings)
        self.served: str | None = current.card["sha256"]
        self.refused: set[str] = set()  # failed verification: not tried again (a new promotion is a new sha256)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> None:
        """One poll: serve the promoted model if it is not the one served."""
        try:
            wanted = self.registry.served()
        except self.registry.errors as err:
            log.warning(json.dumps({"model": "registry unavailable", "error": f"{type(err).__name__}: {err}"}))
            return
        wanted = wanted or self.own.card["sha256"]
        if wanted == self.served or wanted in self.refused:
            return
        try:
            own = wanted == self.own.card["sha256"]
            moderator = self.own if own else promoted(self.settings, self.registry, wanted)
        except (ModelError, PolicyError, RegistryError) as err:
            self.refused.add(wanted)
            log.error(json.dumps({"model": "not served", "sha256": wanted, "error": str(err)[:500]}))
            return
        except self.registry.errors as err:  # the database, not the model: the next poll tries again
            log.warning(json.dumps({"model": "registry unavailable", "error": f"{type(err).__name__}: {err}"}))
            return
        self.serve(moderator)
        log.warning(json.dumps({"model": "serving", "sha256": wanted, "was": self.served}))
        self.served = wanted

    def _run(self) -> None:
        while not self._stop.wait(self.settings.model_poll_seconds):
            try:
                self.check()
            except Exception:  # the thread must outlive any one poll; the old model keeps serving
                log.exception("model poll failed")

    def start(self) -> None:
        """Poll in a daemon thread (after gunicorn's fork: threads do not survive one)."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="model-follower", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.registry.close()


def start_model(settings: Settings, own: Moderator) -> Moderator:
    """The model to serve at start: the promoted one if the registry names one, else ``own``. A registry
    that cannot be read, or a promoted model that fails verification, is logged: ``own`` is served, and the
    workers' polls try again."""
    registry = Registry(settings)
    try:
        wanted = registry.served()
        return own if wanted is None or wanted == own.card["sha256"] else promoted(settings, registry, wanted)
    except (ModelError, PolicyError, RegistryError) as err:
        log.error(json.dumps({"model": "promoted model not served at start", "error": str(err)[:500]}))
        return own
    except registry.errors as err:
        log.error(json.dumps({"model": "registry unavailable at start", "error": f"{type(err).__name__}: {err}"}))
        return own
    finally:
        registry.close()


def card_summary(card: dict[str, Any]) -> dict[str, Any]:
    """What ``model.py list`` prints of a card."""
    metrics = card.get("metrics", {})
    lineage = card.get("lineage", {})
    return {
        "sha256": card.get("sha256", ""),
        "created_at": card.get("created_at"),
        "rows": card.get("data", {}).get("rows"),
        "holdout_macro_f1": metrics.get("holdout", {}).get("macro_f1"),
        "cv_macro_f1": metrics.get("cross_validation", {}).get("macro_f1"),
        "feedback_rows": (card.get("feedback") or {}).get("rows", 0),
        "parent": lineage.get("parent"),
        "commit": lineage.get("code_commit"),
    }


def code_commit(root: Path) -> str | None:
    """The git commit of the code in ``root`` (with ``+changes`` if files differ from it); None outside a checkout."""
    import subprocess

    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return None
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+changes" if status.stdout.strip() else "")


def lineage(settings: Settings, feedback: dict[str, Any] | None, root: Path) -> dict[str, Any]:
    """The card's ``lineage``: the model served when it was trained (its parent), the code, the feedback used.
    The data sources, with their sha256 and rows, are the card's ``data``; the thresholds, its ``thresholds``."""
    parent: str | None = None
    registry = None if settings.model_pinned else Registry(settings)
    try:
        parent = None if registry is None else registry.served()
        if parent is None:
            parent = json.loads(Path(settings.model_path).read_text())["sha256"]
    except (OSError, ValueError, KeyError, TypeError, RegistryError) as err:
        log.warning(json.dumps({"lineage": "parent unknown", "error": str(err)[:200]}))
        parent = None
    except Exception as err:  # noqa: BLE001 (a database driver's error: the parent is then unknown, said so)
        log.warning(json.dumps({"lineage": "parent unknown", "error": f"{type(err).__name__}: {err}"[:200]}))
        parent = None
    finally:
        if registry is not None:
            registry.close()
    return {"parent": parent, "code_commit": code_commit(root), "feedback": feedback}
