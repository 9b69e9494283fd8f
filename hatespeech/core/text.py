"""Tweet-aware text normalisation, the stateless part: where a text's tokens are and what each becomes.

The normaliser (``hatespeech.core.reader.Reader``) applies these rules piece by piece, and with the
model's vocabulary reads disguised, spaced and glued words too; ``hatespeech.core.reader.normalise``
is the text as the features see it. It lives inside the pipeline
(``hatespeech.training.pipeline.Normaliser``), not in the caller, so that training and serving
cannot disagree. It is deterministic, and it works token by token: every normalised token comes
from one span of the original text, so an explanation can point at the characters a person wrote,
whatever normalisation did to them (``Token``).

What these rules do, and why (each step was measured on held-out folds, see bench/LOG-2026.md):

- URLs and @mentions are dropped: in this data a link mostly means a news tweet, and a model
  that learnt that would call an insult with a link less offensive (measured: dropping them
  costs 0.0006 macro-F1 and makes the scores exactly invariant to an added link or mention);
- HTML entities are decoded (the data is full of ``&amp;`` and ``&#128514;``), twice, since
  some are escaped twice;
- lower case; the retweet marker ``RT`` and the ``#`` of hashtags are dropped;
- slurs spelled to dodge filters are folded back: asterisks inside a word (``f*ck``), leetspeak
  inside a word (``n1gga``, ``$hit``), letters repeated 3+ times (``biiitch`` → ``biitch``);
- every other non-ASCII character (emoji, mostly) becomes its own token ``emo<code point>``;
- look-alike and decorated letters are folded to the Latin letter a reader sees (``fold``);
- a word in a small slur lexicon adds a marker token (``lexrace``, ``lexgay``, ``lexdis``),
  so that rare spellings of a slur share what the model learnt from the common ones (``lexicon``).

>>> [t.text for t in scan("RT @user: Sooooo &amp; coool!!! https://t.co/x #Win 😀")]
['soo', 'cool', 'win', 'emo128512']
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from importlib import resources
from typing import NamedTuple

TOKEN_PATTERN = r"(?u)\b\w+\b"  # how the vectorizer splits the normalised text: on the spaces we put

# One alternative per kind of token, tried in this order at each position of the original text.
_TOKENS = re.compile(
    # A bare domain starts only where a run of domain characters starts, and its labels are taken
    # possessively: each start is tried once and never backtracks (linear in the text's length).
    r"(?P<url>(?:https?://|www\.)\S+|(?<![a-z0-9.-])\b(?:[a-z0-9-]++\.)++(?:com|net|org|co|ly)/\S*)"
    r"|(?P<mention>(?<!\w)@\w+)"
    r"|(?P<entity>&(?:amp;)*(?:#\d{1,8};?|#[xX][0-9a-fA-F]{1,6};|[a-zA-Z][a-zA-Z0-9]{1,9};))"
    # A word stops where a link starts ("bitchhttp://t.co/x": a word, then a link), a bounded look ahead.
    r"|(?P<word>[A-Za-z0-9_$*@](?:(?!https?://)[A-Za-z0-9_$*@])*+)"
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
# A whole run with a letter in it, tried only where a run starts, possessively: linear.
_LEET_RUN = re.compile(r"(?<![a-z0-9@$*])[0-9@$*]*+[a-z][a-z0-9@$*]*+")
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


# --- reading what a person reads: one character at a time ------------------------------------------

# Look-alike letter → the Latin letter a reader sees (Unicode's confusables; built by
# hatespeech/training/confusables.py from a pinned package, read here with the standard library).
# Read as a package resource, not as a path beside this file: the core is also imported from a
# zip (score_archive.py --scheduler ships it to Dask workers that do not have the project).
CONFUSABLES: dict[str, str] = json.loads(resources.files(__package__).joinpath("confusables.json").read_text("utf-8"))
_DROPPED = frozenset({"Mn", "Me", "Cf"})  # combining marks (accents, enclosing) and format characters


@lru_cache(maxsize=1 << 14)  # keys are single characters: the cache is bounded in bytes too
def fold_char(char: str) -> str:
    """What a reader sees of one non-ASCII character, maybe several characters or none.

    Compatibility decomposition (NFKD: fullwidth and mathematical letters, ligatures, superscripts),
    then combining marks and format characters (zero-width space/joiner/non-joiner, soft hyphen,
    bidi controls, variation selectors) dropped, then each look-alike letter folded to Latin.

    >>> fold_char("é"), fold_char("Ｆ"), fold_char("𝐛"), fold_char("\\u200b"), fold_char("а")  # Cyrillic а
    ('e', 'F', 'b', '', 'a')
    """
    kept = (c for c in unicodedata.normalize("NFKD", char) if unicodedata.category(c) not in _DROPPED)
    return "".join(CONFUSABLES.get(c, c) for c in kept)


def fold(piece: str) -> tuple[str, list[int] | None]:
    """``piece`` as a reader sees it, and where each of its characters came from (``None``: the same place).

    ``origin[i]`` is the index in ``piece`` of the character that gave the folded character ``i``.
    """
    if piece.isascii():
        return piece, None
    parts = [char if char < "\x80" else fold_char(char) for char in piece]
    folded = "".join(parts)
    if len(folded) == len(piece) and all(len(part) == 1 for part in parts):
        return folded, None  # one character for one: the same places
    origin = [i for i, part in enumerate(parts) for _ in part]
    return folded, origin


# --- the stateless word rules (cached by word) --------------------------------------------------


def _leet(match: re.Match[str]) -> str:
    run = match.group()
    return run if run.isalpha() or run[0].isdigit() else run.translate(_LEET)


def _word(raw: str) -> tuple[str, ...]:
    word = raw.lower()
    return _lower_word(word) if len(word) <= CACHED_CHARS else _lower_word.__wrapped__(word)


# Only words and pieces of at most CACHED_CHARS characters are cached, so the caches hold at most
# (entries × CACHED_CHARS) characters, whatever people send: a long piece is rare and costs its
# length either way.
CACHED_CHARS = 64


@lru_cache(maxsize=1 << 16)  # words repeat across texts: five regex passes become one dict lookup
def _lower_word(word: str) -> tuple[str, ...]:
    if word == "rt":
        return ()
    if word.isalpha() and word.isascii():  # the commonest word: no asterisk, no leetspeak, one piece
        return (_REPEAT.sub(r"\1\1", word),)
    word = _LEET_RUN.sub(_leet, _ASTERISK.sub("", word))
    return tuple(_PIECES.findall(_REPEAT.sub(r"\1\1", word)))


def lexicon(word: str) -> str | None:
    """The slur lexicon's marker for a normalised word, if it is in the lexicon."""
    return _lexicon_cached(word) if len(word) <= CACHED_CHARS else _lexicon_cached.__wrapped__(word)


@lru_cache(maxsize=1 << 16)
def _lexicon_cached(word: str) -> str | None:
    for marker, pattern in _LEXICON:
        if pattern.fullmatch(word):
            return marker
    return None


def scan(
    text: str,
    origin: list[int] | None = None,
    offset: int = 0,
    span: tuple[int, int] | None = None,
    word: Callable[[str], tuple[str, ...]] = _word,
) -> list[Token]:
    """Tokens of ``text`` (already folded): the span of folded characters ``i`` is ``origin[i] + offset``
    (``origin`` ``None``: ``i + offset``); with ``span`` given, every token gets that span instead.
    ``word`` reads one word match (a Reader's reads glued words too)."""
    found: list[Token] = []
    for match in _TOKENS.finditer(text):
        kind = match.lastgroup
        if span is not None:
            start, end = span
        elif origin is None:
            start, end = match.start() + offset, match.end() + offset
        else:
            start, end = origin[match.start()] + offset, origin[match.end() - 1] + offset + 1
        if kind in ("url", "mention"):
            continue  # matched only so that their text is not read as words
        if kind == "entity":
            decoded = html.unescape(html.unescape(match.group()))
            if decoded != match.group():  # an unknown entity stays as it is, read as words
                found.extend(scan(fold(decoded)[0], span=(start, end), word=word))
                continue
            found.extend(Token(w, start, end) for w in word(match.group()))
        elif kind == "word":
            found.extend(Token(w, start, end) for w in word(match.group()))
        elif not match.group().isspace():
            found.append(Token(f"emo{ord(match.group().lower()[0])}", start, end))
    return found


# Three letters alone in a row, maybe with punctuation around each: what a run for ``Reader.split``
# needs (bounded or possessive quantifiers: linear).
LONE = r"[^\w\s]{0,2}[^\W\d_][^\w\s]{0,2}"
_MAYBE_SPACED = re.compile(rf"(?<!\S){LONE}\s++{LONE}\s++{LONE}(?!\S)")
_LONE_FIRST = re.compile(r"\s\S\s+\S\S?\S?\s").search  # a cheaper first look (0.8 µs; true for 1 text in 6)


def maybe_spaced(text: str) -> bool:
    """False: ``Reader.split(text)`` is ``text.split()`` (no run of three lone letters)."""
    return _LONE_FIRST(f" {text} ") is not None and _MAYBE_SPACED.search(text) is not None


def __getattr__(name: str) -> object:
    # A pickled pipeline names its Reader by the module that defined it when it was trained: the
    # committed models/pipeline-*.joblib says ``hatespeech.core.text.Reader``, and unpickling looks it
    # up here. Imported on demand, since hatespeech.core.reader imports this module.
    if name == "Reader":
        from hatespeech.core.reader import Reader

        return Reader
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def without_lookaheads(pattern: str) -> str:
    r"""``pattern`` with its negative lookaheads ``(?!…)`` removed (nested groups and all): the looser
    pattern the threat and identity-attack checks search first, since it matches wherever ``pattern`` does.

    >>> without_lookaheads(r"kill(?!\s+(?:a|an)\b)\s+you")
    'kill\\s+you'
    """
    while (start := pattern.find("(?!")) >= 0:
        depth, end = 0, start
        for end in range(start, len(pattern)):
            if pattern[end] == "(" and pattern[end - 1] != "\\":
                depth += 1
            elif pattern[end] == ")" and pattern[end - 1] != "\\":
                depth -= 1
                if depth == 0:
                    break
        pattern = pattern[:start] + pattern[end + 1 :]
    return pattern
