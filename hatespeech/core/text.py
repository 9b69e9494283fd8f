"""Tweet-aware text normalisation: the first step of the persisted pipeline.

It lives inside the pipeline (``hatespeech.training.pipeline.Normaliser``), not in the caller, so that
training and serving cannot disagree.
It is stateless and deterministic, and it works token by token: every normalised token comes from
one span of the original text, so an explanation can point at the characters a person wrote,
whatever normalisation did to them (``tokens``).

What it does, and why (each step was measured on held-out folds, see bench/RESULTS.md):

- URLs and @mentions are dropped: in this data a link mostly means a news tweet, and a model
  that learnt that would call an insult with a link less offensive (measured: dropping them
  costs 0.0006 macro-F1 and makes the scores exactly invariant to an added link or mention);
- HTML entities are decoded (the data is full of ``&amp;`` and ``&#128514;``), twice, since
  some are escaped twice;
- lower case; the retweet marker ``RT`` and the ``#`` of hashtags are dropped;
- slurs spelled to dodge filters are folded back: asterisks inside a word (``f*ck``), leetspeak
  inside a word (``n1gga``, ``$hit``), letters repeated 3+ times (``biiitch`` → ``biitch``);
- every other non-ASCII character (emoji, mostly) becomes its own token ``emo<code point>``;
- a word in a small slur lexicon adds a marker token (``lexrace``, ``lexgay``, ``lexdis``),
  so that rare spellings of a slur share what the model learnt from the common ones.

>>> normalise("RT @user: Sooooo &amp; coool!!! https://t.co/x #Win 😀")
'soo cool win emo128512'
"""

from __future__ import annotations

import html
import re
from functools import lru_cache
from typing import NamedTuple

TOKEN_PATTERN = r"(?u)\b\w+\b"  # how the vectorizer splits the normalised text: on the spaces we put

# One alternative per kind of token, tried in this order at each position of the original text.
_TOKENS = re.compile(
    r"(?P<url>(?:https?://|www\.)\S+|\b[a-z0-9.-]+\.(?:com|net|org|co|ly)/\S*)"
    r"|(?P<mention>(?<!\w)@\w+)"
    r"|(?P<entity>&(?:amp;)*(?:#\d{1,8};?|#[xX][0-9a-fA-F]{1,6};|[a-zA-Z][a-zA-Z0-9]{1,9};))"
    r"|(?P<word>[A-Za-z0-9_$*@]+)"
    r"|(?P<symbol>[^\x00-\x7f])",
    re.IGNORECASE,
)
_SPECIAL = re.compile(r"[&@/]|www\.", re.IGNORECASE)  # what only a URL, a mention or an entity starts with
# A piece that is all URL (it runs to the piece's end), or a mention followed by punctuation that no
# token pattern reads (not $ * @ & _, which can be or start one): it gives no token at all.
_URL_OR_MENTION_ONLY = re.compile(r"(?:https?://|www\.)\S|@\w+[!\"#%'()+,\-./:;<=>?\[\\\]^`{|}~]*\Z", re.IGNORECASE)
# ASCII punctuation that no token pattern reads around a plain word (not $ * @ & _, which can be or
# start one): "(word)," gives what "word" gives. A URL needs letters after a dot inside the word.
_PUNCTUATION = "!\"#%'()+,-./:;<=>?[\\]^`{|}~"
_PLAIN = re.compile(r"[A-Za-z0-9_$*]+")  # the word alternative of _TOKENS on ASCII text without "@"
_ASTERISK = re.compile(r"(?<=\w)\*+(?=\w)")
_LEET_RUN = re.compile(r"[a-z0-9@$*]*[a-z][a-z0-9@$*]*")
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
_REPEAT = re.compile(r"(\w)\1{2,}")
_PIECES = re.compile(r"[a-z0-9]+")
_LEXICON = (  # a small, hand-made slur lexicon; the marker token is what the model sees
    (
        "lexrace",
        re.compile(
            r"nig+(?:er|ah|uh|ar|ur)s?|coons?|spicks?|spics?|beaners?|wetbacks?|chinks?|gooks?|kikes?|crackers?"
            r"|honk(?:y|ey|ies)|jigaboos?|ragheads?|towelheads?|darkies|darky|negro(?:es)?|zipperheads?"
            r"|sandniggers?|muzzies?|monkeys?|apes?|savages?"
        ),
    ),
    (
        "lexgay",
        re.compile(
            r"fag+(?:ot|it|et|s)?s?|fagg?ots?|dykes?|queers?|homos?|trann(?:y|ies)|lesbos?|fairies|sissy|sissies"
        ),
    ),
    ("lexdis", re.compile(r"retard(?:s|ed)?|tards?|mongoloids?|spaz")),
)


class Token(NamedTuple):
    """A normalised token and the span ``text[start:end]`` of the original it came from."""

    text: str
    start: int
    end: int


def _leet(match: re.Match[str]) -> str:
    run = match.group()
    return run if run.isalpha() or run[0].isdigit() else run.translate(_LEET)


def _word(raw: str) -> tuple[str, ...]:
    return _lower_word(raw.lower())


@lru_cache(maxsize=1 << 16)  # words repeat across texts: five regex passes become one dict lookup
def _lower_word(word: str) -> tuple[str, ...]:
    if word == "rt":
        return ()
    if word.isalpha() and word.isascii():  # the commonest word: no asterisk, no leetspeak, one piece
        return (_REPEAT.sub(r"\1\1", word),)
    word = _LEET_RUN.sub(_leet, _ASTERISK.sub("", word))
    return tuple(_PIECES.findall(_REPEAT.sub(r"\1\1", word)))


@lru_cache(maxsize=1 << 16)
def _lexicon(word: str) -> str | None:
    for marker, pattern in _LEXICON:
        if pattern.fullmatch(word):
            return marker
    return None


def _scan(text: str, start: int | None = None, end: int | None = None) -> list[Token]:
    """Tokens of ``text``; with ``start``/``end`` given, every token gets that span instead."""
    found: list[Token] = []
    for match in _TOKENS.finditer(text):
        kind = match.lastgroup
        span = (match.start(), match.end()) if start is None else (start, end)
        if kind in ("url", "mention"):
            continue  # matched only so that their text is not read as words
        if kind == "entity":
            decoded = html.unescape(html.unescape(match.group()))
            if decoded != match.group():  # an unknown entity stays as it is, read as words
                found.extend(_scan(decoded, *span))
                continue
            found.extend(Token(w, *span) for w in _word(match.group()))
        elif kind == "word":
            found.extend(Token(w, *span) for w in _word(match.group()))
        elif not match.group().isspace():
            found.append(Token(f"emo{ord(match.group().lower()[0])}", *span))
    return found


def tokens(text: str) -> list[Token]:
    """The normalised tokens of ``text`` with their spans in the original, lexicon markers last.

    >>> [(t.text, t.start, t.end) for t in tokens("Hiii @bob &amp;amp; y0u")]
    [('hii', 0, 4), ('you', 20, 23)]
    """
    found = _scan(text)
    markers = [Token(m, t.start, t.end) for t in found if (m := _lexicon(t.text))]
    return found + markers


def chunk(raw: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The normalised words of one whitespace-free piece of text, and their lexicon markers.

    No token pattern matches across white space, and white space is a word boundary exactly as the
    start or end of the text is, so a text's tokens are its pieces' tokens in order (and pieces
    repeat across texts: worth caching). tests/test_text.py checks this against ``tokens`` on every row of the data.
    """
    core = raw.strip(_PUNCTUATION)
    if core.isalnum() and core.isascii():  # the commonest piece: one plain word, maybe with punctuation
        found = _word(core)
    elif _URL_OR_MENTION_ONLY.match(raw):  # unique to almost every tweet, and dropped whole
        return (), ()
    elif raw.isascii() and not _SPECIAL.search(raw):  # no URL, mention or entity: words and ASCII punctuation
        found = tuple(word for run in _PLAIN.findall(raw) for word in _word(run))
    else:
        found = tuple(token.text for token in _scan(raw))
    return found, tuple(m for word in found if (m := _lexicon(word)))


_chunk = lru_cache(maxsize=1 << 15)(chunk)  # for ``words``; the served model caches its own per-piece work


def words(text: str) -> list[str]:
    """The normalised tokens of ``text``, lexicon markers last: what ``tokens`` gives, without spans."""
    found: list[str] = []
    markers: list[str] = []
    for piece in text.split():  # str.split's white space is exactly the regex's \s
        piece_words, piece_markers = _chunk(piece)
        found += piece_words
        if piece_markers:
            markers += piece_markers
    return found + markers if markers else found


def normalise(text: str) -> str:
    """The text as the features see it: normalised tokens joined by single spaces."""
    return " ".join(words(text))
