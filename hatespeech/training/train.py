"""Training: evaluate honestly, then fit the production model on all the data.

1. A stratified 20% held-out split: fit on 80% (rule tuned by inner CV on those 80%), score 20%.
2. Nested stratified k-fold cross-validation over all rows (see ``evaluate.cross_validate``).
3. The production model on all rows; its decision rule and thresholds are tuned on the
   out-of-fold probabilities of step 2, i.e. on training data only.
4. With feedback, the same held-out split fitted with and without it (``risk.assess``): the
   card says how much macro-F1 on base rows the feedback costs, and train.py refuses a model
   it costs more than ``risk.MAX_DROP``.
5. With the manifest's sources (``sources.Corpus``), every fit prepares its rows by the manifest's
   recipe (training form, counterfactual copies), and the card lists each source and adds figures per
   source: its rows of the cross-validation, its held-out split scored by the production model, and
   the model trained without it scored on it (``judge.leave_one_out``, one fixed split).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline

from hatespeech import __version__
from hatespeech.core.labels import LABELS, severity_scores
from hatespeech.core.policy import weighted_argmax as decide
from hatespeech.lifecycle import rows as measured
from hatespeech.training import evaluate, judge, risk
from hatespeech.training import feedback as board
from hatespeech.training.data import DAVIDSON_SHA256, Dataset
from hatespeech.training.pipeline import SEED, build_pipeline, fit, normalised_once, preparing
from hatespeech.training.sources import Corpus


@dataclass
class Trained:
    model: Pipeline
    card: dict  # what the model card records besides hashes, versions and probes
    cv_probabilities: np.ndarray
    data: Dataset  # the base rows evaluated (without those the feedback relabels)
    data_predicted: np.ndarray  # the cross-validation's out-of-fold labels (the rule tuned inside each fold)
    feedback: board.Feedback | None = None
    feedback_probabilities: np.ndarray | None = None  # out-of-fold, at the chosen weight


def train(
    data: Dataset | Corpus,
    folds: int = 5,
    inner_folds: int = 3,
    seed: int = SEED,
    feedback: board.Feedback | None = None,
    build: Callable[[], Pipeline] = build_pipeline,
) -> Trained:
    """Evaluate, then fit on all rows; with ``feedback`` (a board's labels), see training_feedback;
    with a ``Corpus`` (the manifest's sources), see step 5 above. ``build`` makes the untrained
    pipeline (another language's: ``hatespeech.training.languages``)."""
    corpus = data if isinstance(data, Corpus) else None
    dataset = data.dataset() if isinstance(data, Corpus) else data
    with normalised_once(), preparing(None if corpus is None else corpus.recipe.prepare()):
        trained = _train(dataset, folds, inner_folds, seed, feedback, build)
        if corpus is not None:
            trained.card["data"] |= _sources_section(corpus)
            trained.card["metrics"] |= _per_source(corpus, trained, inner_folds, seed)
    return trained


def _sources_section(corpus: Corpus) -> dict[str, Any]:
    return {
        "sources": corpus.card,
        "training": corpus.recipe.card(),
        "sample_weights": "the source's weight × annotator agreement where the source has the counts",
    }


def _clean_flagged(probabilities: np.ndarray, labels: np.ndarray, thresholds: dict) -> float:
    """Share of clean rows reaching a review threshold (the threat check not included)."""
    severity = severity_scores(probabilities)
    reached = np.zeros(len(labels), dtype=bool)
    for label, t in thresholds.items():
        reached |= severity[label] >= t["review"]
    clean = labels == LABELS.index("neither")
    return float(reached[clean].mean())


def _per_source(corpus: Corpus, trained: Trained, inner_folds: int, seed: int) -> dict[str, Any]:
    """Each source's rows of the cross-validation, its held-out rows scored by the production model, and
    the model trained without it scored on it."""
    card, cv = trained.card, trained.cv_probabilities
    rule, thresholds = card["decision_rule"]["weights"], card["thresholds"]
    which = corpus.trained_sources()
    aligned = len(which) == trained.data.rows  # else the feedback relabelled base rows: no per-source split
    result: dict[str, Any] = {"per_source": {}, "held_out": {}}
    for k, name in enumerate(corpus.names):
        mine = which == k
        if aligned and mine.any():
            labels = trained.data.labels[mine]
            part = evaluate.metrics(labels, trained.data_predicted[mine], cv[mine])
            part["clean_flagged"] = _clean_flagged(cv[mine], labels, thresholds)
            result["per_source"][name] = part
        held = corpus.rows(name, held_out=True)
        if len(held):
            probabilities = trained.model.predict_proba([corpus.texts[i] for i in held])
            labels = corpus.labels[held]
            part = evaluate.metrics(labels, decide(probabilities, rule), probabilities)
            part["clean_flagged"] = _clean_flagged(probabilities, labels, thresholds)
            result["held_out"][name] = part
    if {"davidson", "hatexplain"} <= set(corpus.names):
        result["leave_one_source_out"] = judge.leave_one_out(corpus.recipe, corpus.weights, corpus)
    return result


def _train(
    data: Dataset,
    folds: int,
    inner_folds: int,
    seed: int,
    feedback: board.Feedback | None,
    build: Callable[[], Pipeline] = build_pipeline,
) -> Trained:
    started = time.perf_counter()
    extra, fitted, dropped, given = None, None, 0, data
    if feedback is not None:
        data, dropped = board.without_feedback_texts(data, feedback)
        fitted = board.choose_weight(data, feedback, seed, build)
        extra = board.extra(feedback, fitted.weight)
    holdout = evaluate.held_out(build, data, 0.2, inner_folds, seed, extra)
    cv = evaluate.cross_validate(build, data, folds, inner_folds, seed, extra)
    cross_validation = evaluate.metrics(data.labels, cv.predicted, cv.probabilities)
    cross_validation["folds"], cross_validation["fold_weights"] = folds, cv.fold_weights

    fit_started = time.perf_counter()
    texts, labels, weights = data.texts, data.labels, data.agreement
    if extra is not None:
        texts, labels = texts + extra.texts, np.concatenate([labels, extra.labels])
        weights = np.concatenate([np.ones(data.rows) if weights is None else weights, extra.weights])
    model = fit(build(), texts, labels, weights)
    fit_seconds = time.perf_counter() - fit_started
    thresholds = evaluate.choose_thresholds(cv.probabilities, data.labels)
    card: dict[str, Any] = {
        "version": __version__,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "training_seconds": round(time.perf_counter() - started, 1),
        "fit_seconds": round(fit_seconds, 2),
        "data": {
            "sha256": data.sha256,
            "rows": given.rows,  # the file's rows (feedback may relabel some: see feedback.base_rows_relabelled)
            "is_davidson_2017": data.sha256 == DAVIDSON_SHA256,
            "class_counts": np.bincount(given.labels, minlength=3).tolist(),
            "sample_weights": "annotator agreement" if data.agreement is not None else "none",
        },
        "seed": seed,
        "decision_rule": {
            "kind": "argmax of probabilities × per-class weights",
            "weights": evaluate.tune_rule(cv.probabilities, data.labels, data.groups),
        },
        "thresholds": thresholds,
        "threshold_curves": evaluate.threshold_curves(cv.probabilities, data.labels, thresholds),
        "metrics": {"holdout": holdout, "cross_validation": cross_validation},
        # every base row, predicted by a fit that did not see it: model.py compares two models on the rows
        # both were measured on, from their cards
        "measured_rows": {
            "base": measured.outcomes(
                data.texts,
                data.labels.tolist(),
                cv.predicted.tolist(),
                data_sha256=data.sha256,
                seed=seed,
                how=f"{folds}-fold cross-validation, out of fold, the rule tuned inside each fold",
            )
        },
    }
    if feedback is not None and fitted is not None:
        card["feedback"] = board.card_section(feedback, fitted, card, dropped)
        card["decision_rule"]["weights"] = card["feedback"].pop("weights")
        card["thresholds"] = card["feedback"].pop("thresholds")
        # a threshold recalibrated on the board's labels gets its curve from the same probabilities,
        # so the review page's sliders describe the thresholds in force
        board_curves = evaluate.threshold_curves(fitted.probabilities, feedback.labels, card["thresholds"])
        for label in card["feedback"]["recalibrated_thresholds"]:
            card["threshold_curves"][label] = {**board_curves[label], "data": "the board's feedback"}
        # the same training without the feedback, on the same held-out base rows: is it poisoned?
        rules = {"tuned with the feedback": holdout["weights"], "shipped": card["decision_rule"]["weights"]}
        card["feedback"]["risk"] = risk.assess(data, feedback, fitted.weight, rules, inner_folds, seed, build)
        card["training_seconds"] = round(time.perf_counter() - started, 1)
        card["measured_rows"]["feedback"] = measured.outcomes(
            feedback.texts,
            feedback.labels.tolist(),
            decide(fitted.probabilities, card["decision_rule"]["weights"]).tolist(),
            data_sha256=feedback.sha256,
            seed=seed,
            how="out of fold at the chosen weight, the board's rule",
        )
    return Trained(
        model, card, cv.probabilities, data, cv.predicted, feedback, None if fitted is None else fitted.probabilities
    )
