"""Moderation decisions: calibrated probabilities + the model card → label, action and flags.

The one implementation of the decision rule, used by the service, the archive scorer and the
evaluation that tunes it (``hatespeech.training.evaluate`` imports ``weighted_argmax``), so a test
of one is a test of the other. Nothing here knows about HTTP or scikit-learn.

- ``label``: the production decision rule of the card (argmax of probabilities × per-class weights);
- ``categories``: per abusive class, whether its severity score reached its ``review`` threshold
  (``labels.severity_scores``: hate speech P(hate); offensive language P(hate) + P(offensive));
- ``action``: ``block`` if any class reached its ``block`` threshold, else ``review`` if any
  reached its ``review`` threshold, else ``allow``; ``flagged`` is ``action != "allow"``;
- ``reasons``: why the action is what it is, one per class that reached a threshold (its severity
  score, the highest threshold it reached and that threshold's value), the most severe first; the
  threat check and the identity-attack check add their own (``hatespeech.core.threats.apply``,
  ``hatespeech.core.attacks.apply``: an attack on a group also sets ``categories["hate speech"]``).
  Empty exactly when the action is ``allow``, but for a post in a language without a model: its
  ``unsupported language`` reason is always there (``hatespeech.core.moderator``).

``label`` and ``action`` answer two questions. ``label`` is the model's best guess of the class (the
rule its metrics measure); ``action`` is what to do, from thresholds set low enough to send a person
the doubtful posts. "immigrants are vermin" can be most likely ``neither`` and still go to review,
because P(hate speech) = 0.18 is above the review threshold: its ``reasons`` say so.

The thresholds come from the card (chosen by cross-validation on the training data, with what
they mean); ``THRESHOLDS`` in the environment overrides any of them (see ``hatespeech.config``).

>>> policy = Policy.from_card(
...     {"version": "1.0.0", "sha256": "ab" * 32, "decision_rule": {"weights": [4, 1, 2]},
...      "thresholds": {"hate speech": {"review": 0.1, "block": 0.9},
...                     "offensive language": {"review": 0.4, "block": 0.8}}})
>>> decision = policy.decide([0.05, 0.5, 0.45])
>>> decision["label"], decision["action"], decision["categories"]
('neither', 'review', {'hate speech': False, 'offensive language': True})
>>> decision["reasons"]
[{'category': 'offensive language', 'score': 0.55, 'threshold': 'review', 'at': 0.4}]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, NotRequired, TypedDict

import numpy as np
from numpy.typing import ArrayLike

from hatespeech.core.labels import LABELS, severity_scores

# The actions, spelt here only: the code that compares or builds one imports its name.
ALLOW: Final = "allow"
REVIEW: Final = "review"  # also the name of the threshold that leads to it (and BLOCK's)
BLOCK: Final = "block"
ACTIONS: tuple[str, ...] = (ALLOW, REVIEW, BLOCK)
ACTION_RANK = {action: rank for rank, action in enumerate(ACTIONS)}  # how severe: "a review or worse" is rank >= 1


def is_flagged(action: str) -> bool:
    """What ``flagged`` says in an answer: any action but ``allow``."""
    return action != ALLOW


class PolicyError(ValueError):
    """Thresholds or weights that cannot be used; the message names the bad value."""


class ScoreReason(TypedDict):
    """A class whose severity score (``labels.severity_scores``) reached a threshold: ``threshold`` is the
    highest it reached (``block`` or ``review``), ``at`` that threshold's value."""

    category: str  # "hate speech" or "offensive language"
    score: float
    threshold: Literal["review", "block"]
    at: float
    # in a post mixing languages, the language whose model (or check) gave it, when not the answer's ``model``'s
    language: NotRequired[str]


class ThreatReason(TypedDict):
    """The threat check matched ``text[start:end]`` (``hatespeech.core.threats``): at least a review."""

    category: Literal["threat"]
    start: int
    end: int
    text: str
    # in a post mixing languages, the language whose model (or check) gave it, when not the answer's ``model``'s
    language: NotRequired[str]


class AttackReason(TypedDict):
    """The identity-attack check matched ``text[start:end]`` (``hatespeech.core.attacks``): at least a review."""

    category: Literal["identity attack"]
    start: int
    end: int
    text: str
    # in a post mixing languages, the language whose model (or check) gave it, when not the answer's ``model``'s
    language: NotRequired[str]


class LanguageReason(TypedDict):
    """The post is in ``language``, for which no model is served: the action is ``UNSUPPORTED_LANGUAGE_ACTION``'s,
    whatever any model would score (``hatespeech.core.moderator``). Present whatever the action, even ``allow``."""

    category: Literal["unsupported language"]
    language: str  # ISO 639-1
    text: str  # why, in words


Reason = ScoreReason | ThreatReason | AttackReason | LanguageReason


class Decision(TypedDict):
    label: str
    flagged: bool
    action: str
    categories: dict[str, bool]
    reasons: list[Reason]


class Moderation(Decision):
    scores: dict[str, float]
    model: dict[str, str]  # version, sha256 and, once ``Moderator`` answers, the language of the model that judged
    # Set by ``Moderator`` on every answer it gives (the policy alone knows no language): ISO 639-1 or "und", and
    # whether a model judged the post (its language's, or the English one when identification was in doubt).
    language: NotRequired[str]
    language_supported: NotRequired[bool]
    threat: NotRequired[dict[str, Any]]  # the threat check's match, when it matched (``threats.apply``)
    explanation: NotRequired[dict[str, Any]]  # asked for with ``explain`` (``hatespeech.core.explain``)


def weighted_argmax(probabilities: ArrayLike, weights: Sequence[float]) -> Any:
    """The decision rule: per row, the class with the largest probability × weight (first on a tie).

    An array of class indices for rows (2-D), one NumPy integer for one row (1-D)."""
    return np.argmax(np.asarray(probabilities, dtype=np.float64) * np.asarray(weights, dtype=np.float64), axis=-1)


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

        Raises ``PolicyError`` naming the bad value: an unknown class, a probability outside
        [0, 1], or ``review`` above ``block``.
        """
        weights = tuple(float(w) for w in card["decision_rule"]["weights"])
        if len(weights) != len(LABELS) or not all(w > 0 for w in weights):
            raise PolicyError(f"the card's decision rule needs {len(LABELS)} positive weights, not {list(weights)}")
        chosen = {label: dict(values) for label, values in card.get("thresholds", {}).items()}
        for label, values in (overrides or {}).items():
            if label not in LABELS or not isinstance(values, Mapping):
                raise PolicyError(
                    f"THRESHOLDS: {label!r} is not a class with thresholds; use one of "
                    f"{[label for label in LABELS if label in chosen] or list(LABELS)} with "
                    '{"review": p, "block": p}'
                )
            unknown = set(values) - {"review", "block"}
            if unknown:
                raise PolicyError(f"THRESHOLDS: {label!r} has {sorted(unknown)}; only 'review' and 'block' are allowed")
            chosen.setdefault(label, {"review": 1.0, "block": 1.0}).update(values)
        thresholds = {}
        for label in LABELS:  # in LABELS order, so responses list the classes in one order
            if label not in chosen:
                continue
            for name in ("review", "block"):
                value = chosen[label].get(name)
                if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                    raise PolicyError(f"THRESHOLDS: {label!r} {name} must be a probability in [0, 1], not {value!r}")
            review, block = chosen[label]["review"], chosen[label]["block"]  # numbers, checked above
            if review > block:
                raise PolicyError(f"THRESHOLDS: {label!r} review ({review}) is above block ({block})")
            thresholds[label] = Threshold(float(review), float(block))
        return cls(weights, thresholds, {"version": str(card.get("version", "")), "sha256": str(card["sha256"])})

    def label(self, probabilities: Sequence[float]) -> str:
        """The production rule for one row."""
        return LABELS[int(weighted_argmax(probabilities, self.weights))]

    def decide_many(self, probabilities: ArrayLike) -> tuple[list[str], list[str], dict[str, list[bool]]]:
        """For many rows at once: labels, actions, and per class whether it reached its review threshold."""
        p = np.asarray(probabilities, dtype=np.float64).reshape(-1, len(LABELS))
        labels = [LABELS[k] for k in weighted_argmax(p, self.weights).tolist()]
        severity = severity_scores(p)
        reached = {label: severity[label] >= t.review for label, t in self.thresholds.items()}
        block, review = np.zeros(len(p), dtype=bool), np.zeros(len(p), dtype=bool)
        for label, t in self.thresholds.items():
            block |= severity[label] >= t.block
            review |= reached[label]
        actions = np.where(block, BLOCK, np.where(review, REVIEW, ALLOW)).tolist()
        return labels, actions, {label: hits.tolist() for label, hits in reached.items()}

    def decide(self, probabilities: Sequence[float]) -> Decision:
        """``label``, ``flagged``, ``action``, ``categories`` and ``reasons`` for one row of probabilities."""
        labels, actions, reached = self.decide_many([probabilities])
        return {
            "label": labels[0],
            "flagged": is_flagged(actions[0]),
            "action": actions[0],
            "categories": {label: hits[0] for label, hits in reached.items()},
            "reasons": [*self.reasons(probabilities)],
        }

    def reasons(self, probabilities: Sequence[float]) -> list[ScoreReason]:
        """Each class whose severity score reached a threshold, the highest it reached, blocks first."""
        severity = severity_scores(probabilities)
        found: list[ScoreReason] = []
        for label, t in self.thresholds.items():
            score = float(severity[label])
            if score >= t.block:
                found.append({"category": label, "score": score, "threshold": BLOCK, "at": t.block})
            elif score >= t.review:
                found.append({"category": label, "score": score, "threshold": REVIEW, "at": t.review})
        return sorted(found, key=lambda r: r["threshold"] != BLOCK)  # stable: in LABELS order within each

    def moderate(self, probabilities: Sequence[float]) -> Moderation:
        """The ``/moderate`` answer for one row: ``scores``, the decision and ``model``."""
        scores = {label: float(p) for label, p in zip(LABELS, probabilities, strict=True)}
        decision = self.decide(probabilities)
        # Key by key rather than {**decision}: Moderation has keys a Decision lacks (threat, explanation),
        # and a ** item could hold them with other types (mypy's extra checks). In the answer's order.
        return {
            "scores": scores,
            "label": decision["label"],
            "flagged": decision["flagged"],
            "action": decision["action"],
            "categories": decision["categories"],
            "reasons": decision["reasons"],
            "model": dict(self.model),
        }

    def describe(self) -> dict[str, dict[str, float]]:
        """The thresholds in force, as ``THRESHOLDS`` takes them."""
        return {label: {"review": t.review, "block": t.block} for label, t in self.thresholds.items()}
