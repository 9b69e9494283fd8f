"""The package as a library: ``hatespeech.load()`` answers what the service answers, imports nothing of
HTTP, and ``pip install`` of the wheel, in a fresh environment outside the checkout, carries the model.

The slow test builds the wheel and installs it with no package index: the wheel is built with the
setuptools of this environment (requirements-dev.txt pins one that reads pyproject.toml's SPDX
``license``), and NumPy, the one dependency, is this environment's copy linked into the new one's site-packages,
where pip finds it installed (so the dependency is resolved, not skipped).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import venv
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

import hatespeech
from hatespeech.config import DEFAULT_LANGUAGE_MODELS_DIR, DEFAULT_MODEL_PATH
from hatespeech.core.build import FLAGS
from hatespeech.core.moderator import Moderator
from hatespeech.core.policy import PolicyError
from hatespeech.core.validate import InvalidText
from testing.support import ROOT, server_env

TEXTS = [
    "have a lovely day, everyone",
    "shut up you stupid nigger",  # a block: hate speech past its block threshold
    "I am going to kill you",
    "I'd kill for a coffee",
    "I will k!ll you",  # read as the model reads it
    "ok. someone should put a bullet in his head, seriously",
    "🙂 https://example.org/a?b=c @someone &amp; more",
    " ".join(f"word{i} stupid idiot trash" for i in range(60)),  # more spans than EXPLAIN_MAX_SPANS
    "Du bist der dümmste Mensch hier, du Idiot.",  # judged by the German model
    "Tu es vraiment un imbécile, va-t'en d'ici tout de suite.",  # no model for French: not judged
]
IS_THREAT = [False, False, True, False, True, True, False, False, False, False]
LANGUAGE_CARDS = sorted(DEFAULT_LANGUAGE_MODELS_DIR.glob("*.json"))
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
HTTP_AND_TRAINING = {"firefly", "webob", "gunicorn", "requests", "urllib3", "redis", "psycopg", "prometheus_client"}
HTTP_AND_TRAINING |= {"sklearn", "scipy", "pandas", "joblib", "matplotlib"}

# The library's answers to TEXTS (on standard input), where it is imported from, and what it imported.
ANSWERS = """
import json, sys
import hatespeech, hatespeech.config
model = hatespeech.load()
from hatespeech.core.model import KERNEL  # "C": the wheel's kernel loads
texts = json.load(sys.stdin)
print(json.dumps({
    "predict": [model.predict(t) for t in texts],
    "moderate": [model.moderate(t) for t in texts],
    "explained": [model.moderate(t, explain=True) for t in texts],
    "where": hatespeech.__file__,
    "card": str(hatespeech.config.DEFAULT_MODEL_PATH),
    "kernel": KERNEL,
    "loaded": sorted({name.split(".")[0] for name in sys.modules}),
}))
"""


def app_answers(tmp_path: Path, texts: list[str]) -> dict[str, list]:
    """``app.predict`` and ``app.moderate`` (plain and explained) for each text, in a process of its own, as
    firefly and gunicorn call them (importing app reads the settings and loads the model)."""
    code = (
        "import json, sys, app; texts = json.load(sys.stdin); print(json.dumps({"
        "'predict': [app.predict(text=t) for t in texts], 'moderate': [app.moderate(text=t) for t in texts],"
        "'explained': [app.moderate(text=t, explain=True) for t in texts]}))"
    )
    env = server_env(FEEDBACK_DB_PATH=str(tmp_path / "f.sqlite3"), REVIEW_DB_PATH=str(tmp_path / "r.sqlite3"))
    done = subprocess.run(
        [sys.executable, "-c", code], input=json.dumps(texts), cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def model() -> Moderator:
    return hatespeech.load()


def test_load_answers_what_the_service_answers(tmp_path: Path, model: Moderator) -> None:
    served = app_answers(tmp_path, TEXTS)
    ours = {
        "predict": [model.predict(t) for t in TEXTS],
        "moderate": [model.moderate(t) for t in TEXTS],
        "explained": [model.moderate(t, explain=True) for t in TEXTS],
    }
    assert json.loads(json.dumps(ours)) == served  # exactly: JSON keeps every bit of a float
    # the texts reach each part of the answer: a threat, a block, an allow, a capped explanation
    assert [a["categories"]["threat"] for a in ours["moderate"]] == IS_THREAT
    assert {a["action"] for a in ours["moderate"]} == {"allow", "review", "block"}
    assert "omitted" in ours["explained"][7]["explanation"]
    assert [(a["language"], a["language_supported"]) for a in ours["moderate"][-2:]] == [("de", True), ("fr", False)]


def test_load_refuses_what_the_service_refuses(model: Moderator) -> None:
    for bad in ("", "   ", None, 5, "x" * 10_001):
        with pytest.raises(InvalidText):
            model.predict(bad)
        with pytest.raises(InvalidText):
            model.moderate(bad)
    with pytest.raises(ValueError, match="explain must be true or false"):
        model.moderate("hello", explain="yes")
    assert model.predict("x" * 10_000)  # MAX_TEXT_CHARS's default


def test_load_takes_a_card_path_and_thresholds(tmp_path: Path, model: Moderator) -> None:
    card = json.loads(DEFAULT_MODEL_PATH.read_text(encoding="utf-8"))
    for name in ("model.json", card["model_file"]):
        shutil.copy(DEFAULT_MODEL_PATH.parent / name, tmp_path / name)
    strict = hatespeech.load(str(tmp_path / "model.json"), thresholds={"hate speech": {"review": 0.0, "block": 0.0}})
    assert strict.predict(TEXTS[1]) == model.predict(TEXTS[1])
    assert strict.moderate(TEXTS[0])["action"] == "block" and model.moderate(TEXTS[0])["action"] == "allow"
    with pytest.raises(PolicyError):  # the card's folder will do too
        hatespeech.load(tmp_path, thresholds={"hate speech": {"review": 0.9, "block": 0.1}})


def test_importing_the_package_loads_nothing_and_load_needs_no_http(tmp_path: Path) -> None:
    """In a process of its own: this one has imported everything the other tests use."""
    code = """
import json, os, sys
before = dict(os.environ)
import hatespeech
imported = sorted(n for n in sys.modules if n == "numpy" or n.startswith(("numpy.", "hatespeech.")))
model = hatespeech.load()
model.predict("hello there"); model.moderate("you stupid idiot, I will kill you", explain=True)
print(json.dumps({"imported": imported, "after": sorted({n.split(".")[0] for n in sys.modules}),
                  "service": sorted(n for n in sys.modules if n.startswith("hatespeech.service")),
                  "environ": dict(os.environ) == before}))
"""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["imported"] == [], "importing hatespeech must not import NumPy nor read the model"
    assert not set(found["after"]) & HTTP_AND_TRAINING and found["service"] == []
    assert found["environ"], "loading must not write the environment"
    assert list(tmp_path.iterdir()) == [], "nor write files where it runs"


def test_the_checkout_serves_models_and_declares_numpy_as_requirements_txt_pins_it() -> None:
    assert DEFAULT_MODEL_PATH == ROOT / "models" / "model.json"  # where train.py writes and the service reads
    pin = next(
        line.split("==")[1].strip()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.startswith("numpy==")
    )
    # from the tested pin up to the next major version, which loading refuses (core/modelfile.py)
    assert PYPROJECT["project"]["dependencies"] == [f"numpy>={pin},<{int(pin.split('.')[0]) + 1}"]


def test_pyproject_names_every_package_and_every_data_file() -> None:
    """A new subpackage or data file of hatespeech/ must be named in pyproject.toml, or the wheel would lack it."""
    setuptools = PYPROJECT["tool"]["setuptools"]
    packages = {".".join(p.relative_to(ROOT).parent.parts) for p in (ROOT / "hatespeech").rglob("__init__.py")}
    models = {"hatespeech.models", "hatespeech.models.languages"}
    assert set(setuptools["packages"]) == packages | models | {"hatespeech.review.static"}
    assert setuptools["package-dir"] == {"hatespeech.models": "models"}
    data = setuptools["package-data"]
    (kernel,) = setuptools["ext-modules"]  # the C kernel: its source is built into the wheel, not shipped
    assert kernel["name"] == "hatespeech.core._kernel" and kernel["sources"] == ["hatespeech/core/_kernel.c"]
    assert kernel["extra-compile-args"] == FLAGS  # what `make` builds in place with
    for path in (ROOT / "hatespeech").rglob("*"):
        if path.is_file() and path.suffix not in (".py", ".pyc", ".so") and path.name != "_kernel.c":
            folder = path.parent  # the file's package: its folder's, or the nearest above that is one
            while ".".join(folder.relative_to(ROOT).parts) not in setuptools["packages"]:
                folder = folder.parent
            relative = path.relative_to(folder)
            patterns = data.get(".".join(folder.relative_to(ROOT).parts), [])
            assert any(relative.match(pattern) for pattern in patterns), f"{path} is not package data"


# ---------------------------------------------------------------------------------------- the wheel


def _build_wheel(tmp_path: Path) -> Path:
    """The wheel of a copy of the checkout (a build writes build/ and *.egg-info/ into its source)."""
    import setuptools

    major = int(setuptools.__version__.split(".")[0])
    assert major >= 77, (
        f"setuptools {setuptools.__version__} cannot read pyproject.toml's `license`; "
        "`make test` installs the one requirements-dev.txt pins"
    )
    source = tmp_path / "checkout"
    skip = shutil.ignore_patterns(
        ".git", ".venv", "__pycache__", "build", "dist", "*.egg-info", ".*_cache", ".hypothesis", "*.so"
    )  # no built kernel: the wheel must build its own
    shutil.copytree(ROOT, source, symlinks=True, ignore=skip)
    dist = tmp_path / "dist"
    offline = ["--no-deps", "--no-build-isolation", "--no-index"]  # this environment's setuptools, nothing fetched
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", *offline, "--wheel-dir", dist, source],
        env=_pip_env(),
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = dist.glob("hatespeech_detect-*.whl")
    return wheel


def _pip_env() -> dict[str, str]:
    """No configuration file (the machine's may name other indexes), nothing of this checkout on the path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON"))}
    return env | {"PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def _fresh_venv(folder: Path) -> Path:
    """A virtual environment with pip (Python's own, offline) and this environment's NumPy linked in."""
    venv.create(folder, with_pip=True)
    python = folder / "bin" / "python"
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    for dependency in ("numpy",):
        found = metadata.distribution(dependency)
        top = {Path(str(f)).parts[0] for f in found.files or [] if not str(f).startswith("..")}
        for name in top:  # numpy/, numpy.libs/ (its OpenBLAS) and numpy-<version>.dist-info/
            (site / name).symlink_to(Path(str(found.locate_file(name))))
    return python


@pytest.mark.slow
def test_the_wheel_installs_the_package_and_its_model_outside_the_checkout(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        requires = [
            line
            for line in zf.read(next(n for n in names if n.endswith("METADATA"))).decode().splitlines()
            if line.startswith("Requires-Dist:")
        ]
    card = json.loads(DEFAULT_MODEL_PATH.read_text(encoding="utf-8"))
    code = {p.relative_to(ROOT).as_posix() for p in (ROOT / "hatespeech").rglob("*.py") if "__pycache__" not in p.parts}
    data = {
        "hatespeech/models/model.json",
        f"hatespeech/models/{card['model_file']}",
        *(f"hatespeech/models/languages/{p.name}" for p in LANGUAGE_CARDS),
        *(f"hatespeech/models/languages/{json.loads(p.read_text('utf-8'))['model_file']}" for p in LANGUAGE_CARDS),
        "hatespeech/core/confusables.json",
        "hatespeech/core/language_model.npz",  # py3langid's model as the identifier reads it
        "hatespeech/core/language_model.LICENSE",  # and its licence
        f"hatespeech/core/_kernel{sysconfig.get_config_var('EXT_SUFFIX')}",  # the C kernel, built for this Python
        "hatespeech/core/_kernel.pyi",  # its signatures
        "hatespeech/core/lexicon_de.txt",  # German's lexicon (train.py reads it; a compiled model carries its own)
        "hatespeech/training/sources.toml",  # the training data's manifest, not the data
        "hatespeech/training/languages.toml",  # the other languages' training data manifest, not the data
        "hatespeech/service/nginx.conf",
        *(f"hatespeech/review/static/{p.name}" for p in (ROOT / "hatespeech" / "review" / "static").iterdir()),
    }
    package = {n for n in names if not n.startswith("hatespeech_detect-")}
    assert package == code | data, "the wheel holds the package's code and what it reads, nothing else"
    assert not [
        n for n in names if n.startswith(("tests/", "bench/", "data/", "docs/")) or n.endswith((".csv", ".joblib"))
    ]
    (declared,) = PYPROJECT["project"]["dependencies"]
    assert len(requires) == 1 and requires[0].startswith("Requires-Dist: numpy")
    assert sorted(requires[0].removeprefix("Requires-Dist: numpy").split(",")) == sorted(declared[5:].split(","))

    python = _fresh_venv(tmp_path / "venv")
    installed = subprocess.run(
        [python, "-m", "pip", "install", "--no-index", str(wheel)], env=_pip_env(), capture_output=True, text=True
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert "Requirement already satisfied: numpy" in installed.stdout  # resolved against the linked NumPy
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # -I: no PYTHONPATH, no user site, not the current folder: only what the new environment holds
    done = subprocess.run(
        [python, "-I", "-c", ANSWERS],
        input=json.dumps(TEXTS),
        cwd=elsewhere,
        env=_pip_env(),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert Path(found["where"]).is_relative_to(tmp_path / "venv"), found["where"]
    assert Path(found["card"]) == Path(found["where"]).parent / "models" / "model.json"
    assert not set(found["loaded"]) & HTTP_AND_TRAINING
    assert found["kernel"] == "C", "the wheel's kernel must load"
    served = app_answers(tmp_path, TEXTS)
    assert {k: found[k] for k in ("predict", "moderate", "explained")} == served
