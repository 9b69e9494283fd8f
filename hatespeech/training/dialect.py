"""Dialect proportions of English tweets: Blodgett, Green and O'Connor's TwitterAAE model (EMNLP 2016).

For measuring dialect bias only (``bench/fairness.py``): the service never imports it. The model is
research data (MIT, ``../shared/data/twitteraae/``, see its readme.md), read from a folder given by
the caller; nothing of it is committed here.

The model is a mixed-membership ("topic") model with four dialect topics, columns in this order:
African-American, Hispanic, Asian and White aligned English (``DIALECTS``). For one text it
estimates the *proportion of its words* drawn from each topic, not who wrote it; the authors
validated only the African-American and White proportions.

Inference follows the authors' ``predict.py`` (``upstream-predict.py`` beside the model) step by
step: word probabilities (N_wk + 1) / N_k from the count table; the in-vocabulary tokens (looked
up lower-cased); no answer unless at least ``MIN_IN_VOCABULARY`` tokens and ``MIN_IN_VOCABULARY_SHARE``
of all tokens are in the vocabulary; then collapsed variational Bayes (CVB0) with alpha = 1 over 5
passes, each token's topic distribution initialised to its normalised word likelihoods.

Tokens: the authors tokenised with twokenize (O'Connor et al.'s Twitter tokenizer, ``twokenize.py``
in slanglab/twitteraae, not shipped with the model). ``tokens`` re-implements its rules here in
Python 3: HTML entities unescaped, whitespace squeezed, quotes and brackets split off word edges,
and whole tokens kept for URLs, e-mail addresses, times and numbers, emoticons, hearts and arrows,
runs of the same punctuation (``!!``, ``...``), abbreviations (``U.S.``), words with an inner
apostrophe (``ain't``), #hashtags and @mentions; anything else splits at spaces. Two
simplifications, neither of which changes a word token: the east-Asian emoticons (``^_^``-like
faces) are not recognised as one token, and a bare domain is a URL for common top-level domains only.
The authors' emoji cleaning (``emoji.py``) is not applied: the model's vocabulary holds emoji, so
the counts were taken with emoji as tokens.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path

import numpy as np

from hatespeech import config

DIALECTS = ("african_american", "hispanic", "asian", "white")  # the columns of ``proportions``, in the model's order
AFRICAN_AMERICAN, WHITE = DIALECTS.index("african_american"), DIALECTS.index("white")

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL_DIR = ROOT.parent / "shared" / "data" / "twitteraae"  # the team's research data, beside the checkout
VOCABULARY_FILE, COUNTS_FILE = "model_vocab.txt", "model_count_table.txt"

# predict.py's defaults: thresh1, thresh2, alpha, numpasses
MIN_IN_VOCABULARY = 1
MIN_IN_VOCABULARY_SHARE = 0.2
ALPHA = 1.0
PASSES = 5


def model_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """``path``, else ``DIALECT_MODEL_DIR`` from the environment, else ``../shared/data/twitteraae``."""
    return Path(path or config.dialect_model_dir() or DEFAULT_MODEL_DIR)


# --- tokens (twokenize's rules) -----------------------------------------------------------------


def _either(*patterns: str) -> str:
    return "(?:" + "|".join(patterns) + ")"


_PUNCTUATION = r"['\"“”‘’.?!…,:;]"
_ENTITY = r"&(?:amp|lt|gt|quot);"
_DOMAIN = r"\b[A-Za-z\d-]+(?:\.[A-Za-z0-9]+){0,3}\.(?:com|org|net|edu|gov|co|uk|us|ly|me)(?=\W|$)"
_URL = (
    _either(r"https?://", r"\bwww\.", _DOMAIN)
    + r"(?:[^.\s<>][^\s<>]*?)?"  # the body, lazily: trailing punctuation is not part of the URL
    + r"(?=" + _either(_PUNCTUATION, _ENTITY) + r"*?" + _either(r"\.\.+", r"[<>]", r"\s", r"$") + ")"
)  # fmt: skip
_EMAIL = r"(?:(?<=\W)|^)[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,4}(?=\W|$)"
# Times (12:53) and numbers with commas (1,000,000). twokenize.py also has a rule for decimals
# ($4.99), but in its Python port the pattern is escaped twice and matches a literal backslash, so
# the model's tokens split 4.99 as 4 . 99: it is left out here, to split the same way.
_NUMBERS = _either(r"\d+(?::\d+){1,2}", r"(?:(?<!\d)\d{1,3},)+?\d{3}(?=[^,\d]|$)")
_MOUTH_AFTER = r"(?=\W|$|RT|rt|Rt)"
_HAPPY, _SAD, _OTHER = r"[D)\]}]+", r"[(\[{]+", r"(?:[oO]+|[/\\]+|[vV]+|[Ss]+|[|]+)"
_NOSE = r"(?:|-|[^a-zA-Z0-9 ])"
_EMOTICON = _either(
    r"(?:>|&gt;)?[:=;]"
    + _either(_NOSE, "[Oo]")
    + _either("[pPd3]+" + _MOUTH_AFTER, _OTHER + _MOUTH_AFTER, _SAD, _HAPPY),
    r"(?:(?<= )|^)" + _either(_SAD, _HAPPY, _OTHER) + _NOSE + r"[:=;](?:<|&lt;)?",  # reversed, (:
    r"(?:--['\"])",
    r"(?:<|&lt;|>|&gt;)[._-]+(?:<|&lt;|>|&gt;)",  # >_<
    r"(?:[.][_]+[.])",
    r"(?:[oO](?:[.]|[_-]+)[oO])",  # o.O
)
_HEARTS = r"(?:<+/?3+)+"
_ARROWS = _either(r"(?:<*[-―—=]*>+|<+[-―—=]*>*)", r"[\u2190-\u21ff]+")
_PUNCTUATION_RUN = r"['\"“”‘’]+|[.?!,…]+|[:;]+"  # 'anthem'. → ' anthem ' .
_BOUNDARY_NOT_DOT = _either("$", r"\s", r"[“\"?!,:;]", _ENTITY)
_ABBREVIATIONS = _either(
    r"(?:[A-Za-z]\.){2,}(?=" + _BOUNDARY_NOT_DOT + ")",  # U.S.
    r"[^A-Za-z](?:[A-Za-z]\.){1,}[A-Za-z](?=" + _BOUNDARY_NOT_DOT + ")",
    r"\b(?:[Mm]r|[Mm]rs|[Mm]s|[Dd]r|[Ss]r|[Jj]r|[Rr]ep|[Ss]en|[Ss]t)\.",
)
_SEPARATORS = r"(?:--+|―|—|~|–|=)"
_DECORATIONS = r"(?:[♫♪]+|[★☆]+|[♥❤♡]+|[\u2639-\u263b]+|[\ue001-\uebbb]+)"
_INNER_APOSTROPHE = r"[^\s.,?\"]+['’′][^\s.,?\"]*"  # ain't, y'all
_HASHTAG, _MENTION = r"#[a-zA-Z0-9_]+", r"[@＠][a-zA-Z0-9_]+"

# Spans never split further; the text between them splits at spaces. The order is twokenize's: the
# first alternative that matches at a position wins.
_PROTECTED = re.compile(
    _either(
        _HEARTS,
        _URL,
        _EMAIL,
        _NUMBERS,
        _EMOTICON,
        _ARROWS,
        _ENTITY,
        _PUNCTUATION_RUN,
        _ABBREVIATIONS,
        _SEPARATORS,
        _DECORATIONS,
        _INNER_APOSTROPHE,
        _HASHTAG,
        _MENTION,
    )
)
_EDGE = "['\"“”‘’«»{}()\\[\\]*&]"  # quotes, brackets, * and & come off a word's edges: 'foo' → ' foo '
_OFF_EDGE = r"(^|$|:|;|\s|\.|,)"
_EDGE_LEFT = re.compile(_OFF_EDGE + "(" + _EDGE + "+)([a-zA-Z0-9])")
_EDGE_RIGHT = re.compile("([a-zA-Z0-9])(" + _EDGE + "+)" + _OFF_EDGE)
_WHITESPACE = re.compile("[\\s\u0020\u00a0\u1680\u180e\u202f\u205f\u3000\u2000-\u200a]+")


def tokens(text: str) -> list[str]:
    """The tokens of a raw tweet as twokenize's ``tokenizeRawTweetText`` finds them (see the module's docstring)."""
    text = html.unescape(text.replace("&amp;", "&"))  # tweets come HTML-escaped, sometimes twice
    text = _WHITESPACE.sub(" ", text).strip()
    text = _EDGE_RIGHT.sub(r"\1 \2\3", _EDGE_LEFT.sub(r"\1\2 \3", text))
    found, start = [], 0
    for match in _PROTECTED.finditer(text):
        if match.start() == match.end():
            continue
        found += text[start : match.start()].split(" ")
        found.append(match.group())
        start = match.end()
    found += text[start:].split(" ")
    return [token.strip() for token in found if token.strip()]


# --- the model ---------------------------------------------------------------------------------


class Model:
    """The four topics' word probabilities and the vocabulary, from the model's two files."""

    def __init__(self, folder: Path) -> None:
        missing = [name for name in (VOCABULARY_FILE, COUNTS_FILE) if not (folder / name).is_file()]
        if missing:
            raise FileNotFoundError(
                f"No TwitterAAE model in {folder} (missing {', '.join(missing)}): pass its folder, or set "
                "DIALECT_MODEL_DIR (Blodgett et al. 2016, github.com/slanglab/twitteraae, MIT)"
            )
        counts = np.loadtxt(folder / COUNTS_FILE)  # N_wk: one row per word, one column per topic
        self.word_probabilities = (counts + 1) / counts.sum(axis=0)
        with open(folder / VOCABULARY_FILE, encoding="utf-8") as f:
            vocabulary = [line.split("\t")[-1].strip() for line in f]
        if len(vocabulary) != len(counts):
            raise ValueError(f"{folder}: {len(vocabulary)} words but {len(counts)} rows of counts")
        self.index = {word: i for i, word in enumerate(vocabulary)}  # a repeated word: its last row, as upstream

    def predict(self, words: Sequence[str]) -> np.ndarray | None:
        """The topic proportions of one tokenised text, or None when too few of its tokens are known."""
        known = [self.index[w.lower()] for w in words if w.lower() in self.index]
        if len(known) < MIN_IN_VOCABULARY or len(known) / len(words) < MIN_IN_VOCABULARY_SHARE:
            return None
        return self._cvb0(known)

    def _cvb0(self, rows: list[int]) -> np.ndarray:
        likelihood = self.word_probabilities[rows]
        likelihood = likelihood / likelihood.sum(axis=1, keepdims=True)
        q = likelihood.copy()  # each token's topic distribution
        total = q.sum(axis=0)
        for _ in range(1, PASSES):
            for i in range(len(rows)):  # token by token: each update sees the others' latest
                total -= q[i]
                q[i] = likelihood[i] * (total + ALPHA)
                q[i] /= q[i].sum()
                total += q[i]
        return total / total.sum()


@cache
def load(folder: Path) -> Model:
    """The model in ``folder``, read once per process (reading the count table takes seconds)."""
    return Model(folder)


def proportions(texts: Iterable[str], folder: str | os.PathLike[str] | None = None) -> np.ndarray:
    """One row per text: the proportions of its words from each dialect topic, columns ``DIALECTS``
    (African-American, Hispanic, Asian, White), summing to 1; a row of NaN where the model gives no
    answer (no token, or under 20% of the tokens in its vocabulary). ``folder``: see ``model_dir``."""
    model = load(model_dir(folder).resolve())
    rows = [model.predict(tokens(text)) for text in texts]
    result = np.full((len(rows), len(DIALECTS)), np.nan)
    for i, row in enumerate(rows):
        if row is not None:
            result[i] = row
    return result
