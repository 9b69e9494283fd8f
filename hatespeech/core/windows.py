"""Long texts scored whole, and in windows about as long as what the model learnt from, each on its own.

The model was trained on tweets, and TF-IDF dilutes: "shut up you stupid bitch" is ``block``
alone, ``review`` after three sentences about a garden (~160 characters) and ``allow`` after ten;
40 characters of them in front are often enough to make it ``review``. So a board's post longer
than one window (``WINDOW`` visible characters) is also cut into windows that a slur cannot be
buried in: each sentence is a window of its own (a sentence ends at ``.``, ``!`` or ``?`` before
white space, and at every line break; sentences shorter than ``SHORT`` visible characters in a row
are joined up to it, which bounds how many windows a post has), and a sentence longer than
``WINDOW`` visible characters is cut into windows of at most ``WINDOW`` visible characters, each
starting ``STEP`` after the last:
every run of words up to ``STEP`` visible characters long lies whole inside some window. Windows
start and end between words (white space), so no word is ever cut; a single word longer than a
window is a window of its own. Characters a reader does not see (zero-width spaces, joiners, soft
hyphens, bidirectional marks) weigh nothing and end a sentence like a space, so padding made of
them cannot push a slur away from the words around it, nor glue it to the sentence before. Each
character lies in at most ``WINDOW // STEP + 1`` windows: the work is linear in the text.

How a window's answer counts is the caller's rule (hatespeech/integrations/service.py: a window
that would be ``block`` on its own sends the post to review).

>>> text = "one two three four five six"
>>> [text[a:b] for a, b in windows(text, size=9, step=4)]
['one two', 'three four', 'four five', 'five six']
>>> text = "We saw the garden near the river. Bye. See you. You are all vermin! The end of the day."
>>> [text[a:b] for a, b in windows(text, size=60)]
['We saw the garden near the river.', 'Bye. See you. You are all vermin!', 'The end of the day.']
>>> windows("short text")
[(0, 10)]
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from hatespeech.core.labels import abusive_probability
from hatespeech.core.policy import ACTION_RANK, ALLOW, BLOCK, is_flagged

WINDOW = 200  # visible characters: a tweet and a half
STEP = 100  # a slur and its sentence, up to this long, always lie whole in one window
# A sentence this long (visible characters) is always a window of its own; shorter ones in a row are joined
# until they reach it, so that "a. " * 33,000 is ~2,800 windows, not 33,000 (3.7 s of one worker), while
# a short insult is never joined to more than this many characters of other words.
SHORT = 25

_PIECE = re.compile(r"\S+")
# What a reader does not see (format characters and fillers): they weigh nothing in a window.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0]"
)
# A sentence ends after its mark, before white space or an invisible character (so that "river.\u200bYou"
# still ends one), and at every line break.
_SENTENCE_END = re.compile(r"[.!?]+(?=[\s" + _INVISIBLE.pattern[1:-1] + "])|\n")


def sentences(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence of ``text``: cut after ``.``, ``!`` or ``?`` followed by white space or
    an invisible character, and at every line break; white space only is no sentence.

    >>> text = "We saw the river. You are all vermin!\\nBye"
    >>> [text[a:b].strip() for a, b in sentences(text)]
    ['We saw the river.', 'You are all vermin!', 'Bye']
    """
    found, at = [], 0
    for match in _SENTENCE_END.finditer(text):
        found.append((at, match.end()))
        at = match.end()
    found.append((at, len(text)))
    return [(a, b) for a, b in found if text[a:b].strip()]


def windows(text: str, size: int = WINDOW, step: int = STEP) -> list[tuple[int, int]]:
    """``(start, end)`` of each window of ``text``, in order; one window if the text is short.

    A text of at most ``size`` visible characters is one window. A longer one is cut into
    sentences (``sentences``), each a window of its own (short ones in a row joined until they
    reach ``SHORT`` visible characters), and a sentence longer than ``size``
    visible characters into overlapping windows ``step`` apart. Every word (run of non-space
    characters) lies whole in at least one window, and no window crosses a sentence's end. Empty
    text or white space only gives ``[]``.
    """
    if len(text) <= size:
        return [(0, len(text))] if text.strip() else []
    if len(_INVISIBLE.sub("", text).strip()) <= size:
        pieces = [(m.start(), m.end()) for m in _PIECE.finditer(text)]
        return [(pieces[0][0], pieces[-1][1])] if pieces else []
    found: list[tuple[int, int]] = []
    run: tuple[int, int, int] | None = None  # short sentences being joined: start, end, visible characters
    for start, end in sentences(text):
        seen = len(_INVISIBLE.sub("", text[start:end]).strip())
        if seen < SHORT:
            run = (start, end, seen) if run is None else (run[0], end, run[2] + seen)
            if run[2] >= SHORT:
                found += [(run[0] + a, run[0] + b) for a, b in _runs(text[run[0] : run[1]], size, step)]
                run = None
            continue
        if run is not None:
            found += [(run[0] + a, run[0] + b) for a, b in _runs(text[run[0] : run[1]], size, step)]
            run = None
        found += [(start + a, start + b) for a, b in _runs(text[start:end], size, step)]
    if run is not None:
        found += [(run[0] + a, run[0] + b) for a, b in _runs(text[run[0] : run[1]], size, step)]
    return found


def _runs(text: str, size: int, step: int) -> list[tuple[int, int]]:
    """Overlapping runs of whole words of at most ``size`` visible characters, each starting about ``step``
    after the last: every run of words up to ``step`` visible characters lies whole in one of them."""
    pieces = [(m.start(), m.end()) for m in _PIECE.finditer(text)]
    if not pieces:
        return []
    if _INVISIBLE.search(text) is None:
        weights = [end - start for start, end in pieces]
    else:
        weights = [len(_INVISIBLE.sub("", text[start:end])) for start, end in pieces]
    found: list[tuple[int, int]] = []
    first, n = 0, len(pieces)
    while True:
        last, total = first, weights[first]
        while last + 1 < n and total + weights[last + 1] <= size:
            last += 1
            total += weights[last]
        found.append((pieces[first][0], pieces[last][1]))
        if last == n - 1:
            break
        # the next window starts at the first piece at least ``step`` into this one (or just after it)
        ahead, start = 0, first
        while start <= last and ahead < step:
            ahead += weights[start]
            start += 1
        first = start
    return found


def severity(answer: Mapping[str, Any]) -> tuple[int, float, float]:
    """How bad a window's ``/moderate`` answer is, for ``max``: its action first, then P(abusive), then P(hate)."""
    scores = answer["scores"]
    return ACTION_RANK[answer["action"]], float(abusive_probability(scores)), float(scores.get("hate speech", 0.0))


def worst(answers: Sequence[Mapping[str, Any]]) -> int:
    """The index of the most severe answer (the first of equals).

    >>> a = {"action": "review", "scores": {"hate speech": 0.2, "offensive language": 0.5}}
    >>> b = {"action": "review", "scores": {"hate speech": 0.3, "offensive language": 0.5}}
    >>> worst([a, b, a])
    1
    """
    return max(range(len(answers)), key=lambda i: severity(answers[i]))


def bound_action(answer: dict[str, Any], *, at_most: str = BLOCK, at_least: str = ALLOW) -> dict[str, Any]:
    """``answer`` with its action kept between ``at_least`` and ``at_most`` (``flagged`` to match).

    >>> bound_action({"action": "block", "flagged": True}, at_most="review")
    {'action': 'review', 'flagged': True}
    >>> bound_action({"action": "allow", "flagged": False}, at_least="review")
    {'action': 'review', 'flagged': True}
    """
    rank = ACTION_RANK[answer["action"]]
    if rank > ACTION_RANK[at_most]:
        answer["action"] = at_most
    elif rank < ACTION_RANK[at_least]:
        answer["action"] = at_least
    answer["flagged"] = is_flagged(answer["action"])
    return answer
