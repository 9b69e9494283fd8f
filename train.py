"""Train the model on labelled tweets and replace the served one.

    python train.py                                   # data/labeled_data.csv → models/model.json
    python train.py --data my_posts.csv --out /tmp/my-model.json

Prints the evaluation and writes the model, its card and an evaluation report (plots) in models/.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hatespeech.config import DEFAULT_DATA_PATH, DEFAULT_MODEL_PATH
from hatespeech.core.labels import LABELS
from hatespeech.training.data import DAVIDSON_SHA256, DataError, check_trainable, load_dataset
from hatespeech.training.report import write_report
from hatespeech.training.save import save_model
from hatespeech.training.train import train


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Fit normalise → TF-IDF → calibrated one-vs-rest LinearSVC on labelled tweets, "
        "evaluate it (held-out split and nested cross-validation) and write it atomically with its card.",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA_PATH,
        help="CSV with columns `class` (0 hate speech, 1 offensive language, 2 neither) "
        "and `tweet`, as in Davidson et al. 2017 (default: %(default)s)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_MODEL_PATH,
        help="where to write the model card; the model file goes beside it "
        "(default: %(default)s, the model the service loads)",
    )
    parser.add_argument("--folds", type=int, default=5, help="outer cross-validation folds (default: %(default)s)")
    parser.add_argument(
        "--inner-folds",
        type=int,
        default=3,
        help="inner folds that tune the decision rule on training rows only (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    if args.folds < 2 or args.inner_folds < 2:
        parser.error("--folds and --inner-folds must be at least 2")
    return args


def print_metrics(name: str, m: dict) -> None:
    print(
        f"\n{name}: macro-F1 {m['macro_f1']:.3f} (argmax {m['argmax_macro_f1']:.3f}), "
        f"weighted F1 {m['weighted_f1']:.3f}, ECE {m['ece']:.3f}, Brier {m['brier']:.3f}"
    )
    print(f"  {'class':<20} {'precision':>9} {'recall':>7} {'F1':>6} {'support':>8}")
    for label in LABELS:
        c = m["per_class"][label]
        print(f"  {label:<20} {c['precision']:9.3f} {c['recall']:7.3f} {c['f1']:6.3f} {c['support']:8d}")
    print("  confusion matrix (rows true, columns predicted):")
    for label, row in zip(LABELS, m["confusion_matrix"], strict=False):
        print(f"  {label:<20} " + " ".join(f"{n:7d}" for n in row))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.data != DEFAULT_DATA_PATH and not args.data.is_file():
        print(f"train.py: no file at {args.data} (given with --data)", file=sys.stderr)
        return 2
    try:
        data = load_dataset(args.data)
        check_trainable(data)
    except DataError as err:
        print(f"train.py: {err}", file=sys.stderr)
        return 2
    if data.sha256 != DAVIDSON_SHA256:
        print(f"note: {args.data} is not the Davidson et al. 2017 file (sha256 {data.sha256}); training on it anyway.")
    print(f"Training on {data.rows} rows from {args.data} (sha256 {data.sha256[:12]}…)")

    trained = train(data, folds=args.folds, inner_folds=args.inner_folds)
    metrics = trained.card["metrics"]
    print_metrics("Held-out 20%", metrics["holdout"])
    print_metrics(f"{args.folds}-fold cross-validation (nested, production rule)", metrics["cross_validation"])
    print(
        f"\ndecision rule weights {trained.card['decision_rule']['weights']}; "
        f"production fit {trained.card['fit_seconds']} s"
    )

    card = save_model(trained.model, trained.card, args.out)
    report = write_report(
        args.out.parent / "report",
        {
            "cross_validation": metrics["cross_validation"],
            "holdout": metrics["holdout"],
            "thresholds": trained.card["thresholds"],
        },
        data.labels,
        trained.cv_probabilities,
        trained.card["thresholds"],
    )
    print(
        f"\nwrote {args.out} and {args.out.parent / card['model_file']} "
        f"({card['size_bytes'] / 1e6:.1f} MB, sha256 {card['sha256'][:12]}…)"
    )
    print("report: " + ", ".join(str(p) for p in report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
