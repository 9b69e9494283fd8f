"""The evaluation report chooses no matplotlib backend: not when imported, not when it draws."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from testing.support import ROOT

# In a fresh interpreter, as train.py runs: this test process may have chosen a backend already.
SCRIPT = """
import json, sys
import matplotlib
import numpy as np
from hatespeech.training import report
seen = [matplotlib.rcParams._get_backend_or_none()]
rng = np.random.default_rng(0)
labels, probabilities = rng.integers(0, 3, 300), rng.dirichlet([1, 1, 1], 300)
evaluation = {"cross_validation": {"confusion_matrix": [[5, 1, 0], [1, 5, 1], [0, 0, 0]], "ece": 0.05}}
thresholds = {"hate speech": {"review": 0.5, "block": 0.9}}
written = report.write_report(sys.argv[1], evaluation, labels, probabilities, thresholds)
seen.append(matplotlib.rcParams._get_backend_or_none())
print(json.dumps({"backends": seen, "written": [str(p) for p in written]}))
"""


def test_the_report_draws_without_choosing_a_backend(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["backends"] == [None, None]  # after the import, after the plots
    pngs = [Path(p) for p in out["written"] if p.endswith(".png")]
    assert [p.name for p in pngs] == ["confusion_matrix.png", "thresholds.png", "reliability.png"]
    assert all(p.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") for p in pngs)
