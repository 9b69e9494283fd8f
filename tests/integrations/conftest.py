"""One production server (gunicorn, as `make serve` and the Dockerfile start it) connected to the
stand-ins of Discourse and Mastodon (and signed for Coral), with no alert webhook configured."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from testing.standins import Discourse, Mastodon, board_env
from testing.support import Server, gunicorn


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
