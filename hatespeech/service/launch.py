"""The image's entry point: nginx in front of gunicorn, as two child processes of this one.

    python -m hatespeech.service.launch          (the Dockerfile's CMD; ``make serve``)

Why two processes: nginx holds every client connection in its event loop and passes gunicorn
only whole requests, so idle and trickling clients cost kilobytes of nginx memory instead of
gunicorn threads (bench/attack.py measures it; bench/RESULTS.md has the figures).

What this process does, and nothing else:

- writes nginx's configuration (``nginx.conf`` beside this file, with ``HOST``, ``PORT``,
  ``READ_TIMEOUT``, ``MAX_BODY_BYTES`` and ``TIMEOUT`` filled in) into a fresh private directory,
  where gunicorn's Unix socket lives too;
- refuses to start (exit 2, naming it) when ``HOST:PORT`` is already taken: another server there
  would answer the readiness check in its place;
- starts gunicorn (``hatespeech.service.gunicorn_conf``, bound to that socket), waits until it answers,
  then starts nginx on ``HOST:PORT`` and says ``listening at`` only once nginx has bound it (its pid
  file exists): so ``/health`` on ``$PORT`` answers only when both do;
- turns each line nginx writes on stderr into a JSON object on stdout, like every other line;
- on SIGTERM or SIGINT (``docker stop``, Heroku): stops nginx gracefully (SIGQUIT: it stops
  accepting and finishes the requests it holds), then gunicorn (SIGTERM: it finishes its own),
  each within ``TIMEOUT`` seconds;
- if either child dies, stops the other and exits non-zero, so the platform restarts the container.

Without nginx on the machine (a laptop's ``make serve``) it runs gunicorn alone on ``HOST:PORT``,
with a warning: the image and CI have nginx.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from hatespeech.config import ConfigError, Settings

TEMPLATE = Path(__file__).with_name("nginx.conf")
_QUERY = re.compile(r"\?[^\s\"]*")  # linear: one character class, no nesting


def _say(**fields: object) -> None:
    sys.stdout.write(json.dumps({"launch": True, **fields}) + "\n")
    sys.stdout.flush()


def nginx_config(settings: Settings, run: Path) -> str:
    """nginx's configuration for these settings, with its files under ``run``."""
    values = {
        "RUN": str(run),
        "HOST": settings.host if ":" not in settings.host else f"[{settings.host}]",
        "PORT": str(settings.port),
        "READ_TIMEOUT": str(settings.read_timeout),
        "MAX_BODY_BYTES": str(settings.max_body_bytes),
        "INTEGRATION_MAX_BODY_BYTES": str(settings.integrations.max_body_bytes),
        "UPSTREAM_TIMEOUT": str(settings.timeout + 5),
        "CONNECTIONS": "4096",
    }
    text = TEMPLATE.read_text()
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    return text


def port_taken(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on (another server holds it?), or None if it can.

    Binds it as nginx and gunicorn will (``SO_REUSEADDR``: a port left in TIME_WAIT is free), then lets go.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as err:
        return f"HOST={host!r} cannot be resolved ({err.strerror or err})"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as err:
            return f"port {port} on {host} is not free ({err.strerror or err}): is another server running there?"
    return None


def _nginx_listening(run: Path, proc: subprocess.Popen, timeout: float) -> bool:
    """Wait until nginx has bound its port (it writes its pid file after opening its sockets); False if it exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if (run / "nginx.pid").is_file():
            return True
        time.sleep(0.05)
    return proc.poll() is None


def _ready(sock_path: Path, proc: subprocess.Popen, timeout: float) -> None:
    """Wait until gunicorn answers ``/health`` on its socket."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"hatespeech-detect: gunicorn exited with {proc.returncode} before it was ready")
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(2)
                s.connect(str(sock_path))
                s.sendall(b"GET /health HTTP/1.1\r\nHost: launch\r\nConnection: close\r\n\r\n")
                if s.recv(12).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"hatespeech-detect: gunicorn did not answer within {timeout:.0f} s")


def as_json_line(source: str, raw: bytes) -> str | None:
    """One line a child wrote on stderr, as a JSON object (a line that is one already is kept).

    nginx's lines carry their level (``[warn]``, ``[error]``…). gunicorn's process logs through
    its JSON handler on stdout: what reaches its stderr bypassed logging, a dying process's last
    words (a model it cannot serve, a traceback), so it is an error.

    >>> as_json_line("nginx", b"2026/11/27 [warn] 1#1: something\\n")
    '{"source": "nginx", "level": "warning", "message": "2026/11/27 [warn] 1#1: something"}'
    >>> json.loads(as_json_line("nginx", b'[error] request: "POST /predict?key=s3cret HTTP/1.1"'))["message"]
    '[error] request: "POST /predict?… HTTP/1.1"'
    >>> as_json_line("gunicorn", b'{"status": 408}\\n')
    '{"status": 408}'
    >>> json.loads(as_json_line("gunicorn", b"hatespeech-detect: cannot serve the model: ..."))["level"]
    'error'
    """
    line = raw.decode("utf-8", "replace").rstrip()
    if not line:
        return None
    # nginx's error lines quote the request line, whose query string may hold ?key=<token>.
    line = _QUERY.sub("?…", line)
    if line.startswith("{"):
        try:
            if isinstance(json.loads(line), dict):
                return line
        except ValueError:
            pass
    level = "warning" if source == "nginx" else "error"
    for word, name in (("[emerg]", "critical"), ("[alert]", "critical"), ("[crit]", "critical"), ("[error]", "error")):
        if word in line:
            level = name
    return json.dumps({"source": source, "level": level, "message": line})


def _relay(source: str, stream: Iterable[bytes]) -> None:
    """A child's stderr (nginx's error log; Python's last words), one JSON object per line on stdout."""
    for raw in stream:
        line = as_json_line(source, raw)
        if line:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()


def main() -> int:
    try:
        settings = Settings.from_env()
    except ConfigError as err:
        _say(level="error", message=f"hatespeech-detect: {err}")
        return 2
    taken = port_taken(settings.host, settings.port)
    if taken:
        _say(level="error", message=f"hatespeech-detect: cannot listen: {taken} Stop it, or set PORT to another.")
        return 2
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).is_file():  # a laptop without nginx (`make serve`): gunicorn alone, and say so
        _say(
            level="warning",
            message="nginx is not installed: serving with gunicorn alone (slow clients can hold its threads)",
        )
        sys.stdout.flush()
        gunicorn_argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "python:hatespeech.service.gunicorn_conf",
            "app:application",
        ]
        os.execv(sys.executable, gunicorn_argv)
    run = Path(tempfile.mkdtemp(prefix="hatespeech-"))
    run.chmod(0o755)  # started as root (outside a container), nginx's workers run as nobody: let them reach the socket
    (run / "nginx.conf").write_text(nginx_config(settings, run))
    sock_path = run / "gunicorn.sock"

    stopping = threading.Event()
    children: list[subprocess.Popen] = []

    def stop(signum: int, frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    gunicorn = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "python:hatespeech.service.gunicorn_conf",
            "-b",
            f"unix:{sock_path}",
            "app:application",
        ],
        stderr=subprocess.PIPE,  # its logging goes to stdout as JSON; stderr has only what bypasses it
    )
    children.append(gunicorn)
    threading.Thread(target=_relay, args=("gunicorn", gunicorn.stderr), daemon=True).start()
    try:
        try:
            _ready(sock_path, gunicorn, timeout=120)
        except SystemExit as err:  # said as a JSON line, like every other
            _say(level="error", message=str(err.code))
            return 1
        if stopping.is_set():
            return 0
        web = subprocess.Popen(
            [nginx, "-e", "stderr", "-p", str(run), "-c", str(run / "nginx.conf"), "-g", "daemon off;"],
            stderr=subprocess.PIPE,
        )
        children.append(web)
        threading.Thread(target=_relay, args=("nginx", web.stderr), daemon=True).start()
        if not _nginx_listening(run, web, timeout=30):  # nginx retries a busy port for 2.5 s, then exits
            web.wait()
            taken = port_taken(settings.host, settings.port)
            _say(
                level="error",
                message=f"hatespeech-detect: nginx could not start (exit {web.returncode})"
                + (f": {taken}" if taken else "; its lines above say why"),
            )
            return 1
        _say(level="info", message=f"listening at http://{settings.host}:{settings.port} (nginx -> gunicorn)")
        while not stopping.is_set():
            if any(child.poll() is not None for child in children):
                dead = next(c for c in children if c.poll() is not None)
                _say(
                    level="error", message=f"{'gunicorn' if dead is gunicorn else 'nginx'} exited", code=dead.returncode
                )
                return 1
            stopping.wait(0.5)
        return 0
    finally:
        # nginx first: it stops accepting and hands gunicorn what it holds; then gunicorn finishes.
        _shutdown(children, gunicorn, settings.timeout)
        shutil.rmtree(run, ignore_errors=True)


def _shutdown(children: list[subprocess.Popen], gunicorn: subprocess.Popen, timeout: float) -> None:
    for child in reversed(children):  # nginx (if started), then gunicorn
        if child.poll() is None:
            child.send_signal(signal.SIGTERM if child is gunicorn else signal.SIGQUIT)
            try:
                child.wait(timeout=timeout + 2)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


if __name__ == "__main__":
    raise SystemExit(main())
