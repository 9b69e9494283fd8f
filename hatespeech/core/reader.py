"""The normaliser: a text's tokens as a person reads them, with the model's vocabulary.

``Reader`` applies the stateless rules of ``hatespeech.core.text`` piece by piece and, when it has
the model's vocabulary, reads what a person reads: masked, spaced or dotted spellings resolved to
the vocabulary word they fit, and two words glued together read as two unless the glued form is a
real word (docs/model.md, "What the normaliser reads"); the violent word of a known idiom ("I'd
kill for a coffee", "shoot me an email") is read as ``idiom_<word>``, which no feature counts as the
verb (``hatespeech.core.idioms``). ``PLAIN`` is the reader without a vocabulary, and ``tokens``,
``chunk``, ``words`` and ``normalise`` are its methods as functions.

>>> normalise("RT @user: Sooooo &amp; coool!!! https://t.co/x #Win 😀")
'soo cool win emo128512'
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import product
from typing import Any

from hatespeech.core import idioms
from hatespeech.core.text import (
    _PLAIN,
    _PUNCTUATION,
    _SPECIAL,
    _URL_OR_MENTION_ONLY,
    CACHED_CHARS,
    Token,
    _lexicon_cached,
    _lower_word,
    _word,
    fold,
    lexicon,
    maybe_spaced,
    scan,
)

# --- disguised words, resolved against the model's own vocabulary --------------------------------

MAX_DISGUISED = 32  # longer pieces are never read as a disguised word (no vocabulary word is that long)
MIN_COUNT = 5  # a word seen fewer times in training is not a reading anyone can count on
AHEAD = 4.0  # the reading chosen is seen at least this many times as often as the next one
MAX_MASKS = 3  # at most this many masked letters in a word
MAX_SPELLINGS = 1024  # spellings looked up one by one (two masks: 676); more go to the pattern search
MIN_MENTION = 3  # "bitch@user": a word of 3 letters or more, then a mention of at least 3 characters
_LEET_SLOT = {"0": "o", "1": "il", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g"}
_NO_LETTER = re.compile(r"[26]")  # digits that stand for no letter: a slot of one in ``_best`` spells no word
_ALPHABET = tuple("abcdefghijklmnopqrstuvwxyz")
_MASKS = frozenset("*@$!|+#%?_")  # a symbol standing for one letter: f*ck, b!tch, n@gger, $hit
_EDGE = "!\"#%'()+,-./:;<=>?[\\]^`{|}~"  # stripped around a word (as _PUNCTUATION)
_DISGUISE = re.compile(r"[a-z][a-z0-9*@$!|+#%?_]*+|[*@$!|+#%?_][a-z0-9*@$!|+#%?_]*+")  # whole-core shapes
_SPACED = re.compile(r"[a-z0-9*@$!|](?:[.\-][a-z0-9*@$!|]){2,}+")  # n.i.g.g.e.r, f-u-c-k, U.S.A.
_RUN = re.compile(r"(.)\1{2,}")
_SAME = re.compile(r"(.)\1*")
_V_FOR_U = re.compile(r"[^aeiouy]v[^aeiouy]")  # a v where a reader expects a vowel: pvssy, fvck
_NON_SPACE = re.compile(r"\S+")


class Reader:
    """The normaliser: tokens of a text as a person reads them, with their spans in the original.

    The stateless rules (``hatespeech.core.text``) plus, when it has the model's vocabulary (each normalised word of the
    training texts and how often it occurs there, from ``Reader.count_words``), the reading of
    disguised words: a masked, leetspeak, stretched, dotted, hyphenated or spaced spelling becomes the
    vocabulary word it fits that is clearly the most frequent in training, and stays as it is
    otherwise; two words glued together ("whitetrash", "bitchI") are read as two, unless the glued
    form is one of ``whole``: real words that would otherwise split ("cockpit", "Middlesex", chosen
    at training from a general English word list, ``hatespeech.training.words``). Without a
    vocabulary (``Reader()``) nothing is resolved.

    >>> reader = Reader({"bitch": 900, "batch": 12, "stupid": 400, "fuck": 2000})
    >>> reader.words("you b!tch, f u c k this, stuuupid")
    ['you', 'bitch', 'fuck', 'this', 'stupid']
    """

    def __init__(self, counts: dict[str, int] | None = None, whole: Iterable[str] = ()):
        self.counts: dict[str, int] = dict(counts or {})
        # (A word with a letter 3 times in a row is read as stretched, never as glued: not kept.)
        self.whole = frozenset(w for w in whole if not _RUN.search(w))
        # Words read as they are: seen often enough in training to count on, or real words. A word seen
        # less often may still be two glued words ("whitetrash", seen twice, is read as "white trash").
        # Each is its own normal form (counted words are normalised; no letter 3 times in a row).
        self._known = frozenset(w for w, n in self.counts.items() if n >= MIN_COUNT) | self.whole
        # Vocabulary words by length and first letter, one per line: a disguise's pattern searches only
        # the words it could be (a few hundred lines), so resolving costs microseconds, not the vocabulary.
        index: dict[tuple[int, str], list[str]] = {}
        for word in sorted(self.counts):
            index.setdefault((len(word), word[0]), []).append(word)
            index.setdefault((len(word), ""), []).append(word)
        self._index = {key: "\n" + "\n".join(found) + "\n" for key, found in index.items()}
        self._cache: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        # Every vocabulary word is letters (``count_words`` counts only those): a spelling with a digit that stands
        # for no letter ("w2x6", the commonest unseen piece with digits) then fits none, and ``_best`` is not run.
        self._letters_only = all(w.isalpha() for w in self.counts)
        self._key: frozenset[tuple[str, int] | str] | None = None
        # Every start of a word that may come first in a glued word (3 letters or more, seen
        # ``MIN_COUNT`` times): its first part is searched only while it is one of these, so most
        # unknown words cost a few set lookups.
        heads = (w for w, n in self.counts.items() if n >= MIN_COUNT and len(w) >= 3)
        self._starts = frozenset(w[:i] for w in heads for i in range(3, len(w) + 1))

    def key(self) -> frozenset[tuple[str, int] | str]:
        """The vocabulary as one hashable value: two readers with the same key read alike."""
        if self._key is None:
            self._key = frozenset([*self.counts.items(), *self.whole])
        return self._key

    @staticmethod
    def count_words(texts: Sequence[str]) -> dict[str, int]:
        """How often each alphabetic word of two letters or more occurs in ``texts`` read without a
        vocabulary (the counts ``Reader`` resolves against); words seen once are left out."""
        counts = Counter(w for text in texts for w in PLAIN.words(text) if len(w) > 1 and w.isalpha())
        return {w: n for w, n in sorted(counts.items()) if n > 1}

    # --- resolving ---------------------------------------------------------------------------------

    def resolve(self, core: str) -> str | None:
        """The vocabulary word a reader sees in ``core`` (folded, lower case), or ``None``."""
        if not self.counts or len(core) > MAX_DISGUISED or len(core) < 3 or core[0] == "@":
            return None  # "@name" is a mention
        if core.isalpha():
            if core in self._known:
                return None  # a known word
            if not (_RUN.search(core) or _V_FOR_U.search(core)):
                return self.glued(core)
        elif "'" in core:
            return None  # no disguise has an apostrophe (contractions, the commonest such piece)
        elif _SPACED.fullmatch(core):
            return self.spaced(core.replace(".", "").replace("-", ""))
        elif not _DISGUISE.fullmatch(core):
            return None  # digits first ("45s") or other symbols
        if sum(c.isalpha() for c in core) < 2 or (self._letters_only and _NO_LETTER.search(core)):
            return None
        return self._best(core)

    def spaced(self, letters: str) -> str | None:
        """The word spelt out letter by letter (``f u c k``, ``n.i.g.g.e.r``), or ``None``."""
        if len(letters) > MAX_DISGUISED:
            return None
        if self.counts.get(letters, 0) >= MIN_COUNT:
            return letters
        return self._best(letters) if letters.isalnum() and letters[0].isalpha() else None

    def glued(self, word: str) -> str | None:
        """Two words written as one, returned as "white trash": the first of 3 letters or more and seen
        ``MIN_COUNT`` times in training, the second seen in training or the word "i" or "a"
        ("bitchI"); of several splits, the one whose rarer half is the most frequent ("faggotson":
        "faggots on" over "faggot son": either way what a reader sees). ``resolve`` decides whether
        the word may be split at all (not a known word, not a ``whole`` one)."""
        get, starts = self.counts.get, self._starts
        best = at = 0
        for i in range(3, len(word)):
            head = word[:i]
            if head not in starts:
                break  # no head starts so: none longer either
            first = get(head, 0)
            if first < MIN_COUNT:
                continue
            tail = word[i:]
            score = first if tail in ("i", "a") else min(first, get(tail, 0))
            if score > best:
                best, at = score, i
        return f"{word[:at]} {word[at:]}" if best else None

    def read(self, raw: str) -> tuple[str, ...]:
        """The normalised words of one word as the token pattern matched it (``_word``), glued words
        split, and a mention glued to a word dropped ("bitch@user": "bitch")."""
        if not self.counts:
            return _word(raw)
        lower = raw.lower()
        if lower in self._known:  # the commonest: a word the model knows
            return (lower,)
        if raw.isalpha():
            # As ``resolve`` reads a whole piece: only a word written plainly may be two glued words
            # (not a stretched "eaterrrr", nor one with v for u: "pvssyhole").
            if 4 <= len(raw) <= MAX_DISGUISED and not (_RUN.search(lower) or _V_FOR_U.search(lower)):
                split = self.glued(lower)
                if split is not None:
                    return tuple(split.split(" "))
            return _word(raw)
        at = raw.find("@")  # not a disguise ("n@gger" is read before): a word, then a mention
        if at >= 3 and raw[:at].isalpha() and len(raw) - at > MIN_MENTION and raw[at + 1 :].replace("_", "a").isalnum():
            return self.read(raw[:at])
        return _word(raw)

    def spelt(self, letters: Sequence[str]) -> tuple[int, str, int] | None:
        """A word spelt out in ``letters`` (single characters): ``(i, word, j)`` for ``letters[i:j]``,
        or ``None``. A single letter at either end may be a word of its own ("you are a b i t c h")."""
        n = len(letters)
        for i, j in ((0, n), (1, n), (0, n - 1), (1, n - 1)):
            if j - i < 3:
                continue
            if (word := self.spaced(fold("".join(p.strip(_EDGE) for p in letters[i:j]))[0].lower())) is not None:
                return i, word, j
        return None

    def _best(self, core: str) -> str | None:
        """The vocabulary word ``core`` reads as, clearly the most frequent of those it fits, or ``None``.

        Each run of one character is a slot: a letter (``v`` may be ``u``), a stretched letter (3+:
        one or two of it), a leetspeak digit (its letters), a mask (any letter). Up to
        ``MAX_SPELLINGS`` spellings are looked up one by one (a pattern costs ~0.3 ms to compile);
        beyond, one pattern searches the words of the right lengths (and first letter)."""
        parts: list[str] = []
        options: list[tuple[str, ...]] = []
        masks = shortest = longest = 0
        for match in _SAME.finditer(core):  # runs of one character: linear
            char, n = match.group(1), len(match.group())
            shortest += n
            longest += n
            if char in _MASKS:
                masks += n
                parts.append("[a-z]" * n)
                options += [_ALPHABET] * n
            elif char.isdigit():
                letters = _LEET_SLOT.get(char, char)
                parts.append(f"[{letters}]" * n)
                options += [tuple(letters)] * n
            else:
                letter = "[vu]" if char == "v" else char
                spellings = ("v", "u") if char == "v" else (char,)
                if n >= 3:  # stretched: one or two
                    parts.append(f"{letter}{{1,2}}")
                    options.append(tuple(x * k for x in spellings for k in (1, 2)))
                    shortest, longest = shortest - n + 1, longest - n + 2
                else:
                    parts.append(letter * n)
                    options += [spellings] * n
        if masks > MAX_MASKS:
            return None
        if math.prod(map(len, options)) <= MAX_SPELLINGS:
            found = {w for w in map("".join, product(*options)) if w in self.counts}
        else:
            first = core[0] if core[0].isalpha() and core[0] != "v" else ""
            pattern = re.compile("^(?:" + "".join(parts) + ")$", re.MULTILINE)
            found = {w for n in range(shortest, longest + 1) for w in pattern.findall(self._index.get((n, first), ""))}
        fits = sorted(((self.counts[w], w) for w in found), reverse=True)
        if not fits or fits[0][0] < MIN_COUNT or (len(fits) > 1 and fits[0][0] < AHEAD * fits[1][0]):
            return None
        return fits[0][1]

    # --- pieces --------------------------------------------------------------------------------------

    def split(self, text: str) -> list[str]:
        """``text.split()``, except that a run of three or more single letters ("f u c k", "#n i g s!"),
        maybe with punctuation around each, is one piece, joined by single spaces: it may be one
        spaced-out word."""
        pieces = text.split()
        if not self.counts or not maybe_spaced(text):  # most texts have no such run
            return pieces
        out: list[str] = []
        run: list[str] = []
        for piece in [*pieces, ""]:
            if (len(piece) == 1 and piece.isalpha()) or (1 < len(piece) <= 3 and _single_letter(piece)):
                run.append(piece)
                continue
            if len(run) >= 3:
                out.append(" ".join(run))
            else:
                out += run
            run = []
            if piece:
                out.append(piece)
        return out

    def piece_tokens(self, raw: str, offset: int = 0) -> list[Token]:
        """The tokens of one piece (``split``'s), spans in it plus ``offset``, lexicon markers not included."""
        if " " in raw:  # single letters, maybe a spaced-out word
            letters = raw.split(" ")
            places = [offset]
            for letter in letters:
                places.append(places[-1] + len(letter) + 1)
            i, word, j = self.spelt(letters) or (len(letters), "", len(letters))
            found: list[Token] = []
            for k in range(i):
                found += self.piece_tokens(letters[k], places[k])
            if word:
                found.append(Token(word, places[i], places[j] - 1))
            for k in range(j, len(letters)):
                found += self.piece_tokens(letters[k], places[k])
            return found
        folded, origin = fold(raw)
        core = folded.strip(_EDGE)
        if core:
            resolved = self.resolve(core.lower())
            if resolved is not None:
                first = folded.index(core)
                start, end = _span(origin, first, first + len(core) - 1)
                return [Token(w, start + offset, end + offset) for w in resolved.split(" ")]
        return scan(folded, origin, offset, word=self.read)

    def chunk(self, raw: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The normalised words of one piece (``split``'s), and their lexicon markers.

        No token pattern matches across white space, and white space is a word boundary exactly as the
        start or end of the text is, so a text's tokens are its pieces' tokens in order (and pieces
        repeat across texts: worth caching). tests/core/test_text.py checks this against ``tokens``.
        """
        core = raw.strip(_PUNCTUATION)
        # The commonest piece: one plain word, maybe with punctuation (not before "://": "bitchhttp://"
        # is a word and a link).
        if core.isalnum() and core.isascii() and "://" not in raw:
            lower = core.lower()
            if lower in self._known:  # the commonest of all: a word the model knows, read as it is
                marker = lexicon(lower)
                return (lower,), ((marker,) if marker else ())
            if not self.counts or len(lower) < 3 or (word := self.resolve(lower)) is None:
                found = _lower_word(lower) if len(lower) <= CACHED_CHARS else _lower_word.__wrapped__(lower)
            else:
                found = tuple(word.split(" "))
        elif raw.isascii() and _URL_OR_MENTION_ONLY.match(raw):  # unique to almost every tweet: dropped whole
            # (ASCII only: the reader may turn other characters into white space, "HTTP://¨", which ends a URL)
            return (), ()
        elif (
            raw.isascii()
            and " " not in raw
            and not _SPECIAL.search(raw)
            and (not self.counts or self.resolve(core.lower()) is None)
        ):  # no URL, mention, entity or disguised word: words and ASCII punctuation ("don't", "a-ha")
            found = tuple(word for run in _PLAIN.findall(raw) for word in self.read(run))
        else:
            found = tuple(token.text for token in self.piece_tokens(raw))
        return found, tuple(
            m for word in found if (m := _lexicon_cached(word) if len(word) <= CACHED_CHARS else lexicon(word))
        )

    # --- texts ---------------------------------------------------------------------------------------

    def tokens(self, text: str) -> list[Token]:
        """The normalised tokens of ``text`` with their spans in the original, lexicon markers last.

        >>> [(t.text, t.start, t.end) for t in PLAIN.tokens("Hiii @bob &amp;amp; y0u")]
        [('hii', 0, 4), ('you', 20, 23)]
        """
        return self.tokens_and_idioms(text)[0]

    def tokens_and_idioms(self, text: str) -> tuple[list[Token], list[Token]]:
        """``tokens``, and the idioms whose violent word it read as ``idiom_<word>`` (``hatespeech.core.idioms``):
        each a ``Token`` of the idiom's words with its span in the original.

        >>> PLAIN.tokens_and_idioms("I'd kill for a coffee!")[1]
        [Token(text='kill for a coffee', start=4, end=21)]
        """
        found: list[Token] = []
        places = [(m.start(), m.end()) for m in _NON_SPACE.finditer(text)]
        at = 0
        for piece in self.split(text):
            n = piece.count(" ") + 1  # a run of single letters joined by ``split`` covers n places
            here = places[at : at + n]
            at += n
            parts = piece.split(" ")
            i, word, j = (n > 1 and self.spelt(parts)) or (n, "", n)
            for (start, _), part in zip(here[:i], parts[:i], strict=True):
                found += self.piece_tokens(part, start)
            if word:
                found.append(Token(word, here[i][0], here[j - 1][1]))
            for (start, _), part in zip(here[j:], parts[j:], strict=True):
                found += self.piece_tokens(part, start)
        phrases = []
        for first, end, verb in idioms.find([t.text for t in found]):
            found[verb] = found[verb]._replace(text=idioms.MARK + found[verb].text)
            start, stop = found[first].start, found[end - 1].end
            phrases.append(Token(text[start:stop], start, stop))
        markers = [Token(m, t.start, t.end) for t in found if (m := lexicon(t.text))]
        return found + markers, phrases

    def words(self, text: str) -> list[str]:
        """The normalised tokens of ``text``, lexicon markers last: what ``tokens`` gives, without spans."""
        found: list[str] = []
        markers: list[str] = []
        chunk = self._chunk
        for piece in self.split(text):
            piece_words, piece_markers = chunk(piece)
            found += piece_words
            if piece_markers:
                markers += piece_markers
        if not idioms.WORDS.isdisjoint(found):  # rare: a violent word, maybe in an idiom
            found = idioms.mark(found)
        return found + markers if markers else found

    def _chunk(self, piece: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        cache = self._cache
        entry = cache.get(piece)
        if entry is None:
            entry = self.chunk(piece)
            if len(piece) <= CACHED_CHARS:
                if len(cache) >= 1 << 15:
                    cache.clear()
                cache[piece] = entry
        return entry

    def normalise(self, text: str) -> str:
        """The text as the features see it: normalised tokens joined by single spaces."""
        return " ".join(self.words(text))

    def __getstate__(self) -> dict[str, object]:  # pickled with the pipeline: the counts, not the caches
        return {"counts": self.counts, "whole": sorted(self.whole)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        Reader.__init__(self, state["counts"], state.get("whole", ()))


def _single_letter(piece: str) -> bool:
    """A letter with punctuation around it ("#n", "t.", "s!")."""
    core = piece.strip(_PUNCTUATION)
    return len(core) == 1 and core.isalpha()


def _span(origin: list[int] | None, first: int, last: int) -> tuple[int, int]:
    """The span in the original piece of folded characters ``first``..``last`` (inclusive)."""
    return (first, last + 1) if origin is None else (origin[first], origin[last] + 1)


PLAIN = Reader()  # no vocabulary: the stateless rules only


def tokens(text: str) -> list[Token]:
    """``PLAIN.tokens``: the tokens of ``text`` without a vocabulary."""
    return PLAIN.tokens(text)


def chunk(raw: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``PLAIN.chunk``."""
    return PLAIN.chunk(raw)


def words(text: str) -> list[str]:
    """``PLAIN.words``."""
    return PLAIN.words(text)


def normalise(text: str) -> str:
    """``PLAIN.normalise``: the text as the features see it, without a vocabulary."""
    return PLAIN.normalise(text)
