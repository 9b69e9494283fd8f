"""The C kernel (``hatespeech/core/_kernel.c``) gives the Python path's numbers: the same bits for English (every
Davidson tweet), within 1e-12 for the language models (their training posts); it refuses bad input with an
exception, never a read outside the table; and the Python path still serves where the extension cannot load.

Without the extension (``make`` builds it) these tests skip, except under CI, where they fail: CI must measure
and test what the image serves.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from types import ModuleType

import numpy as np
import pytest

from hatespeech.config import ROOT
from hatespeech.core import model as compiled
from hatespeech.core.modelfile import load_compiled
from testing.services import missing

LANGUAGES = ROOT / "models" / "languages"


@pytest.fixture(scope="module")
def kernel() -> ModuleType:
    if compiled._kernel is None:
        missing("the C kernel built in place: make (or python hatespeech/core/build.py)")
    return compiled._kernel


@pytest.fixture(scope="module")
def english() -> compiled.CompiledModel:
    return load_compiled(ROOT / "models" / "model.json")[0]


def test_ci_serves_and_measures_the_kernel() -> None:
    if os.environ.get("CI") == "true":
        assert compiled._kernel is not None and compiled.KERNEL == "C", "CI must build the kernel (make .venv/.dev)"
    assert ("C" if compiled._kernel is not None else "Python") == compiled.KERNEL


def _python(model: compiled.CompiledModel, call: str, *args: object) -> object:
    saved, compiled._kernel = compiled._kernel, None
    try:
        return getattr(model, call)(*args)
    finally:
        compiled._kernel = saved


def test_every_davidson_tweet_scores_to_the_same_bits(
    kernel: ModuleType, english: compiled.CompiledModel, real_data
) -> None:
    from hatespeech.training.data import load_dataset

    texts = load_dataset(real_data).texts
    summed = 0
    for text in texts:
        ids = english.ids(text)
        if ids and len(set(ids)) == len(ids):
            want = np.add.reduce(english.table.take(ids, axis=0), 0).tolist()
            assert kernel.sum_rows(english.table, ids) == want, text
            summed += 1
        sums = english.sums_of(ids)
        assert sums == _python(english, "sums_of", ids), text
        assert english.proba_from_sums(*sums) == _python(english, "proba_from_sums", *sums), text
    assert summed > 0.8 * len(texts) > 19_000  # the kernel's sums (21,467 of 24,783), not the repeats' NumPy path


def test_the_probabilities_fall_back_where_python_does(kernel: ModuleType, english: compiled.CompiledModel) -> None:
    n = english.n_columns + 1
    for total, scale in [
        ([-1e300] * n, 1.0),  # exp overflows (the slopes are negative): math.exp raises, the kernel says None
        ([1e300] * n, 1.0),  # every sigmoid 1
        ([0.0] * n, 1.0),
        ([3.0, -2.0, 0.5] * (n // 3) + [1.0] * (n % 3), 0.25),
    ]:
        assert english.proba_from_sums(total, scale) == _python(english, "proba_from_sums", total, scale)
    assert kernel.proba3([-1e300] * n, 1.0, english._slopes, english._offsets) is None
    # a fold whose three sigmoids are 0.0: exp(inf) is inf without an error (as math.exp's), 1 / (1 + inf) is 0.0
    zero = [math.inf, math.inf, math.inf, 0.0, 0.0, 0.0]
    assert kernel.proba3([1.0] * 6, 1.0, [1.0] * 6, zero) is None


def _training_texts(code: str) -> list[str]:
    """A language's training posts (``../shared/data``), or a skip (under CI, a failure) where they are missing."""
    from hatespeech.training import languages
    from hatespeech.training.data import DataError

    try:
        return list(languages.load(code).train.texts)
    except DataError as error:
        missing(f"the {code} training data ({error})")


@pytest.mark.parametrize("code", ["de", "pt", "ko"])
def test_each_languages_training_posts_score_within_1e_12(kernel: ModuleType, code: str) -> None:
    texts = _training_texts(code)
    model = load_compiled(LANGUAGES / f"model-{code}.json")[0]
    assert model._scoring_rows is not None
    for text in texts:
        rows = model._scoring_rows(text)
        total, scale = model._rows_sums(rows)
        want_total, want_scale = _python(model, "_rows_sums", rows)
        # Relative for the norm's column (Σ idf², up to ~25,000: 1e-12 absolute would be a few ulps); measured:
        # margins ≤ 7e-13 apart, the norm's column ≤ 6e-11 of ~25,000, scales ≤ 3e-17, probabilities ≤ 9e-16.
        assert len(total) == len(want_total) and np.allclose(total, want_total, rtol=1e-12, atol=1e-12), text
        assert abs(scale - want_scale) <= 1e-12, text
        assert np.abs(np.subtract(model.proba_one(text), _python(model, "proba_one", text))).max() <= 1e-12, text


@pytest.mark.parametrize("code", ["de", "pt"])
def test_each_word_of_the_training_posts_has_the_same_gram_rows(kernel: ModuleType, code: str) -> None:
    texts = _training_texts(code)
    model = load_compiled(LANGUAGES / f"model-{code}.json")[0]
    assert model.reader.chars is not None and model._plain  # the models whose words go through gram_rows
    low, high = model.reader.chars
    words = {w for text in texts for piece in text.split() for w in model.reader.letters(piece) if w.isalpha()}
    assert len(words) > 10_000
    for word in words:
        assert kernel.gram_rows(model.vocab, word, low, high) == _python(model, "_rows_of_word", word), word


def test_gram_rows_reads_any_word_and_refuses_bad_input(kernel: ModuleType) -> None:
    vocab = {"dumm": 0, "0_du": 1, "0mm_": 2, "0_😡_": 3, "0ß": 4}
    rows = np.frombuffer(kernel.gram_rows(vocab, "dumm", 3, 4), dtype=np.int32).tolist()
    assert rows == [0, 1, 2]  # the word, then its 3-grams left to right (its 4-grams are not in the vocabulary)
    assert np.frombuffer(kernel.gram_rows(vocab, "😡", 3, 3), dtype=np.int32).tolist() == [3]  # beyond 16 bits
    assert np.frombuffer(kernel.gram_rows(vocab, "ß", 1, 1), dtype=np.int32).tolist() == [4]
    assert kernel.gram_rows({}, "x" * 100_000, 3, 5) == b""  # a long word: linear, nothing found
    for low, high in [(0, 3), (4, 3), (3, 17)]:
        with pytest.raises(ValueError, match="n-grams"):
            kernel.gram_rows(vocab, "dumm", low, high)
    for args in [([], "dumm", 3, 5), (vocab, b"dumm", 3, 5), (vocab, "dumm", "3", 5)]:
        with pytest.raises(TypeError):
            kernel.gram_rows(*args)
    for bad in ({"dumm": "0"}, {"dumm": -1}, {"dumm": 2**40}):
        with pytest.raises((TypeError, ValueError)):
            kernel.gram_rows(bad, "dumm", 3, 5)


def test_repeated_rows_weigh_their_tf(kernel: ModuleType) -> None:
    table = np.arange(12, dtype=np.float64).reshape(4, 3)  # the last column: the norm's
    rows = np.array([2, 1, 2, 2, 0], dtype=np.int32).tobytes()
    for mode, tf in [(0, 1.0), (1, 1.0 + math.log(3)), (2, 3.0)]:
        total, norm_sum = kernel.rows_sums(table, rows, mode)
        want = table[0] + table[1] + tf * table[2]
        assert total == pytest.approx(want.tolist(), abs=1e-12)
        assert norm_sum == pytest.approx(want[-1] + (tf * tf - tf) * table[2, -1], abs=1e-12)


def test_bad_input_raises_and_never_reads_outside_the_table(kernel: ModuleType) -> None:
    table = np.ones((5, 4))
    for ids in ([5], [0, -1], [2**70], [0, 99]):
        with pytest.raises(IndexError):
            kernel.sum_rows(table, ids)
    for ids in (["a"], [1.0], [None], (0, 1), np.array([0, 1])):
        with pytest.raises(TypeError):
            kernel.sum_rows(table, ids)
    with pytest.raises(ValueError, match="no ids"):
        kernel.sum_rows(table, [])
    for bad_table in (np.ones((5, 4), dtype=np.float32), np.ones(20), np.ones((5, 8))[:, ::2], np.ones((5, 0)), "x"):
        with pytest.raises((TypeError, ValueError)):  # NumPy: not C-contiguous
            kernel.sum_rows(bad_table, [0])
    for rows, exception in [
        (np.array([5], dtype=np.int32).tobytes(), IndexError),
        (np.array([-1], dtype=np.int32).tobytes(), IndexError),
        (b"", ValueError),
        (b"\x00\x00\x00", ValueError),
        ([0, 1], TypeError),
    ]:
        with pytest.raises(exception):
            kernel.rows_sums(table, rows, 1)
    with pytest.raises(ValueError, match="tf_mode"):
        kernel.rows_sums(table, b"\x00\x00\x00\x00", 3)
    with pytest.raises(ValueError, match="3 × folds"):
        kernel.proba3([0.0] * 6, 1.0, [1.0] * 5, [1.0] * 5)  # not three per fold
    with pytest.raises(ValueError, match="3 × folds"):
        kernel.proba3([0.0] * 2, 1.0, [1.0] * 3, [1.0] * 3)  # fewer sums than sigmoids
    with pytest.raises(ValueError, match="3 × folds"):
        kernel.proba3([], 1.0, [], [])
    with pytest.raises(TypeError):
        kernel.proba3(["a", 0.0, 0.0], 1.0, [1.0] * 3, [1.0] * 3)
    with pytest.raises(TypeError):
        kernel.proba3((0.0, 0.0, 0.0), 1.0, [1.0] * 3, [1.0] * 3)


def test_a_process_without_the_extension_scores_the_same() -> None:
    """As in a checkout nobody built, or a Dask worker importing the package from a zip: NumPy and Python."""
    code = (
        "import sys, json; sys.modules['hatespeech.core._kernel'] = None;"  # import fails: ImportError
        "from hatespeech.core import model; from hatespeech.core.modelfile import load_compiled;"
        "from hatespeech.config import ROOT;"
        "m = load_compiled(ROOT / 'models' / 'model.json')[0];"
        "print(json.dumps([model.KERNEL, m.proba_one('you are a stupid idiot'), m.proba_one('have a nice day')]))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    import json

    kernel, *found = json.loads(done.stdout)
    english = load_compiled(ROOT / "models" / "model.json")[0]
    assert kernel == "Python"
    assert found == [english.proba_one("you are a stupid idiot"), english.proba_one("have a nice day")]


def test_a_machine_without_a_compiler_is_told_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from hatespeech.core import build

    def no_compiler(command: list[str], check: bool) -> None:
        raise FileNotFoundError(command[0])  # what subprocess.run raises for a program not on the PATH

    monkeypatch.setattr(build.subprocess, "run", no_compiler)
    before = build.target().stat().st_mtime if build.target().exists() else None
    with pytest.raises(build.BuildError, match=r"no C compiler .* apt-get install gcc"):
        build.build(force=True)
    assert (build.target().stat().st_mtime if build.target().exists() else None) == before  # nothing half-written
