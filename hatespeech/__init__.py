"""hatespeech-detect: score texts as hate speech, offensive language or neither.

The package is small on purpose; one module per idea:

- ``labels``     the three classes and their order (defined once)
- ``config``     every setting, read from the environment in one place
- ``text``       text normalisation (a step *inside* the persisted pipeline)
- ``pipeline``   the scikit-learn pipeline: normalise → TF-IDF → calibrated one-vs-rest LinearSVC
- ``data``       reading and validating a labelled CSV
- ``evaluate``   cross-validation, metrics, the decision rule, the evaluation report
- ``model_file`` saving (atomically, with a card) and loading (verified) the model
- ``classifier`` the loaded model as plain Python: ``scores(text) -> {label: probability}``
- ``web``        the HTTP layer: firefly routes and a small WSGI guard around them
"""

__version__ = "1.0.0"
