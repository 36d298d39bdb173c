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
# Pose2Sim's demo takes: four calibrated cameras, one person (SINGLE) or a man and a woman (MULTI), 100 frames.
POSE2SIM = DATA / "pose2sim"
POSE2SIM_CALIBRATION = POSE2SIM / "Calib.qca.txt"
POSE2SIM_SINGLE = [POSE2SIM / "single_person" / f"cam0{c}.mp4" for c in range(1, 5)]
POSE2SIM_MULTI = [POSE2SIM / "multi_person" / f"cam0{c}.mp4" for c in range(1, 5)]
# The man of the two-person take: a point on him on frame 0 of each camera (pixels, --subject).
POSE2SIM_MAN: list[tuple[float, float]] = [(420.0, 730.0), (582.0, 755.0), (649.0, 896.0), (397.0, 984.0)]
# The takes the real-footage benches score: label -> (folder under POSE2SIM, the subject per camera or None).
POSE2SIM_TAKES: dict[str, tuple[str, list[tuple[float, float] | None]]] = {
    "single person": ("single_person", [None, None, None, None]),
    "two people, the man": ("multi_person", list(POSE2SIM_MAN)),
}
HEADLESS = ROOT / "blender_addon" / "headless.py"
# ../shared beside the clone (data, rigs, the real clip), or where $VIDEO_MOCAP_SHARED says.
SHARED = Path(os.environ.get("VIDEO_MOCAP_SHARED", ROOT.parent / "shared"))
SAMPLE = SHARED / "data" / "video" / "sports2d_demo.mp4"
# The torch-less Python 3.13 engine that dev.py makes (numpy 2, the same MediaPipe): `python313()` finds it.
VENV_PY313 = ROOT / ".venv-py313"


def python313() -> Path | None:
    """The interpreter of `VENV_PY313`, or None when it is missing and VIDEO_MOCAP_REQUIRE_PY313 is not "1"
    (dev.py sets it: there a missing environment is an error, not a skip)."""
    python = VENV_PY313 / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    if python.exists():
        return python
    if os.environ.get("VIDEO_MOCAP_REQUIRE_PY313") == "1":
        raise RuntimeError(f"{VENV_PY313} is missing; run `python3.11 dev.py setup`")
    return None
