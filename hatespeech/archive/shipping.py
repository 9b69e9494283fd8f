"""What a Dask run sends to its workers, and how a worker takes it: the code and the model.

- The code: the serving core and the archive code as a zip (``ship_code``: ``Client.upload_file``,
  registered as a plugin, so a worker that joins or restarts later gets it too). A worker needs
  only the serving requirements plus Dask, not the project.
- The model: its card and arrays as bytes, with the thresholds (``model_payload``), scattered to
  every worker once; each worker process verifies and loads it once (``loaded_model``: hashes,
  probe scores) and keeps it for every task of the run.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import hatespeech
from hatespeech.archive.score import languages_for, model_for
from hatespeech.config import Settings
from hatespeech.core.classifier import Classifier
from hatespeech.core.modelfile import ModelError, card_path_of
from hatespeech.core.moderator import Languages
from hatespeech.core.policy import Policy

LANGUAGES = "languages"  # the folder of the other languages' models, in the payload's files and on a worker
SHIPPED = ("__init__.py", "config.py", "core", "archive")  # what the workers import (no training, no service)


# --- the model -----------------------------------------------------------------------------------------


def model_payload(settings: Settings) -> dict[str, Any]:
    """The model's files (as bytes) and the settings the workers score with; loaded and verified here first."""
    classifier, _ = model_for(settings)  # a bad model or THRESHOLDS fails here, not on every worker
    languages = languages_for(settings)  # …and a bad language model
    card = card_path_of(settings.model_path)
    files = {card.name: card.read_bytes()}
    for name in _model_files(classifier.card):
        files[name] = (card.parent / name).read_bytes()
    for judge in languages.judges.values():  # under languages/, each card beside its compiled model
        folder = settings.language_models_dir
        for name in (_card_name(folder, judge.classifier.card), *_model_files(judge.classifier.card)):
            files[f"{LANGUAGES}/{name}"] = (folder / name).read_bytes()
    digest = hashlib.sha256()
    for name, data in sorted(files.items()):
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    digest.update(json.dumps(settings.thresholds, sort_keys=True).encode())
    digest.update(settings.unsupported_language_action.encode())
    return {
        "key": digest.hexdigest(),
        "files": files,
        "card": card.name,
        "thresholds": settings.thresholds,
        "unsupported_language_action": settings.unsupported_language_action,
    }


def _card_name(folder: Path, card: dict[str, Any]) -> str:
    """The file name of the card in ``folder`` that names ``card``'s model file."""
    for path in sorted(folder.glob("*.json")):
        if json.loads(path.read_text(encoding="utf-8")).get("sha256") == card["sha256"]:
            return path.name
    raise ModelError(f"no card in {folder} names the model {card['sha256'][:12]} any more: was it replaced?")


def _model_files(card: dict[str, Any]) -> list[str]:
    """The files beside the card that loading it opens: the compiled model's arrays (never the pipeline)."""
    return [card["model_file"]]


_loaded: dict[str, tuple[Classifier, Policy, Languages]] = {}  # per worker process: the run's models, loaded once


def loaded_model(payload: dict[str, Any]) -> tuple[Classifier, Policy, Languages]:
    """On a worker: the classifier, policy and other languages' models of ``model_payload``'s answer, verified
    once per process."""
    key = payload["key"]
    if key not in _loaded:
        # In the worker's own scratch folder: a worker killed mid-load leaves it where Dask clears dead workers'
        # folders, not in /tmp for good. Loading reads it all.
        with tempfile.TemporaryDirectory(prefix="hatespeech-model-", dir=_scratch()) as folder:
            (Path(folder) / LANGUAGES).mkdir()
            for name, data in payload["files"].items():
                (Path(folder) / name).write_bytes(data)
            classifier = Classifier.load(Path(folder) / payload["card"])  # checks hashes, versions, probes
            action = payload.get("unsupported_language_action", "allow")
            languages = Languages.load(Path(folder) / LANGUAGES, action)  # each checked the same way
        _loaded.clear()  # a worker that served an earlier run keeps only this run's model
        _loaded[key] = (classifier, Policy.from_card(classifier.card, payload["thresholds"]), languages)
        # In the worker's log (Dask's logger is the one a worker prints): once per process and run.
        logging.getLogger("distributed.worker").info("hatespeech: model %s loaded and verified", key[:12])
    return _loaded[key]


def _scratch() -> str | None:
    """This Dask worker's scratch folder, or None (the system's temporary folder) outside a worker."""
    from distributed import get_worker

    try:
        return get_worker().local_directory
    except ValueError:  # not in a worker
        return None


# --- the code ------------------------------------------------------------------------------------------


def package_zip(folder: Path) -> Path:
    """The serving core and the archive code as a zip in ``folder``, named by its contents (what the workers import)."""
    root = Path(hatespeech.__file__).resolve().parent
    files = sorted(
        path
        for name in SHIPPED
        for path in ([root / name] if (root / name).is_file() else (root / name).rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts  # the code and its data (core/confusables.json)
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in files:
            info = zipfile.ZipInfo(str(path.relative_to(root.parent)), date_time=(1980, 1, 1, 0, 0, 0))
            zf.writestr(info, path.read_bytes())  # fixed dates: the same code gives the same name
    data = buffer.getvalue()
    path = folder / f"hatespeech-{hashlib.sha256(data).hexdigest()[:12]}.zip"
    path.write_bytes(data)
    return path


def ship_code(client: Any) -> None:
    """Send the code to every worker (and to any that joins later): workers need NumPy and Dask, not the project."""

    def forget(name: str) -> None:  # runs on the workers: drop another version of the code loaded before
        if any(name in entry for entry in sys.path):
            return
        for module in [m for m in sys.modules if m == "hatespeech" or m.startswith("hatespeech.")]:
            del sys.modules[module]
        sys.path[:] = [entry for entry in sys.path if not Path(entry).name.startswith("hatespeech-")]

    # upload_file sends the bytes (and keeps them for workers that join later): the file is not needed after.
    with tempfile.TemporaryDirectory(prefix="hatespeech-ship-") as folder:
        package = package_zip(Path(folder))
        client.run(forget, package.name)
        client.upload_file(str(package))
