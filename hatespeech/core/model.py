"""The model as served: the fitted pipeline compiled into a few arrays, scored without scikit-learn.

scikit-learn's per-call overhead (validation, sparse matrices, three estimators' ``transform``)
costs milliseconds on one text, and importing it costs a second and ~60 MB per process; the
arithmetic itself costs microseconds. ``CompiledModel.from_pipeline`` reads the fitted objects
(vocabulary, idf, the calibration folds' coefficients and sigmoids) when the model is saved
(``hatespeech.training.compile``);
serving loads only these arrays. It gives the pipeline's probabilities to |Δ| ≤ 1e-9 (tests/training/
test_compiled.py: every row of the data, generated odd texts, the configurations the pipeline may
be tuned to), so the pipeline, saved in the same file, stays the single source of truth. A
pipeline it cannot reproduce exactly raises ``NotImplementedError`` when it is compiled.

>>> model = CompiledModel(to_arrays(pipeline))                  # doctest: +SKIP
>>> model.proba_one("Please respect each other.")                # doctest: +SKIP
[0.03..., 0.53..., 0.43...]

How it stays fast:

- the normaliser and the word tokenizer work on whitespace-separated pieces, so each piece's tokens
  are computed once and kept in a bounded LRU cache (``hatespeech.core.reader.Reader.chunk`` below it);
- idf × coefficient is folded into one row per feature, with one column per (calibration fold,
  class) and a last column for the document's norm (idf², or idf for an l1 norm); a text's
  margins are one gather and one sum over its few features' rows (NumPy: contiguous rows beat
  Python floats scattered over the heap), its probabilities fifteen sigmoids in plain Python.
"""

from __future__ import annotations

import math
import re
import sys
from array import array
from collections import Counter
from collections.abc import Sequence
from itertools import chain, islice, pairwise
from operator import truediv
from typing import Any

import numpy as np

from hatespeech.core import idioms, threats
from hatespeech.core.reader import Reader
from hatespeech.core.text import LONE, maybe_spaced
from hatespeech.core.wordreader import WordReader

try:  # ``sums_of``, ``proba_from_sums``, ``_rows_sums``, ``_rows_of_word``'s n-grams in C (``_kernel.c``: the same)
    from hatespeech.core import _kernel
except ImportError:  # a checkout nobody built (``make`` builds it), or the package imported from a zip (a Dask
    _kernel = None  # type: ignore[assignment]  # worker's: no extension loads from one): NumPy and Python do it
# Which of the two scores texts ("C" or "Python"): ``bench/latency.py`` prints it, the service can report it.
KERNEL = "C" if _kernel is not None else "Python"
_TF_MODES = {"binary": 0, "sublinear": 1, "raw": 2}  # ``tf``'s modes as ``_kernel.rows_sums`` numbers them

FORMAT = "hatespeech-detect/compiled-model"
FORMAT_VERSION = 1
CACHE_BYTES = 32 << 20  # what the per-piece cache may hold, in (estimated) bytes, per process
CACHE_PIECE_CHARS = 64  # longer pieces are analysed each time and never kept: a real word is shorter
WORD_CACHE_BYTES = 8 << 20  # a language model's per-word cache (``CompiledModel._word``), in estimated bytes
ROWS_CACHE_BYTES = 8 << 20  # a language model's rows per piece and per word (``CompiledModel._rows``), estimated
WARM_LANGUAGE_WORDS = 2_000  # a language model's commonest words given their rows at load (``_warm``)
WARM_TERMS = 30_000  # at most this many pieces analysed at load (``_warm``; ours: ~16,500 new ones)
BATCH_SLICE = 4096  # texts scored together by predict_proba (bounds its scratch memory)
# Token patterns that never match across white space and see a word edge the same way whether
# the neighbour is a space or the end of the text: tokenising piece by piece is then exact.
PER_WORD_PATTERNS = frozenset(
    {r"(?u)\b\w\w+\b", r"\b\w\w+\b", r"(?u)\b\w+\b", r"\b\w+\b", r"(?u)\w+", r"\w+", r"(?u)\w\w+", r"\w\w+"}
)
_ENTRY_BYTES = 120 + 2 * sys.getsizeof(
    ()
)  # a dict slot + index, an entry's tuples' headers, its gate and reading pointers
_TOKEN_BYTES = sys.getsizeof("") + 8  # a token: an ASCII string's header (every token is ASCII), a tuple slot
# A piece's rows for the fast path (``CompiledModel.fast_ids``): its tokens' unigram rows, the bigram rows
# inside it, its first token, the bigrams (next token → row) its last token starts, whether it is a lone letter.
Fast = tuple[tuple[int, ...], tuple[int, ...], str | None, dict[str, int] | None, bool]
# The reader's words and markers of a piece (``Reader.chunk``'s answer) where they are not the entry's tokens and
# markers (a stop word's, a word the vectorizer splits): see ``CompiledModel.words``.
Read = tuple[tuple[str, ...], tuple[str, ...]]
Entry = tuple[tuple[str, ...], tuple[str, ...], frozenset[str], Fast | None, Read | None]  # see ``CompiledModel.piece``
_LONE_PIECE = re.compile(LONE).fullmatch  # what ``maybe_spaced`` looks for three of in a row
_NO_FOLLOW: dict[str, int] = {}
_NOTHING: Fast = ((), (), None, None, False)
_LONE_NOTHING: Fast = ((), (), None, None, True)


def _entry_bytes(piece: str, entry: Entry) -> int:
    """What one cache entry costs: the key, the tokens (each a new ASCII string: the reader's tokens
    are vocabulary words, ASCII words and ``emo<code point>``), the tuples (the threat gate's words are a
    pointer to a set shared by every piece with the same ones: ``threats.gate_words``). Arithmetic on
    lengths, not ``sys.getsizeof`` per token: it is paid for every new piece."""
    words, markers, _, fast, read = entry
    chars = sum(map(len, words)) + (sum(map(len, markers)) if markers else 0)
    size = _ENTRY_BYTES + sys.getsizeof(piece) + _TOKEN_BYTES * (len(words) + len(markers)) + chars
    if read is not None:  # the reader's tuples (its strings are the tokens' where it has any)
        size += _PAIR_BYTES + _TUPLE_BYTES + 8 * len(read[0]) + (_TUPLE_BYTES + 8 * len(read[1]) if read[1] else 0)
        if not words:  # stop words only: the strings are the reader's own
            size += (_TOKEN_BYTES - 8) * len(read[0]) + sum(map(len, read[0]))
    if fast is not None and fast[2] is not None:  # its tuples (the rows are the vocabulary's int objects: pointers)
        size += _FAST_BYTES + (_TUPLE_BYTES + 8 * len(fast[0]) if fast[0] else 0)
        size += _TUPLE_BYTES + 8 * len(fast[1]) if fast[1] else 0
    return size


_TUPLE_BYTES = sys.getsizeof(())
_PAIR_BYTES = sys.getsizeof((0, 0))  # ``Read``'s tuple
WordEntry = tuple[tuple[str, ...], tuple[int, ...], frozenset[str]]  # see ``CompiledModel._word``


def _rows_bytes(key: str, value: bytes) -> int:
    """What one entry of a language model's rows caches costs (estimated as ``_entry_bytes`` does; a piece of one
    word shares that word's bytes, counted twice)."""
    return _ROWS_ENTRY_BYTES + sys.getsizeof(key) + len(value)


def _word_bytes(word: str, entry: WordEntry) -> int:
    """What one per-word entry costs (estimated as ``_entry_bytes`` does): the key, its tokens, the rows' tuple."""
    tokens, own, _ = entry
    return _ENTRY_BYTES + sys.getsizeof(word) + (_TOKEN_BYTES + 2) * len(tokens) + sum(map(len, tokens)) + 8 * len(own)


_FAST_BYTES = sys.getsizeof((0, 0, 0, 0, 0)) + 8  # the fast tuple and the entry's slot for it

_ROW = np.dtype(np.int32)
_ROWS_ENTRY_BYTES = 112 + sys.getsizeof(b"")  # a dict slot + index, the bytes' header (a word's key is counted apart)


_add = np.add.reduce


def _one_token(word: str) -> bool:
    """Whether ``word`` is all word characters (``\\w``: alphanumeric or "_", as ``re`` reads them), so that the
    whole-word token pattern finds it and only it (a language model's character n-grams: "0_du")."""
    return word.replace("_", "a").isalnum()


_EXP_MAX = 700.0  # exp(700) is finite; the sigmoid there is 1e-304, which is 0 to any tolerance


class CompiledModel:
    """Arrays in, probabilities out: ``proba_one(text)`` and ``predict_proba(texts)``."""

    def __init__(self, arrays: dict[str, Any], warm: bool = True):
        """Build from plain arrays: ``hatespeech.training.compile.to_arrays()``'s output, or the model file's;
        ``warm``: fill the caches with the commonest pieces now (``_warm``), else as texts come."""
        if arrays.get("format") != FORMAT or arrays.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"not a {FORMAT} version {FORMAT_VERSION}")
        terms: list[str] = np.asarray(arrays["terms"], dtype=str).tolist()
        self.vocab = dict(zip(terms, range(len(terms)), strict=True))
        self.table = np.ascontiguousarray(arrays["table"], dtype=np.float64)  # features (+1 zero row) × (C + 1)
        self.intercept = np.asarray(arrays["intercept"], dtype=np.float64)  # C = folds × classes
        self.slope = np.asarray(arrays["slope"], dtype=np.float64)  # the sigmoids: p = 1 / (1 + exp(a m + b))
        self.offset = np.asarray(arrays["offset"], dtype=np.float64)
        self.classes: list[int] = [int(c) for c in arrays["classes"]]
        self.stop = frozenset(np.asarray(arrays["stop_words"], dtype=str).tolist())
        self.ngram: tuple[int, int] = (int(arrays["ngram_range"][0]), int(arrays["ngram_range"][1]))
        self.lowercase = bool(arrays["lowercase"])
        self.tf_mode: str = str(arrays["tf"])  # "sublinear", "raw" or "binary"
        self.norm: str = str(arrays["norm"])  # "l2", "l1" or "none"
        self.findall = re.compile(str(arrays["token_pattern"])).findall
        # With this pattern and no lower-casing, a word of letters and digits is its own one token.
        self.whole_words = str(arrays["token_pattern"]) in (r"(?u)\b\w+\b", r"\b\w+\b") and not self.lowercase
        self.n_classes = len(self.classes)
        self.n_columns = len(self.intercept)
        self.folds = self.n_columns // self.n_classes
        if self.table.shape != (len(terms) + 1, self.n_columns + 1) or self.n_columns % self.n_classes:
            raise ValueError(f"a table of shape {self.table.shape} for {len(terms)} terms and {self.n_columns} columns")
        self.missing = len(terms)  # the table's last row, all zeros: an n-gram outside the vocabulary
        # Per (fold, class): intercept, sigmoid slope and offset, as Python floats for ``proba_one``.
        self._zeros = [0.0] * (self.n_columns + 1)
        self._sigmoids = list(zip(self.intercept.tolist(), self.slope.tolist(), self.offset.tolist(), strict=True))
        self._slopes = self.slope.tolist()
        self._offsets = [a * b0 + b for b0, a, b in self._sigmoids]  # the intercept folded into the sigmoid
        # The normaliser's vocabulary (each training word and its count): how disguised words are read.
        # ``tolist`` gives Python strings and ints in one pass (a comprehension over 64k array items took ~30 ms).
        counted: list[str] = np.asarray(arrays.get("counted_words", []), dtype=str).tolist()
        counts: list[int] = np.asarray(arrays.get("word_counts", []), dtype=np.int64).tolist()
        whole: list[str] = np.asarray(arrays.get("unsplit_words", []), dtype=str).tolist()  # real words never split
        reader = str(arrays.get("reader", "english"))  # another language's model reads with a WordReader
        chars = [int(n) for n in arrays.get("char_ngrams", [])]
        lexicon = str(arrays.get("lexicon", ""))  # a WordReader's lexicon, as it was trained with
        self.reader: Reader | WordReader = (
            Reader(dict(zip(counted, counts, strict=True)), whole)
            if reader == "english"
            else WordReader(
                reader == "syllables",
                (chars[0], chars[1]) if chars else None,
                "compiled" if lexicon else None,
                int(arrays.get("lexicon_weight", 1)),
                lexicon,
            )
        )
        # The fast path (``fast_ids``) for unigrams and bigrams: each first word of a bigram of the
        # vocabulary → {second word: row}, so that a bigram costs a lookup of two cached strings.
        self._follow: dict[str, dict[str, int]] | None = None
        if self.ngram in ((1, 1), (1, 2)):
            self._follow = {}
            for term, row in self.vocab.items() if self.ngram == (1, 2) else ():
                first, _, second = term.partition(" ")
                if second:
                    self._follow.setdefault(first, {})[second] = row
        self._lone = bool(self.reader.counts)  # only a reader with a vocabulary reads spaced-out letters
        # Only the English reader marks a violent word in an idiom: elsewhere "die" is an article, not a reason
        # to read the text again (``idiom_tokens`` gives a WordReader's model the tokens it already has).
        self._idioms = isinstance(self.reader, Reader)
        # A language model's words, each with its tokens (its character n-grams) and their rows: see ``_word``.
        self._words: dict[str, WordEntry] | None = None if self._idioms else {}
        self._words_bytes = 0
        # The languages' scoring path (``_rows``): each piece's and each word's rows as bytes, no token strings kept.
        self._rows_on = isinstance(self.reader, WordReader) and self.ngram == (1, 1)
        self._plain = self.whole_words and not self.stop  # a word's tokens are what ``WordReader.expand`` gives
        self._piece_rows: dict[str, bytes] = {}
        # What a language model scores a text's rows with (``_rows_sums`` adds them): per piece, or per n-gram.
        self._scoring_rows = (
            (self._rows if self._rows_on else self._gram_rows)
            if isinstance(self.reader, WordReader) and self.ngram[0] == 1 and len(self.table) < 1 << 31  # int32 rows
            else None
        )
        self._word_rows: dict[str, bytes] = {}
        self._rows_bytes = 0
        self._ones = np.ones(256)  # the weights of rows seen once (``_rows_sums``)
        self._pinned_pieces = self._pinned_words = self._pinned_rows_bytes = 0
        self._pieces: dict[str, Entry] = {}  # see ``piece``
        # The cache's budget in bytes where not ``CACHE_BYTES``: an archive's worker, a batch process, keeps more.
        self.cache_bytes: int | None = None
        self._cache_bytes = 0  # their estimated size (threads may race on it: an estimate either way)
        self._pinned = self._pinned_bytes = 0
        if warm:
            self._warm()
        # The warm entries come first in the cache: kept when it is full (``piece``), if they fill at most half.
        self._pinned = len(self._pieces)
        self._pinned_bytes = self._cache_bytes
        self._pinned_pieces, self._pinned_words = len(self._piece_rows), len(self._word_rows)
        self._pinned_rows_bytes = self._rows_bytes

    # --- scoring -----------------------------------------------------------------------------------

    def piece(self, piece: str) -> Entry:
        """The vectorizer's tokens (stop words removed) of one piece's normalised words and markers, and the
        words of the piece that the threat check's gate looks at (``threats.gate_words``: kept here, so that
        the check after scoring a text does not read it again; see ``threat_words``).

        Cached in a plain dict bounded in bytes, not entries (entries of 10,000-character pieces
        grew a worker to gigabytes): pieces over ``CACHE_PIECE_CHARS`` are never kept, and when the
        entries' estimated size reaches ``CACHE_BYTES`` the older half is dropped (a dict keeps
        insertion order; a frequent piece dropped comes back at its next use): an LRU's
        bookkeeping on every hit cost more (30% of ``tokens`` in an A/B). The entries ``_warm`` made
        (the commonest words, first in the dict) are kept while they fill at most half the budget:
        dropping them made every common word a miss after the first drop.
        """
        entry = self._pieces.get(piece)
        if entry is None:
            tokens: tuple[str, ...]
            if self._words is not None:  # a WordReader's: the piece's words, each read once (``_word``)
                assert isinstance(self.reader, WordReader)
                parts = [self._words.get(w) or self._word(w) for w in self.reader.letters(piece)]
                if len(parts) == 1:
                    tokens, own, gate = parts[0]
                else:
                    tokens = tuple(chain.from_iterable(p[0] for p in parts))
                    own = tuple(chain.from_iterable(p[1] for p in parts))
                    gates = [p[2] for p in parts if p[2]]
                    gate = gates[0] if len(gates) == 1 else threats.gate_words(chain.from_iterable(gates))
                entry = (tokens, (), gate, self._fast(piece, tokens, own), None)
            else:
                read = self.reader.chunk(piece)
                words, markers = read
                gate = threats.gate_words(words)
                if self.whole_words and len(words) == 1 and words[0].isalnum():  # the commonest: one word
                    tokens = () if words[0] in self.stop else words
                else:
                    tokens = self.analyse(words)
                marks = self.analyse(markers) if markers else ()
                entry = (tokens, marks, gate, self._fast(piece, tokens), None if read == (tokens, marks) else read)
            if len(piece) <= CACHE_PIECE_CHARS:
                budget = self.cache_bytes or CACHE_BYTES
                if self._cache_bytes >= budget:
                    keep = self._pinned if self._pinned_bytes <= budget // 2 else 0
                    for old in list(islice(self._pieces, keep, keep + (len(self._pieces) - keep) // 2)):
                        dropped = self._pieces.pop(old, None)  # another thread may have dropped it already
                        if dropped is not None:
                            self._cache_bytes -= _entry_bytes(old, dropped)
                self._pieces[piece] = entry
                self._cache_bytes += _entry_bytes(piece, entry)
        return entry

    def _word(self, word: str) -> WordEntry:
        """A language model's word (``WordReader.letters``): its tokens (the word and its character n-grams, stop
        words removed), their table rows, its threat gate's words. A word's n-grams are the same wherever it
        appears ("Idiot", "Idiot!" and "#Idiot" are three pieces, one word): read once, kept like ``piece``'s
        entries (words over ``CACHE_PIECE_CHARS`` never; the older half dropped at ``WORD_CACHE_BYTES``)."""
        assert self._words is not None and isinstance(self.reader, WordReader)
        expanded = self.reader.expand(word)
        tokens = self._word_tokens(expanded)
        get = self.vocab.get
        entry = (tokens, tuple(j for t in tokens if (j := get(t)) is not None), threats.gate_words(expanded))
        if len(word) <= CACHE_PIECE_CHARS:
            if self._words_bytes >= WORD_CACHE_BYTES:
                for old in list(islice(self._words, len(self._words) // 2)):
                    dropped = self._words.pop(old, None)  # another thread may have dropped it already
                    if dropped is not None:
                        self._words_bytes -= _word_bytes(old, dropped)
            self._words[word] = entry
            self._words_bytes += _word_bytes(word, entry)
        return entry

    def _word_tokens(self, expanded: list[str]) -> tuple[str, ...]:
        """The tokens of a language model's word, ``WordReader.expand``ed: the word and its character n-grams, stop
        words removed."""
        if self.whole_words and _one_token(expanded[0]):  # its n-grams are its letters, "_" and "0": one token each
            stop = self.stop
            return tuple(t for t in expanded if t not in stop) if stop else tuple(expanded)
        return self.analyse(expanded)  # per word as over the piece: ``analyse`` treats each word on its own

    # --- the languages' scoring path ---------------------------------------------------------------

    def _rows(self, text: str) -> bytes:
        """A language model's ``ids(text)`` (``_rows_on``: unigrams, German's and Portuguese's words with their
        character n-grams), as int32 bytes in another order (a text's rows are counted: the order changes nothing
        but the sum's rounding, ~1e-16). Each piece's and each word's rows are kept as bytes, not token strings (a
        German word's character n-grams are ~20 strings, their rows 80 bytes): a post is a lookup per piece and a
        join. (Korean's syllable 1–3-grams cross pieces and its pieces rarely repeat: ``_gram_rows``.)"""
        cached, make = self._piece_rows.get, self._rows_of
        return b"".join([r if (r := cached(piece)) is not None else make(piece) for piece in text.split()])

    def _gram_rows(self, text: str) -> bytes:
        """``_rows`` for a language model with word n-grams (Korean's syllable 1–3-grams): its pieces rarely repeat
        (6% of a Korean post's are met before), so nothing is kept per piece: the text's tokens, read piece by
        piece, then one lookup per n-gram."""
        assert isinstance(self.reader, WordReader) and self._words is not None
        expand, letters, low, high = self.reader.expand, self.reader.letters, self.ngram[0], self.ngram[1]
        if self._plain and self.reader.chars is None:  # each word (a syllable) is its own one token
            tokens = [w if w.isalpha() else expand(w)[0] for piece in text.split() for w in letters(piece)]
        else:
            tokens = [t for piece in text.split() for w in letters(piece) for t in self._word_tokens(expand(w))]
        get = self.vocab.get
        ids = [j for t in tokens if (j := get(t)) is not None] if low == 1 else []
        for n in range(max(low, 2), high + 1):
            if n == 2:
                ids += [j for a, b in pairwise(tokens) if (j := get(f"{a} {b}")) is not None]
            elif n == 3:
                grams = zip(tokens, tokens[1:], tokens[2:], strict=False)
                ids += [j for a, b, c in grams if (j := get(f"{a} {b} {c}")) is not None]
            else:
                ids += [j for i in range(len(tokens) - n + 1) if (j := get(" ".join(tokens[i : i + n]))) is not None]
        return array("i", ids).tobytes()

    def _rows_of(self, piece: str) -> bytes:
        """A piece's rows (``_rows``): its words', each kept per word ("Idiot", "idiot!" and "#Idiot"), the piece's
        too, in ``ROWS_CACHE_BYTES`` for both (bounded as ``piece``'s entries are)."""
        assert isinstance(self.reader, WordReader)
        kept = self._word_rows.get
        parts = [r if (r := kept(w)) is not None else self._rows_of_word(w) for w in self.reader.letters(piece)]
        found = parts[0] if len(parts) == 1 else b"".join(parts)
        if len(piece) <= CACHE_PIECE_CHARS:
            self._keep_rows(self._piece_rows, piece, found)
        return found

    def _rows_of_word(self, word: str) -> bytes:
        """A word's rows (the word's and its character n-grams'), kept with the pieces' (``_rows_of``)."""
        assert isinstance(self.reader, WordReader)
        get, chars = self.vocab.get, self.reader.chars
        if self._plain and chars is not None and word.isalpha() and _kernel is not None:  # the loop below, in C
            found = _kernel.gram_rows(self.vocab, word, chars[0], chars[1])
        elif self._plain and chars is not None and word.isalpha():  # ``expand``'s tokens, looked up as they are made
            marked = f"_{word}_"
            ids = [j] if (j := get(word)) is not None else []
            for n in range(chars[0], chars[1] + 1):
                ids += [j for i in range(len(marked) - n + 1) if (j := get("0" + marked[i : i + n])) is not None]
            found = array("i", ids).tobytes()
        else:
            expanded = self.reader.expand(word)
            tokens = expanded if self._plain and _one_token(expanded[0]) else self._word_tokens(expanded)
            found = array("i", [j for t in tokens if (j := get(t)) is not None]).tobytes()
        if len(word) <= CACHE_PIECE_CHARS:
            self._keep_rows(self._word_rows, word, found)
        return found

    def _keep_rows(self, cache: dict[str, bytes], key: str, value: bytes) -> None:
        """``cache[key] = value`` within ``ROWS_CACHE_BYTES`` (estimated, for the pieces' and words' caches
        together): when full, the older half of each is dropped, but the entries ``_warm`` made while they fill at
        most half the budget (as ``piece`` does)."""
        if self._rows_bytes >= ROWS_CACHE_BYTES:
            for kept, pinned in ((self._piece_rows, self._pinned_pieces), (self._word_rows, self._pinned_words)):
                keep = pinned if self._pinned_rows_bytes <= ROWS_CACHE_BYTES // 2 else 0
                for old in list(islice(kept, keep, keep + (len(kept) - keep) // 2)):
                    dropped = kept.pop(old, None)  # another thread may have dropped it already
                    if dropped is not None:
                        self._rows_bytes -= _rows_bytes(old, dropped)
        cache[key] = value
        self._rows_bytes += _rows_bytes(key, value)

    def _rows_sums(self, rows: bytes) -> tuple[list[float], float]:
        """``sums_of`` for a language model's ``_rows``: sorted, each row weighted by 1, except a feature seen c > 1
        times (a German post: ~3 of ~200 rows), whose first row weighs tf(c) and the others 0; then Σ weight × row
        and Σ weight² × the norm's column are two products (``Counter``, ``np.unique`` and a row-by-row sum cost
        several times more)."""
        if not rows:
            return self._zeros, 1.0
        if _kernel is not None:
            summed, norm_sum = _kernel.rows_sums(self.table, rows, _TF_MODES[self.tf_mode])
            norm = math.sqrt(norm_sum) if self.norm == "l2" else summed[-1]
            return summed, (1.0 / norm if self.norm != "none" and norm > 0 else 1.0)
        found = np.sort(np.frombuffer(rows, dtype=_ROW))
        n = len(found)
        if n > len(self._ones):
            self._ones = np.ones(n)
        block = self.table.take(found, axis=0)
        repeats = np.flatnonzero(found[1:] == found[:-1]).tolist()
        if not repeats:  # every feature once: tf = 1, and tf² = 1
            sums = self._ones[:n] @ block
            norm_sum = float(sums[-1])
        else:
            weights = self._ones[:n].copy()
            runs: dict[int, int] = {}  # a run's first position → its count
            first = previous = -2
            for i in repeats:  # row i + 1 repeats row i
                if i != previous + 1:
                    first = i
                runs[first] = runs.get(first, 1) + 1
                previous = i
            weights[[i + 1 for i in repeats]] = 0.0
            # l2: Σ tf² idf² = Σ tf idf² (the sums' last column) + Σ (tf² - tf) idf² over the repeated features
            extra = 0.0
            last = self.n_columns
            for i, count in runs.items():
                weights[i] = tf = self.tf(count)
                extra += (tf * tf - tf) * block.item(i, last)
            sums = weights @ block
            norm_sum = float(sums[-1]) + extra
        total: list[float] = sums.tolist()
        norm = math.sqrt(norm_sum) if self.norm == "l2" else total[-1]
        return total, (1.0 / norm if self.norm != "none" and norm > 0 else 1.0)

    def _fast(self, piece: str, tokens: tuple[str, ...], own: tuple[int, ...] | None = None) -> Fast | None:
        """A piece's part of ``fast_ids``; ``None`` where the fast path does not apply (no fast path for
        this model's n-grams, or a violent word that an idiom spanning pieces may change: ``idiom_tokens``).
        ``own``: the tokens' rows where the caller has them (a language model's, from ``_word``)."""
        follow = self._follow
        if follow is None or (self._idioms and not idioms.WORDS.isdisjoint(tokens)):
            return None
        lone = self._lone and _LONE_PIECE(piece) is not None
        if not tokens:
            return _LONE_NOTHING if lone else _NOTHING  # shared: a stop word costs no tuple of its own
        get = self.vocab.get
        if own is None:
            own = tuple(j for t in tokens if (j := get(t)) is not None)
        if not follow:  # unigrams only (German's model): no bigram to look for
            return (own, (), tokens[0], None, lone)
        inner = tuple(j for a, b in pairwise(tokens) if (j := follow.get(a, _NO_FOLLOW).get(b)) is not None)
        return (own, inner, tokens[0], follow.get(tokens[-1]), lone)

    def fast_ids(self, text: str, gate: set[str] | None = None, seen: list[str] | None = None) -> list[int] | None:
        """``ids(text, gate, seen)``, in the same order, from the per-piece cache alone (no token strings joined, no
        vocabulary lookups but one per bigram between pieces), or ``None`` where only ``ids`` reads the text.

        One pass over the pieces does what ``tokens`` and ``ids`` did in three: the check for spaced-out
        letters (``maybe_spaced``: three lone-letter pieces in a row send the text to ``Reader.split``), the
        idiom check (a piece with a violent word has no fast entry) and the threat gate's words."""
        if self._follow is None:
            return None
        cached, make = self._pieces.get, self.piece
        own: list[int] = []
        pairs: list[int] = []
        markers: list[str] = []
        follow: dict[str, int] | None = None
        run = 0
        for piece in text.split():
            w, m, g, fast, _ = cached(piece) or make(piece)
            if fast is None:
                if seen is not None:
                    seen.clear()
                return None
            uni, inner, first, after, lone = fast
            if lone:
                run += 1
                if run == 3:
                    if seen is not None:
                        seen.clear()
                    return None
            else:
                run = 0
            if seen is not None:
                seen += w
            if m:
                markers += m
            if g and gate is not None:
                gate |= g
            if first is None:
                continue
            own += uni
            if follow is not None and (j := follow.get(first)) is not None:
                pairs.append(j)
            if inner:
                pairs += inner
            follow = after
        if markers:  # the slur lexicon's markers come after the words, as ``tokens`` puts them
            if seen is not None:
                seen += markers
            get = self.vocab.get
            own += [j for t in markers if (j := get(t)) is not None]
            if follow is not None and (j := follow.get(markers[0])) is not None:
                pairs.append(j)
            pairs += [j for a, b in pairwise(markers) if (j := get(a + " " + b)) is not None]
        return own + pairs if pairs else own

    def analyse(self, words: Sequence[str]) -> tuple[str, ...]:
        """The vectorizer's tokens of normalised ``words``, stop words removed."""
        stop, findall, lower = self.stop, self.findall, self.lowercase
        if self.whole_words and all(map(_one_token, words)):  # the usual case: each word is one token
            return tuple(w for w in words if w not in stop)
        return tuple(t for w in words for t in findall(w.lower() if lower else w) if t not in stop)

    def _warm(self) -> None:
        """Analyse, before the first call, the pieces first calls meet most, so that they hit the cache:
        "RT" and "I", the vocabulary's single words, then the words the reader counted in training (stop words
        too), ``WARM_TERMS`` in all. (Their capitalised and upper-case forms are not: ~5,500 more pieces, ~0.07 s
        of every start.) A fresh worker needs this: gunicorn's workers are forked from the loaded master (sharing
        these entries) and replaced after ``MAX_REQUESTS``, losing whatever they cached since (bench/LOG-2026.md)."""
        pieces = chain(
            ("RT", "I"),
            # A language model's vocabulary holds its character n-grams ("0_du"): not pieces anyone writes.
            (t for t in self.vocab if " " not in t and (self._idioms or t.isalpha())),
            self.reader.counts,
        )
        if self._rows_on:  # a language model scores through ``_rows``: its commonest words get their rows
            words = [t for t in self.vocab if " " not in t and t.isalpha()]
            # No counts kept for a language: the lowest idf (the norm's column: idf², or idf) is the commonest word.
            idf = self.table[np.fromiter(map(self.vocab.__getitem__, words), dtype=np.intp, count=len(words)), -1]
            for i in np.argsort(idf, kind="stable")[:WARM_LANGUAGE_WORDS].tolist():
                self._rows_of(words[i])
            return
        if self._scoring_rows is not None:  # Korean's ``_gram_rows`` keeps nothing to warm
            return
        for piece in islice(pieces, WARM_TERMS):
            if piece not in self._pieces:
                self.piece(piece)

    def tokens(self, text: str, gate: set[str] | None = None) -> list[str]:
        """The tokens the vectorizer sees for ``text``: normalised, tokenized, stop words removed; and, into
        ``gate`` if given, the words of ``text`` that the threat check's gate looks at (see ``threat_words``)."""
        found: list[str] = []
        markers: list[str] = []
        cached = self._pieces.get
        pieces = text.split()
        if self.reader.counts and maybe_spaced(text):  # rare: letters spaced out, read by the Reader
            pieces = self.reader.split(text)
        if gate is None:  # scoring alone: the loop every text goes through, kept as lean as it can be
            for piece in pieces:  # the same pieces as Reader.words
                w, m, _, _, _ = cached(piece) or self.piece(piece)
                found += w
                if m:
                    markers += m
        else:
            for piece in pieces:
                w, m, g, _, _ = cached(piece) or self.piece(piece)
                found += w
                if m:
                    markers += m
                if g:  # almost always the empty set
                    gate |= g
        if self._idioms and not idioms.WORDS.isdisjoint(found):  # rare: a violent word, maybe in an idiom
            return self.idiom_tokens(text)
        return found + markers if markers else found

    def idiom_tokens(self, text: str) -> list[str]:
        """``tokens`` for a text with a violent word (never a stop word: ``to_arrays``): read again by the
        reader, which marks the word if it is in an idiom (``hatespeech.core.idioms``)."""
        words = self.words(text)
        # A marker is one token too ("_" is a word character): the whole-word path, not a regex per word.
        if self.whole_words and all(w.isalnum() or w.startswith(idioms.MARK) for w in words):
            stop = self.stop
            return [w for w in words if w not in stop]
        return list(self.analyse(words))

    def words(self, text: str) -> list[str]:
        """``self.reader.words(text)``, the same list, from the per-piece cache: each piece's ``Reader.chunk`` is kept
        in its entry, so the threat and identity-attack checks, which read a text's words after it is scored, do
        not read its pieces again (the reader's own cache, smaller, had mostly dropped them in an archive)."""
        if not self._idioms:  # a WordReader's model keeps no reading per piece
            return self.reader.words(text)
        assert isinstance(self.reader, Reader)
        cached, make = self._pieces.get, self.piece
        found: list[str] = []
        markers: list[str] = []
        for piece in self.reader.split(text):  # as Reader.words: the same pieces, words, idioms and markers
            entry = cached(piece) or make(piece)
            read = entry[4] or entry  # its own tokens and markers unless they differ from the reader's
            found += read[0]
            if read[1]:
                markers += read[1]
        if not idioms.WORDS.isdisjoint(found):
            found = idioms.mark(found)
        return found + markers if markers else found

    def threat_words(self, text: str) -> set[str]:
        """The words of ``text`` the threat check's gate looks at (``threats.may_threaten``), from the
        per-piece cache: the same pieces and words as ``tokens``, before stop words are removed."""
        gate: set[str] = set()
        self.tokens(text, gate)
        return gate

    def grams(self, tokens: list[str]) -> list[str]:
        """The word n-grams of ``tokens``, as scikit-learn's ``_word_ngrams`` makes them."""
        low, high = self.ngram
        grams = list(tokens) if low == 1 else []
        for n in range(max(low, 2), high + 1):
            grams += [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
        return grams

    def ids(self, text: str, gate: set[str] | None = None, seen: list[str] | None = None) -> list[int]:
        """Table rows of the text's n-grams in the vocabulary, one per occurrence (``gate``: see ``tokens``);
        ``seen``, a list, gets ``tokens(text)`` from the same pass (the attack check's gate reads them)."""
        if self._follow is not None and (found := self.fast_ids(text, gate, seen)) is not None:
            return found
        get, tokens = self.vocab.get, self.tokens(text, gate)
        if seen is not None:
            seen += tokens
        if self.ngram in ((1, 2), (1, 3)):  # ours, and Korean's: no list of n-gram strings in between
            ids = [j for g in tokens if (j := get(g)) is not None]
            ids += [j for a, b in pairwise(tokens) if (j := get(a + " " + b)) is not None]
            if self.ngram[1] == 3:  # in ``grams``' order: the unigrams, the bigrams, the trigrams
                ids += [
                    j
                    for a, b, c in zip(tokens, tokens[1:], tokens[2:], strict=False)
                    if (j := get(f"{a} {b} {c}")) is not None
                ]
            return ids
        return [j for g in self.grams(tokens) if (j := get(g)) is not None]

    def tf(self, count: int) -> float:
        """The term frequency scikit-learn gives a feature seen ``count`` times."""
        if self.tf_mode == "binary":
            return 1.0
        return 1.0 + math.log(count) if self.tf_mode == "sublinear" else float(count)

    def tfs(self, counts: np.ndarray) -> np.ndarray:
        """``tf`` of each count, as the batch path computes them."""
        if self.tf_mode == "binary":
            return np.ones_like(counts)
        return 1.0 + np.log(counts) if self.tf_mode == "sublinear" else counts

    def sums(self, text: str) -> tuple[list[float], float]:
        """Σ tf × row over the text's features (C + 1 columns, the last the norm's sum) and 1 / norm."""
        if self._scoring_rows is not None:
            return self._rows_sums(self._scoring_rows(text))
        return self.sums_of(self.ids(text))

    def sums_of(self, ids: list[int]) -> tuple[list[float], float]:
        """``sums`` for a text whose feature rows (one per occurrence) are ``ids``."""
        if not ids:
            return self._zeros, 1.0
        if len(set(ids)) == len(ids):  # the usual case: every feature once, tf = 1
            # Rows are contiguous: no pointer chasing. (``ndarray.sum`` would add a Python-level wrapper.)
            # The kernel adds them in NumPy's order (the first row, then each in turn): the same bits.
            total = (
                _kernel.sum_rows(self.table, ids)
                if _kernel is not None
                else _add(self.table.take(ids, axis=0), 0).tolist()
            )
            norm = total[-1]
        else:
            counts = Counter(ids)  # a language model's character n-grams repeat: hundreds of rows a post
            n = len(counts)
            tf = self.tfs(np.fromiter(counts.values(), dtype=np.float64, count=n))
            rows = self.table.take(np.fromiter(counts, dtype=np.intp, count=n), axis=0)  # no list in between
            total = (tf @ rows).tolist()
            norm = float((tf * tf) @ rows[:, -1]) if self.norm == "l2" else total[-1]
        if self.norm == "l2":
            norm = math.sqrt(norm)
        return total, (1.0 / norm if self.norm != "none" and norm > 0 else 1.0)

    def margins(self, total: list[float], scale: float) -> list[float]:
        """Every calibration fold's decision value for every class, from a text's ``sums`` (C values)."""
        return [b + t * scale for (b, _, _), t in zip(self._sigmoids, total, strict=False)]

    def calibrate(self, margins: np.ndarray) -> np.ndarray:
        """Probabilities (rows × classes) from margins (rows × C), as CalibratedClassifierCV averages them."""
        z = np.minimum(margins * self.slope + self.offset, _EXP_MAX)
        p = (1.0 / (1.0 + np.exp(z))).reshape(-1, self.folds, self.n_classes)
        total = p.sum(axis=2, keepdims=True)
        p = np.divide(p, total, out=np.full_like(p, 1.0 / self.n_classes), where=total != 0)
        p[(p > 1.0) & (p <= 1.0 + 1e-5)] = 1.0  # as scikit-learn clips each fold's rounding
        mean: np.ndarray = p.mean(axis=1)
        return mean

    def proba_one(self, text: str) -> list[float]:
        """Probabilities for one text, in ``classes`` order, as ``pipeline.predict_proba([text])[0]``.

        ``calibrate`` in plain Python, fused with the margins: the sigmoid of each (fold, class)
        (``exp(a (b0 + t s) + b)`` as ``exp(t s a + (a b0 + b))``, the same to ~1e-16), each
        fold's row divided by its sum, the folds' mean. (scikit-learn's clip of values just above
        1 never applies here: p / (p + q) with q ≥ 0 cannot round above 1.)
        """
        return self.proba_from_sums(*self.sums(text))

    def proba_from_sums(self, total: list[float], scale: float) -> list[float]:
        """``proba_one`` from a text's ``sums`` (an explanation computes them in its own pass)."""
        if _kernel is not None and self.n_classes == 3:  # the three-class code below, compiled: the same bits
            found: list[float] | None = _kernel.proba3(total, scale, self._slopes, self._offsets)
            return found if found is not None else self._proba_in_numpy(total, scale)
        exp = math.exp
        try:
            p = [
                1.0 / (1.0 + exp(t * scale * a + c))
                for t, a, c in zip(total, self._slopes, self._offsets, strict=False)
            ]  # total has one more: the norm
        except OverflowError:  # a margin far out on the flat side of a sigmoid
            return self._proba_in_numpy(total, scale)
        folds = self.folds
        if self.n_classes == 3:  # ours: unrolled, a third faster than the general loop below
            h = o = n = 0.0
            row = iter(p)
            for x, y, z in zip(row, row, row, strict=True):  # each fold's three
                s = x + y + z
                if s == 0.0:  # a fold whose sigmoids all underflowed: scikit-learn's uniform row
                    return self._proba_in_numpy(total, scale)
                h += x / s
                o += y / s
                n += z / s
            return [h / folds, o / folds, n / folds]
        k = self.n_classes
        sums = [sum(p[f : f + k]) for f in range(0, len(p), k)]
        if 0.0 in sums:
            return self._proba_in_numpy(total, scale)
        return [sum(map(truediv, p[i::k], sums)) / folds for i in range(k)]

    def _proba_in_numpy(self, total: list[float], scale: float) -> list[float]:
        """``proba_from_sums`` through ``calibrate``: where a sigmoid in plain Python overflows, or underflows."""
        row: list[float] = self.calibrate(np.array([self.margins(total, scale)]))[0].tolist()
        return row

    def predict_proba(
        self, texts: Sequence[str], threat_words: list[set[str]] | None = None, tokens: list[list[str]] | None = None
    ) -> np.ndarray:
        """Probabilities for many texts (rows), vectorised over each slice of ``BATCH_SLICE`` texts.

        ``threat_words``, a list, gets each text's ``threat_words`` from the same pass, and ``tokens`` (with
        ``threat_words`` only) each text's ``tokens``: the archive scorer's threat and attack checks then read
        no text twice."""
        out = [
            self._batch(list(texts[i : i + BATCH_SLICE]), threat_words, tokens)
            for i in range(0, len(texts), BATCH_SLICE)
        ]
        return np.vstack(out) if out else np.zeros((0, self.n_classes))

    def _batch(
        self, texts: list[str], threat_words: list[set[str]] | None = None, tokens: list[list[str]] | None = None
    ) -> np.ndarray:
        if threat_words is None and self._scoring_rows is not None:  # a language model's: rows as bytes, one join
            found = [self._scoring_rows(t) for t in texts]
            sizes = [len(rows) // _ROW.itemsize for rows in found]
            features = np.frombuffer(b"".join(found), dtype=_ROW).astype(np.int64)
        else:
            if threat_words is None:
                per_text = [self.ids(t) for t in texts]
            else:
                gates: list[set[str]] = [set() for _ in texts]
                if tokens is None:
                    per_text = [self.ids(t, gate) for t, gate in zip(texts, gates, strict=True)]
                else:
                    seen: list[list[str]] = [[] for _ in texts]
                    per_text = [self.ids(t, gate, s) for t, gate, s in zip(texts, gates, seen, strict=True)]
                    tokens += seen
                threat_words += gates
            sizes = list(map(len, per_text))
            features = np.fromiter(chain.from_iterable(per_text), dtype=np.int64, count=sum(sizes))
        width = self.missing + 1
        keys = np.repeat(np.arange(len(texts), dtype=np.int64), sizes) * width + features
        keys, counts = np.unique(keys, return_counts=True)  # sorted: by text, then feature
        doc, feature = np.divmod(keys, width)
        tf = self.tfs(counts.astype(np.float64))
        rows = self.table.take(feature, axis=0) * tf[:, None]
        c = self.n_columns
        if self.norm == "l2":
            rows[:, c] *= tf  # Σ tf² idf²
        totals = np.zeros((len(texts), c + 1))
        if len(keys):
            starts = np.flatnonzero(np.r_[True, doc[1:] != doc[:-1]])
            totals[doc[starts]] = np.add.reduceat(rows, starts, axis=0)
        norm = np.sqrt(totals[:, c]) if self.norm == "l2" else totals[:, c]
        scale = np.ones(len(texts))
        if self.norm != "none":
            np.divide(1.0, norm, out=scale, where=norm > 0)
        return self.calibrate(self.intercept + totals[:, :c] * scale[:, None])

    # --- explaining --------------------------------------------------------------------------------

    def mean_weights(self) -> tuple[np.ndarray, np.ndarray]:
        """Per class, the folds' mean (coefficient × idf) per feature and mean intercept: the linear model
        whose margin is the mean of the folds' margins (features × classes, classes)."""
        cached = getattr(self, "_mean", None)
        if cached is None:
            c, k = self.n_columns, self.n_classes
            w = self.table[:, :c].reshape(-1, self.folds, k).mean(axis=1)
            cached = self._mean = (w, self.intercept.reshape(self.folds, k).mean(axis=0))
        return cached
