"""Where the project keeps what it can rebuild: one folder per kind of cache, under one root for all of them.

The root is `$VIDEO_MOCAP_CACHE`, else `$XDG_CACHE_HOME/video-mocap`, else `~/.cache/video-mocap`; each kind
("keypoints" for detections, "mocap" for the prepared training clips, "bench" for benchmark clips) has its own
folder under it, so one variable moves all of them and two kinds never share a folder.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """The folder every cache of the project lives under (see the module docstring); not created here."""
    env = os.environ.get("VIDEO_MOCAP_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "video-mocap"


def cache_dir(kind: str) -> Path:
    """The folder for one kind of cache, e.g. `cache_dir("keypoints")`; not created here."""
    return cache_root() / kind
