"""Drop-in shapes of two hosted moderation APIs, over our three classes.

Callers of OpenAI's ``POST /v1/moderations`` or Google's Perspective ``POST
/v1alpha1/comments:analyze`` can point their client at this service. This module only translates:
requests in, our probabilities and decisions out, and each API's own error shape; it knows
nothing of HTTP servers or scikit-learn. An ``ApiError`` carries the status and the JSON body the
real API would answer.

**OpenAI**: our classes map to the nearest OpenAI categories, and the threat check
(``hatespeech.core.threats``) to the ``/threatening`` ones; the categories we do not model (sexual,
violence, self-harm, illicit…) are left out rather than reported as 0, which would claim we checked
them. The threat check is a pattern, not a probability: its score is 1.0 when it matched, else 0.0.

=====================  ===================  ==========================================
our class              OpenAI category      ``categories[c]`` is true when
=====================  ===================  ==========================================
hate speech            ``hate``             its probability reaches its review threshold
offensive language     ``harassment``       its probability reaches its review threshold
threat                 ``harassment/threate the threat check matched (``/moderate``'s
                       ning``               ``threat`` category)
threat + hate speech   ``hate/threatening`` the threat check matched and hate speech
                                            reached its review threshold
=====================  ===================  ==========================================

**Perspective**: only the attributes we can honestly answer, in the languages a model judges (English,
and each served language model's: ``hatespeech.core.moderator.Languages``). As Perspective does, a request's
``languages`` names the language to judge the comment as (the first; a code's region, ``pt-BR``, is dropped),
and one we do not judge is refused with ``LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE``; without ``languages`` the
comment's language is identified (``hatespeech.core.language``), named in ``detectedLanguages``, and refused
the same way if no model judges it. ``THREAT`` is the threat check's, which reads English in any comment, as
``/moderate`` runs it.

=====================  ==========================================================
attribute              score
=====================  ==========================================================
``TOXICITY``           P(hate speech) + P(offensive language) = 1 − P(neither)
``IDENTITY_ATTACK``    P(hate speech)
``PROFANITY``          P(offensive language) (Davidson et al.'s class: vulgar,
                       profane language not aimed at an identity)
``THREAT``             1.0 if the threat check matched (per span: in that sentence),
                       else 0.0
=====================  ==========================================================

>>> openai_result([0.1, 0.7, 0.2], {"hate speech": False, "offensive language": True}, True)["categories"]
{'hate': False, 'harassment': True, 'harassment/threatening': True, 'hate/threatening': False}
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from hatespeech.core.labels import HATE, LABELS, OFFENSIVE, abusive_probability

OPENAI_CATEGORIES: dict[str, str] = {"hate speech": "hate", "offensive language": "harassment"}
PERSPECTIVE_ATTRIBUTES: dict[str, str] = {
    "TOXICITY": "1 − P(neither): hate speech or offensive language",
    "IDENTITY_ATTACK": "P(hate speech)",
    "PROFANITY": "P(offensive language)",
    "THREAT": "1.0 if the threat check matched, else 0.0",
}
_ERROR_TYPE = "type.googleapis.com/google.commentanalyzer.v1alpha1.Error"
# Perspective scores spans per sentence: a run up to and including . ! ? or a line break.
_SENTENCE = re.compile(r"[^.!?\n]*(?:[.!?]+|\n|$)")


class ApiError(ValueError):
    """A request the emulated API would refuse: ``status`` and ``body`` are what it would answer."""

    def __init__(self, status: str, body: dict[str, Any]):
        super().__init__(str(body))
        self.status, self.body = status, body


# --- OpenAI -------------------------------------------------------------------------------------


def openai_error_body(message: str, status: int = 400, param: str | None = None) -> dict[str, Any]:
    """OpenAI's error shape, which its client reads the message from.

    >>> openai_error_body("Invalid auth token", 403)["error"]["code"]
    'invalid_api_key'
    """
    kind, code = (
        ("authentication_error", "invalid_api_key") if status in (401, 403) else ("invalid_request_error", None)
    )
    if status >= 500:
        kind = "server_error"
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def openai_error(message: str, param: str | None = "input") -> ApiError:
    return ApiError("400 Bad Request", openai_error_body(message, 400, param))


def openai_inputs(value: object) -> list[str]:
    """``input`` as a list of texts: a string, or an array of strings (OpenAI's text forms)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    if value is None:
        raise openai_error("you must provide an input: a string or an array of strings")
    raise openai_error("input must be a string or an array of strings; this server moderates text only")


def openai_result(
    probabilities: Sequence[float], categories: Mapping[str, bool], threat: bool = False
) -> dict[str, Any]:
    """One ``results[i]`` entry: ``flagged``, ``categories``, ``category_scores``; ``threat``: the
    threat check matched."""
    scores = dict(zip(LABELS, probabilities, strict=True))
    flags = {OPENAI_CATEGORIES[label]: bool(flag) for label, flag in categories.items() if label in OPENAI_CATEGORIES}
    values = {OPENAI_CATEGORIES[label]: float(scores[label]) for label in categories if label in OPENAI_CATEGORIES}
    flags["harassment/threatening"] = threat
    flags["hate/threatening"] = threat and bool(categories.get("hate speech"))
    for name, flag in list(flags.items())[-2:]:
        values[name] = 1.0 if flag else 0.0
    return {
        "flagged": any(flags.values()),
        "categories": flags,
        "category_scores": values,
        "category_applied_input_types": {name: ["text"] for name in flags},
    }


def openai_response(model: str, results: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": f"modr-{uuid.uuid4().hex}", "model": model, "results": results}


# --- Perspective ---------------------------------------------------------------------------------


def perspective_error(message: str, error_type: str = "INVALID_REQUEST", **detail: Any) -> ApiError:
    """A 400 in Google's error shape, with Perspective's ``errorType`` in ``details``."""
    return ApiError(
        "400 Bad Request",
        {
            "error": {
                "code": 400,
                "message": message,
                "status": "INVALID_ARGUMENT",
                "details": [{"@type": _ERROR_TYPE, "errorType": error_type, **detail}],
            }
        },
    )


def perspective_request(
    comment: object,
    requested_attributes: object,
    options: Mapping[str, Any],
    max_chars: int,
) -> tuple[str, dict[str, dict], list[str]]:
    """Check an AnalyzeComment request: ``(text, {attribute: options}, languages)`` or ``ApiError``.

    ``options`` holds the other fields as sent (``languages``, ``spanAnnotations``,
    ``clientToken``…), each checked for its type, and any unknown field, which Google's APIs refuse.
    ``languages`` are the requested ones, lower-cased, without region (empty: identify the comment's);
    ``check_languages`` says whether they are judged.
    """
    options = dict(options)
    languages = options.pop("languages", [])  # absent or empty: the comment's language is identified
    for name, value in options.items():
        kind = _OPTIONAL_FIELDS.get(name)
        if kind is None:
            raise perspective_error(f'Invalid JSON payload received. Unknown name "{name}": Cannot find field.')
        if not isinstance(value, kind[0]):
            raise perspective_error(f"Invalid value at '{name}': {kind[1]} expected.")
    if not isinstance(comment, Mapping) or not isinstance(comment.get("text"), str):
        raise perspective_error("comment.text must be a string.")
    if set(comment) - {"text", "type"}:
        name = sorted(set(comment) - {"text", "type"})[0]
        raise perspective_error(
            f"Invalid JSON payload received. Unknown name \"{name}\" at 'comment': Cannot find field."
        )
    if comment.get("type", "PLAIN_TEXT") != "PLAIN_TEXT":
        raise perspective_error("Currently, only 'PLAIN_TEXT' comments are supported")
    text = comment["text"]
    if not text.strip():
        raise perspective_error("Comment must be non-empty.", "COMMENT_EMPTY")
    if len(text) > max_chars:
        raise perspective_error(
            f"Comment text too long: {len(text)} characters; the maximum is {max_chars}.", "COMMENT_TOO_LONG"
        )
    if not isinstance(requested_attributes, Mapping) or not requested_attributes:
        raise perspective_error("Missing requested_attributes", "NO_REQUESTED_ATTRIBUTES")
    attributes: dict[str, dict] = {}
    for name, settings in requested_attributes.items():
        if name not in PERSPECTIVE_ATTRIBUTES:
            raise perspective_error(
                f"Unknown requested attribute: {name} (this server answers {', '.join(PERSPECTIVE_ATTRIBUTES)})"
            )
        if not isinstance(settings, Mapping) or set(settings) - {"scoreType", "scoreThreshold"}:
            raise perspective_error(f"requestedAttributes.{name} must be an object with scoreType and scoreThreshold.")
        if settings.get("scoreType", "PROBABILITY") != "PROBABILITY":
            raise perspective_error(
                f"Requested score type {settings['scoreType']} is not supported by attribute {name}"
            )
        threshold = settings.get("scoreThreshold", 0.0)
        if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
            raise perspective_error(f"requestedAttributes.{name}.scoreThreshold must be a number in [0, 1].")
        attributes[name] = {"threshold": float(threshold)}
    if not isinstance(languages, list) or not all(isinstance(code, str) for code in languages):
        raise perspective_error("languages must be an array of language codes.")
    return text, attributes, [code.strip().lower().replace("_", "-").split("-")[0] for code in languages]


def check_languages(
    attributes: Mapping[str, Any], languages: list[str], supported: Sequence[str], detected: bool = False
) -> None:
    """``ApiError`` (Perspective's ``LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE``, naming the first attribute as it
    does) unless a model judges every one of ``languages`` (requested, or ``detected``: the error says which)."""
    unsupported = list(dict.fromkeys(code for code in languages if code not in supported))
    if unsupported:
        attribute = next(iter(attributes))
        key = "detectedLanguages" if detected else "requestedLanguages"
        raise perspective_error(
            f"Attribute {attribute} does not support request languages: {', '.join(unsupported)}",
            "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE",
            languageNotSupportedByAttributeError={key: languages, "attribute": attribute},
        )


_OPTIONAL_FIELDS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "spanAnnotations": (bool, "a boolean"),
    "doNotStore": (bool, "a boolean"),
    "clientToken": (str, "a string"),
    "sessionId": (str, "a string"),
    "communityId": (str, "a string"),
    "context": (Mapping, "an object"),
}


def attribute_score(attribute: str, probabilities: Sequence[float], threat: bool = False) -> float:
    """One attribute's probability from our three, or the threat check's 0/1 (see the module docstring)."""
    if attribute == "THREAT":
        return 1.0 if threat else 0.0
    if attribute == "TOXICITY":
        return float(abusive_probability(probabilities))
    if attribute == "IDENTITY_ATTACK":
        return float(probabilities[HATE])
    return float(probabilities[OFFENSIVE])


def sentences(text: str) -> list[tuple[int, int]]:
    """``(begin, end)`` of each sentence, white space trimmed, as Perspective's span scores cut them.

    >>> sentences("What kind of idiot name is foo? Sorry, I like your name.")
    [(0, 31), (32, 56)]
    """
    spans = []
    for match in _SENTENCE.finditer(text):
        begin, end = match.span()
        while begin < end and text[begin].isspace():
            begin += 1
        while end > begin and text[end - 1].isspace():
            end -= 1
        if begin < end:
            spans.append((begin, end))
    return spans


def perspective_response(
    attributes: Mapping[str, Mapping],
    summary: Sequence[float],
    spans: Sequence[tuple[int, int]] | None,
    span_probabilities: Sequence[Sequence[float]] | None,
    languages: list[str],
    client_token: str | None,
    threats: Sequence[bool] = (),
    detected: Sequence[str] = (),
) -> dict[str, Any]:
    """The AnalyzeComment response; an attribute whose summary is below its ``scoreThreshold`` is left out.

    ``languages``: the one the comment was judged as; ``detected``: the languages identified in it.
    ``threats``: whether the threat check matched the whole text, then each span."""
    found = list(threats) or [False] * (1 + len(spans or []))
    scores: dict[str, Any] = {}
    for name, options in attributes.items():
        value = attribute_score(name, summary, found[0])
        if value < options["threshold"]:
            continue
        entry: dict[str, Any] = {"summaryScore": {"value": value, "type": "PROBABILITY"}}
        if spans is not None and span_probabilities is not None:
            entry["spanScores"] = [
                {
                    "begin": begin,
                    "end": end,
                    "score": {"value": attribute_score(name, p, threat), "type": "PROBABILITY"},
                }
                for (begin, end), p, threat in zip(spans, span_probabilities, found[1:], strict=True)
            ]
        scores[name] = entry
    response: dict[str, Any] = {"attributeScores": scores, "languages": languages, "detectedLanguages": list(detected)}
    if client_token is not None:
        response["clientToken"] = client_token
    return response
