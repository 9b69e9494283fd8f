"""A candidate model beside the served one, on the same rows, and whether it may be promoted.

- **Base data**: the rows both cards were measured on out of fold (``rows``), each model's own
  out-of-fold prediction: honest for both, and like with like. Cards measured on too few common
  rows cannot be compared: the gate refuses and says why.
- **The board's labels** (the feedback store): each model's production label; where a model trained
  on a row, its recorded out-of-fold prediction instead (its card's ``measured_rows.feedback``).
- **The review queue's recent posts**: which would change action, old → new, with a few texts.

The gate refuses a candidate that loses more than ``MAX_DROP`` macro-F1 on either.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hatespeech.core.labels import ABUSIVE, LABELS
from hatespeech.core.moderator import Moderator
from hatespeech.lifecycle import rows

MAX_DROP = 0.01  # macro-F1 a candidate may lose, on the base data or the board's labels
MIN_COMMON_ROWS = 100  # fewer rows measured by both: the figures would say little, so no comparison
SAMPLES = 3  # texts shown per change of action
SAMPLE_CHARS = 120


def macro_f1(labels: Sequence[int], predicted: Sequence[int]) -> float:
    """Mean F1 over the classes present in ``labels`` (a board may use only some)."""
    scores = [f["f1"] for f in per_class(labels, predicted).values() if f["support"]]
    return sum(scores) / len(scores) if scores else 0.0


def per_class(labels: Sequence[int], predicted: Sequence[int]) -> dict[str, dict[str, float]]:
    result = {}
    for k, name in enumerate(LABELS):
        tp = sum(1 for y, p in zip(labels, predicted, strict=True) if y == k and p == k)
        said, support = sum(1 for p in predicted if p == k), sum(1 for y in labels if y == k)
        precision, recall = (tp / said if said else 0.0), (tp / support if support else 0.0)
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        result[name] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
    return result


@dataclass
class Side:
    """One comparison: both models' figures on the same rows; ``comparable`` False says why not in ``note``."""

    what: str
    comparable: bool
    rows: int = 0
    served: dict[str, Any] = field(default_factory=dict)
    candidate: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    @property
    def drop(self) -> float:
        return self.served.get("macro_f1", 0.0) - self.candidate.get("macro_f1", 0.0)

    @property
    def refused(self) -> bool:
        return not self.comparable or self.drop > MAX_DROP


def _figures(labels: Sequence[int], predicted: Sequence[int]) -> dict[str, Any]:
    return {"macro_f1": macro_f1(labels, predicted), "per_class": per_class(labels, predicted)}


def base_data(candidate: Mapping[str, Any], served: Mapping[str, Any]) -> Side:
    """The base rows both cards were measured on, each model's out-of-fold predictions."""
    records = [(card.get("measured_rows") or {}).get("base") for card in (candidate, served)]
    for record, who in zip(records, ("candidate", "served model"), strict=True):
        if not isinstance(record, dict):
            return Side(
                "base data", False, note=f"the {who}'s card records no measured rows (trained before they were)"
            )
    try:
        labels, mine, theirs = rows.common(rows.read(records[0]), rows.read(records[1]))  # type: ignore[arg-type]
    except ValueError as err:
        return Side("base data", False, note=str(err))
    if len(labels) < MIN_COMMON_ROWS:
        data = [f"data {r['data_sha256'][:12]} split seed {r['split_seed']}" for r in records]  # type: ignore[index]
        return Side(
            "base data",
            False,
            rows=len(labels),
            note=f"the two were measured on different rows ({len(labels)} in common, at least {MIN_COMMON_ROWS} "
            f"needed): the candidate on {data[0]}, the served model on {data[1]}",
        )
    return Side("base data", True, len(labels), _figures(labels, theirs), _figures(labels, mine))


def _predicted(moderator: Moderator, texts: Sequence[str]) -> list[int]:
    recorded = (moderator.card.get("measured_rows") or {}).get("feedback")
    known = rows.read(recorded) if isinstance(recorded, dict) else {}
    live = [LABELS.index(moderator.policy.moderate(row)["label"]) for row in moderator.scores(texts)]
    return [known[rows.key(t)][1] if rows.key(t) in known else p for t, p in zip(texts, live, strict=True)]


def at_thresholds(moderator: Moderator, texts: Sequence[str], labels: Sequence[str]) -> dict[str, dict[str, float]]:
    """Per abusive class, the precision and recall of "reached its review threshold" (the operating thresholds,
    what puts a post in the queue) against the board's label."""
    reached = [{r["category"] for r in moderator.policy.reasons(row)} for row in moderator.scores(texts)]
    result = {}
    for label in ABUSIVE:
        flagged = [label in r for r in reached]
        truly = [given == label for given in labels]
        tp = sum(1 for f, t in zip(flagged, truly, strict=True) if f and t)
        result[label] = {
            "precision": tp / sum(flagged) if any(flagged) else 0.0,
            "recall": tp / sum(truly) if any(truly) else 0.0,
            "support": sum(truly),
        }
    return result


def board_labels(candidate: Moderator, served: Moderator, texts: Sequence[str], labels: Sequence[str]) -> Side:
    """The board's labelled posts (feedback), out of fold where a model trained on them; and, as scored
    now, each abusive class at the operating thresholds."""
    if not texts:
        return Side("board's labels", True, note="the feedback store holds no labels: nothing to compare")
    wanted = [LABELS.index(label) for label in labels]
    side = Side(
        "board's labels",
        True,
        len(texts),
        _figures(wanted, _predicted(served, texts)),
        _figures(wanted, _predicted(candidate, texts)),
    )
    side.served["at_thresholds"] = at_thresholds(served, texts, labels)
    side.candidate["at_thresholds"] = at_thresholds(candidate, texts, labels)
    return side


def changed_actions(candidate: Moderator, served: Moderator, texts: Sequence[str]) -> dict[str, Any]:
    """Counts of posts by (served's action → candidate's action), and a few texts of each change."""
    old = [a["action"] for a in served.moderate_many(texts, False)]
    new = [a["action"] for a in candidate.moderate_many(texts, False)]
    counts = Counter(f"{o} → {n}" for o, n in zip(old, new, strict=True))
    samples: dict[str, list[str]] = {}
    for text, o, n in zip(texts, old, new, strict=True):
        if o != n and len(found := samples.setdefault(f"{o} → {n}", [])) < SAMPLES:
            found.append(text[:SAMPLE_CHARS])
    return {"posts": len(texts), "counts": dict(sorted(counts.items())), "samples": samples}
