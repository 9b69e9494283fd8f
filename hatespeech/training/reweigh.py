"""Dialect reweighing: stop the labels' dialect skew from becoming the model's.

Davidson et al.'s annotators labelled tweets written in African-American English (AAE) offensive far
more often than others (Davidson, Bhattacharya & Weber 2019; Sap et al. 2019), so the words of the
dialect itself become evidence of abuse, and clean AAE posts get flagged. Reweighing (Kamiran & Calders
2012, "Data preprocessing techniques for classification without discrimination") gives each row the
weight that makes its label independent of its dialect group in the weighted data:

    w(group, label) = P(group) P(label) / P(group, label)

so the few clean AAE-aligned rows count for more, and the many abusive ones for a little less. Nothing is
deleted and no word is removed from the features; the labels stay as the annotators gave them.

The group is Blodgett et al.'s TwitterAAE proportion (``hatespeech.training.dialect``, training code
only: the service never computes it) of at least ``ALIGNED``, the same line ``bench/fairness.py``
measures with. ``strength`` between 0 and 1 takes the weights to that power: 1 is full reweighing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from hatespeech.core.labels import LABELS
from hatespeech.training import dialect
from hatespeech.training.pipeline import Prepare

ALIGNED = 0.6  # as bench/fairness.py
NEITHER = LABELS.index("neither")
MAX_FACTOR = 10.0  # a rare (group, label) cell may not outweigh its rows tenfold: its few rows are noisy

# text → 1 AAE-aligned, 0 White-aligned, -1 neither: inference is slow (seconds per thousand) and each fold asks again
_aligned: dict[str, int] = {}


def dialect_groups(texts: Sequence[str]) -> np.ndarray:
    """Per text: 1 if its African-American-aligned proportion is at least ``ALIGNED``, 0 if its White-aligned
    one is, else -1 (no answer included)."""
    todo = [t for t in dict.fromkeys(texts) if t not in _aligned]
    if todo:
        p = np.nan_to_num(dialect.proportions(todo))
        groups = np.where(p[:, dialect.AFRICAN_AMERICAN] >= ALIGNED, 1, np.where(p[:, dialect.WHITE] >= ALIGNED, 0, -1))
        _aligned.update(zip(todo, groups.tolist(), strict=True))
    return np.array([_aligned[t] for t in texts], dtype=int)


def aae_aligned(texts: Sequence[str]) -> np.ndarray:
    """Whether each text's African-American-aligned proportion is at least ``ALIGNED`` (no answer: no)."""
    return dialect_groups(texts) == 1


def factors(groups: np.ndarray, labels: np.ndarray, weights: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """Each row's factor: ``(P(group) P(label) / P(group, label)) ** strength`` in the weighted data, at most
    ``MAX_FACTOR`` and at least its inverse.

    >>> factors(np.array([1, 1, 1, 0, 0, 0]), np.array([1, 1, 2, 1, 2, 2]), np.ones(6)).round(2).tolist()
    [0.75, 0.75, 1.5, 1.5, 0.75, 0.75]
    """
    total = weights.sum()
    result = np.ones(len(labels))
    if total <= 0:
        return result
    for g in (False, True):
        in_group = groups == g
        p_group = weights[in_group].sum() / total
        for label in np.unique(labels):
            cell = in_group & (labels == label)
            p_cell = weights[cell].sum() / total
            if p_cell > 0:
                p_label = weights[labels == label].sum() / total
                result[cell] = (p_group * p_label / p_cell) ** strength
    return np.clip(result, 1 / MAX_FACTOR, MAX_FACTOR)


# --- label noise: in-group address read as abuse -------------------------------------------------
#
# Sap et al. 2019 ("The Risk of Racial Bias in Hate Speech Detection") found Davidson et al.'s
# annotators labelled AAE tweets offensive far more often, much of it for in-group address ("my
# nigga"); Zhou et al. 2021 ("Challenges in Automated Debiasing for Toxic Language Detection") relabel
# such rows, Xia et al. 2020 ("Demoting Racial Bias in Hate Speech Detection") demote the dialect's
# signal. Here: an abusive row written in AAE whose *only* abusive cue is an in-group address term is
# treated as possible label noise and weighed down (or relabelled clean). Both lists are ours, short on
# purpose: a row with any other cue (a slur, profanity, an insult) keeps its label and weight.
IN_GROUP = frozenset(["nigga", "niggas", "niggaz", "nigguh", "niggah", "nicca", "niccas", "niqqa", "niqqas"])
OTHER_CUES = re.compile(
    r"^(?:bitch\w*|hoe?s?|hoez|fuck\w*|shit\w*|ass|asses|(?:dumb|bad|jack|smart|hard|big|lame|broke)ass|pussy\w*|dick\w*|cunt\w*|fag\w*|nigger\w*|"
    r"retard\w*|whore\w*|slut\w*|thot\w*|bastard\w*|damn\w*|kill\w*|die|dead|stupid|idiot\w*|dumb\w*|"
    r"trash|ugly|fat|gay|dyke\w*|tranny|queer|coon\w*|spic\w*|chink\w*|wetback\w*|kike\w*|muzzie\w*|"
    r"gook\w*|cracker\w*|savage\w*|ape\w*|monkey\w*|wh?ite trash|hate\w*)$"
)
_WORDS = re.compile(r"[a-z]+")


def in_group_only(texts: Sequence[str]) -> np.ndarray:
    """Whether each text holds an in-group address term (``IN_GROUP``) and no other abusive cue (``OTHER_CUES``).

    >>> in_group_only(["my nigga came thru", "my nigga is a bitch", "nice day"]).tolist()
    [True, False, False]
    """
    result = np.zeros(len(texts), dtype=bool)
    for i, text in enumerate(texts):
        words = _WORDS.findall(text.lower())
        result[i] = any(w in IN_GROUP for w in words) and not any(
            OTHER_CUES.match(w) for w in words if w not in IN_GROUP
        )
    return result


def relabelling(
    prepare: Prepare | None, in_group: float = 1.0, relabel: bool = False, aae_clean: float = 1.0
) -> Prepare | None:
    """``prepare`` (a recipe's, or None) after the dialect-aware label-noise handling, on the texts as written:

    - abusive rows that are AAE-aligned and whose only cue is in-group address: weight × ``in_group``, and
      labelled clean if ``relabel`` (Zhou et al. 2021);
    - clean AAE-aligned rows: weight × ``aae_clean`` (more of the clean dialect the annotators saw).
    """
    if in_group == 1.0 and not relabel and aae_clean == 1.0:
        return prepare

    def prepared(texts: list[str], labels: np.ndarray, weights: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray]:
        aae = aae_aligned(texts)
        labels, weights = labels.copy(), weights.astype(float)
        noisy = aae & (labels != NEITHER) & in_group_only(texts)
        weights[noisy] *= in_group
        if relabel:
            labels[noisy] = NEITHER
        weights[aae & (labels == NEITHER) & ~noisy] *= aae_clean
        return (texts, labels, weights) if prepare is None else prepare(texts, labels, weights)

    return prepared
