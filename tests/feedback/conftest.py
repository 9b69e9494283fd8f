"""The feedback tests' fixtures: a throw-away PostgreSQL server, and each store kind on it or on SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from postgresql import KINDS, empty_postgres, open_kind, postgres_server

from hatespeech.feedback import FeedbackStore


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def store_url(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """Where a store of this kind lives: an empty PostgreSQL table, or a new SQLite file."""
    if kind == "postgres":
        url = request.getfixturevalue("postgres_url")
        empty_postgres(url)
        return url
    return str(tmp_path / "feedback.sqlite3")


@pytest.fixture
def feedback_store(kind: str, store_url: str) -> Iterator[FeedbackStore]:
    opened = open_kind(kind, store_url)
    yield opened
    opened.close()
