"""Prometheus metrics: several processes add up; /metrics answers as documented."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from prometheus_client import values

from hatespeech.config import Settings
from hatespeech.service import metrics, web
from testing.support import ROOT

WORKER = """
from hatespeech import config
from hatespeech.service import metrics, web
metrics.setup(config.settings().metrics_dir)  # PROMETHEUS_MULTIPROC_DIR, inherited as a gunicorn worker inherits it
metrics.register_endpoints(["/moderate"])
for _ in range(10):
    metrics.observe_request("/moderate", 200, 0.004)
metrics.observe_request("/wp-login.php", 404, 0.001)
metrics.observe_decision("hate speech", "block")
metrics.alert_created("message")
metrics.alert_delivered("slack")
metrics.alerts_dropped("outbox_full", 3)
metrics.alerts_pending(7)
"""


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A metrics directory of this module's own, so that the counts below are this module's alone.

    ``setup`` runs once per process and keeps its first directory: another test (or a doctest) that
    set it up earlier would have us count its requests too. So the module's state is set aside and
    put back after, with ``PROMETHEUS_MULTIPROC_DIR``, which ``setup`` exports and servers inherit.
    """
    with pytest.MonkeyPatch.context() as patch:
        for name, value in (("_m", None), ("_directory", None), ("_series", {})):
            patch.setattr(metrics, name, value)
        patch.setattr(values, "ValueClass", values.ValueClass)  # setup replaces it
        own = str(tmp_path_factory.mktemp("metrics"))
        patch.setenv("PROMETHEUS_MULTIPROC_DIR", own)  # put back (or removed) after, though setup sets it too
        metrics.setup(own)
        assert metrics._directory == own
        yield own


def sample(text: str, line_start: str) -> float:
    (line,) = [line for line in text.splitlines() if line.startswith(line_start + " ")]
    return float(line.rsplit(" ", 1)[1])


def test_several_processes_add_up(directory: str) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": directory, "PYTHONPATH": str(ROOT)}
    for _ in range(3):
        subprocess.run([sys.executable, "-c", WORKER], env=env, cwd=ROOT, check=True, timeout=60)
    metrics.model_info("1.0.0", "ab" * 32)
    text = metrics.render().decode()
    assert sample(text, 'hatespeech_requests_total{endpoint="/moderate",status="200"}') == 30
    assert sample(text, 'hatespeech_requests_total{endpoint="other",status="404"}') == 3  # no path as a label
    assert sample(text, 'hatespeech_request_seconds_bucket{endpoint="/moderate",le="0.005"}') == 30
    assert sample(text, 'hatespeech_decisions_total{action="block",label="hate speech"}') == 3
    assert sample(text, 'hatespeech_alerts_created_total{type="message"}') == 3
    assert sample(text, 'hatespeech_alerts_delivered_total{format="slack"}') == 3
    assert sample(text, 'hatespeech_alerts_dropped_total{reason="outbox_full"}') == 9
    assert sample(text, "hatespeech_alerts_pending") == 7
    assert sample(text, 'hatespeech_model_info{sha256="abababababab",version="1.0.0"}') == 1


def call(environ: dict, settings: Settings) -> tuple[str, dict, bytes]:
    seen: dict = {}

    def start_response(status: str, headers: list) -> None:
        seen["status"], seen["headers"] = status, dict(headers)

    guard = web.create_app({}, settings, lambda: {"status": "ok"})  # the guard checks /metrics' token
    body = b"".join(guard({"REQUEST_METHOD": "GET", "PATH_INFO": "/metrics", **environ}, start_response))
    return seen["status"], seen["headers"], body


@pytest.mark.usefixtures("directory")
def test_metrics_are_behind_the_token_or_their_own() -> None:
    status, headers, body = call({}, Settings())
    assert status == "200 OK" and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert b"# TYPE hatespeech_requests_total counter" in body
    with_token = Settings(token="s3cret")
    assert call({}, with_token)[0] == "403 Forbidden"
    assert call({"HTTP_AUTHORIZATION": "Token s3cret"}, with_token)[0] == "200 OK"
    own = Settings(token="s3cret", metrics_token="scrape")
    assert call({"HTTP_AUTHORIZATION": "Bearer scrape"}, own)[0] == "200 OK"
    assert call({"HTTP_AUTHORIZATION": "Bearer s3cret"}, own)[0] == "403 Forbidden"
    status, headers, body = call({"REQUEST_METHOD": "POST"}, Settings())
    assert status == "405 Method Not Allowed" and headers["Allow"] == "GET, HEAD"
    assert call({"REQUEST_METHOD": "HEAD"}, Settings())[2] == b""
