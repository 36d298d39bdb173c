"""bench/feet_test_split.py's root drift over standing windows, and its world alignment, on known motions."""

from __future__ import annotations

import numpy as np
import pytest

from bench.feet_test_split import STANDING_S, to_capture_world, to_output_world, window_drift
from lifting.camera import Intrinsics
from lifting.learn.datasets.views import CameraTrack
from lifting.skeleton import MODEL_FPS
from retarget.placement import WorldPlacement
from retarget.rotations import axis_angle_matrix


def test_window_drift_counts_displacement_against_the_truth_not_jitter() -> None:
    rng = np.random.default_rng(0)
    frames = 120
    truth = np.zeros((frames, 3))
    truth[:, 0] = np.linspace(0.0, 0.2, frames)  # the true pelvis shifts 20 cm over the clip
    both = np.zeros(frames, dtype=bool)
    both[10:41] = True  # 1.0 s of double support at 30 fps
    both[60:70] = True  # 0.3 s: too short to count
    both[80:111] = True  # 1.0 s
    # Ours: the truth, 5 mm of jitter per frame in every axis, a constant offset, and in the second window an
    # extra 6 cm of travel along Y.
    ours = truth + np.array([0.3, -0.1, 0.9]) + rng.normal(0.0, 0.005, truth.shape)
    ours[:, 2] += np.linspace(0.0, 0.5, frames)  # vertical motion is not drift
    ours[80:111, 1] += np.linspace(0.0, 0.06, 31)
    ours[111:, 1] += 0.06
    rates, seconds = window_drift(ours, truth, both, MODEL_FPS)
    np.testing.assert_allclose(seconds, [1.0, 1.0])
    assert rates[0] < 0.012  # the jitter's two end frames only: at most ~7 mm over 1 s
    assert rates[1] == pytest.approx(0.06, abs=0.012)
    # The step-wise speed of the same jitter is ten times larger.
    step = np.linalg.norm(np.diff(ours[10:41, :2] - truth[10:41, :2], axis=0), axis=-1).mean() * MODEL_FPS
    assert step > 0.15
    assert round(STANDING_S * MODEL_FPS) == 15


def test_the_truth_carried_into_the_output_world_and_back_is_unchanged() -> None:
    rng = np.random.default_rng(1)
    frames = 20
    # A camera panning by 10 degrees over the clip, 3 m from the world origin.
    rotations = np.stack(
        [axis_angle_matrix(np.array([0.0, 1.0, 0.0]), a) for a in np.radians(np.linspace(0, 10, frames))]
    ) @ np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    positions = np.tile([0.0, -3.0, 1.2], (frames, 1))
    camera = CameraTrack(Intrinsics(1000.0, 1000.0, 540.0, 960.0, 1080, 1920), rotations, positions)
    rot = axis_angle_matrix(np.array([1.0, 0.0, 0.0]), np.radians(-95.0))
    placement = WorldPlacement(rot, np.array([0.1, -0.2, 0.3]), 1.1, rot[2], 1.7)
    truth = rng.normal(0.0, 1.0, (frames, 3))
    ours = to_output_world(truth, placement, camera)
    np.testing.assert_allclose(to_capture_world(ours, placement, camera), truth, atol=1e-9)
    # A still point in the capture's world moves in the output's as the camera pans.
    still = to_output_world(np.zeros((frames, 3)), placement, camera)
    assert np.linalg.norm(still[-1] - still[0]) > 0.3
