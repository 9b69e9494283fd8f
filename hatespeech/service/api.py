"""The served functions: what each endpoint does, over one loaded model and the settings.

``load(settings)`` loads and verifies the model once and returns an ``Api`` whose functions firefly
serves (``app.py`` re-exports them, so ``app.predict(text=...)`` works as in the tutorial). What
``/predict`` and ``/moderate`` answer is ``hatespeech.core.moderator``'s (what ``hatespeech.load()``
gives a program); here it is recorded (metrics, review queue, alerts). Every input is checked once
(``hatespeech.core.validate``) before anything is scored; a bad one raises ``ValueError``, which
``web.bad_input_is_400`` answers with a 400. Nothing here knows about scikit-learn.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NoReturn, TypedDict, cast

from firefly.app import HTTPError

from hatespeech import alerts, feedback, integrations, lifecycle, review
from hatespeech.config import RETRAIN_COMMAND, Settings
from hatespeech.core.classifier import Classifier
from hatespeech.core.context import Context
from hatespeech.core.explain import explain as explanation
from hatespeech.core.labels import ABUSIVE, LABELS
from hatespeech.core.model import KERNEL
from hatespeech.core.moderator import Languages, ModelUnavailable, Moderator, identify_post
from hatespeech.core.policy import Moderation, Policy
from hatespeech.core.validate import check_texts
from hatespeech.service import compat, metrics, web
from hatespeech.service.web import JSON, bad_input_is_400

# ``/predict``'s answer: the keys are the class names, which have spaces.
Scores = TypedDict("Scores", {"hate speech": float, "offensive language": float, "neither": float})


class Health(TypedDict):
    status: str
    model: str  # the served model's sha256, first 12 characters
    sha256: str  # …and whole
    kernel: str  # what does a post's arithmetic: "C" (hatespeech/core/_kernel.c) or "Python" (the extension not built)


def _api_errors(function: Callable[..., Any]) -> Callable[..., Any]:
    """Answer an emulated API's refusal with its own status and JSON body (``compat.ApiError``)."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except compat.ApiError as err:
            raise HTTPError(err.status, json.dumps(err.body), dict(JSON)) from None
        except ModelUnavailable as err:  # as web.bad_input_is_400 answers it: never firefly's 500
            raise HTTPError("503 Service Unavailable", json.dumps({"error": str(err)}), dict(JSON)) from None

    return wrapper


@dataclass
class Api:
    """The model (with its policy: the ``moderator``) and the settings, and the functions served over them."""

    settings: Settings
    moderator: Moderator
    functions: dict[str, Callable[..., Any]] = field(default_factory=dict)
    gets: dict[str, Callable[[], Any]] = field(default_factory=dict)  # served at GET /<name> (GET /feedback)
    integrations: dict[str, Callable[..., Any]] = field(default_factory=dict)  # path → a board's webhook handler

    @property
    def classifier(self) -> Classifier:
        return self.moderator.classifier

    @property
    def policy(self) -> Policy:
        return self.moderator.policy

    @property
    def model_name(self) -> str:
        return self.name_of(self.moderator)

    @staticmethod
    def name_of(moderator: Moderator) -> str:
        return f"hatespeech-detect-{moderator.policy.model['version']}-{moderator.policy.model['sha256'][:12]}"

    def serve(self, moderator: Moderator) -> None:
        """Serve ``moderator`` (a verified model) from the next request on: one assignment, no lock. A promoted
        English model is served with the other languages' models loaded at start (the registry holds English's)."""
        was = self.moderator.policy.model
        moderator.languages = self.moderator.languages
        self.moderator = moderator
        metrics.model_info(moderator.policy.model["version"], moderator.policy.model["sha256"], was=was)

    def texts(self, texts: object, name: str = "texts") -> list[str]:
        s = self.settings
        return check_texts(texts, s.max_batch_texts, s.max_batch_chars, s.max_text_chars, name=name)

    def record(self, answers: list[Moderation], contexts: list[Context], texts: list[str]) -> None:
        for answer, context, text in zip(answers, contexts, texts, strict=True):
            metrics.observe_decision(answer["label"], answer["action"])
            metrics.observe_language(answer.get("language", "und"), answer.get("language_supported", False))
            # the review queue: explained here only for a post it keeps (review/block with an id)
            review.record(answer, context, text, functools.partial(explanation, self.classifier.model, text))
        # alerts: writes the outbox only; delivery is in the background. A batch makes at most
        # ALERT_BATCH_MAX message alerts (the rest in one summary).
        if len(answers) == 1:
            alerts.record(answers[0], contexts[0], texts[0])
        else:
            alerts.record_many(answers, contexts, texts)

    def review_model(self) -> dict[str, Any]:
        """``GET /review/model``: what the review page shows of the model, thresholds and settings."""
        served = self.moderator  # read once: a swap between two reads would mix two models
        return {
            "model": {**served.policy.model, "created_at": served.card.get("created_at")},
            "thresholds": served.policy.describe(),
            "threshold_curves": served.card.get("threshold_curves"),
            "retention_hours": self.settings.review.text_retention_seconds / 3600,
            "queue": self.settings.review.enabled,
            "retrain": RETRAIN_COMMAND,
        }

    def health(self) -> Health:
        sha256 = self.moderator.card["sha256"]  # read once: a swap between two reads would mix two models
        return {"status": "ok", "model": sha256[:12], "sha256": sha256, "kernel": KERNEL}


def load(settings: Settings) -> Api:
    """Load and verify the model (``ModelError``/``PolicyError`` say why not) and build the served functions.

    Unless ``MODEL_PATH`` pins it, the model promoted with ``model.py`` is served if there is one
    (``hatespeech.lifecycle``), and ``start_following`` (each gunicorn worker, after the fork) follows
    later promotions without a restart.
    """
    own = Moderator.load(
        settings.model_path,
        settings.thresholds,
        max_text_chars=settings.max_text_chars,
        explain_max_spans=settings.explain_max_spans,
        languages=Languages.load(
            settings.language_models_dir, settings.unsupported_language_action, settings.language_models_load
        ),
    )
    global _follower
    served = own if settings.model_pinned else lifecycle.start_model(settings, own)
    served.languages = own.languages  # a promoted English model is served with the languages loaded here
    api = Api(settings, served)
    if KERNEL != "C":  # same answers, slower: say so once at start (and /health's "kernel")
        lifecycle.log.warning(
            json.dumps({"kernel": "hatespeech/core/_kernel.c is not built (make): scoring in Python"})
        )
    if settings.model_pinned:
        lifecycle.log.warning(
            json.dumps({"model": f"MODEL_PATH pins {settings.model_path}: promotions are not served"})
        )
        _follower = None
    else:
        _follower = lambda: lifecycle.Follower(settings, own, api.moderator, api.serve)  # noqa: E731 (made after the fork)
    _scoring(api)
    _drop_ins(api)
    store = feedback.open_store(settings)  # opens nothing until used (per process and thread, after the fork)
    _feedback(api, store)
    _connect_boards(api, api.functions["moderate"], store)
    return api


# The last loaded Api's poll for promoted models, made once its process is a worker (gunicorn_conf's
# post_worker_init); the last only, so that a process loading several (tests) keeps one model alive, not all.
_follower: Callable[[], lifecycle.Follower] | None = None
_following: list[lifecycle.Follower] = []


def start_following() -> None:
    """In a worker, after the fork: poll for promoted models (``hatespeech.lifecycle.Follower``)."""
    if _follower is not None:
        follower = _follower()
        follower.start()
        _following.append(follower)


def stop_following() -> None:
    while _following:
        _following.pop().stop()


def _scoring(api: Api) -> None:
    """``/predict``, ``/moderate`` and their batches. Each request reads ``api.moderator`` once: a
    promotion swapped in meanwhile serves the next request, never half of this one."""

    @bad_input_is_400
    def predict(text: str) -> Scores:
        """Probabilities that ``text`` is hate speech, offensive language or neither (they sum to 1), by the model
        of its language (the English one's for a language without a model: ``/moderate`` says so)."""
        return api.moderator.predict(text)  # type: ignore[return-value]  # its keys are LABELS: a Scores

    @bad_input_is_400
    def predict_batch(texts: list[str]) -> list[Scores]:
        """``/predict`` for each text, in order. All are checked before any is scored."""
        rows = api.moderator.predict_many(api.texts(texts))
        return [dict(zip(LABELS, row, strict=True)) for row in rows]  # type: ignore[misc]  # keys are LABELS

    @bad_input_is_400
    def moderate(
        text: str,
        explain: bool = False,
        id: object = None,  # the post's id, as the API names it
        thread: object = None,
        author: object = None,
        url: object = None,
        record: bool = True,
    ) -> Moderation:
        """Scores, the decision (label, flagged, action, categories, and the reasons for the action), the model,
        and on request the explanation of the scores.

        The optional context (the post's ``id``, its discussion ``thread``, ``author``, ``url``) feeds
        the alerts: a blocked message, or a discussion turning sour, is sent to the moderators.
        ``record=False`` only answers: the text reaches no alert, no review queue and no metric (the
        review page's "Try a text", where a moderator's half-typed words are not a post).
        """
        if not isinstance(record, bool):
            raise ValueError("record must be true or false")
        context = Context.check(id=id, thread=thread, author=author, url=url)
        answer = api.moderator.moderate(text, explain)
        if record:
            api.record([answer], [context], [text])
        return answer

    @bad_input_is_400
    def moderate_batch(texts: list[str], explain: bool = False, contexts: object = None) -> list[Moderation]:
        """``/moderate`` for each text, in order. All are checked before any is scored.

        ``contexts``, optional, is a list as long as ``texts`` of objects with ``/moderate``'s context fields.
        """
        checked = api.texts(texts)
        if contexts is None:
            contexts = [None] * len(checked)
        if not isinstance(contexts, list) or len(contexts) != len(checked):
            raise ValueError("contexts must be a list with one object (or null) per text")
        found = [Context.from_mapping(c, name=f"contexts[{i}]") for i, c in enumerate(contexts)]
        answers = api.moderator.moderate_many(checked, explain)
        api.record(answers, found, checked)
        return answers

    api.functions.update(
        {"predict": predict, "predict_batch": predict_batch, "moderate": moderate, "moderate_batch": moderate_batch}
    )


def _drop_ins(api: Api) -> None:
    """The OpenAI and Perspective drop-ins (``hatespeech/service/compat.py`` maps them)."""
    max_chars = api.settings.max_text_chars

    @_api_errors
    def openai_moderations(input: object = None, model: object = None) -> dict[str, Any]:  # OpenAI names it input
        """OpenAI-compatible ``POST /v1/moderations`` (see hatespeech/service/compat.py for the mapping)."""
        if model is not None and not isinstance(model, str):
            raise compat.openai_error("model must be a string", param="model")
        texts = compat.openai_inputs(input)
        try:
            api.texts(texts, name="input")
        except ValueError as err:
            raise compat.openai_error(str(err)) from None
        moderator = api.moderator
        # /moderate's judgement of each text (its language's model; the English threat check): the same shape
        results = [
            compat.openai_result(
                [answer["scores"][label] for label in LABELS],
                {label: answer["categories"].get(label, False) for label in ABUSIVE},  # none: a language not judged
                answer["categories"].get("threat", False),
            )
            for answer in moderator.moderate_many(texts, False)
        ]
        return compat.openai_response(Api.name_of(moderator), results)

    @_api_errors
    def perspective_analyze(comment: object = None, requestedAttributes: object = None, **options: Any) -> dict:  # noqa: N803
        """Perspective-compatible ``POST /v1alpha1/comments:analyze`` (see hatespeech/service/compat.py).

        Takes ``languages``, ``spanAnnotations``, ``doNotStore`` (nothing is ever stored here),
        ``clientToken``, ``sessionId``, ``communityId`` and ``context`` as Perspective does.
        """
        text, attributes, requested = compat.perspective_request(comment, requestedAttributes, options, max_chars)
        moderator = api.moderator
        found = identify_post(text)
        detected = [found.code, *found.also]
        languages = requested[:1] or [found.judged_as]  # judged as the first requested language, else its own
        compat.check_languages(attributes, requested or languages, moderator.languages.codes, detected=not requested)
        spans = compat.sentences(text) if options.get("spanAnnotations") is True else None
        parts = [text, *(text[begin:end] for begin, end in spans or [])]
        rows = moderator.judge(languages[0]).classifier.probabilities(parts).tolist()
        return compat.perspective_response(
            attributes,
            rows[0],
            spans,
            rows[1:] if spans is not None else None,
            languages,
            options.get("clientToken"),
            threats=[moderator.threat(part) is not None for part in parts] if "THREAT" in attributes else (),
            detected=detected,
        )

    api.functions.update({"v1/moderations": openai_moderations, "v1alpha1/comments:analyze": perspective_analyze})


# ---------------------------------------------------------------------------------------- feedback


def _created(body: dict[str, Any]) -> NoReturn:
    # firefly answers 200 with whatever a function returns; its HTTPError is the one way to set another status
    raise HTTPError("201 Created", json.dumps(body), dict(JSON))


def _store_unavailable(err: feedback.StoreUnavailable) -> NoReturn:
    print(f"hatespeech-detect: {err}", file=sys.stderr)  # the cause for the operator, not for the client
    body = json.dumps({"error": "the feedback store is unavailable; try again later"})
    raise HTTPError("503 Service Unavailable", body, {**dict(JSON), "Retry-After": "5"}) from None


def _too_many(err: feedback.TooManyWrites) -> NoReturn:
    seconds = max(1, round(err.retry_after))
    headers = {**dict(JSON), "Retry-After": str(seconds)}
    raise HTTPError("429 Too Many Requests", json.dumps({"error": str(err)}), headers) from None


def _trained_at(card: dict[str, Any]) -> float | None:
    try:
        return datetime.fromisoformat(card["created_at"]).timestamp()
    except (KeyError, TypeError, ValueError):
        return None


def _feedback(api: Api, store: feedback.FeedbackStore) -> None:
    """``POST /feedback``, ``GET /feedback`` and ``POST /feedback/erase`` over the store (which
    opens nothing until used: its connections are per process and thread, made after the fork)."""

    @bad_input_is_400
    def post_feedback(
        text: object = None,
        label: object = None,
        id: object = None,  # the post's id in its source, as the API names it
        source: object = None,
        moderator: object = None,
        language: object = None,  # ISO 639-1 or "und"; absent: the store identifies the text's
        **unknown: object,  # refused by name with a 422, the status firefly gives the other endpoints' unknown fields
    ) -> NoReturn:
        """Store a moderator's label for a post (201 ``{"id": row id}``); the same ``(source, id)`` replaces it."""
        feedback.check_unknown(unknown)
        try:
            fields = {"source": source, "id": id, "moderator": moderator, "language": language}
            row = store.add(text, label, origin=web.origin(), **fields)  # type: ignore[arg-type]  # add checks each value
        except feedback.StoreUnavailable as err:
            _store_unavailable(err)
        except feedback.TooManyWrites as err:
            _too_many(err)
        # the review page shows the post's label (if it is queued: a board's post under "<board>:<id>")
        review.labelled(integrations.queued_id(source, id), label)
        _created({"id": row})

    def feedback_counts() -> dict[str, Any]:
        """``GET /feedback``: counts only, never texts; ``newer_than_model`` is what a retrain would add."""
        card = api.classifier.card  # the model served now
        try:
            counts = store.counts(newer_than=_trained_at(card))
        except feedback.StoreUnavailable as err:
            _store_unavailable(err)
        return counts | {"model": {"created_at": card.get("created_at"), "sha256": card["sha256"]}}

    @bad_input_is_400
    def erase_feedback(id: object = None, source: object = None, **unknown: object) -> dict[str, bool]:
        """Erase the row sent with ``(source, id)`` (a deleted post): ``{"erased": true}``, or false if none."""
        feedback.check_unknown(unknown, ("id", "source"))
        checked_source, checked_id = feedback.check_key(source, id)
        try:
            return {"erased": store.erase(checked_source, checked_id, origin=web.origin())}
        except feedback.StoreUnavailable as err:
            _store_unavailable(err)
        except feedback.TooManyWrites as err:
            _too_many(err)

    api.functions.update({"feedback": post_feedback, "feedback/erase": erase_feedback})
    api.gets["feedback"] = feedback_counts


def _connect_boards(api: Api, moderate: Callable[..., Any], store: feedback.FeedbackStore) -> None:
    """The boards' webhooks (hatespeech/integrations) and Perspective's ``comments:suggestscore``.

    The webhooks score through ``moderate`` itself (unwrapped: a refused text is a ``ValueError``,
    not an HTTP 400), so alerts see their posts with thread, author and link.
    """
    settings = api.settings
    boards = integrations.Service(
        moderate=moderate.__wrapped__,  # type: ignore[attr-defined]  # set by functools.wraps
        explain=lambda text: explanation(api.classifier.model, text),
        outbox=integrations.Outbox(
            integrations.Keys(settings.alerts.db_path, settings.alerts.redis_url, stores=settings.stores),
            alerts.enqueue_call,
        ),
        feedback=lambda: store,
        max_text_chars=settings.max_text_chars,
        labelled=review.labelled,
        # the boards read and bound answers as plain JSON objects, which a Moderation is
        rank=lambda texts: cast(list[dict[str, Any]], api.moderator.moderate_many(texts, False)),
        record=lambda answer, text, **context: api.record([answer], [Context.check(**context)], [text]),
    )

    @_api_errors
    def perspective_suggestscore(comment: object = None, attributeScores: object = None, **options: Any) -> dict:  # noqa: N803
        """Perspective-compatible ``POST /v1alpha1/comments:suggestscore``: a moderator's score, kept as feedback.

        Coral sends its moderators' approvals (0) and rejections (1) here (hatespeech/integrations/coral.py).
        With ``MODERATION_API_KEY`` the feedback is Coral's, whatever ``communityId`` says.
        """
        source = integrations.coral.KIND if web.moderation_key_used() else None
        try:
            return integrations.suggest_score(boards, comment, attributeScores, options, source, web.origin())[0]
        except compat.ApiError:
            raise
        except feedback.StoreUnavailable as err:
            _store_unavailable(err)
        except feedback.TooManyWrites as err:
            # Google's shape for a quota exceeded (Coral logs it; the decision is its own to keep)
            body = {"error": {"code": 429, "message": str(err), "status": "RESOURCE_EXHAUSTED"}}
            raise compat.ApiError("429 Too Many Requests", body) from None
        except ValueError as err:
            raise compat.perspective_error(str(err)) from None

    api.functions["v1alpha1/comments:suggestscore"] = perspective_suggestscore
    api.integrations.update(integrations.routes(settings.integrations, boards))
