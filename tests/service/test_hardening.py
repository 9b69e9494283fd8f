"""Issue 13's smaller items: the settings an attacker (or a typo) could use to switch moderation off."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from hatespeech.config import ConfigError, Settings
from testing.support import BIN, ROOT, free_port, gunicorn, post_json, request, server_env

GOOD = "0123456789abcdef"  # 16 characters


@pytest.mark.parametrize(
    ("token", "says"),
    [
        ("", "blank"),
        ("   ", "blank"),
        ("\t\n", "blank"),
        ("Q", "1 characters long"),
        ("0123456789abcde", "15 characters long"),
        ("0123456789 abcdefgh", "white space"),
        (" 0123456789abcdefgh", "white space"),
        ("0123456789abcdefgh\n", "white space"),
    ],
)
def test_a_token_that_is_set_must_be_a_real_one(token: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says) as caught:
        Settings.from_env({"FIREFLY_TOKEN": token})
    if token.strip():
        assert token.strip() not in str(caught.value)  # never echoed


def test_no_token_is_no_token_and_a_good_one_is_kept() -> None:
    assert Settings.from_env({}).token is None
    assert Settings.from_env({"FIREFLY_TOKEN": GOOD}).token == GOOD


def test_the_server_refuses_to_start_with_a_blank_token(tmp_path: Path) -> None:
    argv = [str(BIN / "gunicorn"), "-c", "python:hatespeech.service.gunicorn_conf", "app:application"]
    env = server_env(PORT=str(free_port()), FIREFLY_TOKEN="   ", PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"))
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "FIREFLY_TOKEN is set but blank" in done.stdout + done.stderr


def test_without_a_token_the_server_starts_open_and_says_so(tmp_path: Path) -> None:
    with gunicorn(tmp_path, WEB_CONCURRENCY="1") as server:
        server.wait_ready()
        assert "FIREFLY_TOKEN is not set" in server.output()


@pytest.mark.parametrize(
    "url",
    [
        "hooks.slack.com/services/T000/B000/SECRETPATH",
        "user:SECRETPATH@example.org/hook",
        "ftp://example.org/SECRETPATH",
    ],
)
def test_a_webhook_url_without_a_scheme_is_refused_without_its_secret(url: str) -> None:
    with pytest.raises(ConfigError, match="does not start with https://") as caught:
        Settings.from_env({"ALERT_WEBHOOK_URL": f"https://hooks.slack.com/services/T/B/x {url}"})
    assert "SECRETPATH" not in str(caught.value) and "URL number 2 of 2" in str(caught.value)


def _logged_hashes(tmp_path: Path, **env: str) -> list[str]:
    tmp_path.mkdir()
    with gunicorn(tmp_path, WEB_CONCURRENCY="1", **env) as server:
        server.wait_ready()
        for _ in range(2):
            assert post_json(server.url + "/predict", {"text": "a text everyone knows"})[0] == 200
        lines = [json.loads(line) for line in server.output().splitlines() if '"text_hmac"' in line]
    return [line["text_hmac"] for line in lines]


def test_the_access_log_hash_of_a_known_text_cannot_be_recomputed(tmp_path: Path) -> None:
    known = hashlib.sha256(b"a text everyone knows").hexdigest()
    first = _logged_hashes(tmp_path / "one")
    second = _logged_hashes(tmp_path / "two")
    assert len(first) == 2 and first[0] == first[1]  # the same text, the same hash within a run…
    assert first[0] != second[0]  # …a fresh random key per run…
    assert all(h not in known for h in first + second)  # …and not the plain SHA-256
    keyed = _logged_hashes(tmp_path / "three", LOG_HASH_KEY="a-key-kept-by-the-operator")
    assert keyed == _logged_hashes(tmp_path / "four", LOG_HASH_KEY="a-key-kept-by-the-operator")  # stable if set


def test_workers_are_recycled_after_max_requests_without_failing_a_request(tmp_path: Path) -> None:
    with gunicorn(tmp_path, WEB_CONCURRENCY="1", MAX_REQUESTS="20", MAX_REQUESTS_JITTER="5") as server:
        server.wait_ready()
        statuses = [post_json(server.url + "/predict", {"text": f"hello {i}"})[0] for i in range(70)]
        booted = server.output().count("Booting worker with pid")
    assert statuses == [200] * 70
    assert booted >= 3  # the first worker and at least two replacements (every 20 to 25 requests)


def test_an_explain_batch_answer_is_bounded_and_still_exact(tmp_path: Path) -> None:
    words = "you stupid idiot the game tonight is great fun trash lol love hate people all those"
    words = words.split()
    texts = [" ".join(words[(i + j) % len(words)] for j in range(95))[:495] for i in range(100)]  # ~50 KB
    with gunicorn(tmp_path, WEB_CONCURRENCY="1") as server:
        server.wait_ready()
        status, _, body = request(
            server.url + "/moderate_batch",
            json.dumps({"texts": texts, "explain": True}),
            {"Content-Type": "application/json"},
        )
    assert status == 200, body[:300]
    answers = json.loads(body)
    assert len(body) < 1_000_000, len(body)  # was 4.8 MB for such a batch
    for answer in answers:
        explanation = answer["explanation"]
        assert len(explanation["spans"]) <= 40 and explanation["omitted"]["spans"] > 0
        for label, parts in explanation["classes"].items():
            total = parts["intercept"] + sum(s["contribution"] for s in explanation["spans"] if s["class"] == label)
            total += explanation["omitted"]["contribution"].get(label, 0.0)
            assert abs(total - parts["margin"]) < 1e-9
