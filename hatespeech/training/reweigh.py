"""Dialect reweighing: stop the labels' dialect skew from becoming the model's.

Davidson et al.'s annotators labelled tweets written in African-American English (AAE) offensive far
more often than others (Davidson, Bhattacharya & Weber 2019; Sap et al. 2019), so the words of the
dialect itself become evidence of abuse, and clean AAE posts get flagged. Reweighing (Kamiran & Calders
2012, "Data preprocessing techniques for classification without discrimination") gives each row the
weight that makes its label independent of its dialect group in the weighted data:

    w(group, label) = P(group) P(label) / P(group, label)

so the few clean AAE-aligned rows count for more, and the many abusive ones for a little less. Nothing is
deleted and no word is removed from the features; the labels stay as the annotators gave them.

The group is Blodgett et al.'s TwitterAAE proportion (``hatespeech.training.dialect``, training code
only: the service never computes it) of at least ``ALIGNED``, the same line ``bench/fairness.py``
measures with. ``strength`` between 0 and 1 takes the weights to that power: 1 is full reweighing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hatespeech.training import dialect

ALIGNED = 0.6  # as bench/fairness.py
MAX_FACTOR = 10.0  # a rare (group, label) cell may not outweigh its rows tenfold: its few rows are noisy

_aligned: dict[str, bool] = {}  # text → AAE-aligned: inference is slow (seconds per thousand) and each fold asks again


def aae_aligned(texts: Sequence[str]) -> np.ndarray:
    """Whether each text's African-American-aligned proportion is at least ``ALIGNED`` (no answer: no)."""
    todo = [t for t in dict.fromkeys(texts) if t not in _aligned]
    if todo:
        p = dialect.proportions(todo)[:, dialect.AFRICAN_AMERICAN]
        _aligned.update(zip(todo, (np.nan_to_num(p) >= ALIGNED).tolist(), strict=True))
    return np.array([_aligned[t] for t in texts], dtype=bool)


def factors(groups: np.ndarray, labels: np.ndarray, weights: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """Each row's factor: ``(P(group) P(label) / P(group, label)) ** strength`` in the weighted data, at most
    ``MAX_FACTOR`` and at least its inverse.

    >>> factors(np.array([1, 1, 1, 0, 0, 0]), np.array([1, 1, 2, 1, 2, 2]), np.ones(6)).round(2).tolist()
    [0.75, 0.75, 1.5, 1.5, 0.75, 0.75]
    """
    total = weights.sum()
    result = np.ones(len(labels))
    if total <= 0:
        return result
    for g in (False, True):
        in_group = groups == g
        p_group = weights[in_group].sum() / total
        for label in np.unique(labels):
            cell = in_group & (labels == label)
            p_cell = weights[cell].sum() / total
            if p_cell > 0:
                p_label = weights[labels == label].sum() / total
                result[cell] = (p_group * p_label / p_cell) ** strength
    return np.clip(result, 1 / MAX_FACTOR, MAX_FACTOR)
