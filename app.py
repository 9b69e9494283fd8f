"""The service's entry point: the model, loaded once, behind module-level functions.

    firefly app.predict --bind 127.0.0.1:5000            the tutorial's way: one request at a time
    gunicorn -c python:hatespeech.service.gunicorn_conf app:application    production (``make serve``)

Importing this module reads the settings and loads and verifies the model (gunicorn's ``preload``
does it once, before forking, so the workers share its memory): the one promoted with ``model.py``
if there is one, else ``MODEL_PATH``'s. A model that fails verification stops the process with a
message saying why, instead of serving garbage. Under gunicorn each worker then serves a later
promotion or rollback without a restart (``hatespeech/lifecycle``); ``classifier`` and ``policy``
below are the model served at import. What each function does is in ``hatespeech/service/api.py``.
"""

from __future__ import annotations

import gc
import sys

# The cyclic collector is off while this module loads (on again at the end): the imports and the models make
# ~10^5 objects that all live as long as the process, and its ~330 passes over them while they were being made
# cost 0.1–0.3 s of every start (bench/latency.py --only language_cold). What it would have found (~1,200 objects
# in a few cycles, under 1 MB) is frozen with the rest below.
gc.disable()

from hatespeech import alerts, config, integrations, review  # noqa: E402 (after the collector is off)
from hatespeech.core.modelfile import ModelError  # noqa: E402
from hatespeech.core.policy import PolicyError  # noqa: E402
from hatespeech.review.candidate import Candidates  # noqa: E402
from hatespeech.review.web import ReviewPages  # noqa: E402
from hatespeech.service import api, metrics, web  # noqa: E402

settings = config.settings()

if settings.token and "firefly.main" in sys.modules:
    # The `firefly` command ignores FIREFLY_TOKEN (it would serve without auth): refuse instead.
    sys.exit(
        "hatespeech-detect: FIREFLY_TOKEN is set, but the `firefly` command would serve without "
        "checking it. Serve with `make serve` (gunicorn app:application), which enforces the token."
    )

try:
    served = api.load(settings)
except (ModelError, PolicyError) as err:
    sys.exit(f"hatespeech-detect: cannot serve the model: {err}")
# Opens nothing: each worker opens the store after the fork. The boards' API calls ride the outbox.
alerts.configure(settings.alerts, metrics, integrations.call_headers(settings.integrations))
review.configure(settings.review)  # likewise
metrics.model_info(served.policy.model["version"], served.policy.model["sha256"])

predict = served.functions["predict"]
predict_batch = served.functions["predict_batch"]
moderate = served.functions["moderate"]
moderate_batch = served.functions["moderate_batch"]
openai_moderations = served.functions["v1/moderations"]
perspective_analyze = served.functions["v1alpha1/comments:analyze"]
classifier, policy = served.classifier, served.policy
post_feedback, erase_feedback = served.functions["feedback"], served.functions["feedback/erase"]
candidates = Candidates(settings, lambda: served.moderator)  # GET /review/candidate: computed off the request path
pages = ReviewPages(review.reviewer, served.review_model, settings.token is not None, candidates)  # GET /review …
application = web.create_app(
    served.functions, settings, served.health, gets=served.gets, pages=pages, integrations=served.integrations
)
# What is loaded by now (the model's vocabulary and the reader's word sets: ~10^5 objects) lives as
# long as the process: moved out of the collector's generations, collections no longer walk it
# (measured: bench/LOG-2026.md), and forked workers do not copy its pages by touching it.
gc.freeze()
gc.enable()
