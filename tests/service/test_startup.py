"""What importing ``app`` leaves in the process that gunicorn forks its workers from."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from testing.support import ROOT, server_env


def test_import_app_leaves_the_collector_on_and_what_it_loaded_frozen(tmp_path: Path) -> None:
    """The collector is off while ``app`` loads (a faster start), and on again once what it loaded is frozen."""
    stores = {f"{name}_DB_PATH": str(tmp_path / f"{name.lower()}.sqlite3") for name in ("ALERT", "REVIEW", "FEEDBACK")}
    code = "import gc, app; print(gc.isenabled(), gc.get_freeze_count())"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=server_env(**stores), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    enabled, frozen = done.stdout.split()
    assert enabled == "True"
    assert int(frozen) > 10_000, "the model's objects are out of the collector's generations"
