"""Which rows a model was measured on, and what it said of each, recorded in its card.

A card records, for every row its training scored out of fold (a fit that never saw the row), a
key (the first 6 bytes of the text's sha256, never the text), the row's label and the label the
model predicted under its production rule. Two models are then compared on the rows both were
measured on (``common``), from their cards alone: no data set and no scikit-learn needed.

>>> record = outcomes(["a", "b", "c"], [0, 1, 2], [0, 2, 2], data_sha256="ab", seed=42, how="test")
>>> sorted(read(record).values())
[(0, 0), (1, 2), (2, 2)]
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

KEY_BYTES = 6  # 2^48 keys: two of 30,000 texts share one with odds of about 1 in 600,000


def key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()[:KEY_BYTES]


def _pack(data: bytes) -> str:
    return base64.b64encode(zlib.compress(data, 9)).decode("ascii")


def _unpack(text: str) -> bytes:
    return zlib.decompress(base64.b64decode(text))


def outcomes(
    texts: Sequence[str], labels: Sequence[int], predicted: Sequence[int], *, data_sha256: str, seed: int, how: str
) -> dict[str, Any]:
    """The card's record of ``texts`` (their keys), their ``labels`` and the ``predicted`` labels."""
    return {
        "how": how,
        "data_sha256": data_sha256,
        "split_seed": seed,
        "rows": len(texts),
        "keys": _pack(b"".join(key(t) for t in texts)),
        "labels": _pack(bytes(int(v) for v in labels)),
        "predicted": _pack(bytes(int(v) for v in predicted)),
    }


def read(record: Mapping[str, Any]) -> dict[bytes, tuple[int, int]]:
    """key → (label, predicted); the first row of a text repeated in the data. ``ValueError`` if malformed."""
    try:
        keys, labels, predicted = (_unpack(record[k]) for k in ("keys", "labels", "predicted"))
    except (KeyError, TypeError, ValueError, zlib.error) as err:
        raise ValueError(f"the card's record of its measured rows is unreadable ({err})") from None
    if len(keys) != KEY_BYTES * len(labels) or len(labels) != len(predicted):
        raise ValueError("the card's record of its measured rows is truncated")
    found: dict[bytes, tuple[int, int]] = {}
    for i in range(len(labels)):
        found.setdefault(keys[KEY_BYTES * i : KEY_BYTES * (i + 1)], (labels[i], predicted[i]))
    return found


def common(
    first: Mapping[bytes, tuple[int, int]], second: Mapping[bytes, tuple[int, int]]
) -> tuple[list[int], list[int], list[int]]:
    """The rows both measured with the same label: (labels, first's predictions, second's predictions)."""
    labels, a, b = [], [], []
    for k, (label, predicted) in first.items():
        other = second.get(k)
        if other is not None and other[0] == label:
            labels.append(label)
            a.append(predicted)
            b.append(other[1])
    return labels, a, b
