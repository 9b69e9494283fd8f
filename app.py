"""The service's entry point: the model, loaded once, behind module-level functions.

    firefly app.predict --bind 127.0.0.1:5000            the tutorial's way: one request at a time
    gunicorn -c python:hatespeech.gunicorn_conf app:application    production (``make serve``)

Importing this module loads and verifies the model (gunicorn's ``--preload`` does it once, before
forking, so the workers share its memory). A model that fails verification stops the process
with a message saying why, instead of serving garbage.
"""

from __future__ import annotations

import sys

from hatespeech import web
from hatespeech.classifier import Classifier
from hatespeech.config import Settings
from hatespeech.model_file import ModelError

settings = Settings.from_env()

if settings.token and "firefly.main" in sys.modules:
    # The `firefly` command ignores FIREFLY_TOKEN (it would serve without auth): refuse instead.
    sys.exit(
        "hatespeech-detect: FIREFLY_TOKEN is set, but the `firefly` command would serve without "
        "checking it. Serve with `make serve` (gunicorn app:application), which enforces the token."
    )

try:
    classifier = Classifier.load(settings.model_path, settings.max_text_chars)
except ModelError as err:
    sys.exit(f"hatespeech-detect: cannot serve the model: {err}")


@web.bad_input_is_400
def predict(text: str) -> dict[str, float]:
    """Probabilities that ``text`` is hate speech, offensive language or neither (they sum to 1)."""
    return classifier.scores(text)


def health() -> dict:
    return {"status": "ok", "model": classifier.card["sha256"][:12]}


application = web.create_app({"predict": predict}, settings, health)
