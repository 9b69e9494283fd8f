"""Whether the feedback poisons the model: the same training with and without it, on the same base rows.

Feedback is written by whoever holds a credential; a few hundred rows labelling abusive posts
``neither`` can teach the model to allow them, and the feedback's own cross-validation cannot
see it (poison agrees with itself). The base data (Davidson et al.) can: ``assess`` fits

- *without*: the base training rows of ``evaluate.held_out``'s split (the same seed and share),
  decided by the rule tuned on them by inner cross-validation, as the base training tunes it;
- *with*: the same rows plus the feedback at its chosen weight, decided by each rule the model
  could carry (the one tuned by inner cross-validation with the feedback, and the rule it ships
  with, which the feedback may have recalibrated): the lower macro-F1 counts,

and scores both on the held-out base rows, which neither fit saw. A drop of more than
``MAX_DROP`` in macro-F1 refuses the model (``train.py`` exits 1 unless
``--accept-feedback-risk``). One split, one fit per side besides the rule's inner folds: a few
fits, not a nested cross-validation. The shipped rule was tuned on every base row's
out-of-fold probabilities, held-out ones included: three numbers, the same leak for any
feedback, and it can only make *with* look better, never refuse a sound model.

Only when the model is refused, what pulled hardest (a fit per source): for each source its rows,
the share of its labels that the base-only model confidently (``CONFIDENT``) contradicts, and
the macro-F1 recovered when that source alone is left out; and the rows whose label the base-only
model finds least likely (source and id, never the text).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from hatespeech.core.labels import LABELS
from hatespeech.training import evaluate
from hatespeech.training import feedback as board
from hatespeech.training.data import Dataset
from hatespeech.training.pipeline import build_pipeline

MAX_DROP = 0.01  # macro-F1 on held-out base rows the feedback may cost
CONFIDENT = 0.8  # the base-only model's probability of a class that counts as a confident prediction
MAX_SOURCES = 8  # sources left out one at a time (the largest); the others are listed without that figure
HARDEST_ROWS = 10
HELD_OUT = 0.2  # evaluate.held_out's share, as train.py uses it: the same rows


def _macro_f1(labels: np.ndarray, probabilities: np.ndarray, rule: list[float]) -> float:
    return float(f1_score(labels, evaluate.decide(probabilities, rule), average="macro"))


def assess(
    data: Dataset,
    feedback: board.Feedback,
    weight: float,
    rules: dict[str, list[float]],
    inner_folds: int,
    seed: int,
    build: Callable[[], Pipeline] = build_pipeline,
) -> dict[str, Any]:
    """The held-out base rows' macro-F1 without and with the feedback, the drop, and whether it refuses
    (``build``: the language's untrained pipeline).

    ``rules``: the rules the model with the feedback could be decided by (name → weights); the
    lowest macro-F1 among them counts. ``data`` is the base data the feedback does not relabel.
    """
    train, test = train_test_split(np.arange(data.rows), test_size=HELD_OUT, stratify=data.labels, random_state=seed)
    held_texts, held_labels = [data.texts[i] for i in test], data.labels[test]
    inner = evaluate.out_of_fold(build, evaluate._subset(data, train), inner_folds, seed)
    base_rule = evaluate.tune_rule(inner, data.labels[train])
    without = evaluate._fit(build, data, train)
    f1_without = _macro_f1(held_labels, without.predict_proba(held_texts), base_rule)

    def with_feedback(rows: np.ndarray | None = None) -> dict[str, float]:
        model = evaluate._fit(build, data, train, board.extra(feedback, weight, rows))
        probabilities = model.predict_proba(held_texts)
        return {name: _macro_f1(held_labels, probabilities, rule) for name, rule in rules.items()}

    by_rule = with_feedback()
    f1_with = min(by_rule.values())
    drop = f1_without - f1_with
    result: dict[str, Any] = {
        "held_out_base_rows": len(test),
        "macro_f1_without_feedback": round(f1_without, 4),
        "macro_f1_with_feedback": round(f1_with, 4),
        "macro_f1_with_feedback_by_rule": {name: round(f, 4) for name, f in by_rule.items()},
        "drop": round(drop, 4),
        "max_drop": MAX_DROP,
        "refused": bool(drop > MAX_DROP),
    }
    if result["refused"]:
        result.update(_attribute(feedback, without.predict_proba(feedback.texts), with_feedback, f1_with, drop))
    return result


def _attribute(
    feedback: board.Feedback,
    base_view: np.ndarray,  # the base-only model's probabilities for the feedback's texts
    with_feedback: Any,  # rows of the feedback → macro-F1 by rule
    f1_with: float,
    drop: float,
) -> dict[str, Any]:
    """Per source: rows, the share the base-only model confidently contradicts, the macro-F1 recovered
    without it; and the rows it finds least likely."""
    sources = np.array(feedback.row_sources or ("all",) * feedback.rows)
    predicted = base_view.argmax(axis=1)
    contradicted = (base_view.max(axis=1) >= CONFIDENT) & (predicted != feedback.labels)
    names = sorted(set(sources.tolist()), key=lambda s: -int((sources == s).sum()))
    per_source = []
    for rank, name in enumerate(names):
        mine = sources == name
        entry: dict[str, Any] = {
            "source": str(name),
            "rows": int(mine.sum()),
            "confidently_contradicted": round(float(contradicted[mine].mean()), 4),
            "recovered_without_it": None,
        }
        if len(names) == 1:  # the only source: without it is the training without feedback
            entry["recovered_without_it"] = round(drop, 4)
        elif rank < MAX_SOURCES:
            entry["recovered_without_it"] = round(min(with_feedback(np.flatnonzero(~mine)).values()) - f1_with, 4)
        per_source.append(entry)
    per_source.sort(key=lambda e: (-(e["recovered_without_it"] or 0.0), -e["confidently_contradicted"]))
    unlikely = base_view[np.arange(feedback.rows), feedback.labels]
    hardest = [i for i in np.argsort(unlikely, kind="stable") if contradicted[i]][:HARDEST_ROWS]
    ids = feedback.row_ids or tuple(f"row {i + 1}" for i in range(feedback.rows))
    return {
        "sources": per_source,
        "hardest_rows": [
            {
                "source": str(sources[i]),
                "id": ids[i],
                "label": LABELS[int(feedback.labels[i])],
                "base_model_says": LABELS[int(predicted[i])],
                "base_model_probability": round(float(base_view[i, predicted[i]]), 3),
                "base_model_probability_of_label": round(float(unlikely[i]), 3),
            }
            for i in hardest
        ],
    }
