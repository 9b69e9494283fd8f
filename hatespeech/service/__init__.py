"""The HTTP service: the served functions over firefly, a WSGI guard, gunicorn's settings, metrics.

``api`` what each endpoint does · ``compat`` OpenAI and Perspective shapes · ``context`` a post's
optional id, thread, author and url · ``web`` the guard (token, limits, JSON errors, access log) ·
``gunicorn_conf`` the production server · ``metrics`` Prometheus. Nothing here imports scikit-learn.
"""
