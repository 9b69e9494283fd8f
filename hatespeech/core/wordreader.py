"""The normaliser of the languages other than English: words as written, nothing read into them.

The English reader (``hatespeech.core.reader``) folds letters to ASCII, reads disguised spellings
against an English vocabulary and splits glued words: in German that splits compounds, in Korean it
breaks every syllable into letters. ``WordReader`` only lower-cases (NFKC first: fullwidth letters are
letters), drops links, @mentions, the retweet marker, numbers and GermEval's ``|LBR|``, and cuts a
piece into its runs of letters (an emoji is a token of its own); with ``syllables`` each Hangul or CJK
character is a token of its own (Korean is not written with a space between every word: the model's word n-grams over
syllables are character n-grams).

It has the interface ``hatespeech.core.model.CompiledModel`` reads pieces with (``chunk``, ``words``,
``split``, ``counts``), so a model trained with it compiles like the English one.

>>> WordReader().normalise("RT @anna: Straßenbahn-Fahrer sind SUPER!! https://t.co/x 2018")
'straßenbahn fahrer sind super'
>>> WordReader(syllables=True).normalise("너 진짜 바보야 😡")
'너 진 짜 바 보 야 0x1f621'
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from hatespeech.core.text import Token

_NOISE = re.compile(r"(?:https?://|www\.)\S*|(?<!\w)@\w+|\|LBR\|", re.IGNORECASE)
_PIECE = re.compile(r"\S+")
_EMOJI = r"[\u2600-\u27bf\U0001f000-\U0001faff]"  # one token each, ``0x<code point>``: 😡 and 🤮 say something
_WORD = re.compile(_EMOJI + r"|[^\W\d_]+")  # runs of letters: numbers and underscores are not words
_CJK = r"\uac00-\ud7a3\u3400-\u9fff\uf900-\ufaff"  # Hangul syllables, CJK ideographs
_SYLLABLE = re.compile(rf"{_EMOJI}|[{_CJK}]|[^\W\d_{_CJK}]+")
_ALL_CJK = re.compile(rf"[{_CJK}]+").fullmatch


class WordReader:
    """Words of a text for the non-English models (see the module's docstring)."""

    def __init__(self, syllables: bool = False, chars: tuple[int, int] | None = None):
        self.counts: dict[str, int] = {}  # no vocabulary: nothing is read as a disguise (the compiled model asks)
        self.whole: frozenset[str] = frozenset()
        self.syllables = syllables
        self.chars = chars
        self._pattern = _SYLLABLE if syllables else _WORD

    def key(self) -> tuple[str, bool, tuple[int, int] | None]:
        return ("words", self.syllables, self.chars)

    def expand(self, word: str) -> list[str]:
        """``word``, then with ``chars`` its character n-grams, edges marked ``_``, each prefixed ``0`` (no
        word has a digit, so a gram never counts as a word): ``dumm`` → ``dumm 0_du 0dum 0umm 0mm_ …``."""
        if len(word) == 1 and not word.isalpha():  # an emoji (a run with numerals in it, "a〇b", is a word)
            return [f"0x{ord(word):x}"]
        if self.chars is None:
            return [word]
        low, high = self.chars
        marked = f"_{word}_"
        return [word] + ["0" + marked[i : i + n] for n in range(low, high + 1) for i in range(len(marked) - n + 1)]

    def letters(self, piece: str) -> list[str]:
        """The words of one whitespace-separated piece before ``expand``: ``chunk`` is their expansions, in order."""
        if piece.upper() == "RT":
            return []
        low = piece.lower()
        # The commonest piece, a word of letters alone: no link or mention in it, one run of letters, nothing for
        # NFKC to change (checked: "ﬁ" and "Ｄｕ" are letters too); with ``syllables``, Korean's, all syllables.
        if low.isalpha() and (piece.isascii() or unicodedata.is_normalized("NFKC", piece)):
            if not self.syllables or piece.isascii():
                return [low]
            if _ALL_CJK(low):
                return list(low)
        found: list[str] = self._pattern.findall(_NOISE.sub(" ", unicodedata.normalize("NFKC", piece)).lower())
        return found

    def chunk(self, piece: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The tokens of one whitespace-separated piece, and no markers."""
        return tuple(g for w in self.letters(piece) for g in self.expand(w)), ()

    def split(self, text: str) -> list[str]:
        return text.split()

    def words(self, text: str) -> list[str]:
        """Every token of ``text``, piece by piece."""
        return [w for piece in text.split() for w in self.chunk(piece)[0]]

    def normalise(self, text: str) -> str:
        """The text as the vectorizer sees it: its tokens joined by spaces."""
        return " ".join(self.words(text))

    def tokens_and_idioms(self, text: str) -> tuple[list[Token], list[Token]]:
        """Every token with its span in ``text`` (an explanation's offsets), and no idioms (they are English).
        A piece whose normal form changes its length (a ligature) gives each of its tokens the piece's span.

        >>> WordReader().tokens_and_idioms("Du Idiot!")[0]
        [Token(text='du', start=0, end=2), Token(text='idiot', start=3, end=8)]
        """
        found: list[Token] = []
        for m in _PIECE.finditer(text):
            piece = m.group()
            if piece.upper() == "RT":
                continue
            norm = _NOISE.sub(" ", unicodedata.normalize("NFKC", piece)).lower()
            exact = len(norm) == len(piece)
            for w in self._pattern.finditer(norm):
                start, end = (m.start() + w.start(), m.start() + w.end()) if exact else (m.start(), m.end())
                found += [Token(g, start, end) for g in self.expand(w.group())]
        return found, []

    def normalise_all(self, texts: Iterable[str]) -> list[str]:
        return [self.normalise(t) for t in texts]
