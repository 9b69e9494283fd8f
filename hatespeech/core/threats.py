"""The threat check: explainable patterns for a threat of violence against a person or a group.

A threat here is intent (first person, a wish, or a call on others) + a violent act + a person or
group as its target: "I'll kill you", "we should hang them all", "someone should put a bullet in
his head", "they should all be shot", "hope you die", "death to all of them". Idioms whose verb is
violent but whose object is not a person are not threats: "this joke killed me" (no intent),
"I'd kill for a coffee" (the object is "for a coffee"), "I'm going to kill this exam", "shoot me an
email", "the game shot up the charts", "hang out with them", "beat you at chess".

It reads the text as the model reads it (``hatespeech.core.reader.Reader.tokens``: folded, disguises
resolved, the violent word of a known idiom read as no verb: ``hatespeech.core.idioms``, the one list
the model's reading uses too), so ``k!ll y0u`` is read as "kill you", and reports the span of the
original text that matched. Every pattern has bounded gaps and no nested quantifier: linear in the text's length.
Measured on tests/data/threats.tsv (threats and near-misses written for it): see bench/RESULTS.md.

>>> from hatespeech.core.reader import PLAIN
>>> check(PLAIN, "ok. I'm going to hurt you, seriously")
{'start': 4, 'end': 25, 'text': "I'm going to hurt you"}
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from typing import Any, cast

from hatespeech.core.policy import ACTION_RANK, REVIEW, Moderation, ThreatReason, is_flagged
from hatespeech.core.text import without_lookaheads

_VERBS = (  # violent acts done to someone, each with the forms the tokens may show
    "kill|kills|killed|killing|murder|murders|murdered|shoot|shoots|shot|shooting|stab|stabs|stabbed|stabbing"
    "|hang|hangs|hanged|hung|hanging|lynch|lynched|hurt|hurts|hurting|rape|rapes|raped|burn|burned|burnt|bomb"
    "|bombed|slaughter|slaughtered|exterminate|exterminated|gas|gassed|behead|beheaded|strangle|strangled|choke"
    "|choked|execute|executed|butcher|butchered|torture|tortured|drown|drowned|shank|shanked|punch|punched"
    "|stone|stoned|cut|slit|knife|knifed|massacre|massacred|lynching|bash|bashed|smash|smashed|murk|murked"
    "|beaten|slap|slapped"
)
_ACT = f"(?:{_VERBS})"
_GROUPS = (  # people as a group
    "muslims|jews|blacks|whites|gays|immigrants|mexicans|christians|arabs|asians|women|men|cops|niggers|niggas"
    "|faggots|fags|queers|refugees|liberals|conservatives|people|kids|everyone|everybody|traitors|lexrace|lexgay"
)
_PERSON = (  # who it is done to: a person, people, or a group of people
    r"(?:you|u|ya|yall|y\s+all|him|her|them|em|(?:ur|your|his|her|their|my)\s+(?:whole\s+)?(?:family|kids|children"
    r"|mom|mum|mother|dad|father|wife|husband|son|daughter|sister|brother|friends?|boyfriend|girlfriend|baby|boss"
    r"|ex|teacher|neighbou?rs?|people)|every\s+(?:one|last\s+one|\w+)"
    r"|(?:all|some|each|every\s+one|one|every\s+last\s+one)\s+of\s+(?:you|them|em|those\s+\w+|these\s+\w+)"
    r"|these\s+\w+|those\s+\w+|(?:that|this)\s+(?:guy|man|woman|girl|boy|bitch|nigga|fag|\w+er)"
    r"|anyone|anybody|somebody|someone|(?:all\s+)?(?:the\s+)?(?:" + _GROUPS + r"))"
)
_SUBJECT = (  # who should suffer it, in a wish or a call ("they should all be shot")
    r"(?:they|he|she|you|u|them|all\s+of\s+them|these\s+\w+|those\s+\w+|every\s+\w+|(?:all\s+)?(?:the\s+)?(?:"
    + _GROUPS
    + r")|you\s+and\s+your\s+\w+|your\s+\w+|his\s+\w+|their\s+\w+)"
)
_NOT_A_THING_AFTER = r"(?!\s+(?:a|an|some)\b)"  # "shoot you an email", "cut you some slack"
_I = r"(?:i|we|i\s+m|im|we\s+re)(?:\s+(?:really|just|literally|actually|definitely|seriously|totally))?"
_WILL = (  # intent: future, decision, wish
    r"(?:ll|will|gonna|going\s+to|gon|finna|want\s+to|wanna|am\s+going\s+to|are\s+going\s+to|shall|m\s+gonna"
    r"|am\s+gonna|are\s+gonna"
    r"|m\s+going\s+to|re\s+going\s+to|re\s+gonna|would\s+love\s+to|should|need\s+to|have\s+to|must|got\s+to"
    r"|would|d"  # a condition is still intent: "I'd kill you", "I would hurt you if ..."
    r"|(?:m|am|re|are)\s+(?!not\b|never\b)\w+\s+to"  # "I'm about to", "we're here to", "I'm dressed to"
    r")"
)
_INTENT = r"(?:" + _I + r"\s+" + _WILL + r"|ill|ima|imma|i\s+ma|swear\s+(?:to\s+god\s+)?(?:i|we)\s+(?:ll|will))"
_GAP = r"(?:\s+\w+){0,6}?"  # a few words between intent and act ("I'll come over there and hurt you")
_HARM = (  # violent acts named by a phrase
    r"(?:beat\s+" + _PERSON + r"\s+(?:up|to\s+death|to\s+a\s+pulp|senseless)|beat\s+(?:your|ur|his|her|their)\s+ass"
    r"|(?:beat|slap|kick|knock|choke|punch)\s+the\s+(?:shit|crap|hell|life)\s+out\s+of\s+"
    + _PERSON
    + r"|break\s+every\s+bone\s+in\s+(?:your|his|her|their|ur)|end\s+(?:your|his|her|their|ur)\s+life"
    r"|put\s+(?:you|him|her|them|u)\s+in\s+(?:the|a)\s+(?:ground|grave|hospital|coffin|body\s+bag)"
    r"|(?:punch|smash|bash|kick|cave)\s+(?:your|his|her|their|ur)\s+(?:face|head|teeth)\s+in"
    + r"|(?:break|smash|bash|cave|kick)\s+(?:your|his|her|their|ur)\s+(?:neck|legs|face|jaw|skull|bones|head|teeth)"
    r"|knock\s+(?:your|his|her|their|ur)\s+teeth|put\s+a\s+bullet\s+(?:in|through)\s+(?:your|his|her|their|ur|ya)"
    r"|(?:slit|cut)\s+(?:your|his|her|their|ur)\s+throat|run\s+(?:you|him|her|them)\s+over|end\s+(?:you|him|her|them)\b"
    r"|make\s+(?:you|him|her|them)\s+(?:bleed|suffer)|(?:hunt|gun|mow)\s+(?:you|him|her|them|em)\s+down"
    r"|wipe\s+(?:you|them|em)\s+out|burn\s+(?:your|his|her|their|ur)\s+(?:house|home|car)\s+down|blow\s+up\s+(?:your|his|her|their|ur)\s+\w+"
    r"|(?:shoot|blow|burn)\s+(?:up|down)\s+(?:the|that|this|your|their|a)\s+(?:school|office|mosque|synagogue|church"
    r"|temple|place|house|building|clinic|party)|get\s+(?:you|him|her|them)\s*(?:\||$)"
    r"|see\s+(?:you|him|her|them)\s+(?:all\s+)?(?:dead|hang|hanged|die|burn))"
)
# The first three patterns: who means or calls for it, then a violent act done to someone or a phrase of ``_HARM``.
_CALLS = [  # (who, the act done to someone)
    # I'll / we're going to / I want to ... kill you; I swear I'll beat you up
    (_INTENT + _GAP + r"\s+", _ACT + r"(?:\s+\w+)?\s+" + _PERSON + r"\b" + _NOT_A_THING_AFTER),
    # let's kill them all, time to kill some of them, bomb the mosque
    (r"(?:let\s+s|lets|let\s+us|time\s+to)\s+(?:go\s+)?", _ACT + r"\s+" + _PERSON),
    # someone should shoot him, somebody should shoot the president, i hope someone kills you
    (
        r"(?:someone|somebody|anyone|anybody|people)(?:\s+(?:should|needs?\s+to|gotta|has\s+to|ought\s+to|oughta"
        r"|must|will|would|ll|d))?(?:\s+\w+){0,2}?\s+",
        _ACT + r"\s+(?:" + _PERSON + r"|the\s+\w+)\b" + _NOT_A_THING_AFTER,
    ),
]
_PATTERNS = [
    *(who + r"(?:" + act + r"|" + _HARM + r")" for who, act in _CALLS),
    # they should all be shot, they are vermin and should be exterminated, he deserves a bullet
    _SUBJECT + r"(?:\s+\w+){0,3}?\s+(?:should|need\s+to|needs\s+to|deserve\s+to|deserves\s+to|ought\s+to|must"
    r"|have\s+to|has\s+to|will|are\s+going\s+to|is\s+going\s+to|gonna)(?:\s+all)?\s+(?:(?:be|get|all\s+be)\s+"
    r"(?:\w+\s+(?:or|and)\s+)?(?:" + _ACT + r"|put\s+down)\b|die\b|(?:hang|burn|rot)\b(?!\s+(?:out|up|on|in|around"
    r"|the|a|that|this|it|with|some|my|your|our)\b))",
    _SUBJECT + r"\s+(?:deserve|deserves|need|needs)\s+a\s+bullet",
    # hope you die, i wish you would die, hope you get shot
    r"(?:hope|wish|pray)\s+(?:that\s+)?"
    + _SUBJECT
    + r"(?:\s+(?:would|will|all|just|both))?\s+(?:die|dies|get\s+"
    + _ACT
    + r"|gets\s+"
    + _ACT
    + r"|gets?\s+hit\s+by\s+a\s+(?:bus|car|train|truck)|burn|rot)\b(?!\s+laughing)",
    # I'm coming to your house with a knife, bringing a gun to school
    _I + r"\s+(?:\w+\s+)?(?:coming|bringing|bring|come|got)\s+(?:\w+\s+){0,4}?(?:a|my)\s+(?:gun|knife|rifle|shotgun"
    r"|machete|bomb|ak)\b",
    r"(?:you|u|ya)\s+(?:re|are|r)\s+(?:going\s+to|gonna)\s+die\b|(?:you|u)\s+(?:re|are|r)\s+dead\s+meat\b",
    r"\bdie\s+in\s+a\s+(?:fire|hole|ditch)\b",
    r"\bi\s+want\s+(?:you|him|her|them|em|" + _PERSON + r")\s+dead\b",
    r"\bwatch\s+your\s+back\b|\byour\s+days\s+are\s+numbered\b",
    # death to all of them, kill all muslims, line them up and shoot them, kill yourself
    r"\bdeath\s+to\s+(?:all\s+)?" + _PERSON + r"\b",
    r"(?:^|\|\s+)(?:\w+\s+){0,2}?(?:kill|shoot|hang|gas|exterminate|lynch|burn|bomb)\s+(?:(?:all|every)\s+(?:the\s+)?\w+"
    r"|them|em|him|her)\b",
    r"(?:^|\|\s+)(?:bomb|burn\s+down|blow\s+up|shoot\s+up|attack)\s+(?:the|that|this|a)\s+(?:mosque|synagogue|church"
    r"|temple|school|clinic)",
    r"(?:line|round)\s+(?:them|em|\w+)\s+up\s+and\s+(?:" + _ACT + r"|gas)",
    r"\b(?:go\s+)?(?:kill|hang|shoot|drown)\s+(?:yourself|urself|yourselves|ur\s+self|your\s+self)\b|\bkys\b",
    r"\b(?:i|we)\s+know\s+where\s+(?:you|u|ya|your\s+\w+)\s+(?:live|lives|sleep|work)\b",
]
# Each pattern starts at a word's start (or a clause's, after "|").
_THREAT = re.compile("|".join(f"(?:{p})" if p.startswith("(?:^|") else f"(?:\\b{p})" for p in _PATTERNS))
_MARKERS = frozenset({"lexrace", "lexgay", "lexdis"})


def _loosened(pattern: str) -> str:
    """``pattern`` without its clause marks and negative lookaheads: it matches the text's words joined without
    clause marks wherever the pattern matches them joined with (and in more places). Cheaper to get than spans."""
    pattern = pattern.replace(r"(?:^|\|\s+)", r"\b").replace(r"\s*(?:\||$)", "")
    return without_lookaheads(pattern)


# Every loosened pattern starts at a word's start: one \b before the alternatives, not one in each, makes the
# search a third cheaper (the engine tries the alternatives only where a word starts). The three ``_CALLS``
# are one pattern in it, any "who" before any act (each act without what follows its person): it matches
# wherever one of them does, and holds ``_HARM`` and the acts' ``_PERSON`` once, not three times each: a regex ~40%
# shorter, compiled at every start (tests/core/test_threats.py checks it is looser, on every post we have).
_LOOSE_CALL = (
    r"(?:"
    + "|".join(who for who, _ in _CALLS)
    + r")(?:"
    + _ACT
    + r"(?:\s+\w+)?\s+(?:"
    + _PERSON
    + r"|the\s+\w+)|"
    + _HARM
    + r")"
)
_LOOSE = re.compile(r"\b(?:" + "|".join(_loosened(p) for p in [_LOOSE_CALL, *_PATTERNS[len(_CALLS) :]]) + ")")
# Every pattern needs one of these words: a text without any is not searched (most texts).
_TRIGGER_WORDS = (
    "die dies dead death bullet beat break kick knock run end make hunt gun mow wipe blow get see put watch days"
    " know kys yourself urself yourselves self gun knife rifle shotgun machete bomb ak attack hit rot"
)
_TRIGGERS = frozenset(_VERBS.split("|")) | frozenset(_TRIGGER_WORDS.split())
# ``check``'s gate: a trigger word from this table starts a threat only beside one of its companions (read off the
# patterns that have it); "see", "self", "yourself", "urself" and "yourselves" need a violent verb in every pattern
# that has them, a trigger of its own. A text passing the gate is then searched in full: the gate only skips texts
# that no pattern can match (tests/core/test_threats.py compares it with searching every text).
_COMPANIONS = {
    "get": "you him her them",  # "I'll get you"; "get shot" has its own trigger
    "know": "where",  # "I know where you live"
    "make": "bleed suffer",  # "make you bleed"
    "put": "ground grave hospital coffin bag down",  # "put you in the ground", "be put down" ("put a bullet": bullet)
    "run": "over",  # "run you over"
    "end": "you him her them life",  # "end you", "end your life"
    "watch": "back",  # "watch your back"
    "days": "numbered",  # "your days are numbered"
    "hit": "by",  # "get hit by a bus"
    "beat": "up death pulp senseless ass out",  # "beat you up", "beat your ass", "beat the shit out of"
    "break": "bone bones neck legs face jaw skull head teeth",  # "break every bone in", "break your neck"
    "kick": "out neck legs face jaw skull bones head teeth",  # "kick the shit out of", "kick your face in"
    "knock": "out teeth",  # "knock the hell out of", "knock your teeth"
    "blow": "up down",  # "blow up your car", "blow up the school"
    "hunt": "down",  # "hunt them down"
    "mow": "down",
    "wipe": "out",  # "wipe them out"
    "attack": "mosque synagogue church temple school clinic",  # "attack the mosque"
    "death": "to",  # "death to them all", "beat him to death"
    "dead": "meat want see",  # "you're dead meat", "I want you dead", "see you dead"
    "see": "",  # "see you dead" / hang / die / burn
    "self": "",
    "urself": "",
    "yourself": "",
    "yourselves": "",
}
_NEEDS = {word: frozenset(companions.split()) for word, companions in _COMPANIONS.items()}
_GATE_WORDS = _TRIGGERS | frozenset().union(*_NEEDS.values())
_NONE: frozenset[str] = frozenset()
_CLAUSE = re.compile(r"[.,!?;:]")  # punctuation between two words: a threat does not run across it


_SHARED: dict[frozenset[str], frozenset[str]] = {}  # one object per set of gate words ("you", "You!", "YOU" share)


def gate_words(words: Iterable[str]) -> frozenset[str]:
    """The words among ``words`` (a piece's or a text's, as ``Reader.words`` reads them) that the gate looks at:
    one shared set per distinct value (the compiled model keeps one per piece: shared, they cost a pointer)."""
    found = _GATE_WORDS.intersection(words)
    if not found:
        return _NONE
    if len(_SHARED) < 1 << 12:  # a few hundred in practice (a piece has a word or three); bounded whatever comes
        return _SHARED.setdefault(found, found)
    return _SHARED.get(found, found)


def may_threaten(found: AbstractSet[str]) -> bool:
    """The gate, from a text's ``gate_words``: whether any pattern could match (a trigger word, with its companion
    if it needs one). ``False`` for most texts, which are then not searched at all."""
    return any(word not in _NEEDS or not _NEEDS[word].isdisjoint(found) for word in _TRIGGERS.intersection(found))


def find(tokens: Sequence[Any], text: str) -> dict[str, Any] | None:
    """The first threat among ``tokens`` of ``text`` (``Token``s from ``Reader.tokens``):
    ``{"start", "end", "text"}`` with offsets into ``text``, or ``None``."""
    words = [t for t in tokens if t.text not in _MARKERS]
    if _TRIGGERS.isdisjoint(t.text for t in words):
        return None
    parts: list[str] = []
    starts: list[int] = []
    at = 0
    for i, t in enumerate(words):
        if i and _CLAUSE.search(text, words[i - 1].end, t.start):
            parts.append("|")
            at += 2
        parts.append(t.text)
        starts.append(at)
        at += len(t.text) + 1
    match = _THREAT.search(" ".join(parts))
    if match is None:
        return None
    first = bisect_right(starts, match.start()) - 1
    first = max(first, 0) if match.start() <= starts[max(first, 0)] else first + 1
    last = max(first, bisect_left(starts, match.end()) - 1)
    start, end = words[first].start, words[last].end
    return {"start": start, "end": end, "text": text[start:end]}


def check(reader: Any, text: str) -> dict[str, Any] | None:
    """The threat in ``text`` as ``reader`` (the model's ``Reader``) reads it, or ``None``."""
    words = reader.words(text)
    if not may_threaten(gate_words(words)):  # most texts: no spans pass, no search
        return None
    return _search(reader, text, words)


def _search(reader: Any, text: str, words: list[str]) -> dict[str, Any] | None:
    """``find`` for a text that passed the gate: first its words (``words``) searched without spans, loosely
    (``_LOOSE`` matches wherever ``_THREAT`` could); the spans pass only if that finds something."""
    if _LOOSE.search(" ".join(w for w in words if w not in _MARKERS)) is None:
        return None
    return find(reader.tokens(text), text)


def check_scored(model: Any, text: str, words: AbstractSet[str] | None = None) -> dict[str, Any] | None:
    """``check`` with the compiled model's reader, its gate read from the model's per-piece cache: right after
    scoring ``text`` (as ``/moderate`` and the archive scorer do), a text that is not searched costs a few
    dictionary lookups, not a second reading. ``words``: the text's ``threat_words`` if the scoring pass gave
    them (``CompiledModel.predict_proba(texts, threat_words=[])``)."""
    if not may_threaten(model.threat_words(text) if words is None else words):
        return None
    return _search(model.reader, text, model.words(text))


def check_many(model: Any, texts: Sequence[str], words: Sequence[AbstractSet[str]]) -> list[dict[str, Any] | None]:
    """``check_scored`` for each of ``texts``, with the gate words ``predict_proba(texts, words)`` collected."""
    return [check_scored(model, text, found) if found else None for text, found in zip(texts, words, strict=True)]


LEAST_ACTION = REVIEW  # a threat goes to a person, whatever the model's scores say


def raise_action(action: str, found: dict[str, Any] | None) -> str:
    """The decision rule's ``action`` once the threat check has spoken: at least ``review`` on a threat.

    The one place the two combine: ``/moderate`` (``apply``) and the archive scorer both call it.
    """
    if found is None:
        return action
    return max(action, LEAST_ACTION, key=ACTION_RANK.__getitem__)


def apply(answer: Moderation, found: dict[str, Any] | None) -> Moderation:
    """Add the threat check's verdict to a ``/moderate`` answer: ``categories["threat"]``, the matched
    span as ``threat`` and as the last of its ``reasons``, and the action raised by ``raise_action``."""
    answer["categories"]["threat"] = found is not None
    if found is not None:
        answer["threat"] = found
        reason = cast(ThreatReason, {"category": "threat", **found})  # found holds start, end and text
        answer["reasons"] = [*answer.get("reasons", ()), reason]  # review: after every class's, block or review
        answer["action"] = raise_action(answer["action"], found)
        answer["flagged"] = is_flagged(answer["action"])
    return answer
