"""Train the model on labelled tweets and replace the served one.

    python train.py                                   # the manifest's sources → models/model.json
    python train.py --data my_posts.csv --out /tmp/my-model.json
    python train.py --feedback store                  # + the moderators' labels in the feedback store
    python train.py --feedback board.csv              # + a CSV of a board's labels (`text`, `label`)

Without ``--data`` it trains on the sources declared in hatespeech/training/sources.toml (``--sources``
for another manifest): each file found by its paths and checked against its sha256, prepared by the
manifest's recipe, and evaluated per source (``hatespeech.training.sources``). ``--data CSV`` trains on
that one CSV in the Davidson et al. format, exactly as before the manifest.

With --feedback, a model whose macro-F1 on held-out base rows falls by more than 0.01 from the same
training without the feedback is not written (exit 1, with who pulled hardest); --accept-feedback-risk
writes it anyway.

Prints the evaluation and writes the model, its card and an evaluation report (plots) in models/.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hatespeech import lifecycle
from hatespeech.config import DEFAULT_MODEL_PATH, ROOT, ConfigError, Settings
from hatespeech.core.labels import LABELS

try:  # requirements-train.txt: the serving environment (requirements.txt) has no pandas nor scikit-learn
    from hatespeech.training.data import DAVIDSON_SHA256, DataError, check_trainable, load_dataset
    from hatespeech.training.feedback import Feedback, FeedbackError, load_csv, load_store
    from hatespeech.training.report import write_feedback_report, write_report
    from hatespeech.training.risk import MAX_DROP
    from hatespeech.training.save import save_model
    from hatespeech.training.sources import MANIFEST, Corpus, load_corpus
    from hatespeech.training.train import train
except ModuleNotFoundError as err:
    if (err.name or "").startswith("hatespeech"):
        raise
    MISSING: str | None = err.name
else:
    MISSING = None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Fit normalise → TF-IDF → calibrated one-vs-rest LinearSVC on labelled tweets, "
        "evaluate it (held-out split and nested cross-validation) and write it atomically with its card.",
    )
    parser.add_argument(
        "--data",
        type=Path,
        help="train on this one CSV with columns `class` (0 hate speech, 1 offensive language, 2 neither) "
        "and `tweet`, as in Davidson et al. 2017 (default: the sources of --sources)",
    )
    parser.add_argument(
        "--sources",
        type=Path,
        default=None,
        help="the manifest of training sources used without --data (default: hatespeech/training/sources.toml: "
        "Davidson et al. 2017, data/labeled_data.csv else ../shared/data/davidson/labeled_data.csv, and "
        "HateXplain's train split, its val split held out)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_MODEL_PATH,
        help="where to write the model card; the model file goes beside it "
        "(default: %(default)s, the model the service loads)",
    )
    parser.add_argument(
        "--feedback",
        metavar="store|PATH",
        help="add a board's own labels: `store` reads the feedback store the server writes (FEEDBACK_DB_PATH or "
        "DATABASE_URL); a PATH is a CSV with columns `text` and `label` (label names, or 0, 1, 2). Their weight "
        "is chosen by cross-validation on them, and the rule and thresholds are recalibrated on them",
    )
    parser.add_argument(
        "--accept-feedback-risk",
        action="store_true",
        # MAX_DROP is only importable with the training requirements; --help must work without them
        help="write the model even if the feedback lowers macro-F1 on held-out base rows by more than "
        f"{MAX_DROP if MISSING is None else 'the allowed drop'} (the same training without it, on the same rows); "
        "otherwise such a run exits 1",
    )
    parser.add_argument(
        "--language",
        help="train another language's model from hatespeech/training/languages.toml (de, pt, ko; --sources for "
        "another manifest) and score its test split (default --out: models/languages/model-<language>.json)",
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
    if args.out.suffix != ".json":  # the service reads a card (MODEL_PATH), never a model file; see save_model
        parser.error(
            f"--out names the model's card, a .json file (the model files are written beside it), not {args.out}"
        )
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


def print_board(name: str, m: dict) -> None:
    auc = ", ".join(f"ROC AUC {k} {v:.3f}" for k, v in m["roc_auc"].items())
    recall = f", abusive recall {m['abusive_recall']:.3f}" if "abusive_recall" in m else ""
    print(f"\n{name}: macro-F1 {m['macro_f1']:.3f} over {', '.join(m['labels'])}{recall}" + (f", {auc}" if auc else ""))
    print(f"  {'class':<20} {'precision':>9} {'recall':>7} {'F1':>6} {'support':>8}")
    for label, c in m["per_class"].items():
        print(f"  {label:<20} {c['precision']:9.3f} {c['recall']:7.3f} {c['f1']:6.3f} {c['support']:8d}")


def print_risk(risk: dict) -> bool:
    """Print what the feedback costs on held-out base rows and, if too much, who pulled; True if refused."""
    print(
        f"\nHeld-out base rows ({risk['held_out_base_rows']}), macro-F1: {risk['macro_f1_without_feedback']:.3f} "
        f"without the feedback, {risk['macro_f1_with_feedback']:.3f} with it (drop {risk['drop']:.3f}, "
        f"at most {risk['max_drop']} allowed)"
    )
    if not risk["refused"]:
        return False
    print("  sources, by the macro-F1 recovered when each alone is left out:")
    print(f"  {'source':<20} {'rows':>6} {'base model contradicts':>22} {'recovered':>9}")
    for s in risk["sources"]:
        recovered = "-" if s["recovered_without_it"] is None else f"{s['recovered_without_it']:+.3f}"
        print(f"  {s['source']:<20} {s['rows']:6d} {s['confidently_contradicted']:22.1%} {recovered:>9}")
    if risk["hardest_rows"]:
        print("  rows the base model finds least likely (source, id: label given (its probability) → what it says):")
        for r in risk["hardest_rows"]:
            print(
                f"  {r['source']}, {r['id'] or '(no id)'}: {r['label']} ({r['base_model_probability_of_label']:.2f}) → "
                f"{r['base_model_says']} ({r['base_model_probability']:.2f})"
            )
    return True


def print_sources(corpus: Corpus) -> None:
    print(f"Sources ({', '.join(f'{k} {v}' for k, v in corpus.recipe.card().items())}):")
    for s in corpus.card:
        held = f", held out {s['held_out_rows']} ({s['held_out']})" if s["held_out"] else ""
        print(
            f"  {s['name']}: {s['path']}, {s['rows']} rows, {s['licence']}, sha256 {s['sha256'][:12]}…; trained on "
            f"{s['trained_rows']} ({s['in_another_source']} in another source, {s['empty']} empty left out){held}"
        )


def print_feedback_source(feedback: Feedback) -> None:
    print(
        f"Feedback: {feedback.rows} rows from {feedback.origin} ({feedback.class_counts()}; "
        f"sources {feedback.sources}; sha256 {feedback.sha256[:12]}…)"
    )


def refused_feedback(section: dict[str, Any] | None, accept_risk: bool) -> bool:
    """Print what the feedback did (the card's ``feedback``) and whether it costs the base data too much:
    True when the model must not be written."""
    if section is None:
        return False
    search = ", ".join(f"×{w}: {f:.3f}" for w, f in section["weight_search"]["out_of_fold_macro_f1"].items())
    print(f"\nfeedback weight ×{section['weight']:g}, chosen by out-of-fold macro-F1 on the feedback ({search})")
    if section["base_rows_relabelled"]:
        print(f"{section['base_rows_relabelled']} base rows dropped: the feedback labels the same texts")
    print_board("Feedback, out-of-fold, base rule", section["out_of_fold_base_rule"])
    print_board("Feedback, out-of-fold, the board's rule (tuned on the other folds)", section["out_of_fold"])
    for note in section["notes"]:
        print(f"note: {note}")
    if print_risk(section["risk"]) and not accept_risk:
        print(
            "train.py: refused: the feedback lowers macro-F1 on held-out base rows by "
            f"{section['risk']['drop']:.3f} (more than {MAX_DROP}); nothing written. Erase or fix the rows "
            "above, or rerun with --accept-feedback-risk if the board's standard really differs",
            file=sys.stderr,
        )
        return True
    return False


def read_feedback(source: str, language: str = "en") -> Feedback:
    """The board's labels of ``language``'s posts: each language's model learns from its own."""
    return load_store(Settings.from_env(), language) if source == "store" else load_csv(Path(source), language)


def train_language(args: argparse.Namespace) -> int:
    """``--language``: the language's data, trained as English is, its test split scored (``training.languages``)."""
    from hatespeech.training import languages

    try:
        data = languages.load(args.language, args.sources or languages.MANIFEST)
        feedback = read_feedback(args.feedback, args.language) if args.feedback else None
    except (DataError, FeedbackError, ConfigError) as err:
        print(f"train.py: {err}", file=sys.stderr)
        return 2
    out = args.out
    if out == DEFAULT_MODEL_PATH:  # never the English model's place
        out = DEFAULT_MODEL_PATH.parent / "languages" / f"model-{args.language}.json"
    print(f"Training {args.language} on {data.train.rows} rows ({data.spec['title']}; {data.spec['licence']})")
    if feedback is not None:
        print_feedback_source(feedback)
    trained = train(data.train, folds=args.folds, inner_folds=args.inner_folds, build=data.builder(), feedback=feedback)
    rule = trained.card["decision_rule"]["weights"]
    if feedback is None:  # with a board's labels, the rule is the one they recalibrated (only where they speak)
        rule = languages.tune_rule(data.spec, trained.cv_probabilities, trained.data.labels, rule)
        trained.card["decision_rule"] |= {"weights": rule, "tuned_for": languages.rule_target(data.spec)}
    trained.card["data"] |= languages.card_section(data)
    trained.card["metrics"]["test"] = test = languages.score_test_split(trained.model, data, rule)
    print_metrics(
        f"{args.folds}-fold cross-validation (nested, production rule)", trained.card["metrics"]["cross_validation"]
    )
    print_metrics(f"Test: {test['split']} (production model and rule)", test)
    print(f"  coarse (abusive vs neither) macro-F1 {test['coarse_macro_f1']:.3f} {test['coarse_per_class']}")
    if refused_feedback(trained.card.get("feedback"), args.accept_feedback_risk):
        return 1
    card = save_model(trained.model, trained.card, out)
    print(f"\nwrote {out} and {out.parent / card['model_file']} ({card['size_bytes'] / 1e6:.1f} MB)")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if MISSING is not None:
        print(
            f"train.py: training needs {MISSING}, which is not installed here (the serving environment has only "
            "requirements.txt). Install the training requirements: `pip install -r requirements-train.txt`, "
            "or run `make train`, which does it.",
            file=sys.stderr,
        )
        return 2
    if args.language:
        return train_language(args)
    if args.data is not None and not args.data.is_file():
        print(f"train.py: no file at {args.data} (given with --data)", file=sys.stderr)
        return 2
    feedback, corpus = None, None
    try:
        if args.data is None:
            corpus = load_corpus(args.sources or MANIFEST)
            data = corpus.dataset(path=args.sources or MANIFEST)
        else:
            data = load_dataset(args.data)
        check_trainable(data)
        if args.feedback:
            feedback = read_feedback(args.feedback)
    except (DataError, FeedbackError, ConfigError) as err:
        print(f"train.py: {err}", file=sys.stderr)
        return 2
    if corpus is not None:
        print_sources(corpus)
    elif data.sha256 != DAVIDSON_SHA256:
        print(f"note: {args.data} is not the Davidson et al. 2017 file (sha256 {data.sha256}); training on it anyway.")
    print(f"Training on {data.rows} rows from {data.path} (sha256 {data.sha256[:12]}…)")
    if feedback is not None:
        print_feedback_source(feedback)

    trained = train(corpus or data, folds=args.folds, inner_folds=args.inner_folds, feedback=feedback)
    metrics = trained.card["metrics"]
    base = " (base data; the feedback joins every training fold)" if feedback is not None else ""
    print_metrics("Held-out 20%" + base, metrics["holdout"])
    print_metrics(f"{args.folds}-fold cross-validation (nested, production rule){base}", metrics["cross_validation"])
    for name, m in metrics.get("per_source", {}).items():
        print_metrics(f"{name}: its rows of the cross-validation (clean flagged {m['clean_flagged']:.1%})", m)
    for name, m in metrics.get("held_out", {}).items():
        print_metrics(f"{name}: held-out split, production model (clean flagged {m['clean_flagged']:.1%})", m)
    for what, value in metrics.get("leave_one_source_out", {}).items():
        print(f"leave one source out (one fixed split): {what} {value:.3f}")
    section = trained.card.get("feedback")
    if refused_feedback(section, args.accept_feedback_risk):
        return 1
    print(
        f"\ndecision rule weights {trained.card['decision_rule']['weights']}; "
        f"production fit {trained.card['fit_seconds']} s"
    )

    used = None
    if feedback is not None:
        newest = None if feedback.newest is None else datetime.fromtimestamp(feedback.newest, UTC).isoformat()
        used = {"rows": feedback.rows, "newest_at": newest, "sha256": feedback.sha256, "origin": feedback.origin}
    trained.card["lineage"] = lifecycle.lineage(Settings.from_env(), used, ROOT)
    card = save_model(trained.model, trained.card, args.out)
    report = write_report(
        args.out.parent / "report",
        {
            "cross_validation": metrics["cross_validation"],
            "holdout": metrics["holdout"],
            "thresholds": trained.card["thresholds"],
        },
        trained.data.labels,
        trained.cv_probabilities,
        trained.card["thresholds"],
    )
    if section is not None and trained.feedback is not None and trained.feedback_probabilities is not None:
        report += write_feedback_report(
            args.out.parent / "report",
            section,
            trained.feedback.labels,
            trained.feedback_probabilities,
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
