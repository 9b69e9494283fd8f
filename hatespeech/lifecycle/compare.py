"""A candidate beside the served model: what ``model.py compare`` prints and the review page's Candidate
section shows, computed once here (``compare``) from the stores the server writes.

- **candidates**: the trained cards not served: the registry's models (promoted once, rolled back since),
  the cards in ``models/`` and ``model.py retrain``'s in ``data/candidates/*/``; the newest by ``created_at``.
- **compare**: the gate's sides (``gate.base_data``, ``gate.board_labels``: the board's labels in the
  candidate's language) and the review queue's recent posts by old → new action (``gate.changed_actions``).
  ``max_board_rows`` bounds the board's labels scored (the newest ones; the page's bound), ``None`` scores
  them all (``model.py``).

Needs only the serving requirements.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hatespeech import feedback
from hatespeech.config import MODELS_DIR, Settings
from hatespeech.core.language import ENGLISH, UNDETERMINED
from hatespeech.core.modelfile import ModelError, read_card
from hatespeech.core.moderator import Moderator
from hatespeech.lifecycle import gate
from hatespeech.lifecycle.registry import Registry
from hatespeech.lifecycle.retrain import CANDIDATES_DIR
from hatespeech.review.store import MAX_PAGE, open_queue

RECENT_POSTS = 500  # the review queue's newest posts that compare actions


@dataclass
class Comparison:
    """The candidate beside the served model; ``sides`` are the gate's."""

    candidate: dict[str, Any]  # its card
    served: dict[str, Any]
    sides: list[gate.Side]
    changes: dict[str, Any]  # gate.changed_actions
    board_rows: int  # the board's labels scored
    board_total: int  # the board's labels in the store (more than board_rows when bounded)

    @property
    def refused(self) -> list[gate.Side]:
        return [side for side in self.sides if side.refused]

    def as_json(self) -> dict[str, Any]:
        """For ``GET /review/candidate``: figures and counts, a few texts of the queue's posts."""
        return {
            "candidate": summary(self.candidate),
            "served": summary(self.served),
            "sides": [
                {
                    "what": side.what,
                    "comparable": side.comparable,
                    "rows": side.rows,
                    "served": side.served,
                    "candidate": side.candidate,
                    "drop": side.drop if side.comparable and side.rows else None,
                    "refused": side.refused,
                    "note": side.note,
                }
                for side in self.sides
            ],
            "board_rows": self.board_rows,
            "board_total": self.board_total,
            "changes": self.changes,
            "gate": {
                "passes": not self.refused,
                "max_drop": gate.MAX_DROP,
                "refused_on": [side.what for side in self.refused],
            },
        }


def summary(card: dict[str, Any]) -> dict[str, Any]:
    return {
        "sha256": card.get("sha256", ""),
        "version": card.get("version"),
        "created_at": card.get("created_at"),
        "language": (card.get("data") or {}).get("language", "en"),
    }


def board_rows(settings: Settings, limit: int | None = None, language: str = "en") -> tuple[list[str], list[str], int]:
    """The board's decisions in ``language`` (texts, labels; ``feedback.row_language``), the newest ``limit``
    of them if given, and how many there are."""
    if not settings.feedback.database_url and not Path(settings.feedback.db_path).is_file():
        return [], [], 0
    store = feedback.open_store(settings)
    try:
        decided = [row for row in store.decisions() if feedback.row_language(row) == language]
    finally:
        store.close()
    total = len(decided)
    if limit is not None and total > limit:
        decided = sorted(decided, key=lambda r: r.created_at)[-limit:]
    return [r.text for r in decided], [r.label for r in decided], total


def recent_posts(settings: Settings, limit: int = RECENT_POSTS, language: str = ENGLISH) -> list[str]:
    """The texts of the review queue's newest posts in ``language`` (erased texts left out), at most ``limit``.
    A post in another language is judged by another model, whatever the candidate; ``und`` (or a post queued
    before languages were recorded) counts as English, as the service judges it."""
    review = settings.review
    if not review.database_url and not review.redis_url and not Path(review.db_path).is_file():
        return []
    queue = open_queue(review.db_path, review.redis_url, review.database_url)
    texts: list[str] = []
    before = None
    try:
        while len(texts) < limit:
            page = queue.page(before=before, limit=MAX_PAGE)
            texts += [p["text"] for p in page["posts"] if p["text"] and _judged_as(p.get("language")) == language]
            if page["next"] is None:
                break
            before = page["next"]
    finally:
        queue.close()
    return texts[:limit]


def _judged_as(code: object) -> str:
    return ENGLISH if not isinstance(code, str) or code == UNDETERMINED else code


def compare(
    settings: Settings, candidate: Moderator, served: Moderator, max_board_rows: int | None = None
) -> Comparison:
    """The candidate beside the served model on the same rows (see the module docstring)."""
    language = summary(candidate.card)["language"]
    texts, labels, total = board_rows(settings, max_board_rows, language)
    sides = [gate.base_data(candidate.card, served.card), gate.board_labels(candidate, served, texts, labels)]
    changes = gate.changed_actions(candidate, served, recent_posts(settings, language=language))
    return Comparison(candidate.card, served.card, sides, changes, len(texts), total)


def load(settings: Settings, card_path: Path) -> Moderator:
    return Moderator.load(
        card_path,
        settings.thresholds,
        max_text_chars=settings.max_text_chars,
        explain_max_spans=settings.explain_max_spans,
    )


def candidates(
    settings: Settings, registry: Registry, served: dict[str, Any]
) -> dict[str, tuple[dict[str, Any], Path | None]]:
    """sha256 → (card, its file; None: held by the registry) of every trained model of the served model's
    language that is not served, newest first."""
    found: dict[str, tuple[dict[str, Any], Path | None]] = {}
    paths = [*sorted(Path(MODELS_DIR).glob("*.json")), *sorted(CANDIDATES_DIR.glob("*/model.json"))]
    for path in paths:
        try:
            card = read_card(path)
        except ModelError:
            continue
        found.setdefault(card["sha256"], (card, path))
    for sha, card in registry.cards().items():
        found.setdefault(sha, (card, None))
    language = summary(served)["language"]
    kept = {sha: v for sha, v in found.items() if sha != served["sha256"] and summary(v[0])["language"] == language}
    return dict(sorted(kept.items(), key=lambda kv: str(kv[1][0].get("created_at")), reverse=True))


def candidate_model(settings: Settings, registry: Registry, card: dict[str, Any], path: Path | None) -> Moderator:
    """A candidate's model, verified, from its file or from the registry."""
    from hatespeech import lifecycle

    if path is not None:
        return load(settings, path)
    return lifecycle.promoted(settings, registry, card["sha256"])
