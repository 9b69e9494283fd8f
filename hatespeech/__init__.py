"""hatespeech-detect: score texts as hate speech, offensive language or neither.

As a library (``pip install .`` puts the package and the committed model in an environment)::

    import hatespeech
    model = hatespeech.load()                  # the committed model, verified; or load("my/model.json")
    model.predict("have a lovely day")         # what POST /predict answers: a probability per class
    model.moderate("I will hurt you")          # what POST /moderate answers: scores, label, action…

Importing the package loads nothing and reads no setting: the model is read by ``load()``, and the
service's environment (``MODEL_PATH``, ``THRESHOLDS``…) is never read by it.

One folder per layer, each a deployable unit (see each folder's ``__init__``):

- ``core/``      the serving core, standard library + NumPy only: labels, normalisation, the
                 compiled model and its verified file, the decision rule, explanations
- ``training/``  scikit-learn, pandas, plots: data, pipeline, evaluation, compiling and saving
- ``service/``   HTTP: the served functions over firefly, the WSGI guard, gunicorn, metrics
- ``alerts/``    telling moderators: rules, rendering, signing, delivery, stores (SQLite, Redis)
- ``archive/``   batch scoring of archives, on every core or on a Dask cluster
- ``feedback/``  moderators' labels for the next training: validation, stores (SQLite, PostgreSQL)
- ``review/``    the moderators' page (GET /review, static files) and its queue (SQLite, Redis, PostgreSQL)
- ``integrations/``  the boards connected: Discourse, Coral Talk and Mastodon webhooks in, flags
                 and reports out (through the alert outbox), moderators' decisions back as feedback
- ``config``     every setting, read once from the environment
- ``connections``  per-thread, fork-safe database connections and the SQLite opener (the stores')
"""

from __future__ import annotations

from collections.abc import Mapping
from os import PathLike
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only for the annotation: importing the package must not import NumPy or read the model
    from hatespeech.core.moderator import Moderator

__version__ = "1.0.0"
__all__ = ["load"]


def load(
    card_path: str | PathLike[str] | None = None,
    *,
    thresholds: Mapping[str, Any] | None = None,
    languages: str | PathLike[str] | None = None,
    unsupported_action: str = "allow",
) -> Moderator:
    """The committed model, or the one whose card is at ``card_path``, loaded and verified as the service loads it,
    with the other languages' models: the committed ones (German, Portuguese, Korean), or every card in the
    folder ``languages``. Each text is judged by its language's model; one in a language without a model gets
    ``unsupported_action`` (``allow`` or ``review``), as ``UNSUPPORTED_LANGUAGE_ACTION`` sets for the service.

    Its ``predict(text)`` and ``moderate(text, explain=False)`` answer what ``/predict`` and ``/moderate``
    answer (the same code), with the service's default limits (``MAX_TEXT_CHARS``, ``EXPLAIN_MAX_SPANS``);
    ``thresholds`` overrides the card's, as ``THRESHOLDS`` does. A model that fails verification raises
    ``hatespeech.core.modelfile.ModelError`` saying why.

    >>> model = load()
    >>> model                                  # doctest: +ELLIPSIS
    <Moderator: model ...>
    >>> model.moderate("have a lovely day, everyone")["action"]
    'allow'
    >>> model.moderate("I am going to kill you")["categories"]["threat"]
    True
    >>> answer = model.moderate("Ich wünsche euch allen einen schönen Abend im Garten.")
    >>> answer["language"], answer["language_supported"], answer["model"]["language"]
    ('de', True, 'de')
    """
    from pathlib import Path

    from hatespeech.config import DEFAULT_LANGUAGE_MODELS_DIR, DEFAULT_MODEL_PATH, Settings
    from hatespeech.core.moderator import Languages, Moderator

    defaults = Settings()  # the dataclass's defaults, not the environment
    return Moderator.load(
        DEFAULT_MODEL_PATH if card_path is None else Path(card_path),
        thresholds,
        max_text_chars=defaults.max_text_chars,
        explain_max_spans=defaults.explain_max_spans,
        languages=Languages.load(
            DEFAULT_LANGUAGE_MODELS_DIR if languages is None else Path(languages), unsupported_action
        ),
    )
