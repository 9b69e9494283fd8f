"""The model on disk: a joblib file and, beside it, a JSON card that vouches for it.

    models/model.json                  the card: metrics, data hash, library versions, the
                                       model file's name and sha256, probe scores
    models/model-<sha256[:12]>.joblib  a dict: the fitted Pipeline (pickled, as bytes) and its
                                       compiled form (``hatespeech.compiled``: plain arrays)

Serving unpickles only the compiled form, which needs NumPy but not scikit-learn (importing
scikit-learn would cost a second of every cold start and ~60 MB per worker); the pipeline beside
it stays the source of truth: training, tests and the benchmarks load it, and the compiled form
must reproduce its probe scores to 1e-9 before it is saved and whenever it is loaded.

The card is written last, by an atomic rename: it is the commit point. A crash at any moment
leaves either the old card pointing at the old (untouched) model, or the new card pointing at the
new, complete model; never a card that vouches for a half-written file.

A joblib file is a pickle, and a pickle is code: load only models from a source you trust. The
loader never unpickles a file whose sha256 differs from its card's, nor a pipeline built with
another scikit-learn, and it checks what it loaded against the probe scores recorded at training
time, so a code or library change that silently alters the scores is refused too.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import tempfile
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from hatespeech.compiled import CompiledModel, to_arrays
from hatespeech.labels import LABELS

CARD_FORMAT = "hatespeech-detect/model-card"
CARD_VERSION = 2  # 2: the model file holds the pipeline and its compiled form
FILE_FORMAT = "hatespeech-detect/model"
TOLERANCE = 1e-9  # how far the compiled form may be from the pipeline, on any probe
PROBES: tuple[str, ...] = (  # scored at training time; every load must score them the same
    "Please respect each other.",
    "What a lovely day for a walk in the park",
    "shut up you stupid idiot",
    "@someone check this out http://example.com #news",
)
# Also checked between the pipeline and its compiled form before saving: odd texts too.
CHECKS = (*PROBES, "", "!!!", "\x00 \ud800 😀 &amp; @user https://t.co/x #tag", "ha " * 2000, "ha ha HA hahaha ha")
RETRAIN = (
    "Retrain it with `python train.py` (see README, 'Retrain'), "
    "or install the pinned versions with `pip install -r requirements.txt`."
)


class ModelError(RuntimeError):
    """The model cannot be trusted or used; the message says why and what to do."""


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for dist in ("scikit-learn", "numpy", "scipy", "joblib", "stop-words"):
        versions[dist] = metadata.version(dist)
    return versions


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomically(path: Path, data: bytes) -> None:
    """Write to a temp file in the same folder, fsync it, then rename over ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def probe_scores(model: Any, texts: Sequence[str] = PROBES) -> list[list[float]]:
    """``model.predict_proba`` (a Pipeline's or a CompiledModel's) as plain lists."""
    return [[float(p) for p in row] for row in model.predict_proba(list(texts))]


def compile_checked(pipeline: Any) -> dict[str, Any]:
    """The pipeline's compiled form, after checking that it scores ``CHECKS`` as the pipeline does."""
    arrays = to_arrays(pipeline)
    compiled = CompiledModel(arrays)
    expected = pipeline.predict_proba(list(CHECKS))
    for text, row in zip(CHECKS, expected, strict=True):
        for got in (compiled.proba_one(text), compiled.predict_proba([text])[0]):
            if not np.allclose(got, row, rtol=0, atol=TOLERANCE):
                raise ModelError(f"the compiled model scores {text!r} as {list(got)}, the pipeline as {list(row)}")
    return arrays


def save_model(model: Any, card: dict[str, Any], card_path: Path) -> dict[str, Any]:
    """Write the fitted pipeline, its compiled form and its card atomically; return the card as written."""
    card_path = Path(card_path)
    pipeline = io.BytesIO()
    joblib.dump(model, pipeline)
    contents = {"format": FILE_FORMAT, "pipeline": pipeline.getvalue(), "compiled": compile_checked(model)}
    card_path.parent.mkdir(parents=True, exist_ok=True)
    for leftover in card_path.parent.glob(".model-*.tmp"):  # from a run killed mid-write
        leftover.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(dir=card_path.parent, prefix=".model-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            joblib.dump(contents, f, compress=3)
            f.flush()
            os.fsync(f.fileno())
        data = Path(tmp).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        model_path = card_path.parent / f"model-{digest[:12]}.joblib"
        os.replace(tmp, model_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(card_path.parent)

    full = {
        "format": CARD_FORMAT,
        "format_version": CARD_VERSION,
        "labels": list(LABELS),
        "model_file": model_path.name,
        "sha256": digest,
        "size_bytes": len(data),
        "libraries": library_versions(),
        **card,
        "probes": [{"text": t, "scores": s} for t, s in zip(PROBES, probe_scores(model), strict=False)],
    }
    _write_atomically(card_path, (json.dumps(full, indent=2) + "\n").encode())

    # The new card is in place: model files no card points to any more can go.
    for old in card_path.parent.glob("model-*.joblib"):
        if old != model_path and not _referenced_elsewhere(old, card_path):
            old.unlink(missing_ok=True)
    return full


def _referenced_elsewhere(model_path: Path, card_path: Path) -> bool:
    for other in model_path.parent.glob("*.json"):
        if other == card_path:
            continue
        try:
            if json.loads(other.read_text()).get("model_file") == model_path.name:
                return True
        except (OSError, ValueError, AttributeError):
            continue
    return False


def read_card(card_path: Path) -> dict[str, Any]:
    card_path = Path(card_path)
    if card_path.is_dir():
        card_path = card_path / "model.json"
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"No model card at {card_path}. {RETRAIN}") from None
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise ModelError(f"The model card {card_path} is not readable JSON ({err}). {RETRAIN}") from None
    if not isinstance(card, dict) or card.get("format") != CARD_FORMAT:
        raise ModelError(f"{card_path} is not a hatespeech-detect model card. {RETRAIN}")
    if card.get("format_version") != CARD_VERSION:
        raise ModelError(
            f"{card_path} has card format {card.get('format_version')!r}; this code reads "
            f"version {CARD_VERSION}. {RETRAIN}"
        )
    return card


def _contents(card_path: Path) -> tuple[dict[str, Any], dict[str, Any], Path]:
    """The card, the unpickled model file (a dict) and its path, after the card and sha256 checks."""
    card_path = Path(card_path)
    if card_path.is_dir():
        card_path = card_path / "model.json"
    card = read_card(card_path)
    model_path = card_path.parent / str(card.get("model_file", ""))
    try:
        data = model_path.read_bytes()
    except OSError as err:
        raise ModelError(f"The model file named by {card_path} cannot be read: {err}. {RETRAIN}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != card.get("sha256"):
        raise ModelError(
            f"{model_path} does not match its card: sha256 {digest}, the card says "
            f"{card.get('sha256')} (size {len(data)} bytes, the card says {card.get('size_bytes')}). "
            f"The file is truncated, corrupted or from another model; refusing to load it. {RETRAIN}"
        )
    if card.get("labels") != list(LABELS):
        raise ModelError(f"{card_path} names the labels {card.get('labels')}, not {list(LABELS)}. {RETRAIN}")
    _same_version(card, "numpy", model_path, lambda a, b: a.split(".")[0] == b.split(".")[0])
    try:
        contents = joblib.load(io.BytesIO(data))
    except Exception as err:  # noqa: BLE001 (any unpickling failure means the same to the user)
        raise ModelError(f"{model_path} could not be unpickled ({type(err).__name__}: {err}). {RETRAIN}") from None
    if not isinstance(contents, dict) or contents.get("format") != FILE_FORMAT:
        raise ModelError(f"{model_path} is not a hatespeech-detect model file. {RETRAIN}")
    return card, contents, model_path


def _same_version(card: dict[str, Any], dist: str, model_path: Path, same: Any) -> None:
    built, here = card.get("libraries", {}), metadata.version(dist)
    if not same(str(built.get(dist)), here):
        raise ModelError(
            f"{model_path} was built with {dist} {built.get(dist)}, but {here} is installed; "
            f"a pickled model is only reliable with the versions it was built with. {RETRAIN}"
        )


def _check_probes(model: Any, card: dict[str, Any], model_path: Path) -> None:
    probes = card.get("probes") or []
    got = probe_scores(model, [p["text"] for p in probes]) if probes else []
    for probe, scores in zip(probes, got, strict=False):
        if not np.allclose(scores, probe["scores"], rtol=0, atol=TOLERANCE):
            raise ModelError(
                f"{model_path} loads, but scores the probe {probe['text']!r} as {scores} where its "
                f"card recorded {probe['scores']}: this code or the installed libraries compute differently "
                f"from when it was trained. {RETRAIN}"
            )


def load_compiled(card_path: Path) -> tuple[CompiledModel, dict[str, Any]]:
    """The compiled model its card vouches for (what the service scores with), or ModelError saying why not.

    Checks the card, the file's sha256 and the NumPy version before unpickling, the probe scores
    after. Never imports scikit-learn: the pipeline stays pickled, as bytes.
    """
    card, contents, model_path = _contents(card_path)
    try:
        model = CompiledModel(contents["compiled"])
    except (KeyError, TypeError, ValueError) as err:
        raise ModelError(f"{model_path} holds no usable compiled model ({err}). {RETRAIN}") from None
    _check_probes(model, card, model_path)
    return model, card


def load_model(card_path: Path) -> tuple[Any, dict[str, Any]]:
    """The fitted scikit-learn Pipeline its card vouches for, or ModelError saying why not.

    Checks, in order, before anything is unpickled: the card, the model file's size and sha256,
    and the scikit-learn and NumPy versions; after: the classes and the probe scores.
    """
    card, contents, model_path = _contents(card_path)
    _same_version(card, "scikit-learn", model_path, lambda a, b: a == b)
    from sklearn.pipeline import Pipeline  # here, not at the top: serving never needs it

    try:
        model = joblib.load(io.BytesIO(contents["pipeline"]))
    except Exception as err:  # noqa: BLE001
        raise ModelError(f"{model_path} could not be unpickled ({type(err).__name__}: {err}). {RETRAIN}") from None
    if not isinstance(model, Pipeline) or list(getattr(model, "classes_", [])) != list(range(len(LABELS))):
        raise ModelError(f"{model_path} is not a hatespeech-detect pipeline over the classes {LABELS}. {RETRAIN}")
    _check_probes(model, card, model_path)
    return model, card
