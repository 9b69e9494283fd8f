"""Languages served, through the real server: every answer names its language, a supported one is judged by
its own model, an unsupported one follows UNSUPPORTED_LANGUAGE_ACTION, a mixed post gets the worst action, and
doubt (short, disguised) is judged as English. The texts are our own sentences."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import hatespeech
from hatespeech.config import DEFAULT_LANGUAGE_MODELS_DIR, ConfigError, Settings
from hatespeech.core.labels import LABELS
from hatespeech.core.modelfile import ModelError
from hatespeech.core.moderator import Languages, english_part
from testing.support import Server, gunicorn, post_json
from testing.support import request as http_request

ANALYZE = "/v1alpha1/comments:analyze"
CARDS = {  # the committed language models, by their cards' language
    json.loads(path.read_text("utf-8"))["data"]["language"]: json.loads(path.read_text("utf-8"))
    for path in DEFAULT_LANGUAGE_MODELS_DIR.glob("*.json")
}
SUPPORTED = [  # (language, a calm post, an abusive one)
    ("de", "Ich wünsche euch allen einen schönen Abend im Garten.", "Du bist der dümmste Mensch hier, du Idiot."),
    ("pt", "Que dia lindo para passear no parque com a família.", "Você é um idiota completo, cala a boca seu lixo."),
    ("ko", "오늘 날씨가 정말 좋아서 공원에 산책하러 갔어요.", "너 진짜 멍청하다 꺼져라 쓰레기 같은 놈"),
]
UNSUPPORTED = [
    ("fr", "Tu es vraiment un imbécile, va-t'en d'ici tout de suite."),
    ("hi", "तुम बहुत बेवकूफ हो, यहाँ से चले जाओ।"),
]
# a German greeting before an English slur: the whole post reads as German, its English sentence is still judged
MIXED = "Schönen Abend euch allen im Garten! shut up you stupid faggot"


@pytest.fixture(scope="module")
def reviewing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server that sends posts in a language without a model to review."""
    with gunicorn(tmp_path_factory.mktemp("reviewing"), UNSUPPORTED_LANGUAGE_ACTION="review") as server:
        yield server.wait_ready()


def moderate(server: Server, text: str, **fields: object) -> dict:
    status, answer = post_json(server.url + "/moderate", {"text": text, **fields})
    assert status == 200, answer
    assert isinstance(answer, dict)
    return answer


def test_the_committed_language_models_are_german_portuguese_and_korean() -> None:
    assert sorted(CARDS) == ["de", "ko", "pt"]


@pytest.mark.parametrize(("language", "calm", "abusive"), SUPPORTED)
def test_a_supported_language_is_judged_by_its_model(
    production: Server, language: str, calm: str, abusive: str
) -> None:
    card = CARDS[language]
    for text in (calm, abusive):
        answer = moderate(production, text)
        assert (answer["language"], answer["language_supported"]) == (language, True)
        assert answer["model"] == {"version": card["version"], "sha256": card["sha256"], "language": language}
        _, scores = post_json(production.url + "/predict", {"text": text})
        assert scores == answer["scores"], "/predict scores with the same language's model"
    assert moderate(production, calm)["action"] == "allow"
    abused = moderate(production, abusive)
    assert abused["action"] != "allow" and abused["reasons"] and "language" not in abused["reasons"][0]


@pytest.mark.parametrize(("language", "text"), UNSUPPORTED)
def test_a_language_without_a_model_is_not_judged(
    production: Server, reviewing: Server, language: str, text: str
) -> None:
    for server, action in ((production, "allow"), (reviewing, "review")):
        answer = moderate(server, text)
        assert (answer["language"], answer["language_supported"]) == (language, False)
        assert (answer["action"], answer["flagged"], answer["label"]) == (action, action != "allow", "neither")
        assert [r["category"] for r in answer["reasons"]] == ["unsupported language"]
        assert (
            answer["reasons"][0]["language"] == language
            and "UNSUPPORTED_LANGUAGE_ACTION" in answer["reasons"][0]["text"]
        )
        assert "language" not in answer["model"], "no model judged it"
        assert not any(answer["categories"].values())
        _, scores = post_json(server.url + "/predict", {"text": text})
        assert list(scores) == list(LABELS) and scores == answer["scores"], "the English model's, as /predict answers"


def test_a_post_mixing_languages_gets_the_worst_action(production: Server) -> None:
    answer = moderate(production, MIXED)
    assert (answer["language"], answer["language_supported"], answer["model"]["language"]) == ("de", True, "de")
    assert answer["action"] != "allow", "its English sentence is judged by the English model"
    assert {r.get("language") for r in answer["reasons"]} == {"en"}
    german_alone = moderate(production, MIXED.split("!")[0] + "!")
    assert german_alone["action"] == "allow" and german_alone["language"] == "de"
    # a threat is caught by the English check in any post
    threat = moderate(production, "Guten Morgen, wie geht es dir? I am going to kill you")
    assert threat["language"] == "de" and threat["categories"]["threat"] and threat["action"] != "allow"


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("ok", "en"),  # short and ASCII: the common-English path
        ("Hallo du", "und"),  # short
        ("ｙｏｕ ａｒｅ ａ ｓｔｕｐｉｄ ｆａｇｇｏｔ", "und"),  # fullwidth letters
        ("d u  b i s t  e i n  I d i o t  u n d  d u m m", "und"),  # spaced out
        # placed in Dutch by identification alone, for a zero-width space or a Cyrillic і: English in disguise
        ("Rollin drop top wit dat h\u200boe", "und"),
        ("Drop top wit dat b\u0456tch", "und"),
    ],
)
def test_doubt_is_judged_as_english(production: Server, text: str, language: str) -> None:
    answer = moderate(production, text)
    assert (answer["language"], answer["language_supported"], answer["model"]["language"]) == (language, True, "en")
    assert "threat" in answer["categories"], "with the English checks"


def test_the_batch_names_each_language(production: Server) -> None:
    texts = [SUPPORTED[0][1], UNSUPPORTED[0][1], "have a lovely day, everyone", SUPPORTED[2][2]]
    status, answers = post_json(production.url + "/moderate_batch", {"texts": texts})
    assert status == 200 and isinstance(answers, list)
    assert [(a["language"], a["language_supported"]) for a in answers] == [
        ("de", True),
        ("fr", False),
        ("en", True),
        ("ko", True),
    ]
    assert [a["model"].get("language") for a in answers] == ["de", None, "en", "ko"]
    one_by_one = [moderate(production, text, record=False) for text in texts]
    assert answers == one_by_one, "a batch answers as one text at a time"
    status, scores = post_json(production.url + "/predict_batch", {"texts": texts})
    assert status == 200 and scores == [a["scores"] for a in answers]


def test_metrics_count_posts_by_language(production: Server) -> None:
    def count(metrics: str, language: str, supported: str) -> float:
        line = f'hatespeech_posts_by_language_total{{language="{language}",supported="{supported}"}} '
        found = [row for row in metrics.splitlines() if row.startswith(line)]
        return float(found[0].split()[-1]) if found else 0.0

    _, _, before = http_request(production.url + "/metrics", method="GET")
    moderate(production, SUPPORTED[1][1])
    moderate(production, UNSUPPORTED[1][1])
    moderate(production, SUPPORTED[1][1], record=False)  # not a post: not counted
    _, _, after = http_request(production.url + "/metrics", method="GET")
    assert count(after, "pt", "true") == count(before, "pt", "true") + 1
    assert count(after, "hi", "false") == count(before, "hi", "false") + 1


def test_perspective_judges_the_requested_language(production: Server) -> None:
    text = SUPPORTED[0][2]
    request = {"comment": {"text": text}, "requestedAttributes": {"TOXICITY": {}}}
    status, detected = post_json(production.url + ANALYZE, request)
    assert status == 200 and detected["languages"] == ["de"] and detected["detectedLanguages"] == ["de"]
    _, scores = post_json(production.url + "/predict", {"text": text})
    toxicity = detected["attributeScores"]["TOXICITY"]["summaryScore"]["value"]
    assert toxicity == pytest.approx(1 - scores["neither"], abs=1e-12), "the German model's"
    status, as_english = post_json(production.url + ANALYZE, {**request, "languages": ["en"]})
    assert status == 200 and as_english["languages"] == ["en"] and as_english["detectedLanguages"] == ["de"]
    assert as_english["attributeScores"]["TOXICITY"]["summaryScore"]["value"] != toxicity, "judged as asked"
    status, regional = post_json(production.url + ANALYZE, {**request, "languages": ["de-AT"]})
    assert status == 200 and regional["attributeScores"] == detected["attributeScores"]


@pytest.mark.parametrize(
    ("languages", "text", "key"),
    [
        (["fr"], SUPPORTED[0][2], "requestedLanguages"),  # requested, not served
        (None, UNSUPPORTED[0][1], "detectedLanguages"),  # identified, not served
    ],
)
def test_perspective_refuses_a_language_no_model_judges(
    production: Server, languages: list[str] | None, text: str, key: str
) -> None:
    request: dict = {"comment": {"text": text}, "requestedAttributes": {"TOXICITY": {}}}
    if languages is not None:
        request["languages"] = languages
    status, response = post_json(production.url + ANALYZE, request)
    assert status == 400
    detail = response["error"]["details"][0]
    assert detail["errorType"] == "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE"
    assert detail["languageNotSupportedByAttributeError"] == {key: ["fr"], "attribute": "TOXICITY"}


def test_the_openai_drop_in_keeps_its_shape(production: Server) -> None:
    texts = [SUPPORTED[1][2], UNSUPPORTED[0][1]]
    status, response = post_json(production.url + "/v1/moderations", {"input": texts})
    assert status == 200 and isinstance(response, dict)
    keys = {"hate", "harassment", "harassment/threatening", "hate/threatening"}
    for result, text in zip(response["results"], texts, strict=True):
        assert set(result["categories"]) == set(result["category_scores"]) == keys
        answer = moderate(production, text, record=False)
        assert result["category_scores"]["harassment"] == answer["scores"]["offensive language"]
        assert result["categories"]["harassment"] is answer["categories"].get("offensive language", False)
    assert response["results"][1]["flagged"] is False, "a language without a model is not judged"


def test_english_sentences_of_a_foreign_post() -> None:
    assert english_part("Schönen Abend! You are all a bunch of idiots.") == "You are all a bunch of idiots."
    assert english_part("You are all a bunch of idiots.") == "", "one sentence: identified whole"
    assert english_part("Guten Abend. Danke schön. Bis morgen.") == ""


def test_a_language_model_that_fails_verification_stops_the_start(tmp_path: Path) -> None:
    folder = tmp_path / "languages"
    folder.mkdir()
    card = next(DEFAULT_LANGUAGE_MODELS_DIR.glob("model-de.json"))
    shutil.copy(card, folder / card.name)
    model = json.loads(card.read_text("utf-8"))["model_file"]
    (folder / model).write_bytes((DEFAULT_LANGUAGE_MODELS_DIR / model).read_bytes()[:-10])  # truncated
    with pytest.raises(ModelError, match="does not match its card"):
        Languages.load(folder)
    with pytest.raises(ModelError, match="does not match its card"):
        hatespeech.load(languages=folder)
    (folder / card.name).unlink()
    assert Languages.load(folder).codes == ["en"], "no card: English alone"
    assert Languages.load(tmp_path / "absent").codes == ["en"]


def test_the_unsupported_action_is_allow_or_review() -> None:
    assert Settings.from_env({}).unsupported_language_action == "allow"
    assert Settings.from_env({"UNSUPPORTED_LANGUAGE_ACTION": "Review"}).unsupported_language_action == "review"
    with pytest.raises(ConfigError, match="UNSUPPORTED_LANGUAGE_ACTION='block' must be one of allow, review"):
        Settings.from_env({"UNSUPPORTED_LANGUAGE_ACTION": "block"})
    with pytest.raises(ValueError, match="allow or review"):
        Languages(unsupported_action="block")


def test_a_language_model_that_fails_on_its_first_post_answers_503(tmp_path: Path) -> None:
    folder = tmp_path / "languages"
    folder.mkdir()
    card = DEFAULT_LANGUAGE_MODELS_DIR / "model-de.json"
    shutil.copy(card, folder / card.name)
    model = folder / json.loads(card.read_text("utf-8"))["model_file"]
    shutil.copy(DEFAULT_LANGUAGE_MODELS_DIR / model.name, model)
    with gunicorn(tmp_path, LANGUAGE_MODELS_DIR=str(folder), LANGUAGE_MODELS_LOAD="first-use") as server:
        server.wait_ready()
        model.write_bytes(model.read_bytes()[:-10])  # replaced after the start, before German's first post
        for path in ("/moderate", "/predict"):
            status, answer = post_json(server.url + path, {"text": SUPPORTED[0][2]})
            assert status == 503 and isinstance(answer, dict), answer
            assert "'de' model failed to load" in answer["error"]
        status, answer = post_json(server.url + "/v1/moderations", {"input": SUPPORTED[0][2]})
        assert status == 503 and isinstance(answer, dict), answer  # in OpenAI's error shape, as every /v1/ refusal
        assert "'de' model failed to load" in answer["error"]["message"]
        analyze = {"comment": {"text": SUPPORTED[0][2]}, "requestedAttributes": {"TOXICITY": {}}}
        status, answer = post_json(server.url + ANALYZE, analyze)
        assert status == 503 and isinstance(answer, dict) and "'de' model failed to load" in answer["error"], answer
        assert moderate(server, "have a lovely day, everyone")["model"]["language"] == "en"
