"""The documentation: a README that fits, pages that are linked, links that resolve, and numbers that
cannot drift from the model.

Every figure in README.md and docs/ that comes from the model is compared here with the model card
(``models/model.json``) or with the served model itself, at the precision it is printed. After a
retrain these tests name each figure to update.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
import userdocs

from hatespeech.config import DEFAULT_MODEL_PATH
from hatespeech.core import attacks, threats
from hatespeech.core.classifier import Classifier
from hatespeech.core.explain import explain
from hatespeech.core.labels import LABELS
from hatespeech.core.policy import Policy
from hatespeech.integrations.common import abusive_label
from hatespeech.integrations.service import Service, flag_message
from testing.support import ROOT, gunicorn

MAX_README_LINES = 250
CARD = json.loads(DEFAULT_MODEL_PATH.read_text())
MODEL_PAGE = ROOT / "docs" / "model.md"


def without_code(markdown: str) -> str:
    """The text outside fenced code blocks and inline code (where a link is only an example)."""
    markdown = re.sub(r"^```.*?^```", "", markdown, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", markdown)


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens.

    >>> anchor("Drop-in for OpenAI's moderation endpoint and `Perspective`")
    'drop-in-for-openais-moderation-endpoint-and-perspective'
    """
    kept = "".join(c for c in heading.lower() if c in " -_" or unicodedata.category(c)[0] in "LN")
    return kept.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    outside_code = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.S | re.M)
    for heading in re.findall(r"^#{1,6} +(.+?) *$", outside_code, re.M):
        slug = anchor(heading)
        found.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return found


def links(page: Path) -> list[str]:
    """The link targets of a page: ``[text](target)`` and ``![alt](target)``."""
    return re.findall(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", without_code(page.read_text()))


def printed(value: float, like: str) -> str:
    """``value`` printed as ``like`` is: the same number of decimals."""
    decimals = len(like.split(".")[1]) if "." in like else 0
    return f"{value:.{decimals}f}"


def table(markdown: str, header: str) -> list[list[str]]:
    """The body rows of the Markdown table whose header row starts with ``header``."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


# The README and the pages


def test_the_readme_fits() -> None:
    lines = userdocs.README.read_text().count("\n")
    assert lines <= MAX_README_LINES, f"README.md has {lines} lines: move the detail to a page of docs/"


def test_every_page_of_docs_is_linked_from_the_readme_contents() -> None:
    readme = userdocs.README.read_text()
    contents = readme.split("## Contents", 1)[1].split("\n## ", 1)[0]
    pages = sorted(p.name for p in userdocs.DOCS.glob("*.md"))
    assert len(pages) >= 3, pages
    linked = set(re.findall(r"\]\(docs/([^)#]+\.md)\)", contents))
    assert set(pages) <= linked, f"not in the README's contents: {sorted(set(pages) - linked)}"


@pytest.mark.parametrize("page", [*userdocs.pages(), ROOT / "bench" / "RESULTS.md"], ids=lambda p: p.name)
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target in links(page):
        if re.match(r"[a-z]+:", target):  # https:, mailto:: not ours to check
            continue
        path, _, fragment = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"{target}: no file {resolved}")
        elif fragment and resolved.suffix == ".md" and fragment not in anchors(resolved):
            broken.append(f"{target}: no heading #{fragment} in {resolved.name}")
    assert not broken, broken


def test_links_are_found_and_checked() -> None:
    """The link test above can fail: a made-up page with one good and two broken links."""
    assert anchor("One post, one name") == "one-post-one-name"
    assert "thresholds" in anchors(MODEL_PAGE)
    assert links(MODEL_PAGE), "docs/model.md links to something"
    assert without_code("see [a](b.md) and `[c](d.md)`") == "see [a](b.md) and "


# Numbers from the model card


def test_the_thresholds_table_is_the_cards() -> None:
    rows = {row[0]: row for row in table(MODEL_PAGE.read_text(), "| class | review | block |")}
    assert set(rows) == set(CARD["thresholds"]), rows
    for label, (_, review, block, clean_review, caught_review, clean_block, caught_block) in rows.items():
        card, curve = CARD["thresholds"][label], CARD["threshold_curves"][label]
        assert (review, block) == (printed(card["review"], review), printed(card["block"], block)), (label, card)
        for threshold, clean, caught in (("review", clean_review, caught_review), ("block", clean_block, caught_block)):
            at = curve["thresholds"].index(card[threshold])
            assert clean == printed(100 * curve["clean_reached"][at], clean.rstrip("%")) + "%", (label, threshold)
            assert caught == printed(100 * curve["caught"][at], caught.rstrip("%")) + "%", (label, threshold)


def test_the_served_thresholds_are_the_cards(classifier: Classifier) -> None:
    served = Policy.from_card(classifier.card).describe()
    assert served == {label: {k: v[k] for k in ("review", "block")} for label, v in CARD["thresholds"].items()}


METRIC_COLUMNS = {
    "macro-F1": lambda m: m["macro_f1"],
    "hate speech F1": lambda m: m["per_class"]["hate speech"]["f1"],
    "offensive F1": lambda m: m["per_class"]["offensive language"]["f1"],
    "neither F1": lambda m: m["per_class"]["neither"]["f1"],
    "weighted F1": lambda m: m["weighted_f1"],
    "macro-F1, argmax only": lambda m: m["argmax_macro_f1"],
    "ECE": lambda m: m["ece"],
    "Brier": lambda m: m["brier"],
}
METRIC_ROWS = {"cross-validation": "cross_validation", "20% held out": "holdout"}


@pytest.mark.parametrize("page", [MODEL_PAGE, ROOT / "bench" / "RESULTS.md"], ids=lambda p: p.name)
def test_the_metrics_table_is_the_cards(page: Path) -> None:
    markdown = page.read_text()
    header = next(line for line in markdown.splitlines() if line.startswith("| | macro-F1 |"))
    columns = [cell.strip() for cell in header.strip().strip("|").split("|")][1:]
    assert columns == list(METRIC_COLUMNS), columns
    rows = table(markdown, header)
    assert [row[0] for row in rows] == list(METRIC_ROWS)
    for name, *cells in rows:
        metrics = CARD["metrics"][METRIC_ROWS[name]]
        expected = [printed(METRIC_COLUMNS[column](metrics), cell) for column, cell in zip(columns, cells, strict=True)]
        assert cells == expected, f"{name}: the card says {expected}"


def test_the_prose_figures_are_the_cards() -> None:
    markdown = MODEL_PAGE.read_text()
    ece = re.search(r"calibrated \(ECE (\d\.\d+)", markdown)
    assert ece and ece.group(1) == printed(CARD["metrics"]["cross_validation"]["ece"], ece.group(1))
    data = re.search(
        r"([\d,]+) English tweets .*?: (\d+\.\d)% hate speech, (\d+\.\d)% offensive language, (\d+\.\d)% neither",
        markdown,
        re.S,
    )
    assert data, "docs/model.md gives the data's size and class shares"
    counts, rows = CARD["data"]["class_counts"], CARD["data"]["rows"]
    assert int(data.group(1).replace(",", "")) == rows == sum(counts)
    shares = list(data.groups()[1:])
    assert shares == [printed(100 * n / rows, share) for n, share in zip(counts, shares, strict=True)]


def test_the_shares_of_clean_posts_flagged_add_up_from_the_card() -> None:
    said = re.search(
        r"up to about (\d+)% of clean posts go to review\s+and (\d+(?:\.\d)?)% are blocked", MODEL_PAGE.read_text()
    )
    assert said, "docs/model.md says how many clean posts the two classes' thresholds flag at most"
    curves = CARD["threshold_curves"]
    for threshold, share in zip(("review", "block"), said.groups(), strict=True):
        total = sum(
            curves[label]["clean_reached"][curves[label]["thresholds"].index(values[threshold])]
            for label, values in CARD["thresholds"].items()
        )
        assert share == printed(100 * total, share), (threshold, total)


def test_the_real_words_count_is_the_served_models(classifier: Classifier) -> None:
    said = re.search(r"this rule would split \(([\d,]+) of them", MODEL_PAGE.read_text())
    assert said, "docs/model.md says how many real words the model file keeps whole"
    assert int(said.group(1).replace(",", "")) == len(classifier.model.reader.whole)


def test_the_decision_rule_weights_are_the_cards() -> None:
    weights = ":".join(f"{w:g}" for w in CARD["decision_rule"]["weights"])
    for page in userdocs.pages():
        for found in re.findall(r"(?<![\d.])(\d+(?:\.\d+)?) : (\d+(?:\.\d+)?) : (\d+(?:\.\d+)?)\b", page.read_text()):
            assert ":".join(found) == weights, f"{page.name} says {' : '.join(found)}; the card's rule is {weights}"


# Examples answered by the served model


def moderation(classifier: Classifier, text: str) -> dict:
    """``/moderate``'s decision for ``text`` (the scores, the rule, the thresholds, the identity-attack and
    threat checks, in the moderator's order)."""
    answer = Policy.from_card(classifier.card).moderate(classifier.probabilities([text])[0].tolist())
    attacks.apply(answer, attacks.check_scored(classifier.model, text))  # type: ignore[arg-type]
    threats.apply(answer, threats.check_scored(classifier.model, text))  # type: ignore[arg-type]
    return answer


def test_the_readme_predict_example_is_what_the_model_answers(classifier: Classifier) -> None:
    readme = userdocs.README.read_text()
    example = re.search(
        r"^curl -d '\{\"text\": \"([^\"]+)\"\}' http://127\.0\.0\.1:5000/predict\n```\n\n[^\n]*\n\n```\n(\{.*?\})\n```",
        readme,
        re.M,
    )
    assert example, "README.md shows a /predict curl and its answer"
    shown = json.loads(example.group(2))
    scores = classifier.scores(example.group(1))
    assert list(shown) == list(LABELS)
    raw = re.findall(r": (\d\.\d+)", example.group(2))
    assert raw == [printed(scores[label], p) for label, p in zip(LABELS, raw, strict=True)], scores


def test_the_readme_moderate_example_is_what_the_model_decides(classifier: Classifier) -> None:
    readme = userdocs.README.read_text()
    text = re.search(r"^curl -d '\{\"text\": \"([^\"]+)\"[^\n]*5000/moderate$", readme, re.M)
    said = re.search(r"`label` is `([^`]+)` and `action` is `([^`]+)`", readme)
    assert text and said, "README.md shows a /moderate curl and says its label and action"
    answer = moderation(classifier, text.group(1))
    assert (answer["label"], answer["action"]) == said.groups(), answer


def test_the_discourse_flag_message_is_what_the_service_sends(classifier: Classifier) -> None:
    example = re.search(
        r'For the post "([^"]+)", the message reads:\n\n```\n(hatespeech-detect: [^\n]+)\n```',
        (ROOT / "docs" / "boards.md").read_text(),
    )
    assert example, "docs/boards.md shows a flag message"
    text, shown = example.groups()
    answer = moderation(classifier, text)
    assert answer["action"] == "review", "the example is of a post sent to review"
    boards = Service(
        moderate=lambda text, **context: answer,
        explain=lambda text: explain(classifier.model, text),
        outbox=None,  # type: ignore[arg-type]
        feedback=lambda: None,
        max_text_chars=10_000,
    )
    # what hatespeech/integrations/discourse.py flags: the label, or the abusive class the scores lean to
    label = answer["label"] if answer["label"] != "neither" else abusive_label(answer["scores"])
    assert shown == flag_message(answer, boards.why(text, label))


def curl(args: list[str]) -> tuple[int, str]:
    """Run a curl command's arguments; its status and body."""
    argv = ["curl", "-sS", "-w", "\n%{http_code}", *args]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=30).stdout
    body, status = out.rsplit("\n", 1)
    return int(status), body


def test_the_readme_token_example_serves_with_that_token_only(tmp_path: Path) -> None:
    """The README's way to make a token starts a server, its curl with the token is answered; without, 403."""
    readme = userdocs.README.read_text()
    make = re.search(r"^export FIREFLY_TOKEN=\$\((python3 -c '[^']+')\)", readme, re.M)
    assert make, "README.md shows how to make a token"
    code = shlex.split(make.group(1))[2]
    token = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    commands = re.findall(r"^curl [^\n]*\$FIREFLY_TOKEN[^\n]*127\.0\.0\.1:5000/predict$", readme, re.M)
    assert commands, "README.md shows a curl with the token"
    with gunicorn(tmp_path, FIREFLY_TOKEN=token) as server:
        server.wait_ready()
        for command in commands:
            argv = shlex.split(command.replace("$FIREFLY_TOKEN", token).replace(":5000/", f":{server.port}/"))[1:]
            status, body = curl(argv)
            assert status == 200 and list(json.loads(body)) == list(LABELS), body
            header = argv.index("-H")
            assert curl(argv[:header] + argv[header + 2 :])[0] == 403


def test_the_reasons_example_is_what_the_model_answers(classifier: Classifier) -> None:
    page = (ROOT / "docs" / "api.md").read_text()
    text = re.search(r"^curl -d '\{\"text\": \"([^\"]+)\"\}' http://127\.0\.0\.1:5000/moderate$", page, re.M)
    said = re.search(r'answers `"label": "([^"]+)"`, `"action": "([^"]+)"` and\n`"reasons": (\[.*?\])`', page, re.S)
    assert text and said, "docs/api.md shows a /moderate curl, its label, action and reasons"
    answer = moderation(classifier, text.group(1))
    assert (answer["label"], answer["action"]) == said.groups()[:2], answer
    shown = json.loads(said.group(3))
    assert [(r["category"], r.get("threshold")) for r in shown] == [
        (r["category"], r.get("threshold")) for r in answer["reasons"]
    ]
    for shown_reason, reason in zip(shown, answer["reasons"], strict=True):
        if "threshold" in reason:  # a class's score against its threshold
            assert printed(reason["score"], str(shown_reason["score"])) == str(shown_reason["score"]), reason
            assert reason["at"] == shown_reason["at"], reason
        else:  # a check's match: the span of the text
            assert shown_reason == reason, reason
    # the prose after it rounds the same score and names the card's threshold
    hate, at = answer["scores"]["hate speech"], classifier.card["thresholds"]["hate speech"]["review"]
    assert f"P(hate speech) is only\n{hate:.2f}, under the {at}" in page
