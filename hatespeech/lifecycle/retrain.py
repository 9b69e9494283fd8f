"""``model.py retrain``: train on the board's new feedback, compare, and promote only through the gate.

For cron or a scheduler: one command, and its exit status says what happened (``EXIT``):

1. if the feedback store holds nothing the served model has not seen (the same decisions, the
   same newest one, as its card's ``lineage.feedback`` records), stop: nothing to do;
2. ``train.py --feedback store --out DIR/<UTC time>/model.json`` (the training requirements and
   the base data must be there: this runs where ``train.py`` does, not in the serving image);
   train.py's own check refuses feedback that makes the base data worse;
3. ``model.py promote`` without ``--force``: the gate sets the candidate beside the served model on
   the same rows and refuses one that loses more than 0.01 macro-F1. A refused candidate stays in
   its folder, for ``model.py compare`` and a person's decision.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hatespeech import feedback
from hatespeech.config import ROOT, Settings
from hatespeech.lifecycle.registry import Registry

EXIT = {"promoted": 0, "refused": 1, "failed": 2, "nothing new": 3}
CANDIDATES_DIR = ROOT / "data" / "candidates"  # beside the feedback store's default; data/ is not committed


def store_state(settings: Settings) -> dict[str, Any] | None:
    """The feedback store's English decisions (what ``train.py --feedback store`` learns from) as a card's
    ``lineage.feedback`` counts them (rows, newest), or None when there are none (nothing to train on).
    Retraining is English's only: another language's labels wait for ``train.py --language``."""
    if not settings.feedback.database_url and not Path(settings.feedback.db_path).is_file():
        return None
    store = feedback.open_store(settings)
    try:
        decided = [row for row in store.decisions() if feedback.row_language(row) == "en"]
    finally:
        store.close()
    if not decided:
        return None
    newest = max(row.created_at for row in decided)
    # as train.py writes it into the card (datetime.fromtimestamp(..., UTC).isoformat())
    return {"rows": len(decided), "newest_at": datetime.fromtimestamp(newest, UTC).isoformat()}


def has_seen(card: dict[str, Any], state: dict[str, Any]) -> bool:
    """Whether the model of ``card`` was trained on the store as it is (the same rows, the same newest)."""
    used = (card.get("lineage") or {}).get("feedback") or {}
    return used.get("rows") == state["rows"] and used.get("newest_at") == state["newest_at"]


def candidate_path(folder: Path, now: datetime | None = None) -> Path:
    """``folder/<UTC time>/model.json``, a folder of its own (a suffix if two runs share a second)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H%M%SZ")
    path, n = folder / stamp, 1
    while path.exists():
        n += 1
        path = folder / f"{stamp}-{n}"
    return path / "model.json"


def retrain(settings: Settings, registry: Registry, folder: Path, train_args: list[str], always: bool, why: str) -> int:
    """Train, compare, promote through the gate; an exit status of ``EXIT``."""
    from hatespeech.lifecycle.commands import promote, served_model

    state = store_state(settings)
    if state is None:
        print(
            f"model.py retrain: the feedback store ({registry.where}) holds no English decisions: nothing to train on "
            "(it retrains the English model only; train.py --language de --feedback store trains German's)"
        )
        return EXIT["nothing new"]
    served = served_model(settings, registry).card
    if has_seen(served, state) and not always:
        print(
            f"model.py retrain: the served model {served['sha256'][:12]} was trained on the store as it is "
            f"({state['rows']} decisions, the newest {state['newest_at']}): nothing new (--always trains anyway)"
        )
        return EXIT["nothing new"]
    script = ROOT / "train.py"
    if not script.is_file():
        print(
            f"model.py retrain: no train.py at {script}: retraining needs the project's checkout with the training "
            "requirements (requirements-train.txt) and the base data, not the serving image",
            file=sys.stderr,
        )
        return EXIT["failed"]
    out = candidate_path(folder)
    print(
        f"model.py retrain: {state['rows']} English decisions in the store (the English model only); "
        f"training the candidate {out}",
        flush=True,
    )
    # train.py reads the same settings from the environment this process was given
    trained = subprocess.run([sys.executable, str(script), "--feedback", "store", "--out", str(out), *train_args])
    if trained.returncode == 1:  # its feedback check refused the model: nothing written
        print("model.py retrain: train.py refused the feedback (above); nothing promoted", file=sys.stderr)
        return EXIT["refused"]
    if trained.returncode != 0 or not out.is_file():
        print(f"model.py retrain: train.py failed (exit {trained.returncode}); nothing promoted", file=sys.stderr)
        return EXIT["failed"]
    reason = why or f"scheduled retrain on {state['rows']} feedback decisions (newest {state['newest_at']})"
    if promote(settings, registry, out, force=False, why=reason) != 0:
        print(f"model.py retrain: the candidate stays in {out.parent} (model.py compare {out})", file=sys.stderr)
        return EXIT["refused"]
    return EXIT["promoted"]
