"""A real Dask cluster for the archive tests: `dask scheduler` and `dask worker` processes on loopback,
started from a folder outside the project (so the workers cannot import it), and archives that
hold what breaks naive cutters: quoted newlines, CRLF, a BOM, empty rows, non-ASCII."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from testing.support import ROOT, free_port

BIN = Path(sys.executable).parent
SCRIPT = ROOT / "score_archive.py"
BOM = b"\xef\xbb\xbf"
TEXTS = [
    "have a lovely day everyone",
    "shut up you stupid idiot",
    'line one\nline two, with a comma and "quotes"',
    "@someone look http://example.com &amp; sooooo cool 😀",
    "Grüße aus Köln, ça va? 日本語 ДОБРЫЙ день",
    "a quoted\r\nCRLF and a\ttab inside the field",
]


@dataclass
class Cluster:
    address: str
    folder: Path
    scheduler: subprocess.Popen
    workers: list[subprocess.Popen] = field(default_factory=list)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.folder.glob("*.log")))

    def kill_worker(self, i: int) -> None:
        """SIGKILL a worker and its nanny, as when its machine goes away."""
        os.killpg(self.workers[i].pid, signal.SIGKILL)
        self.workers[i].wait()


def outside_env() -> dict[str, str]:
    """The environment of a user's shell: no PYTHONPATH pointing into the project."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def _start(argv: list[str], folder: Path, log: str, env: dict[str, str]) -> subprocess.Popen:
    with open(folder / log, "wb") as out:
        return subprocess.Popen(argv, cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


@contextlib.contextmanager
def dask_cluster(folder: Path, workers: int = 2, timeout: float = 60) -> Iterator[Cluster]:
    """`dask scheduler` + ``workers`` × `dask worker` (one process, one thread each), stopped at the end."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    # The cluster's temporary files (a worker's unpacked model, Dask's scratch space) in ``folder``, not /tmp:
    # a worker the test kills while it loads cannot clean up.
    temporary = folder / "tmp"
    temporary.mkdir(exist_ok=True)
    scheduler = _start(
        [
            str(BIN / "dask"),
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--dashboard-address",
            f"127.0.0.1:{free_port()}",
        ],
        folder,
        "scheduler.log",
        {**outside_env(), "TMPDIR": str(temporary)},
    )
    cluster = Cluster(address, folder, scheduler)
    try:
        for i in range(workers):
            argv = [str(BIN / "dask"), "worker", address, "--nworkers", "1", "--nthreads", "1", "--host", "127.0.0.1"]
            argv += ["--no-dashboard", "--name", f"w{i}", "--local-directory", str(folder / f"w{i}")]
            # A worker machine has the serving requirements and Dask installed: nothing else, not the project.
            env = {**requirements_only_env(folder, "distributed"), "TMPDIR": str(temporary)}
            cluster.workers.append(_start(argv, folder, f"worker{i}.log", env))
        deadline = time.monotonic() + timeout
        while sum("Registered to:" in (folder / f"worker{i}.log").read_text() for i in range(workers)) < workers:
            if time.monotonic() > deadline or scheduler.poll() is not None:
                raise RuntimeError(f"the Dask cluster did not start in {timeout} s:\n{cluster.logs()}")
            time.sleep(0.1)
        yield cluster
    finally:
        for proc in [*cluster.workers, scheduler]:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in [*cluster.workers, scheduler]:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def run(args: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """``score_archive.py ARGS`` as a user runs it, from ``cwd``."""
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=cwd,
        env=outside_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def csv_archive(path: Path, rows: int) -> Path:
    """A CSV as Excel's "CSV UTF-8" saves it: a BOM, CRLF; with quoted newlines, empty rows and texts, non-ASCII."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["id", "text", "author"])
    for i in range(rows):
        if i % 19 == 7:
            out.write("\r\n")  # an empty row
        writer.writerow([i, "" if i % 13 == 5 else TEXTS[i % len(TEXTS)], f"üser{i}"])
    path.write_bytes(BOM + out.getvalue().encode("utf-8"))
    return path


def jsonl_archive(path: Path, rows: int) -> Path:
    """JSON Lines with a BOM, CRLF, empty lines, a line that is not JSON and a record without text."""
    lines = []
    for i in range(rows):
        if i % 19 == 7:
            lines.append("")
        if i % 29 == 11:
            lines.append(f'{{"id": {i}, "text": "unterminated')
            continue
        record = {"id": i, "text": TEXTS[i % len(TEXTS)], "meta": {"ü": [i]}}
        if i % 13 == 5:
            del record["text"]
        lines.append(json.dumps(record, ensure_ascii=i % 2 == 0))
    path.write_bytes(BOM + "\r\n".join(lines).encode("utf-8") + b"\r\n")
    return path


def read_parts(folder: Path, kind: str) -> list:
    """The rows of every part, in part order (CSV: each part starts with the header, kept once)."""
    parts = sorted(folder.glob(f"part-*.{kind}"))
    rows: list = []
    for i, part in enumerate(parts):
        rows += read_rows(part, kind)[0 if i == 0 else 1 :] if kind == "csv" else read_rows(part, kind)
    return rows


def read_rows(path: Path, kind: str) -> list:
    text = path.read_text(encoding="utf-8")
    if kind == "csv":
        return list(csv.reader(io.StringIO(text, newline="")))
    return [json.loads(line) for line in text.splitlines()]


def assert_same_rows(got: list, expected: list, score_columns: range | None = None) -> None:
    """Row for row the same, scores to 1e-12 (CSV: ``score_columns`` hold them; JSON: ``scores``)."""
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        if isinstance(b, dict):
            sa, sb = a.pop("scores", None), b.pop("scores", None)
            assert a == b
            assert (sa is None) == (sb is None)
            if sb is not None:
                assert list(sa) == list(sb) and all(math.isclose(sa[k], sb[k], abs_tol=1e-12) for k in sb)
        else:
            assert score_columns is not None
            assert [v for j, v in enumerate(a) if j not in score_columns] == [
                v for j, v in enumerate(b) if j not in score_columns
            ]
            for j in score_columns:
                assert a[j] == b[j] or math.isclose(float(a[j]), float(b[j]), abs_tol=1e-12)


def requirements_only_env(folder: Path, *also: str) -> dict[str, str]:
    """A user's shell where only requirements.txt (and the distributions ``also`` names, with their
    requirements) is installed: other imports fail as if those packages were absent."""
    env = outside_env()
    env["PYTHONPATH"] = str(ROOT / "tests" / "requirements_only")
    env["ONLY_REQUIREMENTS"] = ",".join([str(ROOT / "requirements.txt"), *also])
    return env
