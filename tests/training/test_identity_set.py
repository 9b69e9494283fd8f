"""The identity and counter-speech set (tests/data/identity): its shape, not any model's score on it."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

SET = Path(__file__).resolve().parent.parent / "data" / "identity" / "identity_set.csv"
KINDS = {"neutral": "allow", "counter": "allow", "ingroup": "allow", "hateful": "flag"}
# The least of each kind every group has: enough rows that one sentence moves a group's share by
# at most ~12% (neutral) and the set's balance between groups holds.
AT_LEAST = {"neutral": 12, "counter": 6, "ingroup": 2, "hateful": 8}


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    with open(SET, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_it_has_the_columns_and_enough_rows_and_groups(rows: list[dict[str, str]]) -> None:
    assert list(rows[0]) == ["text", "group", "kind", "expected"]
    assert len(rows) >= 400
    assert len({r["group"] for r in rows}) >= 12


def test_every_kind_and_expectation_is_valid_and_consistent(rows: list[dict[str, str]]) -> None:
    assert {r["kind"] for r in rows} == set(KINDS)
    assert all(KINDS[r["kind"]] == r["expected"] for r in rows)
    assert all(r["text"].strip() == r["text"] and r["text"] and r["group"] for r in rows)


def test_no_text_is_there_twice(rows: list[dict[str, str]]) -> None:
    counts = Counter(" ".join(r["text"].lower().split()) for r in rows)
    assert [text for text, n in counts.items() if n > 1] == []


def test_every_group_has_every_kind_in_numbers(rows: list[dict[str, str]]) -> None:
    counts = Counter((r["group"], r["kind"]) for r in rows)
    short = [
        (group, kind, counts[group, kind])
        for group in sorted({r["group"] for r in rows})
        for kind, least in AT_LEAST.items()
        if counts[group, kind] < least
    ]
    assert short == []


def test_the_readme_counts_are_the_files(rows: list[dict[str, str]]) -> None:
    readme = (SET.parent / "README.md").read_text(encoding="utf-8")
    counts = Counter((r["group"], r["kind"]) for r in rows)
    for group in {r["group"] for r in rows}:
        cells = [str(counts[group, kind]) for kind in AT_LEAST]
        assert f"| {group} | {' | '.join(cells)} | {sum(map(int, cells))} |" in readme
    assert f"| {len(rows)} |" in readme
