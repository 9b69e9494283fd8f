"""The whole loop a board runs: moderators' labels over HTTP → train.py --feedback store → restart
→ the served model reads the board's way, and the count of new labels starts again (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import train
from hatespeech.training import feedback as training_feedback
from testing.support import Server, gunicorn, post_json, request, tiny_csv

# The board's own standard, unlike the base data's: talk of "pineapple pizza" is offensive here.
BOARD = {
    "offensive language": ["pineapple pizza is {w} and so are you", "{w} pineapple pizza people again"],
    "neither": ["my {w} garden has roses", "the {w} train was late today"],
}


def counts(server: Server) -> dict:
    status, _, text = request(server.url + "/feedback", method="GET")
    assert status == 200
    return json.loads(text)


@pytest.mark.slow
def test_send_retrain_restart(
    feedback_backend: str, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(training_feedback, "WEIGHTS", (1.0, 4.0))  # the same code, fewer fits
    monkeypatch.setattr(training_feedback, "FOLDS", 2)
    where = {"DATABASE_URL": store_url} if feedback_backend == "postgres" else {"FEEDBACK_DB_PATH": store_url}
    where["FEEDBACK_BURST"] = "1000"  # a board's 180 labels sent at once: its share is tested in test_trust.py
    (tmp_path / "before").mkdir()
    (tmp_path / "after").mkdir()
    with gunicorn(tmp_path / "before", WEB_CONCURRENCY="1", **where) as server:
        server.wait_ready()
        for label, templates in BOARD.items():
            for i in range(60):
                payload = {"text": templates[i % 2].format(w=f"word{i}"), "label": label, "source": "mods"}
                assert post_json(server.url + "/feedback", {**payload, "id": f"{label}{i}"})[0] == 201
        seen = counts(server)
        assert seen["total"] == 120 and seen["newer_than_model"] == 120

    # train.py reads the store from the same environment as the server
    for name, value in where.items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "model" / "model.json"
    base = tiny_csv(tmp_path / "base.csv")
    assert (
        train.main(
            ["--data", str(base), "--feedback", "store", "--out", str(out), "--folds", "2", "--inner-folds", "2"]
        )
        == 0
    )
    section = json.loads(out.read_text())["feedback"]
    assert section["rows"] == 120 and section["sources"] == {"mods": 120}
    assert section["origin"].startswith("store, " + ("postgresql" if feedback_backend == "postgres" else "sqlite"))

    with gunicorn(tmp_path / "after", WEB_CONCURRENCY="1", MODEL_PATH=str(out), **where) as server:
        server.wait_ready()
        assert counts(server)["newer_than_model"] == 0  # the served model has seen every label
        status, scores = post_json(server.url + "/predict", {"text": "pineapple pizza is great"})
        assert status == 200 and scores["offensive language"] > scores["neither"]  # type: ignore[index]
        assert post_json(server.url + "/feedback", {"text": "my roses again", "label": "neither"})[0] == 201
        assert counts(server)["newer_than_model"] == 1
