"""Every setting of the service, read from the environment in this one place.

Defaults are safe for a laptop: loopback only, no token, 64 KiB bodies. The Dockerfile sets
``HOST=0.0.0.0``; Heroku sets ``PORT`` and ``WEB_CONCURRENCY``.

>>> Settings.from_env({"PORT": "8080"}).port
8080
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = ROOT / "models"
DEFAULT_MODEL_PATH = MODELS_DIR / "model.json"
DEFAULT_DATA_PATH = ROOT / "data" / "labeled_data.csv"
OPENAPI_PATH = ROOT / "openapi.yaml"  # the API's description, served at GET /openapi.yaml


class ConfigError(ValueError):
    """A setting in the environment has a value the service cannot use."""


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise ConfigError(f"{name}={value} must be at least {minimum}")
    return value


def _thresholds(env: Mapping[str, str]) -> dict | None:
    """``THRESHOLDS``: a JSON object, or the path of a file holding one (moderation.py checks its contents)."""
    raw = env.get("THRESHOLDS", "").strip()
    if not raw:
        return None
    if not raw.startswith("{"):
        try:
            raw = Path(raw).read_text(encoding="utf-8")
        except OSError as err:
            raise ConfigError(f"THRESHOLDS={raw!r} is neither a JSON object nor a readable file ({err})") from None
    try:
        value = json.loads(raw)
    except ValueError as err:
        raise ConfigError(f"THRESHOLDS is not valid JSON ({err})") from None
    if not isinstance(value, dict):
        raise ConfigError('THRESHOLDS must be a JSON object, such as {"hate speech": {"review": 0.3}}')
    return value


@dataclass(frozen=True)
class Settings:
    model_path: Path = DEFAULT_MODEL_PATH
    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 2
    threads: int = 4
    timeout: int = 30  # seconds a worker may spend on one request before it is restarted
    read_timeout: int = 10  # seconds a client may leave a request half-sent (headers or body): then 408
    max_body_bytes: int = 64 * 1024
    max_text_chars: int = 10_000
    token: str | None = None  # FIREFLY_TOKEN, as firefly names it
    log_level: str = "info"
    max_batch_texts: int = 100  # texts per /predict_batch, /moderate_batch, /v1/moderations request
    max_batch_chars: int = 50_000  # their total length
    thresholds: dict | None = field(default=None, compare=False)  # THRESHOLDS: overrides the card's

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        token = env.get("FIREFLY_TOKEN", "").strip() or None
        return cls(
            model_path=Path(env.get("MODEL_PATH") or DEFAULT_MODEL_PATH),
            host=env.get("HOST", "").strip() or cls.host,
            port=_int(env, "PORT", cls.port),
            workers=_int(env, "WEB_CONCURRENCY", cls.workers),
            threads=_int(env, "THREADS", cls.threads),
            timeout=_int(env, "TIMEOUT", cls.timeout),
            read_timeout=_int(env, "READ_TIMEOUT", cls.read_timeout),
            max_body_bytes=_int(env, "MAX_BODY_BYTES", cls.max_body_bytes, minimum=64),
            max_text_chars=_int(env, "MAX_TEXT_CHARS", cls.max_text_chars),
            token=token,
            log_level=env.get("LOG_LEVEL", "").strip().lower() or cls.log_level,
            max_batch_texts=_int(env, "MAX_BATCH_TEXTS", cls.max_batch_texts),
            max_batch_chars=_int(env, "MAX_BATCH_CHARS", cls.max_batch_chars),
            thresholds=_thresholds(env),
        )
