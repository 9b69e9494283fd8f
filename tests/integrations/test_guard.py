"""The integrations' place in the HTTP layer: off without settings, outside the token, bounded."""

from __future__ import annotations

import doctest
import subprocess
import sys

import pytest
import rawhttp

import hatespeech.integrations as integrations
from hatespeech.integrations import common, coral, outbox, service
from testing.standins import ABUSIVE, DISCOURSE_SECRET, TOKEN, sha256_signature
from testing.support import ROOT, Server, post_json, request, server_env

PATHS = ("/integrations/discourse", "/integrations/coral", "/integrations/mastodon")


@pytest.mark.parametrize("module", [common, coral, outbox, service])
def test_the_docstring_examples_hold(module: object) -> None:
    assert doctest.testmod(module).failed == 0  # type: ignore[arg-type]


def test_an_integration_without_its_settings_is_off(production: Server) -> None:
    for path, setting in zip(
        PATHS, ("DISCOURSE_WEBHOOK_SECRET", "CORAL_WEBHOOK_SECRET", "MASTODON_TOKEN"), strict=True
    ):
        status, reply = post_json(production.url + path, {"ping": "OK"})
        assert status == 404 and setting in reply["error"]  # type: ignore[index]


def test_webhooks_need_no_token_but_the_rest_of_the_api_still_does(boards: Server) -> None:
    body = b'{"ping":"OK"}'
    headers = {"X-Discourse-Event-Signature": sha256_signature(DISCOURSE_SECRET, body)}
    assert request(boards.url + PATHS[0], body, headers)[0] == 200
    assert post_json(boards.url + "/moderate", {"text": ABUSIVE})[0] == 403
    assert post_json(boards.url + "/moderate", {"text": ABUSIVE}, {"Authorization": f"Token {TOKEN}"})[0] == 200
    assert request(boards.url + "/v1alpha1/comments:suggestscore", b"{}")[0] == 403


def test_webhook_bodies_are_bounded(boards: Server) -> None:
    # Content-Length over INTEGRATION_MAX_BODY_BYTES (1 MiB): refused before a byte of the body is read
    head = rawhttp.request("POST", PATHS[0], headers={"Content-Length": str(2 * 1024 * 1024)})
    with rawhttp.Connection(boards.port, timeout=10) as conn:
        response = conn.send(head + b'{"post": {"raw": "')
    assert response.status == 413 and "larger than 1048576 bytes" in response.json()["error"]  # type: ignore[index]
    assert request(boards.url + PATHS[1], method="GET")[0] == 405


def test_a_half_configured_integration_stops_the_service_with_a_reason() -> None:
    env = server_env(DISCOURSE_URL="https://forum.example", DISCOURSE_WEBHOOK_SECRET="x" * 16)
    done = subprocess.run([sys.executable, "-c", "import app"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode != 0 and "DISCOURSE_API_KEY" in done.stderr
    assert "x" * 16 not in done.stderr  # the secret is not repeated in the message


def test_every_integration_has_a_path() -> None:
    assert set(integrations.PATHS.values()) == set(PATHS)
