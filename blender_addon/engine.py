"""The engine: the Python environment that runs `lifting` outside Blender. No bpy here.

Where it lives: a virtual environment under the extension's user folder (never inside the add-on folder), made
with Blender's own Python (`sys.executable`), or any Python the user points at. The add-on ships the worker's
source in `engine/` (lifting/ and retarget/ as they are in the repository, plus the shipped weights) and the
pinned requirements in `engine/requirements.json` (written by build_addon.py from pyproject.toml); the worker
runs with `PYTHONPATH=<add-on>/engine`, bytecode cached under the user folder.

Installing: create the venv in a temporary folder, pip-install torch (the CUDA build when `nvidia-smi` finds an
NVIDIA GPU, the CPU build otherwise), then the other pins, then the packages installed without their
dependencies (mediapipe), run the worker's `check`, record what it was built from (`STAMP_FILE`: the hash of
requirements.json and the Python version), and only then rename the folder into place, so a cancelled or failed
install never leaves a half-made engine behind. An engine whose record matches the add-on's requirements and
this Python, and whose check passes, is current: Install Engine then leaves it alone unless asked to repair it.
pip runs with `--progress-bar raw` where the venv's pip has it (24.1 and newer), and `PipProgress` reads its
output into the step's progress.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import re
import shutil
import struct
import subprocess
import sys
import urllib.parse
from dataclasses import dataclass, replace
from pathlib import Path

from .worker_client import Step

ENGINE_DIRNAME = "engine"
VENV_DIRNAME = "engine-venv"
REQUIREMENTS_FILE = "requirements.json"
# The record an installed engine keeps of what it was built from (in the venv's root folder).
STAMP_FILE = "video-mocap-engine.json"
STAMP_FORMAT = 1
# The first pip with `--progress-bar raw` (one "Progress X of Y" line on stdout every quarter of a second).
PIP_RAW_PROGRESS = (24, 1)
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
    specifier like ">=3.11,<3.14" (the comparisons >=, <, <=, >, ==, != on major.minor)."""
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
                f"this Blender runs Python {have}, and the engine's packages have wheels only for Python "
                f"{requires_python}, so Install Engine cannot build it here; point the add-on at a Python "
                "environment with the engine's packages (My Own Python in the add-on's preferences), or use a "
                "Blender whose Python is supported"
            )
    return None


# (sys.platform, machine) pairs with wheels of every engine package (MediaPipe 1.2.3 and torch 2.13): Linux x86_64
# and aarch64, 64-bit Windows on x86, Apple-silicon Macs. Intel Macs and Windows on ARM have neither.
SERVED_PLATFORMS = frozenset(
    {("linux", "x86_64"), ("linux", "aarch64"), ("win32", "amd64"), ("darwin", "arm64")}
)
_PLATFORM_NAMES = {"linux": "Linux", "win32": "Windows", "darwin": "macOS"}


def platform_problem(system: str = sys.platform, machine: str = platform.machine()) -> str | None:
    """Why no engine can be built on this operating system and processor (None when it can): the engine's
    packages have no wheels there (`SERVED_PLATFORMS`)."""
    if (system, machine.lower()) in SERVED_PLATFORMS:
        return None
    name = f"{_PLATFORM_NAMES.get(system, system)} on {machine or 'an unknown processor'}"
    return (
        f"the engine's packages (MediaPipe, PyTorch) have no wheels for {name}, so Install Engine cannot build it "
        "here; point the add-on at a Python environment with the engine's packages (My Own Python in the "
        "add-on's preferences) if you have one"
    )


# -- what an installed engine was built from -----------------------------------------------------------------
def requirements_digest(path: str | os.PathLike[str]) -> str:
    """SHA-256 of the add-on's requirements.json as it is (any change of a pin changes it)."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as exc:
        raise EngineError(
            f"the add-on's engine requirements are unreadable ({exc}); reinstall the add-on."
        ) from None


def write_stamp(
    venv: str | os.PathLike[str], digest: str, python: tuple[int, int] = sys.version_info[:2]
) -> Path:
    """Record in the venv what it was built from: the requirements' digest and the Python (major.minor)."""
    path = Path(venv) / STAMP_FILE
    record = {"format": STAMP_FORMAT, "requirements_sha256": digest, "python": ".".join(map(str, python))}
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return path


def stamp_problem(
    venv: str | os.PathLike[str], digest: str, python: tuple[int, int] = sys.version_info[:2]
) -> str | None:
    """Why the engine in `venv` is not the one this add-on would build (None when its record matches
    `digest` and `python`), as a phrase that follows "reinstalled because"."""
    try:
        record = json.loads((Path(venv) / STAMP_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "the engine was installed by an earlier version of the add-on"
    except (OSError, ValueError):
        return "the engine's install record is unreadable"
    if not isinstance(record, dict):
        return "the engine's install record is unreadable"
    have = ".".join(map(str, python))
    if record.get("python") != have:
        return f"the engine was built with Python {record.get('python')} and this Blender runs Python {have}"
    if record.get("requirements_sha256") != digest:
        return "the add-on's engine requirements changed"
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


# -- pip's progress ----------------------------------------------------------------------------------------
# pip names each file it fetches ("  Downloading torch-2.13.0-cp311-...whl (370.5 MB)", the full URL for an index
# other than PyPI, "Using cached ...", "Resuming download ... (12.0 MB/370.5 MB)"); with --progress-bar raw it
# then prints "Progress 120586240 of 370475008" lines; "Installing collected packages: a, b" starts the install.
_PIP_FILE = re.compile(
    r"^\s*(Downloading|Using cached|Resuming download) (\S+)(?: \((?:([\d.]+ \w+)/)?([\d.]+ \w+)\))?\s*$"
)
_PIP_BYTES = re.compile(r"^Progress (\d+) of (\d+)\s*$")
_PIP_INSTALLING = re.compile(r"^Installing collected packages: (.+)$")
_SIZE_UNITS = {"bytes": 1, "kB": 10**3, "MB": 10**6, "GB": 10**9}
# Share of a pip step the downloads take on the progress bar; unpacking and installing take the rest.
PIP_DOWNLOAD_SHARE = 0.9


def _size(text: str | None) -> int:
    """Bytes of one of pip's sizes ("18.3 MB", "355 kB", "512 bytes"); 0 when there is none."""
    if not text:
        return 0
    value, _, unit = text.partition(" ")
    try:
        return round(float(value) * _SIZE_UNITS[unit])
    except (ValueError, KeyError):
        return 0


def _package(url: str) -> str:
    """The package a wheel or sdist file (or its URL) belongs to: "torch" for ".../torch-2.13.0%2Bcpu-...whl"."""
    name = urllib.parse.unquote(url.rsplit("/", 1)[-1])
    return name.split("-", 1)[0].replace("_", "-")


def _amount(done: int, total: int = 0) -> str:
    """Bytes the way a person reads them, in the unit of the total: "120 of 370 MB", "2.5 of 8.6 MB",
    "95 of 355 kB"; only "120 MB" when `total` is unknown (0)."""
    scale = max(total, done)
    if scale >= 10 * 10**6:
        unit, div, places = "MB", 10**6, 0
    elif scale >= 10**6:
        unit, div, places = "MB", 10**6, 1
    else:
        unit, div, places = "kB", 10**3, 0
    if total <= 0:
        return f"{done / div:.{places}f} {unit}"
    return f"{done / div:.{places}f} of {total / div:.{places}f} {unit}"


@dataclass(frozen=True)
class PipProgress:
    """How far one pip run got, read from its output a line at a time with `feed` (a pure function: it returns
    the next state and changes nothing): the file being fetched (`package`), its bytes so far and in all, the
    bytes of the files fetched before it, and `fraction` of the step, which never goes back. pip names each file
    only when it starts, so the fraction follows the bytes of the files seen so far and waits when a later file
    is large; older pips (before 24.1) print no byte counts, and then only the files' names and sizes show."""

    package: str = ""
    done: int = 0
    total: int = 0
    before: int = 0
    cached: bool = False
    installing: int = 0
    fraction: float = 0.0

    @property
    def message(self) -> str:
        """What pip is doing, e.g. "downloading torch, 120 of 370 MB"."""
        if self.installing:
            return f"installing {self.installing} package{'s' if self.installing > 1 else ''}"
        package = self.package or "a package"
        if self.cached:
            return f"using the cached {package} ({_amount(self.total)})"
        if self.done > 0:
            return f"downloading {package}, {_amount(self.done, self.total)}"
        return f"downloading {package}" + (f" ({_amount(self.total)})" if self.total else "")

    def feed(self, line: str) -> PipProgress | None:
        """The state after one more line of pip's output; None when the line says nothing about progress."""
        if m := _PIP_BYTES.match(line):
            done, total = int(m[1]), int(m[2])
            state = replace(self, done=done, total=total or self.total)
        elif (m := _PIP_FILE.match(line)) and not m[2].endswith(".metadata"):
            total, cached = _size(m[4]), m[1] == "Using cached"
            resumed = _size(m[3])
            state = replace(
                self,
                package=_package(m[2]),
                done=total if cached else resumed,
                total=total,
                before=self.before + self.total,
                cached=cached,
            )
        elif m := _PIP_INSTALLING.match(line):
            count = len([p for p in m[1].split(",") if p.strip()])
            return replace(self, installing=count, fraction=max(self.fraction, PIP_DOWNLOAD_SHARE))
        else:
            return None
        seen = state.before + state.total
        fetched = PIP_DOWNLOAD_SHARE * (state.before + state.done) / seen if seen > 0 else 0.0
        return replace(state, fraction=max(self.fraction, min(fetched, PIP_DOWNLOAD_SHARE)))


def pip_progress_args(pip_version: tuple[int, ...]) -> tuple[str, ...]:
    """pip's progress option: raw byte counts where the pip has them (24.1 and newer), else none (an older pip's
    bar draws nothing readable into a pipe; its "Downloading NAME (SIZE)" lines still name each file)."""
    return ("--progress-bar", "raw" if pip_version >= PIP_RAW_PROGRESS else "off")


def bundled_pip_version() -> tuple[int, ...]:
    """The pip `python -m venv` puts into a new environment made with this Python (ensurepip's own wheel);
    (0,) when this Python has no ensurepip."""
    try:
        import ensurepip

        return tuple(int(part) for part in re.findall(r"\d+", ensurepip.version())[:3]) or (0,)
    except (ImportError, AttributeError, ValueError):
        return (0,)


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


def check_argv(python: str | os.PathLike[str]) -> tuple[str, ...]:
    """The worker's check of an engine (versions, every package imported, the device it would use)."""
    return (str(python), "-m", "lifting", "worker", "check")


def install_steps(
    base_python: str,
    target: Path,
    requirements: Requirements,
    engine_source: Path,
    cache_dir: Path,
    *,
    gpu: bool,
    platform: str = sys.platform,
    pip_version: tuple[int, ...] = (0,),
) -> list[Step]:
    """The installer's commands: venv in `target`, torch, the pins, the no-deps packages, a check. `pip_version`
    is the pip the new venv gets (`bundled_pip_version`): it decides whether pip prints byte counts. Each step's
    weight is its rough share of the time (PyTorch is most of the download)."""
    py = str(venv_python(target))
    pip = [py, "-m", "pip", "install", "--no-input", *pip_progress_args(pip_version)]
    env = clean_env()
    steps = [
        Step(
            "Creating the environment", (base_python, "-m", "venv", "--clear", str(target)), env, weight=1.0
        ),
        Step(
            "Installing PyTorch",
            (*pip, *torch_install_args(requirements.torch, gpu, platform)),
            env,
            weight=12.0,
            progress=PipProgress(),
        ),
        Step(
            "Installing the worker's packages",
            (*pip, *requirements.packages),
            env,
            weight=4.0,
            progress=PipProgress(),
        ),
    ]
    if requirements.no_deps:
        steps.append(
            Step(
                "Installing MediaPipe",
                (*pip, "--no-deps", *requirements.no_deps),
                env,
                weight=1.5,
                progress=PipProgress(),
            )
        )
    steps.append(
        Step("Checking the engine", check_argv(py), worker_env(engine_source, cache_dir), weight=1.0)
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
    for part in (weights, config):
        if not part.is_file():
            raise EngineError(f"the weights {name!r} lack {part.name!r}; choose a complete checkpoint.")
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
