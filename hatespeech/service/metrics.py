"""Prometheus metrics for ``GET /metrics``, correct under several gunicorn workers.

prometheus-client's multiprocess mode: each process writes its values to memory-mapped files in
one directory (``PROMETHEUS_MULTIPROC_DIR``, prometheus-client's own variable, read by config.py;
a fresh temporary directory when unset), and ``/metrics`` adds them up at scrape time. ``setup``
must run before the workers fork (gunicorn's ``on_starting`` hook calls it), so that they inherit
the directory.

Until ``setup`` runs every ``observe``-style function here does nothing, so the package's other
modules call them freely (tests, the ``firefly`` command); ``model_info`` is kept until then.

    setup(settings.metrics_dir, fresh=True)           once, in gunicorn's master
    observe_request("/moderate", 200, 0.004)          the web layer, per request
    observe_decision("hate speech", "block")          /moderate, per text
    observe_language("de", True)                      /moderate, per text: its language, judged or not
    model_info("1.0.0", "ab12…")                       app.py, once
    render()                                          GET /metrics (the guard checks METRICS_TOKEN or FIREFLY_TOKEN)

>>> import tempfile
>>> setup(tempfile.mkdtemp())
>>> register_endpoints(["/predict"])
>>> observe_request("/predict", 200, 0.003)
>>> b'hatespeech_requests_total{endpoint="/predict",status="200"}' in render()  # 1.0 in a fresh process
True
"""

from __future__ import annotations

import glob
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping
from types import SimpleNamespace
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)

from hatespeech import config

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
FIXED_ENDPOINTS = frozenset({"/", "/health", "/metrics", "/openapi.yaml"})

_lock = threading.Lock()
_m: SimpleNamespace | None = None  # the metrics, once set up
_directory: str | None = None
_model: tuple[str, str] | None = None  # model_info's (version, sha256[:12])
_endpoints: set[str] = set(FIXED_ENDPOINTS)
_series: dict[tuple[str, int], tuple[Any, Any]] = {}  # (endpoint, status) → its counter and histogram


def setup(directory: str | None, fresh: bool = False) -> None:
    """Choose the multiprocess directory and create the metrics; later calls do nothing.

    ``directory``: the settings' ``metrics_dir`` (``PROMETHEUS_MULTIPROC_DIR``); ``None``: a new
    temporary directory. ``fresh``: delete the values a previous run left there (gunicorn's master,
    at start, before forking).
    """
    global _m, _directory
    with _lock:
        if _m is not None:
            return
        directory = directory or tempfile.mkdtemp(prefix="hs-metrics-")
        os.makedirs(directory, exist_ok=True)
        if fresh:
            for path in glob.glob(os.path.join(directory, "*.db")):
                os.remove(path)
        config.export_metrics_dir(directory)  # before the first value is made; the workers inherit it
        values.ValueClass = values.MultiProcessValue()  # whatever the environment was at import
        _directory = directory
        _m = SimpleNamespace(
            requests=Counter(
                "hatespeech_requests", "HTTP requests, by endpoint and status", ["endpoint", "status"], registry=None
            ),
            latency=Histogram(
                "hatespeech_request_seconds",
                "Time to answer an HTTP request, by endpoint",
                ["endpoint"],
                buckets=LATENCY_BUCKETS,
                registry=None,
            ),
            decisions=Counter(
                "hatespeech_decisions", "Texts moderated, by label and action", ["label", "action"], registry=None
            ),
            # bounded: identification names one of its ~44 candidate languages, or und
            languages=Counter(
                "hatespeech_posts_by_language",
                "Texts moderated, by language (ISO 639-1, or und) and whether a model judged it",
                ["language", "supported"],
                registry=None,
            ),
            created=Counter(
                "hatespeech_alerts_created", "Alerts written to the outbox, by type", ["type"], registry=None
            ),
            delivered=Counter(
                "hatespeech_alerts_delivered",
                "Alert deliveries a webhook accepted, by format",
                ["format"],
                registry=None,
            ),
            retries=Counter(
                "hatespeech_alert_retries",
                "Delivery attempts that failed and will be retried",
                ["reason"],
                registry=None,
            ),
            failed=Counter(
                "hatespeech_alerts_failed", "Alert deliveries given up on a permanent error", ["reason"], registry=None
            ),
            dropped=Counter(
                "hatespeech_alerts_dropped",
                "Alerts lost to a limit: outbox_full, too_old (ALERT_MAX_AGE_HOURS), store_error",
                ["reason"],
                registry=None,
            ),
            pending=Gauge(
                "hatespeech_alerts_pending",
                "Alert deliveries waiting in the outbox",
                multiprocess_mode="mostrecent",
                registry=None,
            ),
            model=Gauge(
                "hatespeech_model_info",
                "The model being served (1; 0 for one a promotion or rollback replaced)",
                ["version", "sha256"],
                # the last value written by any process: a worker that swaps models sets the old one's
                # series to 0 after the master had set it to 1
                multiprocess_mode="mostrecent",
                registry=None,
            ),
        )
        if _model is not None:
            _m.model.labels(*_model).set(1)


def _when_set_up(function: Callable[..., None]) -> Callable[..., None]:
    def wrapper(*args: Any) -> None:
        if _m is not None:
            function(*args)

    wrapper.__doc__, wrapper.__name__ = function.__doc__, function.__name__
    return wrapper


def register_endpoints(paths: Iterable[str]) -> None:
    """The paths counted by name; any other is counted as ``other`` (so a scan cannot add series)."""
    _endpoints.update(paths)


@_when_set_up
def observe_request(path: str, status: int, seconds: float) -> None:
    """One HTTP request: its path, status and time."""
    endpoint = path if path in _endpoints else "other"
    series = _series.get((endpoint, status))
    if series is None:  # labels() validates and locks on every call: look each pair up once
        series = _series[endpoint, status] = (
            _m.requests.labels(endpoint, str(status)),  # type: ignore[union-attr]  # called only after setup() set _m
            _m.latency.labels(endpoint),  # type: ignore[union-attr]  # called only after setup() set _m
        )
    series[0].inc()
    series[1].observe(seconds)


@_when_set_up
def observe_decision(label: str, action: str) -> None:
    """One moderated text: the label and the action decided."""
    _m.decisions.labels(label, action).inc()  # type: ignore[union-attr]  # called only after setup() set _m


@_when_set_up
def observe_language(language: str, supported: bool) -> None:
    """One moderated text: its language and whether a model judged it."""
    _m.languages.labels(language, "true" if supported else "false").inc()  # type: ignore[union-attr]  # after setup()


def model_info(version: str, sha256: str, was: Mapping[str, str] | None = None) -> None:
    """The served model, as ``hatespeech_model_info{version, sha256} 1``; kept until ``setup`` if it has
    not run (app.py loads the model in gunicorn's master before the ``on_starting`` hook). ``was``: the
    model it replaces (its ``version`` and ``sha256``), whose series goes to 0."""
    global _model
    _model = (version, sha256[:12])
    if _m is not None:
        if was is not None and (was["version"], was["sha256"][:12]) != _model:
            _m.model.labels(was["version"], was["sha256"][:12]).set(0)
        _m.model.labels(*_model).set(1)


@_when_set_up
def alert_created(kind: str) -> None:
    _m.created.labels(kind).inc()  # type: ignore[union-attr]  # called only after setup() set _m


@_when_set_up
def alert_delivered(fmt: str) -> None:
    _m.delivered.labels(fmt).inc()  # type: ignore[union-attr]  # called only after setup() set _m


@_when_set_up
def alert_retry(reason: str) -> None:
    _m.retries.labels(reason).inc()  # type: ignore[union-attr]  # called only after setup() set _m


@_when_set_up
def alert_failed(reason: str) -> None:
    _m.failed.labels(reason).inc()  # type: ignore[union-attr]  # called only after setup() set _m


@_when_set_up
def alerts_dropped(reason: str, count: int = 1) -> None:
    _m.dropped.labels(reason).inc(count)  # type: ignore[union-attr]  # called only after setup() set _m


@_when_set_up
def alerts_pending(count: int) -> None:
    _m.pending.set(count)  # type: ignore[union-attr]  # called only after setup() set _m


def render() -> bytes:
    """Every process's metrics, added up, in the Prometheus text format."""
    setup(config.settings().metrics_dir)  # set up already under gunicorn; not under the firefly command
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=_directory)
    return generate_latest(registry)


def child_exit(pid: int) -> None:
    """A worker died (gunicorn's ``child_exit``, in the master): drop its live gauges."""
    if _directory is not None:
        multiprocess.mark_process_dead(pid, _directory)
