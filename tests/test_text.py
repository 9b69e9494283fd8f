"""Text normalisation: the first step of the pipeline, used identically in training and serving."""

from __future__ import annotations

import pytest

from hatespeech.text import Normaliser, normalise


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Hello World", "hello world"),
        ("RT @someone: hi", "mentionhere hi"),
        ("see https://t.co/abc123 now", "see urlhere now"),
        ("you &amp; me &lt;3", "you and me 3"),
        ("soooooo gooood", "soo good"),
        ("  many \n\t spaces  ", "many spaces"),
        ("#hashtag stays", "#hashtag stays"),
        ("", ""),
        ("😀 emoji only", "emoji only"),
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


def test_normaliser_is_a_stateless_pipeline_step() -> None:
    step = Normaliser()
    assert step.fit(["anything"]) is step
    assert step.transform(["A  B", "RT x"]) == ["a b", "x"]


def test_odd_input_never_raises() -> None:
    for text in ("\x00\x01", "\ud800 lone surrogate", "&#99999999;", "a" * 100_000, "\u202e rtl"):
        assert isinstance(normalise(text), str)
