"""The real services tests and benchmarks start, each started in one place: redis-server and PostgreSQL,
on free loopback ports, thrown away after.

A missing binary skips the test, except under CI (``CI`` set), where it fails: CI must run them all.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def missing(reason: str) -> NoReturn:
    """Skip the test for want of ``reason``; fail it under CI, which must have everything."""
    import pytest

    if os.environ.get("CI"):
        pytest.fail(f"CI must have {reason}")
    pytest.skip(reason)


def end(proc: subprocess.Popen, sig: int = signal.SIGTERM, patience: float = 30.0, group: bool = False) -> int:
    """Send ``sig`` to ``proc`` if it still runs and wait up to ``patience`` seconds for it to exit, then
    kill it (``group``: its whole process group, for what it forked); its exit status."""
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(timeout=patience)
    except subprocess.TimeoutExpired:
        if group:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
        return proc.wait()


# --- redis-server ---------------------------------------------------------------------------------


def redis_binary() -> str:
    """The path of ``redis-server`` (see ``missing`` if there is none)."""
    binary = shutil.which("redis-server")
    if binary is None:
        missing("redis-server on PATH (Debian: apt-get install redis-server)")
    return binary


def wait_for_redis(port: int, proc: subprocess.Popen, why: Callable[[], str] = lambda: "") -> None:
    """Until the redis-server ``proc`` on ``port`` answers PING (RuntimeError if it exits or takes 60 s)."""
    deadline = time.monotonic() + 60  # a bound for a stalled start, not a speed requirement
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            if s.recv(16).startswith(b"+PONG"):
                return
        if proc.poll() is not None:
            raise RuntimeError(f"redis-server exited: {why()}")
        time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


class RedisServer:
    """A throw-away ``redis-server`` on a free loopback port, its files in ``directory``.

    ``appendonly``: with its append-only file on, every write in it at once (``appendfsync always``),
    so that a restart (``stop`` then ``start``, on the same port) finds what was written.
    """

    def __init__(self, directory: Path, appendonly: bool = False) -> None:
        self.binary = redis_binary()
        self.directory, self.appendonly = directory, appendonly
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        argv = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        argv += ["--appendonly", "yes", "--appendfsync", "always"] if self.appendonly else ["--appendonly", "no"]
        argv += ["--dir", str(self.directory)]
        log = self.directory / "redis.log"
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(argv, cwd=self.directory, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_for_redis(self.port, self.proc, log.read_text)
        except RuntimeError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Kill it, as a crash would, even if a test left it stopped (``SIGSTOP``); ``start`` brings it back."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(timeout=10)

    def close(self) -> None:
        """End it for good, cleanly: its shutdown also ends an append-only rewrite it forked (killed after 10 s)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            end(self.proc, patience=10)


@contextlib.contextmanager
def redis_server(directory: Path, appendonly: bool = False) -> Iterator[str]:
    """A ``RedisServer`` for the block; its URL."""
    server = RedisServer(directory, appendonly).start()
    try:
        yield server.url
    finally:
        server.close()


# --- PostgreSQL -----------------------------------------------------------------------------------


def _postgres_bin() -> Path | None:
    found = shutil.which("postgres")
    if found:
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))  # Debian keeps it off the PATH
    return Path(versions[-1]).parent if versions else None


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """A throw-away PostgreSQL on a free loopback port; the URL of its ``postgres`` database.

    PostgreSQL refuses to run as root: as root, initdb and postgres run as ``nobody`` (setpriv
    execs, so the process we stop is postgres itself), in a data directory made for it in /tmp
    (pytest's own temporary directories are private to root).
    """
    bin_dir = _postgres_bin()
    if bin_dir is None:
        missing("PostgreSQL (Debian: apt-get install postgresql)")
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
    argv = [*prefix, str(bin_dir / "postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", str(port)]
    argv += ["-k", str(directory)]
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
        end(proc, signal.SIGINT)  # PostgreSQL's fast shutdown (SIGTERM would wait for clients)
        log.close()
        shutil.rmtree(directory, ignore_errors=True)


_databases = itertools.count(1)


def new_database(server_url: str, hint: str = "") -> str:
    """A new, empty database on the server at ``server_url``; its URL. Tests that share one server
    each take their own, so no test sees another's tables. Never dropped: the server goes at the end."""
    import psycopg

    name = f"t{next(_databases)}_{re.sub(r'[^a-z0-9]+', '_', hint.lower())}"[:63].rstrip("_")
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + "/" + name
