"""Score an archive on a Dask cluster: the same rows out as ``score_archive``, from as many machines as it has.

    python score_archive.py s3://bucket/posts.csv s3://bucket/scored/ --scheduler tcp://10.0.0.5:8786

How the work is split, and why:

- This process reads the archive once, from start to end, and cuts it where rows end with the
  local scorer's cutter (``blocks.row_blocks``; RFC 4180 quotes decide where a CSV row ends, which
  only a reader that has seen everything before can know). It keeps only the byte ranges: each
  task is ``(offset, length)``, and the worker reads its range itself from the same path or URL
  (fsspec: a shared disk, ``s3://``, ``gs://``, ``abfs://``…), so the archive's bytes do not all
  travel through this machine twice.
- Each worker scores its range in chunks as the local scorer does (``worker.score_range``, with
  ``score.score_block``: the same parsing, skip rules, formatting and decision) and writes
  ``part-NNNNNN.csv|jsonl`` (a CSV part with the header row) into the TARGET folder; the task
  answers only counts. With ``single_file``, the task answers the scored text instead, and this
  process writes it in input order: the local scorer's output, byte for byte.
- The serving core goes to the workers as a zip, so a worker needs only the serving requirements
  plus Dask, not the project; the model is scattered to every worker once, and each worker
  process verifies and loads it once for every task of the run (``shipping``).
- A killed worker: Dask recomputes its tasks elsewhere. A task is a pure function of its range,
  and a part is written whole under a temporary name then renamed, so a recomputed part replaces
  nothing but itself: every row ends up in the output exactly once.
- ``_SUMMARY.json`` is written last: a TARGET folder without it is an unfinished run.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import PurePosixPath
from typing import Any

from hatespeech import config
from hatespeech.archive.blocks import ArchiveError, read_start, refuse_existing, row_blocks
from hatespeech.archive.score import (
    CHUNK_BYTES,
    Summary,
    above_the_bar,
    detect_format,
    open_format,
    progress_bar,
    show_progress,
)
from hatespeech.archive.shipping import model_payload, ship_code
from hatespeech.archive.worker import BlockResult, Job, score_range
from hatespeech.config import Settings

# Bytes of the archive per task, by default: the archive's size / (TASKS_PER_THREAD × worker threads), so that the
# last round of tasks, when some threads have nothing left to do, is a small part of the run; within these bounds
# (1 MiB: ~10,000 tweets, under a second of one core, so a task's overhead stays ~1 %; 64 MiB: memory per task).
TASKS_PER_THREAD = 16
MIN_BLOCK_BYTES, MAX_BLOCK_BYTES = 1 << 20, 64 << 20
CONNECT_SECONDS = 5.0  # how long to wait for the scheduler before saying it cannot be reached
SUMMARY = "_SUMMARY.json"


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
    settings = settings or config.settings()
    options = storage_options or {}
    report = report or above_the_bar
    fs_in, path_in = fsspec.core.url_to_fs(source, **options)
    fs_out, path_out = fsspec.core.url_to_fs(target, **options)
    kind = detect_format(PurePosixPath(path_in), fmt)
    total = fs_in.size(path_in)  # also: FileNotFoundError (an OSError) before anything else happens
    clear = _check_target(fs_in, path_in, fs_out, path_out, overwrite=overwrite, single_file=single_file)
    payload = model_payload(settings)  # verified here first: a bad model or setting fails before the cluster is used
    summary, started = Summary(), time.perf_counter()

    with _connect(scheduler, connect_seconds, workers) as client:
        threads = sum(w["nthreads"] for w in client.scheduler_info()["workers"].values())
        block_bytes = block_bytes or min(max(total // (TASKS_PER_THREAD * threads), MIN_BLOCK_BYTES), MAX_BLOCK_BYTES)
        report(f"Dask: {threads} worker threads; dashboard {client.dashboard_link}")
        ship_code(client)
        if clear:
            fs_out.rm(path_out, recursive=fs_out.isdir(path_out))
        model = client.scatter(payload, broadcast=True, hash=False)  # once per worker, not with each task
        run = uuid.uuid4().hex[:8]
        bar = progress_bar(total, "scoring on Dask", progress)
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
                summary.add(result.counts, kind, report)
                parts.append(index)
                if result.text is not None:
                    out.write(result.text)
                show_progress(bar, size, summary.rows, started)

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
    summary.report_unnamed(report)
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
