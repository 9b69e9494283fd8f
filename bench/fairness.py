"""Fairness benchmark: who the served model flags, by identity group and by dialect (the judgement issue).

    .venv/bin/python bench/fairness.py [--quick] [--folds 5] [--model models/model.json]

Prints two Markdown tables for bench/RESULTS.md, with the model and thresholds the service loads
(``hatespeech.load()``); a post is *flagged* when its action is ``review`` or ``block`` (the
identity-attack and threat checks included), as ``/moderate`` answers.

a) The identity and counter-speech set (tests/data/identity, the project's own sentences): the
   flagged share per group and kind, overall per kind, and the worst group per kind.
b) Dialect: the flagged share of *clean* posts the model was not trained on, African-American-aligned
   (TwitterAAE proportion ≥ 0.6, ``hatespeech.training.dialect``) against White-aligned (≥ 0.6):
   - Davidson et al. ``neither`` tweets, scored *out of fold*: the served model was trained on all of
     Davidson, so the production pipeline is fitted again (``training.pipeline.fit``, the same
     stratified folds and seed as training's cross-validation) and each fold's clean tweets are
     decided by the served rule and thresholds. The served model's in-sample figure is shown for
     comparison only;
   - HateXplain's ``val`` split, its clean (``neither``) Twitter posts, scored by the served model
     (its ``test`` split is withheld and never read).

A model trained on the manifest's sources (its card lists ``data.sources``) is refitted the way it was
trained: each Davidson fold's training rows plus the other sources' training rows, prepared by the
manifest's recipe (``hatespeech.training.sources``).

``--why`` adds, per dialect group, what flagged its flagged clean posts (which threshold or check) and
the word that carried each (the largest abusive contribution in the explanation of the model that scored
it: the fold's for Davidson, the served one for HateXplain).

``--quick`` fits one fold of the five instead of all of them (a fifth of Davidson's clean tweets),
for a check in a few minutes. Research data is read from ../shared/data (``--davidson``,
``--hatexplain``, ``--dialect-model`` or DIALECT_MODEL_DIR to point elsewhere).
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold
from tqdm.auto import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import hatespeech
from hatespeech.config import DATA_PATHS, ROOT
from hatespeech.core.explain import explain
from hatespeech.core.labels import LABELS, severity_scores
from hatespeech.core.model import CompiledModel
from hatespeech.core.moderator import Moderator
from hatespeech.training import dialect
from hatespeech.training.compile import compile_checked
from hatespeech.training.data import load_dataset
from hatespeech.training.pipeline import SEED, build_pipeline, fit, normalised_once, preparing
from hatespeech.training.sources import load_corpus

IDENTITY_SET = ROOT / "tests" / "data" / "identity" / "identity_set.csv"
HATEXPLAIN = ROOT.parent / "shared" / "data" / "hatexplain" / "hatexplain_train_val.csv"
KINDS = ("neutral", "counter", "ingroup", "hateful")
NEITHER = LABELS.index("neither")

# The done-when targets of the judgement issue: kind → (most or least overall, most for any group).
# Neutral mentions of a group are flagged rarely, for every group; quoting a slur to condemn it
# and in-group use at most as often as a moderator can bear; slur-free hate mostly caught.
IDENTITY_TARGETS = {"neutral": ("≤", 0.10, 0.20), "counter": ("≤", 0.30, None), "ingroup": ("≤", 0.30, None)}
IDENTITY_TARGETS["hateful"] = ("≥", 0.70, None)
ALIGNED = 0.6  # a post is aligned with a dialect when that topic's proportion reaches this
DIALECT_RATIO, DIALECT_BOTH_BELOW = 1.5, 0.05  # AAE-aligned flagged share ≤ 1.5 × White-aligned's, or both ≤ 5%


def flagged(moderator: Moderator, texts: Sequence[str]) -> np.ndarray:
    """Whether the served model flags each text, as ``/moderate`` decides (an empty text is allowed)."""
    result = np.zeros(len(texts), dtype=bool)
    for i, text in enumerate(tqdm(texts, desc="scoring", unit="post", disable=None, leave=False)):
        if text.strip():
            result[i] = moderator.moderate(text[: moderator.max_text_chars])["action"] != "allow"
    return result


def decided(moderator: Moderator, texts: Sequence[str], probabilities: np.ndarray) -> np.ndarray:
    """Whether the served rule, thresholds, identity-attack and threat checks flag texts given probabilities
    of another fit."""
    _, actions, _ = moderator.policy.decide_many(probabilities)
    check = np.array([moderator.attack(t) is not None or moderator.threat(t) is not None for t in texts], dtype=bool)
    return (np.array(actions) != "allow") | check


def reasons(moderator: Moderator, texts: Sequence[str], probabilities: np.ndarray) -> list[list[str]]:
    """What flags each text: each threshold its severity score reaches, and the identity-attack and threat checks."""
    severity = severity_scores(probabilities)
    found: list[list[str]] = []
    for i, text in enumerate(texts):
        mine = [
            f"{label} {'block' if severity[label][i] >= t.block else 'review'}"
            for label, t in moderator.policy.thresholds.items()
            if severity[label][i] >= t.review
        ]
        mine += ["identity-attack check"] if moderator.attack(text) is not None else []
        mine += ["threat check"] if moderator.threat(text) is not None else []
        found.append(mine)
    return found


def cue(model: CompiledModel, text: str) -> str:
    """The span of ``text`` that adds most to its abusive classes' margins (the explanation's contributions)."""
    totals: Counter[str] = Counter()
    for span in explain(model, text)["spans"]:
        if span["class"] != "neither":
            totals[span["text"].lower()] += span["contribution"]
    return max(totals, key=totals.__getitem__) if totals else ""


def share(hits: np.ndarray) -> str:
    return f"{hits.mean():.0%} ({int(hits.sum())}/{len(hits)})" if len(hits) else "—"


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson interval of a share k/n: the dialect cells are small."""
    if n == 0:
        return math.nan, math.nan
    p, z2 = k / n, z * z
    centre, half = (p + z2 / (2 * n)) / (1 + z2 / n), z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return centre - half, centre + half


# --- a) identity set ---------------------------------------------------------------------------


def identity_table(moderator: Moderator) -> str:
    with open(IDENTITY_SET, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    hits = flagged(moderator, [r["text"] for r in rows])
    groups = list(dict.fromkeys(r["group"] for r in rows))
    cell = {
        (g, k): np.array([h for h, r in zip(hits, rows, strict=True) if r["group"] == g and r["kind"] == k], dtype=bool)
        for g in groups
        for k in KINDS
    }
    lines = ["| group | " + " | ".join(KINDS) + " |", "|---" * (len(KINDS) + 1) + "|"]
    lines += [f"| {g} | " + " | ".join(share(cell[g, k]) for k in KINDS) + " |" for g in groups]
    overall = {k: np.array([h for h, r in zip(hits, rows, strict=True) if r["kind"] == k], dtype=bool) for k in KINDS}
    lines.append("| **overall** | " + " | ".join(f"**{share(overall[k])}**" for k in KINDS) + " |")
    worst = {}
    for k in KINDS:
        # neutral, counter, ingroup: the most flagged group; hateful: the least flagged
        pick = min if k == "hateful" else max
        worst[k] = pick(groups, key=lambda g, k=k: cell[g, k].mean())
    lines.append("| worst group | " + " | ".join(f"{worst[k]}: {cell[worst[k], k].mean():.0%}" for k in KINDS) + " |")
    verdicts = []
    for k in KINDS:
        sign, limit, per_group = IDENTITY_TARGETS[k]
        value = overall[k].mean()
        met = value <= limit if sign == "≤" else value >= limit
        text = f"{sign} {limit:.0%}"
        if per_group is not None:
            met = met and cell[worst[k], k].mean() <= per_group
            text += f", any group ≤ {per_group:.0%}"
        verdicts.append(f"{text}: {'met' if met else '**not met**'}")
    lines.append("| target | " + " | ".join(verdicts) + " |")
    return "\n".join(lines)


# --- b) dialect --------------------------------------------------------------------------------


def davidson_out_of_fold(
    moderator: Moderator, path: Path, folds: int, quick: bool, sources: bool = False, why: list | None = None
) -> tuple[list[str], np.ndarray]:
    """Davidson's clean tweets of the scored folds and whether the served rule flags each, out of fold;
    with ``sources``, each fold's model is trained as the manifest's models are (the module's docstring).
    With a list ``why``, each tweet's (reasons, cue) is appended to it, from the fold's compiled model."""
    corpus = load_corpus() if sources else None
    data = load_dataset(path) if corpus is None else corpus.dataset(leave_out="hatexplain")  # Davidson's rows
    other = corpus.dataset(leave_out="davidson") if corpus is not None else None
    prepare = corpus.recipe.prepare() if corpus is not None else None
    splits = list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=SEED).split(data.texts, data.labels))
    texts: list[str] = []
    hits: list[np.ndarray] = []
    with normalised_once(), preparing(prepare):
        for train, test in tqdm(splits[:1] if quick else splits, desc="out-of-fold fits", unit="fold", disable=None):
            weights = np.ones(len(train)) if data.agreement is None else data.agreement[train]
            train_texts, labels = [data.texts[i] for i in train], data.labels[train]
            if other is not None and other.agreement is not None:
                train_texts, labels = train_texts + other.texts, np.concatenate([labels, other.labels])
                weights = np.concatenate([weights, other.agreement])
            model = fit(build_pipeline(), train_texts, labels, weights)
            clean = [data.texts[i] for i in test if data.labels[i] == NEITHER]
            probabilities = model.predict_proba(clean)
            hits.append(decided(moderator, clean, probabilities))
            texts += clean
            if why is not None:
                compiled = CompiledModel(compile_checked(model))
                for text, flags in zip(clean, reasons(moderator, clean, probabilities), strict=True):
                    why.append((flags, cue(compiled, text) if flags else ""))
    return texts, np.concatenate(hits)


def hatexplain_clean_twitter(path: Path) -> list[str]:
    """HateXplain's clean Twitter posts of the ``val`` split (never ``test``, which is not in the file either)."""
    with open(path, encoding="utf-8", newline="") as f:
        return [
            r["text"].strip()
            for r in csv.DictReader(f)
            if r["split"] == "val" and r["platform"] == "twitter" and r["label"] == "neither"
        ]


def dialect_row(name: str, texts: Sequence[str], hits: np.ndarray, model_dir: Path) -> str:
    p = dialect.proportions(texts, model_dir)
    answered = ~np.isnan(p).any(axis=1)
    aae = answered & (np.nan_to_num(p[:, dialect.AFRICAN_AMERICAN]) >= ALIGNED)
    white = answered & (np.nan_to_num(p[:, dialect.WHITE]) >= ALIGNED)
    cells = []
    for mask in (aae, white):
        k, n = int(hits[mask].sum()), int(mask.sum())
        low, high = wilson(k, n)
        cells.append(f"{n} | {k / n:.1%} [{low:.1%}, {high:.1%}]" if n else f"{n} | —")
    a, w = hits[aae].mean() if aae.any() else math.nan, hits[white].mean() if white.any() else math.nan
    ratio = a / w if w > 0 else math.inf
    met = ratio <= DIALECT_RATIO or (a <= DIALECT_BOTH_BELOW and w <= DIALECT_BOTH_BELOW)
    return (
        f"| {name} | {len(texts)} ({int(answered.sum())}) | {hits.mean():.1%} | {cells[0]} | {cells[1]} "
        f"| {ratio:.2f} | {'met' if met else '**not met**'} |"
    )


def why_lines(name: str, texts: Sequence[str], why: Sequence[tuple[list[str], str]], model_dir: Path) -> list[str]:
    """For the flagged clean posts of each dialect group: what flagged them, and the words that carried it."""
    p = np.nan_to_num(dialect.proportions(texts, model_dir))
    lines = []
    for group, column in (("AAE-aligned", dialect.AFRICAN_AMERICAN), ("White-aligned", dialect.WHITE)):
        mine = [why[i] for i in np.flatnonzero(p[:, column] >= ALIGNED) if why[i][0]]
        flags = Counter(flag for flags, _ in mine for flag in flags)
        cues = Counter(word for _, word in mine if word)
        lines.append(
            f"| {name} | {group} | {len(mine)} | "
            + ", ".join(f"{flag} {n}" for flag, n in flags.most_common())
            + " | "
            + ", ".join(f"{word} {n}" for word, n in cues.most_common(8))
            + " |"
        )
    return lines


def dialect_table(moderator: Moderator, args: argparse.Namespace) -> str:
    model_dir = dialect.model_dir(args.dialect_model)
    lines = [
        "| clean posts | n (with a dialect answer) | flagged, all | AAE-aligned n | AAE-aligned flagged [95% CI] "
        f"| White-aligned n | White-aligned flagged [95% CI] | ratio AAE / White | target ≤ {DIALECT_RATIO} "
        f"or both ≤ {DIALECT_BOTH_BELOW:.0%} |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    sources = "sources" in moderator.card.get("data", {})
    why: list | None = [] if args.why else None
    texts, hits = davidson_out_of_fold(moderator, args.davidson, args.folds, args.quick, sources, why)
    scored = f"1 of {args.folds} folds" if args.quick else f"{args.folds} folds"
    lines.append(dialect_row(f"Davidson `neither`, out of fold ({scored}, seed {SEED})", texts, hits, model_dir))
    lines.append(
        dialect_row(
            "Davidson `neither`, served model (in-sample, for comparison)", texts, flagged(moderator, texts), model_dir
        )
    )
    hx = hatexplain_clean_twitter(args.hatexplain)
    lines.append(dialect_row("HateXplain `val` Twitter `neither`, served model", hx, flagged(moderator, hx), model_dir))
    if why is not None:
        model = moderator.classifier.model
        hx_why = [
            (flags, cue(model, t) if flags else "")
            for t, flags in zip(hx, reasons(moderator, hx, np.array(moderator.scores(hx))), strict=True)
        ]
        lines += [
            "",
            "| clean posts | group | flagged | flagged by | the word carrying each (its top abusive span) |",
            "|---|---|---|---|---|",
        ]
        lines += why_lines("Davidson `neither`, out of fold", texts, why, model_dir)
        lines += why_lines("HateXplain `val` Twitter `neither`", hx, hx_why, model_dir)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one out-of-fold fit instead of --folds")
    parser.add_argument("--folds", type=int, default=5, help="out-of-fold folds for Davidson (training uses 5)")
    parser.add_argument("--why", action="store_true", help="also say what flags the flagged clean posts, per dialect")
    parser.add_argument("--model", type=Path, default=None, help="a model card (default: the committed model)")
    parser.add_argument("--davidson", type=Path, default=next((p for p in DATA_PATHS if p.is_file()), DATA_PATHS[0]))
    parser.add_argument("--hatexplain", type=Path, default=HATEXPLAIN)
    parser.add_argument("--dialect-model", type=Path, default=None, help="TwitterAAE folder (or DIALECT_MODEL_DIR)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    moderator = hatespeech.load(args.model)
    thresholds = ", ".join(
        f"{label} review {t.review} block {t.block}" for label, t in moderator.policy.thresholds.items()
    )
    model = moderator.policy.model["sha256"][:12]
    print(f"Model {model}, default thresholds ({thresholds}); flagged = review or block.\n")
    print("a) Identity and counter-speech set (tests/data/identity): flagged share (flagged/n)\n")
    print(identity_table(moderator))
    print(f"\nb) Dialect: flagged share of clean posts, aligned = TwitterAAE proportion ≥ {ALIGNED}\n")
    print(dialect_table(moderator, args))
    print(f"\n{time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
