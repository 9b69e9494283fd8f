"""Feedback test helpers: a throw-away PostgreSQL server on loopback, and each store kind."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import free_port

from hatespeech.connections import SCHEMA_VERSIONS
from hatespeech.feedback import FeedbackStore, SQLiteFeedbackStore
from hatespeech.feedback.store import TABLE

KINDS = ("sqlite", "postgres")


def _postgres_bin() -> Path | None:
    found = shutil.which("postgres")
    if found:
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))  # Debian keeps it off the PATH
    return Path(versions[-1]).parent if versions else None


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """A throw-away PostgreSQL on a free loopback port; its URL. Skipped (failed under CI) if not installed.

    PostgreSQL refuses to run as root: as root, initdb and postgres run as ``nobody`` (setpriv
    execs, so the process we stop is postgres itself), in a data directory made for it in /tmp
    (pytest's own temporary directories are private to root).
    """
    bin_dir = _postgres_bin()
    if bin_dir is None:
        reason = "PostgreSQL is not installed (Debian: apt-get install postgresql)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must have {reason}")
        pytest.skip(reason)
    prefix: list[str] = []
    directory = Path(tempfile.mkdtemp(prefix="hatespeech-pg-"))
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        os.chown(directory, nobody.pw_uid, nobody.pw_gid)
        prefix = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups", "--"]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8", "HOME": str(directory)}
    data = directory / "data"
    subprocess.run(
        [*prefix, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = free_port()
    argv = [
        *prefix,
        str(bin_dir / "postgres"),
        "-D",
        str(data),
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-k",
        str(directory),
    ]
    argv += ["-c", "fsync=off", "-c", "full_page_writes=off", "-c", "max_connections=50"]  # a test server: speed
    log = open(directory / "postgres.log", "wb")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    try:
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(url, connect_timeout=2).close()
                break
            except psycopg.OperationalError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((directory / "postgres.log").read_text()) from None
                time.sleep(0.1)
        yield url
    finally:
        proc.send_signal(2)  # SIGINT: PostgreSQL's fast shutdown (SIGTERM would wait for clients)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(directory, ignore_errors=True)


def empty_postgres(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
        conn.execute(f"DROP TABLE IF EXISTS {SCHEMA_VERSIONS}")  # the migrations run again on the empty table


def open_kind(kind: str, where: str) -> FeedbackStore:
    if kind == "postgres":
        from hatespeech.feedback.postgres import PostgresFeedbackStore

        return PostgresFeedbackStore(where)
    return SQLiteFeedbackStore(where)
