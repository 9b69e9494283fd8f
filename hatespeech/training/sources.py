"""The training data as a declared set of sources (``sources.toml``): read, checked, put in one form, deduplicated.

Each source's file is found by the manifest's paths (relative to the repository, or absolute), refused
if its sha256 differs, and its labels mapped to ours. Two things keep the model from learning *which
source* a text comes from instead of its class:

- ``harmonise`` (the manifest's ``[training]``, a ``Recipe``): every fit trains on its texts in the form
  HateXplain was published in (``plain``): lower case, no links, @mentions, punctuation, emoji or
  numbers, the placeholder words of the annotators' tokenizer (``user``, ``number``) dropped. A
  training-time option recorded in the card: the pipeline, and so how the service reads a post, is
  unchanged (the committed model scores exactly as before), and every evaluation scores the texts as
  the files have them, as the service would;
- a text found in more than one source (compared in that plain form) is not trained on at all: two
  sources' copies would leak across a leave-one-source-out evaluation, and may disagree on the label.

Rows of a source's ``held_out`` split (HateXplain's ``val``) are never trained on, only scored.
"""

from __future__ import annotations

import hashlib
import html
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hatespeech.config import ROOT
from hatespeech.core.labels import LABELS
from hatespeech.training import reweigh
from hatespeech.training.augment import counterfactuals
from hatespeech.training.data import DataError, Dataset, read_labelled_csv, sha256_of
from hatespeech.training.pipeline import SEED, Prepare

MANIFEST = Path(__file__).with_name("sources.toml")
FORMS = ("raw", "plain")

_LINK_OR_MENTION = re.compile(r"(?:https?://|www\.)\S+|(?<!\w)@\w+", re.IGNORECASE)
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Source:
    """One ``[[source]]`` of the manifest."""

    name: str
    title: str
    licence: str
    paths: tuple[str, ...]
    sha256: str
    text: str  # the text column
    label: str  # the label column
    labels: dict[str, int]  # the file's label → index into LABELS
    weight: float = 1.0
    form: str = "raw"  # "plain": published lower-cased without punctuation (see ``plain``)
    placeholders: tuple[str, ...] = ()
    counts: tuple[str, ...] = ()  # annotator-count columns, in LABELS order: rows weighted by agreement
    held_out: tuple[str, str] | None = None  # (column, value) of rows only scored
    origin: str = ""  # where the file comes from, said when it is missing

    def find(self, root: Path = ROOT) -> Path:
        """The first of ``paths`` that is a file, else ``DataError`` naming them all."""
        for path in self.paths:
            if (root / path).is_file():
                return root / path
        places = " nor ".join(str(root / p) for p in self.paths)
        raise DataError(f"source {self.name}: no file at {places}.\n\n{self.origin}\nExpected sha256: {self.sha256}")


@dataclass(frozen=True)
class Recipe:
    """How every fit prepares its training rows (the manifest's ``[training]`` table, recorded in the card)."""

    harmonise: bool = False  # train on ``plain`` texts
    placeholders: tuple[str, ...] = ()  # dropped from every text when harmonising
    copies: int = 0  # counterfactual copies per clean training row that names a group (``augment``)
    copy_weight: float = 0.5  # each copy's weight, × its row's
    copy_every_class: bool = False  # copy abusive rows too, not only clean ones
    dialect_balance: float = 0.0  # reweighing strength, 0 to 1: labels made independent of dialect (``reweigh``)

    def prepare(self) -> Prepare | None:
        """What ``pipeline.preparing`` applies to each fit's rows; None when there is nothing to do."""
        if not self.harmonise and self.copies == 0 and not self.dialect_balance:
            return None

        def prepare(
            texts: list[str], labels: np.ndarray, weights: np.ndarray
        ) -> tuple[list[str], np.ndarray, np.ndarray]:
            if self.dialect_balance:  # on the texts as written: the dialect model reads them so
                groups = reweigh.aae_aligned(texts)
                weights = weights * reweigh.factors(groups, labels, weights, self.dialect_balance)
            if self.harmonise:
                texts = [plain(t, self.placeholders) for t in texts]
            if self.copies:
                texts, labels, weights = counterfactuals(
                    texts, labels, weights, self.copies, self.copy_weight, SEED, self.copy_every_class
                )
            return texts, labels, weights

        return prepare

    def card(self) -> dict[str, Any]:
        return {
            "form": "plain (lower case, no links, mentions, punctuation, emoji or numbers)"
            if self.harmonise
            else "as given",
            "placeholders_dropped": list(self.placeholders) if self.harmonise else [],
            "counterfactual_copies": self.copies,
            "counterfactual_weight": self.copy_weight if self.copies else None,
            "counterfactual_rows": "every class" if self.copy_every_class else "clean rows",
            "dialect_reweighing": self.dialect_balance,
        }


@dataclass(frozen=True)
class Manifest:
    sources: list[Source]
    recipe: Recipe
    path: Path


def read_manifest(path: Path = MANIFEST) -> Manifest:
    """The manifest's sources and recipe; ``DataError`` naming the source and key for a bad one."""
    try:
        with open(path, "rb") as f:
            manifest = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise DataError(f"cannot read the sources manifest {path}: {err}") from None
    entries = manifest.get("source", [])
    sources = []
    for entry in entries:
        name = entry.get("name", "?")
        try:
            labels = {str(k): LABELS.index(v) for k, v in entry["labels"].items()}
            held = entry.get("held_out")
            source = Source(
                name=entry["name"],
                title=entry["title"],
                licence=entry["licence"],
                paths=tuple(entry["paths"]),
                sha256=entry["sha256"],
                text=entry["text"],
                label=entry["label"],
                labels=labels,
                weight=float(entry.get("weight", 1.0)),
                form=entry.get("form", "raw"),
                placeholders=tuple(entry.get("placeholders", ())),
                counts=tuple(entry.get("counts", ())),
                held_out=None if held is None else (held["column"], str(held["value"])),
                origin=entry.get("origin", ""),
            )
        except (KeyError, ValueError, TypeError) as err:
            raise DataError(f"{path}: source {name}: bad or missing {err}") from None
        if source.form not in FORMS or source.weight <= 0 or set(source.labels.values()) != set(range(len(LABELS))):
            raise DataError(f"{path}: source {name}: form must be one of {FORMS}, weight > 0, and every class mapped")
        sources.append(source)
    if len({s.name for s in sources}) != len(sources) or not sources:
        raise DataError(f"{path}: needs at least one source, each with its own name")
    training = manifest.get("training", {})
    recipe = Recipe(
        harmonise=bool(training.get("harmonise", False)),
        placeholders=tuple(dict.fromkeys(p for s in sources for p in s.placeholders)),
        copies=int(training.get("counterfactual_copies", 0)),
        copy_weight=float(training.get("counterfactual_weight", 0.5)),
        copy_every_class=bool(training.get("counterfactual_every_class", False)),
        dialect_balance=float(training.get("dialect_reweighing", 0.0)),
    )
    return Manifest(sources, recipe, path)


def plain(text: str, placeholders: tuple[str, ...] | frozenset[str] = ()) -> str:
    """``text`` in the form HateXplain was published in: lower case, links and @mentions removed, every
    character but ASCII letters and digits a space; then numbers and ``placeholders`` dropped (its
    ``number`` placeholder stands where a number was, ``user`` where a mention was).

    >>> plain("RT @bob: Sooo &amp; GOOD!!! 2 https://t.co/x 😀 user", ("user",))
    'rt sooo good'
    """
    text = _NOT_ALNUM.sub(" ", _LINK_OR_MENTION.sub(" ", html.unescape(html.unescape(text))).lower())
    drop = frozenset(placeholders)
    return " ".join(w for w in text.split() if w not in drop and not w.isdigit())


def as_hatexplain(text: str) -> str:
    """``text`` stripped as HateXplain's published copy was (lower case, no links, @mentions or any
    character but ASCII letters and digits; entities not decoded): to check that the model does not
    judge a post by that form. ``as_hatexplain("RT @a: So &amp; GOOD!")`` is ``'rt so amp good'``."""
    return " ".join(_NOT_ALNUM.sub(" ", _LINK_OR_MENTION.sub(" ", text).lower()).split())


@dataclass(frozen=True)
class Corpus:
    """Every source's rows, in manifest order, with which source each came from and whether it is trained on."""

    texts: list[str]  # as the files have them (a fit prepares its own: ``Recipe``)
    labels: np.ndarray
    weights: np.ndarray  # the source's weight × annotator agreement
    source: np.ndarray  # index into ``names``
    held_out: np.ndarray  # bool: only scored
    trained: np.ndarray  # bool: trained on (not held out, not a cross-source duplicate, not empty)
    names: list[str]
    recipe: Recipe
    card: list[dict[str, Any]] = field(default_factory=list)  # per source, for the model card

    def dataset(self, leave_out: str | None = None, path: Path = MANIFEST) -> Dataset:
        """The rows trained on (without source ``leave_out``) as one ``Dataset``; ``agreement`` holds the weights."""
        keep = self.trained & (self.source != self.names.index(leave_out) if leave_out else True)
        what = [(c["name"], c["sha256"], c["trained_rows"]) for c in self.card] + [self.recipe, leave_out]
        digest = hashlib.sha256(repr(what).encode())
        return Dataset(
            texts=[t for t, k in zip(self.texts, keep, strict=True) if k],
            labels=self.labels[keep],
            sha256=digest.hexdigest(),
            path=path,
            agreement=self.weights[keep],
            groups=self.source[keep],
        )

    def trained_sources(self, leave_out: str | None = None) -> np.ndarray:
        """The source of each row of ``dataset(leave_out)``, in its order."""
        keep = self.trained & (self.source != self.names.index(leave_out) if leave_out else True)
        return self.source[keep]

    def rows(self, name: str, held_out: bool | None = None) -> np.ndarray:
        """Indices of source ``name``'s rows (only the held-out ones, or only the others, if ``held_out`` is given)."""
        mask = self.source == self.names.index(name)
        if held_out is not None:
            mask &= self.held_out == held_out
        return np.flatnonzero(mask)


def _read(source: Source, root: Path) -> tuple[pd.DataFrame, Path, str]:
    path = source.find(root)
    digest = sha256_of(path)
    if digest != source.sha256:
        raise DataError(
            f"source {source.name}: {path} has sha256 {digest}, the manifest says {source.sha256}; "
            "the card's figures are about the declared file (fix the file, or the manifest if it changed on purpose)"
        )
    columns = (source.text, source.label, *source.counts) + (source.held_out[:1] if source.held_out else ())
    frame = read_labelled_csv(path, columns, f"See {MANIFEST.name}.", DataError, dtype=str)
    unknown = ~frame[source.label].isin(list(source.labels))
    if unknown.any():
        raise DataError(f"source {source.name}: {int(unknown.sum())} row(s) with a label not in the manifest's labels")
    return frame, path, digest


def load_corpus(manifest: Manifest | Path = MANIFEST, root: Path = ROOT) -> Corpus:
    """Read every source of ``manifest``; see the module's docstring."""
    if not isinstance(manifest, Manifest):
        manifest = read_manifest(manifest)
    sources, recipe = manifest.sources, manifest.recipe
    every_placeholder = frozenset(p for s in sources for p in s.placeholders)
    texts, labels, weights, which, held, cards = [], [], [], [], [], []
    for k, source in enumerate(sources):
        frame, path, digest = _read(source, root)
        given = frame[source.text].astype(str).tolist()
        y = frame[source.label].map(source.labels).to_numpy(dtype=int)
        w = np.full(len(frame), source.weight)
        if source.counts:
            counts = frame[list(source.counts)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
            w = w * counts[np.arange(len(y)), y] / counts.sum(axis=1)
        h = (
            (frame[source.held_out[0]] == source.held_out[1]).to_numpy()
            if source.held_out
            else np.zeros(len(frame), bool)
        )
        texts += given
        labels.append(y)
        weights.append(w)
        which.append(np.full(len(frame), k))
        held.append(h)
        cards.append(
            {
                "name": source.name,
                "title": source.title,
                "licence": source.licence,
                "path": str(path.relative_to(root)) if path.is_relative_to(root) else str(path),
                "sha256": digest,
                "rows": len(frame),
                "weight": source.weight,
                "form": source.form,
                "held_out": f"{source.held_out[0]} = {source.held_out[1]}" if source.held_out else None,
                "held_out_rows": int(h.sum()),
            }
        )
    source_of = np.concatenate(which)
    held_out = np.concatenate(held)
    # The same text in two sources (compared as plain text, placeholders of every source dropped)
    keys = [plain(t, every_placeholder) for t in texts]
    seen: dict[str, set[int]] = {}
    for key, s in zip(keys, source_of.tolist(), strict=True):
        seen.setdefault(key, set()).add(s)
    shared = np.array([len(seen[key]) > 1 for key in keys])
    empty = np.array([not key for key in keys])  # nothing left to learn from (a link, a mention)
    trained = ~held_out & ~shared & ~empty
    for k, card in enumerate(cards):
        mine = source_of == k
        card["in_another_source"] = int((mine & shared & ~held_out).sum())
        card["empty"] = int((mine & empty & ~held_out).sum())
        card["trained_rows"] = int((mine & trained).sum())
        card["class_counts"] = np.bincount(np.concatenate(labels)[mine & trained], minlength=len(LABELS)).tolist()
    return Corpus(
        texts=texts,
        labels=np.concatenate(labels),
        weights=np.concatenate(weights),
        source=source_of,
        held_out=held_out,
        trained=trained,
        names=[s.name for s in sources],
        recipe=recipe,
        card=cards,
    )
