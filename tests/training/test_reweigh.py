"""Dialect reweighing and the per-source decision rule: properties on made-up numbers."""

from __future__ import annotations

import numpy as np
import pytest

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


def test_only_in_group_address_is_treated_as_label_noise() -> None:
    texts = ["my nigga came thru for my birthday", "my nigga a bitch", "that nigger", "niggas in paris", "hello"]
    assert reweigh.in_group_only(texts).tolist() == [True, False, False, True, False]


def test_relabelling_touches_only_aligned_abusive_in_group_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = ["my nigga came thru", "my nigga came thru", "my nigga a bitch", "good morning y'all", "good morning"]
    aligned = {texts[0]: 1, texts[2]: 1, texts[3]: 1, texts[4]: 0}  # texts[1] is not AAE-aligned (a stand-in)
    texts[1] = "my nigga came thru!"
    aligned[texts[1]] = -1
    monkeypatch.setattr(reweigh, "dialect_groups", lambda ts: np.array([aligned[t] for t in ts]))
    labels, weights = np.array([1, 1, 1, 2, 2]), np.ones(5)
    prepare = reweigh.relabelling(None, in_group=0.5, relabel=True, aae_clean=3.0)
    assert prepare is not None
    _, new_labels, new_weights = prepare(texts, labels, weights)
    assert new_labels.tolist() == [2, 1, 1, 2, 2]
    assert new_weights.tolist() == [0.5, 1.0, 1.0, 3.0, 1.0]
    assert labels.tolist() == [1, 1, 1, 2, 2] and weights.tolist() == [1.0] * 5  # the caller's arrays are untouched
    assert reweigh.relabelling(None) is None


def test_dialect_constrained_review_thresholds_only_rise_until_the_ratio_holds() -> None:
    rng = np.random.default_rng(2)
    labels = rng.choice(3, 3000, p=[0.1, 0.4, 0.5])
    dialects = rng.choice([1, 0, -1], 3000, p=[0.1, 0.4, 0.5])
    probabilities = rng.dirichlet([1, 2, 3], 3000)
    # the clean AAE-aligned rows read as more offensive: the skew the constraint must not pass on
    skew = (labels == 2) & (dialects == 1)
    probabilities[skew] = 0.5 * probabilities[skew] + 0.5 * np.array([0.1, 0.85, 0.05])
    plain = evaluate.choose_thresholds(probabilities, labels)
    fair = evaluate.choose_thresholds(probabilities, labels, None, dialects, 1.5)
    severity = evaluate.severity_scores(probabilities)
    clean = labels == 2
    for label in plain:
        assert fair[label]["review"] >= plain[label]["review"]
        reached = severity[label] >= fair[label]["review"]
        aae, white = reached[clean & (dialects == 1)].mean(), reached[clean & (dialects == 0)].mean()
        assert aae <= 1.5 * white or aae == 0, (label, aae, white)
    only = evaluate.choose_thresholds(probabilities, labels, None, dialects, 1.5, ["offensive language"])
    assert only["hate speech"] == plain["hate speech"]
    assert only["offensive language"]["review"] == fair["offensive language"]["review"]
    before = severity["offensive language"] >= plain["offensive language"]["review"]
    assert before[clean & (dialects == 1)].mean() > 1.5 * before[clean & (dialects == 0)].mean()  # it had to rise
