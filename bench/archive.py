"""Archive scorer throughput against the batch path's per-core rate (the aim: ≥ 80% of rate × cores).

    .venv/bin/python bench/archive.py                      # 1M rows in /tmp, every core
    .venv/bin/python bench/archive.py --rows 100000 --workers 2
    .venv/bin/python bench/archive.py --rows 200000 --ref main --rounds 3   # this checkout vs main, alternating

1. Makes ``--rows`` rows (CSV) under /tmp by repeating the Davidson et al. tweets, each copy
   perturbed (a counter word, case, a repeated letter) so that caches see mostly new texts.
   The file stays out of the repository.
2. Measures the batch path on one core: ``Classifier.probabilities`` on chunks of 2,500 rows
   (about what one block of the archive scorer holds), over an even sample of those rows.
3. Runs ``score_archive.py`` on the whole file and compares rows/s with rate × workers.
   With ``--ref REV``, runs it ``--rounds`` times from this checkout and from REV (a temporary git
   worktree) alternately on the same file, and reports each one's rows/s side by side.
4. Checks this checkout's scored rows against ``/moderate``: ``--check`` rows spread over the output
   (default 3,000) are sent to ``app.moderate`` in a fresh process; label, action, threat flag and the
   six-digit scores must be the same, row for row (the run fails otherwise).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hatespeech.archive.score import SCORE_COLUMNS  # noqa: E402
from hatespeech.config import DEFAULT_MODEL_PATH  # noqa: E402
from hatespeech.core.classifier import Classifier  # noqa: E402
from hatespeech.core.labels import LABELS  # noqa: E402

# Where the Davidson et al. CSV is: beside the checkout (CI), beside a worktree's parent, or in data/.
PLACES = [ROOT.parent / "shared", ROOT.parent.parent / "shared"]
DATA = next(
    (p / "data" / "davidson" / "labeled_data.csv" for p in PLACES if (p / "data" / "davidson").is_dir()),
    ROOT / "data" / "labeled_data.csv",
)


def make_rows(path: Path, rows: int, seed: int = 42) -> None:
    with open(DATA, encoding="utf-8", newline="") as f:
        tweets = [row["tweet"] for row in csv.DictReader(f)]
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "text"])
        for i in range(rows):
            text = tweets[i % len(tweets)]
            copy = i // len(tweets)
            if copy:  # the first pass is the data as is; later passes are perturbed
                words = text.split()
                words.insert(rng.randrange(len(words) + 1), f"w{copy}x{rng.randrange(1000)}")
                text = " ".join(words)
                if rng.random() < 0.3:
                    text = text.upper()
                if rng.random() < 0.3:
                    text += " sooo" + "o" * rng.randrange(5)
            writer.writerow([i, text])


def per_core_rate(path: Path, rows: int, sample: int = 20_000, chunk: int = 2500) -> float:
    """``Classifier.probabilities`` on chunks of ``chunk`` rows, every (rows / sample)-th row of the file
    (the same mix of original and perturbed tweets the scorer sees), one process, after as many
    other rows of the file."""
    classifier = Classifier.load(DEFAULT_MODEL_PATH)
    step = max(1, rows // sample)
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        sampled = [(i % step, row[1]) for i, row in enumerate(reader) if i % step in (0, step // 2)]
    texts = [t for k, t in sampled if k == 0]
    # Warm the caches on other rows first, as the scorer's workers are warm for most of a long run.
    classifier.probabilities([t for k, t in sampled if k != 0] or texts[:chunk])
    started = time.perf_counter()
    for i in range(0, len(texts), chunk):
        classifier.probabilities(texts[i : i + chunk])
    return len(texts) / (time.perf_counter() - started)


# Run in a fresh process of the checkout: /moderate's answer for each text (nothing recorded).
MODERATE = (
    "import json, sys, app; print(json.dumps([app.moderate(text=t, record=False) for t in json.load(sys.stdin)]))"
)


def check_against_moderate(where: Path, scored: Path, sample: int) -> None:
    """Exit with the differences unless ``sample`` scored rows spread over ``scored`` are what ``/moderate`` says."""
    with open(scored, encoding="utf-8", newline="") as f:
        rows = [row for row in csv.DictReader(f) if row["label"]]
    picked = rows[:: max(1, len(rows) // sample)][:sample]
    env = {**os.environ, "PYTHONPATH": str(where), "LOG_LEVEL": "warning"}
    env.pop("FIREFLY_TOKEN", None)
    done = subprocess.run(
        [sys.executable, "-c", MODERATE],
        input=json.dumps([row["text"] for row in picked]),
        cwd=where,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    answers = json.loads(done.stdout.strip().splitlines()[-1])
    differ = []
    for row, answer in zip(picked, answers, strict=True):
        scores = [f"{answer['scores'][label]:.6g}" for label in LABELS]
        threat = "1" if answer["categories"].get("threat") else "0"
        mine = ([row[c] for c in SCORE_COLUMNS], row["label"], row["action"], row["threat"])
        if mine != (scores, answer["label"], answer["action"], threat):
            differ.append((row["id"], mine, (scores, answer["label"], answer["action"], threat)))
    if differ:
        sys.exit(f"{len(differ)} of {len(picked)} rows differ from /moderate, e.g. {differ[:3]}")
    print(f"rows identical to /moderate: {len(picked):,} of {len(picked):,} checked (label, action, threat, scores)")


def run_scorer(where: Path, path: Path, workers: int, check: int = 0) -> tuple[int, float, str, float]:
    """``score_archive.py`` of the checkout at ``where`` on ``path``: rows written, wall seconds, its summary, and
    the CPU seconds it and its workers used (less sensitive than wall time to other jobs on the machine)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = path.with_suffix(".scored.csv")
    command = [sys.executable, str(where / "score_archive.py"), str(path), str(out), "--no-progress"]
    command += ["--workers", str(workers)]
    print("$ " + " ".join(command), flush=True)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=where, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{command} failed:\n{done.stderr}")
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    with open(out, encoding="utf-8", newline="") as f:
        rows = sum(1 for _ in csv.reader(f)) - 1
    if check:
        check_against_moderate(where, out, check)
    out.unlink()
    return rows, seconds, done.stdout + done.stderr, cpu


def side_by_side(path: Path, workers: int, ref: str, rounds: int, check: int = 0) -> None:
    """rows/s of this checkout's scorer and of git revision ``ref``'s, alternating runs on the same file."""
    folder = Path(tempfile.mkdtemp(prefix="archive-ref-"))
    subprocess.run(["git", "worktree", "add", "--detach", str(folder), ref], cwd=ROOT, check=True, capture_output=True)
    rates: dict[str, list[float]] = {"this checkout": [], ref: []}
    cpu: dict[str, list[float]] = {"this checkout": [], ref: []}  # CPU µs per row, model load included
    try:
        for _ in range(rounds):
            for name, where in (("this checkout", ROOT), (ref, folder)):
                rows, seconds, summary, used = run_scorer(where, path, workers, check if where == ROOT else 0)
                print(summary, flush=True)
                rates[name].append(rows / seconds)
                cpu[name].append(used / rows * 1e6)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(folder)], cwd=ROOT, check=False)
    print(f"\n{path.name}, {workers} workers, {rounds} alternating runs each (wall time, model load included)\n")
    print("| checkout | rows/s, wall (median) | runs | CPU µs per row (median) | runs |")
    print("|---|---:|---|---:|---|")
    for name, found in rates.items():
        each, used = ", ".join(f"{r:,.0f}" for r in found), ", ".join(f"{u:.1f}" for u in cpu[name])
        print(f"| {name} | {statistics.median(found):,.0f} | {each} | {statistics.median(cpu[name]):.1f} | {used} |")
    ratio = statistics.median(rates["this checkout"]) / statistics.median(rates[ref])
    cost = statistics.median(cpu["this checkout"]) / statistics.median(cpu[ref])
    print(f"\nthis checkout / {ref}: rows/s {ratio:.1%}; CPU per row {cost:.1%}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--file", type=Path, help="default: /tmp/hatespeech-archive-bench-ROWS.csv")
    parser.add_argument("--ref", help="also run the scorer of this git revision, alternating, and compare rows/s")
    parser.add_argument("--rounds", type=int, default=3, help="with --ref: runs of each checkout (default 3)")
    parser.add_argument("--check", type=int, default=3000, help="rows checked against /moderate (0: none)")
    args = parser.parse_args()

    args.file = args.file or Path(f"/tmp/hatespeech-archive-bench-{args.rows}.csv")
    if not args.file.exists():
        print(f"making {args.rows:,} rows in {args.file}", flush=True)
        make_rows(args.file, args.rows)
    if args.ref:
        side_by_side(args.file, args.workers, args.ref, args.rounds, args.check)
        return 0
    rate = per_core_rate(args.file, args.rows)
    print(f"batch path, one core: {rate:,.0f} rows/s", flush=True)

    rows, seconds, summary, _ = run_scorer(ROOT, args.file, args.workers, args.check)
    print(summary, flush=True)
    achieved = rows / seconds
    print(
        f"archive: {rows:,} rows in {seconds:.1f} s = {achieved:,.0f} rows/s with {args.workers} workers; "
        f"target 80% × {rate:,.0f} × {args.workers} = {0.8 * rate * args.workers:,.0f} rows/s "
        f"→ {achieved / (rate * args.workers):.0%} of rate × workers (wall time, model load included)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
