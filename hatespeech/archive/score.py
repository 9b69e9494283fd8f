"""Score an archive of posts: CSV or JSON Lines in, the same rows out with scores, label and action.

Streams: the file is read, scored and written in blocks of whole rows, with a bounded number of
blocks in flight, so memory stays constant however large the file. Uses every core: blocks go,
as raw bytes, to a pool of worker processes forked after the model is loaded (they share its
memory), which parse, score and format them; the results come back in order. The main process
only cuts the bytes at row ends (for a CSV, a newline after an even number of quotes, as RFC 4180
quoting guarantees) and writes: parsing there would make it the bottleneck. A row whose text
is empty or missing is written out marked (``skipped``), counted and reported; it never stops
the run.

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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
from tqdm.auto import tqdm

from hatespeech import config
from hatespeech.config import Settings
from hatespeech.core.classifier import Classifier
from hatespeech.core.labels import LABELS
from hatespeech.core.policy import Policy

CHUNK_BYTES = 1 << 18  # bytes per task (~2,500 tweets): big enough to amortise the batch path and the IPC
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
    matrix = classifier.probabilities(wanted) if wanted else np.zeros((0, len(LABELS)))
    labels, decided, reached = policy.decide_many(matrix)  # vectorised: the same answers as policy.decide
    flagged = Counter({label: sum(hits) for label, hits in reached.items() if any(hits)})
    actions = Counter(decided)
    scored = iter(zip(matrix.tolist(), labels, decided, strict=True))
    reasons = dict(skips)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n") if fmt.kind == "csv" else None
    for i, (record, text) in enumerate(zip(records, texts, strict=True)):
        row, label, action = (None, None, None) if text is None else next(scored)
        if writer is not None:
            if row is None:
                writer.writerow([*record, *([""] * len(SCORE_COLUMNS)), "", "", reasons[i]])
            else:
                writer.writerow([*record, *(f"{p:.6g}" for p in row), label, action, ""])
        else:
            if row is None:
                record.update(scores=None, label=None, action=None, skipped=reasons[i])
            else:
                record.update(scores=dict(zip(LABELS, row, strict=True)), label=label, action=action)
            out.write(json.dumps(record, ensure_ascii=False))
            out.write("\n")
    return out.getvalue(), skips, flagged, actions


def score_block(fmt: Format, block: bytes) -> tuple[str, list[tuple[int, str]], Counter, Counter, int]:
    """Parse one block of whole rows (raw bytes), then ``score_chunk`` it; also return its row count."""
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ArchiveError(f"the archive is not UTF-8 ({err.reason} near byte {err.start} of a block)") from None
    lines = io.StringIO(text, newline="")  # lines end at \n, \r or \r\n, as when reading the file as text
    try:
        rows = list(csv.reader(lines)) if fmt.kind == "csv" else [line for line in lines if line.strip()]
    except csv.Error as err:
        raise ArchiveError(f"the CSV cannot be parsed ({err}); is a quote inside an unquoted field?") from None
    return (*score_chunk(fmt, rows), len(rows))


# --- reading, in the main process ------------------------------------------------------------------


def detect_format(path: Path, given: str | None) -> str:
    kind = given or {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}.get(path.suffix.lower())
    if kind not in ("csv", "jsonl"):
        raise ArchiveError(f"cannot tell the format of {path}: name it .csv or .jsonl, or pass --format csv|jsonl")
    return kind


def _row_end(block: bytes, kind: str, last: bool = True) -> int:
    """Just after the last (or first) newline in ``block`` that ends a row; 0 if none does.

    ``block`` starts at a row's start. In a CSV a newline ends a row unless it is inside a quoted
    field, that is unless an odd number of quotes precede it (RFC 4180 doubles quotes inside
    quoted fields). A JSON line cannot hold a raw newline: every newline ends one.
    """
    if kind != "csv":
        return block.rfind(b"\n") + 1 if last else block.find(b"\n") + 1
    total = block.count(b'"')
    end = block.rfind(b"\n") if last else block.find(b"\n")
    while end >= 0:
        if (total - block.count(b'"', end)) % 2 == 0:
            return end + 1
        end = block.rfind(b"\n", 0, end) if last else block.find(b"\n", end + 1)
    return 0


def _blocks(raw: IO[bytes], kind: str, size: int, carry: bytes = b"") -> Iterator[bytes]:
    """The rest of ``raw`` (after ``carry``, already read) in blocks of whole rows, about ``size`` bytes each."""
    while True:
        data = raw.read(size)
        if not data:
            if carry:
                yield carry  # the last row, without a newline at its end
            return
        block = carry + data
        cut = _row_end(block, kind)
        if cut == 0:  # no row ends in it yet (a very long row): read on
            carry = block
            continue
        yield block[:cut]
        carry = block[cut:]


def _header(raw: IO[bytes], size: int) -> tuple[bytes, bytes]:
    """The CSV's first row (bytes) and what was read after it."""
    data = b""
    while True:
        more = raw.read(size)
        data += more
        cut = _row_end(data, "csv", last=False)
        if cut or not more:
            cut = cut or len(data)
            return data[:cut], data[cut:]


def score_archive(
    source: Path | str,
    target: Path | str,
    *,
    fmt: str | None = None,
    column: str | None = None,
    workers: int | None = None,
    chunk_bytes: int = CHUNK_BYTES,
    settings: Settings | None = None,
    classifier: Classifier | None = None,
    policy: Policy | None = None,
    progress: bool | None = None,
    report: Callable[[str], None] | None = None,
) -> Summary:
    """Score ``source`` into ``target`` (same format); return the summary.

    ``column`` is the text's CSV column or JSON key (default ``text``, or ``tweet`` for a CSV
    without ``text``, as Davidson et al.'s). ``workers`` defaults to every core; 1 scores in this
    process. ``progress`` None shows a bar only on a terminal. The model and thresholds are those of
    ``settings`` (default: the environment's, as for the server: ``MODEL_PATH``, ``THRESHOLDS``).
    """
    source, target = Path(source), Path(target)
    kind = detect_format(source, fmt)
    settings = settings or config.settings()
    classifier = classifier or Classifier.load(settings.model_path)
    policy = policy or Policy.from_card(classifier.card, settings.thresholds)
    workers = workers or os.cpu_count() or 1
    report = report or (lambda line: tqdm.write(line, file=sys.stderr))  # above the bar, not in the output
    summary, started = Summary(), time.perf_counter()

    with open(source, "rb") as infile, open(target, "w", encoding="utf-8", newline="") as outfile:
        carry = b""
        if kind == "csv":
            first, carry = _header(infile, chunk_bytes)
            try:
                header = next(csv.reader(io.StringIO(first.decode("utf-8"), newline="")), None)
            except UnicodeDecodeError as err:
                raise ArchiveError(f"{source} is not UTF-8 ({err.reason} in its header)") from None
            if header is None:
                raise ArchiveError(f"{source} is empty: a CSV needs a header row")
            name = column or ("text" if "text" in header or "tweet" not in header else "tweet")
            if name not in header:
                raise ArchiveError(f"{source} has no column {name!r} (its columns: {header}); pass --column NAME")
            clash = sorted(set(header) & set(ADDED_COLUMNS))
            if clash:
                raise ArchiveError(f"{source} already has the columns {clash} that scoring adds; rename them first")
            csv.writer(outfile, lineterminator="\n").writerow([*header, *ADDED_COLUMNS])
            spec = Format("csv", column=header.index(name), width=len(header))
        else:
            spec = Format("jsonl", key=column or "text")

        bar = tqdm(
            total=os.path.getsize(source),
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc="scoring",
            disable=None if progress is None else not progress,
            smoothing=0.05,
        )

        def collect(result: tuple[str, list, Counter, Counter, int], size: int) -> None:
            text, skips, flagged, actions, n = result
            start = summary.rows
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
            bar.update(size)
            elapsed = time.perf_counter() - started
            bar.set_postfix(rows=f"{summary.rows:,}", rate=f"{summary.rows / elapsed:,.0f} rows/s", refresh=False)

        _worker.update(classifier=classifier, policy=policy)
        blocks = _blocks(infile, kind, chunk_bytes, carry)
        if kind == "csv":
            bar.update(len(first))
        if workers == 1:
            for block in blocks:
                collect(score_block(spec, block), len(block))
        else:
            # fork: the workers inherit the loaded, verified model instead of loading it again.
            with multiprocessing.get_context("fork").Pool(workers, initializer=_single_threaded) as pool:
                pending: deque = deque()
                for block in blocks:
                    pending.append((pool.apply_async(score_block, (spec, block)), len(block)))
                    while len(pending) >= 2 * workers:  # bounded: constant memory, workers never idle
                        result, size = pending.popleft()
                        collect(result.get(), size)
                while pending:
                    result, size = pending.popleft()
                    collect(result.get(), size)
        bar.close()
    summary.seconds = time.perf_counter() - started
    if sum(summary.skipped.values()) > len(summary.examples):
        report(f"… and {sum(summary.skipped.values()) - len(summary.examples):,} more skipped rows (counted below)")
    return summary


def _single_threaded() -> None:
    """One process per core: native thread pools inside each would only fight over the cores."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
