"""hatespeech-detect: score texts as hate speech, offensive language or neither.

The package is small on purpose; one module per idea:

- ``labels``      the three classes and their order (defined once)
- ``config``      every setting, read from the environment in one place
- ``text``        text normalisation (a step *inside* the persisted pipeline), with spans, cached
- ``pipeline``    the scikit-learn pipeline: normalise → TF-IDF → calibrated one-vs-rest LinearSVC
- ``data``        reading and validating a labelled CSV
- ``evaluate``    cross-validation, metrics, the decision rule and default thresholds
- ``training``    evaluate, then fit the production model; ``report`` draws its plots
- ``model_file``  saving (atomically, with a card) and loading (verified) the model
- ``compiled``    the fitted pipeline as plain arrays: what the service scores with (same probabilities)
- ``classifier``  the loaded model as plain Python: ``scores(text) -> {label: probability}``
- ``moderation``  the decision: label, thresholds, action
- ``explain``     exact per-span contributions of the linear model
- ``compat``      OpenAI- and Perspective-compatible request and response shapes
- ``archive``     streaming scorer for CSV / JSON Lines archives
- ``context``, ``store``, ``alerts``, ``metrics``   alerts to moderators and Prometheus metrics
- ``web``         the HTTP layer: firefly routes and a small WSGI guard around them
- ``gunicorn_conf``  the production server's settings
"""

__version__ = "1.0.0"
