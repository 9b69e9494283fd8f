"""Saving a trained model (atomically, with its card) and loading the fitted pipeline back.

Three files, the card written last by an atomic rename (the commit point): a crash at any moment
leaves either the old card pointing at the old, untouched files, or the new card pointing at new,
complete ones (see ``hatespeech.core.modelfile`` for what they are and how they are checked).

Every model is kept: beside the card named by the caller, a copy named by its model's hash
(``card-<sha256[:12]>.json``, the history ``model.py list`` reads), and a card about to be replaced
is copied to its own such name first. The same inputs and settings give the same bytes (the model
files' names and sha256); the card's ``created_at`` and timings differ, and its ``sha256`` covers
the model file, not them.
"""

from __future__ import annotations

import io
import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

import joblib

from hatespeech.core.files import write_atomically
from hatespeech.core.labels import LABELS
from hatespeech.core.modelfile import (
    CARD_FORMAT,
    CARD_VERSION,
    PROBES,
    RETRAIN,
    ModelError,
    card_path_of,
    check_probes,
    decision_sha256,
    probe_scores,
    read_card,
    read_vouched,
    sha256_bytes,
    to_npz,
)
from hatespeech.training.compile import compile_checked


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for dist in ("scikit-learn", "numpy", "scipy", "joblib", "stop-words"):
        versions[dist] = metadata.version(dist)
    return versions


def history_name(sha256: str) -> str:
    """The name of a model's card in the history: from its model file's hash, so it never changes."""
    return f"card-{sha256[:12]}.json"


def _forget_addresses(model: Any) -> None:
    # subtle: scikit-learn's TfidfVectorizer keeps id(stop_words), a memory address, to skip checking
    # them again; pickled, it made every retraining's pipeline file differ. Without it, the check runs
    # once more after loading.
    for part in [model, *model.get_params(deep=True).values()]:
        if hasattr(part, "_stop_words_id"):
            del part._stop_words_id


def _keep_replaced(card_path: Path) -> None:
    """Copy the card about to be replaced to its history name, so its model stays listed and its files kept."""
    try:
        old = json.loads(card_path.read_text())
        name = history_name(str(old["sha256"]))
    except (OSError, ValueError, KeyError, TypeError):
        return
    if name != card_path.name and not (card_path.parent / name).exists():
        write_atomically(card_path.parent / name, card_path.read_bytes())


def save_model(model: Any, card: dict[str, Any], card_path: Path) -> dict[str, Any]:
    """Write the fitted pipeline, its compiled form and its card atomically; return the card as written."""
    card_path = Path(card_path)
    folder = card_path.parent
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(folder.stat().st_mode | 0o755)  # readable by others, like the files in it
    compiled = to_npz(compile_checked(model))
    _forget_addresses(model)
    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=3)
    pipeline = buffer.getvalue()
    digest, pipeline_digest = sha256_bytes(compiled), sha256_bytes(pipeline)
    model_path = folder / f"model-{digest[:12]}.npz"
    pipeline_path = folder / f"pipeline-{pipeline_digest[:12]}.joblib"
    write_atomically(model_path, compiled)
    write_atomically(pipeline_path, pipeline)

    full = {
        "format": CARD_FORMAT,
        "format_version": CARD_VERSION,
        "labels": list(LABELS),
        "model_file": model_path.name,
        "sha256": digest,
        "size_bytes": len(compiled),
        "pipeline_file": pipeline_path.name,
        "pipeline_sha256": pipeline_digest,
        "libraries": library_versions(),
        **card,
        "probes": [{"text": t, "scores": s} for t, s in zip(PROBES, probe_scores(model), strict=True)],
    }
    full["decision_sha256"] = decision_sha256(full)
    written = (json.dumps(full, indent=2) + "\n").encode()
    _keep_replaced(card_path)
    write_atomically(folder / history_name(digest), written)
    write_atomically(card_path, written)

    # The new card is in place: model files no card points to any more can go.
    kept = _referenced(folder) | {full["model_file"], full["pipeline_file"]}  # this card's, whatever its name
    for old in [*folder.glob("model-*.npz"), *folder.glob("pipeline-*.joblib"), *folder.glob("model-*.joblib")]:
        if old.name not in kept:
            old.unlink(missing_ok=True)
    for leftover in folder.glob(".*.tmp"):  # from a run killed mid-write
        leftover.unlink(missing_ok=True)
    return full


def _referenced(folder: Path) -> set[str]:
    """The file names that some card in ``folder`` points to."""
    names: set[str] = set()
    for other in folder.glob("*.json"):
        try:
            card = json.loads(other.read_text())
            names |= {str(card.get("model_file")), str(card.get("pipeline_file"))}
        except (OSError, ValueError, AttributeError):
            continue
    return names


def load_pipeline(path: Path) -> tuple[Any, dict[str, Any]]:
    """The fitted scikit-learn Pipeline its card vouches for (training, tests, benchmarks), or ``ModelError``.

    Checks the card, the file's sha256 and the scikit-learn version before unpickling (a pickle is
    code: only files whose hash the card records), the classes and probe scores after.
    """
    card_path = card_path_of(path)
    card = read_card(card_path)
    name, digest = str(card.get("pipeline_file", "")), str(card.get("pipeline_sha256", ""))
    if not name.startswith("pipeline-") or "/" in name:
        raise ModelError(f"The model card {card_path} names no pipeline file. {RETRAIN}")
    built, here = card["libraries"].get("scikit-learn"), metadata.version("scikit-learn")
    if built != here:
        raise ModelError(
            f"{card_path} was built with scikit-learn {built}, but {here} is installed; a pickled pipeline is only "
            f"reliable with the versions it was built with. {RETRAIN}"
        )
    data = read_vouched(card_path, name, digest, None)
    from sklearn.pipeline import Pipeline

    try:
        model = joblib.load(io.BytesIO(data))
    except Exception as err:  # noqa: BLE001 (any unpickling failure means the same to the user)
        raise ModelError(f"{name} could not be unpickled ({type(err).__name__}: {err}). {RETRAIN}") from None
    if not isinstance(model, Pipeline) or list(getattr(model, "classes_", [])) != list(range(len(LABELS))):
        raise ModelError(f"{name} is not a hatespeech-detect pipeline over the classes {LABELS}. {RETRAIN}")
    check_probes(model, card, card_path.parent / name)
    return model, card
