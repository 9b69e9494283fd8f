"""A model and its decision rule answering as ``/predict`` and ``/moderate`` do, without HTTP or stores.

The service answers through it (``hatespeech.service.api``), then records the answer (metrics, the
review queue, alerts); ``hatespeech.load()`` hands one to a program that imports the package. One
code path, so the library's answers are the service's.

>>> moderator = Moderator.load(Path("models/model.json"), max_text_chars=10_000, explain_max_spans=40)  # doctest: +SKIP
>>> moderator.moderate("I am going to kill you")["categories"]["threat"]                               # doctest: +SKIP
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hatespeech.core import attacks, threats
from hatespeech.core.classifier import Classifier
from hatespeech.core.explain import cap_explanation, score_and_explain
from hatespeech.core.policy import Moderation, Policy
from hatespeech.core.validate import check_text


class Moderator:
    """A verified model (``classifier``), its ``policy``, and the limits on what it is asked."""

    def __init__(self, classifier: Classifier, policy: Policy, *, max_text_chars: int, explain_max_spans: int) -> None:
        self.classifier = classifier
        self.policy = policy
        self.max_text_chars = max_text_chars  # MAX_TEXT_CHARS in the service
        self.explain_max_spans = explain_max_spans  # EXPLAIN_MAX_SPANS in the service

    @classmethod
    def load(
        cls,
        card_path: Path,
        thresholds: Mapping[str, Any] | None = None,
        *,
        max_text_chars: int,
        explain_max_spans: int,
    ) -> Moderator:
        """The model its card at ``card_path`` vouches for, with the card's thresholds (``thresholds``
        overrides any of them, as ``THRESHOLDS`` does); ``ModelError`` or ``PolicyError`` say why not."""
        classifier = Classifier.load(card_path)
        policy = Policy.from_card(classifier.card, thresholds)
        return cls(classifier, policy, max_text_chars=max_text_chars, explain_max_spans=explain_max_spans)

    def __repr__(self) -> str:
        return f"<Moderator: model {self.policy.model['version']} {self.policy.model['sha256'][:12]}>"

    @property
    def card(self) -> dict[str, Any]:
        """The model card: metrics, thresholds, data hash, library versions."""
        return self.classifier.card

    def predict(self, text: object) -> dict[str, float]:
        """``/predict``'s answer: the probability of each class (they sum to 1). ``InvalidText`` (a
        ``ValueError``) if ``text`` is not a string of 1 to ``max_text_chars`` characters with something in it."""
        return self.classifier.scores(check_text(text, self.max_text_chars))

    def moderate(self, text: object, explain: object = False) -> Moderation:
        """``/moderate``'s answer: scores, the decision (label, flagged, action, categories), the model;
        with ``explain=True``, the spans of ``text`` that moved each class's score."""
        return self.moderate_many([check_text(text, self.max_text_chars)], explain)[0]

    def scores(self, texts: Sequence[str]) -> list[list[float]]:
        """Probabilities per (checked) text, columns in ``LABELS`` order."""
        # One call for the whole batch: the vectorised path is far faster than one text at a time.
        return self.classifier.probabilities(texts).tolist() if texts else []

    def threat(self, text: str) -> dict[str, Any] | None:
        """The threat check (``hatespeech.core.threats``), reading ``text`` as the model reads it (its gate from
        the model's per-piece cache, warm once the text is scored)."""
        return threats.check_scored(self.classifier.model, text)

    def attack(self, text: str) -> dict[str, Any] | None:
        """The identity-attack check (``hatespeech.core.attacks``), reading ``text`` as the model reads it."""
        return attacks.check_scored(self.classifier.model, text)

    def moderate_many(self, texts: Sequence[str], explain: object) -> list[Moderation]:
        """``moderate`` for each of ``texts``, already checked (``hatespeech.core.validate.check_texts``)."""
        if not isinstance(explain, bool):
            raise ValueError("explain must be true or false")
        if not explain:
            answers = [self.policy.moderate(row) for row in self.scores(texts)]
        else:
            answers = []
            for text in texts:  # one pass over each text gives its scores and their explanation
                probabilities, explanation = score_and_explain(self.classifier.model, text)
                explanation = cap_explanation(explanation, self.explain_max_spans)
                answer = self.policy.moderate(probabilities)
                answer["explanation"] = explanation  # last, as the answer lists it
                answers.append(answer)
        model = self.classifier.model
        for text, answer in zip(texts, answers, strict=True):  # an attack or a threat goes to a person, whatever
            gate: set[str] = set()  # the scores; one more look at the model's per-piece cache serves both gates
            seen = model.tokens(text, gate)
            attacks.apply(answer, attacks.check_scored(model, text, seen))
            threats.apply(answer, threats.check_scored(model, text, gate))
        return answers
