"""POST /moderate: the decision rule and thresholds of the card, overridable by THRESHOLDS."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from hatespeech.config import ConfigError, Settings
from hatespeech.core import threats
from hatespeech.core.labels import LABELS, severity_scores
from hatespeech.core.policy import (
    ACTION_RANK,
    ACTIONS,
    AttackReason,
    LanguageReason,
    Policy,
    PolicyError,
    ScoreReason,
    ThreatReason,
)
from hatespeech.training.evaluate import decide
from testing.support import ROOT, Server, gunicorn, post_json, server_env

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


@pytest.mark.parametrize(
    ("probabilities", "reasons"),
    [
        ([0.1, 0.1, 0.8], []),
        ([0.2, 0.1, 0.7], [("hate speech", 0.2, "review", 0.2)]),  # at the threshold: reached
        ([0.15, 0.4, 0.45], [("offensive language", 0.55, "review", 0.5)]),  # severity: P(hate) + P(offensive)
        ([0.3, 0.65, 0.05], [("offensive language", 0.95, "block", 0.9), ("hate speech", 0.3, "review", 0.2)]),
        ([0.8, 0.2, 0.0], [("hate speech", 0.8, "block", 0.8), ("offensive language", 1.0, "block", 0.9)]),
    ],
)
def test_reasons_name_each_class_and_the_highest_threshold_it_reached(probabilities: list, reasons: list) -> None:
    decision = Policy.from_card(small_card()).decide(probabilities)
    got = [(r["category"], r["score"], r["threshold"], r["at"]) for r in decision["reasons"]]
    assert [(c, t, at) for c, _, t, at in got] == [(c, t, at) for c, _, t, at in reasons]
    assert [s for _, s, _, _ in got] == pytest.approx([s for _, s, _, _ in reasons], abs=1e-12)


def test_the_action_is_the_most_severe_of_the_reasons() -> None:
    """Empty ``reasons`` exactly for ``allow``; else the action is the highest threshold they name, each reason true
    of the scores (the threat check adds a review, and its span)."""
    rng = np.random.default_rng(3)
    for card in (CARD, small_card()):
        policy = Policy.from_card(card)
        for row in rng.dirichlet([0.3, 1.0, 0.5], size=3000).tolist():
            decision = policy.decide(row)
            reasons = decision["reasons"]
            assert (reasons == []) is (decision["action"] == "allow")
            if reasons:
                assert decision["action"] == max((r["threshold"] for r in reasons), key=ACTION_RANK.__getitem__)
            severity = severity_scores(row)
            for r in reasons:
                assert r["score"] == pytest.approx(severity[r["category"]]) and r["score"] >= r["at"]
                limit = policy.thresholds[r["category"]]
                assert r["at"] == (limit.block if r["threshold"] == "block" else limit.review)
            for label, reached in decision["categories"].items():
                assert reached is (label in [r["category"] for r in reasons])
    answer = threats.apply(dict(policy.moderate([0.0, 0.0, 1.0])), {"start": 0, "end": 4, "text": "x"})
    assert answer["action"] == "review"
    assert answer["reasons"] == [{"category": "threat", "start": 0, "end": 4, "text": "x"}]


def test_the_reasons_are_documented_as_typed() -> None:
    """openapi.yaml's reasons are the TypedDicts of hatespeech.core.policy, key for key."""
    schemas = yaml.safe_load((ROOT / "openapi.yaml").read_text())["components"]["schemas"]
    assert "reasons" in schemas["Moderation"]["required"]
    assert schemas["Moderation"]["properties"]["reasons"]["items"]["oneOf"] == [
        {"$ref": "#/components/schemas/ScoreReason"},
        {"$ref": "#/components/schemas/ThreatReason"},
        {"$ref": "#/components/schemas/AttackReason"},
        {"$ref": "#/components/schemas/LanguageReason"},
    ]
    typed_reasons = (
        (ScoreReason, "ScoreReason"),
        (ThreatReason, "ThreatReason"),
        (AttackReason, "AttackReason"),
        (LanguageReason, "LanguageReason"),
    )
    for typed, name in typed_reasons:
        optional = set() if typed is LanguageReason else {"language"}  # NotRequired: the other language's reason
        assert set(schemas[name]["required"]) == set(typed.__annotations__) - optional
        assert set(schemas[name]["properties"]) == set(typed.__annotations__)
    assert schemas["ScoreReason"]["properties"]["category"]["enum"] == list(Policy.from_card(CARD).thresholds)


def own_texts() -> list[str]:
    """The sentence sets written for the tests, and a few more of our own."""
    texts = []
    for name in ("ordinary.tsv", "threats.tsv", "threats_heldout.tsv"):
        lines = (ROOT / "tests" / "data" / name).read_text("utf-8").splitlines()
        texts += [line.split("\t")[-1] for line in lines if line and not line.startswith("#")]
    texts += [
        "immigrants are vermin and should be deported",
        "shut up you stupid idiot",
        "I'd kill for a coffee",
        "you people are a disease, go back where you came from",
        "what a lovely afternoon in the park",
        "F*CK you and your whole family",
    ]
    return texts


def test_every_flagged_answer_says_why(tmp_path: Path) -> None:
    """``app.moderate`` and ``app.moderate_batch`` (its vectorised path) over some 750 texts: ``reasons`` is empty
    exactly when the action is ``allow``, and the action is the most severe reason (a threat: review)."""
    texts = own_texts()
    code = (
        "import json, sys, app; texts = json.load(sys.stdin)\n"
        "one = [app.moderate(text=t) for t in texts]\n"
        "many = [a for i in range(0, len(texts), 100) for a in app.moderate_batch(texts=texts[i : i + 100])]\n"
        "print(json.dumps([one, many]))"
    )
    env = server_env(FEEDBACK_DB_PATH=str(tmp_path / "f.sqlite3"), REVIEW_DB_PATH=str(tmp_path / "r.sqlite3"))
    done = subprocess.run(
        [sys.executable, "-c", code], input=json.dumps(texts), cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    one, many = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(one) == len(many) == len(texts) >= 700
    flagged = 0
    for text, a, b in zip(texts, one, many, strict=True):
        assert [r["category"] for r in a["reasons"]] == [r["category"] for r in b["reasons"]], text
        assert (a["reasons"] == []) is (a["action"] == "allow") and a["flagged"] is (a["action"] != "allow"), text
        if a["reasons"]:
            flagged += 1
            worst = max((r.get("threshold", "review") for r in a["reasons"]), key=ACTION_RANK.__getitem__)
            assert worst == a["action"], text
        assert ("threat" in a) is (a["reasons"][-1:] == [{"category": "threat", **a.get("threat", {})}]), text
    assert flagged >= 200  # the threats and the abusive texts: the property is tested on many flagged answers


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
    status, answer = post_json(production.url + "/moderate", {"text": "shut up you stupid faggot"})
    assert status == 200
    assert list(answer) == [
        "scores",
        "label",
        "flagged",
        "action",
        "categories",
        "reasons",
        "model",
        "language",
        "language_supported",
    ]
    assert list(answer["scores"]) == list(LABELS)
    assert sum(answer["scores"].values()) == pytest.approx(1, abs=1e-9)
    policy = Policy.from_card(CARD)
    row = [answer["scores"][label] for label in LABELS]
    assert answer["label"] == policy.label(row) and answer["action"] in ACTIONS
    expected = {k: v for k, v in policy.decide(row).items() if k != "label"}
    expected["categories"]["threat"] = False  # the threat check's verdict is added (hatespeech.core.threats)
    expected["categories"]["identity attack"] = False  # and the identity-attack check's (hatespeech.core.attacks)
    assert {k: answer[k] for k in ("flagged", "action", "categories", "reasons")} == expected
    assert [r["category"] for r in answer["reasons"]] == ["hate speech", "offensive language"]
    _, vermin = post_json(production.url + "/moderate", {"text": "immigrants are vermin and should be deported"})
    assert (vermin["label"], vermin["action"]) == ("neither", "review"), "the label is the model's guess"
    assert [(r["category"], r.get("threshold")) for r in vermin["reasons"]] == [("identity attack", None)], "and why"
    _, calm = post_json(production.url + "/moderate", {"text": "what a lovely afternoon in the park"})
    assert calm["action"] == "allow" and calm["reasons"] == []
    assert answer["model"] == {"version": CARD["version"], "sha256": CARD["sha256"], "language": "en"}
    assert (answer["language"], answer["language_supported"]) == ("en", True)
    _, scores = post_json(production.url + "/predict", {"text": "shut up you stupid faggot"})
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
