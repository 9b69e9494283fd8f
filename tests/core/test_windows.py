"""Windows over a long text (hatespeech/core/windows.py): no word cut, no run of words split, bounded work."""

from __future__ import annotations

import random
import re

import pytest

from hatespeech.core.windows import STEP, WINDOW, bound_action, windows, worst


def _text(seed: int, words: int) -> str:
    rng = random.Random(seed)
    pieces = []
    for _ in range(words):
        word = "".join(rng.choice("abcdefgh") for _ in range(rng.randint(1, 12)))
        pieces.append(word + rng.choice([" ", " ", "  ", "\n", "\u200b", " \u200b\u200b "]))
    return "".join(pieces)


@pytest.mark.parametrize("seed", range(20))
def test_every_word_is_whole_in_a_window_and_every_short_run_too(seed: int) -> None:
    text = _text(seed, 600)
    found = windows(text)
    assert found == sorted(found) and all(text[a:b] == text[a:b].strip() for a, b in found)
    # a run of consecutive words of at most STEP visible characters lies whole inside one window
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    weights = [len(text[a:b].replace("\u200b", "")) for a, b in words]
    for i in range(len(words)):
        total = 0
        for j in range(i, len(words)):
            total += weights[j]
            if total > STEP:
                break
            assert any(a <= words[i][0] and words[j][1] <= b for a, b in found), (i, j)


@pytest.mark.parametrize("seed", range(5))
def test_the_work_is_linear(seed: int) -> None:
    text = _text(seed, 5000)
    found = windows(text)
    assert sum(b - a for a, b in found) <= (WINDOW // STEP + 1) * len(text)


def test_invisible_padding_weighs_nothing() -> None:
    text = "you " + "\u200b" * 10_000 + " are " + " \u200b" * 10_000 + " vermin " + "word " * 100
    (first, *_) = windows(text)
    assert "you" in text[slice(*first)] and "vermin" in text[slice(*first)]


def test_short_empty_and_one_long_word() -> None:
    assert windows("a few words") == [(0, 11)]
    assert windows("") == [] and windows(" \n ") == [] and windows(" " * 5000) == []
    long = "x" * 5000
    assert windows(f"hello {long} there") == [(0, 5), (6, 5006), (5007, 5012)]


def test_the_worst_window_decides_and_actions_are_bounded() -> None:
    allow = {"action": "allow", "flagged": False, "scores": {"hate speech": 0.1, "offensive language": 0.2}}
    review = {"action": "review", "flagged": True, "scores": {"hate speech": 0.1, "offensive language": 0.5}}
    block = {"action": "block", "flagged": True, "scores": {"hate speech": 0.9, "offensive language": 0.1}}
    assert worst([allow, review, block, review]) == 2
    assert bound_action(dict(block), at_most="review")["action"] == "review"
    assert bound_action(dict(allow), at_least="review") == {**allow, "action": "review", "flagged": True}
    assert bound_action(dict(review), at_most="review", at_least="review") == review
