"""Score an archive of posts: CSV or JSON Lines in, the same rows out with scores, label and action.

Streams: rows are read, scored and written in chunks, with a bounded number of chunks in
flight, so memory stays constant however large the file. Uses every core: chunks go to a pool
of worker processes forked after the model is loaded (they share its memory), and come back in
order. A row whose text is empty or missing is written out marked (``skipped``), counted and
reported; it never stops the run.

>>> summary = score_archive("posts.csv", "scored.csv")            # doctest: +SKIP
>>> summary.rows, summary.flagged["hate speech"], summary.skipped  # doctest: +SKIP
(1000000, 31234, {'empty text': 12})

Columns added to a CSV: ``p_hate_speech``, ``p_offensive_language``, ``p_neither`` (the
probabilities), ``label``, ``action`` and ``skipped`` (empty, or why the row was not scored).
Keys added to a JSON object: ``scores`` (``{label: probability}``), ``label``, ``action`` and,
on a row not scored, ``skipped``.
"""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import os
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from tqdm.auto import tqdm

from hatespeech.classifier import Classifier
from hatespeech.labels import LABELS
from hatespeech.moderation import Policy

CHUNK_ROWS = 2000  # rows per task: big enough to amortise the batch path and the IPC
REPORTED_SKIPS = 10  # skipped rows named one by one; the rest are only counted
SCORE_COLUMNS = [f"p_{label.replace(' ', '_')}" for label in LABELS]
ADDED_COLUMNS = [*SCORE_COLUMNS, "label", "action", "skipped"]
csv.field_size_limit(sys.maxsize)  # a post may be long; the default 128 KiB limit would stop the run


class ArchiveError(ValueError):
    """The archive cannot be read as asked (unknown format, no text column…); the message says why."""


@dataclass
class Summary:
    """What a run did; ``str(summary)`` is the report printed at the end."""

    rows: int = 0
    scored: int = 0
    flagged: Counter = field(default_factory=Counter)  # per class: reached its review threshold
    actions: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)  # per reason
    seconds: float = 0.0
    examples: list[str] = field(default_factory=list)  # the first skipped rows, named

    def __str__(self) -> str:
        rate = self.rows / self.seconds if self.seconds else 0.0
        lines = [
            f"rows: {self.rows:,} in {self.seconds:.1f} s ({rate:,.0f} rows/s); scored {self.scored:,}, "
            f"skipped {sum(self.skipped.values()):,}",
            "flagged: " + ", ".join(f"{label} {self.flagged[label]:,}" for label in LABELS if label != "neither"),
            "actions: " + ", ".join(f"{action} {self.actions[action]:,}" for action in ("allow", "review", "block")),
        ]
        if self.skipped:
            lines.append("skipped: " + ", ".join(f"{reason} {n:,}" for reason, n in self.skipped.most_common()))
        return "\n".join(lines)


@dataclass(frozen=True)
class Format:
    """How the worker reads and writes one chunk: ``csv`` (text at ``column``) or ``jsonl`` (key ``key``)."""

    kind: str
    column: int = -1
    width: int = 0  # the header's number of columns
    key: str = "text"


# --- the work of one chunk (runs in a worker process) ---------------------------------------------

_worker: dict[str, Any] = {}  # the classifier and policy of this process (set before forking)


def _text_of(value: object) -> tuple[str | None, str | None]:
    """``(text, None)`` to score, or ``(None, reason)`` to skip."""
    if value is None:
        return None, "missing text"
    if not isinstance(value, str):
        return None, "text is not a string"
    if not value.strip():
        return None, "empty text"
    return value, None


def score_chunk(fmt: Format, rows: list) -> tuple[str, list[tuple[int, str]], Counter, Counter]:
    """Score one chunk of parsed CSV rows or raw JSON lines.

    Returns the output text, the ``(index, reason)`` of skipped rows, and the counts of flagged
    classes and actions.
    """
    classifier: Classifier = _worker["classifier"]
    policy: Policy = _worker["policy"]
    records: list[Any] = []
    texts: list[str | None] = []
    skips: list[tuple[int, str]] = []
    for i, row in enumerate(rows):
        if fmt.kind == "csv":
            value = row[fmt.column] if fmt.column < len(row) else None
            if len(row) > fmt.width:  # the added columns would land under the wrong names
                skips.append((i, f"row has {len(row)} fields; the header has {fmt.width}"))
            records.append(row + [""] * (fmt.width - len(row)))  # a short row is padded, so columns line up
        else:
            try:
                record = json.loads(row)
            except ValueError as err:
                record, value = {"line": row.rstrip("\n")}, None
                skips.append((i, f"invalid JSON ({err.msg})"))
            else:
                if isinstance(record, dict):
                    value = record.get(fmt.key)
                else:
                    record, value = {"value": record}, None
                    skips.append((i, "not a JSON object"))
            records.append(record)
        text, reason = _text_of(value)
        if skips and skips[-1][0] == i:
            text = None  # already skipped for a reason of its own
        elif reason:
            skips.append((i, reason))
        texts.append(text)

    wanted = [t for t in texts if t is not None]
    probabilities = iter(classifier.probabilities(wanted).tolist() if wanted else [])
    reasons = dict(skips)
    flagged, actions = Counter(), Counter()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n") if fmt.kind == "csv" else None
    for i, (record, text) in enumerate(zip(records, texts, strict=True)):
        if text is None:
            scores, decision = None, None
        else:
            row = next(probabilities)
            decision = policy.decide(row)
            scores = dict(zip(LABELS, row, strict=True))
            actions[decision["action"]] += 1
            flagged.update(label for label, hit in decision["categories"].items() if hit)
        if writer is not None:
            if decision is None:
                writer.writerow([*record, *([""] * len(SCORE_COLUMNS)), "", "", reasons[i]])
            else:
                writer.writerow(
                    [*record, *(f"{p:.6g}" for p in scores.values()), decision["label"], decision["action"], ""]
                )
        else:
            if decision is None:
                record.update(scores=None, label=None, action=None, skipped=reasons[i])
            else:
                record.update(scores=scores, label=decision["label"], action=decision["action"])
            out.write(json.dumps(record, ensure_ascii=False))
            out.write("\n")
    return out.getvalue(), skips, flagged, actions


# --- reading, in the main process ------------------------------------------------------------------


class _CountingReader(io.RawIOBase):
    """A binary file that counts the bytes read, for a progress bar in bytes (with an honest ETA)."""

    def __init__(self, raw: IO[bytes]):
        self.raw, self.count = raw, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self.raw.readinto(buffer)
        self.count += n or 0
        return n

    def close(self) -> None:
        self.raw.close()
        super().close()


def detect_format(path: Path, given: str | None) -> str:
    kind = given or {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}.get(path.suffix.lower())
    if kind not in ("csv", "jsonl"):
        raise ArchiveError(f"cannot tell the format of {path}: name it .csv or .jsonl, or pass --format csv|jsonl")
    return kind


def _chunks(rows: Iterable, size: int) -> Iterator[list]:
    chunk: list = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def score_archive(
    source: Path | str,
    target: Path | str,
    *,
    fmt: str | None = None,
    column: str | None = None,
    workers: int | None = None,
    chunk_rows: int = CHUNK_ROWS,
    classifier: Classifier | None = None,
    policy: Policy | None = None,
    progress: bool | None = None,
    report: Callable[[str], None] | None = None,
) -> Summary:
    """Score ``source`` into ``target`` (same format); return the summary.

    ``column`` is the text's CSV column or JSON key (default ``text``, or ``tweet`` for a CSV
    without ``text``, as Davidson et al.'s). ``workers`` defaults to every core; 1 scores in this
    process. ``progress`` None shows a bar only on a terminal.
    """
    source, target = Path(source), Path(target)
    kind = detect_format(source, fmt)
    classifier = classifier or Classifier.load()
    policy = policy or Policy.from_card(classifier.card)
    workers = workers or os.cpu_count() or 1
    report = report or (lambda line: tqdm.write(line, file=sys.stderr))  # above the bar, not in the output
    summary, started = Summary(), time.perf_counter()

    counting = _CountingReader(open(source, "rb"))  # noqa: SIM115 (closed below, with the text wrapper)
    with (
        io.TextIOWrapper(io.BufferedReader(counting, 1 << 20), encoding="utf-8", newline="") as infile,
        open(target, "w", encoding="utf-8", newline="") as outfile,
    ):
        if kind == "csv":
            reader = csv.reader(infile)
            header = next(reader, None)
            if header is None:
                raise ArchiveError(f"{source} is empty: a CSV needs a header row")
            name = column or ("text" if "text" in header or "tweet" not in header else "tweet")
            if name not in header:
                raise ArchiveError(f"{source} has no column {name!r} (its columns: {header}); pass --column NAME")
            clash = sorted(set(header) & set(ADDED_COLUMNS))
            if clash:
                raise ArchiveError(f"{source} already has the columns {clash} that scoring adds; rename them first")
            csv.writer(outfile, lineterminator="\n").writerow([*header, *ADDED_COLUMNS])
            spec, rows = Format("csv", column=header.index(name), width=len(header)), reader
        else:
            spec, rows = Format("jsonl", key=column or "text"), (line for line in infile if line.strip())

        bar = tqdm(
            total=os.path.getsize(source),
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc="scoring",
            disable=None if progress is None else not progress,
            smoothing=0.05,
        )

        def collect(start: int, result: tuple[str, list, Counter, Counter], n: int) -> None:
            text, skips, flagged, actions = result
            outfile.write(text)
            summary.rows += n
            summary.scored += n - len(skips)
            summary.flagged.update(flagged)
            summary.actions.update(actions)
            for i, reason in skips:
                summary.skipped[reason] += 1
                if len(summary.examples) < REPORTED_SKIPS:
                    where = f"row {start + i + 1}" + (" (after the header)" if kind == "csv" else "")
                    summary.examples.append(f"{where}: {reason}")
                    report(f"skipped {where}: {reason}")
            bar.update(counting.count - bar.n)
            elapsed = time.perf_counter() - started
            bar.set_postfix(rows=f"{summary.rows:,}", rate=f"{summary.rows / elapsed:,.0f} rows/s", refresh=False)

        _worker.update(classifier=classifier, policy=policy)
        chunks = _chunks(rows, chunk_rows)
        start = 0
        if workers == 1:
            for chunk in chunks:
                collect(start, score_chunk(spec, chunk), len(chunk))
                start += len(chunk)
        else:
            # fork: the workers inherit the loaded, verified model instead of loading it again.
            with multiprocessing.get_context("fork").Pool(workers, initializer=_single_threaded) as pool:
                pending: deque = deque()
                for chunk in chunks:
                    pending.append((start, pool.apply_async(score_chunk, (spec, chunk)), len(chunk)))
                    start += len(chunk)
                    while len(pending) >= 2 * workers:  # bounded: constant memory, workers never idle
                        first, result, n = pending.popleft()
                        collect(first, result.get(), n)
                while pending:
                    first, result, n = pending.popleft()
                    collect(first, result.get(), n)
        bar.close()
    summary.seconds = time.perf_counter() - started
    if sum(summary.skipped.values()) > len(summary.examples):
        report(f"… and {sum(summary.skipped.values()) - len(summary.examples):,} more skipped rows (counted below)")
    return summary


def _single_threaded() -> None:
    """One process per core: native thread pools inside each would only fight over the cores."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
