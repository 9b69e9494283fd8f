"""The lean inference path: the fitted pipeline compiled, at load time, into plain Python/NumPy.

scikit-learn's per-call overhead (validation, sparse matrices, a dozen estimators' ``transform``)
costs milliseconds on a single text; the arithmetic itself costs microseconds. ``compile_pipeline``
reads the fitted objects' attributes (vocabularies, idf, coefficients, calibrators) and returns a
``LeanModel`` that gives the same probabilities as ``pipeline.predict_proba`` (|Δ| ≤ 1e-9; see
tests/test_fast.py), so the pipeline stays the single source of truth. Anything it does not know
raises ``NotImplementedError`` at compile time, and the caller keeps scikit-learn.

>>> lean = compile_pipeline(pipeline)                           # doctest: +SKIP
>>> lean.proba_one("Please respect each other.")                 # doctest: +SKIP
[0.01..., 0.04..., 0.95...]

How it stays fast and exact:

- char_wb n-grams (and, for the usual token patterns, word tokens) are a function of each
  whitespace-separated word, so each word's features are computed once and kept in a bounded
  LRU cache; a document is the concatenation of its words' feature ids.
- idf × coefficient × transformer weight is folded, at compile time, into one row per feature.
  Only the per-document counts (for sublinear tf) and the block norms need the merged counts;
  they are merged with ``np.add.at`` on a per-thread scratch vector.
- Batches go through the same cached analysis, then scikit-learn's own tf-idf and calibrated
  classifier on the count matrix (exact by construction; their overhead is amortised).
"""

from __future__ import annotations

import math
import re
import threading
from array import array
from bisect import bisect_left
from collections.abc import Callable, Sequence
from functools import lru_cache
from itertools import chain, pairwise
from operator import itemgetter
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.calibration import CalibratedClassifierCV, _SigmoidCalibration
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model._base import LinearClassifierMixin
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import LabelEncoder

from hatespeech.text import Normaliser, normalise

WORD_CACHE_SIZE = 1 << 15  # distinct words whose features are kept (a few hundred bytes each)
WARM_WORDS = 16384  # words analysed at compile time (~0.2 s): stop words, then the commonest unigrams
# Token patterns whose matches never span whitespace and whose \b boundaries see a word edge
# the same way whether the neighbour is a space or the end of the string: tokenising word by word
# then gives exactly what tokenising the whole document gives.
PER_WORD_PATTERNS = frozenset(
    {r"(?u)\b\w\w+\b", r"\b\w\w+\b", r"(?u)\b\w+\b", r"\b\w+\b", r"(?u)\w+", r"\w+", r"(?u)\w\w+", r"\w\w+"}
)
TF_TABLE = 1 << 12  # tf/count and tf²/count are looked up for counts below this
_ID = np.dtype(np.intp)
_ID_CODE = {8: "q", 4: "i"}[_ID.itemsize]


def _unsupported(what: str) -> NotImplementedError:
    return NotImplementedError(f"the lean inference path does not support {what}; use scikit-learn")


class _Block:
    """One TfidfVectorizer of the FeatureUnion, its columns at ``offset`` in the merged space."""

    def __init__(self, name: str, vec: Any, weight: float, offset: int):
        if not isinstance(vec, TfidfVectorizer):
            raise _unsupported(f"the transformer {name!r} ({type(vec).__name__})")
        if vec.input != "content" or vec.preprocessor is not None or vec.tokenizer is not None:
            raise _unsupported(f"{name!r}: input={vec.input!r}, a custom preprocessor or tokenizer")
        if vec.strip_accents:  # NFKD can turn one word into several (U+00A8 → space + accent)
            raise _unsupported(f"{name!r}: strip_accents={vec.strip_accents!r}")
        if vec.analyzer not in ("word", "char_wb"):
            raise _unsupported(f"{name!r}: analyzer={vec.analyzer!r}")
        if np.dtype(vec.dtype) != np.float64:
            raise _unsupported(f"{name!r}: dtype={vec.dtype!r} (only float64 reproduces its rounding)")
        tfidf = getattr(vec, "_tfidf", None)
        if tfidf is None or not hasattr(vec, "vocabulary_"):
            raise _unsupported(f"{name!r}: an unfitted TfidfVectorizer")
        if tfidf.norm not in ("l2", "l1", None):
            raise _unsupported(f"{name!r}: norm={tfidf.norm!r}")
        self.name, self.vec, self.tfidf = name, vec, tfidf
        self.analyzer = vec.analyzer
        self.lower = bool(vec.lowercase)
        self.min_n, self.max_n = vec.ngram_range
        self.binary, self.sublinear, self.norm = bool(vec.binary), bool(tfidf.sublinear_tf), tfidf.norm
        self.weight = float(weight)
        self.size = len(vec.vocabulary_)
        self.offset = offset
        self.vocab = {term: offset + int(j) for term, j in vec.vocabulary_.items()}
        idf = np.asarray(tfidf.idf_, dtype=np.float64) if hasattr(tfidf, "idf_") else np.ones(self.size)
        if idf.shape != (self.size,):
            raise _unsupported(f"{name!r}: idf_ of shape {idf.shape} for {self.size} terms")
        self.idf = idf
        if self.analyzer == "word":
            pattern = re.compile(vec.token_pattern)
            if pattern.groups > 1:
                raise _unsupported(f"{name!r}: a token pattern with several groups")
            self.findall = pattern.findall
            self.per_word = vec.token_pattern in PER_WORD_PATTERNS
            stop = vec.get_stop_words()
            self.stop = frozenset(stop) if stop else frozenset()

        self.missing = -1  # set by LeanModel: the id of an all-zero row that stands for "not in the vocabulary"
        counts = np.arange(TF_TABLE, dtype=np.float64)
        counts[0] = 1.0  # unused: a feature that occurs has a count of at least 1
        self.pair_table = self.weights(counts, table=False)

    def tf(self, count: np.ndarray) -> np.ndarray:
        """tf as scikit-learn computes it from counts: 1, the count, or 1 + log(count)."""
        if self.binary:
            return np.ones(count.shape)
        if self.sublinear:
            tf = np.log(count.astype(np.float64))
            tf += 1.0
            return tf
        return count.astype(np.float64)

    def weights(self, count: np.ndarray, table: bool = True) -> np.ndarray:
        """Per occurrence, tf/count and tf²/count (columns), so that summing occurrences sums each feature once."""
        if table and len(count) < TF_TABLE:  # no count can exceed the number of occurrences
            return self.pair_table.take(count, axis=0)
        tf = self.tf(count)
        share = tf / count
        return np.stack([share, share * tf], axis=1)

    def tokens(self, text: str) -> list[str]:
        """The word analyzer's tokens of ``text`` (a word or a document), stop words removed."""
        if self.lower:
            text = text.lower()
        stop = self.stop
        return [t for t in self.findall(text) if t not in stop] if stop else self.findall(text)

    def word_ids(self, tokens: list[str]) -> bytes:
        """Feature ids of the word n-grams of ``tokens`` (the same multiset as ``_word_ngrams``), packed."""
        grams = list(tokens) if self.min_n == 1 else []
        for n in range(max(self.min_n, 2), self.max_n + 1):
            if n == 2:
                grams += [a + " " + b for a, b in pairwise(tokens)]
            else:
                grams += [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
        get, missing = self.vocab.get, self.missing
        return array(_ID_CODE, [get(g, missing) for g in grams]).tobytes()

    def char_wb_ids(self, word: str) -> bytes:
        """Feature ids of one word's char_wb n-grams (as ``_char_wb_ngrams`` makes them), packed."""
        if self.lower:
            word = word.lower()
        w = " " + word + " "
        w_len = len(w)
        grams = []
        for n in range(self.min_n, self.max_n + 1):
            if w_len <= n:  # a word no longer than n counts once, and ends the n-grams, as in scikit-learn
                grams.append(w)
                break
            grams += [w[i : i + n] for i in range(w_len - n + 1)]
        return array(_ID_CODE, [j for j in map(self.vocab.get, grams) if j is not None]).tobytes()


class _Calibrated:
    """One ``_CalibratedClassifier``: its decision columns, class indices and calibrators."""

    def __init__(self, cc: Any, classes: np.ndarray, column: int):
        est = cc.estimator
        if isinstance(est, OneVsRestClassifier):
            parts = est.estimators_
            if not all(isinstance(e, LinearClassifierMixin) and e.coef_.shape[0] == 1 for e in parts):
                raise _unsupported("a one-vs-rest classifier over anything but binary linear classifiers")
            coef = np.vstack([e.coef_ for e in parts])
            intercept = np.concatenate([np.ravel(e.intercept_) for e in parts])
        elif isinstance(est, LinearClassifierMixin):
            coef, intercept = est.coef_, np.ravel(est.intercept_)
        else:
            raise _unsupported(f"the calibrated estimator {type(est).__name__}")
        if sp.issparse(coef):
            coef = coef.toarray()
        self.coef = np.asarray(coef, dtype=np.float64)
        self.intercept = np.broadcast_to(np.asarray(intercept, dtype=np.float64), (self.coef.shape[0],)).tolist()
        self.columns = range(column, column + self.coef.shape[0])
        self.n_classes = len(classes)
        self.method = cc.method
        self.calibrators = list(cc.calibrators)
        if self.method in ("sigmoid", "isotonic"):
            pos = LabelEncoder().fit(cc.classes).transform(est.classes_)
            if self.n_classes == 2:
                pos = pos + 1  # binary: the one column scores classes[1]
            if len(pos) != self.coef.shape[0] and not (self.n_classes == 2 and self.coef.shape[0] == 1):
                raise _unsupported("calibrators that do not match the decision columns")
            self.targets = [int(p) for p in pos[: self.coef.shape[0]]]
            self.funcs = [self._calibrator(c) for c in self.calibrators]
        elif self.method != "temperature":
            raise _unsupported(f"calibration method {self.method!r}")

    @staticmethod
    def _calibrator(cal: Any) -> Callable[[float], float]:
        if type(cal) is _SigmoidCalibration:
            a, b = float(cal.a_), float(cal.b_)

            def sigmoid(t: float) -> float:  # scipy's expit(-(a t + b)), without its overflow
                z = a * t + b
                return 1.0 / (1.0 + math.exp(z)) if z < 709.0 else 0.0

            return sigmoid
        if type(cal) is IsotonicRegression and cal.out_of_bounds == "clip":
            xs, ys = cal.X_thresholds_.astype(np.float64).tolist(), cal.y_thresholds_.astype(np.float64).tolist()
            lo_x, hi_x = float(cal.X_min_), float(cal.X_max_)
            if len(ys) == 1:
                return lambda t: ys[0]

            def isotonic(t: float) -> float:  # scipy's interp1d(kind="linear") after clipping
                t = min(max(t, lo_x), hi_x)
                i = min(max(bisect_left(xs, t), 1), len(xs) - 1)
                slope = (ys[i] - ys[i - 1]) / (xs[i] - xs[i - 1])
                return slope * (t - xs[i - 1]) + ys[i - 1]

            return isotonic
        raise _unsupported(f"the calibrator {type(cal).__name__}")

    def proba(self, decision: list[float]) -> list[float]:
        values = [decision[c] for c in self.columns]
        n = self.n_classes
        if self.method == "temperature":  # rare: scikit-learn's own softmax on our decision values
            row = self.calibrators[0].predict(np.array([values]))[0].tolist()
        else:
            row = [0.0] * n
            for target, func, value in zip(self.targets, self.funcs, values, strict=False):
                row[target] = func(value)
            if n == 2:
                row[0] = 1.0 - row[1]
            else:
                total = sum(row)
                row = [p / total for p in row] if total != 0 else [1 / n] * n
        return [1.0 if 1.0 < p <= 1.0 + 1e-5 else p for p in row]


class LeanModel:
    """A compiled pipeline: ``proba_one(text)`` and ``predict_proba(texts)``; see the module docstring."""

    def __init__(self, pipeline: Pipeline):
        if not isinstance(pipeline, Pipeline):
            raise _unsupported(f"a {type(pipeline).__name__} (not a Pipeline)")
        steps = [(name, step) for name, step in pipeline.steps if step is not None and step != "passthrough"]
        if len(steps) < 2:
            raise _unsupported("a pipeline without features and a calibrated classifier")
        *pre, (_, features), (_, classifier) = steps
        self.pipeline = pipeline
        self.preprocess: list[Callable[[str], str]] = []
        for name, step in pre:
            if type(step) is not Normaliser:
                raise _unsupported(f"the step {name!r} ({type(step).__name__})")
            self.preprocess.append(normalise)
        self.blocks = self._blocks(features)
        self.n_features = sum(b.size for b in self.blocks)
        self.classifier = classifier
        self.calibrated = self._calibrated(classifier)
        self.classes = np.asarray(classifier.classes_)
        self.n_columns = sum(len(c.columns) for c in self.calibrated)
        self.intercept = [b for c in self.calibrated for b in c.intercept]
        # One row per feature, block-diagonal: for its block, weight × idf × each decision column's
        # coefficient, then idf (l1 norm) or idf² (l2 norm); zeros elsewhere. The last row, all
        # zeros, stands for n-grams outside the vocabulary.
        coef = np.vstack([c.coef for c in self.calibrated])
        if coef.shape[1] != self.n_features:
            raise _unsupported(f"a classifier over {coef.shape[1]} features (the union makes {self.n_features})")
        width = self.n_columns + 1
        table = np.zeros((self.n_features + 1, width * len(self.blocks)))
        for i, b in enumerate(self.blocks):
            rows, cols = slice(b.offset, b.offset + b.size), slice(i * width, i * width + self.n_columns)
            table[rows, cols] = (coef[:, rows] * (b.idf * b.weight)).T
            table[rows, (i + 1) * width - 1] = {"l2": b.idf**2, "l1": b.idf, None: 0.0}[b.norm]
            b.missing = self.n_features
        self.table = table
        self.word_blocks = [b for b in self.blocks if b.analyzer == "word"]
        self.char_blocks = [b for b in self.blocks if b.analyzer == "char_wb"]
        self.same_tf = len({(b.binary, b.sublinear) for b in self.blocks}) == 1
        self._local = threading.local()
        self.words = lru_cache(maxsize=WORD_CACHE_SIZE)(self._word)
        self._warm()

    @staticmethod
    def _blocks(features: Any) -> list[_Block]:
        if isinstance(features, TfidfVectorizer):
            named = [("features", features, 1.0)]
        elif isinstance(features, FeatureUnion):
            weights = features.transformer_weights or {}
            named = []
            for name, trans in features.transformer_list:
                if trans is None or (isinstance(trans, str) and trans == "drop"):
                    continue
                if isinstance(trans, str):
                    raise _unsupported(f"the FeatureUnion entry {name!r}={trans!r}")
                weight = weights.get(name)
                named.append((name, trans, 1.0 if weight is None else weight))
        else:
            raise _unsupported(f"the feature step {type(features).__name__}")
        blocks, offset = [], 0
        for name, vec, weight in named:
            blocks.append(_Block(name, vec, weight, offset))
            offset += blocks[-1].size
        if not blocks:
            raise _unsupported("a FeatureUnion without transformers")
        return blocks

    @staticmethod
    def _calibrated(classifier: Any) -> list[_Calibrated]:
        if not isinstance(classifier, CalibratedClassifierCV) or not hasattr(classifier, "calibrated_classifiers_"):
            raise _unsupported(f"the final step {type(classifier).__name__} (only a fitted CalibratedClassifierCV)")
        out, column = [], 0
        for cc in classifier.calibrated_classifiers_:
            out.append(_Calibrated(cc, np.asarray(classifier.classes_), column))
            column += len(out[-1].columns)
        return out

    def _warm(self) -> None:
        """Analyse the words most tweets use (stop words, frequent unigrams) before the first call."""
        words: list[str] = []
        for b in self.word_blocks:
            words += sorted(b.stop)
            terms = [t for t in b.vec.vocabulary_ if " " not in t]
            words += sorted(terms, key=lambda t: b.idf[b.vec.vocabulary_[t]])  # low idf = frequent
        for word in dict.fromkeys(words[:WARM_WORDS]):
            self.words(word)

    def _word(self, word: str) -> tuple:
        """Everything the blocks derive from one whitespace-separated word (cached)."""
        return tuple(
            (tuple(b.tokens(word)) if b.per_word else None) if b.analyzer == "word" else b.char_wb_ids(word)
            for b in self.blocks
        )

    def _analyse(self, text: str) -> list[bytes]:
        """Feature ids per block, packed, for one raw text (the pipeline's preprocessing applied)."""
        for step in self.preprocess:
            text = step(text)
        entries = list(map(self.words, text.split()))
        parts = []
        for i, b in enumerate(self.blocks):
            if b.analyzer == "char_wb":
                parts.append(b"".join(map(itemgetter(i), entries)))
            else:
                tokens = list(chain.from_iterable(map(itemgetter(i), entries))) if b.per_word else b.tokens(text)
                parts.append(b.word_ids(tokens))
        return parts

    def decision(self, text: str) -> list[float]:
        """Every calibrated classifier's decision values for one text, concatenated."""
        parts = self._analyse(text)
        sizes = [len(p) // _ID.itemsize for p in parts]
        ids = np.frombuffer(b"".join(parts), dtype=_ID)
        out = list(self.intercept)
        if not len(ids):
            return out
        acc = getattr(self._local, "acc", None)
        if acc is None:
            acc = self._local.acc = np.zeros(self.n_features + 1, dtype=_ID)
        try:
            np.add.at(acc, ids, 1)
            count = acc.take(ids)  # each occurrence sees its feature's count in the document
        finally:
            acc[ids] = 0
        if self.same_tf:
            pair = self.blocks[0].weights(count)
        else:
            bounds = np.cumsum([0, *sizes]).tolist()
            pair = np.concatenate([b.weights(count[bounds[i] : bounds[i + 1]]) for i, b in enumerate(self.blocks)])
        # Row 0: Σ tf/count × row = each block's decision terms and l1 norm; row 1: Σ tf²/count × row,
        # whose norm columns hold the squared l2 norms.
        share, square = np.dot(pair.T, self.table.take(ids, axis=0)).tolist()
        width = self.n_columns + 1
        for i, b in enumerate(self.blocks):
            n = (square if b.norm == "l2" else share)[(i + 1) * width - 1]
            scale = (1.0 / math.sqrt(n) if b.norm == "l2" else 1.0 / n) if b.norm and n > 0 else 1.0
            out = [o + v * scale for o, v in zip(out, share[i * width : (i + 1) * width - 1], strict=False)]
        return out

    def proba_one(self, text: str) -> list[float]:
        """Probabilities for one text, in ``classes`` order, as ``pipeline.predict_proba([text])[0]``."""
        decision = self.decision(text)
        if len(self.calibrated) == 1:
            return self.calibrated[0].proba(decision)
        total = [0.0] * len(self.classes)
        for c in self.calibrated:
            total = [t + p for t, p in zip(total, c.proba(decision), strict=False)]
        n = len(self.calibrated)
        return [t / n for t in total]

    def counts(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Term counts, one row per text, one column per feature (and a last one for "not in a vocabulary")."""
        indptr, chunks = [0], []
        for text in texts:
            chunks.append(b"".join(self._analyse(text)))
            indptr.append(indptr[-1] + len(chunks[-1]) // _ID.itemsize)
        ids = np.frombuffer(b"".join(chunks), dtype=_ID)
        shape = (len(indptr) - 1, self.n_features + 1)
        matrix = sp.csr_matrix((np.ones(len(ids)), ids, np.asarray(indptr, dtype=_ID)), shape=shape)
        matrix.sum_duplicates()
        return matrix

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities for many texts: cached analysis, then scikit-learn's own tf-idf and classifier."""
        counts = self.counts(texts)
        blocks = []
        for b in self.blocks:
            x = counts[:, b.offset : b.offset + b.size].tocsr()
            x.sort_indices()
            if b.binary:
                x.data.fill(1)
            x = b.tfidf.transform(x, copy=False)
            blocks.append(x * b.weight if b.weight != 1.0 else x)
        return self.classifier.predict_proba(sp.hstack(blocks, format="csr"))


def compile_pipeline(pipeline: Pipeline) -> LeanModel:
    """The fitted ``pipeline`` as a ``LeanModel``; ``NotImplementedError`` if it has parts we cannot compile."""
    return LeanModel(pipeline)
