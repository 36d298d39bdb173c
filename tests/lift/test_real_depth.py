"""Issue 24's depth with an unknown camera (`bench/real_depth.py`, docs/real_depth.md): the measures on made-up
numbers, and on Pose2Sim's single-person take the default camera placing the person within 15 % of the
triangulated depth on every camera, where the former default (26 mm across the video's diagonal) did not."""

from __future__ import annotations

import numpy as np
import pytest

from bench.focal_experiment import parabola_minimum
from bench.real_depth import CALIBRATED, DEPTH_TARGET_PCT, landmark_root, root_score, run_take
from retarget.motion3d import Intrinsics, Motion3D
from tests.support.paths import POSE2SIM_TAKES


def _motion(pelvis: np.ndarray, spine_offset: np.ndarray) -> Motion3D:
    frames = len(pelvis)
    names = ("pelvis", "spine")
    joints = np.zeros((frames, 2, 3), dtype=np.float32)
    joints[:, 1] = spine_offset
    return Motion3D(
        joints=joints,
        root=pelvis.astype(np.float32),
        joint_names=names,
        parents=(-1, 0),
        fps=30.0,
        intrinsics=Intrinsics(1500.0, 1500.0, 960.0, 540.0, 1920, 1080),
        confidence=np.ones((frames, 2), dtype=np.float32),
    )


def test_landmark_root_is_the_pelvis_raised_by_the_hip_landmarks_offset() -> None:
    pelvis = np.array([[0.1, 0.2, 3.0], [0.0, 0.0, 4.0]])
    up = np.array([0.0, -0.3, 0.0])  # the spine 30 cm above the pelvis, camera y down
    out = landmark_root(_motion(pelvis, up))
    np.testing.assert_allclose(out, pelvis + np.array([0.0, -0.04, 0.0]), atol=1e-6)  # HIP_OFFSET: 4 cm up


def test_root_score_reads_the_depth_bias_and_takes_it_out_after_scale() -> None:
    ref = np.array([[0.2, -0.1, 3.0], [0.3, 0.0, 3.5], [0.1, 0.1, 4.0]])
    score = root_score(0.8 * ref, ref, 1500.0)
    assert score.depth_pct == pytest.approx(-20.0)
    assert score.root_mm == pytest.approx(1000.0 * 0.2 * np.linalg.norm(ref, axis=-1).mean())
    assert score.scaled_mm == pytest.approx(0.0, abs=1e-9)
    assert score.frames == 3 and score.focal_px == 1500.0


def test_parabola_minimum_finds_the_vertex_between_grid_points() -> None:
    x = np.log(np.geomspace(800.0, 3000.0, 9))
    y = (x - np.log(1678.0)) ** 2 + 1.0
    assert np.exp(parabola_minimum(x, y)) == pytest.approx(1678.0, rel=1e-6)
    assert parabola_minimum(x, -y) == x[0]  # a minimum at the grid's end stays there


@pytest.mark.slow
def test_the_default_camera_places_the_person_within_15_percent_on_every_camera() -> None:
    scores = run_take(*POSE2SIM_TAKES["single person"])
    default = scores["unknown camera, the default", "refined (the default)"]
    former = scores["unknown camera, the former default", "refined (the default)"]
    calibrated = scores[CALIBRATED, "refined (the default)"]
    assert all(abs(s.depth_pct) <= DEPTH_TARGET_PCT for s in default), [s.depth_pct for s in default]
    assert all(s.depth_pct < -DEPTH_TARGET_PCT for s in former), [s.depth_pct for s in former]
    # The default's focal length is longer than these cameras' (about 1678 px on 1088x1920), so it sits further.
    assert all(d.depth_pct > c.depth_pct for d, c in zip(default, calibrated, strict=True))
