"""``model.py``'s commands: list, compare, promote, rollback. The serving requirements are enough;
``retrain`` (``hatespeech.lifecycle.retrain``) runs train.py, which needs the training requirements.

They read the settings the server reads (``FEEDBACK_DB_PATH`` or ``DATABASE_URL``: where the
promoted model is recorded; ``MODEL_PATH``: a pinned model) and never call the server: each
worker follows the registry within ``MODEL_POLL_SECONDS``.
"""

from __future__ import annotations

import argparse
import getpass
import json
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hatespeech import feedback, lifecycle
from hatespeech.config import MODELS_DIR, ConfigError, Settings
from hatespeech.core.modelfile import ModelError, card_path_of, read_card
from hatespeech.core.moderator import Moderator
from hatespeech.core.policy import PolicyError
from hatespeech.lifecycle import compare as comparing
from hatespeech.lifecycle import gate, retrain
from hatespeech.lifecycle.registry import Registry, RegistryError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="model.py",
        description="The trained models: list them, compare one with the served one, promote, roll back.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="the models kept, which is served, their key figures")
    listing.add_argument(
        "--dir",
        type=Path,
        action="append",
        default=[],
        help=f"also list the cards in DIR ({MODELS_DIR} always)",
    )
    for name, what in (("compare", "set CARD beside the served model"), ("promote", "serve CARD in every worker")):
        command = commands.add_parser(name, help=what)
        command.add_argument("card", type=Path, help="the candidate's card (a .json written by train.py)")
        if name == "promote":
            command.add_argument("--force", action="store_true", help="promote even if the gate refuses")
            command.add_argument("--why", default="", help="why, for the history")
    back = commands.add_parser("rollback", help="serve the model served before the last promotion")
    back.add_argument("--why", default="", help="why, for the history")
    again = commands.add_parser(
        "retrain",
        help="train on the store's new feedback, compare, promote only through the gate "
        "(exit 0 promoted, 1 refused, 2 failed, 3 nothing new)",
    )
    again.add_argument(
        "--dir",
        type=Path,
        default=retrain.CANDIDATES_DIR,
        help="each candidate goes to DIR/<UTC time>/model.json (default: %(default)s)",
    )
    again.add_argument("--always", action="store_true", help="train even if the served model has seen every label")
    again.add_argument("--why", default="", help="why, for the history (default: the feedback's count and time)")
    again.add_argument(
        "train_args", nargs=argparse.REMAINDER, help="after --: train.py's options (--data, --sources, --folds …)"
    )
    args = parser.parse_args(argv)
    if args.command == "retrain" and args.train_args[:1] == ["--"]:
        args.train_args = args.train_args[1:]
    return args


def who() -> str:
    return f"{getpass.getuser()}@{socket.gethostname()}"


def _when(seconds: float | None) -> str:
    return "-" if seconds is None else datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


def _own(settings: Settings) -> Moderator:
    return Moderator.load(
        settings.model_path,
        settings.thresholds,
        max_text_chars=settings.max_text_chars,
        explain_max_spans=settings.explain_max_spans,
    )


def served_model(settings: Settings, registry: Registry) -> Moderator:
    own = _own(settings)
    if settings.model_pinned:
        return own
    sha = registry.served()
    return own if sha is None or sha == own.card["sha256"] else lifecycle.promoted(settings, registry, sha)


def list_models(settings: Settings, registry: Registry, folders: list[Path]) -> int:
    cards: dict[str, dict[str, Any]] = dict(registry.cards())
    for folder in [MODELS_DIR, *folders]:
        for path in sorted(Path(folder).glob("*.json")):
            try:
                card = read_card(path)
            except ModelError:
                continue
            cards.setdefault(card["sha256"], card)
    served = served_model(settings, registry).card["sha256"]
    promoted = {e.served: e for e in registry.events() if e.action == "promote" and e.served}
    print(f"{'':2}{'sha256':<12}  {'created':<25} {'rows':>6} {'held-out':>8} {'cv':>6} {'feedback':>8}  promoted")
    for sha, card in sorted(cards.items(), key=lambda kv: str(kv[1].get("created_at"))):
        s = lifecycle.card_summary(card)
        event = promoted.get(sha)
        by = f"{_when(event.at)} by {event.who}{' (forced)' if event.forced else ''}" if event else "-"
        figures = [f"{v:.3f}" if isinstance(v, float) else "-" for v in (s["holdout_macro_f1"], s["cv_macro_f1"])]
        print(
            f"{'*' if sha == served else ' '} {sha[:12]}  {s['created_at']!s:<25} {s['rows']!s:>6} "
            f"{figures[0]:>8} {figures[1]:>6} {s['feedback_rows']:>8}  {by}"
        )
    pinned = " (MODEL_PATH pins it)" if settings.model_pinned else ""
    print(f"* served{pinned}; the registry: {registry.where}")
    return 0


def _print_side(side: gate.Side) -> None:
    if not side.comparable:
        print(f"\n{side.what}: not comparable: {side.note}")
        return
    if not side.rows:
        print(f"\n{side.what}: {side.note}")
        return
    print(
        f"\n{side.what} ({side.rows} rows, the same for both): macro-F1 {side.served['macro_f1']:.3f} served, "
        f"{side.candidate['macro_f1']:.3f} candidate (drop {side.drop:+.3f}, at most {gate.MAX_DROP} allowed)"
    )
    print(f"  {'class':<20} {'precision':>17} {'recall':>17} {'support':>8}")
    for label, mine in side.candidate["per_class"].items():
        theirs = side.served["per_class"][label]
        print(
            f"  {label:<20} {theirs['precision']:7.3f} → {mine['precision']:7.3f} "
            f"{theirs['recall']:7.3f} → {mine['recall']:7.3f} {mine['support']:8d}"
        )
    if "at_thresholds" in side.candidate:
        print("  at the operating thresholds (reached review), as scored now:")
        for label, mine in side.candidate["at_thresholds"].items():
            theirs = side.served["at_thresholds"][label]
            print(
                f"  {label:<20} {theirs['precision']:7.3f} → {mine['precision']:7.3f} "
                f"{theirs['recall']:7.3f} → {mine['recall']:7.3f} {mine['support']:8d}"
            )


def compare(settings: Settings, registry: Registry, card_path: Path) -> tuple[Moderator, Moderator, list[gate.Side]]:
    """Print the candidate beside the served model; return both and the gate's sides."""
    candidate = comparing.load(settings, card_path)
    served = served_model(settings, registry)
    print(f"candidate {candidate.card['sha256'][:12]} ({card_path}) beside the served {served.card['sha256'][:12]}")
    found = comparing.compare(settings, candidate, served)
    for side in found.sides:
        _print_side(side)
    changes = found.changes
    print(f"\nthe review queue's {changes['posts']} most recent posts, served action → candidate's:")
    for change, count in changes["counts"].items():
        print(f"  {change:<20} {count:6d}")
        for text in changes["samples"].get(change, []):
            print(f"      {json.dumps(text, ensure_ascii=False)}")
    return candidate, served, found.sides


def promote(settings: Settings, registry: Registry, card_path: Path, force: bool, why: str) -> int:
    candidate, served, sides = compare(settings, registry, card_path)
    if candidate.card["sha256"] == served.card["sha256"]:
        print(f"\n{candidate.card['sha256'][:12]} is already served; nothing changed")
        return 0
    refused = [side for side in sides if side.refused]
    if refused and not force:
        for side in refused:
            why_not = (
                side.note if not side.comparable else f"it loses {side.drop:.3f} macro-F1 (more than {gate.MAX_DROP})"
            )
            print(f"model.py: refused on the {side.what}: {why_not}", file=sys.stderr)
        print("model.py: nothing promoted; --force promotes it anyway", file=sys.stderr)
        return 1
    data = (card_path_of(card_path).parent / candidate.card["model_file"]).read_bytes()
    event = registry.promote(candidate.card, data, who(), why, force and bool(refused))
    print(
        f"\npromoted {candidate.card['sha256'][:12]} at {_when(event.at)} by {event.who}: every worker serves it "
        f"within {settings.model_poll_seconds:g} s (MODEL_POLL_SECONDS)"
    )
    return 0


def rollback(settings: Settings, registry: Registry, why: str) -> int:
    event = registry.rollback(who(), why)
    back = event.served or f"{_own(settings).card['sha256'][:12]} (the model the service was built with)"
    print(
        f"rolled back to {back[:12] if event.served else back}: every worker serves it within "
        f"{settings.model_poll_seconds:g} s"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as err:
        print(f"model.py: {err}", file=sys.stderr)
        return 2
    if settings.model_pinned and args.command in ("promote", "rollback"):
        print(
            f"model.py: warning: MODEL_PATH is set ({settings.model_path}): it pins the served model, and a "
            f"{args.command} would change nothing. Unset MODEL_PATH (the server's too) to serve promoted models.",
            file=sys.stderr,
        )
        return 1
    registry = Registry(settings)
    try:
        if args.command == "list":
            return list_models(settings, registry, args.dir)
        if args.command == "compare":
            compare(settings, registry, args.card)
            return 0
        if args.command == "promote":
            return promote(settings, registry, args.card, args.force, args.why)
        if args.command == "retrain":
            return retrain.retrain(settings, registry, args.dir, args.train_args, args.always, args.why)
        return rollback(settings, registry, args.why)
    except (ModelError, PolicyError, RegistryError, feedback.StoreUnavailable) as err:
        print(f"model.py: {err}", file=sys.stderr)
        return 2
    except registry.errors as err:
        print(f"model.py: the registry ({registry.where}) failed: {type(err).__name__}: {err}", file=sys.stderr)
        return 2
    finally:
        registry.close()
