"""LANGUAGE_MODELS_LOAD: the other languages' models loaded at start, or on each language's first post, with the
same checks at start, the same answers, one load under the language's own lock, and a failure that stays one."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest

from hatespeech.config import DEFAULT_LANGUAGE_MODELS_DIR, DEFAULT_MODEL_PATH, ConfigError, Settings
from hatespeech.core.modelfile import ModelError
from hatespeech.core.moderator import DeferredClassifier, Languages, ModelUnavailable, Moderator

GERMAN = "Du bist der dümmste Mensch hier, du Idiot, halt endlich die Klappe."
PORTUGUESE = "Você é um idiota completo, cala a boca seu lixo."
ENGLISH = "Please respect each other, everyone."


def _moderator(languages: Languages) -> Moderator:
    return Moderator.load(DEFAULT_MODEL_PATH, max_text_chars=10_000, explain_max_spans=40, languages=languages)


def _copy(folder: Path, *codes: str) -> dict[str, Path]:
    """The committed models of ``codes`` copied into ``folder``; each code's model file."""
    folder.mkdir()
    files = {}
    for code in codes:
        card = DEFAULT_LANGUAGE_MODELS_DIR / f"model-{code}.json"
        shutil.copy(card, folder / card.name)
        model_file = json.loads(card.read_text("utf-8"))["model_file"]
        shutil.copy(DEFAULT_LANGUAGE_MODELS_DIR / model_file, folder / model_file)
        files[code] = folder / model_file
    return files


def test_first_use_loads_a_language_on_its_first_post_and_answers_as_at_start() -> None:
    lazy = _moderator(Languages.load(DEFAULT_LANGUAGE_MODELS_DIR, load="first-use"))
    eager = _moderator(Languages.load(DEFAULT_LANGUAGE_MODELS_DIR))
    judges = lazy.languages.judges
    assert sorted(judges) == ["de", "ko", "pt"] and lazy.languages.codes == eager.languages.codes
    assert all(isinstance(j.classifier, DeferredClassifier) and not j.classifier.loaded for j in judges.values())
    assert not isinstance(eager.languages.judges["de"].classifier, DeferredClassifier)
    assert lazy.moderate(GERMAN) == eager.moderate(GERMAN)
    assert [code for code, j in judges.items() if j.classifier.loaded] == ["de"], "only the language met"
    model = judges["de"].classifier.model
    assert lazy.predict(GERMAN) == eager.predict(GERMAN) and judges["de"].classifier.model is model, "loaded once"
    assert lazy.moderate_many([PORTUGUESE, ENGLISH, GERMAN], True) == eager.moderate_many(
        [PORTUGUESE, ENGLISH, GERMAN], True
    )


def test_a_bad_file_still_stops_the_start(tmp_path: Path) -> None:
    files = _copy(tmp_path / "languages", "de")
    files["de"].write_bytes(files["de"].read_bytes()[:-10])
    with pytest.raises(ModelError, match="does not match its card"):
        Languages.load(tmp_path / "languages", load="first-use")


def test_a_file_that_fails_on_first_use_gives_an_error_for_its_posts_only(tmp_path: Path) -> None:
    files = _copy(tmp_path / "languages", "de", "pt")
    moderator = _moderator(Languages.load(tmp_path / "languages", load="first-use"))
    good = files["de"].read_bytes()
    files["de"].write_bytes(good[:-10])  # replaced after the start
    with pytest.raises(ModelUnavailable, match=r"'de' model failed to load on its first post.*does not match"):
        moderator.moderate(GERMAN)
    files["de"].write_bytes(good)
    with pytest.raises(ModelUnavailable):  # not read again on every post: until a restart
        moderator.predict(GERMAN)
    assert moderator.moderate(PORTUGUESE)["model"]["language"] == "pt"
    assert moderator.moderate(ENGLISH)["model"]["language"] == "en"


def test_a_language_loading_blocks_no_other_language() -> None:
    moderator = _moderator(Languages.load(DEFAULT_LANGUAGE_MODELS_DIR, load="first-use"))
    german = moderator.languages.judges["de"].classifier
    assert isinstance(german, DeferredClassifier)
    answers: list[str] = []

    def others() -> None:
        answers.extend(moderator.moderate(text)["model"]["language"] for text in (PORTUGUESE, ENGLISH))

    with german._lock:  # as while German's model loads
        thread = threading.Thread(target=others)
        thread.start()
        thread.join(120)
        finished = not thread.is_alive()
    thread.join()
    assert finished and answers == ["pt", "en"]
    assert not german.loaded


def test_the_setting_is_start_or_first_use() -> None:
    assert Settings.from_env({}).language_models_load == "first-use"
    assert Settings.from_env({"LANGUAGE_MODELS_LOAD": "Start"}).language_models_load == "start"
    with pytest.raises(ConfigError, match="LANGUAGE_MODELS_LOAD='lazy' must be one of start, first-use"):
        Settings.from_env({"LANGUAGE_MODELS_LOAD": "lazy"})
    with pytest.raises(ValueError, match="first-use"):
        Languages.load(DEFAULT_LANGUAGE_MODELS_DIR, load="lazy")
