"""Disguised abuse: does the service still see it? And do clean texts stay clean? (issue 14)

    .venv/bin/python bench/evasion.py [--posts 300] [--ref 715c60b]

For abusive posts of the Davidson et al. data (hate speech or offensive language, as labelled,
that the service does not allow), the word carrying the post's score (the one-word span with the
largest contribution to the post's class in the service's own explanation, ``/moderate`` with
``explain``) is disguised in each way below, one way at a time. Per disguise: the share of posts
whose action (review / block) is kept, and the abusive probability retained: mean P(class) of the
disguised posts over mean P(class) of the originals (hate speech posts: P(hate speech); offensive
posts: P(offensive) + P(hate), the offensive severity score).

Clean posts (labelled neither, allowed), disguised the same way (their top word toward "offensive"):
how many more get flagged. And the ordinary sentences of tests/data/ordinary.tsv: the share allowed.

Everything goes through ``app.moderate`` (the served path). With ``--ref``, the same run is made
for the code and committed model of that git revision (a temporary worktree, in a subprocess), and
printed side by side. Posts are sampled with a fixed seed.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
# ../shared beside the checkout (a worktree may sit deeper: look up the tree), else data/ in it
DATA = next(
    (p / "shared/data/davidson/labeled_data.csv" for p in HERE.parents if (p / "shared/data/davidson").is_dir()),
    HERE / "data" / "labeled_data.csv",
)
ORDINARY = HERE / "tests" / "data" / "ordinary.tsv"
LABELS = ("hate speech", "offensive language", "neither")

_CYRILLIC = str.maketrans("aceopxyiABCEHKMOPTX", "асеорхуіАВСЕНКМОРТХ")
_LEET = str.maketrans("aeiost", "4310$7")


def _inside(word: str, char: str) -> str:
    """``char`` inserted after the first letter."""
    return word[0] + char + word[1:]


def _vowel(word: str, replace: Callable[[str], str]) -> str:
    """The first vowel after the first letter replaced (or the second letter if none)."""
    for i, c in enumerate(word[1:], 1):
        if c.lower() in "aeiou":
            return word[:i] + replace(c) + word[i + 1 :]
    return word[0] + replace(word[1]) + word[2:] if len(word) > 1 else word


def _fullwidth(word: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in word)


def _bold(word: str) -> str:
    out = []
    for c in word:
        if "a" <= c <= "z":
            out.append(chr(0x1D41A + ord(c) - ord("a")))
        elif "A" <= c <= "Z":
            out.append(chr(0x1D400 + ord(c) - ord("A")))
        else:
            out.append(c)
    return "".join(out)


DISGUISES: dict[str, Callable[[str], str]] = {
    "asterisk for a vowel (f*ck)": lambda w: _vowel(w, lambda c: "*"),
    "symbol for a letter (b!tch, n@gger)": lambda w: _vowel(w, lambda c: {"a": "@", "i": "!", "o": "0"}.get(c, "*")),
    "letters repeated (fuuuuck)": lambda w: _vowel(w, lambda c: c * 5),
    "hyphens (f-u-c-k)": lambda w: "-".join(w),
    "spaced (f u c k)": lambda w: " ".join(w),
    "dotted (f.u.c.k)": lambda w: ".".join(w),
    "zero-width space inside": lambda w: _inside(w, "\u200b"),
    "zero-width joiner inside": lambda w: _inside(w, "\u200d"),
    "soft hyphen inside": lambda w: _inside(w, "\u00ad"),
    "one Cyrillic look-alike": lambda w: _vowel(w, lambda c: c.translate(_CYRILLIC)),
    "all Cyrillic look-alikes": lambda w: w.translate(_CYRILLIC),
    "fullwidth letters": _fullwidth,
    "mathematical bold letters": _bold,
    "combining marks": lambda w: "".join(c + "\u0301" for c in w),
    "v for u (pvssy)": lambda w: w.replace("u", "v").replace("U", "V"),
    "digit leetspeak (sh1t)": lambda w: w[0] + w[1:].translate(_LEET),
    "upper case": str.upper,
    "hashtag": lambda w: "#" + w,
    "glued to the next word": lambda w: w + "\x00GLUE",  # resolved in ``disguise``
}


def disguise(text: str, start: int, end: int, how: Callable[[str], str]) -> str:
    word = how(text[start:end])
    if word.endswith("\x00GLUE"):  # the word and the next word without the space between
        word = word[: -len("\x00GLUE")]
        rest = text[end:]
        return text[:start] + word + (rest.lstrip(" ") if rest.startswith(" ") else rest)
    return text[:start] + word + text[end:]


def load_posts(n: int, seed: int) -> dict[str, list[str]]:
    by_class: dict[str, list[str]] = {label: [] for label in LABELS}
    with DATA.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            by_class[LABELS[int(row["class"])]].append(row["tweet"])
    rng = random.Random(seed)
    return {label: rng.sample(texts, min(n, len(texts))) for label, texts in by_class.items()}


def severity(scores: dict[str, float], label: str) -> float:
    if label == "hate speech":
        return scores["hate speech"]
    return scores["hate speech"] + scores["offensive language"]


def top_word(answer: dict, text: str, label: str) -> tuple[int, int] | None:
    """The one-word span with the largest contribution toward ``label``."""
    best = None
    for span in answer["explanation"]["spans"]:
        if span["class"] != label or span["contribution"] <= 0:
            continue
        word = text[span["start"] : span["end"]]
        if len(word) < 3 or any(c.isspace() for c in word) or not any(c.isalpha() for c in word):
            continue
        if best is None or span["contribution"] > best[0]:
            best = (span["contribution"], span["start"], span["end"])
    return None if best is None else (best[1], best[2])


def measure(posts: int, seed: int) -> dict:
    os.environ.pop("ALERT_WEBHOOK_URL", None)
    import app

    def moderate(text: str, explain: bool = False) -> dict:
        return app.moderate(text=text, explain=explain)

    sample = load_posts(posts, seed)
    result: dict = {"abusive": {}, "clean": {}}
    for label in ("hate speech", "offensive language"):
        chosen = []
        for text in sample[label]:
            answer = moderate(text, explain=True)
            if answer["action"] == "allow":
                continue
            span = top_word(answer, text, label)
            if span is not None:
                chosen.append((text, span, answer["action"], severity(answer["scores"], label)))
        rows = {}
        for name, how in DISGUISES.items():
            kept = retained = base = 0.0
            for text, (start, end), action, p in chosen:
                answer = moderate(disguise(text, start, end, how))
                kept += answer["action"] == action
                retained += severity(answer["scores"], label)
                base += p
            rows[name] = {"kept": kept / max(len(chosen), 1), "retained": retained / max(base, 1e-12)}
        result["abusive"][label] = {"posts": len(chosen), "disguises": rows}

    clean = []
    for text in sample["neither"]:
        answer = moderate(text, explain=True)
        if answer["action"] == "allow":
            clean.append((text, top_word(answer, text, "offensive language")))
    result["clean"]["allowed of neither"] = len(clean) / len(sample["neither"])
    rows = {}
    for name, how in DISGUISES.items():
        texts = [disguise(t, *span, how) for t, span in clean if span is not None]
        rows[name] = sum(moderate(t)["action"] != "allow" for t in texts) / max(len(texts), 1)
    result["clean"]["flagged after disguise"] = rows
    result["clean"]["posts"] = len(clean)

    sentences = [
        line.split("\t", 1)[1] for line in ORDINARY.read_text("utf-8").splitlines() if line and not line.startswith("#")
    ]
    answers = [moderate(s) for s in sentences]
    result["ordinary"] = {
        "sentences": len(sentences),
        "allowed": sum(a["action"] == "allow" for a in answers) / len(sentences),
        "flagged": [s for s, a in zip(sentences, answers, strict=True) if a["action"] != "allow"],
    }
    return result


def run_ref(ref: str, posts: int, seed: int) -> dict:
    """``measure`` for the code and model of git revision ``ref``, in a temporary worktree."""
    folder = Path(tempfile.mkdtemp(prefix="evasion-ref-"))
    subprocess.run(["git", "worktree", "add", "--detach", str(folder), ref], cwd=HERE, check=True, capture_output=True)
    try:
        env = {**os.environ, "PYTHONPATH": str(folder)}
        out = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--json", "--posts", str(posts), "--seed", str(seed)],
            cwd=folder,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        return json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(folder)], cwd=HERE, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=300, help="posts sampled per class")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--ref", help="also measure this git revision (before), side by side")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    args = parser.parse_args()
    if args.json:
        sys.path.insert(0, os.getcwd())
        print(json.dumps(measure(args.posts, args.seed)))
        return
    sys.path.insert(0, str(HERE))
    before = run_ref(args.ref, args.posts, args.seed) if args.ref else None
    now = measure(args.posts, args.seed)
    report(now, before, args.ref)


def report(now: dict, before: dict | None, ref: str | None) -> None:
    def cell(result: dict | None, label: str, name: str) -> str:
        if result is None:
            return ""
        row = result["abusive"][label]["disguises"][name]
        return f" {row['kept']:.0%} / {row['retained']:.2f} |"

    for label in ("hate speech", "offensive language"):
        head = f"| disguise ({label}, {now['abusive'][label]['posts']} posts) | kept / retained |"
        print(f"\n{head}" + (f" at {ref} |" if before else ""))
        print("|---|---|" + ("---|" if before else ""))
        for name in DISGUISES:
            print(f"| {name} |{cell(now, label, name)}" + (cell(before, label, name) if before else ""))
    head = f"\n| clean posts ({now['clean']['posts']} allowed) | flagged after disguise |"
    print(head + (f" at {ref} |" if before else ""))
    print("|---|---|" + ("---|" if before else ""))
    for name, share in now["clean"]["flagged after disguise"].items():
        old = f" {before['clean']['flagged after disguise'][name]:.1%} |" if before else ""
        print(f"| {name} | {share:.1%} |{old}")
    for name, result in (("now", now), (ref, before)):
        if result is None:
            continue
        print(
            f"\n{name}: neither-labelled posts allowed {result['clean']['allowed of neither']:.1%}; "
            f"ordinary sentences allowed {result['ordinary']['allowed']:.1%} of {result['ordinary']['sentences']}"
        )
        for sentence in result["ordinary"]["flagged"]:
            print(f"  flagged: {sentence}")


if __name__ == "__main__":
    main()
