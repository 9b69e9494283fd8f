"""Score an archive of posts: CSV or JSON Lines in, the same rows out with scores, label and action.

Streams: the file is read, scored and written in blocks of whole rows, with a bounded number of
blocks in flight, so memory stays constant however large the file. Uses every core: blocks go,
as raw bytes, to a pool of worker processes forked after the model is loaded (they share its
memory), which parse, score and format them; the results come back in order. The main process
only cuts the bytes at row ends (``blocks.row_blocks``) and writes: parsing there would make it
the bottleneck. ``cluster.score_on_cluster`` runs the same chunks on a Dask cluster. A row whose text
is empty or missing is written out marked (``skipped``), counted and reported; it never stops
the run.

>>> summary = score_archive("posts.csv", "scored.csv")            # doctest: +SKIP
>>> summary.rows, summary.flagged["hate speech"], summary.skipped  # doctest: +SKIP
(1000000, 31234, {'empty text': 12})

Columns added to a CSV: ``p_hate_speech``, ``p_offensive_language``, ``p_neither`` (the
probabilities), ``label``, ``action``, ``skipped`` (empty, or why the row was not scored) and
``threat`` (1 or 0: the threat check of ``/moderate``; empty on a row not scored), ``language`` and
``language_supported`` (1 or 0). Keys added to a JSON object: ``scores`` (``{label: probability}``),
``label``, ``action``, ``threat`` (the matched span ``{"start", "end", "text"}`` as ``/moderate`` reports
it, or ``null``), ``language``, ``language_supported`` (true or false) and, on a row not scored,
``skipped``. A row not identified as plain English (``hatespeech.core.language``) is answered as
``/moderate`` answers it (``Moderator.moderate_many``): judged by its language's model, an unsupported
language by ``UNSUPPORTED_LANGUAGE_ACTION``. ``action`` is ``/moderate``'s: the decision rule's, raised to at least
``review`` on a threat or an identity attack (``threats.raise_action``, ``attacks.raise_action``: the rules
both call).
"""

from __future__ import annotations

import csv
import gc
import io
import json
import multiprocessing
import os
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import IO, Any

import numpy as np

from hatespeech import config
from hatespeech.archive.blocks import ArchiveError, read_start, refuse_existing, row_blocks
from hatespeech.config import Settings
from hatespeech.core import attacks, threats
from hatespeech.core.classifier import Classifier
from hatespeech.core.labels import ABUSIVE, LABELS
from hatespeech.core.language import ENGLISH
from hatespeech.core.moderator import Languages, Moderator, identify_post
from hatespeech.core.policy import Policy

# Each worker's per-piece cache (``CompiledModel.piece``), in estimated bytes: a worker is a batch process, and an
# archive's distinct pieces outgrow the server's 32 MB (a million of the bench's rows hold ~187,000 of at most 64
# characters, ~77 MB; on 25,000 of its rows a 32 MB cache, dropping its older half when full, missed 1.4 to 1.8
# pieces a row, 64 MB or more 0.85: the pieces never seen before).
CACHE_BYTES = 128 << 20
CHUNK_BYTES = 1 << 18  # bytes per task (~2,500 tweets): big enough to amortise the batch path and the IPC
REPORTED_SKIPS = 10  # skipped rows named one by one; the rest are only counted
SCORE_COLUMNS = [f"p_{label.replace(' ', '_')}" for label in LABELS]
ADDED_COLUMNS = [*SCORE_COLUMNS, "label", "action", "skipped", "threat", "language", "language_supported"]  # new ones
# at the end: stable order


@dataclass
class Summary:
    """What a run did; ``str(summary)`` is the report printed at the end."""

    rows: int = 0
    scored: int = 0
    flagged: Counter = field(default_factory=Counter)  # per class: reached its review threshold; and threats
    actions: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)  # per reason
    seconds: float = 0.0
    examples: list[str] = field(default_factory=list)  # the first skipped rows, named

    def add(self, counts: Counts, kind: str, report: Callable[[str], None]) -> None:
        """Count the next block's rows in (blocks come in input order), and name and ``report`` its skipped
        rows while fewer than ``REPORTED_SKIPS`` are named."""
        for i, reason in counts.examples:
            if len(self.examples) < REPORTED_SKIPS:
                where = f"row {self.rows + i + 1}" + (" (after the header)" if kind == "csv" else "")
                self.examples.append(f"{where}: {reason}")
                report(f"skipped {where}: {reason}")
        self.rows += counts.rows
        self.scored += counts.rows - sum(counts.skipped.values())
        self.skipped.update(counts.skipped)
        self.flagged.update(counts.flagged)
        self.actions.update(counts.actions)

    def report_unnamed(self, report: Callable[[str], None]) -> None:
        """After the run: say how many skipped rows were counted but not named."""
        unnamed = sum(self.skipped.values()) - len(self.examples)
        if unnamed > 0:
            report(f"… and {unnamed:,} more skipped rows (counted below)")

    def __str__(self) -> str:
        rate = self.rows / self.seconds if self.seconds else 0.0
        lines = [
            f"rows: {self.rows:,} in {self.seconds:.1f} s ({rate:,.0f} rows/s); scored {self.scored:,}, "
            f"skipped {sum(self.skipped.values()):,}",
            "flagged: " + ", ".join(f"{name} {self.flagged[name]:,}" for name in (*ABUSIVE, "threat")),
            "actions: " + ", ".join(f"{action} {self.actions[action]:,}" for action in ("allow", "review", "block")),
        ]
        if self.skipped:
            lines.append("skipped: " + ", ".join(f"{reason} {n:,}" for reason, n in self.skipped.most_common()))
        return "\n".join(lines)


@dataclass
class Counts:
    """The rows of a block (or of several in a row) counted: what ``Summary.add`` adds up."""

    rows: int = 0
    skipped: Counter = field(default_factory=Counter)  # per reason
    examples: list[tuple[int, str]] = field(default_factory=list)  # the first skipped rows: (index here, reason)
    flagged: Counter = field(default_factory=Counter)
    actions: Counter = field(default_factory=Counter)

    def add(self, after: Counts) -> None:
        """Count in ``after``, the rows that come just after these."""
        for i, reason in after.examples:
            if len(self.examples) < REPORTED_SKIPS:
                self.examples.append((self.rows + i, reason))
        self.rows += after.rows
        self.skipped.update(after.skipped)
        self.flagged.update(after.flagged)
        self.actions.update(after.actions)


@dataclass(frozen=True)
class Format:
    """How the worker reads and writes one chunk: ``csv`` (text at ``column``) or ``jsonl`` (key ``key``)."""

    kind: str
    column: int = -1
    width: int = 0  # the header's number of columns
    key: str = "text"
    max_chars: int = Settings.max_text_chars  # MAX_TEXT_CHARS: a longer text is skipped, as the server refuses it


# --- the work of one chunk (runs in a worker process) ---------------------------------------------

_worker: dict[str, Any] = {}  # the classifier and policy of this process (set before forking)


def _text_of(value: object, max_chars: int) -> tuple[str | None, str | None]:
    """``(text, None)`` to score, or ``(None, reason)`` to skip (the server's limits: ``MAX_TEXT_CHARS``)."""
    if value is None:
        return None, "missing text"
    if not isinstance(value, str):
        return None, "text is not a string"
    if not value or value.isspace():
        return None, "empty text"
    if len(value) > max_chars:
        return None, f"text longer than {max_chars:,} characters"
    return value, None


def score_chunk(
    fmt: Format,
    rows: list,
    classifier: Classifier | None = None,
    policy: Policy | None = None,
    languages: Languages | None = None,
) -> tuple[str, Counts]:
    """Score one chunk of parsed CSV rows or raw JSON lines (with this process's models unless given).

    Returns the output text and the chunk's counts (rows, skipped rows and why, flagged classes, actions).
    """
    classifier = classifier or _worker["classifier"]
    policy = policy or _worker["policy"]
    languages = languages or _worker.get("languages") or Languages()
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
                record, value = {"line": row.rstrip("\r\n")}, None
                # not always a JSONDecodeError: a number past int's digit limit is a bare ValueError
                skips.append((i, f"invalid JSON ({err.msg if isinstance(err, json.JSONDecodeError) else err})"))
            else:
                if isinstance(record, dict):
                    value = record.get(fmt.key)
                else:
                    record, value = {"value": record}, None
                    skips.append((i, "not a JSON object"))
            records.append(record)
        text, reason = _text_of(value, fmt.max_chars)
        if skips and skips[-1][0] == i:
            text = None  # already skipped for a reason of its own
        elif reason:
            skips.append((i, reason))
        texts.append(text)

    wanted = [t for t in texts if t is not None]
    # Always the batch path, even for a few rows: it scores each row alone, the same bits whatever else is in
    # the chunk, so the output does not depend on how the archive was cut (by this process or a cluster).
    gates: list[set[str]] = []  # each text's words for the threat check's gate, from the scoring pass
    seen: list[list[str]] = []  # and its tokens, for the identity-attack check's gate
    matrix = classifier.model.predict_proba(wanted, gates, seen) if wanted else np.zeros((0, len(LABELS)))
    labels, decided, reached = policy.decide_many(matrix)  # vectorised: the same answers as policy.decide
    # /moderate's threat check and its rule (hatespeech.core.threats), as the server runs them after scoring.
    found = threats.check_many(classifier.model, wanted, gates)
    decided = [threats.raise_action(action, threat) for action, threat in zip(decided, found, strict=True)]
    # and its identity-attack check (hatespeech.core.attacks): an attack is at least review there too
    attacked = [attacks.check_scored(classifier.model, text, s) for text, s in zip(wanted, seen, strict=True)]
    decided = [attacks.raise_action(action, attack) for action, attack in zip(decided, attacked, strict=True)]
    # Rows not plainly English: /moderate's answer (their language's model, the mixed and unsupported rules).
    # The English pass above scored them too: a few rows, and the common one stays the vectorised path.
    found_languages = [identify_post(text) for text in wanted]
    foreign = [k for k, language in enumerate(found_languages) if language.judged_as != ENGLISH or language.also]
    if foreign:
        moderator = Moderator(
            classifier, policy, max_text_chars=fmt.max_chars, explain_max_spans=0, languages=languages
        )
        answers = moderator.moderate_many([wanted[k] for k in foreign], False, [found_languages[k] for k in foreign])
        for k, answer in zip(foreign, answers, strict=True):
            matrix[k] = [answer["scores"][label] for label in LABELS]
            labels[k], decided[k], found[k] = answer["label"], answer["action"], answer.get("threat")
            for label, hits in reached.items():
                hits[k] = answer["categories"].get(label, False)
    supported = [languages.supported(language.judged_as) for language in found_languages]
    flagged = Counter({label: sum(hits) for label, hits in reached.items() if any(hits)})
    if any(found):
        flagged["threat"] = sum(threat is not None for threat in found)
    actions = Counter(decided)
    codes = [language.code for language in found_languages]
    scored = iter(zip(matrix.tolist(), labels, decided, found, codes, supported, strict=True))
    reasons = dict(skips)
    out = io.StringIO()
    writer = _CsvRows(out) if fmt.kind == "csv" else None
    for i, (record, text) in enumerate(zip(records, texts, strict=True)):
        row, label, action, threat, code, judged = (None,) * 6 if text is None else next(scored)
        if writer is not None:
            if row is None:
                writer.writerow([*record, *([""] * len(SCORE_COLUMNS)), "", "", reasons[i], "", "", ""])
            else:
                flag, known = "0" if threat is None else "1", "1" if judged else "0"
                writer.writerow([*record, *(f"{p:.6g}" for p in row), str(label), str(action), "", flag, code, known])
        else:
            if row is None:
                record.update(
                    scores=None,
                    label=None,
                    action=None,
                    threat=None,
                    language=None,
                    language_supported=None,
                    skipped=reasons[i],
                )
            else:
                record.update(
                    scores=dict(zip(LABELS, row, strict=True)),
                    label=label,
                    action=action,
                    threat=threat,
                    language=code,
                    language_supported=judged,
                )
            out.write(json.dumps(record, ensure_ascii=False))
            out.write("\n")
    skipped = Counter(reason for _, reason in skips)
    return out.getvalue(), Counts(len(rows), skipped, skips[:REPORTED_SKIPS], flagged, actions)


def score_block(
    fmt: Format,
    block: bytes,
    classifier: Classifier | None = None,
    policy: Policy | None = None,
    languages: Languages | None = None,
) -> tuple[str, Counts]:
    """Parse one block of whole rows (raw bytes), then ``score_chunk`` it."""
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ArchiveError(f"the archive is not UTF-8 ({err.reason} near byte {err.start} of a block)") from None
    lines = io.StringIO(text, newline="")  # lines end at \n, \r or \r\n, as when reading the file as text
    # a post may be long: the default 128 KiB field limit would stop the run. Set here, in the process that
    # parses (a pool's or Dask's worker), not when the module is imported by whoever imports it.
    csv.field_size_limit(sys.maxsize)
    try:
        rows = list(csv.reader(lines)) if fmt.kind == "csv" else [line for line in lines if line.strip()]
    except csv.Error as err:
        raise ArchiveError(f"the CSV cannot be parsed ({err}); is a quote inside an unquoted field?") from None
    return score_chunk(fmt, rows, classifier, policy, languages)


class _CsvRows:
    """``csv.writer`` with rows ending in LF, and a field holding a lone CR quoted too.

    ``csv.writer`` quotes only the characters of its own line terminator: with LF, a text holding
    a CR alone would come out unquoted, and read back as two rows. Such a row is written with every
    field quoted (still RFC 4180; a reader gets the same values).
    """

    def __init__(self, out: IO[str]):
        self.plain = csv.writer(out, lineterminator="\n")
        self.quoted = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)

    def writerow(self, row: list[str]) -> None:
        (self.quoted if any("\r" in field for field in row) else self.plain).writerow(row)


# --- reading, in the main process ------------------------------------------------------------------


def detect_format(path: PurePath, given: str | None) -> str:
    kind = given or {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}.get(path.suffix.lower())
    if kind not in ("csv", "jsonl"):
        raise ArchiveError(f"cannot tell the format of {path}: name it .csv or .jsonl, or pass --format csv|jsonl")
    return kind


def open_format(
    kind: str, first: bytes, column: str | None, name: object, max_chars: int = Settings.max_text_chars
) -> tuple[Format, str]:
    """The chunk format and the output's header line (``""`` for JSON Lines), from the CSV's first row."""
    if kind != "csv":
        return Format("jsonl", key=column or "text", max_chars=max_chars), ""
    try:
        header = next(csv.reader(io.StringIO(first.decode("utf-8"), newline="")), None)
    except UnicodeDecodeError as err:
        raise ArchiveError(f"{name} is not UTF-8 ({err.reason} in its header)") from None
    if header is None:
        raise ArchiveError(f"{name} is empty: a CSV needs a header row")
    wanted = column or ("text" if "text" in header or "tweet" not in header else "tweet")
    if wanted not in header:
        if len(header) == 1 and (separator := _other_separator(header[0])):
            raise ArchiveError(
                f"{name} seems separated by {separator!r}, not commas (its header is one column, {header[0]!r:.80}): "
                'save it as comma-separated CSV (a spreadsheet\'s "CSV UTF-8 (comma delimited)") or as JSON Lines'
            )
        raise ArchiveError(f"{name} has no column {wanted!r} (its columns: {header}); pass --column NAME")
    clash = sorted(set(header) & set(ADDED_COLUMNS))
    if clash:
        raise ArchiveError(f"{name} already has the columns {clash} that scoring adds; rename them first")
    line = io.StringIO()
    _CsvRows(line).writerow([*header, *ADDED_COLUMNS])
    return Format("csv", column=header.index(wanted), width=len(header), max_chars=max_chars), line.getvalue()


def _other_separator(header: str) -> str | None:
    """The separator a one-column CSV header seems to use instead of commas (Excel in many locales
    writes ``;``), or None.

    >>> _other_separator("id;text;author"), _other_separator("text")
    (';', None)
    """
    counts = {sep: header.count(sep) for sep in (";", "\t", "|")}
    best = max(counts, key=counts.__getitem__)
    return best if counts[best] else None


def model_for(settings: Settings) -> tuple[Classifier, Policy]:
    """The classifier and policy the server would use: the model at ``MODEL_PATH``, ``THRESHOLDS`` over its card's."""
    classifier = Classifier.load(settings.model_path)
    return classifier, Policy.from_card(classifier.card, settings.thresholds)


def languages_for(settings: Settings) -> Languages:
    """The other languages' models the server would use (``LANGUAGE_MODELS_DIR``, ``UNSUPPORTED_LANGUAGE_ACTION``)."""
    return Languages.load(settings.language_models_dir, settings.unsupported_language_action)


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
    overwrite: bool = False,
) -> Summary:
    """Score ``source`` into ``target`` (same format); return the summary.

    ``column`` is the text's CSV column or JSON key (default ``text``, or ``tweet`` for a CSV
    without ``text``, as Davidson et al.'s). ``workers`` defaults to every core; 1 scores in this
    process. ``progress`` None shows a bar only on a terminal. The model and its limits come from
    ``settings`` (default: the environment, read once: ``MODEL_PATH``, ``MAX_TEXT_CHARS``,
    ``THRESHOLDS``), unless ``classifier`` and ``policy`` are given. ``target`` is written under a
    temporary name and renamed when complete; it may not be ``source`` (nor a link to it), and an
    existing one is replaced only with ``overwrite`` (as on a cluster).
    """
    source, target = Path(source), Path(target)
    kind = detect_format(source, fmt)
    if target.exists() and source.exists() and os.path.samefile(source, target):
        raise ArchiveError(f"the output {target} is the input: give another TARGET (nothing was written)")
    refuse_existing(target, exists=target.exists() or target.is_symlink(), overwrite=overwrite)
    settings = settings or config.settings()
    if classifier is None or policy is None:
        loaded = model_for(settings)
        classifier, policy = classifier or loaded[0], policy or loaded[1]
    languages = languages_for(settings)
    workers = workers or os.cpu_count() or 1
    report = report or above_the_bar
    summary, started = Summary(), time.perf_counter()

    with open(source, "rb") as infile, _replaced_when_done(target) as outfile:
        skipped, first, carry = read_start(infile, kind, chunk_bytes, source)
        spec, header = open_format(kind, first, column, source, settings.max_text_chars)
        outfile.write(header)
        bar = progress_bar(os.path.getsize(source), "scoring", progress)
        bar.update(skipped + len(first))

        def collect(result: tuple[str, Counts], size: int) -> None:
            text, counts = result
            outfile.write(text)
            summary.add(counts, kind, report)
            show_progress(bar, size, summary.rows, started)

        _worker.update(classifier=classifier, policy=policy, languages=languages)
        blocks = row_blocks(infile, kind, chunk_bytes, carry)
        if workers == 1:
            for block in blocks:
                collect(score_block(spec, block), len(block))
        else:
            # fork: the workers inherit the loaded, verified model instead of loading it again.
            with multiprocessing.get_context("fork").Pool(workers, initializer=_worker_start) as pool:
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
    summary.report_unnamed(report)
    return summary


def progress_bar(total: int, desc: str, progress: bool | None) -> Any:
    """A bar over the archive's ``total`` bytes; ``progress`` None: shown only on a terminal."""
    from tqdm.auto import tqdm  # the bar is for the command line; workers scoring blocks never need it

    return tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=desc,
        disable=None if progress is None else not progress,
        smoothing=0.05,
    )


def show_progress(bar: Any, size: int, rows: int, started: float) -> None:
    """Move ``bar`` on by a block of ``size`` bytes, and show the rows scored so far and their rate."""
    bar.update(size)
    rate = rows / (time.perf_counter() - started)
    bar.set_postfix(rows=f"{rows:,}", rate=f"{rate:,.0f} rows/s", refresh=False)


def above_the_bar(line: str) -> None:
    """Print ``line`` on stderr above the progress bar (not in the output, nor through the bar)."""
    from tqdm.auto import tqdm

    tqdm.write(line, file=sys.stderr)


@contextmanager
def _replaced_when_done(target: Path) -> Iterator[IO[str]]:
    """``target`` opened for writing under a temporary name beside it, renamed over it only when complete:
    a run that fails half-way leaves no half file (and never touches a file of that name before)."""
    temporary = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        with open(temporary, "w", encoding="utf-8", newline="") as out:
            yield out
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def _worker_start() -> None:
    """One process per core: native thread pools inside each would only fight over the cores. And the model
    loaded before the fork (its vocabulary, the reader's word sets, the warm cache: ~10^5 objects, none ever
    freed) moved out of the collector's generations, as ``app`` does after loading: a full collection walked
    them all, ~11% of a worker's CPU on the bench's rows (19 µs a row; 2 µs frozen). Its per-piece cache may
    hold ``CACHE_BYTES``."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    gc.freeze()
    _worker["classifier"].model.cache_bytes = CACHE_BYTES
