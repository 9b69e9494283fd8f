"""The threat check through the service: /moderate's threat category, OpenAI's and Perspective's shapes."""

from __future__ import annotations

from testing.support import Server, post_json


def test_moderate_reports_a_threat_and_raises_the_action(production: Server) -> None:
    status, answer = post_json(production.url + "/moderate", {"text": "someone should put a bullet in his head"})
    assert status == 200
    assert answer["categories"]["threat"] is True
    assert answer["action"] in ("review", "block") and answer["flagged"] is True
    assert answer["threat"] == {"start": 0, "end": 34, "text": "someone should put a bullet in his"}
    _, idiom = post_json(production.url + "/moderate", {"text": "this joke killed me"})
    assert idiom["categories"]["threat"] is False and "threat" not in idiom
    _, coffee = post_json(production.url + "/moderate", {"text": "I'd kill for a coffee", "explain": True})
    assert coffee["action"] == "allow" and coffee["reasons"] == [], "the model does not count an idiom's verb either"
    assert coffee["explanation"]["idioms"] == [{"start": 4, "end": 21, "text": "kill for a coffee"}]


def test_threats_map_to_openai_and_perspective(production: Server) -> None:
    status, body = post_json(production.url + "/v1/moderations", {"input": ["I will k!ll you", "have a nice day"]})
    assert status == 200
    threat, calm = body["results"]
    assert threat["categories"]["harassment/threatening"] is True and threat["flagged"] is True
    assert threat["category_scores"]["harassment/threatening"] == 1.0
    assert calm["categories"]["harassment/threatening"] is False and calm["categories"]["hate/threatening"] is False
    request = {
        "comment": {"text": "Nice weather. I am going to hurt you."},
        "requestedAttributes": {"THREAT": {}},
        "spanAnnotations": True,
    }
    status, body = post_json(production.url + "/v1alpha1/comments:analyze", request)
    assert status == 200
    scores = body["attributeScores"]["THREAT"]
    assert scores["summaryScore"]["value"] == 1.0
    assert [s["score"]["value"] for s in scores["spanScores"]] == [0.0, 1.0]
