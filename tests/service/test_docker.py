"""The Dockerfile, tested without a Docker engine: lint it, then do what it does and call it.

The image is rebuilt here by hand: the build context filtered by .dockerignore, every
`pip install` its RUN lines make into a fresh virtual environment, its ENV, and its CMD started
with PORT set, as Heroku does. The installs read no package index: they take the wheels .ci/run
downloads into WHEELS before the tests, and nothing else.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shlex
import shutil
import subprocess
import venv
from pathlib import Path

import pytest

from hatespeech.core import build
from hatespeech.core.labels import LABELS
from testing.services import missing
from testing.support import BIN, ROOT, Server, free_port, post_json

# requirements.txt's wheels, for this environment's Python: .ci/run downloads them here (`pip download`)
WHEELS = BIN.parent / "wheels"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    text = (ROOT / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = "\n".join(lines).replace("\\\n", " ")
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in joined.splitlines() if line.strip()]


def test_hadolint_finds_nothing() -> None:
    done = subprocess.run([str(BIN / "hadolint"), "Dockerfile"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_heroku_builds_the_dockerfile_as_web() -> None:
    import yaml

    assert yaml.safe_load((ROOT / "heroku.yml").read_text()) == {"build": {"docker": {"web": "Dockerfile"}}}


def test_image_runs_as_non_root_exposes_5000_and_checks_health() -> None:
    found = dict(instructions())
    assert found["USER"] not in ("root", "0")
    assert found["EXPOSE"] == "5000"
    assert "/health" in found["HEALTHCHECK"]
    env = dict(item.split("=", 1) for item in shlex.split(found["ENV"]))
    assert env["HOST"] == "0.0.0.0" and env["PORT"] == "5000"  # Heroku overrides PORT at run time
    assert found["FROM"].startswith("python:3.11.") and "slim" in found["FROM"]


def ignored(relative: str, patterns: list[str]) -> bool:
    """.dockerignore semantics, enough for ours: later patterns win, `!` re-includes."""
    verdict = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        parts = relative.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatch(p, pattern) or fnmatch.fnmatch(p, pattern.replace("**/", "")) for p in prefixes):
            verdict = not negate
    return verdict


@pytest.mark.slow
def test_what_the_dockerfile_does_serves_predictions(tmp_path: Path) -> None:
    patterns = [
        p.strip() for p in (ROOT / ".dockerignore").read_text().splitlines() if p.strip() and not p.startswith("#")
    ]
    if not WHEELS.is_dir():
        missing(f"requirements.txt's wheels in {WHEELS}: .venv/bin/pip download -r requirements.txt -d {WHEELS}")
    # the wheels alone: no index, and none of this machine's pip settings (its own find-links or mirrors)
    pip_env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    pip_env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1")
    app, env_vars, cmd = tmp_path / "app", {}, None
    ran_python: list[list[str]] = []
    app.mkdir()
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    for instruction, args in instructions():
        if instruction == "COPY":
            *sources, dest = shlex.split(args)
            for source in sources:
                for path in sorted((ROOT / source).rglob("*")) if (ROOT / source).is_dir() else [ROOT / source]:
                    relative = path.relative_to(ROOT).as_posix()
                    if path.is_file() and not ignored(relative, patterns):
                        if (ROOT / source).is_dir() or dest == "./":
                            target = app / relative
                        else:  # a file into a folder (``dest/``) keeps its name
                            target = app / dest / path.name if dest.endswith("/") else app / dest
                        target.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(path, target)
        elif instruction == "RUN":
            for command in args.split("&&"):
                argv = shlex.split(command)
                if argv[:2] == ["pip", "install"]:
                    offline = ["--no-index", "--find-links", str(WHEELS)]
                    pip = [str(env_dir / "bin" / "pip"), *argv[1:], *offline]
                    done = subprocess.run(pip, cwd=app, env=pip_env, capture_output=True, text=True)
                    assert done.returncode == 0, f"{shlex.join(pip)}\n{done.stderr[-3000:]}"
                elif argv[:1] == ["python"]:  # the C kernel's build, with the image's Python (apt-get: gcc is here)
                    run = [str(env_dir / "bin" / "python"), *argv[1:]]
                    done = subprocess.run(run, cwd=app, capture_output=True, text=True, timeout=300)
                    assert done.returncode == 0, f"{shlex.join(run)}\n{done.stderr[-3000:]}"
                    ran_python.append(argv[1:])
        elif instruction == "ENV":
            env_vars.update(dict(item.split("=", 1) for item in shlex.split(args)))
        elif instruction == "CMD":
            cmd = json.loads(args)
    assert not (app / "models" / "report").exists() and not (app / "tests").exists()
    assert not list((app / "models").rglob("pipeline-*")), "the image must not carry the pickled pipelines"
    languages = sorted(p.name for p in (ROOT / "models" / "languages").iterdir() if p.suffix in (".json", ".npz"))
    assert languages and sorted(p.name for p in (app / "models" / "languages").iterdir()) == languages
    assert cmd == ["python", "-m", "hatespeech.service.launch"]  # nginx in front of gunicorn
    # the kernel, built in the image, not copied from here; then every module's bytecode, read at each start
    assert ran_python == [["hatespeech/core/build.py"], ["-m", "compileall", "-q", "app.py", "model.py", "hatespeech"]]
    assert list((app / "hatespeech" / "core" / "__pycache__").glob("model.cpython-311*.pyc"))
    assert [p.name for p in (app / "hatespeech" / "core").glob("_kernel*.so")] == [build.target().name]

    # The serving environment alone runs the functions and the archive scorer, and imports no training library.
    python = str(env_dir / "bin" / "python")
    code = (
        "import sys, app; app.predict(text='hi'); app.moderate(text='you idiot', explain=True);"
        "from hatespeech.core.model import KERNEL; assert KERNEL == 'C', KERNEL;"
        "assert app.moderate(text='Du bist der dümmste Mensch hier, du Idiot.')['model']['language'] == 'de';"
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'sklearn', 'scipy', 'pandas', 'joblib', 'matplotlib'}))"
    )
    done = subprocess.run([python, "-c", code], cwd=app, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr
    posts = tmp_path / "posts.csv"
    posts.write_text("id,text\n1,have a nice day\n2,you stupid idiot\n")
    done = subprocess.run(
        [python, str(ROOT / "score_archive.py"), str(posts), str(tmp_path / "scored.csv"), "--no-progress"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "scored.csv").read_text().count("\n") == 3
    # model.py (list, compare, promote, rollback) runs inside the image: the committed model, served
    listing = {**env_vars, "FEEDBACK_DB_PATH": str(tmp_path / "feedback.sqlite3"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [python, "model.py", "list"], cwd=app, env=listing, capture_output=True, text=True, timeout=120
    )
    committed = json.loads((ROOT / "models" / "model.json").read_text())["sha256"][:12]
    assert done.returncode == 0 and f"* {committed}" in done.stdout, done.stderr

    port = free_port()
    env = {"PATH": f"{env_dir / 'bin'}:/usr/bin:/bin", **env_vars, "PORT": str(port), "HOST": "127.0.0.1"}
    server = Server([str(env_dir / "bin" / cmd[0]), *cmd[1:]], env, port, tmp_path / "container.log", cwd=app)
    try:
        server.wait_ready()
        status, scores = post_json(server.url + "/predict", {"text": "Please respect each other."})
        assert status == 200 and list(scores) == list(LABELS)
        assert f"listening at http://127.0.0.1:{port} (nginx -> gunicorn)" in server.output()
    finally:
        server.stop()
