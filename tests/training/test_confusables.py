"""The look-alike letters table shipped with the serving core is what Unicode's data gives."""

from __future__ import annotations

import importlib.util
import json

from testing.support import ROOT


def test_the_committed_table_is_built_from_the_pinned_package() -> None:
    spec = importlib.util.spec_from_file_location("confusables", ROOT / "hatespeech" / "training" / "confusables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    table = json.loads(module.TABLE.read_text("utf-8"))
    assert table == module.build()
    assert table["а"] == "a" and table["ο"] == "o" and table["І"] == "i"  # Cyrillic a, Greek o, Cyrillic I
    assert all(len(k) == 1 and not k.isascii() and v.isascii() and v.isalpha() for k, v in table.items())
