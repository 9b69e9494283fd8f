"""Models and their decision rules answering as ``/predict`` and ``/moderate`` do, without HTTP or stores.

The service answers through it (``hatespeech.service.api``), then records the answer (metrics, the
review queue, alerts); ``hatespeech.load()`` hands one to a program that imports the package. One
code path, so the library's answers are the service's.

Every text's language is identified first (``hatespeech.core.language``), and the text is judged by the
model of its language (``judged_as``: English whenever identification is in doubt); ``Languages`` holds the
models of the languages other than English. Every answer says ``language`` (ISO 639-1, or ``und``) and
``language_supported``; ``model`` names the ``language`` of the model that judged it.

- A post mixing languages (``Language.also``) is judged by the model of each supported language present:
  its answer is its own language's, raised to the worst action of the others, whose reasons join it
  (each naming its ``language``).
- The threat and identity-attack checks read English, and run on every post whatever its language, after
  the judgement: an English threat inside a German post is caught as in an English one (identification must
  not open a way around them). Their English patterns match next to nothing in other languages: 1 post of
  18,644 ToLD-Br posts judged as Portuguese, none of GermEval 2018's test, BEEP's dev or MLMA's French ones.
- A language without a model (French, Hindi…) is not judged: ``action`` is ``Languages.unsupported_action``
  (``UNSUPPORTED_LANGUAGE_ACTION``: allow or review), ``label`` ``neither``, ``categories`` empty, and an
  ``unsupported language`` reason says why. Its ``scores`` are the English model's, what ``/predict``
  answers for it (the three-key contract, as before languages were told apart): no decision is drawn from
  them. When a supported language is present too, that part is judged and the worst action wins.

>>> moderator = Moderator.load(Path("models/model.json"), max_text_chars=10_000, explain_max_spans=40)  # doctest: +SKIP
>>> moderator.moderate("I am going to kill you")["categories"]["threat"]                               # doctest: +SKIP
True
"""

from __future__ import annotations

import contextlib
import ctypes
import re
import threading
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, cast

from hatespeech.core import attacks, threats
from hatespeech.core.classifier import Classifier
from hatespeech.core.explain import cap_explanation, score_and_explain
from hatespeech.core.labels import LABELS, NEITHER
from hatespeech.core.language import ENGLISH, MIN_LETTERS, UNDETERMINED, Language, identify
from hatespeech.core.model import CompiledModel
from hatespeech.core.modelfile import ModelError, check_vouched, load_compiled, read_card
from hatespeech.core.policy import ACTION_RANK, ALLOW, REVIEW, LanguageReason, Moderation, Policy, Reason, is_flagged
from hatespeech.core.text import CONFUSABLES, fold
from hatespeech.core.validate import check_text

UNSUPPORTED: Final = "unsupported language"  # the reason's category
_CODE = re.compile(r"[a-z]{2}")  # ISO 639-1
_WORD = re.compile(r"[a-z']+")
# Common English words that are not common words of the other languages identified (not "is", "was", "so", "a"…)
_ENGLISH_WORDS = frozenset(
    " ".join(
        (
            "the you your you're u ur are and of my this that what they not have with just like when if be all get",
            "don't dont i'm im it's ain't lol fuck fucking shit bitch bitches hoe hoes ass pussy fag faggot nigga",
            "niggas nigger",  # the library still decides: these only choose the sentences it is asked about
        )
    ).split()
)
MAX_IDENTIFIED = 32  # sentences of one post given to the library, at most (each ~0.15 ms)
_SENTENCE = re.compile(r"[^.!?\n]+[.!?\n]*")  # a run up to and including its . ! ? or line breaks
LOAD_AT_START, LOAD_ON_FIRST_USE = "start", "first-use"  # LANGUAGE_MODELS_LOAD's choices (``Languages.load``)


def _give_back_freed_memory() -> None:
    """Return the heap's free pages to the system (glibc's ``malloc_trim``; elsewhere nothing): a model's load frees
    its temporaries (the file's bytes, the vocabulary as one fixed-width array), but glibc keeps most of them, and
    a worker that loaded three languages on first use held 23 MB more than one that loaded them at start (6 MB
    more at start)."""
    with contextlib.suppress(AttributeError, OSError):  # not glibc
        ctypes.CDLL(None).malloc_trim(0)


class ModelUnavailable(ModelError):
    """A language model verified at start failed to load on its first post: its posts get an error, never a
    guess (the service answers 503), until the file is fixed and the service restarted."""


class DeferredClassifier(Classifier):
    """A language's ``Classifier`` whose card and file were verified at start (``Languages.load``), its arrays
    loaded on the first post that needs them: once, under this language's own lock (another language's post, or
    an English one, never waits for it), verified again as at start (card, sha256, probes). A load that fails
    raises ``ModelUnavailable`` then and for every later post: the file is not read again on each one."""

    def __init__(self, card_path: Path, card: dict[str, Any]) -> None:
        self.card = card
        self.card_path = card_path
        self._model: CompiledModel | None = None
        self._failed: ModelUnavailable | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def model(self) -> CompiledModel:
        found = self._model
        if found is None:
            found = self._load()
        return found

    @model.setter
    def model(self, value: CompiledModel) -> None:
        self._model = value

    def _load(self) -> CompiledModel:
        with self._lock:
            if self._model is None and self._failed is None:
                try:
                    # Not warmed: that would cost the first post 0.3–0.7 s more (German, Portuguese) for ~30% off the
                    # next few hundred posts'; at start, a preloaded master's warm caches are shared by every worker.
                    model, card = load_compiled(self.card_path, warm=False)
                    if card["sha256"] != self.card["sha256"]:
                        raise ModelError(f"{self.card_path} names another model file than at start")
                    self._model = model
                    _give_back_freed_memory()
                except ModelError as err:
                    self._failed = ModelUnavailable(
                        f"the {self.card.get('data', {}).get('language')!r} model failed to load on its first post: "
                        f"{err} (restart the service once it is fixed)"
                    )
            if self._failed is not None:
                raise self._failed
            assert self._model is not None
            return self._model


@dataclass(frozen=True)
class Judge:
    """One language's verified model and its decision rule (its card's thresholds: ``THRESHOLDS`` is English's)."""

    classifier: Classifier
    policy: Policy


class Languages:
    """The models of the languages other than English, by ISO 639-1 code, and the action for a post in a
    language with no model (``allow`` or ``review``: never ``block`` on no judgement).

    >>> Languages().supported("en"), Languages().supported("fr")
    (True, False)
    """

    def __init__(self, judges: Mapping[str, Judge] | None = None, unsupported_action: str = ALLOW) -> None:
        if unsupported_action not in (ALLOW, REVIEW):
            raise ValueError(f"the action for an unsupported language is allow or review, not {unsupported_action!r}")
        self.judges = dict(judges or {})
        self.unsupported_action = unsupported_action

    @classmethod
    def load(cls, folder: Path, unsupported_action: str = ALLOW, load: str = LOAD_AT_START) -> Languages:
        """Every model card (``*.json``) in ``folder``, each verified as the English model is (card, hashes,
        probes) and filed under the language its card's ``data.language`` names; none if ``folder`` does
        not exist. A card that fails raises ``ModelError`` (or ``PolicyError``) naming it: a language is
        served by its model or the service does not start, never silently judged by the English one.

        ``load`` (``LANGUAGE_MODELS_LOAD``): ``start`` loads each model now; ``first-use`` checks each card and its
        file's sha256 now (a bad card or file still stops the start) and loads the model on its language's
        first post (``DeferredClassifier``), when its probes are checked."""
        if load not in (LOAD_AT_START, LOAD_ON_FIRST_USE):
            raise ValueError(f"language models load at {LOAD_AT_START} or on {LOAD_ON_FIRST_USE}, not {load!r}")
        judges: dict[str, Judge] = {}
        cards = sorted(folder.glob("*.json")) if folder.is_dir() else []
        for card_path in cards:
            classifier: Classifier
            if load == LOAD_AT_START:
                classifier = Classifier.load(card_path)
            else:
                card = read_card(card_path)
                check_vouched(card_path, card["model_file"], card["sha256"], card["size_bytes"])
                classifier = DeferredClassifier(card_path, card)
            data = classifier.card.get("data")
            code = data.get("language") if isinstance(data, dict) else None
            if not isinstance(code, str) or not _CODE.fullmatch(code) or code == ENGLISH:
                raise ModelError(
                    f"The language model card {card_path} names no language other than English in data.language "
                    f"(found {code!r:.20}): retrain it (`python train.py --language CODE`) or move it out of {folder}."
                )
            if code in judges:
                raise ModelError(f"{folder} holds two models for {code!r}: keep one card for each language.")
            judges[code] = Judge(classifier, Policy.from_card(classifier.card))
        if judges and load == LOAD_AT_START:
            _give_back_freed_memory()
        return cls(judges, unsupported_action)

    def supported(self, code: str) -> bool:
        """A model judges posts in ``code``."""
        return code == ENGLISH or code in self.judges

    @property
    def codes(self) -> list[str]:
        """The languages judged: English first."""
        return [ENGLISH, *sorted(self.judges)]


class Moderator:
    """A verified model (``classifier``), its ``policy``, the other languages' models (``languages``), and the
    limits on what it is asked."""

    def __init__(
        self,
        classifier: Classifier,
        policy: Policy,
        *,
        max_text_chars: int,
        explain_max_spans: int,
        languages: Languages | None = None,
    ) -> None:
        self.classifier = classifier
        self.policy = policy
        self.max_text_chars = max_text_chars  # MAX_TEXT_CHARS in the service
        self.explain_max_spans = explain_max_spans  # EXPLAIN_MAX_SPANS in the service
        self.languages = languages or Languages()  # a promoted English model is served with the same ones
        self._english = Judge(classifier, policy)  # made once: asked for on every English text

    @classmethod
    def load(
        cls,
        card_path: Path,
        thresholds: Mapping[str, Any] | None = None,
        *,
        max_text_chars: int,
        explain_max_spans: int,
        languages: Languages | None = None,
    ) -> Moderator:
        """The model its card at ``card_path`` vouches for, with the card's thresholds (``thresholds``
        overrides any of them, as ``THRESHOLDS`` does); ``ModelError`` or ``PolicyError`` say why not."""
        classifier = Classifier.load(card_path)
        policy = Policy.from_card(classifier.card, thresholds)
        return cls(
            classifier, policy, max_text_chars=max_text_chars, explain_max_spans=explain_max_spans, languages=languages
        )

    def __repr__(self) -> str:
        return f"<Moderator: model {self.policy.model['version']} {self.policy.model['sha256'][:12]}>"

    @property
    def card(self) -> dict[str, Any]:
        """The model card: metrics, thresholds, data hash, library versions."""
        return self.classifier.card

    def judge(self, code: str) -> Judge:
        """The model and rule of the language ``code`` (a supported one; English for any other)."""
        found = self.languages.judges.get(code)
        if found is not None:
            return found
        if self._english.policy is not self.policy or self._english.classifier is not self.classifier:
            self._english = Judge(self.classifier, self.policy)  # reassigned since (a test may set the policy)
        return self._english

    def predict(self, text: object) -> dict[str, float]:
        """``/predict``'s answer: the probability of each class (they sum to 1), by the model of the text's
        language (the English one for a language without a model). ``InvalidText`` (a ``ValueError``) if
        ``text`` is not a string of 1 to ``max_text_chars`` characters with something in it."""
        checked = check_text(text, self.max_text_chars)
        return self.judge(identify_post(checked).judged_as).classifier.scores(checked)

    def predict_many(self, texts: Sequence[str]) -> list[list[float]]:
        """``predict``'s probabilities for each (checked) text, columns in ``LABELS`` order, one batch per language."""
        rows: list[list[float]] = [[] for _ in texts]
        for code, indices in _grouped([identify_post(t).judged_as for t in texts]).items():
            scored = self.judge(code).classifier.probabilities([texts[i] for i in indices]).tolist()
            for i, row in zip(indices, scored, strict=True):
                rows[i] = row
        return rows

    def moderate(self, text: object, explain: object = False) -> Moderation:
        """``/moderate``'s answer: scores, the decision (label, flagged, action, categories), the model, the
        language; with ``explain=True``, the spans of ``text`` that moved each class's score."""
        return self.moderate_many([check_text(text, self.max_text_chars)], explain)[0]

    def scores(self, texts: Sequence[str]) -> list[list[float]]:
        """The English model's probabilities per (checked) text, columns in ``LABELS`` order."""
        # One call for the whole batch: the vectorised path is far faster than one text at a time.
        return self.classifier.probabilities(texts).tolist() if texts else []

    def threat(self, text: str) -> dict[str, Any] | None:
        """The threat check (``hatespeech.core.threats``), reading ``text`` as the model reads it (its gate from
        the model's per-piece cache, warm once the text is scored)."""
        return threats.check_scored(self.classifier.model, text)

    def attack(self, text: str) -> dict[str, Any] | None:
        """The identity-attack check (``hatespeech.core.attacks``), reading ``text`` as the model reads it."""
        return attacks.check_scored(self.classifier.model, text)

    def judges_of(self, language: Language) -> list[str]:
        """The languages whose models judge a post in ``language``: its own (``judged_as``) if supported, then
        each other supported language present (``also``); empty when none is."""
        supported = self.languages.supported
        plan = [language.judged_as] if supported(language.judged_as) else []
        plan += [code for code in language.also if supported(code) and code not in plan]
        return plan

    def moderate_many(
        self, texts: Sequence[str], explain: object, languages: Sequence[Language] | None = None
    ) -> list[Moderation]:
        """``moderate`` for each of ``texts``, already checked (``hatespeech.core.validate.check_texts``);
        ``languages``, one per text, when the caller knows them (the Perspective drop-in's request)."""
        if not isinstance(explain, bool):
            raise ValueError("explain must be true or false")
        found = [identify_post(text) for text in texts] if languages is None else list(languages)
        if all(language.judged_as == ENGLISH and not language.also for language in found):  # the common case
            return self._finish(
                list(texts), self._judge(ENGLISH, list(texts), explain), found, [[ENGLISH]] * len(texts)
            )
        plans = [self.judges_of(language) for language in found]
        answers: list[Moderation] = [cast(Moderation, None)] * len(texts)
        # Each text's first judge gives its answer, one batch per language (the vectorised path); a text no
        # model judges gets the English model's scores, for the three-key contract, and no decision from them.
        firsts = _grouped([plan[0] if plan else "" for plan in plans])
        for code, indices in firsts.items():
            judged = self._judge(code or ENGLISH, [texts[i] for i in indices], explain)
            for i, answer in zip(indices, judged, strict=True):
                answers[i] = answer
        others: dict[str, list[int]] = {}
        for i, plan in enumerate(plans):
            for code in plan[1:]:
                others.setdefault(code, []).append(i)
        for code, indices in others.items():  # a post mixing languages: the worst of each judgement
            judged = self._judge(code, [texts[i] for i in indices], False)
            for i, other in zip(indices, judged, strict=True):
                _merge(answers[i], other, code)
        # English sentences in a post the English model did not judge ("Schönen Tag noch! <an English slur>"):
        # identification weighs the whole post, so a foreign greeting would carry them past the English model.
        # They alone are judged by it, and the worst action wins.
        parts = {i: part for i, plan in enumerate(plans) if ENGLISH not in plan and (part := english_part(texts[i]))}
        if parts:
            judged = self._judge(ENGLISH, list(parts.values()), False)
            for i, other in zip(parts, judged, strict=True):
                plans[i] = [*plans[i], ENGLISH]
                _merge(answers[i], other, ENGLISH)
        return self._finish(texts, answers, found, plans)

    def _finish(
        self, texts: Sequence[str], answers: list[Moderation], found: list[Language], plans: list[list[str]]
    ) -> list[Moderation]:
        """The unsupported rule, the checks and the language, on each answer."""
        action, model = self.languages.unsupported_action, self.classifier.model
        for text, answer, language, plan in zip(texts, answers, found, plans, strict=True):
            supported = self.languages.supported(language.judged_as)
            if not supported:
                _unsupported(answer, language.code, action, judged=bool(plan))
            # an attack or a threat goes to a person, whatever the scores and the language; one more look at the
            # English model's per-piece cache serves both gates
            gate: set[str] = set()
            seen = model.tokens(text, gate)
            attacks.apply(answer, attacks.check_scored(model, text, seen))
            threats.apply(answer, threats.check_scored(model, text, gate))
            answer["language"] = language.code
            answer["language_supported"] = supported
            if "explanation" in answer:  # last, as the answer lists it
                answer["explanation"] = answer.pop("explanation")
        return answers

    def _judge(self, code: str, texts: list[str], explain: bool) -> list[Moderation]:
        """The answers of ``code``'s model and rule for ``texts``, before the checks."""
        classifier, policy = (judge := self.judge(code)).classifier, judge.policy
        if not explain:
            answers = [policy.moderate(row) for row in classifier.probabilities(texts).tolist()] if texts else []
        else:
            answers = []
            for text in texts:  # one pass over each text gives its scores and their explanation
                probabilities, explanation = score_and_explain(classifier.model, text)
                answer = policy.moderate(probabilities)
                answer["explanation"] = cap_explanation(explanation, self.explain_max_spans)
                answers.append(answer)
        for answer in answers:
            answer["model"]["language"] = code
        return answers


_MARKS = frozenset({"Mn", "Me", "Cf"})  # combining marks and format characters (zero-width, soft hyphen…)
_DISGUISED = Language(UNDETERMINED, ENGLISH, 0.0, "disguised")


def identify_post(text: str) -> Language:
    """``identify(text)``, and English written in disguise read as such: a post placed in another language only
    because of look-alike letters, added combining marks or zero-width characters (``ｈｏｅ``'s cousins, which
    ``identify`` does not all see) is ``und``, judged as English, if its folded reading (``text.fold``) is English.
    Real accented letters (é, ö) are not disguise: a German post without its umlauts is still German.

    >>> identify_post("Gettin drop top dat h\u200boe").judged_as, identify("Gettin drop top dat h\u200boe").judged_as
    ('en', 'nl')
    """
    found = identify(text)
    if found.judged_as == ENGLISH or text.isascii():
        return found
    if not any(c in CONFUSABLES or unicodedata.category(c) in _MARKS for c in text if not c.isascii()):
        return found
    return _DISGUISED if identify(fold(text)[0]).code == ENGLISH else found


def english_part(text: str) -> str:
    """The sentences of ``text`` identified as English, each of at least ``MIN_LETTERS`` letters and with a
    common English word, joined; empty when there are none, or when ``text`` is one sentence (identified whole
    already). Past ``MAX_IDENTIFIED`` such sentences the rest count as English unasked: a post of a thousand
    sentences costs no more than one of 32 (and more English reading is the safe side).

    >>> english_part("Schönen Tag noch! You are all worthless idiots.")
    'You are all worthless idiots.'
    """
    sentences = _SENTENCE.findall(text)
    if len(sentences) < 2:
        return ""
    english, asked = [], 0
    for sentence in sentences:
        if sum(map(str.isalpha, sentence)) < MIN_LETTERS or _ENGLISH_WORDS.isdisjoint(_WORD.findall(sentence.lower())):
            continue  # cheap: most sentences of a foreign post stop here, without the library
        asked += 1
        if asked > MAX_IDENTIFIED or identify(sentence).code == ENGLISH:
            english.append(sentence.strip())
    return " ".join(english)


def _grouped(codes: Sequence[str]) -> dict[str, list[int]]:
    """The indices of each code, in order."""
    groups: dict[str, list[int]] = {}
    for i, code in enumerate(codes):
        groups.setdefault(code, []).append(i)
    return groups


def _raise(answer: Moderation, action: str) -> None:
    if ACTION_RANK[action] > ACTION_RANK[answer["action"]]:
        answer["action"] = action
        answer["flagged"] = is_flagged(action)


def _merge(answer: Moderation, other: Moderation, code: str) -> None:
    """Another language's judgement of the same post, into its answer: the worse action, each category
    reached by either, the other's reasons (naming ``code``) and threat match."""
    _raise(answer, other["action"])
    for category, reached in other["categories"].items():
        answer["categories"][category] = answer["categories"].get(category, False) or reached
    answer["reasons"] = [*answer["reasons"], *(cast(Reason, {**r, "language": code}) for r in other["reasons"])]
    if "threat" in other and "threat" not in answer:
        answer["threat"] = other["threat"]


def _unsupported(answer: Moderation, code: str, action: str, *, judged: bool) -> None:
    """A post in ``code``, which no model judges: ``action`` (``UNSUPPORTED_LANGUAGE_ACTION``) and a reason
    saying so; ``judged``: another language present was judged (its answer stands, raised to ``action``)."""
    reason: LanguageReason = {
        "category": UNSUPPORTED,
        "language": code,
        "text": f"no model is served for the language {code!r}: the action is UNSUPPORTED_LANGUAGE_ACTION's ({action})"
        + ("; the languages present that have a model were judged" if judged else "; the scores are not a judgement"),
    }
    if not judged:
        answer["label"] = LABELS[NEITHER]
        answer["categories"] = {}
        answer["reasons"] = []
        answer["action"] = ALLOW
        answer["flagged"] = False
        answer["model"].pop("language", None)  # no model judged it
    answer["reasons"] = [*answer["reasons"], reason]
    _raise(answer, action)
