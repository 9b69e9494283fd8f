"""Honest evaluation: cross-validation, metrics, calibration, and the decision rule.

The decision rule multiplies the calibrated probabilities by per-class weights and takes the
argmax. Rare hate speech gets a weight above 1, so it is not drowned by the far more common
offensive class. The weights are always tuned on out-of-fold predictions of *training* data: for
the production model on the whole training set, and, to measure the rule honestly, inside each
outer training fold (nested cross-validation), never on the rows being scored.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_curve, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from tqdm.auto import tqdm

from hatespeech.labels import LABELS

# The rule's search space is coarse on purpose: a finer grid fits the folds' noise, not the task.
HATE_WEIGHTS = np.arange(1.0, 8.01, 0.5)
NEITHER_WEIGHTS = np.arange(0.5, 2.51, 0.25)
ECE_BINS = 15


def decide(probabilities: np.ndarray, weights: Sequence[float]) -> np.ndarray:
    """The production rule: argmax of the probabilities times per-class weights."""
    return np.argmax(np.asarray(probabilities) * np.asarray(weights), axis=1)


def tune_rule(probabilities: np.ndarray, labels: np.ndarray) -> list[float]:
    """Per-class weights (offensive fixed at 1) that maximise macro-F1 on out-of-fold data."""
    best, best_score = [1.0, 1.0, 1.0], -1.0
    for hate, neither in itertools.product(HATE_WEIGHTS, NEITHER_WEIGHTS):
        weights = [float(hate), 1.0, float(neither)]
        score = f1_score(labels, decide(probabilities, weights), average="macro")
        if score > best_score + 1e-12:
            best, best_score = weights, score
    return best


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE on the top-class probability, equal-width bins: Σ |accuracy − confidence| · share."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            ece += abs(correct[in_bin].mean() - confidence[in_bin].mean()) * in_bin.mean()
    return float(ece)


def brier_score(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Multiclass Brier score: mean squared distance to the one-hot truth (0 is perfect)."""
    onehot = np.eye(len(LABELS))[labels]
    return float(((probabilities - onehot) ** 2).sum(axis=1).mean())


def metrics(labels: np.ndarray, predicted: np.ndarray, probabilities: np.ndarray) -> dict:
    """Per-class precision/recall/F1, macro and weighted F1, confusion matrix, calibration."""
    p, r, f, n = precision_recall_fscore_support(labels, predicted, labels=range(len(LABELS)), zero_division=0)
    return {
        "rows": len(labels),
        "macro_f1": float(f1_score(labels, predicted, average="macro")),
        "weighted_f1": float(f1_score(labels, predicted, average="weighted")),
        "accuracy": float((labels == predicted).mean()),
        "per_class": {
            LABELS[i]: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(n[i])}
            for i in range(len(LABELS))
        },
        "confusion_matrix": confusion_matrix(labels, predicted, labels=range(len(LABELS))).tolist(),
        "argmax_macro_f1": float(f1_score(labels, probabilities.argmax(axis=1), average="macro")),
        "ece": expected_calibration_error(probabilities, labels),
        "brier": brier_score(probabilities, labels),
    }


@dataclass
class CrossValidation:
    """Pooled out-of-fold results of a (nested) cross-validation."""

    probabilities: np.ndarray  # out-of-fold calibrated probabilities, one row per input row
    predicted: np.ndarray  # out-of-fold labels from the rule tuned inside each training fold
    fold_weights: list[list[float]] = field(default_factory=list)


def out_of_fold(
    build: Callable[[], Pipeline],
    texts: Sequence[str],
    labels: np.ndarray,
    folds: int,
    seed: int,
    progress: str | None = None,
) -> np.ndarray:
    """Out-of-fold probabilities from a stratified k-fold split (fixed seed)."""
    texts = np.asarray(texts, dtype=object)
    result = np.zeros((len(texts), len(LABELS)))
    splits = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(texts, labels)
    for train, test in tqdm(list(splits), desc=progress, disable=progress is None, leave=False):
        model = build().fit(texts[train].tolist(), labels[train])
        result[test] = model.predict_proba(texts[test].tolist())
    return result


def cross_validate(
    build: Callable[[], Pipeline],
    texts: Sequence[str],
    labels: np.ndarray,
    folds: int = 5,
    inner_folds: int = 3,
    seed: int = 42,
) -> CrossValidation:
    """Nested CV: each outer fold tunes its rule on inner out-of-fold predictions of its training rows."""
    texts = np.asarray(texts, dtype=object)
    cv = CrossValidation(np.zeros((len(texts), len(LABELS))), np.zeros(len(texts), dtype=int))
    splits = list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(texts, labels))
    for train, test in tqdm(splits, desc="cross-validation", unit="fold"):
        inner = out_of_fold(build, texts[train].tolist(), labels[train], inner_folds, seed)
        weights = tune_rule(inner, labels[train])
        model = build().fit(texts[train].tolist(), labels[train])
        cv.probabilities[test] = model.predict_proba(texts[test].tolist())
        cv.predicted[test] = decide(cv.probabilities[test], weights)
        cv.fold_weights.append(weights)
    return cv


# What the default moderation thresholds promise, measured on out-of-fold training predictions.
BLOCK_PRECISION = 0.90
REVIEW_RECALL = 0.80


def choose_thresholds(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, dict]:
    """Per abusive class: ``block`` at the lowest probability whose precision is ≥ 0.9, ``review``
    at the highest probability that still catches ≥ 80% of the class (recall ≥ 0.8)."""
    chosen: dict[str, dict] = {}
    for k, label in enumerate(LABELS):
        if label == "neither":
            continue
        precision, recall, cut = precision_recall_curve(labels == k, probabilities[:, k])
        precision, recall = precision[:-1], recall[:-1]  # the last point has no threshold
        precise = np.flatnonzero(precision >= BLOCK_PRECISION)
        b = precise[0] if len(precise) else len(cut) - 1
        r = np.flatnonzero(recall >= REVIEW_RECALL)[-1]
        review, block = float(cut[min(r, b)]), float(cut[b])
        chosen[label] = {
            "review": round(review, 4),
            "block": round(block, 4),
            "meaning": (
                f"review: catches {recall[min(r, b)]:.0%} of {label} (target ≥ {REVIEW_RECALL:.0%}); "
                f"block: precision {precision[b]:.0%} (target ≥ {BLOCK_PRECISION:.0%}), catching {recall[b]:.0%}; "
                "measured on out-of-fold cross-validation predictions of the training data"
            ),
        }
    return chosen
