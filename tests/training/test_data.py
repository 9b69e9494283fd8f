"""A bad training CSV is refused with a message that names the problem and the rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from hatespeech.training.data import DAVIDSON_SHA256, DataError, load_dataset


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "posts.csv"
    path.write_text(text)
    return path


def test_reads_the_davidson_format(tmp_path: Path) -> None:
    data = load_dataset(write(tmp_path, ",count,class,tweet\n0,3,0,you lot\n1,3,1,damn it\n2,3,2,nice day\n"))
    assert data.rows == 3
    assert data.labels.tolist() == [0, 1, 2]
    assert data.texts[2] == "nice day"


def test_missing_file_says_how_to_get_the_data(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        load_dataset(tmp_path / "nope.csv")
    message = str(err.value)
    assert "t-davidson/hate-speech-and-offensive-language" in message
    assert DAVIDSON_SHA256 in message
    assert "MIT" in message


@pytest.mark.parametrize(
    ("csv", "expected"),
    [
        ("text,label\nhi,1\n", "lacks the column(s) class, tweet"),
        ("class,tweet\n", "no rows"),
        ("class,tweet\n0,a\n1,b\n5,c\n2,d\n", "class` other than 0, 1 or 2 (lines 4)"),
        ("class,tweet\n0,a\nx,b\n2,d\n", "(lines 3)"),
        ("class,tweet\n0,a\n1,\n2,d\n1,   \n", "2 row(s) have an empty or non-text `tweet` (lines 3, 5)"),
        ("class,tweet\n1,a\n2,b\n", "no rows of class hate speech"),
        ("", "not a readable CSV"),
    ],
)
def test_bad_csv_is_refused(tmp_path: Path, csv: str, expected: str) -> None:
    with pytest.raises(DataError) as err:
        load_dataset(write(tmp_path, csv))
    assert expected in str(err.value)
