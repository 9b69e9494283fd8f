"""The identity-attack check on its labelled set: precision and recall, per kind, every miss and false alarm,
and the time it takes on long adversarial texts; with ``--hatexplain``, what it adds on HateXplain's ``val`` split.

    .venv/bin/python bench/attacks.py [--hatexplain [PATH]]

tests/data/attacks.tsv: sentences written for this (label, kind, sentence): attacks on a group without a slur
(dehumanising, exclusion, generalisation) and what is not one (counter-speech, reporting, negation,
questions, neutral statements about a group, the same words of no group). The check reads each sentence as
the committed model reads it (its vocabulary resolves disguised words).

``--hatexplain``: HateXplain's ``val`` posts (../shared/data/hatexplain; its ``test`` split is withheld and never
read), decided as ``/moderate`` decides with the served model and its default thresholds, without and with the
identity-attack check: how many more posts of each class are flagged (review or block). The check was written
on tests/data/attacks.tsv only; this is a measurement, not a set to tune it on.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from testing.support import labelled_sentences  # noqa: E402 (after the path)

DATA = ROOT / "tests" / "data" / "attacks.tsv"
HATEXPLAIN = ROOT.parent / "shared" / "data" / "hatexplain" / "hatexplain_train_val.csv"
# Long texts an adversary may send: many near-matches, a group word and a trigger everywhere, no punctuation.
HOSTILE = {
    "group and cue words, 100 KB": ("muslims are not all vermin people say " * 2800)[:100_000],
    "subjects without a predicate, 100 KB": ("all of the immigrants in our country they are " * 2200)[:100_000],
    "one long word run, 100 KB": ("immigrants " + "a " * 50_000)[:100_000],
    "a match at the very end, 100 KB": "x " * 49_980 + "immigrants are vermin",
}


def load(path: Path = DATA) -> list[tuple[int, str, str]]:
    return labelled_sentences(path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hatexplain", nargs="?", type=Path, const=HATEXPLAIN, default=None, help="its CSV")
    args = parser.parse_args(argv)
    labelled_set()
    if args.hatexplain is not None:
        hatexplain(args.hatexplain)


def labelled_set() -> None:
    from hatespeech.config import DEFAULT_MODEL_PATH
    from hatespeech.core import attacks
    from hatespeech.core.modelfile import load_compiled

    reader = load_compiled(DEFAULT_MODEL_PATH)[0].reader
    rows = load()
    found = [attacks.check(reader, sentence) is not None for _, _, sentence in rows]
    tp = sum(f and label for f, (label, _, _) in zip(found, rows, strict=True))
    fp = sum(f and not label for f, (label, _, _) in zip(found, rows, strict=True))
    fn = sum(not f and label for f, (label, _, _) in zip(found, rows, strict=True))
    print(f"{DATA.relative_to(ROOT)}: {len(rows)} sentences")
    print(f"precision {tp / max(tp + fp, 1):.3f}  recall {tp / max(tp + fn, 1):.3f}  (TP {tp}, FP {fp}, FN {fn})")
    for kind in dict.fromkeys(kind for _, kind, _ in rows):
        hits = [f for f, (_, k, _) in zip(found, rows, strict=True) if k == kind]
        print(f"  {kind:15} flagged {sum(hits):3} of {len(hits)}")
    for f, (label, kind, sentence) in zip(found, rows, strict=True):
        if f != bool(label):
            print(f"  {'missed' if label else 'false alarm'} ({kind}): {sentence}")
    print("\nlong adversarial texts (the check with the served model's reader, best of 3):")
    for name, text in HOSTILE.items():
        best = min(_timed(attacks.check, reader, text) for _ in range(3))
        print(f"  {name}: {best * 1000:.0f} ms")


def hatexplain(path: Path) -> None:
    import hatespeech

    moderator = hatespeech.load()
    with open(path, encoding="utf-8", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == "val" and r["text"].strip()]
    print(f"\nHateXplain val ({len(rows)} posts), served model {moderator.policy.model['sha256'][:12]}, flagged =")
    print("review or block; without the check = the thresholds and the threat check, as before it")
    counts: dict[str, list[int]] = {}
    matched: list[tuple[str, str]] = []
    for r in rows:
        text = r["text"][: moderator.max_text_chars]
        answer = moderator.moderate(text)
        found = answer["categories"].get("identity attack", False)
        _, actions, _ = moderator.policy.decide_many([[answer["scores"][k] for k in answer["scores"]]])
        before = actions[0] != "allow" or answer["categories"].get("threat", False)
        row = counts.setdefault(r["label"], [0, 0, 0, 0])  # posts, flagged before, flagged after, check matched
        row[0] += 1
        row[1] += before
        row[2] += answer["action"] != "allow"
        row[3] += found
        if found and r["label"] == "neither":
            matched.append((r["label"], text))
    print("| class | posts | flagged without the check | with it | more | the check matched |")
    print("|---|---|---|---|---|---|")
    for label, (n, before, after, found) in sorted(counts.items()):
        print(
            f"| {label} | {n} | {before} ({before / n:.1%}) | {after} ({after / n:.1%}) | +{after - before} | {found} |"
        )
    print(f"\nclean (neither) posts the check matched: {len(matched)}")


def _timed(check: object, reader: object, text: str) -> float:
    started = time.perf_counter()
    check(reader, text)  # type: ignore[operator]
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
