"""Reading a model: the card that vouches for it, then the arrays it vouches for. No pickle.

    models/model.json                   the card: metrics, data hash, library versions, the files'
                                        names and sha256, the decision rule, thresholds, probe scores
    models/model-<sha256[:12]>.npz      the compiled model (``hatespeech.core.model``): plain arrays,
                                        what the service loads (``numpy.load(allow_pickle=False)``)
    models/pipeline-<sha256[:12]>.joblib  the fitted scikit-learn pipeline, the source of truth for
                                        retraining and the equivalence tests; serving never opens it

A model file is never loaded blindly. Before anything is used: the card's fields and types, the
file's size and sha256, the card's own decision rule and thresholds against the hash recorded when
it was written (an edited card is refused: set ``THRESHOLDS`` instead), the NumPy version; after:
the probe scores recorded at training time, to 1e-9, so a code or library change that silently
alters the scores is refused too. Writing is ``hatespeech.training.save``: the card is written
last, by an atomic rename, so a crash never leaves a card that vouches for a half-written file.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from hatespeech.core.labels import ABUSIVE, LABELS
from hatespeech.core.model import CompiledModel

CARD_FORMAT = "hatespeech-detect/model-card"
CARD_VERSION = 3  # 3: the compiled model in .npz (no pickle), the pipeline in its own file
TOLERANCE = 1e-9  # how far the compiled form may be from the pipeline, on any probe
PROBES: tuple[str, ...] = (  # scored at training time; every load must score them the same
    "Please respect each other.",
    "What a lovely day for a walk in the park",
    "shut up you stupid idiot",
    "@someone check this out http://example.com #news",
)
# Also checked between the pipeline and its compiled form before saving: odd texts too.
CHECKS = (*PROBES, "", "!!!", "\x00 \ud800 😀 &amp; @user https://t.co/x #tag", "ha " * 2000, "ha ha HA hahaha ha")
RETRAIN = "Retrain it with `python train.py` (docs/model.md, 'Retrain')."
_FILE_NAME = re.compile(r"model-[0-9a-f]{12}\.npz")  # a bare name in the card's folder: no path in it
_SHA256 = re.compile(r"[0-9a-f]{64}")


class ModelError(RuntimeError):
    """The model cannot be trusted or used; the message says why and what to do."""


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decision_sha256(card: Mapping[str, Any]) -> str:
    """The hash of the card's decision rule and thresholds, as written; an edit changes it."""
    chosen = {"decision_rule": card.get("decision_rule"), "thresholds": card.get("thresholds")}
    return sha256_bytes(json.dumps(chosen, sort_keys=True, separators=(",", ":")).encode())


def to_npz(arrays: Mapping[str, Any]) -> bytes:
    """The compiled model's arrays as ``.npz`` bytes: arrays as arrays, scalars in one JSON string."""
    meta = {k: v for k, v in arrays.items() if isinstance(v, str | bool | int | float)}
    data = {k: np.asarray(v) for k, v in arrays.items() if k not in meta}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, allow_pickle=False, __meta__=np.array(json.dumps(meta, sort_keys=True)), **data)
    return buffer.getvalue()


def from_npz(data: bytes) -> dict[str, Any]:
    """``to_npz``'s inverse, without unpickling anything."""
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        arrays: dict[str, Any] = {k: npz[k] for k in npz.files if k != "__meta__"}
        meta = json.loads(str(npz["__meta__"]))
    return {**arrays, **meta}


def _need(card: Mapping[str, Any], key: str, kind: type | tuple[type, ...], what: str, where: Path) -> Any:
    value = card.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ModelError(f"The model card {where} has no valid {key!r} ({what}; found {value!r:.80}). {RETRAIN}")
    return value


def check_card(card: object, where: Path) -> dict[str, Any]:
    """The card, if every field the service relies on is there with the right type; else ``ModelError`` naming it."""
    if not isinstance(card, dict) or card.get("format") != CARD_FORMAT:
        raise ModelError(f"{where} is not a hatespeech-detect model card. {RETRAIN}")
    if card.get("format_version") != CARD_VERSION:
        raise ModelError(
            f"{where} has card format {card.get('format_version')!r}; this code reads version {CARD_VERSION}. {RETRAIN}"
        )
    if card.get("labels") != list(LABELS):
        raise ModelError(f"{where} names the labels {card.get('labels')}, not {list(LABELS)}. {RETRAIN}")
    name = _need(card, "model_file", str, "the model file's name", where)
    if not _FILE_NAME.fullmatch(name):
        raise ModelError(f"The model card {where} names the model file {name!r:.80}, not model-<hash>.npz. {RETRAIN}")
    if not _SHA256.fullmatch(_need(card, "sha256", str, "the model file's sha256", where)):
        raise ModelError(f"The model card {where} has a malformed 'sha256'. {RETRAIN}")
    _need(card, "size_bytes", int, "the model file's size", where)
    _need(card, "version", str, "the service version that wrote it", where)
    libraries = _need(card, "libraries", dict, "the library versions it was built with", where)
    if not isinstance(libraries.get("numpy"), str):
        raise ModelError(f"The model card {where} does not say which NumPy built it. {RETRAIN}")
    rule = _need(card, "decision_rule", dict, "the decision rule", where)
    weights = rule.get("weights")
    if not isinstance(weights, list) or len(weights) != len(LABELS) or not all(_number(w) and w > 0 for w in weights):
        raise ModelError(f"The model card {where} has no valid decision rule weights ({weights!r:.80}). {RETRAIN}")
    thresholds = _need(card, "thresholds", dict, "the review and block thresholds", where)
    for label in ABUSIVE:
        t = thresholds.get(label)
        if not isinstance(t, dict) or not all(_number(t.get(k)) and 0 <= t[k] <= 1 for k in ("review", "block")):
            raise ModelError(f"The model card {where} has no valid thresholds for {label!r}. {RETRAIN}")
    if card.get("decision_sha256") != decision_sha256(card):
        raise ModelError(
            f"The decision rule or thresholds in {where} are not those it was written with (decision_sha256 "
            "differs): the card was edited. Restore it, or set THRESHOLDS in the environment instead."
        )
    probes = _need(card, "probes", list, "the probe scores recorded at training", where)
    for probe in probes:
        scores = probe.get("scores") if isinstance(probe, dict) else None
        if not isinstance(probe.get("text") if isinstance(probe, dict) else None, str) or not (
            isinstance(scores, list) and len(scores) == len(LABELS) and all(map(_number, scores))
        ):
            raise ModelError(f"The model card {where} has a malformed probe ({probe!r:.80}). {RETRAIN}")
    if not probes:
        raise ModelError(f"The model card {where} records no probe scores. {RETRAIN}")
    return card


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def card_path_of(path: Path) -> Path:
    """``MODEL_PATH`` may name the card or its folder."""
    path = Path(path)
    return path / "model.json" if path.is_dir() else path


def read_card(path: Path) -> dict[str, Any]:
    """The checked card at ``path`` (the card or its folder), or ``ModelError`` saying what is wrong."""
    card_path = card_path_of(path)
    if card_path.suffix in (".npz", ".joblib"):  # the model's own file: the card beside it vouches for it
        cards = sorted(card_path.parent.glob("*.json"))
        beside = f"the card beside it, {cards[0]}" if len(cards) == 1 else "its card (the .json file beside it)"
        raise ModelError(
            f"{card_path} is a model file, not a model card: point MODEL_PATH at {beside}, or at its folder. "
            "Nothing needs retraining."
        )
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"No model card at {card_path}. {RETRAIN}") from None
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise ModelError(f"The model card {card_path} is not readable JSON ({err}). {RETRAIN}") from None
    return check_card(card, card_path)


def read_vouched(card_path: Path, name: str, sha256: str, size: int | None) -> bytes:
    """The bytes of the file ``name`` beside the card, if its sha256 is the one the card records."""
    path = card_path.parent / name
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ModelError(f"The file {path} named by {card_path} cannot be read: {err}. {RETRAIN}") from None
    _check_digest(path, sha256_bytes(data), len(data), sha256, size)
    return data


def check_vouched(card_path: Path, name: str, sha256: str, size: int | None) -> None:
    """``read_vouched``'s check, the file hashed as it is read (a few pages at a time): nothing of it is kept (the
    whole file read and freed left ~5 MB per file in the process's heap)."""
    path = card_path.parent / name
    try:
        with path.open("rb") as file:
            digest = hashlib.file_digest(file, "sha256").hexdigest()
            length = file.tell()
    except OSError as err:
        raise ModelError(f"The file {path} named by {card_path} cannot be read: {err}. {RETRAIN}") from None
    _check_digest(path, digest, length, sha256, size)


def _check_digest(path: Path, digest: str, length: int, sha256: str, size: int | None) -> None:
    if digest != sha256:
        raise ModelError(
            f"{path} does not match its card: sha256 {digest}, the card says {sha256} (size {length} bytes, "
            f"the card says {size}). The file is truncated, corrupted or from another model; refusing it. {RETRAIN}"
        )


def probe_scores(model: Any, texts: Sequence[str] = PROBES) -> list[list[float]]:
    """``model.predict_proba`` (a Pipeline's or a CompiledModel's) as plain lists."""
    return [[float(p) for p in row] for row in model.predict_proba(list(texts))]


def check_probes(model: Any, card: Mapping[str, Any], where: Path) -> None:
    """``ModelError`` unless ``model`` scores the card's probes as recorded, to ``TOLERANCE``."""
    probes = card["probes"]
    for probe, scores in zip(probes, probe_scores(model, [p["text"] for p in probes]), strict=True):
        if not np.allclose(scores, probe["scores"], rtol=0, atol=TOLERANCE):
            raise ModelError(
                f"{where} loads, but scores the probe {probe['text']!r} as {scores} where its card recorded "
                f"{probe['scores']}: this code or the installed libraries compute differently from when it was "
                f"trained. {RETRAIN}"
            )


def load_compiled(path: Path, warm: bool = True) -> tuple[CompiledModel, dict[str, Any]]:
    """The compiled model its card vouches for (what the service scores with), or ``ModelError`` saying why not;
    ``warm``: its caches filled now (``CompiledModel``)."""
    card_path = card_path_of(path)
    card = read_card(card_path)
    data = read_vouched(card_path, card["model_file"], card["sha256"], card["size_bytes"])
    return _compiled(card, data, card_path.parent / card["model_file"], warm), card


def compiled_from(card: dict[str, Any], data: bytes, where: Path | str, warm: bool = True) -> CompiledModel:
    """The compiled model in ``data`` (a ``.npz``'s bytes, from a file or a database), if the checked ``card``
    vouches for it: its sha256, the NumPy version, the probe scores; else ``ModelError`` naming ``where``."""
    digest = sha256_bytes(data)
    if digest != card["sha256"]:
        raise ModelError(f"{where} does not match its card: sha256 {digest}, the card says {card['sha256']}.")
    return _compiled(card, data, where, warm)


@cache
def _numpy_version() -> str:
    return metadata.version("numpy")  # the installed distribution's, read from its metadata once (a few ms)


def _compiled(card: dict[str, Any], data: bytes, where: Path | str, warm: bool) -> CompiledModel:
    """``compiled_from`` for ``data`` whose sha256 has been checked against ``card``'s (``read_vouched``)."""
    built, here = card["libraries"]["numpy"], _numpy_version()
    if built.split(".")[0] != here.split(".")[0]:
        raise ModelError(f"{where} was built with NumPy {built}, but {here} is installed. {RETRAIN}")
    try:
        model = CompiledModel(from_npz(data), warm)
    except (KeyError, TypeError, ValueError, OSError) as err:
        raise ModelError(f"{where} holds no usable compiled model ({err}). {RETRAIN}") from None
    check_probes(model, card, Path(where))
    return model
