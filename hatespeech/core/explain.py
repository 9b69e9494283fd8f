"""Why the model scored a text so: the exact contribution of each part of the text, per class.

The model is linear before calibration: for class k its margin is ``b_k + Σ_f x_f · w_kf`` (the
TF-IDF value of each feature times its weight; with several calibration folds, the mean of the
folds' margins, which is the margin of the mean weights). Each feature is a word n-gram, and each
word comes from a place in the text, so the margin splits *exactly* into contributions of spans
of the original text, with no approximation: ``intercept + Σ contributions == margin`` (to
rounding, ~1e-15). A feature that occurs more than once has its one TF-IDF value shared equally
between its occurrences.

Offsets are into the text as sent, whatever normalisation did (HTML entities, URLs, mentions,
repeated letters, case): ``hatespeech.core.reader.Reader.tokens`` says which characters each normalised word
came from. Everything is read from the compiled model (vocabulary, n-gram range, weights), so a
retrained model needs no change here.

>>> explain(model, "you are a stupid idiot")["spans"][0]                  # doctest: +SKIP
{'start': 10, 'end': 16, 'text': 'stupid', 'class': 'hate speech', 'contribution': 0.41...}
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from hatespeech.core.labels import LABELS
from hatespeech.core.model import CompiledModel


def explain(model: CompiledModel, text: str) -> dict[str, Any]:
    """Per class, ``intercept`` and ``margin``; and ``spans``: each part of ``text`` with its contribution.

    ``spans`` is sorted by position; each has ``start``/``end`` (offsets into ``text``),
    ``text`` (``text[start:end]``), ``class`` and ``contribution``. For every class,
    ``intercept + Σ contributions == margin``. Parts that match no feature of the model are absent.
    ``idioms``, present when the text has any: each known idiom (``hatespeech.core.idioms``) whose violent
    word the model did not count as one ("kill for a coffee"), with its ``start``/``end``/``text``.
    """
    return score_and_explain(model, text)[1]


def score_and_explain(model: CompiledModel, text: str) -> tuple[list[float], dict[str, Any]]:
    """The probabilities (exactly ``model.proba_one(text)``) and the explanation, from one pass over the text."""
    weights, intercepts = model.mean_weights()
    tokens, phrases = model.reader.tokens_and_idioms(text)
    kept = [(token, i) for i, t in enumerate(tokens) for token in model.analyse((t.text,))]

    places: dict[int, list[tuple[int, int]]] = defaultdict(list)  # feature → (start, end) of each occurrence
    ids: list[int] = []
    low, high = model.ngram
    for n in range(low, high + 1):
        for j in range(len(kept) - n + 1):
            window = kept[j : j + n]
            feature = model.vocab.get(" ".join(token for token, _ in window))
            if feature is not None:
                ids.append(feature)
                places[feature].append((tokens[window[0][1]].start, tokens[window[-1][1]].end))

    total, scale = model.sums_of(ids)
    totals: dict[tuple[int, int], list[float]] = defaultdict(lambda: [0.0] * len(LABELS))
    margins = intercepts.tolist()
    for feature, occurrences in places.items():
        value = model.tf(len(occurrences)) * scale  # its TF-IDF value is value × idf; idf is in the weights
        row = weights[feature].tolist()
        share = value / len(occurrences)
        for span in occurrences:
            totals[span] = [t + share * w for t, w in zip(totals[span], row, strict=True)]
        margins = [m + value * w for m, w in zip(margins, row, strict=True)]

    spans = [
        {"start": start, "end": end, "text": text[start:end], "class": label, "contribution": c[k]}
        for (start, end), c in sorted(totals.items())
        for k, label in enumerate(LABELS)
        if c[k] != 0.0
    ]
    explanation = {
        "classes": {label: {"intercept": float(intercepts[k]), "margin": margins[k]} for k, label in enumerate(LABELS)},
        "spans": spans,
    }
    if phrases:  # said only when there are some: most texts have none
        explanation["idioms"] = [{"start": p.start, "end": p.end, "text": p.text} for p in phrases]
    return model.proba_from_sums(total, scale), explanation


SPAN_TEXT_CHARS = 100  # a span's "text" in an explanation is cut to this (its start and end stay exact)


def cap_explanation(explanation: dict[str, Any], max_spans: int) -> dict[str, Any]:
    """At most ``max_spans`` spans per answer (``EXPLAIN_MAX_SPANS``), so an answer's size is bounded
    whatever the text: the spans with the largest contributions, in text order; the others summed
    per class in ``omitted``, so that for every class intercept + Σ spans + omitted == margin still
    holds. A span's ``text`` is cut to ``SPAN_TEXT_CHARS`` (a normalised word can stand for 10,000
    characters). Uncapped, a 50 KB batch answers some 4.8 MB.

    >>> e = {"classes": {}, "spans": [{"text": "a", "class": "neither", "contribution": c} for c in (0.1, -0.5, 0.2)]}
    >>> capped = cap_explanation(e, 2)
    >>> [s["contribution"] for s in capped["spans"]], capped["omitted"]
    ([-0.5, 0.2], {'spans': 1, 'contribution': {'neither': 0.1}})
    """
    spans = explanation["spans"]
    long = any(len(s["text"]) > SPAN_TEXT_CHARS for s in spans)
    if len(spans) <= max_spans and not long:
        return explanation
    ranked = sorted(range(len(spans)), key=lambda i: -abs(spans[i]["contribution"]))
    omitted: dict[str, float] = {}
    for i in ranked[max_spans:]:
        omitted[spans[i]["class"]] = omitted.get(spans[i]["class"], 0.0) + spans[i]["contribution"]
    kept = [dict(spans[i]) for i in sorted(ranked[:max_spans])]
    for span in kept:
        if len(span["text"]) > SPAN_TEXT_CHARS:
            span["text"] = span["text"][: SPAN_TEXT_CHARS - 1] + "…"
    capped = {**explanation, "spans": kept}
    if len(spans) > max_spans:
        capped["omitted"] = {"spans": len(spans) - max_spans, "contribution": omitted}
    return capped
