"""Tweet-aware text normalisation: the first step of the persisted pipeline.

It lives inside the pipeline (not in the caller) so that training and serving cannot disagree.
It is stateless and deterministic.

>>> normalise("RT @user: Sooooo &amp; coool!!! https://t.co/x")
'mentionhere soo and cool urlhere'
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

from sklearn.base import BaseEstimator, TransformerMixin

TOKEN_PATTERN = r"(?u)\b\w\w+\b"  # scikit-learn's default word tokenizer, named once here
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MENTION = re.compile(r"@\w+")
_RETWEET = re.compile(r"\brt\b")
_REPEAT = re.compile(r"(\w)\1{2,}")  # 3+ of a letter become 2: "coooool" -> "cool"
_NON_WORD = re.compile(r"[^\w#]+")
_AMP = re.compile(r"&")


def normalise(text: str) -> str:
    """Lower-case, unescape HTML, replace URLs and mentions by placeholders, squash repeats."""
    text = html.unescape(text)
    text = _URL.sub(" urlhere ", text)
    text = _MENTION.sub(" mentionhere ", text)
    text = text.lower()
    text = _RETWEET.sub(" ", text)
    text = _AMP.sub(" and ", text)
    text = _REPEAT.sub(r"\1\1", text)
    text = _NON_WORD.sub(" ", text)
    return " ".join(text.split())


class Normaliser(TransformerMixin, BaseEstimator):
    """``normalise`` as a scikit-learn step (nothing to fit)."""

    def fit(self, X: Iterable[str], y: object = None) -> Normaliser:  # noqa: N803 (sklearn's name)
        return self

    def transform(self, X: Iterable[str]) -> list[str]:  # noqa: N803
        return [normalise(text) for text in X]
