"""The trained models after training: list them, compare a candidate, promote it, roll back.

    python model.py list                               # versions, which one is served, key figures
    python model.py compare /somewhere/model.json      # beside the served model, on the same rows
    python model.py promote /somewhere/model.json [--force] [--why TEXT]
    python model.py rollback [--why TEXT]
    python model.py retrain [--dir DIR] [-- TRAIN.PY OPTIONS]  # for cron: train on new feedback, promote via the gate

Needs only requirements.txt (it runs inside the image); ``retrain`` runs train.py, which needs the
training requirements and the base data (exit 0 promoted, 1 refused, 2 failed, 3 nothing new).
It reads the settings the server reads (FEEDBACK_DB_PATH or DATABASE_URL hold the promoted model;
MODEL_PATH pins one) and never calls the server: every worker serves a promotion within
MODEL_POLL_SECONDS. What it does: hatespeech/lifecycle.
"""

from __future__ import annotations

import sys

from hatespeech.lifecycle.commands import main

if __name__ == "__main__":
    sys.exit(main())
