"""The evaluation report written next to the model: metrics as JSON and plots as PNG.

It holds numbers only, never a text from the data.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no screen
import matplotlib.pyplot as plt
import numpy as np

from hatespeech.core.labels import LABELS
from hatespeech.training.evaluate import ECE_BINS, threshold_curves

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
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / "evaluation.json"]
    written[0].write_text(json.dumps(evaluation, indent=2) + "\n")
    for stale in FEEDBACK_FILES:  # a model trained without feedback must not sit beside an older one's
        (folder / stale).unlink(missing_ok=True)
    cv = evaluation["cross_validation"]
    written.append(_confusion(folder / "confusion_matrix.png", np.array(cv["confusion_matrix"])))
    written.append(_thresholds(folder / "thresholds.png", labels, probabilities, thresholds or {}))
    written.append(_reliability(folder / "reliability.png", labels, probabilities, cv["ece"]))
    return written


def _confusion(path: Path, matrix: np.ndarray) -> Path:
    share = matrix / matrix.sum(axis=1, keepdims=True)
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(LABELS)), LABELS, rotation=20)
    ax.set_yticks(range(len(LABELS)), LABELS)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(LABELS)):
        for j in range(len(LABELS)):
            ax.text(
                j,
                i,
                f"{share[i, j]:.2f}\n({matrix[i, j]})",
                ha="center",
                va="center",
                color="white" if share[i, j] > 0.5 else "black",
                fontsize=9,
            )
    fig.colorbar(image, ax=ax, label="share of the true class")
    ax.set_title("Confusion matrix (cross-validation, production rule)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


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
    fig, axes = plt.subplots(1, max(len(curves), 1), figsize=(6.5 * max(len(curves), 1), 4.8), squeeze=False)
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
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _reliability(path: Path, labels: np.ndarray, probabilities: np.ndarray, ece: float) -> Path:
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0, 1, ECE_BINS + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, ECE_BINS - 1)
    centres, accuracy, counts = [], [], []
    for b in range(ECE_BINS):
        mask = which == b
        if mask.any():
            centres.append(confidence[mask].mean())
            accuracy.append(correct[mask].mean())
            counts.append(mask.sum())
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], "--", color="grey", label="a model whose probabilities are exact")
    ax.plot(centres, accuracy, "o-", color="C0", label=f"this model (off by {ece * 100:.1f} points on average)")
    for x, y, n in zip(centres, accuracy, counts, strict=False):
        ax.annotate(str(n), (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7, color="grey")
    ax.set_xlabel("the probability the model gave its answer")
    ax.set_ylabel("how often that answer was right")
    title = "Can the probabilities be taken at their word?\n(cross-validation; grey: posts per point)"
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_feedback_report(
    folder: Path, section: dict, labels: np.ndarray, probabilities: np.ndarray, thresholds: dict
) -> list[Path]:
    """The board's evaluation beside the base one: feedback.json (the card's ``feedback``), its
    confusion matrix in its own labels and what each threshold does on its posts, out-of-fold."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / FEEDBACK_FILES[0]]
    written[0].write_text(json.dumps(section, indent=2) + "\n")
    oof = section["out_of_fold"]
    matrix = np.array(oof["confusion_matrix"])
    share = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    names = oof["labels"]
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=20)
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted (in the board's labels)")
    ax.set_ylabel("the board's label")
    for i in range(len(names)):
        for j in range(len(names)):
            colour = "white" if share[i, j] > 0.5 else "black"
            ax.text(j, i, f"{share[i, j]:.2f}\n({matrix[i, j]})", ha="center", va="center", color=colour, fontsize=9)
    fig.colorbar(image, ax=ax, label="share of the board's label")
    ax.set_title(f"Feedback, out-of-fold\nmacro-F1 {oof['macro_f1']:.3f}")
    fig.tight_layout()
    written.append(folder / FEEDBACK_FILES[1])
    fig.savefig(written[-1], dpi=110)
    plt.close(fig)

    # What the thresholds do on the board's own posts, as thresholds.png does on the base data
    title = "Feedback: what a threshold does on the board's labelled posts (out-of-fold); dashed: in force"
    written.append(_thresholds(folder / FEEDBACK_FILES[2], labels, probabilities, thresholds, title))
    return written
