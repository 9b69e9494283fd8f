"""Language identification: accuracy on the shared corpora and on short sentences, speed, memory (issue 27).

    .venv/bin/python bench/languages.py                       # ours (hatespeech.core.language.identify)
    /tmp/langvenv/bin/python bench/languages.py --libraries ours,py3langid,langid,lingua,pycld2,langdetect

Each library runs in its own process (``--one``), so that its import time and resident memory are its
own. The corpora's posts of 20 characters or more (up to ``--per-language`` of each, drawn with a fixed
seed): German (GermEval 2018), Portuguese (ToLD-Br), Korean (BEEP!), French and Arabic (MLMA), English
(Davidson and HateXplain); the short sentences are ``tests/data/languages/*.txt`` (ours, written for this).
"ours" is the language the service names (the answer's ``language``: ``und`` for a short or disguised post
it cannot name, a miss); below the tables, for "ours", the share of each source judged as English
(``judged_as``) and judged by the English model at all (``judged_as`` or ``also``: the safety rules).
``--per-language 0`` takes every post of 20 characters or more (the fair figure: the word lists were
extended after reading misses in the 2,000-post samples).

Prints Markdown tables: accuracy per language and source, then per library the time per text (p50 of
single calls over every text), import-and-load time and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
SENTENCES = ROOT / "tests" / "data" / "languages"
MIN_CHARS = 20
SEED = 27


def _column(path: Path, column: str, delimiter: str = ",") -> list[str]:
    with open(path, newline="", encoding="utf-8") as f:
        return [row[column] for row in csv.DictReader(f, delimiter=delimiter)]


def _germeval() -> list[str]:
    texts = []
    for name in ("germeval2018.training.txt", "germeval2018.test.txt"):
        with open(DATA / "germeval2018" / name, encoding="utf-8") as f:
            texts += [line.split("\t")[0].replace("|LBR|", " ") for line in f if line.strip()]
    return texts


CORPORA: dict[str, tuple[str, Callable[[], list[str]]]] = {
    "GermEval 2018": ("de", _germeval),
    "ToLD-Br": ("pt", lambda: _column(DATA / "told-br" / "ToLD-BR.csv", "text")),
    "BEEP!": ("ko", lambda: _column(DATA / "beep-korean" / "train.tsv", "comments", "\t")),
    "MLMA fr": ("fr", lambda: _column(DATA / "mlma" / "fr_dataset.csv", "tweet")),
    "MLMA ar": ("ar", lambda: _column(DATA / "mlma" / "ar_dataset.csv", "tweet")),
    "Davidson": ("en", lambda: _column(DATA / "davidson" / "labeled_data.csv", "tweet")),
    "HateXplain": ("en", lambda: _column(DATA / "hatexplain" / "hatexplain_train_val.csv", "text")),
}


def samples(per_language: int) -> dict[str, tuple[str, list[str]]]:
    """Per source: its language and up to ``per_language`` posts of ``MIN_CHARS`` or more; then the sentences."""
    found: dict[str, tuple[str, list[str]]] = {}
    for name, (language, read) in CORPORA.items():
        try:
            texts = [t for t in read() if len(t.strip()) >= MIN_CHARS]
        except OSError:
            continue  # the research data is not on this machine
        random.Random(SEED).shuffle(texts)
        found[name] = (language, texts[:per_language] if per_language else texts)
    for path in sorted(SENTENCES.glob("*.txt")):
        found[f"sentences {path.stem}"] = (path.stem, [s for s in path.read_text("utf-8").splitlines() if s.strip()])
    return found


def _macro(code: str) -> str:
    """ISO 639-1 macrolanguage of a library's code (zh-Hant, zh-cn → zh; arz, ary → ar)."""
    code = code.lower().replace("_", "-").split("-")[0]
    return {"arz": "ar", "ary": "ar", "apc": "ar", "ajp": "ar", "cmn": "zh", "yue": "zh", "wuu": "zh"}.get(code, code)


def library(name: str) -> Callable[[str], str]:
    """A function text → language code for ``name``, with its model loaded."""
    if name == "ours":
        from hatespeech.core.language import identify

        identify("Grüße aus Köln, wie geht es euch heute?")  # not ASCII: loads the model
        return lambda t: identify(t).code
    if name == "py3langid":
        import py3langid

        py3langid.classify("warm up")
        return lambda t: _macro(py3langid.classify(t)[0])
    if name == "langid":
        import langid

        langid.classify("warm up")
        return lambda t: _macro(langid.classify(t)[0])
    if name == "lingua":
        from lingua import LanguageDetectorBuilder

        detector = LanguageDetectorBuilder.from_all_languages().with_preloaded_language_models().build()

        def lingua(t: str) -> str:
            found = detector.detect_language_of(t)
            return "und" if found is None else found.iso_code_639_1.name.lower()

        return lingua
    if name == "pycld2":
        import pycld2

        def cld2(t: str) -> str:
            try:
                return _macro(pycld2.detect(t)[2][0][1])
            except pycld2.error:
                return "und"

        return cld2
    if name == "langdetect":
        from langdetect import DetectorFactory, detect
        from langdetect.lang_detect_exception import LangDetectException

        DetectorFactory.seed = 0

        def langdetect(t: str) -> str:
            try:
                return _macro(detect(t))
            except LangDetectException:
                return "und"

        return langdetect
    raise SystemExit(f"unknown library {name}")


def _why(text: str) -> str:
    """Why ours missed: its reason, and the code it named (``unsure pt``: Portuguese, but not sure enough)."""
    from hatespeech.core.language import identify

    found = identify(text)
    return found.reason if found.reason in ("plain ASCII", "short", "disguised") else f"{found.reason} {found.code}"


def _english_judges(text: str) -> tuple[bool, bool]:
    """Ours: judged as English (``judged_as``), and judged by the English model at all (or in ``also``)."""
    from hatespeech.core.language import identify

    found = identify(text)
    return found.judged_as == "en", found.judged_as == "en" or "en" in found.also


def run_one(name: str, per_language: int) -> dict:
    started = time.perf_counter()
    identify = library(name)
    load = time.perf_counter() - started
    result: dict = {"library": name, "load_seconds": load, "sources": {}}
    times: list[float] = []
    for source, (language, texts) in samples(per_language).items():
        right = judged_en = english_model = 0
        missed: Counter[str] = Counter()
        for text in texts:
            t0 = time.perf_counter_ns()
            got = identify(text)
            times.append(time.perf_counter_ns() - t0)
            right += got == language
            if name == "ours":
                as_english, by_english = _english_judges(text)
                judged_en += as_english
                english_model += by_english
                if got != language:
                    missed[_why(text)] += 1
        result["sources"][source] = {
            "language": language,
            "right": right,
            "texts": len(texts),
            "missed": missed,
            "judged_en": judged_en,
            "english_model": english_model,
        }
    result["p50_us"] = statistics.median(times) / 1000 if times else 0.0
    result["mean_us"] = statistics.fmean(times) / 1000 if times else 0.0
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def english_cost(n: int, rounds: int = 5) -> None:
    """``app.predict`` p50 on English tweets alone and after ``identify``, text by text in one process
    (every piece cached by a first pass over the texts: the steady state of a worker)."""
    import app
    from hatespeech.core.language import identify

    texts = _column(DATA / "davidson" / "labeled_data.csv", "tweet")
    random.Random(SEED).shuffle(texts)
    texts = texts[:n]
    for t in texts:
        app.predict(text=t)
        identify(t)

    def predict(t: str) -> object:
        return app.predict(text=t)

    def both(t: str) -> object:
        identify(t)
        return app.predict(text=t)

    alone: list[int] = []
    with_id: list[int] = []
    only_id: list[int] = []
    clock = time.perf_counter_ns
    order = random.Random(SEED)
    # Text by text, the calls in a random order: the machine's load drifts alike for each, and the one
    # called first on a text finds the CPU's caches colder (a fixed order made the second one 30% faster).
    for _ in range(rounds):
        for t in texts:
            calls = [(predict, alone), (both, with_id), (identify, only_id)]
            order.shuffle(calls)
            for call, times in calls:
                a = clock()
                call(t)
                times.append(clock() - a)
    p50 = statistics.median(alone) / 1000, statistics.median(with_id) / 1000, statistics.median(only_id) / 1000
    common = sum(identify(t).reason == "plain ASCII" for t in texts) / len(texts)
    print(
        f"\nEnglish tweets (Davidson, {n} texts × {rounds} rounds): app.predict p50 {p50[0]:.1f} µs; identify + "
        f"app.predict {p50[1]:.1f} µs ({p50[1] / p50[0]:.3f}×); identify alone {p50[2]:.1f} µs; "
        f"plain-ASCII shortcut {common:.0%}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--libraries", default="ours", help="comma-separated: ours, py3langid, langid, lingua, ...")
    parser.add_argument(
        "--per-language", type=int, default=2000, help="posts drawn per corpus, 0: all (default %(default)s)"
    )
    parser.add_argument("--english-cost", type=int, metavar="N", help="only time identify + app.predict on N tweets")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # run one library in this process, print JSON
    args = parser.parse_args()
    if args.english_cost:
        english_cost(args.english_cost)
        return
    if args.one:
        print(json.dumps(run_one(args.one, args.per_language)))
        return
    results = []
    for name in args.libraries.split(","):
        out = subprocess.run(
            [sys.executable, __file__, "--one", name, "--per-language", str(args.per_language)],
            capture_output=True,
            text=True,
        )
        if out.returncode:
            print(f"{name}: failed: {out.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
            continue
        results.append(json.loads(out.stdout))
    if not results:
        return
    print("| source | language | texts | " + " | ".join(r["library"] for r in results) + " |")
    print("|---|---|---|" + "---|" * len(results))
    for source, first in results[0]["sources"].items():
        cells = [f"{r['sources'][source]['right'] / max(r['sources'][source]['texts'], 1):.1%}" for r in results]
        print(f"| {source} | {first['language']} | {first['texts']} | " + " | ".join(cells) + " |")
    ours = next((r for r in results if r["library"] == "ours"), None)
    if ours is not None:
        print("\nours, the misses by reason (short, plain ASCII, unsure: the safety rules' English):\n")
        for source, found in ours["sources"].items():
            if found["missed"]:
                reasons = ", ".join(f"{why} {n}" for why, n in Counter(found["missed"]).most_common(6))
                print(f"- {source}: {found['texts'] - found['right']} missed: {reasons}")
        print("\nours, judged as English (judged_as) / by the English model at all (judged_as or also):\n")
        for source, found in ours["sources"].items():
            if not source.startswith("sentences"):
                n = max(found["texts"], 1)
                print(f"- {source}: {found['judged_en'] / n:.2%} / {found['english_model'] / n:.2%}")
    print("\n| library | p50 µs/text | mean µs/text | import + load s | peak RSS MB |")
    print("|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['library']} | {r['p50_us']:.0f} | {r['mean_us']:.0f} | {r['load_seconds']:.2f} | "
            f"{r['peak_rss_mb']:.0f} |"
        )


if __name__ == "__main__":
    main()
