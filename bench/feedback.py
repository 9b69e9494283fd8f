"""Learning from a board's moderators, measured: OLID as the board, before and after ``--feedback``.

    .venv/bin/python bench/feedback.py olid [--share 0.5]     # the demonstration (≈ 5 minutes)
    .venv/bin/python bench/feedback.py time [--rows 10000]    # train.py with 10,000 feedback rows, timed
    .venv/bin/python bench/feedback.py http [--requests 2000] # POST /feedback against POST /predict, SQLite

``olid``: OLID's training file (Zampieri et al. 2019, another community's tweets labelled with
other rules; ../shared/data/olid/) is split, stratified, into the board's feedback (``--share``)
and the board's test (the rest, never seen in training). OFF → "offensive language", NOT →
"neither" (OLID has no hate-speech class; its group-targeted insults, GRP, are mostly at
political groups, not hate speech in Davidson et al.'s sense, so they stay "offensive
language"). Two models are trained by ``train.py`` itself, side by side in one run: Davidson
only, and Davidson + the feedback. Each is scored on the board's test with its card's rule, in
the board's labels (hate speech counts as offensive there). Every generated file goes to /tmp;
no text of either data set is printed or written elsewhere.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the checkout's packages (hatespeech, testing)

# ../shared beside the checkout (a worktree sits one level deeper: look up the tree for it)
SHARED = next((p / "shared" for p in ROOT.parents if (p / "shared" / "data").is_dir()), ROOT.parent / "shared")
OLID = SHARED / "data" / "olid" / "olid-training-v1.0.tsv"
DAVIDSON = SHARED / "data" / "davidson" / "labeled_data.csv"
SEED = 42


def olid() -> tuple[list[str], np.ndarray]:
    frame = pd.read_csv(OLID, sep="\t", quoting=3, dtype=str, keep_default_na=False)
    return frame["tweet"].tolist(), np.where(frame["subtask_a"] == "OFF", 1, 2)  # offensive language / neither


def write_feedback(path: Path, texts: list[str], labels: np.ndarray) -> Path:
    names = np.array(["hate speech", "offensive language", "neither"])
    pd.DataFrame({"text": texts, "label": names[labels], "source": "olid"}).to_csv(path, index=False)
    return path


def train(out: Path, *extra: str) -> float:
    """Run train.py as a user would; its wall time in seconds (its printout goes to a log beside the card)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with open(out.parent / "train.log", "wb") as log:
        subprocess.run(
            [sys.executable, str(ROOT / "train.py"), "--data", str(DAVIDSON), "--out", str(out), *extra],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=True,
        )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"  train.py {' '.join(extra) or '(Davidson only)'}: {wall:.0f} s wall, {cpu:.0f} s CPU", flush=True)
    return wall


def score(card_path: Path, texts: list[str], labels: np.ndarray) -> dict:
    from hatespeech.core.classifier import Classifier
    from hatespeech.core.policy import weighted_argmax as decide
    from hatespeech.training.feedback import board_metrics

    classifier = Classifier.load(card_path)
    probabilities = classifier.probabilities(texts)
    predicted = decide(probabilities, classifier.card["decision_rule"]["weights"])
    return board_metrics(labels, probabilities, predicted, (1, 2))


def run_olid(share: float, work: Path) -> None:
    from sklearn.model_selection import train_test_split

    texts, labels = olid()
    fb, test = train_test_split(np.arange(len(texts)), train_size=share, stratify=labels, random_state=SEED)
    feedback = write_feedback(work / "olid-feedback.csv", [texts[i] for i in fb], labels[fb])
    test_texts, test_labels = [texts[i] for i in test], labels[test]
    print(f"OLID: {len(fb)} rows as feedback, {len(test)} as the board's test; work in {work}", flush=True)

    seconds = {
        "Davidson only": train(work / "base" / "model.json"),
        "Davidson + feedback": train(work / "board" / "model.json", "--feedback", str(feedback)),
    }
    rows = {}
    for name, folder in (("Davidson only", "base"), ("Davidson + feedback", "board")):
        card = json.loads((work / folder / "model.json").read_text())
        rows[name] = (card, score(work / folder / "model.json", test_texts, test_labels))

    print(
        "\n| model | board macro-F1 | board abusive recall | board ROC AUC | Davidson CV macro-F1 (rule) "
        "| Davidson held-out macro-F1 | train.py wall time |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, (card, board) in rows.items():
        m = card["metrics"]
        print(
            f"| {name} | {board['macro_f1']:.3f} | {board['abusive_recall']:.3f} | "
            f"{board['roc_auc']['abusive (P(hate) + P(offensive))']:.3f} | {m['cross_validation']['macro_f1']:.3f} | "
            f"{m['holdout']['macro_f1']:.3f} | {seconds[name]:.0f} s |"
        )
    (before_card, before), (after_card, after) = rows["Davidson only"], rows["Davidson + feedback"]
    auc = "abusive (P(hate) + P(offensive))"
    cv_before = before_card["metrics"]["cross_validation"]["macro_f1"]
    cv_after = after_card["metrics"]["cross_validation"]["macro_f1"]
    print(
        f"\nchange: board macro-F1 {after['macro_f1'] - before['macro_f1']:+.3f}, abusive recall "
        f"{after['abusive_recall'] - before['abusive_recall']:+.3f}, "
        f"ROC AUC {after['roc_auc'][auc] - before['roc_auc'][auc]:+.3f}; "
        f"Davidson CV macro-F1 (rule) {cv_after - cv_before:+.3f}"
    )
    section = after_card["feedback"]
    print(f"feedback weight ×{section['weight']:g} (search: {section['weight_search']['out_of_fold_macro_f1']})")
    rules = before_card["decision_rule"]["weights"], after_card["decision_rule"]["weights"]
    print(f"rule weights: before {rules[0]}, after {rules[1]}")
    for label, t in after_card["thresholds"].items():
        b = before_card["thresholds"][label]
        print(
            f"thresholds {label}: before review {b['review']} block {b['block']}; after review {t['review']} "
            f"block {t['block']} ({t['meaning']})"
        )
    oof = section["out_of_fold"]
    print(
        f"feedback out-of-fold (board's rule, nested): macro-F1 {oof['macro_f1']:.3f}, abusive recall "
        f"{oof['abusive_recall']:.3f}, ROC AUC {oof['roc_auc'][auc]:.3f}"
    )
    for note in section["notes"]:
        print(f"note: {note}")
    print("per class on the board's test (after):", json.dumps(after["per_class"]))
    print("per class on the board's test (before):", json.dumps(before["per_class"]))


def run_time(rows: int, work: Path) -> None:
    texts, labels = olid()
    rng = np.random.default_rng(SEED)
    pick = rng.choice(len(texts), size=min(rows, len(texts)), replace=False)
    feedback = write_feedback(work / "feedback.csv", [texts[i] for i in pick], labels[pick])
    seconds = train(work / "model" / "model.json", "--feedback", str(feedback))
    card = json.loads((work / "model" / "model.json").read_text())
    print(
        f"train.py --feedback with {len(pick)} rows: {seconds:.1f} s wall "
        f"(card: training {card['training_seconds']} s, final fit {card['fit_seconds']} s, "
        f"weight ×{card['feedback']['weight']:g})"
    )


def run_http(requests: int, work: Path) -> None:
    from testing.support import gunicorn

    def timed(conn: http.client.HTTPConnection, path: str, payload: dict) -> float:
        body = json.dumps(payload)
        started = time.perf_counter()
        conn.request("POST", path, body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        elapsed = time.perf_counter() - started
        assert response.status in (200, 201), (path, response.status)
        return elapsed * 1000

    env = {"FEEDBACK_DB_PATH": str(work / "feedback.sqlite3"), "WEB_CONCURRENCY": "1"}
    with gunicorn(work, **env) as server:
        server.wait_ready()
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        text = "thanks for the recipe, you absolute legend"
        for i in range(50):  # warm-up: connections, caches, the SQLite file
            timed(conn, "/predict", {"text": text})
            timed(conn, "/feedback", {"text": text, "label": "neither", "source": "bench", "id": f"warm{i}"})
        predict, feedback = [], []
        for i in range(requests):  # interleaved, so both see the same machine load
            predict.append(timed(conn, "/predict", {"text": text}))
            feedback.append(timed(conn, "/feedback", {"text": text, "label": "neither", "source": "bench", "id": i}))
        conn.close()
    from hatespeech.feedback import SQLiteFeedbackStore

    store = SQLiteFeedbackStore(work / "in-process.sqlite3")
    add = []
    for i in range(requests):
        started = time.perf_counter()
        store.add(text, "neither", source="bench", id=i)
        add.append((time.perf_counter() - started) * 1000)
    store.close()

    def p(values: list[float], q: float) -> float:
        return float(np.percentile(values, q))

    print(f"{requests} requests each, interleaved, one gthread worker, SQLite at {work}:")
    print("| | p50 | p90 | p99 |\n|---|---:|---:|---:|")
    for name, values in (
        ("POST /predict", predict),
        ("POST /feedback", feedback),
        ("FeedbackStore.add (in-process)", add),
    ):
        print(f"| {name} | {p(values, 50):.2f} ms | {p(values, 90):.2f} ms | {p(values, 99):.2f} ms |")
    print(f"POST /feedback − POST /predict, p50: {statistics.median(feedback) - statistics.median(predict):+.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("olid", "time", "http"))
    parser.add_argument("--share", type=float, default=0.5, help="OLID's share used as feedback (olid)")
    parser.add_argument("--rows", type=int, default=10_000, help="feedback rows (time)")
    parser.add_argument("--requests", type=int, default=2000, help="requests per endpoint (http)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix=f"hatespeech-feedback-{args.mode}-"))
    os.environ.setdefault("TQDM_DISABLE", "1")
    if args.mode == "olid":
        run_olid(args.share, work)
    elif args.mode == "time":
        run_time(args.rows, work)
    else:
        run_http(args.requests, work)


if __name__ == "__main__":
    main()
