"""The service's entry point: the model, loaded once, behind module-level functions.

    firefly app.predict --bind 127.0.0.1:5000            the tutorial's way: one request at a time
    gunicorn -c python:hatespeech.gunicorn_conf app:application    production (``make serve``)

Importing this module loads and verifies the model (gunicorn's ``--preload`` does it once, before
forking, so the workers share its memory). A model that fails verification stops the process
with a message saying why, instead of serving garbage.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any

from firefly.app import HTTPError

from hatespeech import alerts, compat, metrics, review, web
from hatespeech.classifier import Classifier, check_text
from hatespeech.config import ConfigError, Settings
from hatespeech.context import Context
from hatespeech.explain import explain as explanation
from hatespeech.model_file import ModelError
from hatespeech.moderation import Policy, check_texts
from hatespeech.review.web import RETRAIN_COMMAND, ReviewPages

settings = Settings.from_env()

if settings.token and "firefly.main" in sys.modules:
    # The `firefly` command ignores FIREFLY_TOKEN (it would serve without auth): refuse instead.
    sys.exit(
        "hatespeech-detect: FIREFLY_TOKEN is set, but the `firefly` command would serve without "
        "checking it. Serve with `make serve` (gunicorn app:application), which enforces the token."
    )

try:
    classifier = Classifier.load(settings.model_path, settings.max_text_chars)
    policy = Policy.from_card(classifier.card, settings.thresholds)
except (ModelError, ConfigError) as err:
    sys.exit(f"hatespeech-detect: cannot serve the model: {err}")
alerts.configure(settings.alerts)  # opens nothing: each worker opens the store after the fork
review.configure(settings.review)  # likewise
metrics.model_info(policy.model["version"], policy.model["sha256"])
MODEL_NAME = f"hatespeech-detect-{policy.model['version']}-{policy.model['sha256'][:12]}"


@web.bad_input_is_400
def predict(text: str) -> dict[str, float]:
    """Probabilities that ``text`` is hate speech, offensive language or neither (they sum to 1)."""
    return classifier.scores(text)


def _texts(texts: object) -> list[str]:
    return check_texts(texts, settings.max_batch_texts, settings.max_batch_chars, settings.max_text_chars)


def _score(texts: list[str]) -> list[list[float]]:
    # One call for the whole batch: the vectorised path is far faster than one text at a time.
    return classifier.probabilities(texts).tolist() if texts else []


@web.bad_input_is_400
def predict_batch(texts: list[str]) -> list[dict[str, float]]:
    """``/predict`` for each text, in order. All are checked before any is scored."""
    return [policy.moderate(row)["scores"] for row in _score(_texts(texts))]


def _moderate(texts: list[str], explain: object) -> list[dict[str, Any]]:
    if not isinstance(explain, bool):
        raise ValueError("explain must be true or false")
    answers = [policy.moderate(row) for row in _score(texts)]
    if explain:
        try:
            for text, answer in zip(texts, answers, strict=True):
                answer["explanation"] = explanation(classifier.model, text)
        except NotImplementedError as err:  # a model this cannot decompose exactly: say so, never approximate
            body = json.dumps({"error": f"explanations are not available for this model: {err}"})
            raise HTTPError("501 Not Implemented", body, {"Content-Type": "application/json"}) from None
    return answers


def _alert(answers: list[dict[str, Any]], contexts: list[Context], texts: list[str]) -> None:
    for answer, context, text in zip(answers, contexts, texts, strict=True):
        metrics.observe_decision(answer["label"], answer["action"])
        alerts.record(answer, context, text)  # writes the outbox only; delivery is in the background
        # the review queue: explained here only for a post it keeps (review/block with an id)
        review.record(answer, context, text, functools.partial(explanation, classifier.model, text))


@web.bad_input_is_400
def moderate(
    text: str,
    explain: bool = False,
    id: object = None,  # the post's id, as the API names it
    thread: object = None,
    author: object = None,
    url: object = None,
) -> dict[str, Any]:
    """Scores, the decision (label, flagged, action, categories), the model, and on request why.

    The optional context (the post's ``id``, its discussion ``thread``, ``author``, ``url``) feeds
    the alerts: a blocked message, or a discussion turning sour, is sent to the moderators.
    """
    context = Context.check(id=id, thread=thread, author=author, url=url)
    answer = _moderate([check_text(text, settings.max_text_chars)], explain)[0]
    _alert([answer], [context], [text])
    return answer


@web.bad_input_is_400
def moderate_batch(texts: list[str], explain: bool = False, contexts: object = None) -> list[dict[str, Any]]:
    """``/moderate`` for each text, in order. All are checked before any is scored.

    ``contexts``, optional, is a list as long as ``texts`` of objects with ``/moderate``'s context fields.
    """
    checked = _texts(texts)
    if contexts is None:
        contexts = [None] * len(checked)
    if not isinstance(contexts, list) or len(contexts) != len(checked):
        raise ValueError("contexts must be a list with one object (or null) per text")
    found = [Context.from_mapping(c, name=f"contexts[{i}]") for i, c in enumerate(contexts)]
    answers = _moderate(checked, explain)
    _alert(answers, found, checked)
    return answers


def _api_errors(function: Callable[..., Any]) -> Callable[..., Any]:
    """Answer an emulated API's refusal with its own status and JSON body (``compat.ApiError``)."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except compat.ApiError as err:
            raise HTTPError(err.status, json.dumps(err.body), {"Content-Type": "application/json"}) from None

    return wrapper


@_api_errors
def openai_moderations(input: object = None, model: object = None) -> dict[str, Any]:  # OpenAI names it input
    """OpenAI-compatible ``POST /v1/moderations`` (see hatespeech/compat.py for the mapping)."""
    if model is not None and not isinstance(model, str):
        raise compat.openai_error("model must be a string", param="model")
    texts = compat.openai_inputs(input)
    try:
        _texts(texts)
    except ValueError as err:
        raise compat.openai_error(str(err).replace("texts", "input", 1)) from None
    results = []
    for row in _score(texts):
        results.append(compat.openai_result(row, policy.decide(row)["categories"]))
    return compat.openai_response(MODEL_NAME, results)


@_api_errors
def perspective_analyze(comment: object = None, requestedAttributes: object = None, **options: Any) -> dict[str, Any]:  # noqa: N803 (Perspective's JSON names become the arguments)
    """Perspective-compatible ``POST /v1alpha1/comments:analyze`` (see hatespeech/compat.py).

    Takes ``languages``, ``spanAnnotations``, ``doNotStore`` (nothing is ever stored here),
    ``clientToken``, ``sessionId``, ``communityId`` and ``context`` as Perspective does.
    """
    text, attributes, languages = compat.perspective_request(
        comment, requestedAttributes, options, settings.max_text_chars
    )
    spans = compat.sentences(text) if options.get("spanAnnotations") is True else None
    rows = _score([text, *(text[begin:end] for begin, end in spans or [])])
    return compat.perspective_response(
        attributes, rows[0], spans, rows[1:] if spans is not None else None, languages, options.get("clientToken")
    )


def health() -> dict:
    return {"status": "ok", "model": classifier.card["sha256"][:12]}


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "predict": predict,
    "predict_batch": predict_batch,
    "moderate": moderate,
    "moderate_batch": moderate_batch,
    "v1/moderations": openai_moderations,
    "v1alpha1/comments:analyze": perspective_analyze,
}
REVIEW_MODEL = {  # GET /review/model: what the review page shows of the model and settings
    "model": {**policy.model, "created_at": classifier.card.get("created_at")},
    "thresholds": policy.describe(),
    "threshold_curves": classifier.card.get("threshold_curves"),
    "retention_hours": settings.review.text_retention_seconds / 3600,
    "queue": settings.review.enabled,
    "retrain": RETRAIN_COMMAND,
}
application = web.create_app(FUNCTIONS, settings, health, ReviewPages(review.reviewer, lambda: REVIEW_MODEL))
