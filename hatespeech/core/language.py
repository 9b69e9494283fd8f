"""Which language a post is in, and which language's model must judge it.

>>> identify("Du bist der dümmste Mensch in diesem Forum.").judged_as
'de'
>>> identify("lol ok").judged_as
'en'

The identifier is py3langid's (naive Bayes over byte n-grams), restricted to the 44 ``CANDIDATES``:
its model ships in this package (``language_model.npz``, written from the library by
hatespeech/training/language_model.py; nothing is downloaded) and is read here with NumPy alone, with
the library's answers to the bit (``_NaiveBayes``): about 0.15 ms a text, loaded at the first text
that needs it (about 0.15 s, 29 MB). Choosing it, and what else was measured: bench/languages.py.

Identification must never open a way around the English model, so every doubt falls to English
(``judged_as == "en"``), whatever ``code`` says:

- a post with fewer than ``MIN_LETTERS`` letters once links, mentions, numbers and emoji are gone
  (``reason="short"``): the library cannot tell three words apart, so it is ``und``; unless its words name
  it: two of one language's commonest words (``_MARKERS``: ``vc é um lixo``), or one that the library
  backs as below (at least ``MARKED_CONFIDENCE``, English under ``MIXED_SHARE``). That language judges it,
  with English in ``also``: the English model judges it too, and the worst action wins;
- disguised text: fullwidth or other compatibility letters (``ｈｅｌｌｏ``; not an ordinal indicator after a
  number, ``13ª``), words spaced out letter by letter (``reason="disguised"``): a post written to dodge a
  filter is read by the model that knows the dodges;
- Latin-script text the library places with less than ``LATIN_CONFIDENCE`` (``reason="unsure"``):
  English tweets full of slang are often placed in some small language at 0.5. Unless the library gives
  English less than ``MIXED_SHARE`` and the post has more of one language's commonest words
  (``_MARKERS``; kkkk and mdr count) than of any other's, two of them or one that the library gives at
  least ``MARKED_CONFIDENCE``: that language, ``reason="identified"``, with English in ``also`` (the
  English model judges it too: the library was unsure). Short
  Brazilian and French tweets full of slang are spread by the library over its 44 languages, seldom
  reaching 0.4 for any (bench/languages.py, 2,000 posts each: ToLD-Br 93.0% → 96.9%, MLMA French
  95.0% → 96.7%, Davidson and HateXplain still 99.9% English);
- text in another script that the library places with less than ``OTHER_CONFIDENCE`` (``code`` is
  ``"und"``).

The common case costs about two microseconds: an ASCII post with none of the commonest words of the
other Latin-script languages (``und``, ``que``, ``não`` …) is English without asking the library
(``reason="plain ASCII"``; 98% of Davidson's tweets): a German post without one of them is rare, and
judged as English is the safe side.
``also`` names the other languages the library gives at least ``MIXED_SHARE`` (a post mixing two), and
English for a post named by its words.
Codes are ISO 639-1, macrolanguages for their varieties: every Arabic one is ``ar``, every Chinese one
``zh``; ``und`` when it cannot tell.
"""

from __future__ import annotations

import io
import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from operator import itemgetter
from pathlib import Path

import numpy as np

from hatespeech.core.text import maybe_spaced

UNDETERMINED = "und"
ENGLISH = "en"
MIN_LETTERS = 12  # fewer letters than this (Latin script; a quarter of it in others): short, judged as English
LATIN_CONFIDENCE = 0.4  # below this, a Latin-script post is judged as English (unless its words say which)
OTHER_CONFIDENCE = 0.3  # below this, a post in another script is "und" (and judged as English)
MARKERS_ALONE = 2  # an unsure post is in the language of this many of its commonest words ...
MARKED_CONFIDENCE = 0.1  # ... or of one, if the library gives that language this much
MIXED_SHARE = 0.2  # a second language with at least this probability is named in ``also``


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# The languages the library chooses among: the commonly written ones. Given all 97, slangy English and
# Portuguese tweets land in Galician, Occitan, Latin or Frisian (bench/languages.py: restricted,
# ToLD-Br 0.87 → 0.95 and Davidson 0.987 → 0.996 at the same threshold).
CANDIDATES = sorted(
    _words(
        "en de pt es fr it nl ko ar zh ru ja tr pl sv da no fi cs ro hu el he hi id ms vi th uk fa ur bn ta tl sw "
        "hr sk bg sr lt lv et sl ca"
    )
)
# Varieties py3langid or a caller may name, to their ISO 639-1 macrolanguage.
_MACRO = {"arz": "ar", "ary": "ar", "apc": "ar", "acm": "ar", "cmn": "zh", "yue": "zh", "wuu": "zh", "nb": "no"}

# What identification does not read: links, @mentions, the retweet marker, HTML entities, numbers.
_NOISE = re.compile(r"(?:https?://|www\.)\S+|(?<!\w)@\w+|&#?\w{1,8};|\bRT\b|\d+", re.IGNORECASE)
_LETTER = re.compile(r"[^\W\d_]")
# A run of three lone letters or more (hatespeech.core.text.maybe_spaced's, whole), and the letters that are
# words of their own in Portuguese, Spanish or French, or Brazilian shorthand (q: que, n: não)
_LONE = r"[^\w\s]{0,2}[^\W\d_][^\w\s]{0,2}"
_SPACED_RUN = re.compile(rf"(?<!\S){_LONE}(?:\s++{_LONE}){{2,}}(?!\S)")
_ONE_LETTER_WORDS = frozenset("aeoyqnàáéèêô")
# An ordinal indicator after a number (13ª, 142º, 1.º): Portuguese, Spanish and Italian typography, though its
# NFKC form is an ASCII letter
_ORDINAL = re.compile(r"(?<=\d)\.?[ªº]")
# The commonest words of the other Latin-script languages, few of them English words and none common in
# English tweets (not those English tweets use as slang: im, dat, da, dem, em, y, wat, yo, son, ma …).
# Any of them sends an ASCII post to the library; a post with more of one language's than of any other's
# is in that language when the library is unsure and sees no English (``_corroborated``).
_MARKERS = {
    "de": _words(
        "der die das und ist nicht ich du sie wir ein eine mit auf auch sich wie aber noch nur schon es von ihr "
        "mal denn nach wer einen mein jetzt zu dann dir keine hier euch muss doch ohne zur wohl alle sind wird "
        "diese eigentlich kein heute sehr besser seit mehr oder bei zum durch einfach vielleicht deine warum "
        "damit wollen meine uns habe haben wenn weil nichts immer gibt selbst kann"
    ),
    "pt": _words(
        "de o os uma não nao para com mais mas isso voce você vc vcs eu ele ela sim tá né que meu minha seu "
        "teu nem vai esse essa muito porra caralho pqp fdp pra pq tb q mano sua nos vou puta nunca todas tinha "
        "pode cu carai caraio feio feia olha lixo putinha puto dia dois ser bom sou tem aqui queria gente desse "
        "dos quem sem ficou todo casa viado quando foi fala nada vergonha sempre demais vtnc fica idiota onde "
        "estou coisa ao fora bem triste pouco falta mundo tudo aquele aquela voces vocês nois nós tô também "
        "tambem agora hoje ainda depois então entao é aí hj pfv sdd esses filho pelo duas ngm mds vsf plmdds amg "
        "cade cadê foda merda bunda arrombado sacana retardado retardada boca cala amo obrigada obrigado nossa "
        "fico linda lindo bonita irmã merece vo"
    ),
    "fr": _words(
        "de la en des du un le les et est pas une je tu il elle nous vous avec pour sur qui dans mais c'est ce "
        "que au tes toi tout oui mdr ptdr depuis gros quel pourquoi juif gauchiste arabe merci sont ils mieux "
        "parle aussi tous j'ai jte jvais bah ça fait faire bien vive petit vrai cette leur même très trop rien "
        "moi ses ces être sale stp mec quoi tjrs cest jsuis wesh frère abruti connard connasse salope pute "
        "nique ntm bon belle"
    ),
    "es": _words("de la en el los las es una por para con del al pero muy esta este eso que se más porque cuando"),
    "it": _words("il lo gli che non di per una sono questo anche ogni nel della niente nessuno ti perché"),
    "nl": _words("het een niet ik je zijn voor maar ook nog geen jouw jij mijn van om zoals elk niemand"),
    "tr": _words("bir ve bu ne ama çok değil"),
    "pl": _words("nie jest się że"),
}
_FOREIGN: frozenset[str] = frozenset().union(*_MARKERS.values())
# A marker's word: letters, with an apostrophe inside (c'est, j'ai)
_MARKER_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")


class _Compat(dict[str, str]):
    """A character's NFKC form, computed once per character."""

    def __missing__(self, char: str) -> str:
        if len(self) < 65536:
            self[char] = unicodedata.normalize("NFKC", char)
        return unicodedata.normalize("NFKC", char)


_COMPAT = _Compat()


@dataclass(frozen=True, slots=True)
class Language:
    """A post's language (``code``) and the language whose model must judge it (``judged_as``)."""

    code: str  # ISO 639-1, or "und"
    judged_as: str  # ``code`` when identified with confidence, else "en"
    confidence: float  # the library's probability of ``code`` (1.0 for the common-English path)
    reason: str  # identified, plain ASCII, short, disguised, unsure
    also: tuple[str, ...] = ()  # other languages present with at least MIXED_SHARE


_PLAIN_ASCII = Language(ENGLISH, ENGLISH, 1.0, "plain ASCII")


# py3langid 0.4.0's model (BSD-3-Clause: its notice is language_model.LICENSE), restricted to ``CANDIDATES`` and
# stored as _NaiveBayes reads it; hatespeech/training/language_model.py writes it from the installed library
MODEL_FILE = Path(__file__).with_name("language_model.npz")
MODEL_FORMAT = 1


class _NaiveBayes:
    """py3langid's identifier with normalised probabilities (naive Bayes over byte n-grams, counted by a walk
    of a state machine over the text's UTF-8 bytes): the same operations on the same arrays, so the same
    ``rank`` to the bit (tests/core/test_language_model.py compares them). It costs less to hold and to load:

    - the state table is stored by the byte that enters each state: a state is its byte's ``base`` plus a
      16-bit number among that byte's states (11,012 at most), where the library's 104,583 states take 32
      bits: 20 MB instead of 39;
    - only the ``CANDIDATES``' columns of the weights are stored, and the file is a plain compressed .npz
      (no LZMA, no temporary file, nothing of the other 53 languages read): about 0.2 s instead of 0.65.

    It is faster too: the walk reads each state's row and feature from compact arrays (about 30% faster than
    the library's), and the weights are row-major, so a post's rows are gathered contiguous (the library's
    restricted copy is column-major: 63 → 33 µs for 100 features).
    """

    def __init__(self, path: Path | str, content: bytes | None = None) -> None:
        with np.load(io.BytesIO(content) if content is not None else path, allow_pickle=False) as data:
            if int(data["format"]) != MODEL_FORMAT:
                raise ValueError(
                    f"{path} is not a language model of format {MODEL_FORMAT}: "
                    "rewrite it (python -m hatespeech.training.language_model)"
                )
            # memoryviews of compact arrays: their items are ints, and the walk reads them faster than lists of
            # ints (fewer cache misses) and holds 7 MB less
            self._moves = np.ascontiguousarray(data["moves"], dtype=np.uint16).data
            self._base: list[int] = data["base"].tolist()
            self._rowbase = (data["row"].astype(np.uint32) << 8).data  # a state's row, pre-shifted
            self._out = np.ascontiguousarray(data["out"], dtype=np.int32).data  # a state's feature, or -1
            self._ptc = data["ptc"]  # float16 weights, features × classes, as the library holds them
            self._pc = data["pc"]  # float32 class priors
            self.classes: list[str] = data["classes"].tolist()
        self._start = len(self._rowbase) - 1  # the machine's start state is stored last
        first: dict[str, int] = {}
        # a language with two columns (a script alias) counts once, in its first column, as in the library
        self._aliases = [(first[c], i) for i, c in enumerate(self.classes) if first.setdefault(c, i) != i]

    def _counts(self, data: bytes) -> Counter[int] | None:
        moves, base, rowbase, out = self._moves, self._base, self._rowbase, self._out
        state, found = self._start, list[int]()
        append = found.append
        for byte in data:
            state = base[byte] + moves[rowbase[state] + byte]
            feature = out[state]
            if feature >= 0:
                append(feature)
        return Counter(found) if found else None

    def rank(self, text: str) -> list[tuple[str, float]]:
        """Every language with its probability, best first (py3langid's ``rank``)."""
        if text.isupper():
            text = text.lower()
        data = unicodedata.normalize("NFC", text).encode("utf8", errors="surrogatepass")
        visits = self._counts(data)
        if visits:
            idx = np.fromiter(visits.keys(), dtype=np.intp, count=len(visits))
            counts = np.fromiter(visits.values(), dtype=np.float32, count=len(visits))
            scores = np.log1p(counts) @ self._ptc[idx] + self._pc
        else:  # no feature: uniform
            scores = np.full(len(self.classes), 0.0, dtype=np.float32)
        scores *= 1.0 / math.sqrt(len(data) or 1)  # the library's temperature: calibrated across lengths
        np.exp(scores - scores.max(), out=scores)
        scores /= scores.sum()
        for i, j in self._aliases:
            scores[i] += scores[j]
            scores[j] = 0.0
        merged: dict[str, float] = {}
        for language, score in zip(self.classes, scores.tolist(), strict=True):
            merged.setdefault(language, score)
        return sorted(merged.items(), key=itemgetter(1), reverse=True)


@lru_cache(maxsize=1)
def _identifier() -> _NaiveBayes:
    """The identifier, loaded once per process at the first text that needs it (~0.2 s, ~30 MB)."""
    # read through the package's resources, not a path: a Dask worker imports the package from a zip
    # (hatespeech/archive/cluster.py ships it so), where the file has no path of its own
    content = resources.files(__package__).joinpath(MODEL_FILE.name).read_bytes()
    return _NaiveBayes(MODEL_FILE, content)


def _plain_ascii(text: str) -> bool:
    """An ASCII post with none of the other languages' commonest words (split on spaces only: cheap)."""
    if not text.isascii():
        return False
    lower = text.lower()
    # Portuguese laughter (kkkk) and French (mdr, ptdr) come in any length: a substring, not a word
    return _FOREIGN.isdisjoint(lower.split()) and "kkk" not in lower and "mdr" not in lower


def _disguised(text: str) -> bool:
    """Latin letters written as compatibility characters (fullwidth, mathematical, circled …: their NFKC
    form is an ASCII letter), or words spaced out letter by letter: three lone letters or more in a row,
    one of them a Latin letter that is not a word of its own in Portuguese, Spanish or French (``o q é o``
    is Portuguese; Korean writes one-syllable words apart: ``잘 할 듯``)."""
    if not text.isascii() and any(
        not c.isascii() and c.isalpha() and _COMPAT[c].isascii() for c in _ORDINAL.sub("", text)
    ):
        return True
    return maybe_spaced(text) and any(
        _latin([c]) and c not in _ONE_LETTER_WORDS
        for run in _SPACED_RUN.finditer(text)
        for c in _LETTER.findall(run.group().lower())
    )


def _latin(letters: list[str]) -> bool:
    """Most of the letters are Latin (ASCII, or named LATIN in Unicode)."""
    latin = sum(1 for c in letters if c.isascii() or "LATIN" in unicodedata.name(c, ""))
    return latin * 2 > len(letters)


def _marked(content: str) -> tuple[str, int] | None:
    """The language whose commonest words the post has most of (one alone has the most; laughter counts as a
    word: kkkk, mdr), and how many of them; None if no language has the most."""
    lower = content[:4096].lower()
    words = frozenset(_MARKER_WORD.findall(lower.replace("\u2019", "'")))
    hits = {code: len(words & markers) for code, markers in _MARKERS.items()}
    hits["pt"] += "kkk" in lower
    hits["fr"] += "mdr" in lower or "ptdr" in lower
    most = max(hits.values())
    found = [code for code, n in hits.items() if n == most]
    return (found[0], most) if most and len(found) == 1 else None


def _corroborated(ranked: list[tuple[str, float]], content: str) -> tuple[str, float] | None:
    """The language of ``_marked``, when the library gives English less than ``MIXED_SHARE`` and the post has
    ``MARKERS_ALONE`` of its words, or one that the library gives ``MARKED_CONFIDENCE``; else None."""
    if dict(ranked).get(ENGLISH, 0.0) >= MIXED_SHARE or (marked := _marked(content)) is None:
        return None
    confidence = dict(ranked).get(marked[0], 0.0)
    return (marked[0], confidence) if marked[1] >= MARKERS_ALONE or confidence >= MARKED_CONFIDENCE else None


def identify(text: str) -> Language:
    """The language of ``text`` and the model that must judge it; see the module's docstring."""
    if _plain_ascii(text):
        return _PLAIN_ASCII
    if _disguised(text):
        return Language(UNDETERMINED, ENGLISH, 0.0, "disguised")
    content = _NOISE.sub(" ", text)
    letters = _LETTER.findall(content[:4096])  # the first 4,096 characters are plenty to tell
    latin = _latin(letters)
    if len(letters) < (MIN_LETTERS if latin else MIN_LETTERS // 4):  # a CJK character says more than a letter
        # too short for the library; two of one language's commonest words name it (``vc é um lixo``, ``pqp
        # kkkk``), and the English model judges it too
        marked = _marked(content) if latin else None
        if marked is None:
            return Language(UNDETERMINED, ENGLISH, 0.0, "short")
        if marked[1] >= MARKERS_ALONE:
            return Language(marked[0], marked[0], 0.0, "short", (ENGLISH,))
        # one word: named if the library sees no English and gives that word's language a little
        found = _corroborated(_identifier().rank(" ".join(content.split())), content)
        if found is None:
            return Language(UNDETERMINED, ENGLISH, 0.0, "short")
        return Language(found[0], found[0], found[1], "short", (ENGLISH,))
    ranked = _identifier().rank(" ".join(content[:4096].split()))
    best, confidence = ranked[0]
    code = _MACRO.get(best, best)
    also = tuple(dict.fromkeys(_MACRO.get(c, c) for c, p in ranked[1:4] if p >= MIXED_SHARE and c != best))
    if code == ENGLISH:
        return Language(ENGLISH, ENGLISH, confidence, "identified", also)
    if latin and confidence < LATIN_CONFIDENCE:
        corroborated = _corroborated(ranked, content)
        if corroborated is None:
            return Language(code, ENGLISH, confidence, "unsure", also)
        code, confidence = corroborated
        # English too: the library was unsure, and short English slang is what it places worst (two foreign
        # words added to an English insult must not take it away from the English model)
        others = (c for c, p in ranked[:4] if p >= MIXED_SHARE and c != code)
        return Language(code, code, confidence, "identified", tuple(dict.fromkeys([ENGLISH, *others])))
    if not latin and confidence < OTHER_CONFIDENCE:
        return Language(UNDETERMINED, ENGLISH, confidence, "unsure", also)
    return Language(code, code, confidence, "identified", also)
