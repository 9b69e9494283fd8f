"""What reading and scoring a whole board post costs, long and crafted ones included (issue 23).

    .venv/bin/python bench/board_text.py [--repeat 3]

In one process, with the committed model: ``read_html`` (the integrations' HTML reader) on crafted
markup of 20 KB and 200 KB (the ratio is ~10 for linear work, ~100 for quadratic), and
``Service.score`` (the whole post and its windows, one batch; nothing recorded) on posts of 300,
3,000, 32,000 (Discourse's default maximum) and 100,000 characters (the most of a post that is
read), plus crafted ones. The best of ``--repeat`` runs, in milliseconds. Prints Markdown.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hatespeech.config import Settings  # noqa: E402
from hatespeech.core.explain import explain  # noqa: E402
from hatespeech.integrations.common import read_html  # noqa: E402
from hatespeech.integrations.service import Part, Post, Service  # noqa: E402
from hatespeech.service.api import load  # noqa: E402
from testing.standins import weather  # noqa: E402 (the board tests' harmless paragraph)


def prose(chars: int) -> str:
    """Harmless sentences that do not repeat, ``chars`` characters (the board tests' paragraph, cut)."""
    return weather(chars)[:chars]


MARKUP: dict[str, Callable[[int], str]] = {  # n characters of each kind
    "unclosed attributes <a x='": lambda n: ("<a x='" * n)[:n],
    "paragraphs <p>a b c</p>": lambda n: ("<p>a b c</p>" * n)[:n],
    "quotes never closed <aside …>": lambda n: ('<aside class="quote" data-post="1" data-topic="2">x' * n)[:n],
    "quotes closed": lambda n: ('<aside class="quote" data-post="1" data-topic="2">x</aside>' * n)[:n],
    "comments never closed <!--": lambda n: ("<!--" * n)[:n],
    "scripts <script>": lambda n: ("<script>" * n)[:n],
}
POSTS: dict[str, Callable[[], str]] = {
    "300 characters of prose": lambda: prose(300),
    "3,000 characters of prose": lambda: prose(3_000),
    "32,000 characters of prose": lambda: prose(32_000),
    "100,000 characters of prose": lambda: prose(100_000),
    "99,000 zero-width characters, then words": lambda: "\u200b" * 99_000 + " shut up you stupid bitch",
    "50,000 zero-width 'words'": lambda: "\u200b " * 50_000,
    "one word of 100,000 characters": lambda: "x" * 100_000,
    "33,000 sentences 'a. ' (a window each)": lambda: "a. " * 33_000,
}


def best(repeat: int, call: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return min(times) * 1000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    api = load(Settings())
    service = Service(
        moderate=lambda text, **context: api.moderator.moderate_many([text], False)[0],
        explain=lambda text: explain(api.classifier.model, text),
        outbox=None,  # type: ignore[arg-type]
        feedback=lambda: None,
        max_text_chars=api.settings.max_text_chars,
        rank=lambda texts: api.moderator.moderate_many(texts, False),
        record=lambda answer, text, **context: None,
    )
    quote = lambda attrs: True  # noqa: E731 (every aside a quote: the most work)
    print(f"\n{platform.node()} · {os.cpu_count()} cores · Python {platform.python_version()}\n")
    print("| read_html on | 20 KB ms | 200 KB ms | ratio |")
    print("|---|---:|---:|---:|")
    for name, make in MARKUP.items():
        small, large = make(20_000), make(200_000)
        t_small = best(args.repeat, lambda m=small: read_html(m, quote))
        t_large = best(args.repeat, lambda m=large: read_html(m, quote))
        print(f"| {name} | {t_small:.1f} | {t_large:.1f} | {t_large / max(t_small, 1e-6):.0f} |")
    print("\n| Service.score on | ms | action |")
    print("|---|---:|---|")
    for name, make in POSTS.items():
        post = Post([Part(make())])
        answer = service.score(post)
        print(f"| {name} | {best(args.repeat, lambda p=post: service.score(p)):.0f} | {answer and answer['action']} |")


if __name__ == "__main__":
    main()
