"""gunicorn settings for production, from ``hatespeech.config`` (the one place settings are read).

    gunicorn -c python:hatespeech.gunicorn_conf app:application

Worker class gthread: a client that stalls mid-request ties up one thread, not a whole worker
(gunicorn's sync workers are blocked by slow clients); connections are kept alive.
"""

from hatespeech.config import Settings

_settings = Settings.from_env()

bind = [f"{_settings.host}:{_settings.port}"]
workers = _settings.workers
worker_class = "gthread"
threads = _settings.threads
preload_app = True  # load and verify the model once, before forking; workers share its pages
timeout = _settings.timeout
graceful_timeout = _settings.timeout  # SIGTERM: finish in-flight requests for up to this long
keepalive = 5
limit_request_line = 4094
limit_request_fields = 50
limit_request_field_size = 8190
control_socket_disable = True  # gunicorn 27 opens ~/.gunicorn/gunicorn.ctl otherwise, shared by all instances
accesslog = None  # the app writes its own access line, without texts or tokens
errorlog = "-"
loglevel = _settings.log_level
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(message)s"}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "plain"}},
    "root": {"handlers": ["stdout"], "level": "WARNING"},
    "loggers": {
        "gunicorn.error": {"handlers": ["stdout"], "level": _settings.log_level.upper(), "propagate": False},
        "hatespeech": {"handlers": ["stdout"], "level": _settings.log_level.upper(), "propagate": False},
    },
}
