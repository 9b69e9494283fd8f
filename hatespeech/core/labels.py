"""The classes, in the order the Davidson et al. CSV numbers them (column ``class``), and the severity rule."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

LABELS: tuple[str, ...] = ("hate speech", "offensive language", "neither")
HATE, OFFENSIVE, NEITHER = range(len(LABELS))
ABUSIVE: tuple[str, ...] = LABELS[:NEITHER]  # the classes with moderation thresholds


def abusive_probability(probabilities: ArrayLike | Mapping[str, float]) -> Any:
    """P(hate speech) + P(offensive language) = 1 − P(neither): the probability that a text is
    abusive at all, since hate speech is offensive too. What the offensive-language thresholds, the
    alerts' mean, Perspective's ``TOXICITY`` and the severity order of windows compare.

    ``probabilities``: one row or many (a 2-D array, one number per row back), in ``LABELS`` order,
    or a ``/moderate`` answer's ``scores`` (a class it leaves out counts 0). At most 1: the sum of
    two floats can pass it by a rounding error.

    >>> float(abusive_probability([0.1, 0.85, 0.05])), float(abusive_probability({"hate speech": 0.2}))
    (0.95, 0.2)
    >>> abusive_probability([[0.1, 0.2, 0.7], [0.5, 0.5, 0.0]]).tolist()
    [0.30000000000000004, 1.0]
    """
    if isinstance(probabilities, Mapping):
        probabilities = [float(probabilities.get(label, 0.0)) for label in LABELS]
    p = np.asarray(probabilities, dtype=np.float64)
    return np.minimum(p[..., HATE] + p[..., OFFENSIVE], 1.0)


def severity_scores(probabilities: ArrayLike) -> dict[str, Any]:
    """What the moderation thresholds compare, per abusive class: the probability that a text is
    *at least* that bad. Hate speech is offensive too, so "offensive language" scores
    ``abusive_probability``: a text split 10/90 between the two is certainly abusive, and must not
    slip under both thresholds.

    One row gives numbers, many rows (a 2-D array) give one array per class.

    >>> {k: round(float(v), 4) for k, v in severity_scores([0.1, 0.85, 0.05]).items()}
    {'hate speech': 0.1, 'offensive language': 0.95}
    """
    p = np.asarray(probabilities, dtype=np.float64)
    return {LABELS[HATE]: p[..., HATE], LABELS[OFFENSIVE]: abusive_probability(p)}
