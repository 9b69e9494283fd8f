"""Put on PYTHONPATH by tests: only the standard library, code that no distribution installed (the
project, a zip of it) and the distributions that ``ONLY_REQUIREMENTS`` names can be imported.

``ONLY_REQUIREMENTS`` holds, separated by commas, requirement files (every name pinned in them) or
distribution names (with everything they require, as installed): ``requirements.txt`` for the
serving image, ``requirements.txt,distributed`` for a Dask worker of it. A blocked import raises
ModuleNotFoundError naming why, as in an environment where the package is not installed.
"""

from __future__ import annotations

import importlib.abc
import importlib.metadata
import os
import re
import sys
from pathlib import Path


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _allowed() -> set[str]:
    names: set[str] = set()
    todo: list[str] = []
    for item in filter(None, os.environ.get("ONLY_REQUIREMENTS", "").split(",")):
        if Path(item).is_file():
            for line in Path(item).read_text().splitlines():
                line = line.split("#")[0].strip()
                if line and not line.startswith("-"):
                    names.add(_canonical(re.split(r"[=<>!~\[; ]", line)[0]))
        else:
            todo.append(item)
    while todo:  # a distribution and what it requires (extras and markers aside), as installed here
        name = _canonical(todo.pop())
        if name in names:
            continue
        names.add(name)
        try:
            requires = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        todo += [re.split(r"[=<>!~\[; (]", r)[0] for r in requires if "extra ==" not in r]
    return names


class _Only(importlib.abc.MetaPathFinder):
    def __init__(self) -> None:
        self.allowed = _allowed()
        self.owners = importlib.metadata.packages_distributions()  # top-level module -> distributions
        self.what = os.environ.get("ONLY_REQUIREMENTS", "")

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        top = name.partition(".")[0]
        owners = self.owners.get(top)
        if top in sys.stdlib_module_names or not owners or any(_canonical(d) in self.allowed for d in owners):
            return None  # let the usual finders find it
        raise ModuleNotFoundError(f"No module named {name!r} (its distribution is not in {self.what})", name=name)


if os.environ.get("ONLY_REQUIREMENTS"):
    sys.meta_path.insert(0, _Only())
