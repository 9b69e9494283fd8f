"""Real words the glued-word reading leaves whole (hatespeech/training/words.py)."""

from hatespeech.core.reader import Reader
from hatespeech.training.words import whole_words

COUNTS = {"cock": 40, "pit": 30, "the": 900, "rapist": 6, "middle": 50, "sex": 80, "white": 200, "trash": 40}


def test_the_english_words_that_would_split_are_kept_whole() -> None:
    whole = whole_words(COUNTS)
    assert {"cockpit", "therapist", "middlesex"} <= set(whole)
    assert "whitetrash" not in whole  # not a word: read as two
    assert whole == sorted(whole) and all(Reader(COUNTS).glued(w) is not None for w in whole)


def test_a_reader_with_them_reads_real_words_whole_and_glued_ones_as_two() -> None:
    reader = Reader(COUNTS, whole_words(COUNTS))
    assert reader.normalise("Cockpit therapist whitetrash") == "cockpit therapist white trash"
