"""Moderation decisions: calibrated probabilities + the model card → label, action and flags.

Plain Python over one row of probabilities (in ``LABELS`` order; NumPy over many rows for the
archive scorer); nothing here knows about HTTP or scikit-learn, so the web API, the archive
scorer and the tests share exactly one rule.

- ``label``: the production decision rule of the card (argmax of probabilities × per-class
  weights), the same as ``hatespeech.evaluate.decide``.
- ``categories``: per abusive class, whether its severity score reached its ``review`` threshold
  (``labels.severity_scores``: hate speech P(hate); offensive language P(hate) + P(offensive)).
- ``action``: ``block`` if any class reached its ``block`` threshold, else ``review`` if any
  reached its ``review`` threshold, else ``allow``; ``flagged`` is ``action != "allow"``.

The thresholds come from the card (chosen by cross-validation on the training data, with what
they mean); ``THRESHOLDS`` in the environment overrides any of them (see ``hatespeech.config``).

>>> policy = Policy.from_card(
...     {"version": "1.0.0", "sha256": "ab" * 32, "decision_rule": {"weights": [4, 1, 2]},
...      "thresholds": {"hate speech": {"review": 0.1, "block": 0.9},
...                     "offensive language": {"review": 0.4, "block": 0.8}}})
>>> decision = policy.decide([0.05, 0.5, 0.45])
>>> decision["label"], decision["action"], decision["categories"]
('neither', 'review', {'hate speech': False, 'offensive language': True})
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hatespeech.classifier import InvalidText, check_text
from hatespeech.config import ConfigError
from hatespeech.labels import HATE, LABELS, OFFENSIVE, severity_scores

ACTIONS: tuple[str, ...] = ("allow", "review", "block")


@dataclass(frozen=True)
class Threshold:
    """Probabilities at or above ``review`` go to a moderator; at or above ``block`` are blocked."""

    review: float
    block: float


@dataclass(frozen=True)
class Policy:
    """The decision rule and thresholds of one model, plus its identity for the responses."""

    weights: tuple[float, ...]
    thresholds: Mapping[str, Threshold]
    model: Mapping[str, str]

    @classmethod
    def from_card(cls, card: Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> Policy:
        """The card's rule and thresholds, each threshold overridable (``THRESHOLDS``).

        Raises ``ConfigError`` naming the bad value: an unknown class, a probability outside
        [0, 1], or ``review`` above ``block``.
        """
        weights = tuple(float(w) for w in card["decision_rule"]["weights"])
        if len(weights) != len(LABELS):
            raise ConfigError(f"the card's decision rule has {len(weights)} weights for {len(LABELS)} classes")
        chosen = {label: dict(values) for label, values in card.get("thresholds", {}).items()}
        for label, values in (overrides or {}).items():
            if label not in LABELS or not isinstance(values, Mapping):
                raise ConfigError(
                    f"THRESHOLDS: {label!r} is not a class with thresholds; use one of "
                    f"{[label for label in LABELS if label in chosen] or list(LABELS)} with "
                    '{"review": p, "block": p}'
                )
            unknown = set(values) - {"review", "block"}
            if unknown:
                raise ConfigError(f"THRESHOLDS: {label!r} has {sorted(unknown)}; only 'review' and 'block' are allowed")
            chosen.setdefault(label, {"review": 1.0, "block": 1.0}).update(values)
        thresholds = {}
        for label in LABELS:  # in LABELS order, so responses list the classes in one order
            if label not in chosen:
                continue
            review, block = chosen[label].get("review"), chosen[label].get("block")
            for name, value in (("review", review), ("block", block)):
                if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                    raise ConfigError(f"THRESHOLDS: {label!r} {name} must be a probability in [0, 1], not {value!r}")
            if review > block:
                raise ConfigError(f"THRESHOLDS: {label!r} review ({review}) is above block ({block})")
            thresholds[label] = Threshold(float(review), float(block))
        return cls(weights, thresholds, {"version": str(card.get("version", "")), "sha256": str(card["sha256"])})

    def label(self, probabilities: Sequence[float]) -> str:
        """The production rule: the class with the largest probability × weight (first on a tie, as numpy)."""
        weighted = [float(p) * w for p, w in zip(probabilities, self.weights, strict=True)]
        return LABELS[max(range(len(weighted)), key=weighted.__getitem__)]

    def decide(self, probabilities: Sequence[float]) -> dict[str, Any]:
        """``label``, ``flagged``, ``action`` and ``categories`` for one row of probabilities."""
        p = severity_scores(probabilities)
        categories = {label: p[label] >= t.review for label, t in self.thresholds.items()}
        if any(p[label] >= t.block for label, t in self.thresholds.items()):
            action = "block"
        elif any(categories.values()):
            action = "review"
        else:
            action = "allow"
        return {
            "label": self.label(probabilities),
            "flagged": action != "allow",
            "action": action,
            "categories": categories,
        }

    def decide_many(self, probabilities: np.ndarray) -> tuple[list[str], list[str], dict[str, list[bool]]]:
        """``decide`` for many rows at once (the archive scorer): labels, actions, and per class
        whether it reached its review threshold; the same answers as ``decide`` row by row."""
        p = np.asarray(probabilities, dtype=np.float64).reshape(-1, len(LABELS))
        labels = [LABELS[k] for k in np.argmax(p * np.asarray(self.weights), axis=1).tolist()]
        severity = {LABELS[HATE]: p[:, HATE], LABELS[OFFENSIVE]: p[:, HATE] + p[:, OFFENSIVE]}
        reached = {label: severity[label] >= t.review for label, t in self.thresholds.items()}
        block, review = np.zeros(len(p), dtype=bool), np.zeros(len(p), dtype=bool)
        for label, t in self.thresholds.items():
            block |= severity[label] >= t.block
            review |= reached[label]
        actions = np.where(block, "block", np.where(review, "review", "allow")).tolist()
        return labels, actions, {label: hits.tolist() for label, hits in reached.items()}

    def moderate(self, probabilities: Sequence[float]) -> dict[str, Any]:
        """The ``/moderate`` answer for one row: ``scores``, the decision and ``model``."""
        scores = {label: float(p) for label, p in zip(LABELS, probabilities, strict=True)}
        return {"scores": scores, **self.decide(probabilities), "model": dict(self.model)}

    def describe(self) -> dict[str, dict[str, float]]:
        """The thresholds in force, as ``THRESHOLDS`` takes them."""
        return {label: {"review": t.review, "block": t.block} for label, t in self.thresholds.items()}


def check_texts(texts: object, max_texts: int, max_chars: int, max_text_chars: int, name: str = "texts") -> list[str]:
    """Validate a whole batch before anything is scored; the error names the first bad index.

    >>> check_texts(["ok", " "], 10, 100, 50)
    Traceback (most recent call last):
    ...
    hatespeech.classifier.InvalidText: texts[1] must contain something other than white space
    """
    if not isinstance(texts, list):
        kind = "a string" if isinstance(texts, str) else type(texts).__name__
        raise InvalidText(f"{name} must be an array of strings, not {kind}")
    if len(texts) > max_texts:
        raise InvalidText(f"{name} has {len(texts)} items; the maximum is {max_texts}")
    for i, text in enumerate(texts):
        check_text(text, max_text_chars, name=f"{name}[{i}]")
    total = sum(len(text) for text in texts)
    if total > max_chars:
        raise InvalidText(f"{name} hold {total} characters in all; the maximum is {max_chars}")
    return texts
