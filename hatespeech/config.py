"""Every setting of the service, read from the environment in this one place.

Defaults are safe for a laptop: loopback only, no token, 64 KiB bodies. The Dockerfile sets
``HOST=0.0.0.0``; Heroku sets ``PORT`` and ``WEB_CONCURRENCY``.

>>> Settings.from_env({"PORT": "8080"}).port
8080
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
ROOT = PACKAGE.parent
# The committed model is models/ in a checkout (train.py replaces it there); an installed wheel carries
# the same files as the package's own models/ folder (pyproject.toml maps one onto the other).
MODELS_DIR = PACKAGE / "models" if (PACKAGE / "models").is_dir() else ROOT / "models"
DEFAULT_MODEL_PATH = MODELS_DIR / "model.json"
# The models of languages other than English: every card (*.json) in this folder, each naming its language
# (hatespeech.core.moderator.Languages); retrained ones drop in under their own card's name.
DEFAULT_LANGUAGE_MODELS_DIR = MODELS_DIR / "languages"
UNSUPPORTED_ACTIONS = ("allow", "review")  # UNSUPPORTED_LANGUAGE_ACTION's choices; never block on no judgement
LANGUAGE_MODELS_LOADS = ("start", "first-use")  # LANGUAGE_MODELS_LOAD's choices (hatespeech.core.moderator.Languages)
DEFAULT_DATA_PATH = ROOT / "data" / "labeled_data.csv"
SHARED_DATA_PATH = ROOT.parent / "shared" / "data" / "davidson" / "labeled_data.csv"  # a team's copy, beside it
DATA_PATHS = (DEFAULT_DATA_PATH, SHARED_DATA_PATH)  # where train.py and the tests look, in this order
DEFAULT_ALERT_DB_PATH = ROOT / "data" / "alerts.sqlite3"  # data/ is not committed; set ALERT_DB_PATH in a container
DEFAULT_REVIEW_DB_PATH = ROOT / "data" / "review.sqlite3"  # data/ is not committed; set REVIEW_DB_PATH in a container
DEFAULT_FEEDBACK_DB_PATH = ROOT / "data" / "feedback.sqlite3"  # the image sets FEEDBACK_DB_PATH
OPENAPI_PATH = ROOT / "openapi.yaml"  # the API's description, served at GET /openapi.yaml


def training_data_path() -> Path | None:
    """The Davidson et al. CSV that ``train.py``, ``make train`` and the tests use when none is given:
    the first of ``DATA_PATHS`` that is a file (``data/`` first), or None if neither is."""
    return next((path for path in DATA_PATHS if path.is_file()), None)


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


MIN_TOKEN_CHARS = 16


def _token(env: Mapping[str, str], name: str = "FIREFLY_TOKEN") -> str | None:
    """The API token: unset means no token (the server starts open and says so in its log); set,
    it must be at least 16 characters without white space (a blank one must not switch auth off
    silently). The error never repeats the value.

    >>> _token({}) is None, _token({"FIREFLY_TOKEN": "0123456789abcdef"})
    (True, '0123456789abcdef')
    """
    if name not in env:
        return None
    raw = env[name]
    how = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))' makes one"
    if not raw.strip():
        raise ConfigError(
            f"{name} is set but blank: set a token of at least {MIN_TOKEN_CHARS} characters, "
            "or unset it to serve without one"
        )
    if any(c.isspace() for c in raw):
        raise ConfigError(f"{name} contains white space (a copy-paste error?); {how}")
    if len(raw) < MIN_TOKEN_CHARS:
        raise ConfigError(f"{name} is {len(raw)} characters long; use at least {MIN_TOKEN_CHARS} ({how})")
    return raw


def _moderation_key(env: Mapping[str, str], token: str | None) -> str | None:
    """``MODERATION_API_KEY``: a token like ``FIREFLY_TOKEN``, and another one. Without ``FIREFLY_TOKEN``
    every path is open, so a key that only narrows what it reaches would narrow nothing.

    >>> _moderation_key({"MODERATION_API_KEY": "0123456789abcdef"}, "fedcba9876543210")
    '0123456789abcdef'
    """
    key = _token(env, "MODERATION_API_KEY")
    if key is None:
        return None
    if token is None:
        raise ConfigError("MODERATION_API_KEY is set but FIREFLY_TOKEN is not: set FIREFLY_TOKEN too")
    metrics = env.get("METRICS_TOKEN", "").strip()
    if key in (token, metrics):
        which = "FIREFLY_TOKEN" if key == token else "METRICS_TOKEN"
        raise ConfigError(f"MODERATION_API_KEY must differ from {which}: it is the key that reaches less")
    return key


def _thresholds(env: Mapping[str, str]) -> dict | None:
    """``THRESHOLDS``: a JSON object, or the path of a file holding one (core/policy.py checks its contents)."""
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


def _float(
    env: Mapping[str, str], name: str, default: float, minimum: float = 0.0, maximum: float | None = None
) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if not minimum < value or (maximum is not None and value > maximum):
        upper = f" and at most {maximum}" if maximum is not None else ""
        raise ConfigError(f"{name}={value} must be more than {minimum}{upper}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r} must be true or false")


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    """One of ``choices`` (case-insensitive), or ``default`` when unset.

    >>> _choice({"UNSUPPORTED_LANGUAGE_ACTION": "Review"}, "UNSUPPORTED_LANGUAGE_ACTION", "allow", UNSUPPORTED_ACTIONS)
    'review'
    """
    raw = env.get(name, "").strip().lower() or default
    if raw not in choices:
        raise ConfigError(f"{name}={raw!r} must be one of {', '.join(choices)}")
    return raw


ALERT_FORMATS = ("auto", "slack", "discord", "json")


def alert_format(url: str, configured: str) -> str:
    """The payload format for one webhook URL: ``ALERT_FORMAT``, or guessed from the host when ``auto``.

    >>> alert_format("https://hooks.slack.com/services/T0/B0/x", "auto")
    'slack'
    >>> alert_format("https://example.org/hook", "auto")
    'json'
    """
    if configured != "auto":
        return configured
    host = url.split("://", 1)[-1].split("/", 1)[0].lower()
    if host == "hooks.slack.com":
        return "slack"
    if host in ("discord.com", "discordapp.com", "ptb.discord.com", "canary.discord.com"):
        return "discord"
    return "json"


@dataclass(frozen=True)
class AlertSettings:
    """``ALERT_*`` and ``REDIS_URL``: when and where alerts go (see hatespeech/alerts/ and docs/alerts.md).

    >>> AlertSettings.from_env({}).enabled
    False
    >>> AlertSettings.from_env({"ALERT_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/x"}).enabled
    True
    """

    webhook_urls: tuple[str, ...] = ()  # ALERT_WEBHOOK_URL: one or more, separated by commas or spaces
    format: str = "auto"  # ALERT_FORMAT: slack, discord, json, or auto (by the URL's host)
    secret: str | None = field(default=None, repr=False)  # ALERT_SECRET: signs json payloads
    include_text: bool = True  # ALERT_INCLUDE_TEXT=false: ids, scores and links only
    message_action: str = "block"  # ALERT_ACTION: the action that makes a message alert (review, block, off)
    window_messages: int = 20  # ALERT_WINDOW_MESSAGES: a discussion's window holds its last N messages…
    window_seconds: float = 3600.0  # ALERT_WINDOW_MINUTES: …of the last T minutes
    min_messages: int = 5  # ALERT_MIN_MESSAGES: no discussion alert on fewer messages than this
    flagged_share: float = 0.3  # ALERT_FLAGGED_SHARE: share of flagged messages that makes a discussion alert
    mean_abusive: float = 0.5  # ALERT_MEAN_ABUSIVE: or mean P(hate speech) + P(offensive language)
    cooldown_seconds: float = 1800.0  # ALERT_COOLDOWN_MINUTES: quiet time per discussion after an alert
    worsen_step: float = 0.2  # ALERT_WORSEN_STEP: …unless share or mean rose by this much since
    db_path: Path = DEFAULT_ALERT_DB_PATH  # ALERT_DB_PATH: the SQLite store (when REDIS_URL is unset)
    redis_url: str | None = field(default=None, repr=False)  # REDIS_URL: the Redis store (several containers)
    outbox_max: int = 10_000  # ALERT_OUTBOX_MAX: undelivered alerts kept; beyond it the oldest are dropped
    text_retention_seconds: float = 86_400.0  # ALERT_TEXT_RETENTION_HOURS: stored texts erased after this
    max_age_seconds: float = 86_400.0  # ALERT_MAX_AGE_HOURS: an alert not delivered by then is given up
    timeout: float = 5.0  # ALERT_TIMEOUT: seconds per delivery attempt
    backoff_base: float = 1.0  # ALERT_BACKOFF_BASE: seconds before the first retry, doubled each time…
    backoff_max: float = 300.0  # ALERT_BACKOFF_MAX: …up to this (a 429's Retry-After overrides both)
    lease_seconds: float = 60.0  # ALERT_LEASE: a claimed alert is another sender's to retry after this
    poll_seconds: float = 1.0  # ALERT_POLL: how often an idle sender looks for due alerts
    burst_seconds: float = 120.0  # ALERT_BURST_MINUTES: after a thread's message alert, the rest summed up per this
    batch_max: int = 5  # ALERT_BATCH_MAX: message alerts one batch request may make; the rest in one summary
    store_timeout: float = 0.25  # ALERT_STORE_TIMEOUT: seconds per Redis call (not retried on a timeout)
    store_retry_seconds: float = 5.0  # ALERT_STORE_RETRY: after a Redis failure, seconds before trying it again
    aof_rewrite_seconds: float = 3600.0  # REDIS_AOF_REWRITE_MINUTES (StoreSettings): erased texts leave the AOF
    spool_path: Path | None = None  # ALERT_SPOOL_PATH: alerts wait there while Redis is away (default: by the DB)

    @property
    def spool(self) -> Path:
        return self.spool_path or self.db_path.with_name("alerts-spool.sqlite3")

    @property
    def enabled(self) -> bool:
        return bool(self.webhook_urls)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AlertSettings:
        urls = tuple(u for u in env.get("ALERT_WEBHOOK_URL", "").replace(",", " ").split() if u)
        for number, url in enumerate(urls, 1):
            if not url.lower().startswith(("https://", "http://")):
                # Never the URL itself: a webhook's path (or user:password@) is its secret.
                raise ConfigError(
                    f"ALERT_WEBHOOK_URL: URL number {number} of {len(urls)} does not start with https:// or http://"
                )
        fmt = env.get("ALERT_FORMAT", "").strip().lower() or cls.format
        if fmt not in ALERT_FORMATS:
            raise ConfigError(f"ALERT_FORMAT={fmt!r} must be one of {', '.join(ALERT_FORMATS)}")
        secret = env.get("ALERT_SECRET", "").strip() or None
        if secret is None and any(alert_format(u, fmt) == "json" for u in urls):
            raise ConfigError(
                "ALERT_SECRET must be set to sign json alerts "
                "(ALERT_FORMAT=json, or a URL that is not Slack's or Discord's)"
            )
        action = env.get("ALERT_ACTION", "").strip().lower() or cls.message_action
        if action not in ("review", "block", "off"):
            raise ConfigError(f"ALERT_ACTION={action!r} must be review, block or off")
        settings = cls(
            webhook_urls=urls,
            format=fmt,
            secret=secret,
            include_text=_bool(env, "ALERT_INCLUDE_TEXT", cls.include_text),
            message_action=action,
            window_messages=_int(env, "ALERT_WINDOW_MESSAGES", cls.window_messages, minimum=2),
            window_seconds=_float(env, "ALERT_WINDOW_MINUTES", cls.window_seconds / 60) * 60,
            min_messages=_int(env, "ALERT_MIN_MESSAGES", cls.min_messages),
            flagged_share=_float(env, "ALERT_FLAGGED_SHARE", cls.flagged_share, maximum=1.0),
            mean_abusive=_float(env, "ALERT_MEAN_ABUSIVE", cls.mean_abusive, maximum=1.0),
            cooldown_seconds=_float(env, "ALERT_COOLDOWN_MINUTES", cls.cooldown_seconds / 60) * 60,
            worsen_step=_float(env, "ALERT_WORSEN_STEP", cls.worsen_step, maximum=1.0),
            db_path=Path(env.get("ALERT_DB_PATH", "").strip() or DEFAULT_ALERT_DB_PATH),
            redis_url=env.get("REDIS_URL", "").strip() or None,
            outbox_max=_int(env, "ALERT_OUTBOX_MAX", cls.outbox_max, minimum=10),
            text_retention_seconds=_float(env, "ALERT_TEXT_RETENTION_HOURS", cls.text_retention_seconds / 3600) * 3600,
            max_age_seconds=_float(env, "ALERT_MAX_AGE_HOURS", cls.max_age_seconds / 3600) * 3600,
            timeout=_float(env, "ALERT_TIMEOUT", cls.timeout),
            backoff_base=_float(env, "ALERT_BACKOFF_BASE", cls.backoff_base),
            backoff_max=_float(env, "ALERT_BACKOFF_MAX", cls.backoff_max),
            lease_seconds=_float(env, "ALERT_LEASE", cls.lease_seconds),
            poll_seconds=_float(env, "ALERT_POLL", cls.poll_seconds),
            burst_seconds=_float(env, "ALERT_BURST_MINUTES", cls.burst_seconds / 60) * 60,
            batch_max=_int(env, "ALERT_BATCH_MAX", cls.batch_max),
            store_timeout=_float(env, "ALERT_STORE_TIMEOUT", cls.store_timeout),
            store_retry_seconds=_float(env, "ALERT_STORE_RETRY", cls.store_retry_seconds),
            aof_rewrite_seconds=StoreSettings.from_env(env).aof_rewrite_seconds,
            spool_path=Path(raw) if (raw := env.get("ALERT_SPOOL_PATH", "").strip()) else None,
        )
        if settings.min_messages > settings.window_messages:
            raise ConfigError(
                f"ALERT_MIN_MESSAGES={settings.min_messages} is more than "
                f"ALERT_WINDOW_MESSAGES={settings.window_messages}"
            )
        if settings.lease_seconds <= settings.timeout:
            raise ConfigError(
                f"ALERT_LEASE={settings.lease_seconds} must be longer than ALERT_TIMEOUT={settings.timeout}"
            )
        return settings


@dataclass(frozen=True)
class StoreSettings:
    """``STORE_*`` and ``PG_*``: how long a request waits for a store, and where writes wait while it is away
    (hatespeech/resilience.py).

    >>> StoreSettings.from_env({"STORE_TIMEOUT": "0.5"}).timeout
    0.5
    >>> StoreSettings.from_env({}).postgres_options
    '-c statement_timeout=5000 -c lock_timeout=1000'
    """

    timeout: float = 0.25  # STORE_TIMEOUT: seconds a request waits for one store call (then: spool, or 503)
    retry_seconds: float = 5.0  # STORE_RETRY: after a failure, seconds before that server is tried again
    spool_path: Path | None = None  # STORE_SPOOL_PATH: writes wait there while their store is away (default: by the DB)
    statement_timeout_ms: int = 5000  # PG_STATEMENT_TIMEOUT_MS: PostgreSQL ends a statement running longer
    lock_timeout_ms: int = 1000  # PG_LOCK_TIMEOUT_MS: …or waiting longer than this for a lock
    # REDIS_AOF_REWRITE_MINUTES: after texts are erased from a Redis with AOF on, BGREWRITEAOF at most this
    # often (every container together), so they leave its files too; 0: never (hatespeech/aof.py)
    aof_rewrite_seconds: float = 3600.0

    def spool(self, beside: Path | str) -> Path:
        """The spool's file: ``STORE_SPOOL_PATH``, else ``stores-spool.sqlite3`` beside the store's SQLite file."""
        return self.spool_path or Path(beside).with_name("stores-spool.sqlite3")

    @property
    def postgres_options(self) -> str:
        """libpq's ``options``: the timeouts, set on every connection."""
        return f"-c statement_timeout={self.statement_timeout_ms} -c lock_timeout={self.lock_timeout_ms}"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> StoreSettings:
        return cls(
            timeout=_float(env, "STORE_TIMEOUT", cls.timeout),
            retry_seconds=_float(env, "STORE_RETRY", cls.retry_seconds),
            spool_path=Path(raw) if (raw := env.get("STORE_SPOOL_PATH", "").strip()) else None,
            statement_timeout_ms=_int(env, "PG_STATEMENT_TIMEOUT_MS", cls.statement_timeout_ms),
            lock_timeout_ms=_int(env, "PG_LOCK_TIMEOUT_MS", cls.lock_timeout_ms),
            aof_rewrite_seconds=_float(env, "REDIS_AOF_REWRITE_MINUTES", cls.aof_rewrite_seconds / 60) * 60,
        )


@dataclass(frozen=True)
class ReviewSettings:
    """``REVIEW_*`` (and ``REDIS_URL``): the moderators' review queue (see hatespeech/review/).

    >>> ReviewSettings.from_env({"REVIEW_TEXT_RETENTION_HOURS": "24"}).text_retention_seconds
    86400.0
    """

    enabled: bool = True  # REVIEW_QUEUE=off: keep no queue (the page then shows it empty)
    db_path: Path = DEFAULT_REVIEW_DB_PATH  # REVIEW_DB_PATH: the SQLite queue (when REDIS_URL is unset)
    redis_url: str | None = field(default=None, repr=False)  # REDIS_URL: the Redis queue (several containers)
    database_url: str | None = field(default=None, repr=False)  # DATABASE_URL: PostgreSQL (wins over Redis)
    text_retention_seconds: float = 7 * 86_400.0  # REVIEW_TEXT_RETENTION_HOURS: queued texts erased after this
    max_posts: int = 100_000  # REVIEW_MAX_POSTS: beyond it the oldest posts are dropped
    stores: StoreSettings = field(default_factory=StoreSettings)  # STORE_*: deadline, breaker, spool

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ReviewSettings:
        return cls(
            enabled=_bool(env, "REVIEW_QUEUE", cls.enabled),
            db_path=Path(env.get("REVIEW_DB_PATH", "").strip() or DEFAULT_REVIEW_DB_PATH),
            redis_url=env.get("REDIS_URL", "").strip() or None,
            database_url=env.get("DATABASE_URL", "").strip() or None,
            text_retention_seconds=_float(env, "REVIEW_TEXT_RETENTION_HOURS", cls.text_retention_seconds / 3600) * 3600,
            max_posts=_int(env, "REVIEW_MAX_POSTS", cls.max_posts),
            stores=StoreSettings.from_env(env),
        )


# What the review page tells moderators to run so that their labels join the training data
# (train.py's --feedback): here, below the review page that shows it and the service that serves it.
RETRAIN_COMMAND = "python model.py retrain"


@dataclass(frozen=True)
class FeedbackSettings:
    """Where moderators' labels are kept (hatespeech/feedback): SQLite, or PostgreSQL when ``DATABASE_URL`` is set.

    >>> FeedbackSettings.from_env({"DATABASE_URL": "postgres://u@db/x"}).database_url
    'postgres://u@db/x'
    """

    db_path: Path = DEFAULT_FEEDBACK_DB_PATH  # FEEDBACK_DB_PATH: the SQLite file (one machine)
    database_url: str | None = field(default=None, repr=False)  # DATABASE_URL: PostgreSQL (Heroku sets it)
    stores: StoreSettings = field(default_factory=StoreSettings)  # STORE_*, PG_*: deadline, breaker, spool
    # Each origin's share (hatespeech/feedback/quota.py): writes per second per worker, at most this many at once,
    # and rows per 24 hours across every worker. A moderator labels a few posts a minute; a leaked key, hundreds.
    rate: float = 2.0  # FEEDBACK_RATE
    burst: int = 60  # FEEDBACK_BURST
    daily_cap: int = 5000  # FEEDBACK_DAILY_CAP

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> FeedbackSettings:
        url = env.get("DATABASE_URL", "").strip() or None
        if url is not None and not url.lower().startswith(("postgres://", "postgresql://")):
            raise ConfigError("DATABASE_URL must be a postgres:// or postgresql:// URL")
        return cls(
            db_path=Path(env.get("FEEDBACK_DB_PATH", "").strip() or DEFAULT_FEEDBACK_DB_PATH),
            database_url=url,
            stores=StoreSettings.from_env(env),
            rate=_float(env, "FEEDBACK_RATE", cls.rate),
            burst=_int(env, "FEEDBACK_BURST", cls.burst),
            daily_cap=_int(env, "FEEDBACK_DAILY_CAP", cls.daily_cap),
        )


def _url(env: Mapping[str, str], name: str) -> str | None:
    raw = env.get(name, "").strip().rstrip("/")
    if raw and not raw.lower().startswith(("https://", "http://")):
        raise ConfigError(f"{name}={raw.split('?')[0]!r} is not an http(s) URL")
    return raw or None


def _all_or_none(env: Mapping[str, str], names: tuple[str, ...], what: str) -> bool:
    """True if every one of ``names`` is set, False if none is; a half-set integration is a mistake to say."""
    given = [n for n in names if env.get(n, "").strip()]
    if given and len(given) < len(names):
        missing = ", ".join(n for n in names if n not in given)
        raise ConfigError(f"the {what} integration needs {', '.join(names)}; {missing} not set")
    return bool(given)


MIN_WEBHOOK_SECRET_CHARS = 12  # Discourse's own minimum for a webhook secret; Coral's and Mastodon's are longer


def _webhook_secrets(env: Mapping[str, str], name: str, several: bool = False) -> tuple[str, ...]:
    """The webhook secret(s) in ``name`` (``several``: comma- or space-separated, while rotating), each at least
    ``MIN_WEBHOOK_SECRET_CHARS`` long: a short one is guessed, and then anyone can sign posts. Never repeated.

    >>> _webhook_secrets({"CORAL_WEBHOOK_SECRET": "ems_0123456789ab, ems_ba9876543210"}, "CORAL_WEBHOOK_SECRET", True)
    ('ems_0123456789ab', 'ems_ba9876543210')
    >>> _webhook_secrets({"MASTODON_WEBHOOK_SECRET": "x"}, "MASTODON_WEBHOOK_SECRET")
    Traceback (most recent call last):
    ...
    hatespeech.config.ConfigError: MASTODON_WEBHOOK_SECRET is 1 characters long: a webhook secret needs at least 12 ...
    """
    raw = env.get(name, "")
    secrets = tuple(s for s in raw.replace(",", " ").split() if s) if several else tuple(filter(None, [raw.strip()]))
    for secret in secrets:
        if len(secret) < MIN_WEBHOOK_SECRET_CHARS:
            raise ConfigError(
                f"{name} is {len(secret)} characters long: a webhook secret needs at least {MIN_WEBHOOK_SECRET_CHARS} "
                "(Discourse's minimum); python3 -c 'import secrets; print(secrets.token_urlsafe(32))' makes one, "
                "to set on both sides"
            )
    return secrets


DISCOURSE_FLAGS = {"notify_moderators": 7, "inappropriate": 4, "off": 0}  # Discourse's post_action_type ids
CORAL_STATUSES = ("SYSTEM_WITHHELD", "PREMOD", "REJECTED", "NONE")  # Coral's comment statuses we may ask for
MASTODON_CATEGORIES = ("other", "violation", "spam", "legal")


@dataclass(frozen=True)
class IntegrationSettings:
    """``DISCOURSE_*``, ``CORAL_*``, ``MASTODON_*``: the boards connected to (hatespeech/integrations).

    An integration is on when its settings are all set, off (404) when none is.

    >>> IntegrationSettings.from_env({}).discourse
    False
    >>> s = IntegrationSettings.from_env({"CORAL_WEBHOOK_SECRET": "ems_old-secret-1, ems_new-secret-2"})
    >>> s.coral, s.coral_secrets
    (True, ('ems_old-secret-1', 'ems_new-secret-2'))
    """

    discourse_url: str | None = None  # DISCOURSE_URL: https://forum.example.org
    discourse_api_key: str | None = field(default=None, repr=False)  # DISCOURSE_API_KEY
    discourse_api_username: str = "system"  # DISCOURSE_API_USERNAME: who the flags come from
    discourse_secret: str | None = field(default=None, repr=False)  # DISCOURSE_WEBHOOK_SECRET
    discourse_review_flag: int = 7  # DISCOURSE_REVIEW_FLAG: notify_moderators, inappropriate or off
    discourse_block_flag: int = 4  # DISCOURSE_BLOCK_FLAG: the same choice for `block`
    coral_secrets: tuple[str, ...] = field(default=(), repr=False)  # CORAL_WEBHOOK_SECRET: one or more (rotation)
    coral_block_status: str = "SYSTEM_WITHHELD"  # CORAL_BLOCK_STATUS: the status asked for on `block` (NONE: flag only)
    mastodon_url: str | None = None  # MASTODON_URL: https://social.example.org
    mastodon_token: str | None = field(default=None, repr=False)  # MASTODON_TOKEN: scope write:reports
    mastodon_secret: str | None = field(default=None, repr=False)  # MASTODON_WEBHOOK_SECRET
    mastodon_category: str = "other"  # MASTODON_REPORT_CATEGORY: other, violation (with MASTODON_RULE_IDS), spam, legal
    mastodon_rule_ids: tuple[str, ...] = ()  # MASTODON_RULE_IDS: the server rules a `violation` report cites
    mastodon_action: str = "review"  # MASTODON_REPORT_ACTION: the action that files a report (review or block)
    max_body_bytes: int = 1024 * 1024  # INTEGRATION_MAX_BODY_BYTES: a webhook's body (a long post is raw + cooked)

    @property
    def discourse(self) -> bool:
        return self.discourse_secret is not None

    @property
    def coral(self) -> bool:
        return bool(self.coral_secrets)

    @property
    def mastodon(self) -> bool:
        return self.mastodon_secret is not None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> IntegrationSettings:
        discourse = _all_or_none(env, ("DISCOURSE_URL", "DISCOURSE_API_KEY", "DISCOURSE_WEBHOOK_SECRET"), "Discourse")
        mastodon = _all_or_none(env, ("MASTODON_URL", "MASTODON_TOKEN", "MASTODON_WEBHOOK_SECRET"), "Mastodon")
        flags = {}
        for name, default in (
            ("DISCOURSE_REVIEW_FLAG", "notify_moderators"),
            ("DISCOURSE_BLOCK_FLAG", "inappropriate"),
        ):
            raw = env.get(name, "").strip().lower() or default
            if raw not in DISCOURSE_FLAGS:
                raise ConfigError(f"{name}={raw!r} must be one of {', '.join(DISCOURSE_FLAGS)}")
            flags[name] = DISCOURSE_FLAGS[raw]
        status = env.get("CORAL_BLOCK_STATUS", "").strip().upper() or cls.coral_block_status
        if status not in CORAL_STATUSES:
            raise ConfigError(f"CORAL_BLOCK_STATUS={status!r} must be one of {', '.join(CORAL_STATUSES)}")
        category = env.get("MASTODON_REPORT_CATEGORY", "").strip().lower() or cls.mastodon_category
        if category not in MASTODON_CATEGORIES:
            raise ConfigError(f"MASTODON_REPORT_CATEGORY={category!r} must be one of {', '.join(MASTODON_CATEGORIES)}")
        rules = tuple(r for r in env.get("MASTODON_RULE_IDS", "").replace(",", " ").split() if r)
        if category == "violation" and not rules:
            raise ConfigError("MASTODON_REPORT_CATEGORY=violation needs MASTODON_RULE_IDS (the rules broken)")
        action = env.get("MASTODON_REPORT_ACTION", "").strip().lower() or cls.mastodon_action
        if action not in ("review", "block"):
            raise ConfigError(f"MASTODON_REPORT_ACTION={action!r} must be review or block")
        return cls(
            discourse_url=_url(env, "DISCOURSE_URL") if discourse else None,
            discourse_api_key=env.get("DISCOURSE_API_KEY", "").strip() or None,
            discourse_api_username=env.get("DISCOURSE_API_USERNAME", "").strip() or cls.discourse_api_username,
            discourse_secret=next(iter(_webhook_secrets(env, "DISCOURSE_WEBHOOK_SECRET")), None),
            discourse_review_flag=flags["DISCOURSE_REVIEW_FLAG"],
            discourse_block_flag=flags["DISCOURSE_BLOCK_FLAG"],
            coral_secrets=_webhook_secrets(env, "CORAL_WEBHOOK_SECRET", several=True),
            coral_block_status=status,
            mastodon_url=_url(env, "MASTODON_URL") if mastodon else None,
            mastodon_token=env.get("MASTODON_TOKEN", "").strip() or None,
            mastodon_secret=next(iter(_webhook_secrets(env, "MASTODON_WEBHOOK_SECRET")), None),
            mastodon_category=category,
            mastodon_rule_ids=rules,
            mastodon_action=action,
            max_body_bytes=_int(env, "INTEGRATION_MAX_BODY_BYTES", cls.max_body_bytes, minimum=1024),
        )


@dataclass(frozen=True)
class Settings:
    model_path: Path = DEFAULT_MODEL_PATH
    # MODEL_PATH set: that model is served whatever model.py promotes (promotions warn and change nothing);
    # unset, the promoted one (hatespeech/lifecycle), else the one the container was built with
    model_pinned: bool = False
    model_poll_seconds: float = 5.0  # MODEL_POLL_SECONDS: how often each worker asks which model is promoted
    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 2
    threads: int = 4
    timeout: int = 30  # seconds a worker may spend on one request before it is restarted
    read_timeout: int = 10  # seconds a client may leave a request half-sent (headers or body): then 408
    max_body_bytes: int = 64 * 1024
    max_text_chars: int = 10_000
    token: str | None = None  # FIREFLY_TOKEN, as firefly names it
    # MODERATION_API_KEY: what Coral and other clients of the drop-ins hold; it reaches only those
    moderation_key: str | None = field(default=None, repr=False)
    log_level: str = "info"
    max_batch_texts: int = 100  # texts per /predict_batch, /moderate_batch, /v1/moderations request
    max_batch_chars: int = 50_000  # their total length
    thresholds: dict | None = field(default=None, compare=False)  # THRESHOLDS: overrides the card's
    alerts: AlertSettings = field(default_factory=AlertSettings, compare=False)  # ALERT_*, REDIS_URL
    metrics_token: str | None = field(default=None, repr=False)  # METRICS_TOKEN: for /metrics instead of FIREFLY_TOKEN
    explain_max_spans: int = 40  # EXPLAIN_MAX_SPANS: spans per explanation (the rest summed in "omitted")
    max_requests: int = 50_000  # MAX_REQUESTS: a worker is replaced after this many requests (0: never)…
    max_requests_jitter: int = 5_000  # MAX_REQUESTS_JITTER: …plus up to this many, so workers do not restart together
    log_hash_key: str | None = field(default=None, repr=False)  # LOG_HASH_KEY: keys the access log's text hash
    review: ReviewSettings = field(default_factory=ReviewSettings, compare=False)  # REVIEW_*, REDIS_URL
    feedback: FeedbackSettings = field(default_factory=FeedbackSettings, compare=False)  # FEEDBACK_*, DATABASE_URL
    integrations: IntegrationSettings = field(default_factory=IntegrationSettings, compare=False)  # DISCOURSE_* …
    stores: StoreSettings = field(default_factory=StoreSettings, compare=False)  # STORE_*, PG_*
    # PROMETHEUS_MULTIPROC_DIR (prometheus-client's own name): where each process writes its metrics;
    # a fresh temporary directory when unset (hatespeech/service/metrics.py)
    metrics_dir: str | None = None
    # LANGUAGE_MODELS_DIR: the folder of the other languages' model cards (each verified at start; one that fails
    # stops the start); a folder that does not exist, or is empty, serves English alone
    language_models_dir: Path = DEFAULT_LANGUAGE_MODELS_DIR
    # UNSUPPORTED_LANGUAGE_ACTION: the action for a post in a language without a model (allow, or review to have
    # a person read it); its answer says why, and no model's score decides it
    unsupported_language_action: str = "allow"
    # LANGUAGE_MODELS_LOAD: when the other languages' models are loaded: on each language's first post in a worker
    # (first-use: each card and file hash is still checked at start; a worker holds only the languages it meets;
    # bench/latency.py --only language_cold: 1.2 s and 81 MB to a first answer, 2.2 s and 137 MB at start), or start
    language_models_load: str = "first-use"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        token = _token(env)
        moderation_key = _moderation_key(env, token)
        return cls(
            model_path=Path(env.get("MODEL_PATH", "").strip() or DEFAULT_MODEL_PATH),
            model_pinned=bool(env.get("MODEL_PATH", "").strip()),
            model_poll_seconds=_float(env, "MODEL_POLL_SECONDS", cls.model_poll_seconds, maximum=25.0),
            host=env.get("HOST", "").strip() or cls.host,
            port=_int(env, "PORT", cls.port),
            workers=_int(env, "WEB_CONCURRENCY", cls.workers),
            threads=_int(env, "THREADS", cls.threads),
            timeout=_int(env, "TIMEOUT", cls.timeout),
            read_timeout=_int(env, "READ_TIMEOUT", cls.read_timeout),
            max_body_bytes=_int(env, "MAX_BODY_BYTES", cls.max_body_bytes, minimum=64),
            max_text_chars=_int(env, "MAX_TEXT_CHARS", cls.max_text_chars),
            token=token,
            moderation_key=moderation_key,
            log_level=env.get("LOG_LEVEL", "").strip().lower() or cls.log_level,
            max_batch_texts=_int(env, "MAX_BATCH_TEXTS", cls.max_batch_texts),
            max_batch_chars=_int(env, "MAX_BATCH_CHARS", cls.max_batch_chars),
            thresholds=_thresholds(env),
            alerts=AlertSettings.from_env(env),
            metrics_token=env.get("METRICS_TOKEN", "").strip() or None,
            explain_max_spans=_int(env, "EXPLAIN_MAX_SPANS", cls.explain_max_spans),
            max_requests=_int(env, "MAX_REQUESTS", cls.max_requests, minimum=0),
            max_requests_jitter=_int(env, "MAX_REQUESTS_JITTER", cls.max_requests_jitter, minimum=0),
            log_hash_key=env.get("LOG_HASH_KEY", "").strip() or None,
            review=ReviewSettings.from_env(env),
            feedback=FeedbackSettings.from_env(env),
            integrations=IntegrationSettings.from_env(env),
            stores=StoreSettings.from_env(env),
            metrics_dir=env.get("PROMETHEUS_MULTIPROC_DIR", "").strip() or None,
            language_models_dir=Path(env.get("LANGUAGE_MODELS_DIR", "").strip() or DEFAULT_LANGUAGE_MODELS_DIR),
            unsupported_language_action=_choice(
                env, "UNSUPPORTED_LANGUAGE_ACTION", cls.unsupported_language_action, UNSUPPORTED_ACTIONS
            ),
            language_models_load=_choice(env, "LANGUAGE_MODELS_LOAD", cls.language_models_load, LANGUAGE_MODELS_LOADS),
        )


@functools.cache
def settings() -> Settings:
    """This process's settings, read from the environment once (the service, gunicorn's config, the scripts)."""
    return Settings.from_env()


def export_metrics_dir(directory: str) -> None:
    """Put the metrics directory in this process's environment, which gunicorn's workers inherit.

    prometheus-client reads ``PROMETHEUS_MULTIPROC_DIR`` in every process that writes a value (its
    file there is named after the process), so it must be in the environment, not only in the
    settings; this is the one place the package writes the environment.
    """
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory


def dialect_model_dir() -> str | None:
    """``DIALECT_MODEL_DIR``: the TwitterAAE model's folder (hatespeech/training/dialect.py), read when asked."""
    return os.environ.get("DIALECT_MODEL_DIR") or None
