"""The review page's fixtures: a real server with a queue, and Debian's chromium driven by Selenium."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest

from testing.review import CHROMEDRIVER, CHROMIUM, chromium, model_with_curves
from testing.services import missing
from testing.support import Server, gunicorn

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
