"""Recalibration only where a board's labels speak, measured: a board that labels some classes only.

    .venv/bin/python bench/recalibration.py gab     # HateXplain val's Gab posts: hate speech / neither (≈ 7 min busy)
    .venv/bin/python bench/recalibration.py olid    # OLID: offensive language / neither (≈ 9 min busy)

``gab``: HateXplain's ``val`` split (../shared/data/hatexplain/; never its test split), the posts from
Gab labelled ``hate speech`` or ``neither`` by their annotators' majority (its offensive posts are left
out: this board labels hate and clean posts only). ``olid``: OLID's training file, OFF → offensive
language, NOT → neither. Either is split, stratified (seed 42), half into the board's feedback and
half into the board's test, never seen in training.

Two models are trained by ``train.py`` itself (``--data`` Davidson et al., ``--folds 2 --inner-folds
2`` to keep it affordable; the same for both): Davidson only, and Davidson + the feedback
(``--accept-feedback-risk``, so that a model the risk check refuses is still measured; the card
records the check's verdict). Each is scored

- on the **board's test**, with its card's rule, in the board's labels (a class the board does
  not use counts as its nearest, ``feedback.board_predictions``);
- on **held-out Davidson tweets** with its card's rule (the production rule): the 20% split
  ``train.py`` holds out (same seed), scored by a fit on the other 80% (plus the feedback at the
  card's weight for the second model), as ``risk.assess`` does. The same fit decided by the base
  card's rule separates what the feedback's rows do from what the recalibrated rule does.

``--base CARD`` reuses a Davidson-only card trained with the same folds (it does not depend on the
feedback code). Every generated file goes to /tmp; no text of any data set is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the checkout's packages

# ../shared beside the checkout (a worktree sits one level deeper: look up the tree for it)
SHARED = next((p / "shared" for p in ROOT.parents if (p / "shared" / "data").is_dir()), ROOT.parent / "shared")
HATEXPLAIN = SHARED / "data" / "hatexplain" / "hatexplain_train_val.csv"
OLID = SHARED / "data" / "olid" / "olid-training-v1.0.tsv"
DAVIDSON = SHARED / "data" / "davidson" / "labeled_data.csv"
SEED = 42
FOLDS = ("--folds", "2", "--inner-folds", "2")
NAMES = np.array(["hate speech", "offensive language", "neither"])


def gab() -> tuple[list[str], np.ndarray, tuple[int, ...]]:
    frame = pd.read_csv(HATEXPLAIN, dtype=str, keep_default_na=False)
    if set(frame["split"]) - {"train", "val"}:
        raise SystemExit(f"{HATEXPLAIN} holds a split other than train and val: refusing to read it")
    board = frame[(frame["split"] == "val") & (frame["platform"] == "gab")]
    board = board[board["label"].isin(["hate speech", "neither"])]
    return board["text"].tolist(), np.where(board["label"] == "hate speech", 0, 2), (0, 2)


def olid() -> tuple[list[str], np.ndarray, tuple[int, ...]]:
    frame = pd.read_csv(OLID, sep="\t", quoting=3, dtype=str, keep_default_na=False)
    return frame["tweet"].tolist(), np.where(frame["subtask_a"] == "OFF", 1, 2), (1, 2)


def train(out: Path, *extra: str) -> None:
    """Run train.py as a user would (its printout goes to a log beside the card)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with open(out.parent / "train.log", "wb") as log:
        subprocess.run(
            [sys.executable, str(ROOT / "train.py"), "--data", str(DAVIDSON), "--out", str(out), *FOLDS, *extra],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=True,
        )
    print(f"  train.py {' '.join(extra) or '(Davidson only)'}: {time.perf_counter() - started:.0f} s", flush=True)


def board_score(card_path: Path, texts: list[str], labels: np.ndarray, covered: tuple[int, ...]) -> dict:
    from hatespeech.core.classifier import Classifier
    from hatespeech.core.policy import weighted_argmax as decide
    from hatespeech.training.feedback import board_metrics

    classifier = Classifier.load(card_path)
    probabilities = classifier.probabilities(texts)
    predicted = decide(probabilities, classifier.card["decision_rule"]["weights"])
    return board_metrics(labels, probabilities, predicted, covered)


def davidson_held_out(
    feedback_texts: list[str], feedback_labels: np.ndarray, base: dict, board: dict
) -> dict[str, float]:
    """Macro-F1 on train.py's held-out 20% of Davidson: fits on the other 80%, without and with the
    feedback (at the board card's weight), each decided by its card's rule; and the fit with the
    feedback decided by the base card's rule."""
    from sklearn.metrics import f1_score
    from sklearn.model_selection import train_test_split

    from hatespeech.core.policy import weighted_argmax as decide
    from hatespeech.training import evaluate
    from hatespeech.training.data import load_dataset
    from hatespeech.training.pipeline import build_pipeline, normalised_once

    data = load_dataset(DAVIDSON)
    rows, test = train_test_split(np.arange(data.rows), test_size=0.2, stratify=data.labels, random_state=SEED)
    texts, labels = [data.texts[i] for i in test], data.labels[test]
    weight = board["feedback"]["weight"]
    extra = evaluate.Extra(feedback_texts, feedback_labels, np.full(len(feedback_texts), weight))
    with normalised_once():
        without = evaluate._fit(build_pipeline, data, rows).predict_proba(texts)
        with_ = evaluate._fit(build_pipeline, data, rows, extra).predict_proba(texts)

    def f1(probabilities: np.ndarray, card: dict) -> float:
        return float(f1_score(labels, decide(probabilities, card["decision_rule"]["weights"]), average="macro"))

    hate = 0
    precision = {}
    for name, probabilities, card in (("without", without, base), ("with", with_, board)):
        predicted = decide(probabilities, card["decision_rule"]["weights"])
        said = predicted == hate
        precision[name] = float((labels[said] == hate).mean()) if said.any() else 0.0
    return {
        "rows": len(test),
        "without": f1(without, base),
        "with": f1(with_, board),
        "with, base rule": f1(with_, base),
        "hate precision without": precision["without"],
        "hate precision with": precision["with"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("board", choices=("gab", "olid"))
    parser.add_argument("--base", type=Path, help="a Davidson-only card trained with the same folds, reused")
    args = parser.parse_args()
    os.environ.setdefault("TQDM_DISABLE", "1")
    from sklearn.model_selection import train_test_split

    texts, labels, covered = gab() if args.board == "gab" else olid()
    fb, test = train_test_split(np.arange(len(texts)), train_size=0.5, stratify=labels, random_state=SEED)
    work = Path(tempfile.mkdtemp(prefix=f"hatespeech-recalibration-{args.board}-"))
    feedback_texts, feedback_labels = [texts[i] for i in fb], labels[fb]
    feedback = work / "feedback.csv"
    pd.DataFrame({"text": feedback_texts, "label": NAMES[feedback_labels], "source": args.board}).to_csv(
        feedback, index=False
    )
    counts = {str(NAMES[k]): int((labels == k).sum()) for k in covered}
    print(f"{args.board}: {len(texts)} posts {counts}; {len(fb)} as feedback, {len(test)} as the board's test")
    print(f"work in {work}", flush=True)

    base_path = args.base or work / "base" / "model.json"
    if args.base is None:
        train(base_path)
    train(work / "board" / "model.json", "--feedback", str(feedback), "--accept-feedback-risk")
    base = json.loads(base_path.read_text())
    board = json.loads((work / "board" / "model.json").read_text())
    test_texts, test_labels = [texts[i] for i in test], labels[test]
    scores = {
        "Davidson only": board_score(base_path, test_texts, test_labels, covered),
        "Davidson + feedback": board_score(work / "board" / "model.json", test_texts, test_labels, covered),
    }
    davidson = davidson_held_out(feedback_texts, feedback_labels, base, board)

    print(
        f"\n| model | board test macro-F1 ({' / '.join(NAMES[list(covered)])}) | Davidson held-out macro-F1 "
        "(production rule) | Davidson hate-speech precision | rule weights |"
    )
    print("|---|---:|---:|---:|---|")
    for name, card, which in (("Davidson only", base, "without"), ("Davidson + feedback", board, "with")):
        print(
            f"| {name} | {scores[name]['macro_f1']:.3f} | {davidson[which]:.3f} | "
            f"{davidson[f'hate precision {which}']:.3f} | {card['decision_rule']['weights']} |"
        )
    gain = scores["Davidson + feedback"]["macro_f1"] - scores["Davidson only"]["macro_f1"]
    print(
        f"\nboard test macro-F1 {gain:+.3f} (target ≥ +0.03); Davidson held-out ({davidson['rows']} tweets) "
        f"{davidson['with'] - davidson['without']:+.3f} (target within 0.01); with the feedback's rows but the "
        f"base rule: {davidson['with, base rule']:.3f}"
    )
    section = board["feedback"]
    print(f"feedback weight ×{section['weight']:g} (search: {section['weight_search']['out_of_fold_macro_f1']})")
    for label, t in board["thresholds"].items():
        b = base["thresholds"][label]
        print(f"thresholds {label}: review {b['review']} → {t['review']}, block {b['block']} → {t['block']}")
    for note in section["notes"]:
        print(f"note: {note}")
    risk = section["risk"]
    print(
        f"risk check: {risk['macro_f1_without_feedback']:.3f} → {risk['macro_f1_with_feedback']:.3f} "
        f"({'refused' if risk['refused'] else 'passed'})"
    )
    for name, m in scores.items():
        print(f"board test per class, {name}: {json.dumps(m['per_class'])}")


if __name__ == "__main__":
    main()
