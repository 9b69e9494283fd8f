"""Dialect reweighing and the per-source decision rule: properties on made-up numbers."""

from __future__ import annotations

import numpy as np

from hatespeech.training import evaluate, reweigh


def test_reweighing_makes_the_label_independent_of_the_group() -> None:
    rng = np.random.default_rng(0)
    groups = rng.random(2000) < 0.2
    # the skew to undo: the group's rows are labelled abusive far more often
    labels = np.where(groups, rng.choice(3, 2000, p=[0.1, 0.85, 0.05]), rng.choice(3, 2000, p=[0.05, 0.6, 0.35]))
    weights = rng.uniform(0.5, 1.0, 2000)
    w = weights * reweigh.factors(groups, labels, weights)
    for label in range(3):
        shares = [w[(groups == g) & (labels == label)].sum() / w[groups == g].sum() for g in (False, True)]
        assert abs(shares[0] - shares[1]) < 1e-9, (label, shares)
    half = weights * reweigh.factors(groups, labels, weights, strength=0.5)
    clean_in_group = (groups) & (labels == 2)
    assert weights[clean_in_group].sum() < half[clean_in_group].sum() < w[clean_in_group].sum()


def test_a_rare_cell_is_not_weighted_past_the_cap() -> None:
    groups = np.array([True] * 999 + [False])
    labels = np.array([1] * 998 + [2, 2])
    factors = reweigh.factors(groups, labels, np.ones(1000))
    assert factors.max() <= reweigh.MAX_FACTOR and factors.min() >= 1 / reweigh.MAX_FACTOR


def test_one_source_tunes_the_rule_as_the_pooled_rows_do() -> None:
    rng = np.random.default_rng(1)
    probabilities = rng.dirichlet([1, 3, 2], 600)
    labels = np.array([rng.choice(3, p=p) for p in probabilities])
    assert evaluate.tune_rule(probabilities, labels, np.zeros(600, int)) == evaluate.tune_rule(probabilities, labels)


def test_the_rule_serves_each_source_not_the_largest() -> None:
    # Source 0 (1,150 rows): hate speech that reads [0.3, 0.6, 0.1] and some that reads [0.45, 0.45, 0.1].
    # Source 1 (200 rows): offensive language that reads [0.3, 0.6, 0.1]. Pooled, source 0's many hate posts
    # win: everything reading [0.3, 0.6, 0.1] is called hate speech, and source 1 gets none of its offensive
    # posts right. Per source, each community's macro-F1 counts the same: that reading stays offensive.
    looks_offensive, looks_hateful, clean = [0.3, 0.6, 0.1], [0.45, 0.45, 0.1], [0.05, 0.15, 0.8]
    probabilities = np.array(
        [looks_offensive] * 500 + [looks_hateful] * 150 + [clean] * 500 + [looks_offensive] * 100 + [clean] * 100
    )
    labels = np.array([0] * 650 + [2] * 500 + [1] * 100 + [2] * 100)
    groups = np.array([0] * 1150 + [1] * 200)
    pooled = evaluate.tune_rule(probabilities, labels)
    per_source = evaluate.tune_rule(probabilities, labels, groups)
    assert pooled[0] * 0.3 >= 0.6, pooled
    assert per_source[0] * 0.3 < 0.6, per_source
