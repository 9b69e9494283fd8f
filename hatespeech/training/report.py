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
from sklearn.metrics import precision_recall_curve

from hatespeech.core.labels import LABELS
from hatespeech.training.evaluate import ECE_BINS

FEEDBACK_FILES = ("feedback.json", "feedback_confusion_matrix.png", "feedback_precision_recall.png")


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
    written.append(_precision_recall(folder / "precision_recall.png", labels, probabilities, thresholds or {}))
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


def _precision_recall(path: Path, labels: np.ndarray, probabilities: np.ndarray, thresholds: dict) -> Path:
    fig, axes = plt.subplots(1, len(LABELS), figsize=(13, 4.2))
    for k, (ax, label) in enumerate(zip(axes, LABELS, strict=False)):
        # the score the thresholds compare: "at least offensive" for offensive language
        score = probabilities[:, k] if label != "offensive language" else probabilities[:, :2].sum(axis=1)
        precision, recall, cut = precision_recall_curve(labels == k, score)
        ax.plot(recall, precision, color="C0")
        for action, marker in (("review", "o"), ("block", "s")):
            t = thresholds.get(label, {}).get(action)
            if t is not None:
                i = min(np.searchsorted(cut, t), len(cut) - 1)
                ax.plot(
                    recall[i],
                    precision[i],
                    marker,
                    color="C3" if action == "block" else "C1",
                    label=f"{action} ≥ {t:.2f}",
                )
        ax.set_title(label if label != "offensive language" else "offensive language (score: P(hate) + P(offensive))")
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        if thresholds.get(label):
            ax.legend(loc="lower left")
    fig.suptitle("Precision–recall per class (cross-validation), with the default thresholds")
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
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfectly calibrated")
    ax.plot(centres, accuracy, "o-", color="C0", label=f"model (ECE {ece:.3f})")
    for x, y, n in zip(centres, accuracy, counts, strict=False):
        ax.annotate(str(n), (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7, color="grey")
    ax.set_xlabel("confidence (top probability)")
    ax.set_ylabel("accuracy")
    ax.set_title("Reliability (cross-validation)")
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
    confusion matrix in its own labels and its severity scores' precision–recall, out-of-fold."""
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

    # What the thresholds compare, where the board has both sides (as board_metrics' ROC AUC)
    curves = []
    if "hate speech" in names and 0 < (labels == 0).sum() < len(labels):
        curves.append(("hate speech", labels == 0, probabilities[:, 0]))
    if "neither" in names and 0 < (labels != 2).sum() < len(labels):
        curves.append(("offensive language", labels != 2, probabilities[:, :2].sum(axis=1)))
    fig, axes = plt.subplots(1, max(len(curves), 1), figsize=(6.5 * max(len(curves), 1), 4.2), squeeze=False)
    for ax, (label, truth, score) in zip(axes[0], curves, strict=False):
        precision, recall, cut = precision_recall_curve(truth, score)
        ax.plot(recall, precision, color="C0")
        for action, marker in (("review", "o"), ("block", "s")):
            t = thresholds.get(label, {}).get(action)
            if t is not None:
                i = min(np.searchsorted(cut, t), len(cut) - 1)
                colour = "C3" if action == "block" else "C1"
                ax.plot(recall[i], precision[i], marker, color=colour, label=f"{action} ≥ {t:.2f}")
        what = "hate speech" if label == "hate speech" else "abusive (score: P(hate) + P(offensive))"
        ax.set_title(what)
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        if thresholds.get(label):
            ax.legend(loc="lower left")
    fig.suptitle("Feedback: precision–recall (out-of-fold), with the thresholds in force")
    fig.tight_layout()
    written.append(folder / FEEDBACK_FILES[2])
    fig.savefig(written[-1], dpi=110)
    plt.close(fig)
    return written
