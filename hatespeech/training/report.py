"""The evaluation report written next to the model: metrics as JSON and plots as PNG.

It holds numbers only, never a text from the data. The plots are drawn on matplotlib ``Figure``
objects, not through pyplot: they need no backend, so neither importing this module nor writing a
report chooses one for the process (or opens a window).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import ConfusionMatrixDisplay

from hatespeech.core.labels import LABELS
from hatespeech.training.evaluate import calibration_bins, threshold_curves

FEEDBACK_FILES = ("feedback.json", "feedback_confusion_matrix.png", "feedback_thresholds.png")


def write_report(
    folder: Path,
    evaluation: dict,
    labels: np.ndarray,
    probabilities: np.ndarray,
    thresholds: dict | None = None,
) -> list[Path]:
    """Write evaluation.json and three plots from out-of-fold probabilities; return the paths."""
    folder = Path(folder)
    written = [_write_json(folder / "evaluation.json", evaluation)]
    for stale in FEEDBACK_FILES:  # a model trained without feedback must not sit beside an older one's
        (folder / stale).unlink(missing_ok=True)
    cv = evaluation["cross_validation"]
    written.append(
        _confusion(
            folder / "confusion_matrix.png",
            np.array(cv["confusion_matrix"]),
            LABELS,
            "Confusion matrix\n(cross-validation, production rule)",  # one line would run into the colour bar
        )
    )
    written.append(_thresholds(folder / "thresholds.png", labels, probabilities, thresholds or {}))
    written.append(_reliability(folder / "reliability.png", labels, probabilities, cv["ece"]))
    return written


def _write_json(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)  # a Figure of its own: pyplot does not hold it, nothing to close
    return path


def _confusion(
    path: Path,
    matrix: np.ndarray,
    names: Sequence[str],
    title: str,
    true: str = "true",
    predicted: str = "predicted",
    share_of: str = "the true class",
) -> Path:
    """A confusion matrix (rows: the ``true`` labels), each cell as a share of its row and a count."""
    # A class without rows (a board's labels may lack one) shows zeros, not 0/0.
    share = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    fig = Figure(figsize=(5.5, 4.5))
    ax = fig.subplots()
    display = ConfusionMatrixDisplay(share, display_labels=list(names)).plot(
        ax=ax, cmap="Blues", xticks_rotation=20, colorbar=False, im_kw={"vmin": 0, "vmax": 1}, text_kw={"fontsize": 9}
    )
    for (i, j), text in np.ndenumerate(display.text_):
        text.set_text(f"{share[i, j]:.2f}\n({matrix[i, j]})")
        text.set_color("white" if share[i, j] > 0.5 else "black")
    fig.colorbar(display.im_, ax=ax, label=f"share of {share_of}")
    ax.set_xlabel(predicted)
    ax.set_ylabel(true)
    ax.set_title(title)
    return _save(fig, path)


def _thresholds(
    path: Path,
    labels: np.ndarray,
    probabilities: np.ndarray,
    thresholds: dict,
    title: str = "What a threshold does: posts reaching it are reviewed (or blocked). Out-of-fold "
    "cross-validation; dashed: the default thresholds",
) -> Path:
    """Per abusive class, against the threshold: the share of clean posts that reach it (the cost: posts
    a moderator looks at, or blocks, for nothing) and the share of that class caught (the gain).
    Classes without posts (a board's labels may lack one) are left out."""
    curves = {
        label: curve
        for label, curve in threshold_curves(probabilities, labels, thresholds).items()
        if curve["class_posts"] and curve["clean_posts"]
    }
    fig = Figure(figsize=(6.5 * max(len(curves), 1), 4.8))
    axes = fig.subplots(1, max(len(curves), 1), squeeze=False)
    for ax, (label, curve) in zip(axes[0], curves.items(), strict=False):
        t = np.array(curve["thresholds"])
        ax.plot(t, np.array(curve["caught"]) * 100, color="C0", label=f"share of {label} caught")
        ax.plot(t, np.array(curve["clean_reached"]) * 100, color="C2", label="share of clean posts reaching it")
        for action, color in (("review", "C1"), ("block", "C3")):
            value = thresholds.get(label, {}).get(action)
            if value is None:
                continue
            i = int(np.searchsorted(t, value))
            ax.axvline(value, color=color, linestyle="--", linewidth=1)
            ax.annotate(
                f"{action} ≥ {value}\n{curve['clean_reached'][i]:.1%} of clean posts\n"
                f"{curve['caught'][i]:.0%} of {label} caught",
                (value, 55 if action == "review" else 20),
                xytext=(4, 0),
                textcoords="offset points",
                color=color,
                fontsize=8,
                ha="left" if value < 0.7 else "right",
            )
        ax.set_title(f"{label} (score: {curve['score']})", fontsize=10)
        ax.set_xlabel("threshold on the score")
        ax.set_ylabel("share of posts (%)")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 101)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right" if label == "hate speech" else "lower left", fontsize=8)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def _reliability(path: Path, labels: np.ndarray, probabilities: np.ndarray, ece: float) -> Path:
    bins = calibration_bins(probabilities, labels)
    fig = Figure(figsize=(5, 5))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], "--", color="grey", label="a model whose probabilities are exact")
    label = f"this model (off by {ece * 100:.1f} points on average)"
    ax.plot([b[0] for b in bins], [b[1] for b in bins], "o-", color="C0", label=label)
    for x, y, n in bins:
        ax.annotate(str(n), (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7, color="grey")
    ax.set_xlabel("the probability the model gave its answer")
    ax.set_ylabel("how often that answer was right")
    title = "Can the probabilities be taken at their word?\n(cross-validation; grey: posts per point)"
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def write_feedback_report(
    folder: Path, section: dict, labels: np.ndarray, probabilities: np.ndarray, thresholds: dict
) -> list[Path]:
    """The board's evaluation beside the base one: feedback.json (the card's ``feedback``), its
    confusion matrix in its own labels and what each threshold does on its posts, out-of-fold."""
    folder = Path(folder)
    written = [_write_json(folder / FEEDBACK_FILES[0], section)]
    oof = section["out_of_fold"]
    written.append(
        _confusion(
            folder / FEEDBACK_FILES[1],
            np.array(oof["confusion_matrix"]),
            oof["labels"],
            f"Feedback, out-of-fold\nmacro-F1 {oof['macro_f1']:.3f}",
            true="the board's label",
            predicted="predicted (in the board's labels)",
            share_of="the board's label",
        )
    )
    # What the thresholds do on the board's own posts, as thresholds.png does on the base data
    title = "Feedback: what a threshold does on the board's labelled posts (out-of-fold); dashed: in force"
    written.append(_thresholds(folder / FEEDBACK_FILES[2], labels, probabilities, thresholds, title))
    return written
