"""Shared fixtures: the real data, and one production server for the HTTP tests."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from alerting import STORES, Receiver, open_test_store, redis_server
from support import Server, gunicorn

from hatespeech import config
from hatespeech.alerts.sender import Sender
from hatespeech.alerts.store import Store
from hatespeech.config import DEFAULT_MODEL_PATH
from hatespeech.core.classifier import Classifier


@pytest.fixture(autouse=True)
def no_alert_sender_left_running() -> Iterator[None]:
    """Fail a test that leaves an alert sender thread running: it would go on claiming rows from the
    stores of the tests after it (the redis-server is shared), and on posting them."""
    before = {t for t in threading.enumerate() if isinstance(t, Sender)}
    yield
    left = [t for t in threading.enumerate() if isinstance(t, Sender) and t not in before]
    assert not left, f"{len(left)} alert sender(s) still running: stop the Alerter that started them"


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The Davidson et al. CSV where train.py finds it: data/ (a user who downloaded it), else ../shared (CI)."""
    path = config.training_data_path()
    if path is not None:
        return path
    if os.environ.get("CI"):
        pytest.fail(f"CI must have the Davidson et al. CSV at {config.SHARED_DATA_PATH}")
    pytest.skip("the Davidson et al. CSV is not at ../shared/data/davidson/ nor data/ (see data/README.md)")


@pytest.fixture(scope="session")
def classifier() -> Classifier:
    """The committed model, loaded and verified as the server loads it."""
    return Classifier.load(DEFAULT_MODEL_PATH)


@pytest.fixture(scope="session")
def production(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One production server (gunicorn, committed model) shared by tests that keep its settings."""
    with gunicorn(tmp_path_factory.mktemp("production")) as server:
        yield server.wait_ready()


# The alert tests' fixtures: each store kind, a real redis-server, a webhook receiver.


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(params=STORES)
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def store(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Store]:
    url = request.getfixturevalue("redis_url") if kind == "redis" else None
    opened = open_test_store(kind, tmp_path, url)
    yield opened
    opened.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()
