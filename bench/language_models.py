"""The other languages' features, compared: one fit on the training rows, scored on the test split (issue 27).

    .venv/bin/python bench/language_models.py de 1-1:3-5:0.25 1-2:none:0.25
    VOTES=2 .venv/bin/python bench/language_models.py pt 1-2:none:0.25

Each spec is ``word n-gram range:character n-gram range (or none):C``; Korean reads syllables. Prints,
per spec, 3-class and coarse (abusive vs neither) macro-F1 at argmax, the coarse macro-F1 of the best
threshold on P(neither) chosen on the test split itself (an upper bound, not a result), the number of
features and the seconds taken. ``VOTES`` relabels ToLD-Br with another vote threshold.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hatespeech.training import languages
from hatespeech.training.pipeline import fit


def main() -> None:
    code, specs = sys.argv[1], sys.argv[2:]
    data = languages.load(code)
    if code == "pt" and os.environ.get("VOTES"):
        spec = {**data.spec, "votes": int(os.environ["VOTES"])}
        texts, labels = languages._rows(spec, languages._find(code, spec["train"], languages.ROOT))
        kept, held = train_test_split(
            np.arange(len(texts)), test_size=spec["held_out"], stratify=labels, random_state=languages.SPLIT_SEED
        )
        train = dataclasses.replace(data.train, texts=[texts[i] for i in kept], labels=labels[kept])
        data = dataclasses.replace(data, train=train, test_texts=[texts[i] for i in held], test_labels=labels[held])
    neither = languages.NEITHER
    truth = data.test_labels
    print(f"{code}: train {np.bincount(data.train.labels).tolist()}, test {np.bincount(truth).tolist()}")
    for spec in specs:
        words, chars, c = spec.split(":")
        ngram = tuple(int(n) for n in words.split("-"))
        grams = None if chars == "none" else tuple(int(n) for n in chars.split("-"))
        started = time.perf_counter()
        pipeline = fit(
            languages.build_pipeline(code == "ko", ngram, float(c), grams), data.train.texts, data.train.labels
        )
        p = pipeline.predict_proba(data.test_texts)
        said = p.argmax(axis=1)
        bound = max(f1_score(truth != neither, p[:, neither] < t, average="macro") for t in np.arange(0.3, 0.95, 0.025))
        print(
            f"{spec}: 3-class {f1_score(truth, said, average='macro'):.3f}, coarse "
            f"{f1_score(truth != neither, said != neither, average='macro'):.3f}, best threshold {bound:.3f}, "
            f"{len(pipeline.named_steps['features'].vocabulary_)} features, {time.perf_counter() - started:.0f} s"
        )


if __name__ == "__main__":
    main()
