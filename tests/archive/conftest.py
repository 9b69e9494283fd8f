"""The archive tests' temporary files in pytest's folders, not loose in /tmp.

The scorer zips the code it ships to the workers, Dask keeps a scratch space, and a worker unpacks
the model it loads: all in the system's temporary folder, which here is one of pytest's. A worker
killed while it loads (the fault tests kill them) would otherwise leave its copy of the model in /tmp.
"""

from __future__ import annotations

import tempfile

import pytest


@pytest.fixture(autouse=True)
def temporary_files_under_pytest(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path_factory.mktemp("tmpdir")))  # the scorer's processes inherit it
    monkeypatch.setattr(tempfile, "tempdir", None)  # this process: gettempdir() reads TMPDIR again
