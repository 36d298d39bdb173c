"""Issue 23's head pitch on real footage: every camera of Pose2Sim's two calibrated takes, scored as a monocular
video against the other three cameras' triangulated faces (`bench/orientations.py`, docs/orientations.md), within
10 degrees of the person's pitch, and the yaw no worse than before the neutral head (13.9 degrees, the mean of the
cameras then). The head's settings were chosen on the single-person take; the two-person take is held out."""

from __future__ import annotations

import numpy as np
import pytest

from bench.orientations import camera_cases, head_scores
from tests.support.paths import POSE2SIM_TAKES

pytestmark = pytest.mark.slow

MOST_PITCH_DEG = 10.0
YAW_BEFORE_DEG = 13.9


def test_every_camera_sees_the_head_pitch_within_10_degrees() -> None:
    scores = {take: head_scores(camera_cases(*spec)) for take, spec in POSE2SIM_TAKES.items()}
    pitch = {
        f"{take} cam0{c + 1}": s["pitch error after"]
        for take, per in scores.items()
        for c, s in enumerate(per)
    }
    assert max(pitch.values()) <= MOST_PITCH_DEG, pitch
    # Better than the joints' head frame (head -> nose) on average, which the head bone followed before.
    every = [s for per in scores.values() for s in per]
    assert np.mean([s["pitch error after"] for s in every]) < np.mean(
        [s["pitch error before"] for s in every]
    )
    assert np.mean([s["yaw error after"] for s in every]) <= YAW_BEFORE_DEG
