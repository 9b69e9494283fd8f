"""hatespeech-detect: score texts as hate speech, offensive language or neither.

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

__version__ = "1.0.0"
