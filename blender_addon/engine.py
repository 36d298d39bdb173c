"""The engine: the Python environment that runs `lifting` outside Blender. No bpy here.

Where it lives: a virtual environment under the extension's user folder (never inside the add-on folder), made
with Blender's own Python (`sys.executable`), or any Python the user points at. The add-on ships the worker's
source in `engine/` (lifting/ and retarget/ as they are in the repository, plus the shipped weights) and the
pinned requirements in `engine/requirements.json` (written by build_addon.py from pyproject.toml); the worker
runs with `PYTHONPATH=<add-on>/engine`, bytecode cached under the user folder.

Installing: create the venv in a temporary folder, pip-install torch (the CUDA build when `nvidia-smi` finds an
NVIDIA GPU, the CPU build otherwise), then the other pins, then the packages installed without their
dependencies (mediapipe), run the worker's `check`, and only then rename the folder into place, so a cancelled
or failed install never leaves a half-made engine behind.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .worker_client import Step

ENGINE_DIRNAME = "engine"
VENV_DIRNAME = "engine-venv"
REQUIREMENTS_FILE = "requirements.json"
CHECKPOINT_FORMAT = "video-mocap-checkpoint"
# PyTorch's own package indexes: the CPU build (Linux and Windows) and a CUDA build (Windows; on Linux the
# plain PyPI wheel already is the CUDA build).
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
TORCH_CUDA_INDEX = "https://download.pytorch.org/whl/cu128"
# Environment variables of Blender's process that must not leak into another Python.
_DROP_ENV = ("PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP", "PYTHONEXECUTABLE", "VIRTUAL_ENV", "PYTHONSAFEPATH")


class EngineError(Exception):
    """A problem with the engine the user can fix, in one sentence."""


@dataclass(frozen=True)
class Requirements:
    """Pinned packages of the engine: torch (installed first, from the right index), the rest, and
    packages installed with --no-deps (mediapipe: its opencv-contrib dependency clashes with headless)."""

    torch: str
    packages: tuple[str, ...]
    no_deps: tuple[str, ...]
    requires_python: str = ""

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Requirements:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(
                str(data["torch"]),
                tuple(data["packages"]),
                tuple(data.get("no_deps", ())),
                str(data.get("requires_python", "")),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise EngineError(
                f"the add-on's engine requirements are unreadable ({exc}); reinstall the add-on."
            ) from None


def python_problem(requires_python: str, version: tuple[int, int] = sys.version_info[:2]) -> str | None:
    """Why an engine cannot be built with a Python of `version` (None when it can): `requires_python` is a
    specifier like ">=3.11,<3.12" (the comparisons >=, <, <=, >, ==, != on major.minor)."""
    ops = {
        ">=": tuple.__ge__,
        "<=": tuple.__le__,
        ">": tuple.__gt__,
        "<": tuple.__lt__,
        "==": tuple.__eq__,
        "!=": tuple.__ne__,
    }
    for clause in filter(None, (c.strip() for c in requires_python.split(","))):
        op = next((o for o in (">=", "<=", "==", "!=", ">", "<") if clause.startswith(o)), None)
        if op is None:
            continue
        bound = tuple(int(v) for v in clause[len(op) :].strip().split(".")[:2])
        if not ops[op](version, bound):
            have = ".".join(map(str, version))
            return (
                f"this Blender runs Python {have}, and the engine's packages (MediaPipe 0.10.21 with its models, "
                f"numpy 1.26) exist only for Python {requires_python}, so Install Engine cannot build it here; "
                "point the add-on at a Python 3.11 environment with the engine's packages (My Own Python in the "
                "add-on's preferences), or use Blender 4.2 to 5.0"
            )
    return None


# What pip's output says went wrong, in the order the causes are looked for: (pattern, cause).
_PIP_CAUSES = (
    (
        re.compile(
            r"NewConnectionError|Failed to establish a new connection|Temporary failure in name resolution|"
            r"Name or service not known|Network is unreachable|No route to host|ConnectTimeout|ReadTimeout|"
            r"Max retries exceeded|ProxyError|certificate verify failed|Connection (refused|reset)"
        ),
        "the package index could not be reached: check the network connection, a proxy or a firewall, then try "
        "again",
    ),
    (re.compile(r"No space left on device|\[Errno 28\]"), "the disk is full: free some space and try again"),
)
_NO_WHEEL = re.compile(
    r"(?:No matching distribution found for|Could not find a version that satisfies the requirement) (\S+)"
)


def pip_failure_cause(output: str) -> str | None:
    """The cause of a failed pip run in one phrase, from its output (stdout and stderr): the network, a full
    disk, a package with no wheel for this Python and platform, or pip's own last `ERROR:` line; None when the
    output says nothing recognisable."""
    for pattern, cause in _PIP_CAUSES:
        if pattern.search(output):
            return cause
    missing = _NO_WHEEL.findall(output)
    if missing:
        version = ".".join(map(str, sys.version_info[:2]))
        return f"pip found no {missing[-1]} for Python {version} on this platform"
    errors = [line[len("ERROR:") :].strip() for line in output.splitlines() if line.startswith("ERROR:")]
    return errors[-1] if errors else None


def relocate_venv(venv: str | os.PathLike[str], built_at: str | os.PathLike[str]) -> list[Path]:
    """A virtual environment built at `built_at` and renamed to `venv`: its scripts (pip, activate, torchrun...)
    name the interpreter and folder by their full path, so every text file of its scripts folder and
    `pyvenv.cfg` get the new path. Returns the files rewritten. (Windows' .exe launchers are left alone: the
    add-on runs `python -m` only.)"""
    root, old, new = Path(venv), str(Path(built_at)), str(Path(venv))
    scripts = root / ("Scripts" if os.name == "nt" else "bin")
    changed: list[Path] = []
    for path in [root / "pyvenv.cfg", *(sorted(scripts.iterdir()) if scripts.is_dir() else [])]:
        if path.is_symlink() or not path.is_file() or path.suffix == ".exe":
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # a binary file
        if old in text:
            mode = path.stat().st_mode
            path.write_text(text.replace(old, new), encoding="utf-8")
            path.chmod(mode)
            changed.append(path)
    return changed


def venv_python(venv: str | os.PathLike[str]) -> Path:
    """The interpreter of a virtual environment on this platform."""
    root = Path(venv)
    return root / "Scripts" / "python.exe" if os.name == "nt" else root / "bin" / "python"


def has_nvidia_gpu(timeout: float = 15.0) -> bool:
    """True when `nvidia-smi -L` runs and lists a GPU."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return False
    try:
        proc = subprocess.run([exe, "-L"], capture_output=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return proc.returncode == 0 and b"GPU" in proc.stdout


def torch_install_args(torch_pin: str, gpu: bool, platform: str = sys.platform) -> list[str]:
    """pip arguments that install the right torch build for this machine."""
    if platform == "darwin":
        return [torch_pin]  # macOS wheels on PyPI: CPU + Metal, no CUDA
    if gpu:
        return [torch_pin] if platform.startswith("linux") else [torch_pin, "--index-url", TORCH_CUDA_INDEX]
    return [torch_pin, "--index-url", TORCH_CPU_INDEX]


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """os.environ without Blender's Python settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in _DROP_ENV}
    env["PYTHONNOUSERSITE"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    env["PYTHONUNBUFFERED"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.update(extra or {})
    return env


def worker_env(engine_source: str | os.PathLike[str], cache_dir: str | os.PathLike[str]) -> dict[str, str]:
    """Environment of a worker process: the shipped engine source on the path, bytecode kept out of the
    add-on folder."""
    return clean_env({"PYTHONPATH": str(engine_source), "PYTHONPYCACHEPREFIX": str(cache_dir)})


def install_steps(
    base_python: str,
    target: Path,
    requirements: Requirements,
    engine_source: Path,
    cache_dir: Path,
    *,
    gpu: bool,
    platform: str = sys.platform,
) -> list[Step]:
    """The installer's commands: venv in `target`, torch, the pins, the no-deps packages, a check."""
    py = str(venv_python(target))
    pip = [py, "-m", "pip", "install", "--no-input", "--progress-bar", "off"]
    env = clean_env()
    steps = [
        Step("Creating the environment", (base_python, "-m", "venv", "--clear", str(target)), env),
        Step("Installing PyTorch", (*pip, *torch_install_args(requirements.torch, gpu, platform)), env),
        Step("Installing the worker's packages", (*pip, *requirements.packages), env),
    ]
    if requirements.no_deps:
        steps.append(Step("Installing MediaPipe", (*pip, "--no-deps", *requirements.no_deps), env))
    steps.append(
        Step(
            "Checking the engine",
            (py, "-m", "lifting", "worker", "check"),
            worker_env(engine_source, cache_dir),
        )
    )
    return steps


def check_python(path: str) -> Path:
    """The user's chosen interpreter, if it exists and can be run; else EngineError."""
    if not path:
        raise EngineError("no engine is installed; open the add-on's preferences and press Install Engine.")
    p = Path(path)
    if not p.is_file() or not os.access(p, os.X_OK):
        raise EngineError(
            f"the engine's Python {str(p)!r} does not exist or cannot be run; install the engine again."
        )
    return p


def checkpoint_stem(path: str) -> Path:
    """NAME for a checkpoint given as NAME, NAME.safetensors or NAME.json."""
    p = Path(path)
    return p.with_suffix("") if p.suffix in (".safetensors", ".json") else p


def check_checkpoint(path: str) -> Path:
    """Quick check of a checkpoint without torch: both files, the JSON config, the safetensors header.

    Returns the stem; raises EngineError with one sentence when something is missing, truncated or foreign.
    """
    stem = checkpoint_stem(path)
    weights = stem.with_name(stem.name + ".safetensors")
    config = stem.with_name(stem.name + ".json")
    name = stem.name
    for f in (weights, config):
        if not f.is_file():
            raise EngineError(f"the weights {name!r} lack {f.name!r}; choose a complete checkpoint.")
    try:
        meta = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise EngineError(
            f"the weights' config {config.name!r} is not valid JSON; choose another checkpoint."
        ) from None
    if not isinstance(meta, dict) or meta.get("format") != CHECKPOINT_FORMAT:
        raise EngineError(
            f"{config.name!r} is not a video-mocap checkpoint config; choose another checkpoint."
        )
    size = weights.stat().st_size
    try:
        with open(weights, "rb") as f:
            (header_len,) = struct.unpack("<Q", f.read(8))
            if header_len <= 0 or 8 + header_len > size:
                raise ValueError
            header = json.loads(f.read(header_len))
        ends = [int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"]
        if not ends or 8 + header_len + max(ends) != size:
            raise ValueError
    except (OSError, ValueError, struct.error, KeyError, TypeError, IndexError, AttributeError):
        raise EngineError(
            f"the weights file {weights.name!r} is truncated or corrupt; choose another checkpoint."
        ) from None
    return stem


def module_check_argv(python: str, module: str) -> list[str]:
    """A command that exits 0 when `module` can be imported by `python` (3 when it cannot be found)."""
    code = "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec(sys.argv[1]) else 3)"
    return [python, "-c", code, module]


def module_available(python: str, module: str, env: dict[str, str], timeout: float = 60.0) -> bool:
    """Whether the engine has `module` (e.g. lifting.learn.finetune)."""
    try:
        proc = subprocess.run(
            module_check_argv(python, module), env=env, capture_output=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return proc.returncode == 0


def fov_from_focal(focal_mm: float, sensor_mm: float) -> float:
    """Horizontal field of view in degrees of a lens on a sensor of that width."""
    return math.degrees(2.0 * math.atan(0.5 * sensor_mm / focal_mm))
