"""Real words the glued-word reading must leave whole: "cockpit" is not "cock pit", "Middlesex" not
"middle sex", "therapist" not "the rapist".

The reader (``hatespeech.core.reader.Reader``) reads an unknown word as two glued words when both
halves are known ("whitetrash", "bitchI"). Whether a word is a real one is what a reader knows and
the training tweets do not: wordfreq's English list (word frequencies from Wikipedia, subtitles,
books, news, web text and social media; code Apache-2.0, data CC BY-SA 4.0, by Robyn Speer) is
asked at training time, and only the words that would split are kept in the model, so serving
needs no word list and no wordfreq.
"""

from __future__ import annotations

import math
from functools import lru_cache

from wordfreq import get_frequency_dict

from hatespeech.core.reader import MIN_COUNT, Reader

MIN_ZIPF = 1.0  # all of wordfreq's "large" English list (Zipf 1 = once per billion words)


@lru_cache(maxsize=1)
def english() -> tuple[str, ...]:
    """wordfreq's English words of 4 letters or more (a glued word's halves have 3 and 1 at least)."""
    found = get_frequency_dict("en", wordlist="large")
    return tuple(
        w for w, f in found.items() if len(w) >= 4 and w.isascii() and w.isalpha() and math.log10(f * 1e9) >= MIN_ZIPF
    )


def whole_words(counts: dict[str, int]) -> list[str]:
    """The English words a reader with these word counts would read as two glued words."""
    reader = Reader(counts)
    return sorted(w for w in english() if counts.get(w, 0) < MIN_COUNT and reader.glued(w) is not None)
