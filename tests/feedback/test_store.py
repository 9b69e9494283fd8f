"""The feedback store on SQLite and on a real PostgreSQL: round trip, replacement, erasure,
every bad input (nothing stored then), and several processes writing at once."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from postgresql import open_feedback_store

from hatespeech.config import ConfigError, FeedbackSettings, Settings
from hatespeech.feedback import LABELS, FeedbackStore, InvalidFeedback, SQLiteFeedbackStore, check_feedback, open_store
from hatespeech.feedback import store as store_module
from testing.support import wait_for

ROOT = Path(__file__).resolve().parents[2]


def test_round_trip(feedback_store: FeedbackStore) -> None:
    a = feedback_store.add("what a lovely recipe", "neither", source="forum", id="p1", moderator="ann")
    b = feedback_store.add("those zorgs are vermin", "hate speech", source="forum", id=2)
    c = feedback_store.add("shut up you idiot", "offensive language")
    assert len({a, b, c}) == 3
    rows = list(feedback_store.rows())
    assert [r[:4] for r in rows] == [
        ("what a lovely recipe", "neither", "forum", "p1"),
        ("those zorgs are vermin", "hate speech", "forum", "2"),
        ("shut up you idiot", "offensive language", "api", None),
    ]
    assert all(isinstance(r[4], float) for r in rows)
    counts = feedback_store.counts()
    assert counts == {
        "total": 3,
        "by_label": {"hate speech": 1, "offensive language": 1, "neither": 1},
        "by_source": {"api": 1, "forum": 2},
        "by_origin": {"library": 3},  # written in-process, with no credential
        "newer_than_model": None,
    }


def test_same_source_and_id_replaces(feedback_store: FeedbackStore) -> None:
    first = feedback_store.add("you zorgs again", "hate speech", source="review-page", id="p9")
    other_source = feedback_store.add("you zorgs again", "hate speech", source="discourse", id="p9")
    again = feedback_store.add("you zorgs again", "neither", source="review-page", id="p9", moderator="bo")
    assert again == first != other_source
    assert feedback_store.counts()["by_label"] == {"hate speech": 1, "offensive language": 0, "neither": 1}
    # without an id, the same text is a new row each time (nothing to say it is the same post)
    feedback_store.add("no id here", "neither")
    feedback_store.add("no id here", "neither")
    assert feedback_store.counts()["total"] == 4


def test_erase(feedback_store: FeedbackStore) -> None:
    feedback_store.add("a post that was deleted", "offensive language", source="forum", id="gone")
    feedback_store.add("a post that stays", "neither", source="forum", id="stays")
    assert feedback_store.erase("forum", "gone") is True
    assert feedback_store.erase("forum", "gone") is False
    assert feedback_store.erase("other", "stays") is False
    assert [r[0] for r in feedback_store.rows()] == ["a post that stays"]
    assert feedback_store.counts()["total"] == 1


def _after(moment: float) -> float:
    """The first reading of the clock later than ``moment`` (rows are stamped with time.time())."""
    wait_for(lambda: time.time() > moment, lambda: f"time.time() has not passed {moment}")
    return time.time()


def test_counts_newer_than(feedback_store: FeedbackStore) -> None:
    feedback_store.add("old one", "neither", source="s", id="1")
    cut = _after(time.time())  # later than the old row's stamp…
    _after(cut)  # …and earlier than the new row's
    feedback_store.add("new one", "neither", source="s", id="2")
    assert feedback_store.counts(newer_than=cut)["newer_than_model"] == 1
    feedback_store.add("old one", "offensive language", source="s", id="1")  # relabelled: new again
    assert feedback_store.counts(newer_than=cut)["newer_than_model"] == 2
    assert feedback_store.counts(newer_than=time.time() + 60)["newer_than_model"] == 0


def test_rows_read_in_pages(feedback_store: FeedbackStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "FETCH_ROWS", 3)
    for i in range(10):
        feedback_store.add(f"post number {i}", LABELS[i % 3], id=i)
    assert [r[3] for r in feedback_store.rows()] == [str(i) for i in range(10)]


def test_text_is_kept_exactly_but_nul(feedback_store: FeedbackStore) -> None:
    text = "  ünïcode 😀 and\ttabs\nand a NUL\x00 "
    feedback_store.add(text, "neither")
    # PostgreSQL cannot store NUL: both backends store U+FFFD there, and nothing else changes
    assert next(iter(feedback_store.rows()))[0] == text.replace("\x00", "\ufffd")


BAD = [
    ({"text": "", "label": "neither"}, "text must contain something other than white space"),
    ({"text": " \n\t", "label": "neither"}, "text must contain something other than white space"),
    ({"text": "x" * 101, "label": "neither"}, "text is 101 characters long; the maximum is 100"),
    ({"text": 5, "label": "neither"}, "text must be a string, not a number"),
    ({"text": None, "label": "neither"}, "text is required"),
    (
        {"text": "ok", "label": "spam"},
        "label must be one of 'hate speech', 'offensive language', 'neither', not 'spam'",
    ),
    ({"text": "ok", "label": "Neither"}, "label must be one of"),
    ({"text": "ok", "label": 2}, "label must be one of 'hate speech', 'offensive language', 'neither', not a number"),
    ({"text": "ok", "label": None}, "label is required"),
    ({"text": "ok", "label": "neither", "source": ""}, "source must not be empty"),
    ({"text": "ok", "label": "neither", "source": 7}, "source must be a string, not a number"),
    ({"text": "ok", "label": "neither", "source": "s" * 65}, "source is 65 characters long; the maximum is 64"),
    ({"text": "ok", "label": "neither", "id": True}, "id must be a string or a whole number, not a boolean"),
    ({"text": "ok", "label": "neither", "id": 1.5}, "id must be a string or a whole number, not a number"),
    ({"text": "ok", "label": "neither", "id": "a\nb"}, "id must not contain control characters"),
    ({"text": "ok", "label": "neither", "id": "i" * 201}, "id is 201 characters long; the maximum is 200"),
    ({"text": "ok", "label": "neither", "moderator": ["x"]}, "moderator must be a string or a whole number"),
    ({"text": "ok", "label": "neither", "id": 10**18 + 1}, "id must be at most 1000000000000000000 in size"),
    ({"text": "ok\ud800", "label": "neither"}, "text is not valid Unicode"),
]


@pytest.mark.parametrize(("fields", "message"), BAD, ids=[m[:40] for _, m in BAD])
def test_bad_input_stores_nothing(feedback_backend: str, store_url: str, fields: dict, message: str) -> None:
    store = open_feedback_store(feedback_backend, store_url)
    store.max_text_chars = 100
    try:
        fields = dict(fields)  # the parameter is shared by both store kinds
        text, label = fields.pop("text"), fields.pop("label")
        with pytest.raises(InvalidFeedback) as caught:
            store.add(text, label, **fields)
        assert message in str(caught.value)
        assert store.counts()["total"] == 0
    finally:
        store.close()


def test_check_feedback_returns_the_stored_values() -> None:
    checked = check_feedback("fine", "neither", source="discourse", id=12, moderator="ann", max_text_chars=10)
    assert tuple(checked) == ("fine", "neither", "discourse", "12", "ann", None)
    assert check_feedback("fein", "neither", language="de").language == "de"
    for bad in ("DE", "deu", "", 7, "d\u0435"):  # the last with a Cyrillic e
        with pytest.raises(InvalidFeedback, match="language must be"):
            check_feedback("fine", "neither", language=bad)


def test_open_store_follows_the_settings(tmp_path: Path) -> None:
    store = open_store(
        Settings.from_env({"FEEDBACK_DB_PATH": str(tmp_path / "f" / "fb.sqlite3"), "MAX_TEXT_CHARS": "20"})
    )
    assert isinstance(store, SQLiteFeedbackStore)
    store.add("hello", "neither")
    with pytest.raises(InvalidFeedback, match="the maximum is 20"):  # MAX_TEXT_CHARS, as /predict
        store.add("x" * 21, "neither")
    assert (tmp_path / "f" / "fb.sqlite3").is_file()
    store.close()
    postgres = open_store(FeedbackSettings.from_env({"DATABASE_URL": "postgres://u@127.0.0.1:1/x"}))
    assert type(postgres).__name__ == "PostgresFeedbackStore"  # opens nothing until used
    with pytest.raises(ConfigError, match="DATABASE_URL must be a postgres"):
        FeedbackSettings.from_env({"DATABASE_URL": "mysql://u@h/x"})


WRITER = """
import sys
sys.path.insert(0, {root!r})
from hatespeech.feedback import LABELS
from {module} import {cls} as Store
store = Store({where!r})
me = int(sys.argv[1])
for i in range({per!r}):
    store.add(f"writer {{me}} post {{i}}", LABELS[i % 3], source=f"w{{me}}", id=i)
    store.add(f"shared post {{i % 10}}", LABELS[me % 3], source="shared", id=i % 10)  # everyone relabels these
store.close()
"""


def test_concurrent_writers_lose_nothing(feedback_backend: str, store_url: str) -> None:
    writers, per = 4, 150
    module, cls = (
        ("hatespeech.feedback.postgres", "PostgresFeedbackStore")
        if feedback_backend == "postgres"
        else ("hatespeech.feedback.store", "SQLiteFeedbackStore")
    )
    script = WRITER.format(root=str(ROOT), module=module, cls=cls, where=store_url, per=per)
    procs = [subprocess.Popen([sys.executable, "-c", script, str(n)], stderr=subprocess.PIPE) for n in range(writers)]
    errors = [p.communicate(timeout=120)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0] * writers, errors
    store = open_feedback_store(feedback_backend, store_url)
    try:
        counts = store.counts()
        assert counts["total"] == writers * per + 10
        assert counts["by_source"] == {"shared": 10, **{f"w{n}": per for n in range(writers)}}
        mine = {(r[2], r[3]) for r in store.rows() if r[2] != "shared"}
        assert mine == {(f"w{n}", str(i)) for n in range(writers) for i in range(per)}
    finally:
        store.close()


def test_each_row_carries_its_language_given_or_identified(feedback_store: FeedbackStore) -> None:
    feedback_store.add("Ihr seid alle dreckiges Pack und gehört weg", "hate speech", source="b", id="1")
    feedback_store.add("you are all vermin", "hate speech", source="b", id="2")
    feedback_store.add("ok", "neither", source="b", id="3", language="pt")  # as the answer named it
    assert [(r.id, r.language) for r in feedback_store.rows()] == [("1", "de"), ("2", "en"), ("3", "pt")]
    assert [r.language for r in feedback_store.decisions()] == ["de", "en", "pt"]
