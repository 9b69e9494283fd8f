"""One production server (gunicorn, as `make serve` and the Dockerfile start it) connected to the
stand-ins of Discourse and Mastodon (and signed for Coral), with no alert webhook configured."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from standins import (
    CORAL_SECRET,
    DISCOURSE_KEY,
    DISCOURSE_SECRET,
    MASTODON_SECRET,
    MASTODON_TOKEN,
    Discourse,
    Mastodon,
)
from support import Server, gunicorn

TOKEN = "firefly-token-for-the-rest-of-the-api"
FAST_OUTBOX = {  # retries in milliseconds, so "down then back" takes a moment
    "ALERT_TIMEOUT": "0.5",
    "ALERT_BACKOFF_BASE": "0.05",
    "ALERT_BACKOFF_MAX": "0.2",
    "ALERT_LEASE": "2",
    "ALERT_POLL": "0.05",
}


def board_env(tmp: Path, discourse: Discourse, mastodon: Mastodon, **extra: str) -> dict[str, str]:
    return {
        "FIREFLY_TOKEN": TOKEN,
        "ALERT_DB_PATH": str(tmp / "alerts.sqlite3"),
        "FEEDBACK_DB_PATH": str(tmp / "feedback.sqlite3"),
        "DISCOURSE_URL": discourse.url,
        "DISCOURSE_API_KEY": DISCOURSE_KEY,
        "DISCOURSE_WEBHOOK_SECRET": DISCOURSE_SECRET,
        "CORAL_WEBHOOK_SECRET": CORAL_SECRET,
        "MASTODON_URL": mastodon.url,
        "MASTODON_TOKEN": MASTODON_TOKEN,
        "MASTODON_WEBHOOK_SECRET": MASTODON_SECRET,
        **FAST_OUTBOX,
        **extra,
    }


@pytest.fixture(scope="module")
def discourse() -> Iterator[Discourse]:
    d = Discourse()
    yield d
    d.close()


@pytest.fixture(scope="module")
def mastodon() -> Iterator[Mastodon]:
    m = Mastodon()
    yield m
    m.close()


@pytest.fixture(scope="module")
def boards(tmp_path_factory: pytest.TempPathFactory, discourse: Discourse, mastodon: Mastodon) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("boards")
    with gunicorn(tmp, **board_env(tmp, discourse, mastodon)) as server:
        server.tmp = tmp  # type: ignore[attr-defined]
        yield server.wait_ready()
