"""The package as a library: ``hatespeech.load()`` answers what the service answers and imports nothing of HTTP."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support import ROOT, server_env

import hatespeech
from hatespeech.config import DEFAULT_MODEL_PATH
from hatespeech.core.policy import PolicyError
from hatespeech.core.validate import InvalidText

TEXTS = [
    "have a lovely day, everyone",
    "shut up you stupid idiot",
    "I am going to kill you",
    "I'd kill for a coffee",
    "I will k!ll you",  # read as the model reads it
    "ok. someone should put a bullet in his head, seriously",
    "🙂 https://example.org/a?b=c @someone &amp; more",
    " ".join(f"word{i} stupid idiot trash" for i in range(60)),  # more spans than EXPLAIN_MAX_SPANS
]
HTTP_AND_TRAINING = {"firefly", "webob", "gunicorn", "requests", "urllib3", "redis", "psycopg", "prometheus_client"}
HTTP_AND_TRAINING |= {"sklearn", "scipy", "pandas", "joblib", "matplotlib"}


def app_answers(tmp_path: Path, texts: list[str]) -> dict[str, list]:
    """``app.predict`` and ``app.moderate`` (plain and explained) for each text, in a process of its own, as
    firefly and gunicorn call them (importing app reads the settings and loads the model)."""
    code = (
        "import json, sys, app; texts = json.load(sys.stdin); print(json.dumps({"
        "'predict': [app.predict(text=t) for t in texts], 'moderate': [app.moderate(text=t) for t in texts],"
        "'explained': [app.moderate(text=t, explain=True) for t in texts]}))"
    )
    env = server_env(FEEDBACK_DB_PATH=str(tmp_path / "f.sqlite3"), REVIEW_DB_PATH=str(tmp_path / "r.sqlite3"))
    done = subprocess.run(
        [sys.executable, "-c", code], input=json.dumps(texts), cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def model() -> object:
    return hatespeech.load()


def test_load_answers_what_the_service_answers(tmp_path: Path, model: object) -> None:
    served = app_answers(tmp_path, TEXTS)
    ours = {
        "predict": [model.predict(t) for t in TEXTS],
        "moderate": [model.moderate(t) for t in TEXTS],
        "explained": [model.moderate(t, explain=True) for t in TEXTS],
    }
    assert json.loads(json.dumps(ours)) == served  # exactly: JSON keeps every bit of a float
    # the texts reach each part of the answer: a threat, a block, an allow, a capped explanation
    assert [a["categories"]["threat"] for a in ours["moderate"]] == [
        False,
        False,
        True,
        False,
        True,
        True,
        False,
        False,
    ]
    assert {a["action"] for a in ours["moderate"]} == {"allow", "review", "block"}
    assert "omitted" in ours["explained"][-1]["explanation"]


def test_load_refuses_what_the_service_refuses(model: object) -> None:
    for bad in ("", "   ", None, 5, "x" * 10_001):
        with pytest.raises(InvalidText):
            model.predict(bad)
        with pytest.raises(InvalidText):
            model.moderate(bad)
    with pytest.raises(ValueError, match="explain must be true or false"):
        model.moderate("hello", explain="yes")
    assert model.predict("x" * 10_000)  # MAX_TEXT_CHARS's default


def test_load_takes_a_card_path_and_thresholds(tmp_path: Path, model: object) -> None:
    card = json.loads(DEFAULT_MODEL_PATH.read_text(encoding="utf-8"))
    for name in ("model.json", card["model_file"]):
        shutil.copy(DEFAULT_MODEL_PATH.parent / name, tmp_path / name)
    elsewhere = hatespeech.load(str(tmp_path / "model.json"))
    assert elsewhere.predict(TEXTS[1]) == model.predict(TEXTS[1])
    strict = hatespeech.load(tmp_path, thresholds={"hate speech": {"review": 0.0, "block": 0.0}})  # its folder
    assert strict.moderate(TEXTS[0])["action"] == "block" and model.moderate(TEXTS[0])["action"] == "allow"
    with pytest.raises(PolicyError):
        hatespeech.load(thresholds={"hate speech": {"review": 0.9, "block": 0.1}})


def test_importing_the_package_loads_nothing_and_load_needs_no_http(tmp_path: Path) -> None:
    """In a process of its own: this one has imported everything the other tests use."""
    code = """
import json, os, sys
before = dict(os.environ)
import hatespeech
imported = sorted(n for n in sys.modules if n == "numpy" or n.startswith(("numpy.", "hatespeech.")))
model = hatespeech.load()
model.predict("hello there"); model.moderate("you stupid idiot, I will kill you", explain=True)
print(json.dumps({"imported": imported, "after": sorted({n.split(".")[0] for n in sys.modules}),
                  "service": sorted(n for n in sys.modules if n.startswith("hatespeech.service")),
                  "environ": dict(os.environ) == before}))
"""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["imported"] == [], "importing hatespeech must not import NumPy nor read the model"
    assert not set(found["after"]) & HTTP_AND_TRAINING and found["service"] == []
    assert found["environ"], "loading must not write the environment"
    assert list(tmp_path.iterdir()) == [], "nor write files where it runs"
