"""The classes, in the order the Davidson et al. CSV numbers them (column ``class``), and the severity rule."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

LABELS: tuple[str, ...] = ("hate speech", "offensive language", "neither")
HATE, OFFENSIVE, NEITHER = range(len(LABELS))
ABUSIVE: tuple[str, ...] = LABELS[:NEITHER]  # the classes with moderation thresholds


def severity_scores(probabilities: ArrayLike) -> dict[str, Any]:
    """What the moderation thresholds compare, per abusive class: the probability that a text is
    *at least* that bad. Hate speech is offensive too, so "offensive language" scores
    P(hate speech) + P(offensive language) = 1 − P(neither): a text split 10/90 between the two
    is certainly abusive, and must not slip under both thresholds.

    One row gives numbers, many rows (a 2-D array) give one array per class.

    >>> {k: round(float(v), 4) for k, v in severity_scores([0.1, 0.85, 0.05]).items()}
    {'hate speech': 0.1, 'offensive language': 0.95}
    """
    p = np.asarray(probabilities, dtype=np.float64)
    hate = p[..., HATE]
    return {LABELS[HATE]: hate, LABELS[OFFENSIVE]: hate + p[..., OFFENSIVE]}
