"""The loaded model as plain Python: texts in, a probability per label out.

Nothing here knows about HTTP. Texts are checked once, by the caller (``hatespeech.core.validate``),
before they reach the model. It scores with the model's compiled form (``hatespeech.core.model``),
which gives the pipeline's probabilities in microseconds without importing scikit-learn.

>>> clf = Classifier.load(Path("models/model.json"))             # doctest: +SKIP
>>> clf.scores("Please respect each other.")                     # doctest: +SKIP
{'hate speech': 0.033..., 'offensive language': 0.530..., 'neither': 0.437...}
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hatespeech.core.labels import LABELS
from hatespeech.core.model import CompiledModel
from hatespeech.core.modelfile import load_compiled

# Below this many texts, they are scored one by one (plain Python); from it on, vectorised with
# NumPy, which pays off once its per-call overhead is shared by enough texts. Both are exact.
BATCH_MIN = 16


class Classifier:
    """A verified model and its card."""

    def __init__(self, model: CompiledModel, card: dict[str, Any]):
        self.model = model
        self.card = card

    @classmethod
    def load(cls, path: Path) -> Classifier:
        """The model its card at ``path`` vouches for (``hatespeech.core.modelfile``), or ``ModelError``."""
        model, card = load_compiled(path)
        return cls(model, card)

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities, one row per (checked) text, columns in ``LABELS`` order."""
        texts = list(texts)
        if len(texts) >= BATCH_MIN:
            return self.model.predict_proba(texts)
        return np.array([self.model.proba_one(t) for t in texts]).reshape(len(texts), len(LABELS))

    def scores(self, text: str) -> dict[str, float]:
        """``{"hate speech": p0, "offensive language": p1, "neither": p2}`` for one (checked) text."""
        return dict(zip(LABELS, self.model.proba_one(text), strict=True))
