"""Training with a board's own labels: ``python train.py --feedback store|PATH``.

The board's feedback (moderators' labels, from the feedback store or a CSV) joins the base data
(Davidson et al.), and:

1. where the feedback labels a text the base data has too, the feedback wins: those base rows
   are dropped (texts compared after normalisation);
2. the feedback rows' weight in the fit is chosen among ``WEIGHTS`` by ``FOLDS``-fold
   cross-validation on the feedback: each fold's rows are scored by a model fitted on the base
   data plus the other folds; the weight whose out-of-fold macro-F1 on the board is best wins
   (the smaller on a tie: the less the base data is drowned);
3. the decision rule's weights and the thresholds are recalibrated on those out-of-fold
   probabilities, i.e. on the board's own labels, where its labels cover them (``movable``) and it
   has at least ``MIN_PER_CLASS`` rows of each label it uses; otherwise the base ones are kept, and
   the card says so.

A board may use only some labels (say "hate speech" and "neither"): its scores are then read in
its terms (``board_predictions``), and only the weights and thresholds its labels cover change.
A parameter sets the boundary between two classes, and the board's labels speak of it only when
they hold both: a rule's weight is a ratio to offensive language's (fixed at 1), so hate speech's
weight (the hate/offensive boundary) needs both labels, and neither's (the offensive/neither
boundary) needs both; a class's thresholds are set against clean posts, so they need that class
and "neither". A hate/neither board thus keeps the whole rule and moves the hate-speech
thresholds only: moving either weight would move a boundary with offensive language, which its
labels say nothing about (HateXplain's Gab posts raised the neither weight 2 → 8 and cost held-out
Davidson tweets 0.02 macro-F1; a raised hate weight calls offensive tweets hate speech:
bench/recalibration.py).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from tqdm.auto import tqdm

from hatespeech.core.labels import HATE, LABELS, NEITHER, OFFENSIVE, abusive_probability
from hatespeech.core.reader import normalise
from hatespeech.training import evaluate
from hatespeech.training.data import Dataset, line_numbers, read_labelled_csv, sha256_of
from hatespeech.training.pipeline import build_pipeline

MIN_PER_CLASS = 50  # rows of a class the board labelled before its rule and thresholds are recalibrated
WEIGHTS = (1.0, 2.0, 4.0, 8.0)  # the feedback rows' weights tried (the base rows weigh their annotators' agreement)
FOLDS = 3
# While the weight is searched, the base rule is not known yet (its cross-validation needs the
# weight): the weights a board's labels do not cover (``movable``) are the committed model's meanwhile.
SEARCH_RULE = (4.0, 1.0, 2.0)
# The rule's grids on a board: wider than the base data's (evaluate.HATE_WEIGHTS, NEITHER_WEIGHTS),
# since a board's share of clean posts can be anything.
BOARD_HATE_WEIGHTS = 2.0 ** (np.arange(-2, 9) / 2)  # 0.5 … 16
BOARD_NEITHER_WEIGHTS = 2.0 ** (np.arange(-4, 7) / 2)  # 0.25 … 8


class FeedbackError(ValueError):
    """The feedback cannot be used; the message says why. Nothing is trained or written."""


@dataclass(frozen=True)
class Feedback:
    """A board's labelled posts."""

    texts: list[str]
    labels: np.ndarray  # class index into LABELS
    sources: dict[str, int]  # rows per source
    sha256: str  # of the CSV file, or of the store's rows (text, label, source, id) in order
    origin: str  # the CSV's path, or "store (sqlite …)" / "store (postgresql)"
    row_sources: tuple[str, ...] = ()  # each row's source (risk.py names the sources that pull hardest)
    row_ids: tuple[str, ...] = ()  # each row's id in its source, or its CSV line: where to find a row, not its text
    newest: float | None = None  # the newest row's time (unix) in the store; None for a CSV

    @property
    def rows(self) -> int:
        return len(self.texts)

    @property
    def covered(self) -> tuple[int, ...]:
        """The classes the board uses (has at least one row of)."""
        return tuple(sorted({int(k) for k in self.labels}))

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=len(LABELS))
        return {LABELS[k]: int(counts[k]) for k in range(len(LABELS))}


def _label(value: object) -> int | None:
    """A class index from a label name or its number (0, 1, 2), or None."""
    text = str(value).strip()
    if text in LABELS:
        return LABELS.index(text)
    if text in ("0", "1", "2", "0.0", "1.0", "2.0"):
        return int(float(text))
    return None


def _checked(feedback: Feedback) -> Feedback:
    if feedback.rows == 0:
        raise FeedbackError(f"the feedback ({feedback.origin}) has no rows")
    if len(feedback.covered) < 2:
        only = LABELS[feedback.covered[0]]
        raise FeedbackError(
            f"the feedback ({feedback.origin}) has a single class ({feedback.rows} rows of {only!r}): "
            "a model cannot learn where a board draws the line from one side of it; add posts of another label"
        )
    counts = feedback.class_counts()
    if min(counts[LABELS[k]] for k in feedback.covered) < 2:
        raise FeedbackError(
            f"the feedback ({feedback.origin}) needs at least 2 rows of each label it uses, to be cross-validated; "
            f"it has {counts}"
        )
    return feedback


def load_csv(path: Path, language: str = "en") -> Feedback:
    """A CSV with columns ``text`` and ``label`` (names or 0/1/2; other columns ignored, but
    ``source`` when present is counted per value). With a ``language`` column, only the rows in
    ``language`` are read (a blank cell: the text's, identified); without one, every row is taken as
    ``language``'s. ``FeedbackError`` names the bad lines."""
    path = Path(path)
    if not path.is_file():
        raise FeedbackError(f"no feedback file at {path}")
    expected = "Feedback needs `text` and `label` (" + ", ".join(repr(x) for x in LABELS) + ", or 0, 1, 2)."
    frame = read_labelled_csv(path, ("text", "label"), expected, FeedbackError, dtype=str)
    lines = np.arange(len(frame)) + 2  # the header is line 1
    if "language" in frame.columns:
        kept = [
            _language(str(code).strip(), str(text)) == language
            for code, text in zip(frame["language"].fillna(""), frame["text"].fillna(""), strict=True)
        ]
        frame, lines = frame[kept].reset_index(drop=True), lines[kept]
        if frame.empty:
            raise FeedbackError(f"{path}: no row in its `language` column is {language!r}")
    labels = frame["label"].map(_label)
    bad = labels.isna()
    if bad.any():
        values = sorted({str(v)[:40] for v in frame["label"][bad]})[:5]
        raise FeedbackError(
            f"{path}: {int(bad.sum())} row(s) have a label the model does not know ({', '.join(map(repr, values))}; "
            f"lines {line_numbers(bad)}); use " + ", ".join(repr(x) for x in LABELS) + " or 0, 1, 2"
        )
    empty = frame["text"].map(lambda t: not t.strip())
    if empty.any():
        raise FeedbackError(f"{path}: {int(empty.sum())} row(s) have an empty `text` (lines {line_numbers(empty)})")
    row_sources = (
        tuple(frame["source"].map(lambda s: s.strip() or "csv")) if "source" in frame.columns else ("csv",) * len(frame)
    )
    sources = Counter(row_sources)
    return _checked(
        Feedback(
            texts=frame["text"].tolist(),
            labels=labels.astype(int).to_numpy(),
            sources=dict(sorted(sources.items())),
            sha256=sha256_of(path),
            origin=str(path),
            row_sources=row_sources,
            row_ids=tuple(f"line {n}" for n in lines),
        )
    )


def _language(code: str, text: str) -> str:
    """A row's language: ``code`` when given (``und``: English, which judges what cannot be placed), else the
    text's (``hatespeech.feedback.row_language``: the one rule)."""
    from hatespeech.feedback import Row, row_language

    return row_language(Row(text, "", "", None, 0.0, "", 0.0, 0, code or None))


def load_store(settings: Any, language: str = "en") -> Feedback:
    """The decisions in ``language`` of the configured feedback store (``FEEDBACK_DB_PATH`` or ``DATABASE_URL``):
    each language's model learns from its own posts' labels (``hatespeech.feedback.row_language``)."""
    from hatespeech.feedback import open_store, row_language

    feedback_settings = getattr(settings, "feedback", settings)
    where = "postgresql (DATABASE_URL)" if feedback_settings.database_url else f"sqlite {feedback_settings.db_path}"
    if not feedback_settings.database_url and not Path(feedback_settings.db_path).is_file():
        raise FeedbackError(f"no feedback store at {feedback_settings.db_path} (FEEDBACK_DB_PATH)")
    store = open_store(settings)
    digest = hashlib.sha256()
    texts, labels, row_sources, row_ids = [], [], [], []
    sources: Counter[str] = Counter()
    newest: float | None = None
    other = 0
    try:
        # one label per post: the newest decision by the board's event time, whoever gave it
        for row in store.decisions():
            if row_language(row) != language:
                other += 1
                continue
            texts.append(row.text)
            labels.append(LABELS.index(row.label))
            sources[row.source] += 1
            row_sources.append(row.source)
            row_ids.append("" if row.id is None else str(row.id))
            newest = max(newest or row.created_at, row.created_at)
            digest.update(json.dumps([row.text, row.label, row.source, row.id], ensure_ascii=False).encode() + b"\n")
    except Exception as err:  # noqa: BLE001 (sqlite3's and psycopg's errors share no base class)
        raise FeedbackError(f"cannot read the feedback store ({where}): {err}") from None
    finally:
        store.close()
    return _checked(
        Feedback(
            texts,
            np.array(labels, dtype=int),
            dict(sorted(sources.items())),
            digest.hexdigest(),
            f"store, {where}, its {language!r} rows ({other} in other languages left out)",
            tuple(row_sources),
            tuple(row_ids),
            newest,
        )
    )


def without_feedback_texts(data: Dataset, feedback: Feedback) -> tuple[Dataset, int]:
    """The base data minus the rows whose text the feedback labels too (the feedback wins)."""
    labelled = {normalise(t) for t in feedback.texts}
    keep = np.array([normalise(t) not in labelled for t in data.texts], dtype=bool)
    dropped = int((~keep).sum())
    if not dropped:
        return data, 0
    rows = np.flatnonzero(keep)
    agreement = None if data.agreement is None else data.agreement[rows]
    return replace(data, texts=[data.texts[i] for i in rows], labels=data.labels[rows], agreement=agreement), dropped


def extra(feedback: Feedback, weight: float, rows: np.ndarray | None = None) -> evaluate.Extra:
    rows = np.arange(feedback.rows) if rows is None else rows
    return evaluate.Extra([feedback.texts[i] for i in rows], feedback.labels[rows], np.full(len(rows), weight))


# ---------------------------------------------------------------------------- the board's terms


def board_predictions(predicted: np.ndarray, covered: tuple[int, ...]) -> np.ndarray:
    """Predicted classes in the board's labels: a class it does not use counts as its nearest one.

    Hate speech without a hate label is offensive (or, without that too, not neither); offensive
    language on a board that labels only hate speech and neither is what that board accepts.

    >>> board_predictions(np.array([0, 1, 2]), (1, 2)).tolist()
    [1, 1, 2]
    >>> board_predictions(np.array([0, 1, 2]), (0, 2)).tolist()
    [0, 2, 2]
    """
    nearest = {
        HATE: OFFENSIVE if OFFENSIVE in covered else NEITHER,
        OFFENSIVE: NEITHER if NEITHER in covered else HATE,
        NEITHER: OFFENSIVE if OFFENSIVE in covered else HATE,
    }
    mapped = np.asarray(predicted).copy()
    for k in range(len(LABELS)):
        if k not in covered:
            mapped[np.asarray(predicted) == k] = nearest[k]
    return mapped


def board_metrics(
    labels: np.ndarray, probabilities: np.ndarray, predicted: np.ndarray, covered: tuple[int, ...]
) -> dict:
    """Predictions (of the rule) in the board's labels: macro-F1 over the classes it uses, per
    class, recall of abusive posts, ROC AUC of the severity scores, confusion matrix."""
    predicted = board_predictions(predicted, covered)
    classes = list(covered)
    p, r, f, n = precision_recall_fscore_support(labels, predicted, labels=classes, zero_division=0)
    abusive_true, abusive_predicted = labels != NEITHER, predicted != NEITHER
    result: dict[str, Any] = {
        "rows": len(labels),
        "labels": [LABELS[k] for k in classes],
        "macro_f1": float(f1_score(labels, predicted, labels=classes, average="macro", zero_division=0)),
        "per_class": {
            LABELS[k]: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(n[i])}
            for i, k in enumerate(classes)
        },
        "confusion_matrix": confusion_matrix(labels, predicted, labels=classes).tolist(),
        "roc_auc": {},
    }
    if NEITHER in covered and abusive_true.any():
        result["abusive_recall"] = float(abusive_predicted[abusive_true].mean())
    # ROC AUC of what the thresholds compare (labels.severity_scores), where the board has both sides
    scores = {
        "hate speech": probabilities[:, HATE],
        "abusive (P(hate) + P(offensive))": abusive_probability(probabilities),
    }
    truths = {"hate speech": labels == HATE, "abusive (P(hate) + P(offensive))": abusive_true}
    usable = {"hate speech": HATE in covered, "abusive (P(hate) + P(offensive))": NEITHER in covered}
    for name, truth in truths.items():
        if usable[name] and 0 < truth.sum() < len(truth):
            result["roc_auc"][name] = float(roc_auc_score(truth, scores[name]))
    return result


def movable(covered: tuple[int, ...]) -> dict[str, list[str]]:
    """What a board's labels may recalibrate (see the module docstring): the rule's weights, by their
    class, and the classes whose thresholds may move.

    >>> movable((HATE, NEITHER))
    {'weights': [], 'thresholds': ['hate speech']}
    >>> movable((OFFENSIVE, NEITHER))
    {'weights': ['neither'], 'thresholds': ['offensive language']}
    >>> movable((HATE, OFFENSIVE))
    {'weights': ['hate speech'], 'thresholds': []}
    """
    labelled = set(covered)
    return {
        "weights": [LABELS[k] for k in (HATE, NEITHER) if {k, OFFENSIVE} <= labelled],
        "thresholds": [LABELS[k] for k in (HATE, OFFENSIVE) if {k, NEITHER} <= labelled],
    }


def tune_board_rule(
    probabilities: np.ndarray, labels: np.ndarray, covered: tuple[int, ...], base: list[float]
) -> list[float]:
    """The rule's weights ``[hate, 1, neither]`` maximising smoothed macro-F1 in the board's labels;
    a weight the board's labels do not cover (``movable``) stays the base one."""
    weights = movable(covered)["weights"]
    hates = BOARD_HATE_WEIGHTS if LABELS[HATE] in weights else np.array([base[HATE]])
    neithers = BOARD_NEITHER_WEIGHTS if LABELS[NEITHER] in weights else np.array([base[NEITHER]])
    classes = list(covered)

    def score(h: float, n: float) -> float:
        predicted = board_predictions(evaluate.decide(probabilities, [h, 1.0, n]), covered)
        return f1_score(labels, predicted, labels=classes, average="macro", zero_division=0)

    grid = np.array([[score(h, n) for n in neithers] for h in hates])
    padded = np.pad(grid, 1, mode="edge")  # as evaluate.tune_rule: a plateau, not a lone spike
    smooth = sum(
        padded[1 + i : 1 + i + grid.shape[0], 1 + j : 1 + j + grid.shape[1]] for i in (-1, 0, 1) for j in (-1, 0, 1)
    )
    h, n = np.unravel_index(np.argmax(smooth), grid.shape)  # smooth has grid's shape
    return [round(float(hates[h]), 4), 1.0, round(float(neithers[n]), 4)]


# ------------------------------------------------------------------------------ weight and rule


@dataclass
class FeedbackFit:
    """What cross-validation on the feedback chose, and its out-of-fold probabilities."""

    weight: float
    probabilities: np.ndarray  # out-of-fold, at the chosen weight
    folds: list[np.ndarray]  # each fold's test rows
    search: dict[str, float] = field(default_factory=dict)  # weight → out-of-fold macro-F1 on the board


def choose_weight(
    base: Dataset, feedback: Feedback, seed: int, build: Callable[[], Pipeline] = build_pipeline
) -> FeedbackFit:
    """Each weight in ``WEIGHTS``: out-of-fold probabilities on the feedback (base data + the other
    folds), scored by macro-F1 in the board's labels with the rule tuned on them. ``build``: the
    language's untrained pipeline."""
    covered = feedback.covered
    folds = min(FOLDS, min(feedback.class_counts()[LABELS[k]] for k in covered))  # _checked: at least 2
    splits = list(
        StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(feedback.texts, feedback.labels)
    )
    best: FeedbackFit | None = None
    search = {}
    everything = np.arange(base.rows)
    for weight in tqdm(WEIGHTS, desc="feedback weight", unit="weight"):
        probabilities = np.zeros((feedback.rows, len(LABELS)))
        for train, test in splits:
            model = evaluate._fit(build, base, everything, extra(feedback, weight, train))
            probabilities[test] = model.predict_proba([feedback.texts[i] for i in test])
        rule = tune_board_rule(probabilities, feedback.labels, covered, list(SEARCH_RULE))
        predicted = evaluate.decide(probabilities, rule)
        search[f"{weight:g}"] = board_metrics(feedback.labels, probabilities, predicted, covered)["macro_f1"]
        if best is None or search[f"{weight:g}"] > search[f"{best.weight:g}"] + 1e-9:
            best = FeedbackFit(weight, probabilities, [test for _, test in splits])
    assert best is not None
    best.search = search
    return best


def recalibrate(
    fit: FeedbackFit, feedback: Feedback, base_weights: list[float], base_thresholds: dict[str, dict]
) -> dict[str, Any]:
    """The rule and thresholds for the board, from its out-of-fold probabilities, and what was kept and why.

    The feedback's evaluation is nested: each fold is decided by a rule tuned on the other folds only.
    """
    counts = feedback.class_counts()
    covered = feedback.covered
    may = movable(covered)
    used = ", ".join(LABELS[k] for k in covered)
    enough = all(counts[LABELS[k]] >= MIN_PER_CLASS for k in covered)
    notes = []
    if not may["weights"]:
        weights, enough = list(base_weights), False
        notes.append(
            f"decision rule kept from the base data: its weights set the boundaries with offensive language, and "
            f"the feedback's labels ({used}) do not hold both sides of either"
        )
    elif enough:
        weights = tune_board_rule(fit.probabilities, feedback.labels, covered, base_weights)
        kept = [LABELS[k] for k in (HATE, NEITHER) if LABELS[k] not in may["weights"]]
        notes.append(
            f"decision rule recalibrated on the feedback ({used}): the weight of {', '.join(may['weights'])}"
            + (f"; the weight of {', '.join(kept)} is the base data's (the labels do not cover it)" if kept else "")
        )
    else:
        weights = list(base_weights)
        notes.append(
            f"decision rule kept from the base data: the feedback has fewer than {MIN_PER_CLASS} rows of some "
            f"label it uses ({', '.join(f'{LABELS[k]}: {counts[LABELS[k]]}' for k in covered)})"
        )
    thresholds = {label: dict(values) for label, values in base_thresholds.items()}
    recalibrated = []
    if counts["neither"] >= MIN_PER_CLASS:
        wanted = [label for label in may["thresholds"] if counts[label] >= MIN_PER_CLASS]
        board = evaluate.choose_thresholds(fit.probabilities, feedback.labels, classes=wanted) if wanted else {}
        for label, values in board.items():
            values["meaning"] = values["meaning"].replace("on the training data", "on the board's feedback")
            thresholds[label] = values
            recalibrated.append(label)
    kept = [label for label in base_thresholds if label not in recalibrated]
    if recalibrated:
        notes.append("thresholds recalibrated on the feedback's clean posts for " + ", ".join(recalibrated))
    if kept:
        notes.append(
            "thresholds kept from the base data for "
            + ", ".join(kept)
            + f" (the feedback needs the class and 'neither', {MIN_PER_CLASS} rows of each)"
        )

    # Out-of-fold metrics, nested: each fold decided by the rule tuned on the other folds.
    nested = np.zeros(feedback.rows, dtype=int)
    for test in fit.folds:
        others = np.setdiff1d(np.arange(feedback.rows), test)
        rule = (
            tune_board_rule(fit.probabilities[others], feedback.labels[others], covered, base_weights)
            if enough
            else list(base_weights)
        )
        nested[test] = evaluate.decide(fit.probabilities[test], rule)
    base_rule = evaluate.decide(fit.probabilities, base_weights)
    return {
        "weights": weights,
        "thresholds": thresholds,
        "may_recalibrate": {
            "rule_weights": may["weights"],
            "thresholds": may["thresholds"],
            "why": "a weight is a ratio to offensive language's: it moves only if the labels hold its class and "
            "offensive language; a class's thresholds are set against clean posts: they move only if the labels "
            f"hold that class and neither; each with at least {MIN_PER_CLASS} rows of every label used",
        },
        "recalibrated_rule": enough,
        "recalibrated_thresholds": recalibrated,
        "notes": notes,
        "out_of_fold": board_metrics(feedback.labels, fit.probabilities, nested, covered),
        "out_of_fold_base_rule": board_metrics(feedback.labels, fit.probabilities, base_rule, covered),
    }


def card_section(feedback: Feedback, fit: FeedbackFit, card: dict[str, Any], dropped: int) -> dict[str, Any]:
    """The card's ``feedback``: what it was, the weight, what was recalibrated, the out-of-fold
    evaluation; plus ``weights`` and ``thresholds`` for the card's rule (the caller moves them)."""
    chosen = recalibrate(fit, feedback, card["decision_rule"]["weights"], card["thresholds"])
    return {
        "rows": feedback.rows,
        "origin": feedback.origin,
        "sha256": feedback.sha256,
        "sources": feedback.sources,
        "class_counts": feedback.class_counts(),
        "labels_used": [LABELS[k] for k in feedback.covered],
        "base_rows_relabelled": dropped,
        "weight": fit.weight,
        "weight_search": {"folds": len(fit.folds), "out_of_fold_macro_f1": fit.search},
        "min_per_class": MIN_PER_CLASS,
        "base_decision_rule": card["decision_rule"]["weights"],
        **chosen,
    }
