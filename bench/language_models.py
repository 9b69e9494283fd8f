"""The other languages' model variants, each measured as train.py would choose its rule (issue 27).

    .venv/bin/python bench/language_models.py de 1-1:3-5:0.25 1-1:3-5:0.25:nb 1-1:3-5:0.25:nb:min_df=3
    .venv/bin/python bench/language_models.py --test de 1-1:3-5:0.25:nb
    .venv/bin/python bench/language_models.py pt 1-2:none:0.25 1-2:3-5:0.25
    VOTES=2 .venv/bin/python bench/language_models.py pt 1-2:none:0.25

Each spec is ``word n-gram range:character n-gram range (or none):C``, then optionally ``:balanced`` (the
SVC's class weights), ``:nb`` (``languages.NBLinearSVC``'s log-count-ratio scaling), ``:lex`` (the
language's lexicon markers, ``hatespeech/core/lexicon_<code>.txt``; ``:lex=16``: each counted 16 times) and
``:name=value`` for the vectorizer's ``min_df``, ``max_df``, ``binary``, ``sublinear_tf`` (1 or 0) or NB's
``alpha`` and ``beta``; Korean reads syllables. Per spec: 5-fold out-of-fold probabilities on the training
rows only, the
three-class rule tuned on them (``evaluate.tune_rule``) and the coarse one (``languages.tune_rule``),
and coarse (abusive vs neither) and three-class macro-F1 under each rule. The test split chooses
nothing: it is scored only with ``--test`` (one fit on every training row), for the variant chosen
out of fold. ``VOTES`` relabels ToLD-Br with another vote threshold.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hatespeech.core.policy import weighted_argmax
from hatespeech.training import evaluate, languages
from hatespeech.training.pipeline import SEED, fit

FOLDS = 5


def _data(code: str) -> languages.LanguageData:
    data = languages.load(code)
    if code == "pt" and os.environ.get("VOTES"):
        spec = {**data.spec, "votes": int(os.environ["VOTES"])}
        texts, labels = languages._rows(spec, languages._find(code, spec["train"], languages.ROOT))
        kept, held = train_test_split(
            np.arange(len(texts)), test_size=spec["held_out"], stratify=labels, random_state=languages.SPLIT_SEED
        )
        train = dataclasses.replace(data.train, texts=[texts[i] for i in kept], labels=labels[kept])
        data = dataclasses.replace(data, train=train, test_texts=[texts[i] for i in held], test_labels=labels[held])
    return data


def _range(text: str) -> tuple[int, int]:
    low, high = text.split("-")
    return int(low), int(high)


def _build(code: str, spec: str) -> Pipeline:
    words, chars, c, *extra = spec.split(":")
    grams = None if chars == "none" else _range(chars)
    lexicon = code if "lex" in extra or any(e.startswith("lex=") for e in extra) else None
    pipeline = languages.build_pipeline(code == "ko", _range(words), float(c), grams, nb="nb" in extra, lexicon=lexicon)
    if "balanced" in extra:
        pipeline.set_params(classifier__estimator__class_weight="balanced")
    for option in (e for e in extra if "=" in e):
        name, value = option.split("=")
        parsed: object = {
            "min_df": int,
            "max_df": float,
            "alpha": float,
            "beta": float,
            "binary": bool,
            "sublinear_tf": bool,
            "lex": int,
        }[name](value if name not in ("binary", "sublinear_tf") else value == "1")
        step = "classifier__estimator__" if name in ("alpha", "beta") else "features__"
        if name == "lex":
            step, name = "normalise__", "lexicon_weight"
        pipeline.set_params(**{step + name: parsed})
    return pipeline


def _coarse(truth: np.ndarray, said: np.ndarray) -> float:
    return float(f1_score(truth != languages.NEITHER, said != languages.NEITHER, average="macro"))


def main() -> None:
    args = sys.argv[1:]
    scored = "--test" in args  # the test split is scored only when asked: for the one variant chosen out of fold
    code, *specs = [a for a in args if a != "--test"]
    data = _data(code)
    texts, labels = data.train.texts, data.train.labels
    truth = data.test_labels
    print(
        f"{code}: train {np.bincount(labels).tolist()}, test {np.bincount(truth).tolist()} ({data.spec['test_split']})"
    )
    print(
        "\n| variant | out-of-fold coarse (its rule) | out-of-fold 3-class | rule [hate, offensive, neither] "
        "| test coarse | test 3-class |"
    )
    print("|---|---|---|---|---|---|")
    for spec in specs:
        started = time.perf_counter()
        oof = np.zeros((len(texts), 3))
        for kept, held in StratifiedKFold(FOLDS, shuffle=True, random_state=SEED).split(texts, labels):
            model = fit(_build(code, spec), [texts[i] for i in kept], labels[kept])
            oof[held] = model.predict_proba([texts[i] for i in held])
        three = evaluate.tune_rule(oof, labels)
        coarse = languages.tune_rule({"rule": "coarse"}, oof, labels, three)
        p = None
        if scored:
            model = fit(_build(code, spec), texts, labels)
            p = model.predict_proba(data.test_texts)
        features = len(model.named_steps["features"].vocabulary_)
        seconds = time.perf_counter() - started
        for name, rule in (("three-class rule", three), ("coarse rule", coarse)):
            said = weighted_argmax(oof, rule)
            test = "not scored | not scored"
            if p is not None:
                on_test = weighted_argmax(p, rule)
                test = f"{_coarse(truth, on_test):.3f} | {f1_score(truth, on_test, average='macro'):.3f}"
            print(
                f"| {spec}, {name} ({features} features, {seconds:.0f} s) | {_coarse(labels, said):.3f} | "
                f"{f1_score(labels, said, average='macro'):.3f} | {rule} | {test} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
