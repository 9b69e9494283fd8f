"""Once-per-key platform calls, on both stores the alert outbox uses (SQLite, a real redis-server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hatespeech.integrations.outbox import Keys, Outbox, call_id
from testing.alerting import flush


@pytest.fixture
def keys(alert_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Keys]:
    if alert_backend == "sqlite":
        table = Keys(tmp_path / "alerts.sqlite3")
    else:
        url = request.getfixturevalue("redis_url")
        flush(url)
        table = Keys(redis_url=url)
    yield table
    table.close()


def test_a_key_is_claimed_once_and_can_be_released(keys: Keys) -> None:
    assert keys.claim("discourse:post:1:flag:7") is True
    assert keys.claim("discourse:post:1:flag:7") is False
    assert keys.claim("discourse:post:1:flag:4") is True  # another event of the same post
    keys.release("discourse:post:1:flag:7")
    assert keys.claim("discourse:post:1:flag:7") is True


def test_what_was_flagged_is_remembered(keys: Keys) -> None:
    assert keys.recall("discourse:flagged:1") is None
    keys.remember("discourse:flagged:1", "offensive language")
    keys.remember("discourse:flagged:1", "hate speech")  # the later decision wins
    assert keys.recall("discourse:flagged:1") == "hate speech"


def test_a_call_is_queued_once_and_a_failed_queue_releases_its_key(keys: Keys) -> None:
    queued: list[tuple[str, str, str, str]] = []
    outbox = Outbox(keys, lambda *call: queued.append(call))
    assert outbox.call_once("discourse", "k1", "https://forum.example/post_actions", "{}") is True
    assert outbox.call_once("discourse", "k1", "https://forum.example/post_actions", "{}") is False
    assert queued == [("discourse", call_id("k1"), "https://forum.example/post_actions", "{}")]

    def down(*call: str) -> None:
        raise OSError("the store is down")

    broken = Outbox(keys, down)
    with pytest.raises(OSError, match="down"):
        broken.call_once("discourse", "k2", "https://forum.example/post_actions", "{}")
    assert outbox.call_once("discourse", "k2", "https://forum.example/post_actions", "{}") is True  # the retry works
