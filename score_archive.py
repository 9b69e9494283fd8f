"""Score an archive of posts (CSV or JSON Lines) with the served model, on every core.

    python score_archive.py posts.csv scored.csv
    python score_archive.py posts.jsonl scored.jsonl --column body --workers 4

Writes the same rows with the scores, label and action added (see hatespeech/archive/score.py), shows
a progress bar on a terminal, and prints a summary: rows, flagged per class, rows skipped and why.
Thresholds come from the model card, or ``THRESHOLDS`` as for the server.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hatespeech import config
from hatespeech.archive.score import CHUNK_BYTES, ArchiveError, score_archive
from hatespeech.config import ConfigError
from hatespeech.core.modelfile import ModelError
from hatespeech.core.policy import PolicyError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Add p_hate_speech, p_offensive_language, p_neither, label and action to every row of a "
        "CSV or JSON Lines file. Rows with an empty or missing text are kept, marked in `skipped`, and counted."
    )
    parser.add_argument("source", type=Path, help="the archive: .csv (with a header row) or .jsonl")
    parser.add_argument("target", type=Path, help="where to write the scored rows (same format)")
    parser.add_argument("--format", choices=["csv", "jsonl"], help="the format, if the file name does not say")
    parser.add_argument(
        "--column", help="the CSV column or JSON key holding the text (default: text; tweet for Davidson et al.'s CSV)"
    )
    parser.add_argument("--workers", type=int, help="processes to score with (default: every core)")
    parser.add_argument("--chunk-bytes", type=int, default=CHUNK_BYTES, help="bytes per task (default: %(default)s)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar, even on a terminal")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        summary = score_archive(
            args.source,
            args.target,
            fmt=args.format,
            column=args.column,
            workers=args.workers,
            chunk_bytes=args.chunk_bytes,
            settings=config.settings(),
            progress=False if args.no_progress else None,
        )
    except (ArchiveError, ConfigError, ModelError, PolicyError, OSError, UnicodeDecodeError) as err:
        print(f"score_archive: {err}", file=sys.stderr)
        return 2
    print(summary, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
