"""Where things are: the add-on's own (read-only) folder and its user folder for everything it writes."""

from __future__ import annotations

import time
from pathlib import Path

import bpy

from .engine import ENGINE_DIRNAME, VENV_DIRNAME, venv_python

ADDON_ID = __package__ or "video_mocap"
ADDON_DIR = Path(__file__).resolve().parent
ENGINE_SOURCE = ADDON_DIR / ENGINE_DIRNAME
RUNS_KEPT = 10


def user_dir() -> Path:
    """The extension's user folder (created on demand); never the add-on folder itself."""
    try:
        return Path(bpy.utils.extension_path_user(ADDON_ID, create=True))
    except ValueError:  # installed as a legacy add-on, not as an extension
        return Path(bpy.utils.user_resource("SCRIPTS", path="video_mocap_data", create=True))


def managed_venv() -> Path:
    """The engine Install Engine builds (a virtual environment in the user folder)."""
    return user_dir() / VENV_DIRNAME


def managed_python() -> Path:
    """The interpreter of the engine Install Engine builds (it may not exist yet)."""
    return venv_python(managed_venv())


def logs_dir() -> Path:
    return _ensure(user_dir() / "logs")


def pycache_dir() -> Path:
    return _ensure(user_dir() / "pycache")


def keypoints_cache_dir() -> Path:
    return _ensure(user_dir() / "cache" / "keypoints")


def weights_dir() -> Path:
    return _ensure(user_dir() / "weights")


def new_run_dir(label: str) -> Path:
    """A fresh folder for one run's files; the oldest runs beyond RUNS_KEPT are deleted."""
    root = _ensure(user_dir() / "runs")
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in label)[:40] or "run"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = root / f"{stamp}-{safe}"
    n = 1
    while path.exists():
        n += 1
        path = root / f"{stamp}-{safe}-{n}"
    path.mkdir(parents=True)
    old = sorted(p for p in root.iterdir() if p.is_dir())[:-RUNS_KEPT]
    for p in old:
        for f in sorted(p.rglob("*"), reverse=True):
            f.unlink() if f.is_file() else f.rmdir()
        p.rmdir()
    return path


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
