"""The loaded model as plain Python: validated text in, a probability per label out.

Nothing here knows about HTTP; bad input raises ``InvalidText`` (a ``ValueError``), which the
web layer turns into a 400.

The pipeline is compiled once, at load time, into the lean inference path (``hatespeech.fast``),
which gives the same probabilities in microseconds; a pipeline it cannot compile, or whose
compiled form disagrees with it on the probe texts, is served by scikit-learn, with a warning.

>>> clf = Classifier.load()                                      # doctest: +SKIP
>>> clf.scores("Please respect each other.")                     # doctest: +SKIP
{'hate speech': 0.01, 'offensive language': 0.04, 'neither': 0.95}
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hatespeech.config import DEFAULT_MODEL_PATH, Settings
from hatespeech.fast import LeanModel, compile_pipeline
from hatespeech.labels import LABELS
from hatespeech.model_file import PROBES, load_model

log = logging.getLogger(__name__)
TOLERANCE = 1e-9  # the lean path must agree with the pipeline to this, or it is not used
# Below this many texts, the lean path scores them one by one; above, its batch path (cached
# analysis, then scikit-learn's vectorised tf-idf and classifier) is faster. Both are exact.
BATCH_MIN = 64
CHECKS = (*PROBES, "", "!!!", "\x00 \ud800 😀 &amp; @user https://t.co/x #tag", "ha " * 2000)


class InvalidText(ValueError):
    """The text cannot be scored; the message says why, in words a caller can act on."""


def check_text(text: object, max_chars: int, name: str = "text") -> str:
    if not isinstance(text, str):
        raise InvalidText(f"{name} must be a string, not {_json_type(text)}")
    if not text.strip():
        raise InvalidText(f"{name} must contain something other than white space")
    if len(text) > max_chars:
        raise InvalidText(f"{name} is {len(text)} characters long; the maximum is {max_chars}")
    return text


def _json_type(value: object) -> str:
    names = {
        type(None): "null",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        list: "an array",
        dict: "an object",
    }
    return names.get(type(value), type(value).__name__)


def compile_checked(model: Any) -> LeanModel | None:
    """The lean form of ``model`` if it compiles and agrees with it on ``CHECKS``; else None (logged)."""
    try:
        lean = compile_pipeline(model)
    except NotImplementedError as err:
        log.warning("serving with scikit-learn (slower): %s", err)
        return None
    texts = list(CHECKS)
    expected = model.predict_proba(texts)
    got = np.array([lean.proba_one(t) for t in texts])
    worst = float(np.abs(got - expected).max()) if got.shape == expected.shape else float("inf")
    if not worst <= TOLERANCE:
        log.warning("serving with scikit-learn (slower): the lean path differs from it by %.3g", worst)
        return None
    return lean


class Classifier:
    """A verified model plus the limits it is served with."""

    def __init__(self, model: Any, card: dict[str, Any], max_text_chars: int = Settings.max_text_chars):
        self.model = model
        self.card = card
        self.max_text_chars = max_text_chars
        self.lean = compile_checked(model)

    @classmethod
    def load(cls, path: Path = DEFAULT_MODEL_PATH, max_text_chars: int = Settings.max_text_chars) -> Classifier:
        model, card = load_model(path)
        return cls(model, card, max_text_chars)

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities, one row per text, columns in ``LABELS`` order."""
        texts = list(texts)
        lean = self.lean
        if lean is None or not all(isinstance(t, str) for t in texts):
            return self.model.predict_proba(texts)  # scikit-learn says what is wrong with a non-text
        if len(texts) >= BATCH_MIN:
            return lean.predict_proba(texts)
        return np.array([lean.proba_one(t) for t in texts]).reshape(len(texts), len(LABELS))

    def scores(self, text: object) -> dict[str, float]:
        """``{"hate speech": p0, "offensive language": p1, "neither": p2}`` for one text."""
        text = check_text(text, self.max_text_chars)
        row = self.lean.proba_one(text) if self.lean is not None else self.model.predict_proba([text])[0].tolist()
        return dict(zip(LABELS, row, strict=True))
