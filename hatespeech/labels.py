"""The classes, in the order the Davidson et al. CSV numbers them (column ``class``)."""

LABELS: tuple[str, ...] = ("hate speech", "offensive language", "neither")
HATE, OFFENSIVE, NEITHER = range(len(LABELS))
