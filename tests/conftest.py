"""Shared fixtures: the real data, one production server for the HTTP tests, and the run's one
redis-server and one PostgreSQL server (testing/services.py starts them), each started when first asked for."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from hatespeech import config
from hatespeech.alerts.sender import Sender
from hatespeech.alerts.store import Store
from hatespeech.config import DEFAULT_MODEL_PATH
from hatespeech.core.classifier import Classifier
from testing.alerting import STORES, Receiver, open_test_store
from testing.services import missing, new_database, postgres_server, redis_server
from testing.support import Server, gunicorn


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
    missing(f"the Davidson et al. CSV at {config.SHARED_DATA_PATH} or in data/ (see data/README.md)")


@pytest.fixture(scope="session")
def classifier() -> Classifier:
    """The committed model, loaded and verified as the server loads it."""
    return Classifier.load(DEFAULT_MODEL_PATH)


@pytest.fixture(scope="session")
def production(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One production server (gunicorn, committed model) shared by tests that keep its settings."""
    with gunicorn(tmp_path_factory.mktemp("production")) as server:
        yield server.wait_ready()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The run's redis-server (never stopped: a test that stops one starts its own, testing.services.RedisServer)."""
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """The run's PostgreSQL server: the URL of its ``postgres`` database, for making others."""
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="module")
def postgres_url(postgres_server_url: str, request: pytest.FixtureRequest) -> str:
    """A database of this test module's own on the run's PostgreSQL server: no other module sees its tables."""
    return new_database(postgres_server_url, request.module.__name__.rsplit(".", 1)[-1])


# The alert tests' fixtures: each alert store backend, a webhook receiver.


@pytest.fixture(params=STORES)
def alert_backend(request: pytest.FixtureRequest) -> str:
    """Where the alert outbox is kept: "sqlite" or "redis"."""
    return request.param


@pytest.fixture
def store(alert_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Store]:
    url = request.getfixturevalue("redis_url") if alert_backend == "redis" else None
    opened = open_test_store(alert_backend, tmp_path, url)
    yield opened
    opened.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()
