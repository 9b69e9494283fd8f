"""The registry of promoted models, on SQLite and PostgreSQL: a promotion pushes, a rollback pops, and a
worker serves only a model that passes verification."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hatespeech.config import DEFAULT_MODEL_PATH, Settings
from hatespeech.core.moderator import Moderator
from hatespeech.lifecycle import Follower
from hatespeech.lifecycle.registry import Registry, RegistryError
from hatespeech.training.pipeline import build_pipeline
from hatespeech.training.save import save_model
from testing.support import TINY_CARD, tiny_corpus


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, bytes]:
    folder = tmp_path_factory.mktemp("tiny")
    card = save_model(build_pipeline().fit(*tiny_corpus(20)), dict(TINY_CARD), folder / "model.json")
    return card, (folder / card["model_file"]).read_bytes()


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    env = {"FEEDBACK_DB_PATH": str(tmp_path / "feedback.sqlite3")}
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
        env["DATABASE_URL"] = url
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:  # this test's own tables, migrated afresh
            conn.execute("DROP TABLE IF EXISTS models, model_events")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS hatespeech_schema (store TEXT PRIMARY KEY, version INTEGER NOT NULL)"
            )
            conn.execute("DELETE FROM hatespeech_schema WHERE store = 'models'")
    return Settings.from_env(env)


def own() -> Moderator:
    return Moderator.load(DEFAULT_MODEL_PATH, max_text_chars=10_000, explain_max_spans=40)


def test_promotions_stack_and_rollbacks_pop(settings: Settings, tiny: tuple[dict, bytes]) -> None:
    card, data = tiny
    registry = Registry(settings)
    try:
        assert registry.served() is None and registry.stack() == []
        with pytest.raises(RegistryError, match="nothing to roll back"):
            registry.rollback("me", "")
        registry.promote(card, data, "me", "first", forced=True)
        other = dict(card, sha256="f" * 64)  # a second version (the registry keys by sha256, checks nothing)
        registry.promote(other, data, "you", "second", forced=False)
        assert registry.served() == "f" * 64 and registry.stack() == [card["sha256"], "f" * 64]
        assert registry.rollback("me", "worse").served == card["sha256"]
        assert registry.rollback("me", "again").served is None  # back to the container's own model
        assert registry.served() is None
        events = registry.events()
        assert [(e.action, e.who, e.why, e.forced) for e in events] == [
            ("promote", "me", "first", True),
            ("promote", "you", "second", False),
            ("rollback", "me", "worse", False),
            ("rollback", "me", "again", False),
        ]
        assert registry.model(card["sha256"]) == (json.loads(json.dumps(card)), data)
    finally:
        registry.close()


def test_a_worker_serves_only_a_verified_model(settings: Settings, tiny: tuple[dict, bytes]) -> None:
    card, data = tiny
    mine = own()
    served: list[Moderator] = []
    follower = Follower(settings, mine, mine, served.append)
    registry = Registry(settings)
    try:
        follower.check()
        assert served == []  # nothing promoted: the container's own model stays
        registry.promote(dict(card, sha256="e" * 64), data, "me", "a file its card does not vouch for", True)
        follower.check()
        assert served == [] and follower.refused == {"e" * 64}  # logged, not served
        registry.promote(card, data, "me", "good", True)
        follower.check()
        assert [m.card["sha256"] for m in served] == [card["sha256"]]
        registry.rollback("me", "")
        registry.rollback("me", "")
        follower.check()
        assert served[-1] is mine
    finally:
        follower.stop()
        registry.close()
