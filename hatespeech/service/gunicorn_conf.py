"""gunicorn settings for production, from ``hatespeech.config`` (the one place settings are read).

    gunicorn -c python:hatespeech.service.gunicorn_conf app:application

Worker class gthread (``Worker`` below): a client that stalls mid-request ties up one thread, not
a whole worker (gunicorn's sync workers are blocked by slow clients), and for at most
``READ_TIMEOUT`` seconds; connections are kept alive. ``Worker`` adds to gunicorn's gthread worker:

- a read timeout on the client socket while the headers arrive (gunicorn has none, so a client
  that stops mid-headers would hold a thread for ever; the guard sets it for the body);
- its own answers to requests gunicorn refuses before the app sees them (request line or headers
  too long, malformed HTTP): JSON like every other error, instead of gunicorn's HTML page that
  echoes the request line, and logged without it (the line may hold ``?key=<token>``);
- closing, instead of draining, a connection whose body the guard refused (``web.CLOSE``);
- not accepting connections while all its threads are busy, so another worker takes them.
"""

import json
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

from gunicorn import util
from gunicorn.workers.gthread import TConn, ThreadWorker

from hatespeech import alerts
from hatespeech.config import settings as _read_settings  # not `config`: gunicorn reads every name here
from hatespeech.service import api, metrics, web

_settings = _read_settings()  # what gunicorn reads below (bind, workers…): read, nothing changed


# Hooks, not statements at import: importing this module (a test, a doctest collection) changes
# nothing in the importing process.
def on_starting(server: object) -> None:
    # In the master, before the workers fork: they inherit both.
    # The log format is the message alone: skip the caller's frame lookup and the thread and process
    # names that every record would otherwise collect (the logging HOWTO's "Optimization").
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    metrics.setup(_settings.metrics_dir, fresh=True)  # and PROMETHEUS_MULTIPROC_DIR, for the workers


def when_ready(server: Any) -> None:  # gunicorn's Arbiter (gunicorn has no types)
    if not _settings.token:
        server.log.warning(
            json.dumps({"warning": "FIREFLY_TOKEN is not set: anyone who can reach this port can use the API"})
        )
    elif not _settings.moderation_key:
        server.log.warning(
            json.dumps(
                {
                    "warning": "MODERATION_API_KEY is not set: the OpenAI and Perspective drop-ins take FIREFLY_TOKEN, "
                    "and a client holding it (Coral) can also write /feedback and read /review; "
                    "give such clients MODERATION_API_KEY instead"
                }
            )
        )


def post_worker_init(worker: object) -> None:
    alerts.start()  # each worker's alert sender, after the fork (threads do not survive one)
    api.start_following()  # and its poll for a promoted model


def worker_exit(server: object, worker: object) -> None:
    api.stop_following()
    alerts.stop()


def child_exit(server: Any, worker: Any) -> None:  # gunicorn's Arbiter and Worker
    metrics.child_exit(worker.pid)


# What gunicorn refuses, as (status, what is wrong); by exception class name (gunicorn.http.errors).
_REFUSED = {
    "LimitRequestLine": ("414 URI Too Long", "the request line is too long"),
    "LimitRequestHeaders": (
        "431 Request Header Fields Too Large",
        "too many headers, or one too large",
    ),
    "InvalidRequestLine": ("400 Bad Request", "the request line is not valid HTTP"),
    "InvalidRequestMethod": ("400 Bad Request", "the method is not valid"),
    "InvalidHTTPVersion": ("400 Bad Request", "the HTTP version is not supported; use HTTP/1.1"),
    "InvalidHeader": ("400 Bad Request", "a header is not valid"),
    "InvalidHeaderName": ("400 Bad Request", "a header name is not valid"),
    "ObsoleteFolding": ("400 Bad Request", "a header is folded over several lines"),
    "UnsupportedTransferCoding": ("400 Bad Request", "the Transfer-Encoding is not supported; use chunked"),
    "ExpectationFailed": ("417 Expectation Failed", "only 'Expect: 100-continue' is supported"),
    "InvalidChunkSize": ("400 Bad Request", "a chunk size is not valid"),
    "ChunkMissingTerminator": ("400 Bad Request", "a chunk does not end with CRLF"),
    "InvalidChunkExtension": ("400 Bad Request", "a chunk extension is not valid"),
    "InvalidProxyLine": ("400 Bad Request", "the PROXY line is not valid"),
    "InvalidSchemeHeaders": ("400 Bad Request", "contradictory scheme headers"),
    "ForbiddenProxyRequest": ("403 Forbidden", "request forbidden"),
    "InvalidH2CPreface": ("400 Bad Request", "not an HTTP/2 preface"),
}


_current = threading.local()  # the request a worker thread is handling


class _TimedConn(TConn):
    def init(self) -> None:
        super().init()
        # handle() has just made the socket blocking (no timeout): bound each wait for data.
        self.sock.settimeout(_settings.read_timeout)


class Worker(ThreadWorker):
    """gunicorn's gthread worker with a read timeout, JSON refusals, and early close (see above)."""

    busy = 0  # connections handed to the thread pool and not finished (counted on the main thread)
    wsgi: Callable[..., object]  # gunicorn's: the application, which load_wsgi wraps

    def set_accept_enabled(self, enabled: bool) -> None:
        # gunicorn accepts while every thread is busy (with a slow client, say) and queues the new
        # connection behind them; leaving it in the listen backlog lets a worker with a free
        # thread take it.
        super().set_accept_enabled(
            enabled and self.alive and self.busy < self.cfg.threads and self.nr_conns < self.worker_connections
        )

    def enqueue_req(self, conn: TConn) -> None:
        self.busy += 1
        super().enqueue_req(conn)
        self.set_accept_enabled(True)

    def finish_request(self, conn: TConn, fs: object) -> None:
        self.busy -= 1
        super().finish_request(conn, fs)
        self.set_accept_enabled(True)

    def handle(self, conn: TConn) -> object:
        conn.__class__ = _TimedConn
        return super().handle(conn)

    def load_wsgi(self) -> None:
        super().load_wsgi()
        app = self.wsgi

        def closing(environ: dict, start_response: object) -> object:
            result = app(environ, start_response)
            if environ.get(web.CLOSE):
                # Before the headers go out (on the first write): they say "Connection: close",
                # and gunicorn closes instead of draining the unread body.
                _current.req.must_close = True
            return result

        self.wsgi = closing

    def handle_request(self, req: object, conn: TConn) -> bool:
        _current.req = req
        try:
            return super().handle_request(req, conn)
        finally:
            _current.req = None

    def handle_error(self, req: object, client: socket.socket, addr: object, exc: Exception) -> None:
        name = type(exc).__name__
        if name in _REFUSED:
            status, error = _REFUSED[name]
            web.log.warning(json.dumps({"status": int(status[:3]), "refused": name}))
        else:
            status, error = "500 Internal Server Error", "internal server error"
            self.log.exception("Error handling request (%s)", name)  # never the URI: it may hold ?key=
        body = json.dumps({"error": error}).encode()
        head = f"HTTP/1.1 {status}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        head += f"Content-Length: {len(body)}\r\n\r\n"
        try:
            util.write_nonblock(client, head.encode("latin-1") + body)
        except OSError:
            self.log.debug("Failed to send error message.")


class JsonLines(logging.Formatter):
    """Every line a JSON object: the app's own lines already are one; gunicorn's ("Booting worker
    with pid: 7"), firefly's ("Function predict failed ...") and tracebacks are wrapped in one."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if not record.exc_info and message.startswith("{") and message.endswith("}"):
            return message
        line: dict[str, object] = {"level": record.levelname.lower(), "logger": record.name, "message": message}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line)


class _QuietTimeouts:
    """A client that stalls mid-headers is the client's problem: one line, not a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = getattr(record, "exc_info", None)
        if exc and isinstance(exc[1], TimeoutError):
            record.msg, record.args, record.exc_info, record.exc_text = (
                json.dumps({"status": 408, "refused": "headers did not arrive in time"}),
                (),
                None,
                None,
            )
        return True


bind = [f"{_settings.host}:{_settings.port}"]
workers = _settings.workers
worker_class = "hatespeech.service.gunicorn_conf.Worker"
threads = _settings.threads
preload_app = True  # load and verify the model once, before forking; workers share its pages
timeout = _settings.timeout
graceful_timeout = _settings.timeout  # SIGTERM: finish in-flight requests for up to this long
keepalive = 5
# A second line of defence for memory (the caches are bounded in bytes): each worker is replaced,
# by a fresh fork of the preloaded master, after MAX_REQUESTS + a random share of the jitter.
max_requests = _settings.max_requests
max_requests_jitter = _settings.max_requests_jitter
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
    "formatters": {"json": {"()": JsonLines}},
    "filters": {"quiet_timeouts": {"()": _QuietTimeouts}},
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "json",
            "filters": ["quiet_timeouts"],
        }
    },
    "root": {"handlers": ["stdout"], "level": "WARNING"},
    "loggers": {
        "gunicorn.error": {"handlers": ["stdout"], "level": _settings.log_level.upper(), "propagate": False},
        "hatespeech": {"handlers": ["stdout"], "level": _settings.log_level.upper(), "propagate": False},
    },
}
