"""Counterfactual identity augmentation (Dixon et al. 2018, "Measuring and Mitigating Unintended Bias").

A model trained on hate speech sees a group's name mostly in hateful posts, and learns that the name
itself is abusive: "I am gay" gets flagged. For each clean training text that names a group, copies
with the name swapped for other groups' names are added, labelled clean: every group then has the
same clean contexts, and the name alone stops being evidence. The words stay features (nothing is
deleted); only the data changes. This list is for training only and is not the identity evaluation set
(tests/data/identity), which is never trained on.
"""

from __future__ import annotations

import re

import numpy as np

from hatespeech.core.labels import LABELS

# Names of groups, each list interchangeable within itself ("the ___ community", "___ are people").
ADJECTIVES = (
    "black", "white", "asian", "latino", "hispanic", "mexican", "arab", "african", "chinese", "indian",
    "muslim", "jewish", "christian", "gay", "lesbian", "bisexual", "trans", "transgender", "queer",
    "disabled", "elderly", "immigrant", "refugee", "female",
)  # fmt: skip
PLURALS = (
    "asians", "latinos", "hispanics", "mexicans", "arabs", "africans", "muslims", "jews", "christians",
    "gays", "lesbians", "immigrants", "refugees", "women", "girls", "disabled people", "old people",
    "black people", "white people", "trans people", "gay people",
)  # fmt: skip
NEITHER = LABELS.index("neither")


def _pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    longest_first = sorted(words, key=len, reverse=True)  # "black people" before "black"
    return re.compile(r"\b(?:" + "|".join(re.escape(w) for w in longest_first) + r")\b", re.IGNORECASE)


_LISTS = ((PLURALS, _pattern(PLURALS)), (ADJECTIVES, _pattern(ADJECTIVES)))


def swaps(text: str, copies: int, rng: np.random.Generator) -> list[str]:
    """Up to ``copies`` versions of ``text`` with each group name swapped for another of its list.

    >>> swaps("proud of my gay brother", 2, np.random.default_rng(0))
    ['proud of my elderly brother', 'proud of my bisexual brother']
    """
    named = next(((words, pattern) for words, pattern in _LISTS if pattern.search(text)), None)
    if named is None:
        return []
    words, pattern = named

    def other(match: re.Match[str]) -> str:
        choices = [w for w in words if w != match.group().lower()]
        return choices[rng.integers(len(choices))]

    return list(dict.fromkeys(pattern.sub(other, text) for _ in range(copies)))


def counterfactuals(
    texts: list[str],
    labels: np.ndarray,
    weights: np.ndarray,
    copies: int,
    weight: float,
    seed: int,
    every_class: bool = False,
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The rows plus, for each clean row naming a group (each row, with ``every_class``), up to ``copies``
    swapped copies with the row's label, each weighted ``weight`` × the row's weight. With ``every_class``
    a group's name gets the same abusive contexts as the others too: what is said of it decides, not which
    group it is. Only the rows given are read: a fold is augmented from its own training rows."""
    rng = np.random.default_rng(seed)
    new_texts, new_labels, new_weights = [], [], []
    for text, label, w in zip(texts, labels.tolist(), weights.tolist(), strict=True):
        if label == NEITHER or every_class:
            found = swaps(text, copies, rng)
            new_texts += found
            new_labels += [label] * len(found)
            new_weights += [w * weight] * len(found)
    return (
        texts + new_texts,
        np.concatenate([labels, np.asarray(new_labels, dtype=labels.dtype)]),
        np.concatenate([weights, np.asarray(new_weights, dtype=float)]),
    )
