"""Score an archive of posts (CSV or JSON Lines) with the served model, on every core or on a Dask cluster.

    python score_archive.py posts.csv scored.csv
    python score_archive.py posts.jsonl scored.jsonl --column body --workers 4
    python score_archive.py s3://bucket/posts.csv s3://bucket/scored --scheduler tcp://10.0.0.5:8786

Writes the same rows with the scores, label, action and threat added (see hatespeech/archive/), shows a
progress bar on a terminal, and prints a summary: rows, flagged per class, rows skipped and why.
The model, thresholds and text limit come from ``MODEL_PATH``, ``THRESHOLDS`` and
``MAX_TEXT_CHARS``, as for the server. With ``--scheduler``, TARGET is a folder of part files
plus ``_SUMMARY.json`` (or, with ``--single-file``, one file exactly as a local run writes it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hatespeech import config
from hatespeech.archive.blocks import ArchiveError
from hatespeech.archive.cluster import score_on_cluster
from hatespeech.archive.score import CHUNK_BYTES, score_archive
from hatespeech.config import ConfigError
from hatespeech.core.modelfile import ModelError
from hatespeech.core.policy import PolicyError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Add p_hate_speech, p_offensive_language, p_neither, label, action (as /moderate's, a threat "
        "at least review) and threat to every row of a CSV or JSON Lines file. Rows with an empty or missing text "
        "are kept, marked in `skipped`, and counted."
    )
    parser.add_argument("source", help="the archive: .csv (with a header row) or .jsonl; a URL with --scheduler")
    parser.add_argument("target", help="where to write the scored rows (same format); a folder with --scheduler")
    parser.add_argument("--format", choices=["csv", "jsonl"], help="the format, if the file name does not say")
    parser.add_argument(
        "--column", help="the CSV column or JSON key holding the text (default: text; tweet for Davidson et al.'s CSV)"
    )
    parser.add_argument(
        "--workers", type=int, help="processes to score with (default: every core; with --scheduler local: workers)"
    )
    parser.add_argument("--chunk-bytes", type=int, default=CHUNK_BYTES, help="bytes per batch (default: %(default)s)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar, even on a terminal")
    parser.add_argument("--overwrite", action="store_true", help="replace TARGET if it exists (else: refused)")
    cluster = parser.add_argument_group("on a Dask cluster")
    cluster.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="score on the Dask cluster at ADDRESS (tcp://host:8786), or `local` for one on this machine",
    )
    cluster.add_argument(
        "--single-file", action="store_true", help="TARGET is one file in input order, as a local run writes it"
    )
    cluster.add_argument(
        "--block-bytes",
        type=int,
        help="bytes of the archive per task (default: its size / (16 × worker threads), from 1 to 64 MiB)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    progress = False if args.no_progress else None
    try:
        # What both kinds of run take alike.
        shared = {
            "fmt": args.format,
            "column": args.column,
            "workers": args.workers,
            "chunk_bytes": args.chunk_bytes,
            "settings": config.settings(),
            "progress": progress,
            "overwrite": args.overwrite,
        }
        if args.scheduler:
            summary = score_on_cluster(
                args.source,
                args.target,
                scheduler=args.scheduler,
                single_file=args.single_file,
                block_bytes=args.block_bytes,
                **shared,
            )
        else:
            if args.single_file or "://" in args.source + args.target:
                raise ArchiveError("--single-file and URLs are for a cluster run: add --scheduler")
            summary = score_archive(Path(args.source), Path(args.target), **shared)
    except (ArchiveError, ConfigError, ModelError, PolicyError, OSError, UnicodeDecodeError) as err:
        print(f"score_archive: {err}", file=sys.stderr)
        return 2
    print(summary, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
