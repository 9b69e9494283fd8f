"""Fixtures of the core's tests."""

from __future__ import annotations

import csv

import pytest

from hatespeech.config import ROOT
from testing.services import missing

SHARED = ROOT.parent / "shared" / "data"
# Every English post of the research copies we may read (HateXplain's test split is withheld: not here).
ENGLISH_CORPORA = (
    (SHARED / "davidson" / "labeled_data.csv", "tweet"),
    (SHARED / "hatexplain" / "hatexplain_train_val.csv", "text"),
)


@pytest.fixture(scope="session")
def english_posts() -> list[str]:
    """Every Davidson et al. tweet and every HateXplain post of its train and validation splits (~42,000)."""
    posts: list[str] = []
    for path, column in ENGLISH_CORPORA:
        if not path.is_file():
            missing(f"the research copy at {path}")
        with open(path, newline="", encoding="utf-8") as f:
            posts += [row[column] for row in csv.DictReader(f)]
    return posts
