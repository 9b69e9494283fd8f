"""Text normalisation: the first step of the pipeline, used identically in training and serving."""

from __future__ import annotations

import pytest

from hatespeech.core.text import normalise, tokens
from hatespeech.training.pipeline import Normaliser


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Hello World", "hello world"),
        ("RT @someone: hi", "hi"),
        ("see https://t.co/abc123 now", "see now"),
        ("see example.com/page now", "see now"),
        ("you &amp; me &lt;3", "you me 3"),
        ("soooooo gooood", "soo good"),
        ("  many \n\t spaces  ", "many spaces"),
        ("#hashtag stays", "hashtag stays"),
        ("f*ck this", "fck this"),
        ("y0u are a l0ser", "you are a loser"),
        ("$hit happens", "shit happens"),
        ("2day at 10am", "2day at 10am"),
        ("snake_case", "snake case"),
        ("", ""),
        ("😀 emoji", "emo128512 emoji"),
        ("&#128514;", "emo128514"),
        ("&amp;#128514;", "emo128514"),
        ("you monkeys", "you monkeys lexrace"),
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


def test_normaliser_is_a_stateless_pipeline_step() -> None:
    step = Normaliser()
    assert step.fit(["anything"]) is step
    assert step.transform(["A  B", "RT x"]) == ["a b", "x"]


def test_odd_input_never_raises() -> None:
    for text in ("\x00\x01", "\ud800 lone surrogate", "&#99999999;", "a" * 100_000, "\u202e rtl", "&#0;", "@", "*"):
        assert isinstance(normalise(text), str)


def test_every_token_points_at_the_characters_it_came_from() -> None:
    text = "RT @Bob: Sooo &amp; thisss 😀 https://x.co/a?b=1 &#65;BC c*nt"
    spans = [(t.text, text[t.start : t.end]) for t in tokens(text)]
    assert spans == [
        ("soo", "Sooo"),
        ("thiss", "thisss"),
        ("emo128512", "😀"),
        ("a", "&#65;"),
        ("bc", "BC"),
        ("cnt", "c*nt"),
    ]
    assert normalise(text) == " ".join(t for t, _ in spans)


def test_lexicon_markers_come_last_and_point_at_their_word() -> None:
    text = "those apes again"
    found = tokens(text)
    assert [t.text for t in found] == ["those", "apes", "again", "lexrace"]
    assert text[found[-1].start : found[-1].end] == "apes"
