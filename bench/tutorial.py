"""The tutorial's pipeline as published, for side-by-side benchmarks (never committed, never served).

    .venv/bin/python bench/tutorial.py [--data PATH] [--rows N]    fit it (minutes), cache it under /tmp

The tutorial (Haitz 2019, "Creating and Deploying a Python Machine Learning Service"):
``re.sub('[^A-Za-z]+', ' ', tweet.lower())`` at training time only,
``TfidfVectorizer(stop_words=get_stop_words('en'))`` + ``OneVsRestClassifier(SVC(kernel='linear',
probability=True))``, raw text at prediction time, served as ``firefly app.predict`` where
``predict(text)`` returns the three probabilities. Fitted on the whole data set (its prediction
cost grows with the number of support vectors, so a subset would flatter it), cached in
``CACHE`` (outside the repository: it is a pickle, and 10+ MB).

Served by ``firefly bench.tutorial.predict`` with ``TUTORIAL_MODEL`` (the cache path) set, the
model is loaded at import, as the tutorial's app.py does (bench/http.py does this).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
import warnings
from pathlib import Path

import joblib
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.svm import SVC
from stop_words import get_stop_words

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from hatespeech.config import DEFAULT_DATA_PATH  # noqa: E402 (after the path is set)
from hatespeech.training.data import load_dataset  # noqa: E402

CACHE = Path("/tmp/hatespeech-bench/tutorial.joblib")
SHARED_DATA = ROOT.parent / "shared" / "data" / "davidson" / "labeled_data.csv"


def data_path() -> Path:
    return DEFAULT_DATA_PATH if DEFAULT_DATA_PATH.is_file() else SHARED_DATA


def fit(texts: list[str], labels: np.ndarray) -> Pipeline:
    cleaned = [re.sub("[^A-Za-z]+", " ", t.lower()) for t in texts]
    model = make_pipeline(
        TfidfVectorizer(stop_words=get_stop_words("en")),
        OneVsRestClassifier(SVC(kernel="linear", probability=True)),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # as published: inconsistent stop words, deprecated options
        model.fit(cleaned, labels)
    return model


def cache_path() -> Path:
    """``TUTORIAL_MODEL`` if set (e.g. a model fitted on a subset with ``--rows``), else ``CACHE``."""
    return Path(os.environ.get("TUTORIAL_MODEL") or CACHE)


def load(path: Path | None = None, data: Path | None = None, rows: int | None = None) -> Pipeline:
    """The fitted tutorial pipeline from the cache, fitting (minutes) and caching it if absent."""
    path = path or cache_path()
    if path.is_file():
        return joblib.load(path)
    dataset = load_dataset(data or data_path())
    texts, labels = dataset.texts, dataset.labels
    if rows:  # a stratified-enough sample: every row's order shuffled with a fixed seed
        order = np.random.default_rng(5).permutation(len(texts))[:rows]
        texts, labels = [texts[i] for i in order], labels[order]
    started = time.perf_counter()
    model = fit(texts, labels)
    print(f"tutorial pipeline fitted on {len(texts)} rows in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    joblib.dump(model, tmp)
    os.replace(tmp, path)
    return model


# Served (TUTORIAL_MODEL set): loaded at import, as the tutorial's app.py does.
_model: Pipeline | None = load() if os.environ.get("TUTORIAL_MODEL") else None


def predict(text: str) -> dict[str, float]:
    """The tutorial's served function: raw text in, three probabilities out."""
    model = _model if _model is not None else load()
    p = model.predict_proba([text])[0]
    return {"hate speech": float(p[0]), "offensive language": float(p[1]), "neither": float(p[2])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--rows", type=int, default=None, help="fit on this many rows (cached as tutorial-N.joblib)")
    args = parser.parse_args(argv)
    path = CACHE.with_name(f"tutorial-{args.rows}.joblib") if args.rows else cache_path()
    model = load(path, args.data, args.rows)
    svs = sum(len(e.support_) for e in model[-1].estimators_)
    print(f"{path}: {svs} support vectors over {len(model[-1].estimators_)} one-vs-rest SVCs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
