"""Accuracy benchmark: the tutorial's pipeline as published and ours, on the same folds, one run.

    .venv/bin/python bench/accuracy.py [--data PATH] [--tutorial-folds 1]

Ours: nested 5-fold stratified cross-validation with the production decision rule, exactly as
``train.py`` evaluates (hatespeech.training). The tutorial (Haitz 2019, "Creating and Deploying a
Python Machine Learning Service"): ``re.sub('[^A-Za-z]+', ' ', tweet.lower())`` at training time,
``TfidfVectorizer(stop_words=get_stop_words('en'))`` + ``OneVsRestClassifier(SVC(kernel='linear',
probability=True))``, and raw text at prediction time (its app.py does no cleaning). Fitting it
takes minutes per fold, so it runs on the first ``--tutorial-folds`` folds of the same split.
Prints a Markdown table for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import StratifiedKFold
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC
from stop_words import get_stop_words

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from hatespeech.config import DEFAULT_DATA_PATH
from hatespeech.core.labels import HATE
from hatespeech.training import evaluate
from hatespeech.training.data import load_dataset
from hatespeech.training.pipeline import (
    SEED,
    build_pipeline,
    fit,
)


def tutorial_fit_predict(train_texts: list[str], train_labels: np.ndarray, test_texts: list[str]) -> np.ndarray:
    cleaned = [re.sub("[^A-Za-z]+", " ", t.lower()) for t in train_texts]
    clf = make_pipeline(
        TfidfVectorizer(stop_words=get_stop_words("en")),
        OneVsRestClassifier(SVC(kernel="linear", probability=True)),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # probability=True is deprecated; stop words inconsistent: as published
        clf.fit(cleaned, train_labels)
        return clf.predict_proba(test_texts)


def row(name: str, labels: np.ndarray, probs: np.ndarray, ruled: np.ndarray | None, fit: float, rows: str) -> str:
    """One table row: argmax metrics, and the production rule's where the system has one."""
    argmax = evaluate.metrics(labels, probs.argmax(axis=1), probs)
    rule = evaluate.metrics(labels, ruled, probs) if ruled is not None else None
    hate = argmax["per_class"]["hate speech"]["f1"]
    cells = [
        name,
        f"{argmax['macro_f1']:.3f}",
        f"{rule['macro_f1']:.3f}" if rule else "—",
        f"{hate:.3f} / {rule['per_class']['hate speech']['f1']:.3f}" if rule else f"{hate:.3f} / —",
        f"{(rule or argmax)['weighted_f1']:.3f}",
        f"{argmax['ece']:.4f}",
        f"{argmax['brier']:.4f}",
        f"{fit:.1f}",
        rows,
    ]
    return "| " + " | ".join(cells) + " |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_PATH)
    parser.add_argument("--tutorial-folds", type=int, default=1, help="folds to run the slow tutorial pipeline on")
    args = parser.parse_args(argv)
    data = load_dataset(args.data)
    texts, labels = np.asarray(data.texts, dtype=object), data.labels
    folds = list(StratifiedKFold(n_splits=5, shuffle=True, random_state=SEED).split(texts, labels))

    print(f"{data.rows} rows, 5-fold stratified CV (seed {SEED}); ours nested with the production rule")
    cv = evaluate.cross_validate(build_pipeline, data, folds=5, inner_folds=3, seed=SEED)
    started = time.perf_counter()
    fit(build_pipeline(), data.texts, labels, data.agreement)
    ours_fit = time.perf_counter() - started

    header = (
        "| system | macro-F1 argmax | macro-F1 production rule | hate F1 (argmax / rule) | weighted F1 (rule) "
        "| ECE | Brier | fit s | rows scored |\n|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [header, row("ours (hatespeech-detect)", labels, cv.probabilities, cv.predicted, ours_fit, "all, 5 folds")]
    for k in range(min(args.tutorial_folds, 5)):
        train, test = folds[k]
        started = time.perf_counter()
        probs = tutorial_fit_predict(texts[train].tolist(), labels[train], texts[test].tolist())
        seconds = time.perf_counter() - started
        lines.append(
            row(
                f"tutorial as published, fold {k + 1}", labels[test], probs, None, seconds, f"{len(test)}, fold {k + 1}"
            )
        )
        lines.append(
            row(
                f"ours on the same fold {k + 1}",
                labels[test],
                cv.probabilities[test],
                cv.predicted[test],
                ours_fit,
                f"{len(test)}, fold {k + 1}",
            )
        )
    print("\n".join(lines))
    print(f"\nhate-speech support: {(labels == HATE).sum()} rows; fold weights of the rule: {cv.fold_weights}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
