"""Models for the languages other than English: their data (``languages.toml``), pipeline and test figures.

``train.py --language de`` reads the language's training file (checked against its sha256), trains
as English is trained (``hatespeech.training.train``: held-out and nested cross-validation, thresholds
from out-of-fold curves, the production fit) with the language's pipeline, tunes the decision rule for
the macro-F1 its target names (``tune_rule``: coarse for German and Portuguese), then scores its test split
with the production model and rule: the card's ``metrics.test``, per class and coarse (abusive vs
neither).

The pipeline is English's without the English reader: ``hatespeech.core.wordreader.WordReader``
(no disguise reading, no glued-word splitting: German compounds stay whole; German's lexicon markers), word
TF-IDF (Korean: syllable 1–3-grams) and the calibrated one-vs-rest LinearSVC (with ``scaling = "nb"``, ``NBLinearSVC``:
the same linear form); it compiles like English's.
"""

from __future__ import annotations

import csv
import hashlib
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model._base import LinearClassifierMixin
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

from hatespeech.config import ROOT
from hatespeech.core.labels import LABELS
from hatespeech.core.policy import weighted_argmax
from hatespeech.core.wordreader import WordReader
from hatespeech.training import evaluate
from hatespeech.training.data import DataError, Dataset, sha256_of
from hatespeech.training.pipeline import SEED, calibrated_svc, word_features

MANIFEST = Path(__file__).with_name("languages.toml")
# The neither weight's grid for a coarse rule: finer than English's, and lower (a German tweet is abusive
# at a lower P(abusive) than the three-class rule's 0.5 allows)
COARSE_NEITHER_WEIGHTS = 2.0 ** (np.arange(-12, 9) / 4)  # 0.125 … 4
SPLIT_SEED = 27  # ToLD-Br has no official split: this seed fixes the held-out one
NEITHER = LABELS.index("neither")


class LanguageNormaliser(TransformerMixin, BaseEstimator):
    """``WordReader`` as a scikit-learn step (nothing learnt: ``fit`` only sets ``reader_``)."""

    lexicon: str | None = None  # what a step pickled before there were lexicons has
    lexicon_weight = 1

    def __init__(
        self,
        syllables: bool = False,
        chars: tuple[int, int] | None = None,
        lexicon: str | None = None,
        lexicon_weight: int = 1,
    ):
        self.syllables = syllables
        self.chars = chars
        self.lexicon = lexicon
        self.lexicon_weight = lexicon_weight

    def fit(self, X: Iterable[str], y: object = None) -> LanguageNormaliser:  # noqa: N803 (sklearn's name)
        self.reader_ = WordReader(self.syllables, self.chars, self.lexicon, self.lexicon_weight)
        return self

    def transform(self, X: Iterable[str]) -> list[str]:  # noqa: N803
        return self.reader_.normalise_all(X)


class NBLinearSVC(LinearClassifierMixin, BaseEstimator):
    """One-vs-rest LinearSVC on features scaled by each class's log-count ratio (NB-SVM, Wang & Manning 2012).

    For class ``c``, ``r_c = log((α + Σ x over c's rows) / ‖·‖₁) − log((α + Σ x over the others) / ‖·‖₁)``
    over the binarised features; a binary LinearSVC learns ``w_c`` on ``x ⊙ r_c``. The score
    ``(x ⊙ r_c)·w_c + b_c`` is ``x·(r_c ⊙ w_c) + b_c``: ``coef_`` holds ``r_c ⊙ w_c``, so the model is an
    ordinary linear one-vs-rest model to calibrate, compile and serve (nothing changes at serve time).
    ``beta`` < 1 interpolates ``w_c`` towards its mean magnitude (their ``β``): towards naive Bayes's own scores.
    """

    def __init__(
        self,
        C: float = 0.25,  # noqa: N803 (LinearSVC's name)
        alpha: float = 1.0,
        beta: float = 1.0,
        class_weight: Any = None,
        random_state: int = SEED,
    ):
        self.C = C
        self.alpha = alpha
        self.beta = beta
        self.class_weight = class_weight
        self.random_state = random_state

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> NBLinearSVC:  # noqa: N803
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        present = (X > 0).astype(np.float64)
        coefs, intercepts = [], []
        for c in self.classes_:
            mine = y == c
            p = self.alpha + np.asarray(present[mine].sum(axis=0)).ravel()
            q = self.alpha + np.asarray(present[~mine].sum(axis=0)).ravel()
            r = np.log(p / p.sum()) - np.log(q / q.sum())
            svc = LinearSVC(C=self.C, class_weight=self.class_weight, random_state=self.random_state)
            svc.fit(X.multiply(r).tocsr(), mine.astype(int), sample_weight=sample_weight)
            w = svc.coef_.ravel()
            coefs.append(((1 - self.beta) * np.abs(w).mean() + self.beta * w) * r)
            intercepts.append(svc.intercept_[0])
        self.coef_ = np.vstack(coefs)
        self.intercept_ = np.array(intercepts)
        self.n_features_in_ = X.shape[1]
        return self


def calibrated_nb_svc(c: float = 0.25) -> CalibratedClassifierCV:
    """``calibrated_svc`` with ``NBLinearSVC``: the same calibration, weights routed to the SVCs alone."""
    with sklearn.config_context(enable_metadata_routing=True):
        svc = NBLinearSVC(C=c).set_fit_request(sample_weight="svc_weight")
    return CalibratedClassifierCV(svc, method="sigmoid", cv=5, ensemble=True)


def build_pipeline(
    syllables: bool = False,
    ngram: tuple[int, int] = (1, 2),
    c: float = 0.25,
    chars: tuple[int, int] | None = None,
    nb: bool = False,
    min_df: int = 2,
    lexicon: str | None = None,
    lexicon_weight: int = 1,
) -> Pipeline:
    """The untrained pipeline of a language (see the module's docstring); ``nb``: ``NBLinearSVC``'s scaling,
    ``min_df``: the fewest training texts a feature is kept for; ``lexicon``, ``lexicon_weight``: ``WordReader``'s
    lexicon markers."""
    words = word_features(ngram).set_params(min_df=min_df)
    classifier = calibrated_nb_svc(c) if nb else calibrated_svc(c)
    normalise = LanguageNormaliser(syllables, chars, lexicon, lexicon_weight)
    return Pipeline([("normalise", normalise), ("features", words), ("classifier", classifier)])


@dataclass
class LanguageData:
    code: str
    spec: dict[str, Any]
    train: Dataset
    test_texts: list[str]
    test_labels: np.ndarray
    files: list[dict[str, Any]]

    def builder(self, c: float = 0.25) -> Any:
        syllables, ngram = self.spec["features"] == "syllables", tuple(self.spec["ngram"])
        chars = tuple(self.spec["chars"]) if "chars" in self.spec else None
        nb, min_df = self.spec.get("scaling") == "nb", int(self.spec.get("min_df", 2))
        lexicon, weight = self.spec.get("lexicon"), int(self.spec.get("lexicon_weight", 1))
        return lambda: build_pipeline(syllables, ngram, c, chars, nb, min_df, lexicon, weight)


def read_manifest(path: Path = MANIFEST) -> dict[str, dict[str, Any]]:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise DataError(f"cannot read the languages manifest {path}: {err}") from None


def _find(code: str, file: dict[str, Any], root: Path) -> Path:
    for p in file["paths"]:
        if (root / p).is_file():
            path = root / p
            digest = sha256_of(path)
            if digest != file["sha256"]:
                raise DataError(f"{code}: {path} has sha256 {digest}, {MANIFEST.name} says {file['sha256']}")
            return path
    raise DataError(f"{code}: no file at {' nor '.join(str(root / p) for p in file['paths'])}")


def _shown(path: Path, root: Path) -> str:
    """``path`` as the card shows it: relative to the repository when it is found from there."""
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def _rows(spec: dict[str, Any], path: Path) -> tuple[list[str], np.ndarray]:
    """Texts and label indices of one file, by the language's format and label mapping."""
    texts: list[str] = []
    labels: list[int] = []
    with open(path, newline="", encoding="utf-8") as f:
        if spec["format"] == "germeval":
            for line in f:
                if line.strip():
                    text, _, fine = line.rstrip("\n").split("\t")
                    texts.append(text.replace("|LBR|", " "))
                    labels.append(LABELS.index(spec["labels"][fine]))
        elif spec["format"] == "beep":
            for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
                texts.append(row["comments"])
                labels.append(LABELS.index(spec["labels"][row["hate"]]))
        elif spec["format"] == "told-br":
            for row in csv.DictReader(f):
                flagged = {k for k in spec["hate"] + spec["offensive"] if float(row[k]) >= spec["votes"]}
                texts.append(row["text"])
                if flagged & set(spec["hate"]):
                    labels.append(LABELS.index("hate speech"))
                else:
                    labels.append(LABELS.index("offensive language") if flagged else NEITHER)
        else:
            raise DataError(f"unknown format {spec['format']!r} in {MANIFEST.name}")
    return texts, np.array(labels, dtype=int)


def load(code: str, manifest: Path = MANIFEST, root: Path = ROOT) -> LanguageData:
    """The language's training rows and test split (``DataError`` if a file is missing or differs)."""
    specs = read_manifest(manifest)
    if code not in specs:
        raise DataError(f"no language {code!r} in {manifest.name} (there are: {', '.join(specs)})")
    spec = specs[code]
    train_path = _find(code, spec["train"], root)
    texts, labels = _rows(spec, train_path)
    files = [{"path": _shown(train_path, root), "sha256": spec["train"]["sha256"], "rows": len(texts)}]
    if "test" in spec:
        test_path = _find(code, spec["test"], root)
        test_texts, test_labels = _rows(spec, test_path)
        files.append({"path": _shown(test_path, root), "sha256": spec["test"]["sha256"], "rows": len(test_texts)})
    else:
        rows = np.arange(len(texts))
        kept, held = train_test_split(rows, test_size=spec["held_out"], stratify=labels, random_state=SPLIT_SEED)
        test_texts, test_labels = [texts[i] for i in held], labels[held]
        texts, labels = [texts[i] for i in kept], labels[kept]
    digest = hashlib.sha256(repr([f["sha256"] for f in files] + [code, len(texts)]).encode()).hexdigest()
    train = Dataset(texts=texts, labels=labels, sha256=digest, path=train_path)
    return LanguageData(code, spec, train, test_texts, test_labels, files)


def score_test_split(model: Any, data: LanguageData, rule: list[float]) -> dict[str, Any]:
    """The test split scored by the production model and rule: per class, and coarse (abusive vs neither)."""
    probabilities = model.predict_proba(data.test_texts)
    predicted = weighted_argmax(probabilities, rule)
    result = evaluate.metrics(data.test_labels, predicted, probabilities)
    truth, said = data.test_labels != NEITHER, predicted != NEITHER
    result["coarse_macro_f1"] = float(f1_score(truth, said, average="macro"))
    result["coarse_per_class"] = {
        "abusive": float(f1_score(truth, said, pos_label=True)),
        "neither": float(f1_score(truth, said, pos_label=False)),
    }
    result["split"] = data.spec["test_split"]
    return result


def tune_rule(spec: dict[str, Any], probabilities: np.ndarray, labels: np.ndarray, weights: list[float]) -> list[float]:
    """The decision rule's weights for the macro-F1 the language's target names (``rule`` in its manifest entry):
    ``"coarse"`` keeps the hate weight of ``weights`` (the three-class rule) and chooses the neither weight
    maximising coarse (abusive vs neither) macro-F1 on the out-of-fold ``probabilities``, smoothed over its
    neighbours as English's rule is; else ``weights`` as they are.

    >>> p = np.array([[0.1, 0.3, 0.6], [0.0, 0.9, 0.1], [0.1, 0.1, 0.8]])
    >>> tune_rule({"rule": "coarse"}, p, np.array([1, 1, 2]), [2.0, 1.0, 1.0])[0]
    2.0
    """
    if spec.get("rule") != "coarse":
        return weights
    truth = labels != NEITHER
    scores = np.array(
        [
            f1_score(truth, weighted_argmax(probabilities, [weights[0], 1.0, n]) != NEITHER, average="macro")
            for n in COARSE_NEITHER_WEIGHTS
        ]
    )
    smooth = np.convolve(np.pad(scores, 1, mode="edge"), np.ones(3) / 3, mode="valid")
    return [weights[0], 1.0, round(float(COARSE_NEITHER_WEIGHTS[int(smooth.argmax())]), 4)]


def rule_target(spec: dict[str, Any]) -> str:
    """What the decision rule was tuned for (the card says it)."""
    coarse = spec.get("rule") == "coarse"
    return ("coarse (abusive vs neither)" if coarse else "three-class") + " macro-F1 on out-of-fold probabilities"


def card_section(data: LanguageData) -> dict[str, Any]:
    """What the model card says of the language's data and features."""
    spec = data.spec
    lexicon = "lexicon" in spec
    return {
        "language": data.code,
        "title": spec["title"],
        "licence": spec["licence"],
        "files": data.files,
        "test_split": spec["test_split"],
        "label_mapping": spec.get("labels")
        or {"hate speech": spec["hate"], "offensive language": spec["offensive"], "votes": spec["votes"]},
        "features": f"{spec['features']} {tuple(spec['ngram'])}-grams"
        + (f", character {tuple(spec['chars'])}-grams" if "chars" in spec else "")
        + (f", lexicon markers (lexicon_{spec['lexicon']}.txt, ×{spec.get('lexicon_weight', 1)})" if lexicon else "")
        + (", scaled by each class's log-count ratio (NB-SVM)" if spec.get("scaling") == "nb" else "")
        + ", English reader not applied",
    }
