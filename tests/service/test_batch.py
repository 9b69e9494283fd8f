"""POST /predict_batch and /moderate_batch: order kept, limits, all-or-nothing validation."""

from __future__ import annotations

import pytest

from hatespeech.config import Settings
from hatespeech.core.labels import LABELS
from testing.support import Server, post_json

TEXTS = [
    "Please respect each other.",
    "shut up you stupid idiot",
    "@someone check this out http://example.com #news",
    "What a lovely day for a walk in the park",
]


def test_predict_batch_keeps_order_and_equals_predict(production: Server) -> None:
    status, answers = post_json(production.url + "/predict_batch", {"texts": TEXTS})
    assert status == 200 and len(answers) == len(TEXTS)
    for text, answer in zip(TEXTS, answers, strict=True):
        _, single = post_json(production.url + "/predict", {"text": text})
        assert list(answer) == list(LABELS)
        assert answer == pytest.approx(single, abs=1e-12)


def test_moderate_batch_keeps_order_and_equals_moderate(production: Server) -> None:
    texts = [*TEXTS, TEXTS[1]]
    status, answers = post_json(production.url + "/moderate_batch", {"texts": texts, "explain": False})
    assert status == 200 and len(answers) == len(texts)
    for text, answer in zip(texts, answers, strict=True):
        _, single = post_json(production.url + "/moderate", {"text": text})
        assert answer["scores"] == pytest.approx(single["scores"], abs=1e-12)
        assert {k: v for k, v in answer.items() if k != "scores"} == {k: v for k, v in single.items() if k != "scores"}


def test_an_empty_batch_is_an_empty_answer(production: Server) -> None:
    assert post_json(production.url + "/predict_batch", {"texts": []}) == (200, [])
    assert post_json(production.url + "/moderate_batch", {"texts": []}) == (200, [])


LIMITS = Settings()


@pytest.mark.parametrize("path", ["/predict_batch", "/moderate_batch"])
@pytest.mark.parametrize(
    ("payload", "status", "message"),
    [
        ({"texts": ["fine", "   ", "fine"]}, 400, "texts[1] must contain something other than white space"),
        ({"texts": ["fine", "fine", 7]}, 400, "texts[2] must be a string, not a number"),
        ({"texts": ["x" * (LIMITS.max_text_chars + 1)]}, 400, "texts[0] is 10001 characters long"),
        ({"texts": "one text"}, 400, "texts must be an array of strings, not a string"),
        ({"texts": {"a": 1}}, 400, "texts must be an array of strings, not an object"),
        ({"texts": ["a"] * (LIMITS.max_batch_texts + 1)}, 400, f"the maximum is {LIMITS.max_batch_texts}"),
        ({"texts": ["one"], "text": "one"}, 422, "unexpected keyword argument 'text'"),
        ({}, 422, "missing a required argument: 'texts'"),
    ],
)
def test_one_bad_item_refuses_the_batch_naming_it(
    production: Server, path: str, payload: dict, status: int, message: str
) -> None:
    got, answer = post_json(production.url + path, payload)
    assert got == status and message in answer["error"]


def test_total_size_limits(production: Server) -> None:
    # Over MAX_BODY_BYTES (64 KiB): 413, unread.
    status, answer = post_json(production.url + "/predict_batch", {"texts": ["word " * 2_000] * 7})
    assert status == 413 and "larger than" in answer["error"]
    # Under the body limit but over MAX_BATCH_CHARS in all: 400 before anything is scored.
    texts = ["word " * 2_000] * 6  # 60,000 characters, about 60 KB of JSON
    status, answer = post_json(production.url + "/predict_batch", {"texts": texts})
    assert status == 400 and f"the maximum is {LIMITS.max_batch_chars}" in answer["error"]
