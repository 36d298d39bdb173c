"""Video → 2D keypoints → 3D motion: the worker-side stack (torch, numpy, OpenCV, MediaPipe). Never imports bpy.

The root holds what every stage shares (numpy only); each folder is one stage, importing only downward:
`app` and `learn` → `lift` and `video2d` → this root → `retarget`. `from lifting import api` is the stable
door for users' scripts (`lifting.app.api`), whatever the folders below it.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__version__ = "0.1.0"


def __getattr__(name: str) -> ModuleType:
    # The API is imported when first asked for, so `import lifting` stays light (no torch, no OpenCV).
    if name == "api":
        return importlib.import_module(f"{__name__}.app.api")
    raise AttributeError(f"module 'lifting' has no attribute {name!r}")
