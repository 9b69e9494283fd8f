"""Score an archive on a Dask cluster: the same rows out as ``score_archive``, from as many machines as it has.

    python score_archive.py s3://bucket/posts.csv s3://bucket/scored/ --scheduler tcp://10.0.0.5:8786

How the work is split, and why:

- This process reads the archive once, from start to end, and cuts it where rows end with the
  local scorer's cutter (``blocks.row_blocks``; RFC 4180 quotes decide where a CSV row ends, which
  only a reader that has seen everything before can know). It keeps only the byte ranges: each
  task is ``(offset, length)``, and the worker reads its range itself from the same path or URL
  (fsspec: a shared disk, ``s3://``, ``gs://``, ``abfs://``…), so the archive's bytes do not all
  travel through this machine twice.
- Each worker scores its range in chunks as the local scorer does (``score.score_block``: the same
  parsing, skip rules, formatting and decision) and writes ``part-NNNNNN.csv|jsonl`` (a CSV part
  with the header row) into the TARGET folder; the task answers only counts. With
  ``single_file``, the task answers the scored text instead, and this process writes it in input
  order: the local scorer's output, byte for byte.
- The serving core goes to the workers as a zip (``Client.upload_file``: registered as a plugin,
  so a worker that joins or restarts later gets it too), so a worker needs only the serving
  requirements plus Dask, not the project. The model (its card and arrays, as bytes) is scattered
  to every worker once; each worker process verifies and loads it once (hashes, probe scores) and
  keeps it for every task of the run.
- A killed worker: Dask recomputes its tasks elsewhere. A task is a pure function of its range,
  and a part is written whole under a temporary name then renamed, so a recomputed part replaces
  nothing but itself: every row ends up in the output exactly once.
- ``_SUMMARY.json`` is written last: a TARGET folder without it is an unfinished run.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import socket
import sys
import tempfile
import time
import uuid
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import hatespeech
from hatespeech import config
from hatespeech.archive.blocks import ArchiveError, read_start, refuse_existing, row_blocks
from hatespeech.archive.score import (
    CHUNK_BYTES,
    REPORTED_SKIPS,
    Format,
    Summary,
    detect_format,
    model_for,
    open_format,
    score_block,
)
from hatespeech.config import Settings
from hatespeech.core.classifier import Classifier
from hatespeech.core.modelfile import card_path_of
from hatespeech.core.policy import Policy

# Bytes of the archive per task, by default: the archive's size / (TASKS_PER_THREAD × worker threads), so that the
# last round of tasks, when some threads have nothing left to do, is a small part of the run; within these bounds
# (1 MiB: ~10,000 tweets, under a second of one core, so a task's overhead stays ~1 %; 64 MiB: memory per task).
TASKS_PER_THREAD = 16
MIN_BLOCK_BYTES, MAX_BLOCK_BYTES = 1 << 20, 64 << 20
CONNECT_SECONDS = 5.0  # how long to wait for the scheduler before saying it cannot be reached
PART = "part-{:06d}"
SUMMARY = "_SUMMARY.json"
SHIPPED = ("__init__.py", "config.py", "core", "archive")  # what the workers import (no training, no service)


@dataclass(frozen=True)
class Job:
    """What every task of one run shares (small: it travels with each task)."""

    source: str  # fsspec URL or local path of the archive
    target: str  # the TARGET folder (parts), or "" when the answer goes back to the client (single file)
    spec: Format
    header: bytes  # what opens each CSV part: the output header row; b"" for JSON Lines
    chunk_bytes: int
    storage_options: dict


@dataclass(frozen=True)
class BlockResult:
    """One task's answer: counts, the first skipped rows (index within the block), and the text if asked."""

    rows: int
    skipped: Counter
    examples: list[tuple[int, str]]
    flagged: Counter
    actions: Counter
    text: bytes | None = None


# --- on a worker ------------------------------------------------------------------------------------

_loaded: dict[str, tuple[Classifier, Policy]] = {}  # per worker process: the run's model, loaded once


def _model(payload: dict[str, Any]) -> tuple[Classifier, Policy]:
    """The classifier and policy of ``payload`` (scattered model files and settings), verified once per process."""
    key = payload["key"]
    if key not in _loaded:
        # In the worker's own scratch folder: a worker killed mid-load leaves it where Dask clears dead workers'
        # folders, not in /tmp for good. Loading reads it all.
        with tempfile.TemporaryDirectory(prefix="hatespeech-model-", dir=_scratch()) as folder:
            for name, data in payload["files"].items():
                (Path(folder) / name).write_bytes(data)
            classifier = Classifier.load(Path(folder) / payload["card"])  # checks hashes, versions, probes
        _loaded.clear()  # a worker that served an earlier run keeps only this run's model
        _loaded[key] = (classifier, Policy.from_card(classifier.card, payload["thresholds"]))
        # In the worker's log (Dask's logger is the one a worker prints): once per process and run.
        logging.getLogger("distributed.worker").info("hatespeech: model %s loaded and verified", key[:12])
    return _loaded[key]


def _scratch() -> str | None:
    """This Dask worker's scratch folder, or None (the system's temporary folder) outside a worker."""
    from distributed import get_worker

    try:
        return get_worker().local_directory
    except ValueError:  # not in a worker
        return None


def score_range(payload: dict[str, Any], job: Job, index: int, offset: int, length: int) -> BlockResult:
    """Score the ``length`` bytes at ``offset`` of the archive (whole rows); write part ``index`` or answer the text."""
    import fsspec

    classifier, policy = _model(payload)
    fs, path = fsspec.core.url_to_fs(job.source, **job.storage_options)
    try:
        data = fs.cat_file(path, start=offset, end=offset + length)
    except FileNotFoundError:
        raise ArchiveError(_unseen(job.source)) from None
    if len(data) != length:
        raise ArchiveError(f"{job.source} changed while it was being scored (byte {offset:,}: {len(data)} of {length})")
    out = io.BytesIO()
    rows, examples = 0, list[tuple[int, str]]()
    skipped: Counter[str] = Counter()
    flagged: Counter[str] = Counter()
    actions: Counter[str] = Counter()
    for chunk in row_blocks(io.BytesIO(data), job.spec.kind, job.chunk_bytes):
        text, skips, chunk_flagged, chunk_actions, n = score_block(job.spec, chunk, classifier, policy)
        out.write(text.encode("utf-8"))
        for i, reason in skips:
            skipped[reason] += 1
            if len(examples) < REPORTED_SKIPS:
                examples.append((rows + i, reason))
        rows += n
        flagged.update(chunk_flagged)
        actions.update(chunk_actions)
    if not job.target:
        return BlockResult(rows, skipped, examples, flagged, actions, out.getvalue())
    _write_part(job, index, job.header + out.getvalue())
    return BlockResult(rows, skipped, examples, flagged, actions)


def _unseen(url: str) -> str:
    return (
        f"the worker on {socket.gethostname()} cannot see {url}: every worker must reach SOURCE and TARGET at the "
        "same place (a shared disk, or a URL such as s3://…)"
    )


def _write_part(job: Job, index: int, data: bytes) -> None:
    """Write a part whole: under a temporary name then renamed on a disk (a killed task leaves no half part
    under the real name); in one PUT on an object store, which is atomic there."""
    import fsspec
    from fsspec.implementations.local import LocalFileSystem

    fs, folder = fsspec.core.url_to_fs(job.target, **job.storage_options)
    if not fs.isdir(folder):
        raise ArchiveError(_unseen(job.target))
    name = f"{folder.rstrip('/')}/{PART.format(index)}.{'csv' if job.spec.kind == 'csv' else 'jsonl'}"
    if isinstance(fs, LocalFileSystem):
        temporary = f"{name}.{uuid.uuid4().hex}.tmp"
        fs.pipe_file(temporary, data)
        os.replace(temporary, name)
    else:
        fs.pipe_file(name, data)


# --- on the client ----------------------------------------------------------------------------------


def score_on_cluster(
    source: str,
    target: str,
    *,
    scheduler: str,
    fmt: str | None = None,
    column: str | None = None,
    single_file: bool = False,
    overwrite: bool = False,
    workers: int | None = None,
    block_bytes: int | None = None,
    chunk_bytes: int = CHUNK_BYTES,
    settings: Settings | None = None,
    storage_options: dict | None = None,
    progress: bool | None = None,
    report: Callable[[str], None] | None = None,
    connect_seconds: float = CONNECT_SECONDS,
) -> Summary:
    """Score ``source`` into ``target`` on the Dask cluster at ``scheduler`` (``local``: a LocalCluster here).

    ``target`` is a folder of part files plus ``_SUMMARY.json``, or with ``single_file`` one file
    written exactly as ``score_archive`` writes it. ``workers`` is only for ``local``: worker
    processes (default: every core). ``block_bytes``: the archive's bytes per task (default: see
    ``TASKS_PER_THREAD``). The model, ``MAX_TEXT_CHARS`` and ``THRESHOLDS`` come from
    ``settings`` (default: the environment, as for the server).
    """
    try:
        import distributed  # noqa: F401  (here, to say what to install)
        import fsspec
    except ImportError as err:  # the serving image has no Dask: it scores archives on its own cores
        raise ArchiveError(
            f"--scheduler needs Dask here ({err}): pip install -r requirements-train.txt, which pins it"
        ) from None
    from tqdm.auto import tqdm

    settings = settings or config.settings()
    options = storage_options or {}
    report = report or (lambda line: tqdm.write(line, file=sys.stderr))
    fs_in, path_in = fsspec.core.url_to_fs(source, **options)
    fs_out, path_out = fsspec.core.url_to_fs(target, **options)
    kind = detect_format(PurePosixPath(path_in), fmt)
    total = fs_in.size(path_in)  # also: FileNotFoundError (an OSError) before anything else happens
    clear = _check_target(fs_in, path_in, fs_out, path_out, overwrite=overwrite, single_file=single_file)
    payload = _payload(settings)  # verified here first: a bad model or setting fails before the cluster is used
    summary, started = Summary(), time.perf_counter()

    with _connect(scheduler, connect_seconds, workers) as client:
        threads = sum(w["nthreads"] for w in client.scheduler_info()["workers"].values())
        block_bytes = block_bytes or min(max(total // (TASKS_PER_THREAD * threads), MIN_BLOCK_BYTES), MAX_BLOCK_BYTES)
        report(f"Dask: {threads} worker threads; dashboard {client.dashboard_link}")
        _ship(client)
        if clear:
            fs_out.rm(path_out, recursive=fs_out.isdir(path_out))
        model = client.scatter(payload, broadcast=True, hash=False)  # once per worker, not with each task
        run = uuid.uuid4().hex[:8]
        bar = tqdm(
            total=total,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc="scoring on Dask",
            smoothing=0.05,
            disable=None if progress is None else not progress,
        )
        with fs_in.open(path_in, "rb") as raw, _output(fs_out, path_out, single_file) as out:
            skipped_bytes, first, carry = read_start(raw, kind, chunk_bytes, name=source)
            spec, header = open_format(kind, first, column, source, settings.max_text_chars)
            # Absolute URLs: a worker's working folder is not this one.
            folder = "" if single_file else fs_out.unstrip_protocol(path_out)
            job = Job(fs_in.unstrip_protocol(path_in), folder, spec, header.encode("utf-8"), chunk_bytes, options)
            if single_file:
                out.write(job.header)
            else:
                fs_out.makedirs(path_out, exist_ok=True)
            offset = skipped_bytes + len(first)
            bar.update(offset)
            parts: list[int] = []
            # Bounded: every worker thread busy, constant memory here. With --single-file the finished blocks that
            # wait for their turn hold scored text (~1.5 × the block), so they count too, and fewer: it comes here.
            limit = 2 * max(threads, 1) + 2 if not single_file else min(2 * max(threads, 1) + 2, 32)
            window = _Window(limit, hold=single_file)

            def collect(index: int, result: BlockResult, size: int) -> None:
                for i, reason in result.examples:
                    if len(summary.examples) < REPORTED_SKIPS:
                        where = f"row {summary.rows + i + 1}" + (" (after the header)" if kind == "csv" else "")
                        summary.examples.append(f"{where}: {reason}")
                        report(f"skipped {where}: {reason}")
                summary.rows += result.rows
                summary.scored += result.rows - sum(result.skipped.values())
                summary.skipped.update(result.skipped)
                summary.flagged.update(result.flagged)
                summary.actions.update(result.actions)
                parts.append(index)
                if result.text is not None:
                    out.write(result.text)
                bar.update(size)
                rate = summary.rows / (time.perf_counter() - started)
                bar.set_postfix(rows=f"{summary.rows:,}", rate=f"{rate:,.0f} rows/s", refresh=False)

            for index, block in enumerate(row_blocks(raw, kind, block_bytes, carry)):
                key = f"hatespeech-archive-{run}-{index}"
                future = client.submit(score_range, model, job, index, offset, len(block), key=key, pure=False)
                window.add(future, index, len(block), offset)
                offset += len(block)
                while window.full():
                    for done in window.wait():
                        collect(*done)
            while window.running.count():
                for done in window.wait():
                    collect(*done)
        bar.close()
        summary.seconds = time.perf_counter() - started
        if not single_file:
            # A task killed while writing its part leaves its temporary behind (the retry wrote the part
            # again, whole): removed before the summary says the run is complete.
            for stale in fs_out.glob(f"{path_out.rstrip('/')}/part-*.tmp"):
                fs_out.rm(stale)
            text = _summary_json(summary, source, kind, len(parts))
            fs_out.pipe_file(f"{path_out.rstrip('/')}/{SUMMARY}", text.encode("utf-8"))
    if sum(summary.skipped.values()) > len(summary.examples):
        report(f"… and {sum(summary.skipped.values()) - len(summary.examples):,} more skipped rows (counted below)")
    return summary


class _Window:
    """The tasks in flight: their results handed over in input order, though later ones may finish first (a slow
    or lost worker holds back only the summary's order, not the other workers)."""

    def __init__(self, limit: int, hold: bool):
        from distributed import as_completed

        self.running = as_completed()
        self.blocks: dict[str, tuple[int, int, int]] = {}  # task key -> (index, size, start byte)
        self.finished: dict[int, tuple[BlockResult, int]] = {}  # index -> (result, size), waiting for its turn
        self.next = 0
        self.limit, self.hold = limit, hold

    def add(self, future: Any, index: int, size: int, start: int) -> None:
        self.running.add(future)
        self.blocks[future.key] = (index, size, start)

    def full(self) -> bool:
        return self.running.count() + (len(self.finished) if self.hold else 0) >= self.limit

    def wait(self) -> Iterator[tuple[int, BlockResult, int]]:
        """Wait for a task to finish, then hand over ``(index, result, size)`` of every block next in order."""
        from distributed import KilledWorker

        future = next(self.running)
        index, size, start = self.blocks.pop(future.key)
        try:
            self.finished[index] = (future.result(), size)  # a task's error is raised here, at once
        except KilledWorker as err:  # Dask gave up after the task took down several workers
            raise ArchiveError(
                f"the workers that scored the block at byte {start:,} died, {err.allowed_failures + 1} times: "
                "their logs say why (out of memory?)"
            ) from None
        while self.next in self.finished:
            yield (self.next, *self.finished.pop(self.next))
            self.next += 1


def _check_target(fs_in: Any, path_in: str, fs_out: Any, path_out: str, *, overwrite: bool, single_file: bool) -> bool:
    """Refuse a TARGET that is the SOURCE (through any link), or that exists unless ``overwrite``.

    True if TARGET is to be removed before the run writes (a folder of parts of an earlier run, whose
    stale parts would otherwise stay; a file where the folder goes): done once the cluster is reached.
    """
    from fsspec.implementations.local import LocalFileSystem

    if not fs_out.exists(path_out):
        return False
    if isinstance(fs_in, LocalFileSystem) and isinstance(fs_out, LocalFileSystem):
        same = os.path.samefile(path_in, path_out)
    else:
        same = type(fs_in) is type(fs_out) and path_in.rstrip("/") == path_out.rstrip("/")
    if same:
        raise ArchiveError(f"the output {path_out} is the input: give another TARGET (nothing was written)")
    refuse_existing(path_out, exists=True, overwrite=overwrite)
    if fs_out.isdir(path_out):
        if single_file:
            raise ArchiveError(f"{path_out} is a folder: --single-file writes one file; give another TARGET")
        names = [PurePosixPath(p).name for p in fs_out.ls(path_out, detail=False)]
        others = sorted(n for n in names if n != SUMMARY and not n.startswith("part-"))
        if others:
            raise ArchiveError(
                f"{path_out} holds files a scoring run does not write ({', '.join(others[:3])}): not clearing it"
            )
    return not single_file  # a single file is replaced when complete


def _payload(settings: Settings) -> dict[str, Any]:
    """The model's files (as bytes) and the settings the workers score with; loaded and verified here first."""
    classifier, _ = model_for(settings)  # a bad model or THRESHOLDS fails here, not on every worker
    card = card_path_of(settings.model_path)
    files = {card.name: card.read_bytes()}
    for name in _model_files(classifier.card):
        files[name] = (card.parent / name).read_bytes()
    digest = hashlib.sha256()
    for name, data in sorted(files.items()):
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    digest.update(json.dumps(settings.thresholds, sort_keys=True).encode())
    return {
        "key": digest.hexdigest(),
        "files": files,
        "card": card.name,
        "thresholds": settings.thresholds,
    }


def _model_files(card: dict[str, Any]) -> list[str]:
    """The files beside the card that loading it opens: the compiled model's arrays (never the pipeline)."""
    return [card["model_file"]]


@contextmanager
def _connect(address: str, seconds: float, workers: int | None) -> Iterator[Any]:
    """A client of the scheduler at ``address`` (``local``: of a LocalCluster started here, one thread per process)."""
    import dask
    from distributed import Client, LocalCluster

    if address == "local":
        with (
            # The scheduler's and workers' scratch space (Dask's default: dask-scratch-space/ in the temporary
            # folder, left behind), in a folder of this run, removed with it.
            tempfile.TemporaryDirectory(prefix="hatespeech-dask-", ignore_cleanup_errors=True) as scratch,
            dask.config.set({"temporary-directory": scratch}),
            LocalCluster(
                n_workers=workers or os.cpu_count() or 1,
                threads_per_worker=1,  # one process per core: the scorer is Python, bound by the GIL
                host="127.0.0.1",
                dashboard_address="127.0.0.1:0",
                local_directory=scratch,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
        return
    try:
        client = Client(address, timeout=seconds)
    except (OSError, TimeoutError, ValueError) as err:
        raise ArchiveError(
            f"cannot reach the Dask scheduler at {address} ({err}); is `dask scheduler` running there, "
            "and its port open from here?"
        ) from None
    with client:
        try:
            client.wait_for_workers(1, timeout=2 * seconds)
        except TimeoutError:
            raise ArchiveError(
                f"the Dask scheduler at {address} has no workers: start some with `dask worker {address}`"
            ) from None
        yield client


def _package_zip(folder: Path) -> Path:
    """The serving core and the archive code as a zip in ``folder``, named by its contents (what the workers import)."""
    root = Path(hatespeech.__file__).resolve().parent
    files = sorted(
        path
        for name in SHIPPED
        for path in ([root / name] if (root / name).is_file() else (root / name).rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts  # the code and its data (core/confusables.json)
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in files:
            info = zipfile.ZipInfo(str(path.relative_to(root.parent)), date_time=(1980, 1, 1, 0, 0, 0))
            zf.writestr(info, path.read_bytes())  # fixed dates: the same code gives the same name
    data = buffer.getvalue()
    path = folder / f"hatespeech-{hashlib.sha256(data).hexdigest()[:12]}.zip"
    path.write_bytes(data)
    return path


def _ship(client: Any) -> None:
    """Send the code to every worker (and to any that joins later): workers need NumPy and Dask, not the project."""

    def forget(name: str) -> None:  # runs on the workers: drop another version of the code loaded before
        if any(name in entry for entry in sys.path):
            return
        for module in [m for m in sys.modules if m == "hatespeech" or m.startswith("hatespeech.")]:
            del sys.modules[module]
        sys.path[:] = [entry for entry in sys.path if not Path(entry).name.startswith("hatespeech-")]

    # upload_file sends the bytes (and keeps them for workers that join later): the file is not needed after.
    with tempfile.TemporaryDirectory(prefix="hatespeech-ship-") as folder:
        package = _package_zip(Path(folder))
        client.run(forget, package.name)
        client.upload_file(str(package))


@contextmanager
def _output(fs: Any, path: str, single_file: bool) -> Iterator[Any]:
    """The single output file, written under a temporary name and renamed when complete; None for a folder."""
    from fsspec.implementations.local import LocalFileSystem

    if not single_file:
        yield None
        return
    if not isinstance(fs, LocalFileSystem):
        with fs.open(path, "wb") as out:  # an object store makes the object visible only when it is complete
            yield out
        return
    temporary = f"{path}.{uuid.uuid4().hex}.tmp"
    try:
        with open(temporary, "wb") as out:
            yield out
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _summary_json(summary: Summary, source: str, kind: str, parts: int) -> str:
    return json.dumps(
        {
            "source": source,
            "format": kind,
            "parts": parts,
            "rows": summary.rows,
            "scored": summary.scored,
            "skipped": dict(summary.skipped.most_common()),
            "flagged": dict(summary.flagged),
            "actions": dict(summary.actions),
            "seconds": round(summary.seconds, 3),
            "examples": summary.examples,
        },
        indent=2,
        ensure_ascii=False,
    )
