"""The threat check on its labelled set: precision and recall, and every miss and false alarm.

    .venv/bin/python bench/threats.py

tests/data/threats.tsv: sentences written for this (label, kind, sentence): threats, and
near-misses (a violent word or an idiom that is not a threat). The check reads each sentence as
the committed model reads it (its vocabulary resolves disguised words).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from testing.support import labelled_sentences  # noqa: E402 (after the path)

DATA = ROOT / "tests" / "data" / "threats.tsv"
HELD_OUT = ROOT / "tests" / "data" / "threats_heldout.tsv"


def load(path: Path = DATA) -> list[tuple[int, str, str]]:
    return labelled_sentences(path)


def main() -> None:
    from hatespeech.config import DEFAULT_MODEL_PATH
    from hatespeech.core import threats
    from hatespeech.core.modelfile import load_compiled

    reader = load_compiled(DEFAULT_MODEL_PATH)[0].reader
    for path in (DATA, HELD_OUT):
        print(f"\n{path.relative_to(ROOT)}")
        report(threats, reader, load(path))


def report(threats: object, reader: object, rows: list[tuple[int, str, str]]) -> None:
    found = [threats.check(reader, sentence) is not None for _, _, sentence in rows]
    tp = sum(f and label for f, (label, _, _) in zip(found, rows, strict=True))
    fp = sum(f and not label for f, (label, _, _) in zip(found, rows, strict=True))
    fn = sum(not f and label for f, (label, _, _) in zip(found, rows, strict=True))
    kinds = {kind for _, kind, _ in rows}
    print(
        f"{len(rows)} sentences: " + ", ".join(f"{sum(k == kind for _, k, _ in rows)} {kind}" for kind in sorted(kinds))
    )
    print(f"precision {tp / max(tp + fp, 1):.3f}  recall {tp / max(tp + fn, 1):.3f}  (TP {tp}, FP {fp}, FN {fn})")
    near = [f for f, (_, kind, _) in zip(found, rows, strict=True) if kind == "near-miss"]
    print(f"near-misses flagged: {sum(near)} of {len(near)}")
    for f, (label, kind, sentence) in zip(found, rows, strict=True):
        if f != bool(label):
            print(f"  {'missed' if label else 'false alarm'} ({kind}): {sentence}")


if __name__ == "__main__":
    main()
