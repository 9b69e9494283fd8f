"""Build ``_kernel.c`` in place, next to this file: ``python hatespeech/core/build.py`` (``make`` and the Dockerfile
run it; a wheel builds it through pyproject.toml's ``ext-modules``, with the same ``FLAGS``).

Python's own compiler and flags (``sysconfig``), as setuptools would use them, with no setuptools: the image and a
fresh environment need only a C compiler and Python's headers. Up to date (the extension newer than its sources):
nothing is done. Without the extension, ``hatespeech.core.model`` computes the same in NumPy and Python.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "_kernel.c"
# No fused multiply-adds: each product rounded as Python rounds it (proba3 must be bit-identical to Python's).
FLAGS = ["-O2", "-ffp-contract=off"]


def target() -> Path:
    """Where the extension goes: ``_kernel`` with this Python's suffix (``.cpython-311-x86_64-linux-gnu.so``)."""
    return HERE / f"_kernel{sysconfig.get_config_var('EXT_SUFFIX')}"


def build(force: bool = False) -> Path:
    """Compile and link the extension unless it is newer than its sources; return its path."""
    out = target()
    if not force and out.exists() and out.stat().st_mtime > max(SOURCE.stat().st_mtime, Path(__file__).stat().st_mtime):
        return out
    config = sysconfig.get_config_vars()
    compile_flags = shlex.split(config.get("CFLAGS") or "") + shlex.split(config.get("CCSHARED") or "")
    command = [
        *shlex.split(config.get("LDSHARED") or "cc -shared"),
        *compile_flags,
        *FLAGS,
        f"-I{sysconfig.get_paths()['include']}",
        str(SOURCE),
        "-lm",
        "-o",
        str(out.with_suffix(".tmp")),
    ]
    headers = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if not headers.is_file():
        raise BuildError(f"Python's headers are missing ({headers}): on Debian, apt-get install python3-dev")
    try:
        subprocess.run(command, check=True)
    except FileNotFoundError:
        raise BuildError(f"no C compiler ({command[0]}): on Debian, apt-get install gcc") from None
    except subprocess.CalledProcessError as err:
        raise BuildError(f"the compiler failed (exit status {err.returncode}; its messages are above)") from None
    out.with_suffix(".tmp").replace(out)  # at once: a running process never sees half a file
    return out


class BuildError(Exception):
    """The kernel cannot be built here, and what to install."""


if __name__ == "__main__":
    try:
        print(build(force="--force" in sys.argv[1:]))
    except BuildError as err:
        sys.exit(
            f"hatespeech/core/build.py: cannot build the C kernel: {err}. Without it the service scores in Python, "
            "with the same answers, slower (docs/operations.md, Speed)."
        )
