"""What runs on a Dask worker: one task scores one byte range of the archive (``score_range``).

A task reads its range itself from the archive's path or URL (fsspec), scores it in chunks as the
local scorer does (``score.score_block``: the same parsing, skip rules, formatting and decision),
and writes ``part-NNNNNN.csv|jsonl`` into the TARGET folder, answering only counts; or, for a
single output file, answers the scored text. Dask pickles ``score_range``, ``Job`` and
``BlockResult`` by their module's name: the workers import this module from the shipped code.
"""

from __future__ import annotations

import io
import os
import socket
import uuid
from dataclasses import dataclass
from typing import Any

from hatespeech.archive.blocks import ArchiveError, row_blocks
from hatespeech.archive.score import Counts, Format, score_block
from hatespeech.archive.shipping import loaded_model

PART = "part-{:06d}"


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
    """One task's answer: its rows' counts, and the scored text if asked."""

    counts: Counts
    text: bytes | None = None


def score_range(payload: dict[str, Any], job: Job, index: int, offset: int, length: int) -> BlockResult:
    """Score the ``length`` bytes at ``offset`` of the archive (whole rows); write part ``index`` or answer the text."""
    import fsspec

    classifier, policy, languages = loaded_model(payload)
    fs, path = fsspec.core.url_to_fs(job.source, **job.storage_options)
    try:
        data = fs.cat_file(path, start=offset, end=offset + length)
    except FileNotFoundError:
        raise ArchiveError(_unseen(job.source)) from None
    if len(data) != length:
        raise ArchiveError(f"{job.source} changed while it was being scored (byte {offset:,}: {len(data)} of {length})")
    out = io.BytesIO()
    counts = Counts()
    for chunk in row_blocks(io.BytesIO(data), job.spec.kind, job.chunk_bytes):
        text, chunk_counts = score_block(job.spec, chunk, classifier, policy, languages)
        out.write(text.encode("utf-8"))
        counts.add(chunk_counts)
    if not job.target:
        return BlockResult(counts, out.getvalue())
    _write_part(job, index, job.header + out.getvalue())
    return BlockResult(counts)


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
