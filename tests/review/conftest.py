"""The review page's fixtures: a real server with a queue, and Debian's chromium driven by Selenium."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator

import pytest

from hatespeech.config import Settings
from hatespeech.feedback import SQLiteFeedbackStore
from hatespeech.lifecycle.registry import Registry
from hatespeech.review.store import SQLiteQueue, post
from hatespeech.training.pipeline import build_pipeline
from hatespeech.training.save import save_model
from testing.review import CANDIDATE_TOKEN, CHROMEDRIVER, CHROMIUM, LABELS, QUEUED, chromium, model_with_curves
from testing.services import missing
from testing.support import TINY_CARD, Server, gunicorn, tiny_corpus

TOKEN = "review-test-token"  # test_page.py sends it


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One chromium for the session, with a fresh profile."""
    if not any(os.path.exists(b) for b in CHROMIUM) or not os.path.exists(CHROMEDRIVER):
        missing("chromium and chromium-driver (Debian: apt-get install chromium chromium-driver)")
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing("selenium (pip install -r requirements-dev.txt)")
    profile = tempfile.mkdtemp(prefix="review-chromium-")
    driver = chromium(profile)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def review_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The production server with a token, its review queue and feedback in a fresh folder."""
    tmp = tmp_path_factory.mktemp("review")
    env = {
        "FIREFLY_TOKEN": TOKEN,
        "MODEL_PATH": str(model_with_curves(tmp / "models")),
        "REVIEW_DB_PATH": str(tmp / "review.sqlite3"),
        "ALERT_DB_PATH": str(tmp / "alerts.sqlite3"),
        "FEEDBACK_DB_PATH": str(tmp / "feedback.sqlite3"),
        "WEB_CONCURRENCY": "1",
    }
    with gunicorn(tmp, **env) as server:
        yield server.wait_ready()


@pytest.fixture(scope="module")  # test_candidate.py and test_languages.py each start one
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict, dict[str, str]]]:
    """A server (its model pinned) with board labels, queued posts (some with a language) and a candidate
    kept in the registry (tests/review/test_candidate.py)."""
    tmp = tmp_path_factory.mktemp("candidate")
    env = {
        "FIREFLY_TOKEN": CANDIDATE_TOKEN,
        "MODEL_PATH": str(model_with_curves(tmp / "models")),
        "REVIEW_DB_PATH": str(tmp / "review.sqlite3"),
        "ALERT_DB_PATH": str(tmp / "alerts.sqlite3"),
        "FEEDBACK_DB_PATH": str(tmp / "feedback.sqlite3"),
        "WEB_CONCURRENCY": "1",
    }
    card = save_model(build_pipeline().fit(*tiny_corpus(20)), dict(TINY_CARD), tmp / "candidate" / "model.json")
    with pytest.MonkeyPatch.context() as patch:
        for name in ("DATABASE_URL", "REDIS_URL"):
            patch.delenv(name, raising=False)
        for name, value in env.items():
            patch.setenv(name, value)
        registry = Registry(Settings.from_env())
        data = (tmp / "candidate" / card["model_file"]).read_bytes()
        registry.promote(card, data, "test", "kept for the test", False)  # pinned: the server serves its own
        registry.close()
    store = SQLiteFeedbackStore(tmp / "feedback.sqlite3")
    texts, labels = tiny_corpus(5)
    for i, (text, label) in enumerate(zip(texts, labels, strict=True)):
        store.add(text, LABELS[label], source="board", id=str(i))
    store.close()
    queue = SQLiteQueue(tmp / "review.sqlite3")
    for i, (text, language) in enumerate(QUEUED.items()):
        supported = None if language is None else language in ("en", "de")
        queue.add(post(f"p{i}", text, {"hate speech": 0.5}, "review", "offensive language", [], ts=time.time(),
                       language=language, language_supported=supported))  # fmt: skip
    queue.close()
    with gunicorn(tmp, **env) as server:
        yield server.wait_ready(), card, env
