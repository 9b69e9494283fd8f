"""The feedback tests' fixtures: each feedback store backend, on SQLite or on the run's PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from postgresql import FEEDBACK_BACKENDS, empty_postgres, open_feedback_store

from hatespeech.feedback import FeedbackStore


@pytest.fixture(params=FEEDBACK_BACKENDS)
def feedback_backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def store_url(feedback_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """Where a store of this backend lives: an empty PostgreSQL table, or a new SQLite file."""
    if feedback_backend == "postgres":
        url = request.getfixturevalue("postgres_url")
        empty_postgres(url)
        return url
    return str(tmp_path / "feedback.sqlite3")


@pytest.fixture
def feedback_store(feedback_backend: str, store_url: str) -> Iterator[FeedbackStore]:
    opened = open_feedback_store(feedback_backend, store_url)
    yield opened
    opened.close()
