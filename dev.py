#!/usr/bin/env python3.11
"""Developer entry point: set up the environment, run the demo, run the tests.

    python3.11 dev.py demo     # set up .venv if needed, then run the pipeline on the bundled sample clip
    python3.11 dev.py test     # set up .venv if needed, then ruff, mypy and the whole pytest suite (all Blenders)
    python3.11 dev.py setup    # only (re)create the environment

The environment is a virtual environment in `.venv/` with the project installed in editable mode with its
`worker`, `dev` and `blender` (bpy 5.0.1) extras, plus pyproject.toml's `[tool.video-mocap] no-deps` (mediapipe)
installed with `--no-deps` (its opencv-contrib-python dependency clashes with opencv-python-headless: both write
`cv2/`). Small ones hold the other Blenders as modules, so tests/blender/ runs against each: `.venv-bpy45/`
(4.5 LTS), `.venv-bpy42/` (4.2 LTS) and `.venv-bpy53/` (5.3, the newest `bpy` wheel, on Python 3.13). Another, in
`.venv-py313/`, is an engine for Python 3.13 (the Python of Blender 5.1 and newer) without torch: the worker's
pins as pip resolves them there (numpy 2), so tests/video2d/test_python313.py detects on it. Set-up is
skipped when the environments were made from the same pyproject.toml and this file. Only the standard library
is used here, so it runs before anything is installed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
import venv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
VENV_PY313 = ROOT / ".venv-py313"
STAMP = VENV / "video-mocap-setup.sha256"
EXTRAS = "worker,dev,blender"


@dataclass(frozen=True)
class BlenderVenv:
    """An environment with one more Blender as a module, for tests/blender/ (`.venv` has Blender 5.0)."""

    path: Path
    python_version: tuple[int, int]
    requirements: tuple[str, ...]


# Oldest supported LTS first; the newest release with a `bpy` wheel needs Python 3.13.
BLENDER_VENVS = (
    BlenderVenv(ROOT / ".venv-bpy42", (3, 11), ("bpy==4.2.23", "numpy==1.26.4", "pytest==9.2.0")),
    BlenderVenv(ROOT / ".venv-bpy45", (3, 11), ("bpy==4.5.15", "numpy==1.26.4", "pytest==9.2.0")),
    BlenderVenv(ROOT / ".venv-bpy53", (3, 13), ("bpy==5.3.0", "pytest==9.2.0")),
)
PYTEST_NO_TESTS_COLLECTED = 5


def venv_python(venv_dir: Path = VENV) -> Path:
    """Path of a virtual environment's interpreter on this platform."""
    if os.name == "nt":
        return venv_dir / "Scripts" / "python.exe"
    return venv_dir / "bin" / "python"


def pyproject(root: Path = ROOT) -> dict[str, Any]:
    """pyproject.toml, parsed."""
    return tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))


def no_deps_pins(root: Path = ROOT) -> list[str]:
    """pyproject.toml's `[tool.video-mocap] no-deps`: the packages installed with --no-deps (mediapipe)."""
    return list(pyproject(root)["tool"]["video-mocap"]["no-deps"])


def find_python313() -> Path | None:
    """A Python 3.13 interpreter: `python3.13` on PATH when it runs (a pyenv shim may not), else pyenv's."""
    candidates = [Path(p) for p in [shutil.which("python3.13")] if p]
    candidates += sorted(Path.home().glob(".pyenv/versions/3.13*/bin/python3.13"), reverse=True)
    for python in candidates:
        probe = subprocess.run(
            [str(python), "-c", "import sys; print(sys.version_info[:2] == (3, 13))"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.stdout.strip() == "True":
            return python
    return None


def py313_requirements(root: Path = ROOT) -> list[str]:
    """The worker extra without torch (a CUDA build of several GB for Python 3.13 on PyPI)."""
    worker = pyproject(root)["project"]["optional-dependencies"]["worker"]
    return [p for p in worker if not p.startswith("torch")]


def setup_fingerprint() -> str:
    """Hash of everything that decides what gets installed."""
    digest = hashlib.sha256()
    for path in (ROOT / "pyproject.toml", Path(__file__).resolve()):
        digest.update(path.read_bytes())
    digest.update(sys.version.encode())
    return digest.hexdigest()


def run(cmd: list[str]) -> None:
    """Run a command, echoing it; exit with its status if it fails."""
    print("+ " + " ".join(cmd), flush=True)
    result = subprocess.run(cmd, cwd=ROOT, check=False)
    if result.returncode != 0:
        sys.exit(result.returncode)


def make_venv(venv_dir: Path, force: bool) -> None:
    """Create the virtual environment when it has no Python yet (or afresh when `force`); an existing one is
    kept and only updated by pip, since re-creating it over itself fails when it was made with symlinks."""
    if force or not venv_python(venv_dir).exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(venv_dir)


def setup(force: bool = False) -> Path:
    """Create `.venv` and install the pinned stack unless it is already up to date; return its Python."""
    if sys.version_info[:2] != (3, 11):
        sys.exit(
            f"error: Python 3.11 is required (this is {sys.version.split()[0]}); run it as `python3.11 dev.py`."
        )
    fingerprint = setup_fingerprint()
    python = venv_python()
    if not force and python.exists() and STAMP.exists() and STAMP.read_text().strip() == fingerprint:
        return python
    print(f"Setting up {VENV} (Python {sys.version.split()[0]}) ...", flush=True)
    make_venv(VENV, force)
    pip = [str(python), "-m", "pip", "--disable-pip-version-check"]
    run([*pip, "install", "--quiet", "-e", f".[{EXTRAS}]"])
    run([*pip, "install", "--quiet", "--no-deps", *no_deps_pins()])
    python313 = find_python313()
    if python313 is None:
        sys.exit(
            "error: Python 3.13 is required for Blender 5.1+ (its engine and bpy 5.3); install python3.13."
        )
    for blender in BLENDER_VENVS:
        blender_python = venv_python(blender.path)
        if blender.python_version == (3, 11):
            make_venv(blender.path, force)
        elif force or not blender_python.exists():
            run([str(python313), "-m", "venv", "--clear", str(blender.path)])
        run(
            [
                str(blender_python),
                "-m",
                "pip",
                "--disable-pip-version-check",
                "install",
                "--quiet",
                *blender.requirements,
            ]
        )
    if force or not venv_python(VENV_PY313).exists():
        run([str(python313), "-m", "venv", "--clear", str(VENV_PY313)])
    pip313 = [str(venv_python(VENV_PY313)), "-m", "pip", "--disable-pip-version-check", "install", "--quiet"]
    run([*pip313, *py313_requirements()])
    run([*pip313, "--no-deps", *no_deps_pins()])
    STAMP.write_text(fingerprint + "\n")
    print("Environment ready.", flush=True)
    return python


def cmd_test(python: Path, pytest_args: list[str]) -> int:
    """ruff, mypy, pytest in .venv (Blender 5.0), then tests/blender in each of BLENDER_VENVS."""
    run([str(python), "-m", "ruff", "check", "."])
    run([str(python), "-m", "ruff", "format", "--check", "."])
    run([str(python), "-m", "mypy"])
    # Blender tests and the Python 3.13 engine tests must run, not skip, when set up by this script.
    env = {**os.environ, "VIDEO_MOCAP_REQUIRE_BPY": "1", "VIDEO_MOCAP_REQUIRE_PY313": "1"}
    code = run_pytest([str(python), "-m", "pytest", *pytest_args], env)
    for blender in BLENDER_VENVS if not pytest_args else ():
        if code != 0:
            break
        code = run_pytest(
            [str(venv_python(blender.path)), "-m", "pytest", "tests/blender", "-p", "no:cacheprovider"], env
        )
    return code


def run_pytest(cmd: list[str], env: dict[str, str]) -> int:
    """Run pytest; collecting no tests counts as a failure."""
    print("+ " + " ".join(cmd), flush=True)
    code = subprocess.run(cmd, cwd=ROOT, env=env, check=False).returncode
    if code == PYTEST_NO_TESTS_COLLECTED:
        print("error: pytest collected no tests; that is a failure, not a pass.", file=sys.stderr)
        return 1
    return code


def cmd_demo(python: Path, extra: list[str]) -> int:
    """Run the main job on the bundled sample clip (see README)."""
    cmd = [str(python), "-m", "lifting", "demo", *extra]
    print("+ " + " ".join(cmd), flush=True)
    return subprocess.run(cmd, cwd=ROOT, check=False).returncode


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["setup", "test", "demo"])
    parser.add_argument("--force-setup", action="store_true", help="recreate .venv from scratch")
    parser.add_argument(
        "args", nargs=argparse.REMAINDER, help="passed on to pytest (test) or the demo (demo)"
    )
    options = parser.parse_args()
    python = setup(force=options.force_setup)
    if options.command == "test":
        return cmd_test(python, options.args)
    if options.command == "demo":
        return cmd_demo(python, options.args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
