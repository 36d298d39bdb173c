"""The add-on's pure-Python modules outside Blender: the add-on folder imported as a package with the
repository's `retarget` as its vendored sub-package, exactly as blender_addon/headless.py does it."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from blender_addon import headless

ADDON_DIR = Path(__file__).resolve().parents[2] / "blender_addon"
PACKAGE = "video_mocap_tests"


def addon_module(name: str) -> ModuleType:
    """The add-on's module `name` (e.g. "worker_client"), imported as `video_mocap_tests.<name>`."""
    headless.load_addon_package(ADDON_DIR, PACKAGE)
    return importlib.import_module(f"{PACKAGE}.{name}")
