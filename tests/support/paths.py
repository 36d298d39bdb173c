"""Where the tests' files are: the repository, the committed fixtures, and the shared data beside the clone."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
RIGS = DATA / "rigs"
EXCERPT = DATA / "sports2d_excerpt.mp4"  # the first 60 frames of the sample clip at half size
UPRIGHT = DATA / "sports2d_walker.mp4"
ROTATED = DATA / "sports2d_walker_rotated90.mp4"  # the same frames stored sideways with a rotation tag
HEADLESS = ROOT / "blender_addon" / "headless.py"
# ../shared beside the clone (data, rigs, the real clip), or where $VIDEO_MOCAP_SHARED says.
SHARED = Path(os.environ.get("VIDEO_MOCAP_SHARED", ROOT.parent / "shared"))
SAMPLE = SHARED / "data" / "video" / "sports2d_demo.mp4"
