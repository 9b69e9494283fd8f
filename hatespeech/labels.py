"""The classes, in the order the Davidson et al. CSV numbers them (column ``class``)."""

from collections.abc import Sequence

LABELS: tuple[str, ...] = ("hate speech", "offensive language", "neither")
HATE, OFFENSIVE, NEITHER = range(len(LABELS))


def severity_scores(probabilities: Sequence[float]) -> dict[str, float]:
    """What the moderation thresholds compare, per abusive class: the probability that a text is
    *at least* that bad. Hate speech is offensive too, so "offensive language" scores
    P(hate speech) + P(offensive language) = 1 − P(neither): a text split 10/90 between the two
    is certainly abusive, and must not slip under both thresholds.

    >>> severity_scores([0.1, 0.85, 0.05])
    {'hate speech': 0.1, 'offensive language': 0.95}
    """
    hate, offensive = float(probabilities[HATE]), float(probabilities[OFFENSIVE])
    return {LABELS[HATE]: hate, LABELS[OFFENSIVE]: hate + offensive}
