"""model.py promote and rollback reach every worker of a running server, without a restart; the gate
compares like with like; a pinned MODEL_PATH is never overridden."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from hatespeech.config import DEFAULT_MODEL_PATH
from hatespeech.lifecycle import gate, rows
from hatespeech.training.pipeline import build_pipeline
from hatespeech.training.save import save_model
from testing.dask_cluster import requirements_only_env
from testing.support import ROOT, TINY_CARD, gunicorn, request, tiny_corpus

SERVED = json.loads(DEFAULT_MODEL_PATH.read_text())["sha256"]
DEADLINE = 90.0  # seconds: generous on a busy machine; the promise is 30 s at the default poll


def candidate(folder: Path) -> dict:
    return save_model(build_pipeline().fit(*tiny_corpus(20)), dict(TINY_CARD), folder / "model.json")


def model_py(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """model.py as an operator runs it inside the image: requirements.txt only, the server's settings."""
    shell = requirements_only_env(tmp_path)
    shell.update(PYTHONPATH=f"{shell['PYTHONPATH']}:{ROOT}", FEEDBACK_DB_PATH=str(tmp_path / "feedback.sqlite3"))
    shell.update(REVIEW_DB_PATH=str(tmp_path / "review.sqlite3"), **env)
    return subprocess.run(
        [sys.executable, "model.py", *args], cwd=ROOT, env=shell, capture_output=True, text=True, timeout=300
    )


def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def every_answer_from(url: str, sha256: str) -> bool:
    """20 answers in a row (both workers, whichever takes each connection) carry ``sha256``."""
    for _ in range(20):
        status, _headers, body = request(url + "/moderate", json.dumps({"text": "you are so dumb lol"}))
        assert status == 200, body  # never a failed request while models change
        if json.loads(body)["model"]["sha256"] != sha256:
            return False
    return True


@pytest.mark.slow
def test_promote_and_rollback_reach_every_worker_without_a_restart(tmp_path: Path) -> None:
    card = candidate(tmp_path / "candidate")
    with gunicorn(tmp_path, MODEL_POLL_SECONDS="1") as server:
        server.wait_ready()
        until(lambda: len(server.processes()) == 3, "the master and its two workers did not start")
        pids = sorted(server.processes())
        assert every_answer_from(server.url, SERVED)

        done = model_py(tmp_path, "promote", str(tmp_path / "candidate" / "model.json"), "--force", "--why", "test")
        assert done.returncode == 0, done.stderr + done.stdout
        until(lambda: every_answer_from(server.url, card["sha256"]), "the promoted model is not served everywhere")
        health = json.loads(request(server.url + "/health", method="GET")[2])
        assert health["sha256"] == card["sha256"]
        metrics = request(server.url + "/metrics", method="GET")[2]
        assert f'hatespeech_model_info{{sha256="{card["sha256"][:12]}",version="test"}} 1.0' in metrics

        listed = model_py(tmp_path, "list")
        assert listed.returncode == 0 and f"* {card['sha256'][:12]}" in listed.stdout, listed.stdout

        done = model_py(tmp_path, "rollback", "--why", "test")
        assert done.returncode == 0, done.stderr
        until(lambda: every_answer_from(server.url, SERVED), "the rollback is not served everywhere")
        assert sorted(server.processes()) == pids  # no worker restarted
        assert "Traceback" not in server.output()


@pytest.mark.slow
def test_a_restarted_server_serves_the_promoted_model(tmp_path: Path) -> None:
    card = candidate(tmp_path / "candidate")
    assert model_py(tmp_path, "promote", str(tmp_path / "candidate" / "model.json"), "--force").returncode == 0
    with gunicorn(tmp_path) as server:
        server.wait_ready()
        assert every_answer_from(server.url, card["sha256"])


def test_a_pinned_model_path_is_not_overridden(tmp_path: Path) -> None:
    candidate(tmp_path / "candidate")
    done = model_py(
        tmp_path, "promote", str(tmp_path / "candidate" / "model.json"), "--force", MODEL_PATH=str(DEFAULT_MODEL_PATH)
    )
    assert done.returncode == 1 and "MODEL_PATH is set" in done.stderr
    assert "nothing to roll back" in model_py(tmp_path, "rollback").stderr  # the promotion changed nothing


def test_the_gate_refuses_without_force_and_says_why(tmp_path: Path) -> None:
    """The committed card records no measured rows: the gate cannot compare like with like."""
    candidate(tmp_path / "candidate")
    done = model_py(tmp_path, "promote", str(tmp_path / "candidate" / "model.json"))
    assert done.returncode == 1, done.stdout
    assert "refused on the base data" in done.stderr and "records no measured rows" in done.stderr
    assert "nothing to roll back" in model_py(tmp_path, "rollback").stderr


def measured(texts: list[str], labels: list[int], predicted: list[int], sha: str = "d") -> dict:
    return {"measured_rows": {"base": rows.outcomes(texts, labels, predicted, data_sha256=sha, seed=1, how="t")}}


def test_the_base_data_is_compared_on_the_rows_both_were_measured_on() -> None:
    texts = [f"post {i}" for i in range(300)]
    labels = [i % 3 for i in range(300)]
    served = measured(texts, labels, labels)
    worse = measured(texts[:150], labels[:150], [0] * 150, "other")  # its own rows: half of the served one's
    side = gate.base_data(worse, served)
    assert side.comparable and side.rows == 150 and side.refused
    assert side.served["macro_f1"] == 1.0 and side.drop > 0.5
    assert not gate.base_data(served, served).refused
    apart = gate.base_data(measured([f"other {i}" for i in range(300)], labels, labels), served)
    assert not apart.comparable and apart.refused and "different rows (0 in common" in apart.note


def test_compare_shows_the_board_labels_and_the_queue_s_changed_actions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from hatespeech.feedback import SQLiteFeedbackStore
    from hatespeech.lifecycle import commands
    from hatespeech.review.store import SQLiteQueue, post

    candidate(tmp_path / "candidate")
    monkeypatch.delenv("MODEL_PATH", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("FEEDBACK_DB_PATH", str(tmp_path / "feedback.sqlite3"))
    monkeypatch.setenv("REVIEW_DB_PATH", str(tmp_path / "review.sqlite3"))
    store = SQLiteFeedbackStore(tmp_path / "feedback.sqlite3")
    texts, labels = tiny_corpus(4)
    for i, (text, label) in enumerate(zip(texts, labels, strict=True)):
        store.add(text, ["hate speech", "offensive language", "neither"][label], source="board", id=str(i))
    store.close()
    queue = SQLiteQueue(tmp_path / "review.sqlite3")
    for i, text in enumerate(["shut up you stupid idiot", "those zorgs are vermin", "have a lovely day"]):
        queue.add(post(f"p{i}", text, {"hate speech": 0.5}, "review", "offensive language", []))
    queue.close()

    assert commands.main(["compare", str(tmp_path / "candidate" / "model.json")]) == 0
    out = capsys.readouterr().out
    assert "board's labels (12 rows, the same for both)" in out
    assert "at the operating thresholds" in out
    assert "the review queue's 3 most recent posts" in out and " → " in out
