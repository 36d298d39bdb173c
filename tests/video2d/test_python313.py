"""The detector on a Python 3.13 engine (Blender 5.1 and newer bundle Python 3.13): the same MediaPipe (Tasks
API, the shipped pose model) with numpy 2 must give the same keypoints as on Python 3.11."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from lifting.video2d.detect import detect_video
from lifting.video2d.keypoints2d import Keypoints2D
from tests.support.paths import EXCERPT, ROOT, python313

DETECT = """
import sys
import numpy, mediapipe
from lifting.video2d.detect import detect_video
assert sys.version_info[:2] == (3, 13) and numpy.__version__.startswith("2."), (sys.version, numpy.__version__)
detect_video(sys.argv[1], workers=1).save(sys.argv[2])
print(mediapipe.__version__, numpy.__version__)
"""


@pytest.mark.slow
def test_detection_on_python_313_matches_python_311(tmp_path: Path) -> None:
    python = python313()
    if python is None:
        pytest.skip("no .venv-py313 (python3.11 dev.py setup makes it)")
    out = tmp_path / "py313.keypoints.npz"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VIDEO_MOCAP_CACHE": str(tmp_path / "cache")}
    run = subprocess.run(
        [str(python), "-c", DETECT, str(EXCERPT), str(out)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    on_313 = Keypoints2D.load(out)
    on_311 = detect_video(EXCERPT, workers=1)
    np.testing.assert_array_equal(on_313.detected, on_311.detected)
    assert on_311.detected.mean() > 0.9
    found = on_311.detected
    apart = np.linalg.norm(on_313.keypoints[found] - on_311.keypoints[found], axis=-1)
    assert apart.max() <= 1.0, f"up to {apart.max():.2f} px apart"
    np.testing.assert_allclose(on_313.visibility, on_311.visibility, atol=0.01)
