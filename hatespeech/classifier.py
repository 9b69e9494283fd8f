"""The loaded model as plain Python: validated text in, a probability per label out.

Nothing here knows about HTTP; bad input raises ``InvalidText`` (a ``ValueError``), which the
web layer turns into a 400. It scores with the model's compiled form (``hatespeech.compiled``),
which gives the pipeline's probabilities in microseconds without importing scikit-learn.

>>> clf = Classifier.load()                                      # doctest: +SKIP
>>> clf.scores("Please respect each other.")                     # doctest: +SKIP
{'hate speech': 0.033..., 'offensive language': 0.530..., 'neither': 0.437...}
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hatespeech.compiled import CompiledModel
from hatespeech.config import DEFAULT_MODEL_PATH, Settings
from hatespeech.labels import LABELS
from hatespeech.model_file import load_compiled

# Below this many texts, they are scored one by one (plain Python); from it on, vectorised with
# NumPy, which pays off once its per-call overhead is shared by enough texts. Both are exact.
BATCH_MIN = 16


class InvalidText(ValueError):
    """The text cannot be scored; the message says why, in words a caller can act on."""


def check_text(text: object, max_chars: int, name: str = "text") -> str:
    if not isinstance(text, str):
        raise InvalidText(f"{name} must be a string, not {_json_type(text)}")
    if not text or text.isspace():  # no copy of the text, unlike strip()
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


class Classifier:
    """A verified model plus the limits it is served with."""

    def __init__(self, model: CompiledModel, card: dict[str, Any], max_text_chars: int = Settings.max_text_chars):
        self.model = model
        self.card = card
        self.max_text_chars = max_text_chars

    @classmethod
    def load(cls, path: Path = DEFAULT_MODEL_PATH, max_text_chars: int = Settings.max_text_chars) -> Classifier:
        model, card = load_compiled(path)
        return cls(model, card, max_text_chars)

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities, one row per text (strings), columns in ``LABELS`` order."""
        texts = list(texts)
        if not all(isinstance(t, str) for t in texts):
            raise TypeError("texts must all be strings")
        if len(texts) >= BATCH_MIN:
            return self.model.predict_proba(texts)
        return np.array([self.model.proba_one(t) for t in texts]).reshape(len(texts), len(LABELS))

    def scores(self, text: object) -> dict[str, float]:
        """``{"hate speech": p0, "offensive language": p1, "neither": p2}`` for one text."""
        return dict(zip(LABELS, self.model.proba_one(check_text(text, self.max_text_chars)), strict=True))
