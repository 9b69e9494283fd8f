"""Reading a labelled CSV in the Davidson et al. (2017) format, and refusing a bad one.

Only the columns ``class`` (0 hate speech, 1 offensive language, 2 neither) and ``tweet`` are
required; the annotator counts are kept when present.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from hatespeech.core.labels import LABELS

DAVIDSON_SHA256 = "fcb8bc7c68120ae4af04a5b9acd58585513ede11e1548ebf36a5c2040b6f6281"
DAVIDSON_URL = (
    "https://raw.githubusercontent.com/t-davidson/hate-speech-and-offensive-language/master/data/labeled_data.csv"
)
HOW_TO_GET = f"""\
The training data is Davidson et al. 2017, "Automated Hate Speech Detection and the Problem of
Offensive Language" (ICWSM), MIT licence. Download it with

    curl -L -o data/labeled_data.csv {DAVIDSON_URL}

and check it: sha256sum data/labeled_data.csv  →  {DAVIDSON_SHA256}
It contains racist, sexist and homophobic language: handle it as research data."""


# Every class must reach each of the nested splits: a 20% hold-out, 5 outer folds, 3 inner folds,
# and the 5 calibration folds of each fit: 5 / (0.8 × 0.8 × 2/3) ≈ 12 rows, with room to spare.
MIN_ROWS_PER_CLASS = 20


class DataError(ValueError):
    """The CSV cannot be used for training; the message names the problem and the rows."""


@dataclass(frozen=True)
class Dataset:
    texts: list[str]
    labels: np.ndarray  # int class index into LABELS
    sha256: str
    path: Path
    # Share of annotators who chose the row's label (1.0 when the CSV has no annotator counts):
    # unanimous rows teach the model more than 2-of-3 ones.
    agreement: np.ndarray | None = None
    # Which source each row comes from (the manifest's order), when there are several: the decision rule
    # is tuned on the mean of their macro-F1 (evaluate.tune_rule)
    groups: np.ndarray | None = None

    @property
    def rows(self) -> int:
        return len(self.texts)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def line_numbers(mask: pd.Series, limit: int = 10) -> str:
    """The lines of a CSV's rows in ``mask``, as an editor numbers them (the header is line 1, so data
    row i is line i + 2): the first ``limit``, then how many more."""
    lines = [str(i + 2) for i in np.flatnonzero(mask.to_numpy())[:limit]]
    more = int(mask.sum()) - len(lines)
    return ", ".join(lines) + (f" and {more} more" if more > 0 else "")


def read_labelled_csv(
    path: Path, columns: tuple[str, ...], expected: str, error: type[ValueError], dtype: object
) -> pd.DataFrame:
    """``path`` as a frame whose empty cells are "" (never NaN), holding at least ``columns``; else ``error``,
    saying what is wrong and, for a missing column, what is ``expected``."""
    try:
        frame = pd.read_csv(path, dtype=dtype, keep_default_na=False, na_values=[])
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
        raise error(f"{path} is not a readable CSV file: {err}") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise error(
            f"{path} lacks the column(s) {', '.join(missing)}; it has {', '.join(map(str, frame.columns))}. {expected}"
        )
    return frame


def load_dataset(path: Path) -> Dataset:
    """Read and validate a labelled CSV; raise DataError with a clear message if it is unusable."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"No training data at {path}.\n\n{HOW_TO_GET}")
    expected = (
        "Expected the Davidson et al. format: `class` (0 hate speech, 1 offensive language, 2 neither) and `tweet`."
    )
    frame = read_labelled_csv(path, ("class", "tweet"), expected, DataError, dtype={"tweet": object})
    if frame.empty:
        raise DataError(f"{path} has a header but no rows.")

    classes = pd.to_numeric(frame["class"], errors="coerce")
    bad_label = ~classes.isin(range(len(LABELS)))
    if bad_label.any():
        raise DataError(
            f"{path}: {int(bad_label.sum())} row(s) have a `class` other than 0, 1 or 2 "
            f"(lines {line_numbers(bad_label)})."
        )
    tweets = frame["tweet"]
    not_text = ~tweets.map(lambda t: isinstance(t, str))
    empty = ~not_text & tweets.map(lambda t: isinstance(t, str) and not t.strip())
    if (not_text | empty).any():
        raise DataError(
            f"{path}: {int((not_text | empty).sum())} row(s) have an empty or non-text `tweet` "
            f"(lines {line_numbers(not_text | empty)})."
        )
    labels = classes.astype(int).to_numpy()
    present = set(labels.tolist())
    if len(present) < len(LABELS):
        absent = [LABELS[i] for i in range(len(LABELS)) if i not in present]
        raise DataError(f"{path}: no rows of class {', '.join(absent)}; every class needs examples.")
    return Dataset(
        texts=tweets.tolist(),
        labels=labels,
        sha256=sha256_of(path),
        path=path,
        agreement=_agreement(frame, labels),
    )


ANNOTATOR_COLUMNS = ("hate_speech", "offensive_language", "neither")  # in LABELS order


def _agreement(frame: pd.DataFrame, labels: np.ndarray) -> np.ndarray | None:
    """Annotators' share for the majority label, or None if the counts are absent or unusable."""
    if not all(c in frame.columns for c in ANNOTATOR_COLUMNS):
        return None
    counts = frame[list(ANNOTATOR_COLUMNS)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    total = counts.sum(axis=1)
    if np.isnan(counts).any() or (total <= 0).any():
        return None
    return counts[np.arange(len(labels)), labels] / total


def check_trainable(data: Dataset) -> None:
    """``DataError`` unless every class has enough rows for the nested cross-validation ``train.py`` runs."""
    counts = np.bincount(data.labels, minlength=len(LABELS))
    if counts.min() < MIN_ROWS_PER_CLASS:
        have = ", ".join(f"{label} {n}" for label, n in zip(LABELS, counts.tolist(), strict=True))
        raise DataError(
            f"{data.path}: training needs at least {MIN_ROWS_PER_CLASS} rows of each class (cross-validation "
            f"splits every class into folds, and each fold's model is calibrated on 5 folds of its own); "
            f"it has {have}."
        )
