"""The card's threshold curves (the review page's sliders) agree with the thresholds chosen from the same data."""

from __future__ import annotations

import itertools

import numpy as np

from hatespeech.core.labels import LABELS
from hatespeech.training.evaluate import BLOCK_CLEAN_SHARE, REVIEW_CLEAN_SHARE, choose_thresholds, threshold_curves


def made_up(rows: int = 3000, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities that lean toward each row's true class, as out-of-fold ones do."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(3, size=rows, p=[0.1, 0.6, 0.3])
    logits = rng.normal(size=(rows, 3))
    logits[np.arange(rows), labels] += 2.0
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return probabilities, labels


def test_the_curves_hold_the_chosen_thresholds_and_what_they_mean() -> None:
    probabilities, labels = made_up()
    chosen = choose_thresholds(probabilities, labels)
    curves = threshold_curves(probabilities, labels, chosen)
    assert set(curves) == {"hate speech", "offensive language"}
    for label, curve in curves.items():
        t = curve["thresholds"]
        assert t == sorted(set(t)) and t[0] == 0.0 and t[-1] == 1.0
        assert len(t) == len(curve["clean_reached"]) == len(curve["caught"])
        for shares in (curve["clean_reached"], curve["caught"]):
            assert all(0 <= s <= 1 for s in shares)
            assert all(a >= b for a, b in itertools.pairwise(shares))  # a higher bar lets fewer through
        assert curve["clean_reached"][0] == 1.0 and curve["caught"][0] == 1.0
        assert curve["clean_posts"] == int((labels == LABELS.index("neither")).sum())
        review = t.index(chosen[label]["review"])
        block = t.index(chosen[label]["block"])
        assert curve["clean_reached"][review] <= REVIEW_CLEAN_SHARE
        assert curve["clean_reached"][block] <= max(BLOCK_CLEAN_SHARE, curve["clean_reached"][review])
        # the figures are the plain shares, computed here another way
        k = LABELS.index(label)
        score = probabilities[:, 0] if label == "hate speech" else probabilities[:, 0] + probabilities[:, 1]
        for i in (review, block, len(t) // 2):
            clean = score[labels == LABELS.index("neither")]
            assert abs(curve["clean_reached"][i] - (clean >= t[i]).mean()) < 1e-6
            assert abs(curve["caught"][i] - (score[labels == k] >= t[i]).mean()) < 1e-6
