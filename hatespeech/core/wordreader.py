"""The normaliser of the languages other than English: words as written, nothing read into them.

The English reader (``hatespeech.core.reader``) folds letters to ASCII, reads disguised spellings
against an English vocabulary and splits glued words: in German that splits compounds, in Korean it
breaks every syllable into letters. ``WordReader`` only lower-cases (NFKC first: fullwidth letters are
letters), drops links, @mentions, the retweet marker, numbers and GermEval's ``|LBR|``, and cuts a
piece into its runs of letters (an emoji is a token of its own); with ``syllables`` each Hangul or CJK
character is a token of its own (Korean is not written with a space between every word: the model's word n-grams over
syllables are character n-grams).

With ``lexicon`` (a language code: ``lexicon_<code>.txt`` beside this module, ours), a word that matches one of the
lexicon's lines is followed by that line's marker token (``0lexinsult``), ``lexicon_weight`` times: a word never
seen in training still counts as what it is. A marker begins with ``0``, as character n-grams do, so it is never a
word.

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
from collections.abc import Callable, Iterable
from functools import lru_cache
from importlib import resources

from hatespeech.core.text import Token

_NOISE = re.compile(r"(?:https?://|www\.)\S*|(?<!\w)@\w+|\|LBR\|", re.IGNORECASE)
_PIECE = re.compile(r"\S+")
_EMOJI = r"[\u2600-\u27bf\U0001f000-\U0001faff]"  # one token each, ``0x<code point>``: 😡 and 🤮 say something
_WORD = re.compile(_EMOJI + r"|[^\W\d_]+")  # runs of letters: numbers and underscores are not words
_CJK = r"\uac00-\ud7a3\u3400-\u9fff\uf900-\ufaff"  # Hangul syllables, CJK ideographs
_SYLLABLE = re.compile(rf"{_EMOJI}|[{_CJK}]|[^\W\d_{_CJK}]+")
_ALL_CJK = re.compile(rf"[{_CJK}]+").fullmatch
# The lexicon's words are at most this long: a longer run of letters is no compound anyone writes, and the
# stems' search stays linear in the text (each word searched once, at most this many characters).
LEXICON_CHARS = 40
_ENDINGS = "(?:e|en|n|s|er|es|in|innen)?"  # what may follow an ``end`` stem: "asylantenpack", "drecksschweine"
_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


_Trie = dict[str, "_Trie"]  # letter → the stems' rest; "" where a stem ends


def _stems(stems: Iterable[str]) -> str:
    """The stems and their ä/ö/ü/ß-less spellings as one pattern, a trie (``idiot|idioten|idiotie`` as
    ``idiot(?:en|ie)?``): ``re`` tries an alternation's branches one by one at each letter, a trie's first letters once
    (German's lexicon, one search per new word: ~1.5 µs, not ~9). The same strings match.

    >>> _stems(["idiot", "idioten", "idiotie", "ärsche"])
    '(?:(?:aersche|idiot(?:(?:en|ie))?|ärsche))'
    """
    found = sorted({variant for stem in stems for variant in (stem, stem.translate(_FOLD))})
    root: _Trie = {}
    for stem in found:
        node = root
        for letter in stem:
            node = node.setdefault(letter, {})
        node[""] = {}  # a stem ends here

    def pattern(node: _Trie) -> str:
        branches = [re.escape(letter) + pattern(child) for letter, child in node.items() if letter]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return "(?:" + pattern(root) + ")"


def _pattern(kinds: dict[str, list[str]]) -> str:
    """One pattern for a lexicon line's stems by kind (``lexicon_de.txt`` says what each kind means)."""
    parts = [
        f"^{_stems(kinds['word'])}$" if "word" in kinds else "",
        f"^{_stems(kinds['start'])}" if "start" in kinds else "",
        f"{_stems(kinds['end'])}{_ENDINGS}$" if "end" in kinds else "",
        f"{_stems(kinds['tail'])}$" if "tail" in kinds else "",
        _stems(kinds["any"]) if "any" in kinds else "",
    ]
    return "|".join(p for p in parts if p)


@lru_cache(maxsize=8)
def _lines(text: str) -> dict[str, dict[str, list[str]]]:
    """The lexicon's lines: marker name → kind → stems, names in the file's order."""
    lines: dict[str, dict[str, list[str]]] = {}
    for line in text.splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        head, _, stems = line.partition(":")
        name, how = head.split()
        if how not in ("word", "start", "end", "tail", "any"):
            raise ValueError(f"lexicon line {name}: unknown kind {how!r}")
        if how != "word" and any(len(stem) < 3 for stem in stems.split()):
            raise ValueError(f"lexicon line {name}: a {how} stem shorter than 3 letters")
        lines.setdefault("0lex" + name, {}).setdefault(how, []).extend(stems.split())
    return lines


def read_lexicon(text: str) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """The lexicon's markers and their patterns (``lexicon_de.txt`` says how its lines read), in the file's order.

    >>> [(m, bool(p.search("sau"))) for m, p in read_lexicon("pig end: schwein\\nfool word: sau")]
    [('0lexpig', False), ('0lexfool', True)]
    >>> [bool(read_lexicon("pig end: schwein")[0][1].search(w)) for w in ["drecksschweine", "schweinerei"]]
    [True, False]
    """
    return tuple((name, re.compile(_pattern(kinds))) for name, kinds in _lines(text).items())


MARKED_WORDS = 1 << 14  # words whose markers are kept (``_lexicon``): about 2 MB


@lru_cache(maxsize=8)
def _lexicon(text: str, weight: int) -> Callable[[str], list[str]]:
    """The markers of a word (lower-cased) by the lexicon ``text``, in the file's order, each ``weight`` times; none
    for a word under 3 or over ``LEXICON_CHARS`` letters. Most words match no line: one search of every line's
    pattern at once says so; and a word's answer is kept (the commonest words come back in every post; the dict is
    emptied when it holds ``MARKED_WORDS``)."""
    lines = read_lexicon(text)
    merged: dict[str, list[str]] = {}  # every line's stems by kind: one trie per kind, not one per line and kind
    for kinds in _lines(text).values():
        for how, stems in kinds.items():
            merged.setdefault(how, []).extend(stems)
    search = re.compile(_pattern(merged)).search
    seen: dict[str, list[str]] = {}

    def markers(word: str) -> list[str]:
        found = seen.get(word)
        if found is None:
            if 3 <= len(word) <= LEXICON_CHARS and search(word):
                found = [m for m, p in lines if p.search(word)] * weight
            else:
                found = []
            if len(seen) >= MARKED_WORDS:
                seen.clear()
            seen[word] = found
        return found

    return markers


def lexicon_text(code: str) -> str:
    """The lexicon file of language ``code``, read through the package's resources (a Dask worker imports the
    package from a zip)."""
    return resources.files(__package__).joinpath(f"lexicon_{code}.txt").read_text("utf-8")


class WordReader:
    """Words of a text for the non-English models (see the module's docstring)."""

    # No lexicon: what a reader pickled before there were lexicons (in a pipeline's .joblib) reads with.
    lexicon: str | None = None
    lexicon_weight = 1
    lexicon_text = ""
    _match: Callable[[str], list[str]] | None = None

    def __init__(
        self,
        syllables: bool = False,
        chars: tuple[int, int] | None = None,
        lexicon: str | None = None,
        lexicon_weight: int = 1,
        text: str | None = None,
    ):
        """``text``: the lexicon's own text where it is not the package's file (a compiled model carries the one
        it was trained with)."""
        self.counts: dict[str, int] = {}  # no vocabulary: nothing is read as a disguise (the compiled model asks)
        self.whole: frozenset[str] = frozenset()
        self.syllables = syllables
        self.chars = chars
        self.lexicon = lexicon
        self.lexicon_weight = lexicon_weight
        self.lexicon_text = (text if text is not None else lexicon_text(lexicon)) if lexicon else ""
        self._match = _lexicon(self.lexicon_text, lexicon_weight) if lexicon else None
        self._pattern = _SYLLABLE if syllables else _WORD

    def key(self) -> tuple[str, bool, tuple[int, int] | None, str, int]:
        return ("words", self.syllables, self.chars, self.lexicon_text, self.lexicon_weight)

    def expand(self, word: str) -> list[str]:
        """``word``, then with ``chars`` its character n-grams, edges marked ``_``, each prefixed ``0`` (no
        word has a digit, so a gram never counts as a word): ``dumm`` → ``dumm 0_du 0dum 0umm 0mm_ …``.
        A marker (``0lexinsult``) is itself alone."""
        if word[0] == "0":  # a marker: no run of letters begins with a digit
            return [word]
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
        found: list[str] | None = None
        if low.isalpha() and (piece.isascii() or unicodedata.is_normalized("NFKC", piece)):
            if not self.syllables or piece.isascii():
                found = [low]
            elif _ALL_CJK(low):
                return list(low)
        if found is None:
            found = self._pattern.findall(_NOISE.sub(" ", unicodedata.normalize("NFKC", piece)).lower())
        match = self._match
        if match is None:
            return found
        if len(found) == 1:  # the commonest piece: one word, and most words are no lexicon's
            marked = match(found[0])
            return [found[0], *marked] if marked else found
        return [m for w in found for m in (w, *match(w))]  # each word followed by its markers

    def markers(self, word: str) -> list[str]:
        """The lexicon's markers of one word (``letters``'s), each ``lexicon_weight`` times (the SVC's
        regularisation gives one feature among 30,000 little weight: counted more, it costs less to use).

        >>> WordReader(lexicon="de", lexicon_weight=2).markers("drecksschweine")
        ['0lexvermin', '0lexvermin']
        """
        return self._match(word) if self._match is not None else []

    def __getstate__(self) -> dict[str, object]:
        """What a pickled reader (a pipeline's ``reader_``) keeps: its parameters, not its matcher."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update({k: v for k, v in state.items() if not k.startswith("_")})
        self._pattern = _SYLLABLE if self.syllables else _WORD
        self._match = _lexicon(self.lexicon_text, self.lexicon_weight) if self.lexicon else None

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
                found += [Token(g, start, end) for g in self.markers(w.group())]
        return found, []

    def normalise_all(self, texts: Iterable[str]) -> list[str]:
        return [self.normalise(t) for t in texts]
