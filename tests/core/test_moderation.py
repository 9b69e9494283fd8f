"""POST /moderate: the decision rule and thresholds of the card, overridable by THRESHOLDS."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from support import ROOT, Server, gunicorn, post_json

from hatespeech.config import ConfigError, Settings
from hatespeech.core.labels import LABELS
from hatespeech.core.policy import ACTIONS, Policy, PolicyError
from hatespeech.training.evaluate import decide

CARD = json.loads((ROOT / "models" / "model.json").read_text())


def small_card(**thresholds: dict) -> dict:
    return {
        "version": "9.9.9",
        "sha256": "0" * 64,
        "decision_rule": {"weights": [4.0, 1.0, 2.0]},
        "thresholds": thresholds
        or {"hate speech": {"review": 0.2, "block": 0.8}, "offensive language": {"review": 0.5, "block": 0.9}},
    }


def test_the_label_is_the_production_rule_of_evaluate() -> None:
    rng = np.random.default_rng(7)
    rows = rng.dirichlet([0.5, 0.5, 0.5], size=2000)
    rows[:5] = [[0.2, 0.8, 0.0], [0.25, 1.0, 0.0], [0.1, 0.4, 0.2], [1 / 3] * 3, [0.0, 0.0, 1.0]]  # ties
    policy = Policy.from_card(CARD)
    expected = decide(rows, CARD["decision_rule"]["weights"])
    assert [policy.label(row) for row in rows] == [LABELS[k] for k in expected]


@pytest.mark.parametrize(
    ("probabilities", "action", "categories"),
    [
        ([0.1, 0.1, 0.8], "allow", {"hate speech": False, "offensive language": False}),
        ([0.2, 0.1, 0.7], "review", {"hate speech": True, "offensive language": False}),  # at review: reached
        ([0.1, 0.6, 0.3], "review", {"hate speech": False, "offensive language": True}),
        ([0.8, 0.1, 0.1], "block", {"hate speech": True, "offensive language": True}),  # at block: reached
        ([0.05, 0.95, 0.0], "block", {"hate speech": False, "offensive language": True}),
        # offensive language compares P(hate) + P(offensive): a text split between the two is caught
        ([0.15, 0.4, 0.45], "review", {"hate speech": False, "offensive language": True}),
        ([0.3, 0.65, 0.05], "block", {"hate speech": True, "offensive language": True}),
    ],
)
def test_actions_follow_the_thresholds(probabilities: list[float], action: str, categories: dict) -> None:
    decision = Policy.from_card(small_card()).decide(probabilities)
    assert decision["action"] == action and decision["categories"] == categories
    assert decision["flagged"] is (action != "allow")


def test_decide_many_gives_what_decide_gives_row_by_row() -> None:
    policy = Policy.from_card(small_card())
    rows = np.random.default_rng(0).dirichlet([0.3, 1.0, 0.5], size=5000)
    edges = [[t.review, 0.5, 0.5 - t.review] for t in policy.thresholds.values()]  # exactly on a threshold
    rows = np.vstack([rows, np.clip(edges, 0, 1), np.zeros((1, 3))])
    labels, actions, reached = policy.decide_many(rows)
    for i, row in enumerate(rows.tolist()):
        one = policy.decide(row)
        assert (labels[i], actions[i]) == (one["label"], one["action"])
        assert {label: hits[i] for label, hits in reached.items()} == one["categories"]


def test_overrides_replace_single_thresholds() -> None:
    policy = Policy.from_card(small_card(), {"hate speech": {"block": 0.5}})
    assert policy.describe() == {
        "hate speech": {"review": 0.2, "block": 0.5},
        "offensive language": {"review": 0.5, "block": 0.9},
    }
    assert policy.decide([0.5, 0.2, 0.3])["action"] == "block"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"hate": {"review": 0.1}}, "'hate' is not a class"),
        ({"hate speech": {"review": 1.5}}, r"review must be a probability in \[0, 1\]"),
        ({"hate speech": {"review": "0.1"}}, "must be a probability"),
        ({"hate speech": {"review": 0.9, "block": 0.3}}, "above block"),
        ({"hate speech": {"warn": 0.3}}, "only 'review' and 'block'"),
        ({"hate speech": 0.3}, "is not a class with thresholds"),
    ],
)
def test_bad_overrides_say_what_is_wrong(overrides: dict, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        Policy.from_card(small_card(), overrides)


def test_thresholds_from_the_environment_json_or_file(tmp_path: Path) -> None:
    inline = '{"offensive language": {"review": 0.4, "block": 0.7}}'
    assert Settings.from_env({"THRESHOLDS": inline}).thresholds == json.loads(inline)
    path = tmp_path / "thresholds.json"
    path.write_text(inline)
    assert Settings.from_env({"THRESHOLDS": str(path)}).thresholds == json.loads(inline)
    with pytest.raises(ConfigError, match="not valid JSON"):
        Settings.from_env({"THRESHOLDS": "{nope"})
    with pytest.raises(ConfigError, match="neither a JSON object nor a readable file"):
        Settings.from_env({"THRESHOLDS": str(tmp_path / "missing.json")})


def test_the_card_thresholds_are_probabilities_with_a_meaning() -> None:
    policy = Policy.from_card(CARD)
    assert set(policy.thresholds) == {"hate speech", "offensive language"}
    for label, threshold in policy.thresholds.items():
        assert 0 <= threshold.review <= threshold.block <= 1
        assert CARD["thresholds"][label]["meaning"]


def test_moderate_over_http(production: Server) -> None:
    status, answer = post_json(production.url + "/moderate", {"text": "shut up you stupid idiot"})
    assert status == 200
    assert list(answer) == ["scores", "label", "flagged", "action", "categories", "model"]
    assert list(answer["scores"]) == list(LABELS)
    assert sum(answer["scores"].values()) == pytest.approx(1, abs=1e-9)
    policy = Policy.from_card(CARD)
    row = [answer["scores"][label] for label in LABELS]
    assert answer["label"] == policy.label(row) and answer["action"] in ACTIONS
    expected = {k: v for k, v in policy.decide(row).items() if k != "label"}
    expected["categories"]["threat"] = False  # the threat check's verdict is added (hatespeech.core.threats)
    assert {k: answer[k] for k in ("flagged", "action", "categories")} == expected
    assert answer["model"] == {"version": CARD["version"], "sha256": CARD["sha256"]}
    _, scores = post_json(production.url + "/predict", {"text": "shut up you stupid idiot"})
    assert scores == answer["scores"], "/moderate scores exactly as /predict"


@pytest.mark.parametrize(
    ("payload", "status", "message"),
    [
        ({"text": " "}, 400, "white space"),
        ({"text": 3}, 400, "text must be a string"),
        ({"text": "hi", "explain": "yes"}, 400, "explain must be true or false"),
        ({"explain": True}, 422, "missing a required argument: 'text'"),
        ({"text": "hi", "colour": "red"}, 422, "unexpected keyword argument 'colour'"),
        ({"text": "hi", "thread": ["t1"]}, 400, "thread must be a string or a whole number"),
        ({"text": "hi", "url": "javascript:alert(1)"}, 400, "url must be an absolute http:// or https:// link"),
    ],
)
def test_moderate_bad_input(production: Server, payload: dict, status: int, message: str) -> None:
    got, answer = post_json(production.url + "/moderate", payload)
    assert got == status and message in answer["error"]


def test_thresholds_setting_changes_the_served_actions(tmp_path: Path) -> None:
    strict = {"hate speech": {"review": 0.0, "block": 0.0}}  # everything is blocked
    with gunicorn(tmp_path, THRESHOLDS=json.dumps(strict)) as server:
        server.wait_ready()
        status, answer = post_json(server.url + "/moderate", {"text": "What a lovely day for a walk"})
        assert status == 200 and answer["action"] == "block" and answer["categories"]["hate speech"] is True
    with gunicorn(tmp_path, THRESHOLDS='{"hate": {"review": 0.1}}') as server:
        server.proc.wait(timeout=60)
        assert server.proc.returncode != 0
        assert "'hate' is not a class" in server.output()
