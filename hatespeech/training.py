"""Training: evaluate honestly, then fit the production model on all the data.

1. A stratified 20% held-out split: fit on 80% (rule tuned by inner CV on those 80%), score 20%.
2. Nested stratified k-fold cross-validation over all rows (see ``evaluate.cross_validate``).
3. The production model on all rows; its decision rule and thresholds are tuned on the
   out-of-fold probabilities of step 2, i.e. on training data only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from hatespeech import __version__, evaluate
from hatespeech.data import DAVIDSON_SHA256, Dataset
from hatespeech.pipeline import SEED, build_pipeline


@dataclass
class Trained:
    model: Pipeline
    card: dict  # what the model card records besides hashes, versions and probes
    cv_probabilities: np.ndarray


def train(data: Dataset, folds: int = 5, inner_folds: int = 3, seed: int = SEED) -> Trained:
    started = time.perf_counter()
    texts, labels = np.asarray(data.texts, dtype=object), data.labels

    train_idx, test_idx = train_test_split(np.arange(data.rows), test_size=0.2, stratify=labels, random_state=seed)
    inner = evaluate.out_of_fold(
        build_pipeline, texts[train_idx].tolist(), labels[train_idx], inner_folds, seed, "held-out split"
    )
    weights = evaluate.tune_rule(inner, labels[train_idx])
    held_model = build_pipeline().fit(texts[train_idx].tolist(), labels[train_idx])
    held_probs = held_model.predict_proba(texts[test_idx].tolist())
    holdout = evaluate.metrics(labels[test_idx], evaluate.decide(held_probs, weights), held_probs)

    cv = evaluate.cross_validate(build_pipeline, data.texts, labels, folds, inner_folds, seed)
    cross_validation = evaluate.metrics(labels, cv.predicted, cv.probabilities)
    cross_validation["folds"], cross_validation["fold_weights"] = folds, cv.fold_weights

    fit_started = time.perf_counter()
    model = build_pipeline().fit(data.texts, labels)
    fit_seconds = time.perf_counter() - fit_started
    card = {
        "version": __version__,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "training_seconds": round(time.perf_counter() - started, 1),
        "fit_seconds": round(fit_seconds, 2),
        "data": {
            "sha256": data.sha256,
            "rows": data.rows,
            "is_davidson_2017": data.sha256 == DAVIDSON_SHA256,
            "class_counts": np.bincount(labels, minlength=3).tolist(),
        },
        "seed": seed,
        "decision_rule": {
            "kind": "argmax of probabilities × per-class weights",
            "weights": evaluate.tune_rule(cv.probabilities, labels),
        },
        "thresholds": evaluate.choose_thresholds(cv.probabilities, labels),
        "metrics": {"holdout": holdout, "cross_validation": cross_validation},
    }
    return Trained(model, card, cv.probabilities)
