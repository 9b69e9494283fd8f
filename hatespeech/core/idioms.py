"""Idioms whose violent word is no violence: "I'd kill for a coffee", "this joke killed me", "shoot me an email".

One list, read by the normaliser (``hatespeech.core.reader.Reader``): in a known idiom, the violent word is
read as ``idiom_<word>`` ("i d idiom_kill for a coffee"), a token no one can type (the reader splits
words at "_") and no feature of the model, so neither the model nor the threat check
(``hatespeech.core.threats``, which reads through the same reader) counts it as the verb. The rest of
the text is read as before: "I would kill for a chance to kill you" keeps its second "kill".

Each idiom is a pattern over the normalised words (lower case, apostrophes split: "I'd" is "i d")
with the violent word as the group ``word``, and what must come before it, not part of the idiom, as
the group ``before``. They are narrow on purpose: a violent word said of
people stays violent ("they kill for fun", "I'm gonna kill me some ...", "kill it" of a person).

>>> mark(["i", "d", "kill", "for", "a", "coffee"])
['i', 'd', 'idiom_kill', 'for', 'a', 'coffee']
>>> mark(["i", "will", "kill", "you"])
['i', 'will', 'kill', 'you']
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence

MARK = "idiom_"  # the reader splits a typed "idiom_kill" at "_": only this module makes such a token

LEAD = 3  # no idiom has more words than this before its violent word ("i d literally kill", "dressed to kill")
_KILL = r"kill|kills|killed|killing"
_SHOOT = r"shoot|shoots|shot|shooting"
_THINGS = (  # what one kills that is not alive: a task to do well, a machine, a mood
    r"(?:lights?|process(?:es)?|server|job|app|tab|task|program|engine|music|mood|vibe|battery|exam|test|quiz"
    r"|interview|presentation|audition|show|set|game|workout|deadline)"
)
_FOOD = r"pint|beer|burger|pizza|curry|kebab|coffee|drink|sandwich|cup of tea|brew|steak"  # "I could murder a pint"
_WANTED = (  # what people say they would kill for
    r"(?:sleep|nap|rest|holiday|vacation|break|weekend|day off|lie in|shoes|dress|car|job|house|bag|phone|tickets?"
    r"|hair|body|abs|skin|view|seat|cake|cookies?|chocolate|ice cream|tacos?|fries|wine|cocktail|tea|cigarette|smoke"
    r"|shower|bath|hug|date|boyfriend|girlfriend|raise|promotion|win|goal)"
)
_NO_ONE = (  # an idiom that ends with its violent word is not followed by who would suffer it ("dressed to kill you")
    r"(?! (?:you|u|ya|yall|y all|him|her|them|em|us|me|everyone|everybody|anyone|anybody|somebody|someone|all"
    r"|every|each|some|those|these|the|that|this|my|your|his|their|our)\b)"
)
_WOULD = r"(?:d|would|could)(?: (?:literally|honestly|seriously|totally|absolutely|just|so|really))?"
IDIOMS: tuple[str, ...] = (
    # wanting something badly: "I'd kill for a coffee", "she would kill for those shoes", "I could murder a pint"
    # (a thing one wants, not "a chance to hurt them" nor "a world without them")
    rf"(?P<before>{_WOULD}) (?P<word>kill|murder) for (?:a|an|some|one|another|that|this|those|these|the|my|your)"
    rf"(?: (?:good|nice|decent|proper|cold|hot|big|new|little|quick|long|fresh|few|real))? (?:{_FOOD}|{_WANTED})\b",
    rf"(?P<before>{_WOULD}) (?P<word>murder) (?:a|an|some|that|this) (?:{_FOOD})\b",
    # said of oneself: "this joke killed me", "my feet are killing me", "my mom is going to kill me"
    # (not "kill me some ...": a dialect's "for myself", as in "gonna kill me some of them")
    rf"(?P<word>{_KILL}) me\b(?! (?:some|a|an|one|a few|all|every|more|them|those|these|another)\b)",
    # doing something well, passing time: "she killed it on stage", "killing time", "dressed to kill"
    r"(?P<word>killed|killing|kills) it\b",
    rf"(?P<word>{_KILL}) (?:some )?time\b",
    rf"dressed to (?P<word>kill)\b{_NO_ONE}",
    rf"(?P<word>{_KILL}) two birds\b",
    # a thing, not a person: "I'm going to kill this exam", "kill the lights", "killed the process"
    rf"(?P<word>{_KILL}) (?:the|that|this|my|your|our|a|an|every) {_THINGS}\b",
    # sending a message: "shoot me an email", "I'll shoot you a text"
    rf"(?P<word>{_SHOOT}) (?:me|you|u|ya|him|her|us|them) (?:a|an)(?: quick)?"
    r" (?:e ?mail|mail|message|msg|text|txt|dm|pm|line|note|invite|link|reply|call)s?\b",
    # rising, aiming: "the song shot up the charts", "shoot for the stars", "shoot your shot"
    rf"(?P<word>{_SHOOT}) up the (?:charts|rankings|ranks|leaderboard|list|table)\b",
    rf"(?P<word>{_SHOOT}) for the (?:stars|moon)\b",
    rf"(?P<word>{_SHOOT}) (?:your|my|his|her|their|our) shot\b",
    # laughing, wanting: "I nearly died laughing", "this cake is to die for"
    r"(?P<word>die|dies|died|dying) (?:laughing|of laughter|of embarrassment)\b",
    # (not "you deserve to die for this", "ready to die for": only a thing that "is to die for")
    r"(?P<before>is|was|are|were|s|re|looks|look|sounds|tastes|smells) to (?P<word>die) for\b",
    # "burn some calories", "hang in there", "hang out with them"
    r"(?P<word>burn|burns|burned|burnt|burning) (?:off )?(?:some |more |a few |the |those |extra )?calories\b",
    r"(?P<word>hang|hanging|hangs) (?:in there|out)\b",
)
# One alternative per idiom, its groups numbered (a name may not repeat): w<i>, the violent word, is the last group
# of alternative i; b<i>, what comes before the idiom, is not part of it.
_IDIOM = re.compile(
    "|".join(
        rf"\b(?:{p.replace('(?P<word>', f'(?P<w{i}>').replace('(?P<before>', f'(?P<b{i}>')})"
        for i, p in enumerate(IDIOMS)
    )
)
# The violent words idioms hold: a text with none of them is not searched (almost every text).
WORDS: frozenset[str] = frozenset(
    word for pattern in IDIOMS for group in re.findall(r"\(\?P<word>([^)]*)\)", pattern) for word in group.split("|")
)


def find(words: Sequence[str]) -> list[tuple[int, int, int]]:
    """The idioms among normalised ``words``: ``(first, end, word)`` word indices of each (the idiom is
    ``words[first:end]``, its violent word ``words[word]``), in order, none overlapping.

    Tried only where an idiom can start, up to ``LEAD`` words before a violent word: a few attempts
    per text that has one, not a scan of every position."""
    if WORDS.isdisjoint(words):
        return []
    starts: list[int] = []
    at = 0
    for w in words:
        starts.append(at)
        at += len(w) + 1
    joined = " ".join(words)
    tries = sorted({j for i, w in enumerate(words) if w in WORDS for j in range(max(0, i - LEAD), i + 1)})
    found: list[tuple[int, int, int]] = []
    done = 0  # where the last idiom found ends: idioms do not overlap
    for j in tries:
        if starts[j] < done or (match := _IDIOM.match(joined, starts[j])) is None:
            continue
        group = str(match.lastgroup)  # "w<i>": the violent word of the alternative that matched
        before = "b" + group[1:]
        first = bisect_right(starts, match.end(before) + 1) - 1 if before in _IDIOM.groupindex else j
        found.append((first, bisect_right(starts, match.end() - 1), bisect_right(starts, match.start(group)) - 1))
        done = match.end()
    return found


def mark(words: Sequence[str]) -> list[str]:
    """``words`` with the violent word of each idiom read as ``idiom_<word>``."""
    marked = list(words)
    for _, _, word in find(words):
        marked[word] = MARK + marked[word]
    return marked
