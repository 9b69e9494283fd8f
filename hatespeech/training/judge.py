"""Comparing training variants quickly, per source: the figures of the judgement issue, one fit each.

    .venv/bin/python -m hatespeech.training.judge [--variant NAME ...] [--leave-one-out] [--save DIR]

One fixed split, no nested cross-validation (``train.py`` does that for the model it writes):

- Davidson's trained rows: 80% to train, 20% scored (stratified, seed 42); HateXplain: ``train`` to
  train, ``val`` scored (its ``test`` split is withheld and never read);
- of the training rows, 80% are fitted and 20% tune the decision rule and thresholds (as training
  tunes them on out-of-fold rows): nothing scored was fitted or tuned on;
- the fitted pipeline is compiled and scored as the service scores (``CompiledModel``, the threat
  check included); Davidson's rows are scored as written, HateXplain's as published.

Prints, per variant: Davidson macro-F1 (production rule), HateXplain ``val`` macro-F1 and the share
of its clean posts flagged, the identity set's flagged shares (tests/data/identity: overall and the
worst group per kind), the dialect ratio of clean posts (``bench/fairness.py``'s definition), how
often a Davidson tweet stripped as HateXplain was keeps its action, and the compiled model's size.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold, train_test_split

from hatespeech.config import ROOT
from hatespeech.core import attacks, threats
from hatespeech.core.labels import LABELS
from hatespeech.core.model import CompiledModel
from hatespeech.core.modelfile import to_npz
from hatespeech.core.policy import ALLOW, Policy
from hatespeech.core.policy import weighted_argmax as decide
from hatespeech.training import dialect, evaluate, reweigh
from hatespeech.training.compile import compile_checked
from hatespeech.training.pipeline import SEED, Prepare, build_pipeline, fit, normalised_once, preparing
from hatespeech.training.sources import Corpus, Recipe, as_hatexplain, load_corpus

IDENTITY_SET = ROOT / "tests" / "data" / "identity" / "identity_set.csv"
KINDS = ("neutral", "counter", "ingroup", "hateful")
NEITHER = LABELS.index("neither")
ALIGNED = 0.6  # as bench/fairness.py


@dataclass(frozen=True)
class Variant:
    """How to train: which sources, in which form, with which counterfactual copies and source weights."""

    name: str
    sources: tuple[str, ...] = ("davidson", "hatexplain")
    harmonise: bool = True
    copies: int = 0  # counterfactual copies per clean training row that names a group (augment.py)
    copy_weight: float = 0.5
    every_class: bool = False  # copy abusive rows naming a group too
    source_weights: dict[str, float] = field(default_factory=dict)  # × the manifest's weight
    dialect: float = 0.0  # dialect reweighing strength (reweigh.py)
    rule_per_source: bool = False  # tune the decision rule on the mean of the sources' macro-F1
    c: float = 0.25  # the SVC's C
    stop_words: bool = True  # drop English stop words from the features
    in_group: float = 1.0  # weight × this for AAE-aligned abusive rows whose only cue is in-group address (reweigh.py)
    relabel: bool = False  # and label those rows clean
    aae_clean: float = 1.0  # weight × this for clean AAE-aligned rows
    dialect_thresholds: float = 0.0  # > 0: review thresholds raised until AAE/White clean flagged ≤ this (tune rows)
    constrained: tuple[str, ...] | None = None  # the classes whose review threshold is so raised (None: every one)

    def recipe(self, corpus: Corpus) -> Recipe:
        return Recipe(
            self.harmonise, corpus.recipe.placeholders, self.copies, self.copy_weight, self.every_class, self.dialect
        )

    def prepare(self, corpus: Corpus) -> Prepare | None:
        return reweigh.relabelling(self.recipe(corpus).prepare(), self.in_group, self.relabel, self.aae_clean)

    def weights(self, corpus: Corpus) -> np.ndarray:
        factor = np.ones(len(corpus.labels))
        for name, times in self.source_weights.items():
            factor[corpus.source == corpus.names.index(name)] = times
        return corpus.weights * factor


VARIANTS = {
    v.name: v
    for v in (
        Variant("davidson only (today)", sources=("davidson",), harmonise=False),
        Variant("both, as published", harmonise=False),
        Variant("both, harmonised", harmonise=True),
        Variant("both, harmonised, counterfactual ×2", copies=2),
        Variant("both, harmonised, counterfactual ×4 w1", copies=4, copy_weight=1.0),
        Variant("both, harmonised, counterfactual ×2 every class", copies=2, every_class=True),
        Variant("both, harmonised, counterfactual ×2 every class w1", copies=2, copy_weight=1.0, every_class=True),
        Variant("both, harmonised, hatexplain ×0.5", source_weights={"hatexplain": 0.5}),
        Variant("both, harmonised, hatexplain ×2", source_weights={"hatexplain": 2.0}),
        Variant("both, harmonised, counterfactual ×2, hatexplain ×0.5", copies=2, source_weights={"hatexplain": 0.5}),
        Variant("both, harmonised, rule per source", rule_per_source=True),
        Variant("both, harmonised, rule per source, C 0.5", rule_per_source=True, c=0.5),
        Variant("both, harmonised, rule per source, stop words kept", rule_per_source=True, stop_words=False),
        Variant(
            "both, harmonised, rule per source, stop words kept, C 0.5", rule_per_source=True, stop_words=False, c=0.5
        ),
        Variant(
            "both, harmonised, rule per source, stop words kept, C 0.125",
            rule_per_source=True,
            stop_words=False,
            c=0.125,
        ),
        Variant("both, harmonised, rule per source, C 0.125", rule_per_source=True, c=0.125),
        Variant("both, harmonised, rule per source, dialect reweighing", rule_per_source=True, dialect=1.0),
        Variant("both, harmonised, rule per source, dialect reweighing ½", rule_per_source=True, dialect=0.5),
        Variant("both, harmonised, dialect reweighing", dialect=1.0),
        Variant("both, harmonised, dialect reweighing ½", dialect=0.5),
        Variant("both, as published, dialect reweighing", harmonise=False, dialect=1.0),
        # the served recipe ("rule per source, dialect reweighing ½", HateXplain 0.5 in the manifest), and:
        Variant("served + in-group-only AAE rows ×0.1", rule_per_source=True, dialect=0.5, in_group=0.1),
        Variant("served + in-group-only AAE rows relabelled clean", rule_per_source=True, dialect=0.5, relabel=True),
        Variant("served + clean AAE rows ×4", rule_per_source=True, dialect=0.5, aae_clean=4.0),
        Variant(
            "served + relabelled, clean AAE rows ×4", rule_per_source=True, dialect=0.5, relabel=True, aae_clean=4.0
        ),
        Variant("served + dialect-constrained thresholds", rule_per_source=True, dialect=0.5, dialect_thresholds=1.5),
        Variant(
            "served + dialect-constrained offensive threshold",
            rule_per_source=True,
            dialect=0.5,
            dialect_thresholds=1.5,
            constrained=("offensive language",),
        ),
        Variant(
            "served + relabelled, dialect-constrained thresholds",
            rule_per_source=True,
            dialect=0.5,
            relabel=True,
            dialect_thresholds=1.5,
        ),
        Variant(
            "full reweighing, relabelled, clean AAE rows ×10",
            rule_per_source=True,
            dialect=1.0,
            relabel=True,
            aae_clean=10.0,
        ),
        Variant("served, hatexplain 0.4", rule_per_source=True, dialect=0.5, source_weights={"hatexplain": 0.8}),
        Variant("served, hatexplain 0.3", rule_per_source=True, dialect=0.5, source_weights={"hatexplain": 0.6}),
        Variant("served, davidson ×1.5", rule_per_source=True, dialect=0.5, source_weights={"davidson": 1.5}),
    )
}


@dataclass
class Served:
    """A fitted pipeline as the service runs it: compiled, with a rule and thresholds tuned on other rows."""

    model: CompiledModel
    policy: Policy
    size_bytes: int
    arrays: dict[str, Any]

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        return self.model.predict_proba(list(texts))

    def labels(self, texts: Sequence[str]) -> np.ndarray:
        return decide(self.probabilities(texts), self.policy.weights)

    def actions(self, texts: Sequence[str]) -> list[str]:
        """``/moderate``'s action for each text: the thresholds, then the identity-attack and threat checks."""
        _, actions, _ = self.policy.decide_many(self.probabilities(texts))
        return [
            "review" if action == ALLOW and self.checked(text) else action
            for text, action in zip(texts, actions, strict=True)
        ]

    def checked(self, text: str) -> bool:
        """Whether the identity-attack or the threat check matches ``text``."""
        return attacks.check_scored(self.model, text) is not None or threats.check_scored(self.model, text) is not None

    def flagged(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([a != ALLOW for a in self.actions(texts)], dtype=bool) if len(texts) else np.zeros(0, bool)


def serve(
    pipeline: Any,
    tune_texts: Sequence[str],
    tune_labels: np.ndarray,
    tune_groups: np.ndarray | None = None,
    dialect_ratio: float = 0.0,
    constrained: tuple[str, ...] | None = None,
) -> Served:
    """Compile ``pipeline``; tune the rule and thresholds on rows it was not fitted on (with ``dialect_ratio``,
    the review thresholds under that constraint on the tune rows' clean dialect groups)."""
    arrays = compile_checked(pipeline)
    model = CompiledModel(arrays)
    probabilities = model.predict_proba(list(tune_texts))
    dialects = reweigh.dialect_groups(tune_texts) if dialect_ratio else None
    card = {
        "decision_rule": {"weights": evaluate.tune_rule(probabilities, tune_labels, tune_groups)},
        "thresholds": evaluate.choose_thresholds(
            probabilities, tune_labels, None, dialects, dialect_ratio or 1.5, constrained
        ),
        "sha256": "candidate",
    }
    return Served(model, Policy.from_card(card), len(to_npz(arrays)), arrays)


def fit_served(
    recipe: Recipe,
    weights: np.ndarray,
    corpus: Corpus,
    rows: np.ndarray,
    per_source: bool = False,
    c: float = 0.25,
    stop_words: bool = True,
    prepare: Prepare | None = None,
    dialect_ratio: float = 0.0,
    constrained: tuple[str, ...] | None = None,
) -> Served:
    """Fit on 80% of ``rows`` (stratified by source and class) prepared by ``recipe`` (or ``prepare``), tune
    on the other 20% (``serve``)."""
    strata = corpus.source[rows] * len(LABELS) + corpus.labels[rows]
    fitted, tuned = train_test_split(rows, test_size=0.2, stratify=strata, random_state=SEED)
    with normalised_once(), preparing(prepare or recipe.prepare()):
        pipeline = fit(
            build_pipeline(c, stop_words), [corpus.texts[i] for i in fitted], corpus.labels[fitted], weights[fitted]
        )
    groups = corpus.source[tuned] if per_source else None
    return serve(pipeline, [corpus.texts[i] for i in tuned], corpus.labels[tuned], groups, dialect_ratio, constrained)


def identity(served: Served, path: Path = IDENTITY_SET) -> dict[str, dict[str, Any]]:
    """Per kind, the flagged share overall and in the worst group (most flagged; least for ``hateful``)."""
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    hits = served.flagged([r["text"] for r in rows])
    result = {}
    for kind in KINDS:
        mine = [(r["group"], h) for r, h in zip(rows, hits, strict=True) if r["kind"] == kind]
        groups = {g: np.mean([h for g2, h in mine if g2 == g]) for g in dict.fromkeys(g for g, _ in mine)}
        worst = (min if kind == "hateful" else max)(groups, key=groups.__getitem__)
        result[kind] = {"overall": float(np.mean([h for _, h in mine])), "worst": worst, "worst_share": groups[worst]}
    return result


def dialect_ratio(texts: Sequence[str], hits: np.ndarray) -> dict[str, Any]:
    """Flagged share of African-American-aligned clean posts over White-aligned ones (TwitterAAE ≥ 0.6)."""
    p = dialect.proportions(texts, dialect.model_dir())
    aae = np.nan_to_num(p[:, dialect.AFRICAN_AMERICAN]) >= ALIGNED
    white = np.nan_to_num(p[:, dialect.WHITE]) >= ALIGNED
    a, w = float(hits[aae].mean()), float(hits[white].mean())
    ratio = a / w if w > 0 else float("inf")
    counts = [int(hits[aae].sum()), int(aae.sum()), int(hits[white].sum()), int(white.sum())]
    return {"aae": a, "white": w, "ratio": ratio, "n": [int(aae.sum()), int(white.sum())], "counts": counts}


def macro_f1(served: Served, texts: Sequence[str], labels: np.ndarray) -> float:
    return float(f1_score(labels, served.labels(texts), average="macro"))


def davidson_split(corpus: Corpus) -> tuple[np.ndarray, np.ndarray]:
    """Davidson's trained rows: 80% to train and 20% to score, stratified (seed 42)."""
    rows = np.flatnonzero(corpus.trained & (corpus.source == corpus.names.index("davidson")))
    train, test = train_test_split(rows, test_size=0.2, stratify=corpus.labels[rows], random_state=SEED)
    return np.sort(train), np.sort(test)


def run(variant: Variant, corpus: Corpus) -> tuple[dict[str, Any], Served]:
    """The variant's figures on the fixed split (module docstring)."""
    started = time.perf_counter()
    d_train, d_test = davidson_split(corpus)
    rows = [d_train]
    if "hatexplain" in variant.sources:
        rows.append(np.flatnonzero(corpus.trained & (corpus.source == corpus.names.index("hatexplain"))))
    recipe, weights = variant.recipe(corpus), variant.weights(corpus)
    served = fit_served(
        recipe,
        weights,
        corpus,
        np.concatenate(rows),
        variant.rule_per_source,
        variant.c,
        variant.stop_words,
        variant.prepare(corpus),
        variant.dialect_thresholds,
        variant.constrained,
    )
    hx_val = corpus.rows("hatexplain", held_out=True)
    d_texts, hx_texts = [corpus.texts[i] for i in d_test], [corpus.texts[i] for i in hx_val]
    d_actions = served.actions(d_texts)
    stripped = served.actions([as_hatexplain(t) for t in d_texts])
    clean = corpus.labels[hx_val] == NEITHER
    hx_flagged = served.flagged(hx_texts)
    d_clean = [t for t, y in zip(d_texts, corpus.labels[d_test], strict=True) if y == NEITHER]
    return {
        "variant": variant.name,
        "davidson_macro_f1": macro_f1(served, d_texts, corpus.labels[d_test]),
        "hatexplain_val_macro_f1": macro_f1(served, hx_texts, corpus.labels[hx_val]),
        "hatexplain_val_clean_flagged": float(hx_flagged[clean].mean()),
        "identity": identity(served),
        "dialect_davidson_clean": dialect_ratio(d_clean, served.flagged(d_clean)),
        "dialect_hatexplain_clean": dialect_ratio(
            [t for t, c in zip(hx_texts, clean, strict=True) if c], hx_flagged[clean]
        ),
        # what a threshold variant gives up: the share of each abusive class flagged (review or block)
        "flagged_per_class": {
            name: {LABELS[k]: float(hits[labels == k].mean()) for k in range(len(LABELS))}
            for name, hits, labels in (
                ("davidson", np.array([a != ALLOW for a in d_actions]), corpus.labels[d_test]),
                ("hatexplain", hx_flagged, corpus.labels[hx_val]),
            )
        },
        "stripped_same_action": float(np.mean([a == b for a, b in zip(d_actions, stripped, strict=True)])),
        "size_mb": served.size_bytes / 1e6,
        "seconds": round(time.perf_counter() - started, 1),
    }, served


def davidson_dialect_out_of_fold(variant: Variant, corpus: Corpus, served: Served, folds: int = 5) -> dict[str, Any]:
    """The dialect ratio on every Davidson clean tweet, out of fold (as ``bench/fairness.py`` measures it, 96
    AAE-aligned tweets instead of the fixed split's twenty): each fold's Davidson training rows plus the
    other sources' training rows fitted with the variant's recipe and weights, decided by ``served``'s rule and
    thresholds (tuned on the fixed split's tune rows) and checks."""
    data = np.flatnonzero(corpus.trained & (corpus.source == corpus.names.index("davidson")))
    others = np.flatnonzero(corpus.trained & (corpus.source != corpus.names.index("davidson")))
    splits = StratifiedKFold(n_splits=folds, shuffle=True, random_state=SEED).split(data, corpus.labels[data])
    weights = variant.weights(corpus)
    texts: list[str] = []
    hits: list[np.ndarray] = []
    with normalised_once(), preparing(variant.prepare(corpus)):
        for train, test in splits:
            rows = np.concatenate([data[train], others if "hatexplain" in variant.sources else others[:0]])
            pipeline = fit(
                build_pipeline(variant.c, variant.stop_words),
                [corpus.texts[i] for i in rows],
                corpus.labels[rows],
                weights[rows],
            )
            clean = [corpus.texts[i] for i in data[test] if corpus.labels[i] == NEITHER]
            _, actions, _ = served.policy.decide_many(pipeline.predict_proba(clean))
            hits.append(np.array([a != ALLOW or served.checked(t) for t, a in zip(clean, actions, strict=True)]))
            texts += clean
    return dialect_ratio(texts, np.concatenate(hits))


def leave_one_out(recipe: Recipe, weights: np.ndarray, corpus: Corpus) -> dict[str, float]:
    """Trained without each source, scored on it: Davidson's 20% test rows, HateXplain's ``val``."""
    d_train, d_test = davidson_split(corpus)
    hx_train = np.flatnonzero(corpus.trained & (corpus.source == corpus.names.index("hatexplain")))
    hx_val = corpus.rows("hatexplain", held_out=True)
    result = {}
    for left, train, test in (("hatexplain", d_train, hx_val), ("davidson", hx_train, d_test)):
        served = fit_served(recipe, weights, corpus, train)
        texts = [corpus.texts[i] for i in test]
        result[f"without {left}, macro-F1 on {left}"] = macro_f1(served, texts, corpus.labels[test])
        clean = corpus.labels[test] == NEITHER
        result[f"without {left}, {left} clean flagged"] = float(served.flagged(texts)[clean].mean())
    return result


def dialect_cell(d: dict[str, Any]) -> str:
    """``ratio (AAE flagged/n : White flagged/n)``: the cells are small, the counts say how small."""
    a, n_a, w, n_w = d["counts"]
    return f"{d['ratio']:.2f} ({a}/{n_a} : {w}/{n_w})"


def row(f: dict[str, Any]) -> str:
    ident = " | ".join(
        f"{f['identity'][k]['overall']:.0%} ({f['identity'][k]['worst']} {f['identity'][k]['worst_share']:.0%})"
        for k in KINDS
    )
    return (
        f"| {f['variant']} | {f['davidson_macro_f1']:.3f} | {f['hatexplain_val_macro_f1']:.3f} "
        f"| {f['hatexplain_val_clean_flagged']:.1%} | {ident} | {dialect_cell(f['dialect_davidson_clean'])} / "
        f"{dialect_cell(f['dialect_hatexplain_clean'])} | {f['stripped_same_action']:.1%} | {f['size_mb']:.1f} |"
    )


HEADER = (
    "| variant | Davidson macro-F1 (20% test, rule) | HateXplain val macro-F1 | HateXplain val clean flagged "
    "| identity neutral (worst) | counter (worst) | in-group (worst) | hateful (least) "
    "| dialect ratio Davidson / HateXplain clean | stripped tweets same action | MB |\n" + "|---" * 11 + "|"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", action="append", choices=list(VARIANTS), help="default: all")
    parser.add_argument("--leave-one-out", action="store_true", help="also train without each source")
    parser.add_argument("--dialect-folds", type=int, default=0, help="also Davidson's dialect ratio, out of fold")
    parser.add_argument("--json", type=Path, help="append each variant's figures to this JSON-lines file")
    args = parser.parse_args(argv)
    corpus = load_corpus()
    print(HEADER)
    for name in args.variant or list(VARIANTS):
        variant = VARIANTS[name]
        figures, served = run(variant, corpus)
        if args.dialect_folds:
            figures["dialect_davidson_out_of_fold"] = davidson_dialect_out_of_fold(
                variant, corpus, served, args.dialect_folds
            )
        if args.leave_one_out and len(variant.sources) > 1:
            figures["leave_one_out"] = leave_one_out(variant.recipe(corpus), variant.weights(corpus), corpus)
        print(row(figures), flush=True)
        print(
            "  flagged per class (hate / offensive / clean): "
            + "; ".join(
                f"{name} " + " / ".join(f"{v:.1%}" for v in shares.values())
                for name, shares in figures["flagged_per_class"].items()
            )
        )
        if "dialect_davidson_out_of_fold" in figures:
            print(f"  Davidson clean, out of fold: {dialect_cell(figures['dialect_davidson_out_of_fold'])}")
        if "leave_one_out" in figures:
            print("  leave one source out: " + ", ".join(f"{k} {v:.3f}" for k, v in figures["leave_one_out"].items()))
        if args.json:
            with open(args.json, "a", encoding="utf-8") as f:
                f.write(json.dumps(figures) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
