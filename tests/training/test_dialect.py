"""Dialect proportions (hatespeech/training/dialect.py): twokenize's tokens, and Blodgett et al.'s inference."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from hatespeech.training import dialect
from hatespeech.training.dialect import AFRICAN_AMERICAN, WHITE, proportions, tokens

# Written for this test: the first three in African-American English (habitual "be", "finna",
# copula deletion, "ion" for "I don't"), the last three in standard written English.
AAE = [
    "he be tryna act like he ain't finna pull up lol",
    "ion even know why she mad at me fr",
    "yall already know we boutta turn up tonight bruh",
]
STANDARD = [
    "I think the weather will be lovely this weekend.",
    "We went to the museum and then had lunch with my parents.",
    "The meeting has been moved to Thursday afternoon.",
]


@pytest.fixture(scope="module")
def model_dir() -> str:
    """The model's folder; the tests skip without it, but fail under CI, which must have the research data."""
    folder = dialect.model_dir()
    if not (folder / dialect.COUNTS_FILE).is_file():
        reason = f"the TwitterAAE model is not at {folder} (set DIALECT_MODEL_DIR)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must have {reason}")
        pytest.skip(reason)
    return str(folder)


def test_tokens_split_as_twokenize_does() -> None:
    assert tokens("RT @someone: wow!!! it's 12:53 &amp; (hello) U.S. :) <3 http://t.co/x1.") == [
        "RT", "@someone", ":", "wow", "!!!", "it's", "12:53", "&", "(", "hello", ")", "U.S.", ":)", "<3",
        "http://t.co/x1", ".",
    ]  # fmt: skip
    assert tokens("'anthem'. y'all #blessed") == ["'", "anthem", "'", ".", "y'all", "#blessed"]
    assert tokens("   ") == []


def test_the_authors_examples_give_their_figures(model_dir: str) -> None:
    # upstream-README.md: predict("hello there".split()) and predict("af af af".split())
    got = proportions(["hello there", "af af af"], model_dir)
    expected = [
        [0.16603718, 0.27450171, 0.22886004, 0.33060107],
        [8.42944382e-01, 1.32149345e-01, 1.11905398e-04, 2.47943681e-02],
    ]
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_proportions_sum_to_one_and_unknown_text_has_none(model_dir: str) -> None:
    got = proportions([*AAE, *STANDARD, "", "zzqxv qqzzv xxqzv"], model_dir)
    assert got.shape == (len(AAE) + len(STANDARD) + 2, len(dialect.DIALECTS))
    np.testing.assert_allclose(got[:-2].sum(axis=1), 1.0)
    assert np.isnan(got[-2:]).all()  # no token, then no known token: the model does not answer


def test_african_american_english_has_the_higher_african_american_proportion(model_dir: str) -> None:
    aae, standard = proportions(AAE, model_dir), proportions(STANDARD, model_dir)
    assert aae[:, AFRICAN_AMERICAN].min() > standard[:, AFRICAN_AMERICAN].max()
    assert (aae[:, AFRICAN_AMERICAN] > aae[:, WHITE]).all()
    assert (standard[:, WHITE] > standard[:, AFRICAN_AMERICAN]).all()


def test_the_folder_comes_from_the_environment_when_not_given(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DIALECT_MODEL_DIR", str(tmp_path))
    assert dialect.model_dir() == tmp_path
    with pytest.raises(FileNotFoundError, match="DIALECT_MODEL_DIR"):
        proportions(["hello"])
