"""Build ``hatespeech/core/language_model.npz``: py3langid's model as ``hatespeech.core.language`` reads it.

    .venv/bin/python -m hatespeech.training.language_model     # rewrites the file; commit it

The data is py3langid 0.4.0's model (pinned; BSD-3-Clause, its notice beside the file as
``language_model.LICENSE``), restricted to the ``CANDIDATES`` languages as the library's
``set_languages`` restricts it. Its state table, one row of 256 next states per distinct row, is
renumbered by the byte that enters each state: the states entered by byte ``b`` are numbered from
``base[b]``, in the library's order, and a row stores each next state as its number among them
(16 bits: 11,012 at most, where the library's 104,583 states take 32). A state entered by several
bytes (the start state) is stored once for each; the start state is stored last. The weights keep
the library's float16 values, row-major, so the identifier's probabilities are the library's to the bit.
tests/core/test_language.py checks that the committed file is what this builds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hatespeech.core.language import CANDIDATES, MODEL_FILE, MODEL_FORMAT


def build() -> dict[str, np.ndarray]:
    """The arrays of the file, from the installed py3langid."""
    from py3langid.langid import MODEL_DIR
    from py3langid.langid import MODEL_FILE as LIBRARY_MODEL
    from py3langid.modelio import load_model

    ptc, pc, classes, nextmove, row, out = load_model(MODEL_DIR / LIBRARY_MODEL)
    columns = [i for i, c in enumerate(classes) if c in set(CANDIDATES)]  # as set_languages keeps them
    moves = np.frombuffer(nextmove, dtype=f"u{nextmove.itemsize}").reshape(-1, 256)
    local = np.empty(moves.shape, dtype=np.uint16)
    entered, base = [], [0]
    for byte in range(256):
        states, local[:, byte] = np.unique(moves[:, byte], return_inverse=True)
        if len(states) > 1 << 16:
            raise ValueError(f"{len(states)} states are entered by byte {byte}: more than 16 bits")
        entered.append(states)
        base.append(base[-1] + len(states))
    old = np.concatenate([*entered, [0]])  # each new state's number in the library, the start state last
    return {
        "format": np.array(MODEL_FORMAT),
        "moves": local.ravel(),
        "base": np.array(base[:256], dtype=np.int32),
        "row": np.frombuffer(row, dtype=f"u{row.itemsize}")[old].astype(np.uint16),
        "out": np.asarray(out, dtype=np.int32)[old],
        # row-major: a post's features are rows, gathered contiguous (the library's restricted copy is
        # column-major, each row's 45 weights 200 kB apart: twice the time for the same floats)
        "ptc": np.ascontiguousarray(np.asarray(ptc)[:, columns]),
        "pc": np.asarray(pc)[columns],
        "classes": np.array([classes[i] for i in columns]),
    }


def main(path: Path = MODEL_FILE) -> None:
    np.savez_compressed(path, **build())  # type: ignore[arg-type]
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
