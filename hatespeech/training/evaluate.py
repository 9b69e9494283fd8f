"""Honest evaluation: cross-validation, metrics, calibration, and the decision rule.

The decision rule multiplies the calibrated probabilities by per-class weights and takes the
argmax. Rare hate speech gets a weight above 1, so it is not drowned by the far more common
offensive class. The weights are always tuned on out-of-fold predictions of *training* data: for
the production model on the whole training set, and, to measure the rule honestly, inside each
outer training fold (nested cross-validation), never on the rows being scored.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from tqdm.auto import tqdm

from hatespeech.core.labels import LABELS, severity_scores
from hatespeech.core.policy import weighted_argmax as decide  # the served rule, not a copy of it
from hatespeech.training.data import Dataset
from hatespeech.training.pipeline import fit

# The rule's search space is a coarse √2 grid, and the chosen cell is the best of the grid
# smoothed over its 3×3 neighbourhood: a plateau generalises, a lone spike is the folds' noise.
HATE_WEIGHTS = 2.0 ** (np.arange(0, 7) / 2)  # 1 … 8
NEITHER_WEIGHTS = 2.0 ** (np.arange(-2, 5) / 2)  # 0.5 … 4
ECE_BINS = 15


def tune_rule(probabilities: np.ndarray, labels: np.ndarray, groups: np.ndarray | None = None) -> list[float]:
    """Per-class weights ``[hate, 1, neither]`` maximising smoothed macro-F1 on out-of-fold data; with
    ``groups`` (each row's source), the mean of the sources' macro-F1: a rule good for each community, not
    for the pooled mixture, where the source richest in hate speech would set it for all."""
    parts = [np.ones(len(labels), bool)] if groups is None else [groups == g for g in np.unique(groups)]

    def score(weights: list[float]) -> float:
        predicted = decide(probabilities, weights)
        return float(np.mean([f1_score(labels[m], predicted[m], average="macro") for m in parts]))

    grid = np.array([[score([h, 1.0, n]) for n in NEITHER_WEIGHTS] for h in HATE_WEIGHTS])
    padded = np.pad(grid, 1, mode="edge")
    smooth = sum(
        padded[1 + i : 1 + i + grid.shape[0], 1 + j : 1 + j + grid.shape[1]] for i in (-1, 0, 1) for j in (-1, 0, 1)
    )
    h, n = np.unravel_index(np.argmax(smooth), grid.shape)  # smooth has grid's shape
    return [round(float(HATE_WEIGHTS[h]), 4), 1.0, round(float(NEITHER_WEIGHTS[n]), 4)]


def calibration_bins(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS
) -> list[tuple[float, float, int]]:
    """The rows binned by their top-class probability (equal-width bins; the empty ones left out):
    per bin, the mean of that probability, how often the top class was right, and the rows."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    return [
        (float(confidence[in_bin].mean()), float(correct[in_bin].mean()), int(in_bin.sum()))
        for in_bin in (which == b for b in range(bins))
        if in_bin.any()
    ]


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE on the top-class probability, equal-width bins: Σ |accuracy − confidence| · share."""
    rows = len(labels)
    ece = 0.0
    for confidence, accuracy, count in calibration_bins(probabilities, labels, bins):
        ece += abs(accuracy - confidence) * (count / rows)
    return ece


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


@dataclass(frozen=True)
class Extra:
    """Rows added to every fit but never scored: a board's feedback, with its weight (training/feedback.py)."""

    texts: list[str]
    labels: np.ndarray
    weights: np.ndarray


def _fit(build: Callable[[], Pipeline], data: Dataset, rows: np.ndarray, extra: Extra | None = None) -> Pipeline:
    texts, labels = [data.texts[i] for i in rows], data.labels[rows]
    weights = None if data.agreement is None else data.agreement[rows]
    if extra is not None:
        weights = np.concatenate([np.ones(len(rows)) if weights is None else weights, extra.weights])
        texts, labels = texts + extra.texts, np.concatenate([labels, extra.labels])
    return fit(build(), texts, labels, weights)


def _subset(data: Dataset, rows: np.ndarray) -> Dataset:
    agreement = None if data.agreement is None else data.agreement[rows]
    groups = None if data.groups is None else data.groups[rows]
    return replace(
        data, texts=[data.texts[i] for i in rows], labels=data.labels[rows], agreement=agreement, groups=groups
    )


def _groups(data: Dataset, rows: np.ndarray) -> np.ndarray | None:
    return None if data.groups is None else data.groups[rows]


def out_of_fold(
    build: Callable[[], Pipeline],
    data: Dataset,
    folds: int,
    seed: int,
    progress: str | None = None,
    extra: Extra | None = None,
) -> np.ndarray:
    """Out-of-fold probabilities from a stratified k-fold split (fixed seed); ``extra`` rows join every fit."""
    result = np.zeros((data.rows, len(LABELS)))
    splits = list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(data.texts, data.labels))
    # disable=None: no bar when stderr is not a terminal (a redirected log gets no progress lines)
    quiet = True if progress is None else None
    for train, test in tqdm(splits, desc=progress, disable=quiet, leave=False, unit="fold"):
        result[test] = _fit(build, data, train, extra).predict_proba([data.texts[i] for i in test])
    return result


def cross_validate(
    build: Callable[[], Pipeline],
    data: Dataset,
    folds: int = 5,
    inner_folds: int = 3,
    seed: int = 42,
    extra: Extra | None = None,
) -> CrossValidation:
    """Nested CV: each outer fold tunes its rule on inner out-of-fold predictions of its training rows."""
    cv = CrossValidation(np.zeros((data.rows, len(LABELS))), np.zeros(data.rows, dtype=int))
    splits = list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(data.texts, data.labels))
    for train, test in tqdm(splits, desc="cross-validation", unit="fold", disable=None):
        inner = out_of_fold(build, _subset(data, train), inner_folds, seed, extra=extra)
        weights = tune_rule(inner, data.labels[train], _groups(data, train))
        cv.probabilities[test] = _fit(build, data, train, extra).predict_proba([data.texts[i] for i in test])
        cv.predicted[test] = decide(cv.probabilities[test], weights)
        cv.fold_weights.append(weights)
    return cv


def held_out(
    build: Callable[[], Pipeline], data: Dataset, share: float, inner_folds: int, seed: int, extra: Extra | None = None
) -> dict:
    """Metrics on a stratified held-out share, the rule tuned by inner CV on the rest."""
    train, test = train_test_split(np.arange(data.rows), test_size=share, stratify=data.labels, random_state=seed)
    inner = out_of_fold(build, _subset(data, train), inner_folds, seed, "held-out split", extra)
    weights = tune_rule(inner, data.labels[train], _groups(data, train))
    probabilities = _fit(build, data, train, extra).predict_proba([data.texts[i] for i in test])
    return metrics(data.labels[test], decide(probabilities, weights), probabilities) | {"weights": weights}


# What the default moderation thresholds promise, measured on out-of-fold training predictions:
# the share of clean posts (annotated "neither") that reach them. Unlike precision, that share does
# not depend on how common abuse is, so it holds on a board where most posts are clean (in this
# data 83% are abusive).
REVIEW_CLEAN_SHARE = 0.05
BLOCK_CLEAN_SHARE = 0.005


def choose_thresholds(
    probabilities: np.ndarray,
    labels: np.ndarray,
    classes: Sequence[str] | None = None,
    dialects: np.ndarray | None = None,
    max_ratio: float = 1.5,
    constrained: Sequence[str] | None = None,
) -> dict[str, dict]:
    """Per abusive class (or only ``classes``), the severity scores (``labels.severity_scores``) that
    at most 5% (review) and 0.5% (block) of clean posts reach, with the share of the class each one catches.

    With ``dialects`` (per row: 1 African-American-aligned, 0 White-aligned, -1 neither; training rows
    only), each review threshold is raised, if need be, until the clean AAE-aligned rows reach it at most
    ``max_ratio`` times as often as the clean White-aligned ones (``dialect_constrained``); only the classes
    ``constrained`` if given."""
    clean = labels == LABELS.index("neither")
    severity = severity_scores(probabilities)
    chosen: dict[str, dict] = {}
    for k, label in enumerate(LABELS):
        if label == "neither" or (classes is not None and label not in classes):
            continue
        score = severity[label]
        picked = {}
        for action, share in (("review", REVIEW_CLEAN_SHARE), ("block", BLOCK_CLEAN_SHARE)):
            t = float(np.quantile(score[clean], 1 - share, method="higher"))
            if dialects is not None and action == "review" and (constrained is None or label in constrained):
                t = dialect_constrained(score[clean], dialects[clean], t, max_ratio)
            # just above that clean post, rounded *up* to 4 decimals: rounding to nearest could fall back
            # below it and let more than `share` of clean posts reach the threshold
            t = min(1.0, math.ceil(float(np.nextafter(t, 1.0)) * 10_000) / 10_000)
            picked[action] = (t, float((score[clean] >= t).mean()), float((score[labels == k] >= t).mean()))
        chosen[label] = {
            "review": picked["review"][0],
            "block": max(picked["block"][0], picked["review"][0]),
            "meaning": (
                f"review: reached by {picked['review'][1]:.1%} of clean posts, catches {picked['review'][2]:.0%} "
                f"of {label}; block: reached by {picked['block'][1]:.1%} of clean posts, catches "
                f"{picked['block'][2]:.0%} of {label} (out-of-fold cross-validation on the training data)"
            ),
        }
    return chosen


def dialect_constrained(clean_scores: np.ndarray, dialects: np.ndarray, start: float, max_ratio: float) -> float:
    """The lowest clean score at or above ``start`` such that clean AAE-aligned rows (``dialects == 1``) score
    above it at most ``max_ratio`` times as often as clean White-aligned ones (``dialects == 0``); the
    threshold is then just above it, as ``choose_thresholds`` rounds. Only raised: lowering it to flag more
    White-aligned posts would meet the ratio by flagging more clean posts.

    >>> scores, dialects = np.array([0.5, 0.9, 0.2, 0.6, 0.1, 0.4]), np.array([1, 1, 0, 0, 0, -1])
    >>> dialect_constrained(scores, dialects, 0.2, 1.5), dialect_constrained(scores, dialects, 0.2, 3.0)
    (0.5, 0.2)
    """
    aae, white = np.sort(clean_scores[dialects == 1]), np.sort(clean_scores[dialects == 0])
    if not len(aae) or not len(white):
        return start
    for t in np.unique(clean_scores[clean_scores >= start]):  # rising; reached = strictly above t
        a = 1 - np.searchsorted(aae, t, side="right") / len(aae)
        w = 1 - np.searchsorted(white, t, side="right") / len(white)
        if a <= max_ratio * w or a == 0:
            return float(t)
    return float(clean_scores.max())


# The points of the threshold curves: an even grid, plus the places where the shares move fastest
# (the clean posts' tail, where the review and block thresholds live, and the class's quantiles).
CURVE_CLEAN_SHARES = (0.5, 0.3, 0.2, 0.15, 0.1, 0.07, 0.05, 0.04, 0.03, 0.02, 0.015, 0.01, 0.007, 0.005, 0.003, 0.002)


def threshold_curves(probabilities: np.ndarray, labels: np.ndarray, chosen: dict | None = None) -> dict[str, dict]:
    """Per abusive class, what each threshold would do, from the out-of-fold probabilities that
    ``choose_thresholds`` uses: ``thresholds`` (rising), ``clean_reached`` (the share of clean
    posts whose severity score reaches it) and ``caught`` (the share of that class that does).

    The review page's sliders move over these points; the chosen thresholds are among them.
    """
    clean = labels == LABELS.index("neither")
    severity = severity_scores(probabilities)
    curves: dict[str, dict] = {}
    for k, label in enumerate(LABELS):
        if label == "neither":
            continue
        score = np.asarray(severity[label])
        points = {round(float(t), 4) for t in np.linspace(0.0, 1.0, 101)}
        if clean.any():  # a board's labels may lack a class: then the even grid only
            points |= {round(float(np.quantile(score[clean], 1 - s)), 4) for s in CURVE_CLEAN_SHARES}
        if (labels == k).any():
            points |= {round(float(t), 4) for t in np.quantile(score[labels == k], np.linspace(0.02, 0.98, 49))}
        points |= {float(v) for v in (chosen or {}).get(label, {}).values() if isinstance(v, int | float)}
        thresholds = np.array(sorted(points))
        clean_sorted, class_sorted = np.sort(score[clean]), np.sort(score[labels == k])
        # share reaching t = 1 − (how many are below t) / n
        reached = 1 - np.searchsorted(clean_sorted, thresholds, side="left") / max(len(clean_sorted), 1)
        caught = 1 - np.searchsorted(class_sorted, thresholds, side="left") / max(len(class_sorted), 1)
        curves[label] = {
            "data": "the training data",  # train.py says "the board's feedback" for a recalibrated threshold
            "score": "P(hate speech)" if label == "hate speech" else "P(hate speech) + P(offensive language)",
            "clean_posts": int(clean.sum()),
            "class_posts": int((labels == k).sum()),
            "thresholds": thresholds.tolist(),
            "clean_reached": [round(float(v), 6) for v in reached],
            "caught": [round(float(v), 6) for v in caught],
        }
    return curves
