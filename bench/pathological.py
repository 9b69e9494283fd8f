"""The tokenizer on crafted texts: every regex on user text must run in linear time (issue 13).

    .venv/bin/python bench/pathological.py [--ref GIT_REVISION]

For each kind of pathological text, the time of ``Reader.tokens`` (the explanation's pass),
``Reader.words`` (the scoring pass), with the committed model's vocabulary, and the threat check,
at 1,000, 10,000 and 100,000 characters, caches cleared before each call; the ratio 100k / 10k is
~10 for linear work and ~100 for quadratic. With ``--ref``, the same at 10,000 characters for the
text module as it was at that revision, side by side (loaded from ``git show``; no vocabulary).
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def texts(n: int) -> dict[str, str]:
    """One text of ``n`` characters of each kind."""
    return {
        "dots": ("a." * n)[: n - 1] + "/",
        "digits": "1" * n,
        "digits and dots": ("1." * n)[:n],
        "symbols": "$" * n,
        "symbols and digits": ("$1@*" * n)[:n],
        "one long word": "a" * n,
        "asterisks": "a" + "*" * (n - 1),
        "hyphens and dots": ("a-." * n)[:n],
        "domains": ("a.com" * n)[:n],
        "accents": "é" * n,
        "emoji": "😀" * n,
        "combining marks": ("a\u0301" * n)[:n],
        "zero-width": ("a\u200b" * n)[:n],
        "spaced letters": ("f " * n)[:n],
        "mixed": ("a.1$*é\u200b😀-" * n)[:n],
        "glued words": ("whitetrash" * n)[:n],
        "glued, apostrophes": ("whitetrash'" * n)[:n],
        "words and mentions": ("bitch@user" * n)[:n],
        "words and links": ("bitchhttp://" * n)[:n],
        "threat words": ("i will kill " * n)[:n],
        "threat gaps": ("i m going to " + "a" * 50 + " ") * (n // 64),
    }


def module_at(revision: str) -> ModuleType:
    """The normaliser as it was at ``revision``: ``hatespeech/text.py`` or core/text.py, and core/reader.py
    where the Reader had moved to it (then the returned module is the reader, reading with that text module)."""
    for path in ("hatespeech/core/text.py", "hatespeech/text.py"):
        shown = subprocess.run(["git", "show", f"{revision}:{path}"], cwd=ROOT, capture_output=True, text=True)
        if shown.returncode == 0:
            break
    else:
        raise SystemExit(f"no text module at {revision}")
    # Named inside hatespeech.core, so that it finds its package's files (confusables.json) as it would there.
    module = load_source("hatespeech.core._text_at_ref", shown.stdout)
    reader = subprocess.run(
        ["git", "show", f"{revision}:hatespeech/core/reader.py"], cwd=ROOT, capture_output=True, text=True
    )
    if reader.returncode != 0:
        return module
    sys.modules[module.__name__] = module  # the old reader's imports of the text module find the old one
    reader_module = load_source(
        "hatespeech.core._reader_at_ref", reader.stdout.replace("hatespeech.core.text", module.__name__)
    )
    reader_module.caches = [v for v in vars(module).values() if hasattr(v, "cache_clear")]
    return reader_module


def load_source(name: str, source: str) -> ModuleType:
    file = Path(tempfile.mkdtemp()) / f"{name.rpartition('.')[2]}.py"
    file.write_text(source)
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def clear(module: ModuleType) -> None:
    for cache in getattr(module, "caches", []):
        cache.clear() if isinstance(cache, dict) else cache.cache_clear()
    for value in vars(module).values():
        if hasattr(value, "cache_clear"):
            value.cache_clear()


def timed(module: ModuleType, text: str) -> tuple[float, float, float]:
    """Seconds for ``tokens``, for ``words`` and for the threat check on ``text``, each from cold caches."""
    clear(module)
    start = time.perf_counter()
    found = module.tokens(text)
    middle = time.perf_counter()
    clear(module)
    module.words(text)
    words = time.perf_counter()
    if hasattr(module, "Reader"):
        from hatespeech.core import threats

        threats.find(found, text)
    return middle - start, words - middle, time.perf_counter() - words


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", help="also time hatespeech's text module at this git revision (10k only)")
    args = parser.parse_args()
    from hatespeech.config import DEFAULT_MODEL_PATH
    from hatespeech.core import text
    from hatespeech.core.modelfile import load_compiled
    from hatespeech.core.reader import Reader

    reader = load_compiled(DEFAULT_MODEL_PATH)[0].reader  # the served reading: with the model's vocabulary
    current = ModuleType("served")
    current.tokens, current.words, current.Reader = reader.tokens, reader.words, Reader
    current.caches = [reader._cache, *(v for v in vars(text).values() if hasattr(v, "cache_clear"))]

    old = module_at(args.ref) if args.ref else None
    head = "| text | tokens 1k ms | 10k ms | 100k ms | 100k/10k | words 10k ms | threats 10k ms |"
    print(head + (f" tokens 10k ms at {args.ref} | words 10k ms at {args.ref} |" if old else ""))
    print("|---" * (head.count("|") - 1 + (2 if old else 0)) + "|")
    print_rows(current, old)


def print_rows(current: ModuleType, old: ModuleType | None) -> None:
    worst = 0.0
    for kind in texts(10):
        cells = [timed(current, texts(n)[kind]) for n in (1_000, 10_000, 100_000)]
        worst = max(worst, cells[1][0], cells[1][1], cells[1][2])
        row = f"| {kind} | {cells[0][0] * 1e3:.1f} | {cells[1][0] * 1e3:.1f} | {cells[2][0] * 1e3:.0f} "
        row += f"| {cells[2][0] / max(cells[1][0], 1e-9):.0f} | {cells[1][1] * 1e3:.1f} | {cells[1][2] * 1e3:.1f} |"
        if old:
            before = timed(old, texts(10_000)[kind])
            row += f" {before[0] * 1e3:.0f} | {before[1] * 1e3:.0f} |"
        print(row)
    print(f"\nworst 10,000-character text (one of tokens, words, threat check): {worst * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
