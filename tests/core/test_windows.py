"""Windows over a long text (hatespeech/core/windows.py): each sentence on its own, no word cut, no run of words
split within a sentence, bounded work."""

from __future__ import annotations

import random
import re

import pytest

from hatespeech.core.windows import SHORT, STEP, WINDOW, bound_action, sentences, windows, worst


def _text(seed: int, words: int) -> str:
    rng = random.Random(seed)
    pieces = []
    for _ in range(words):
        word = "".join(rng.choice("abcdefgh") for _ in range(rng.randint(1, 12)))
        pieces.append(word + rng.choice([" ", " ", "  ", "\n", "\u200b", " \u200b\u200b ", ". ", "!\u200b"]))
    return "".join(pieces)


@pytest.mark.parametrize("seed", range(20))
def test_every_word_is_whole_in_a_window_and_every_short_run_of_one_sentence_too(seed: int) -> None:
    text = _text(seed, 600)
    found = windows(text)
    assert found == sorted(found) and all(text[a:b] == text[a:b].strip() for a, b in found)
    ends = {b for _, b in sentences(text)}
    for a, b in found:  # a window crosses a sentence's end only to join short sentences, whole
        inside = [(s, e) for s, e in sentences(text) if a < e and s < b]
        if len(inside) > 1:
            assert all(len(text[s:e].replace("\u200b", "").strip()) < SHORT for s, e in inside), (a, b)
    # a run of consecutive words of one sentence, of at most STEP visible characters, lies whole inside one window
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    weights = [len(text[a:b].replace("\u200b", "")) for a, b in words]
    for i in range(len(words)):
        total = 0
        for j in range(i, len(words)):
            total += weights[j]
            if total > STEP or any(words[i][0] < end < words[j][1] for end in ends):  # another sentence
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


def test_a_sentence_is_a_window_of_its_own_once_the_text_is_longer_than_one() -> None:
    """A slur after a long paragraph, in it or after a zero-width character, is scored with nothing around it."""
    paragraph = "We saw the garden near the river and the market. " * 20
    for glue in ("\n\n", " ", "\u200b", "\u200b\u200b "):
        text = paragraph.rstrip(" ") + glue + "You are all vermin!" + " And then we went home."
        # alone, or joined only to a short sentence next to it (fewer than 2 * SHORT visible characters)
        found = [text[a:b].strip("\u200b ") for a, b in windows(text) if "vermin" in text[a:b]]
        assert found and all(len(w) < 2 * SHORT for w in found), (repr(glue), found)
        assert found[0].startswith("You are all vermin!"), (repr(glue), found)
    # a text of one window stays one, whatever its sentences; so do invisible characters around a few words
    assert windows("No. " * 50) == [(0, 200)]
    assert windows("\u200b" * 10_000 + " You are all vermin. Bye.") == [(0, 10_025)]
    # short sentences in a row are joined, up to SHORT visible characters: bounded work
    assert len(windows("a. " * 33_000)) < 33_000 * 2 // SHORT + 1
    # not a sentence's end: a dot inside a word, a number, a link
    text = "See example.com or 3.5 of them, " * 10
    assert len(windows(text)) > 1 and all(b - a > 20 for a, b in windows(text))


def test_the_most_severe_answer_and_bounded_actions() -> None:
    allow = {"action": "allow", "flagged": False, "scores": {"hate speech": 0.1, "offensive language": 0.2}}
    review = {"action": "review", "flagged": True, "scores": {"hate speech": 0.1, "offensive language": 0.5}}
    block = {"action": "block", "flagged": True, "scores": {"hate speech": 0.9, "offensive language": 0.1}}
    assert worst([allow, review, block, review]) == 2
    assert bound_action(dict(block), at_most="review")["action"] == "review"
    assert bound_action(dict(allow), at_least="review") == {**allow, "action": "review", "flagged": True}
    assert bound_action(dict(review), at_most="review", at_least="review") == review
