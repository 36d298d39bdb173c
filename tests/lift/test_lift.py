"""Lifting a keypoint sequence: resampling, gap filling, confidence, intrinsics, mirror equivariance, errors."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from lifting.errors import MocapError
from lifting.lift.checkpoint import CheckpointConfig, save_checkpoint
from lifting.lift.constant_bones import DEFAULT_PERCENTILE, clip_bone_lengths
from lifting.lift.lift import (
    DEFAULT_LONG_SIDE_FOV_DEG,
    LiftOptions,
    clip_intrinsics,
    fill_missing,
    lift_keypoints,
    output_confidence,
    resample,
)
from lifting.lift.model import TemporalModelConfig
from lifting.metrics import bone_length_std, bone_lengths
from lifting.skeleton import BLAZEPOSE, OUTPUT, mirror_points
from tests.support.synthetic import wobbling_keypoints


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    pose = TemporalModelConfig(num_joints_in=33, num_joints_out=21, filter_widths=(3, 3), channels=16)
    cfg = CheckpointConfig(
        pose=pose, trajectory=pose.for_trajectory(), input_joints=BLAZEPOSE, output_joints=OUTPUT, fps=30.0,
        normalisation="camera",
    )  # fmt: skip
    stem = tmp_path_factory.mktemp("w") / "tiny"
    save_checkpoint(stem, cfg, cfg.build_models())
    return stem


def test_resample_is_exact_for_linear_signals_and_holds_edges() -> None:
    t = np.array([0.0, 0.1, 0.3, 0.35])
    v = np.stack([2 * t + 1, -t], axis=1)
    q = np.array([-1.0, 0.0, 0.05, 0.2, 0.34, 5.0])
    out = resample(v, t, q)
    expected = np.stack([2 * np.clip(q, 0, 0.35) + 1, -np.clip(q, 0, 0.35)], axis=1)
    np.testing.assert_allclose(out, expected, atol=1e-12)
    np.testing.assert_array_equal(resample(v[:1], t[:1], q), np.repeat(v[:1], 6, axis=0))
    with pytest.raises(ValueError, match="increasing"):
        resample(v, t[::-1], q)


def test_fill_missing_interpolates_between_detections() -> None:
    k = np.arange(6, dtype=np.float64)[:, None, None] * np.ones((6, 2, 2))
    k[[0, 2, 3]] = 99.0
    filled = fill_missing(k, [False, True, False, False, True, True])
    assert filled[:, 0, 0].tolist() == [1.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    with pytest.raises(MocapError, match="No person was detected"):
        fill_missing(k, np.zeros(6, bool))


def test_output_confidence_averages_the_observing_landmarks() -> None:
    vis = np.zeros((2, 33))
    vis[:, BLAZEPOSE.index["left_hip"]] = 1.0
    vis[:, BLAZEPOSE.index["right_hip"]] = 0.5
    vis[:, BLAZEPOSE.index["left_knee"]] = 0.8
    conf = output_confidence(vis, [True, False])
    assert conf.shape == (2, 21)
    assert conf[0, OUTPUT.index["pelvis"]] == 0.75
    assert conf[0, OUTPUT.index["l_knee"]] == 0.8
    assert conf[0, OUTPUT.index["spine"]] == 0.375
    assert conf[0, OUTPUT.index["r_knee"]] == 0.0
    assert not conf[1].any()


def test_clip_intrinsics_default_override_and_errors() -> None:
    default = clip_intrinsics(1920, 1080, LiftOptions())
    assert default.fov_deg("horizontal") == pytest.approx(DEFAULT_LONG_SIDE_FOV_DEG)
    # 26 mm on a 4:3 photo frame, its width kept and cropped 1.25x: 960 px / (0.8 * 43.27 / 52 / 1.25) = 1803 px.
    assert DEFAULT_LONG_SIDE_FOV_DEG == pytest.approx(56.1, abs=0.1)
    assert default.fx == pytest.approx(1803.0, abs=1.0)
    portrait = clip_intrinsics(1080, 1920, LiftOptions())  # a phone held upright: the same lens
    assert portrait.fx == pytest.approx(default.fx) and portrait.cx == 540.0
    assert clip_intrinsics(1000, 500, LiftOptions(fov_deg=90.0)).fx == pytest.approx(500.0)
    assert clip_intrinsics(1000, 500, LiftOptions(fov_deg=90.0, focal_px=1234.0)).fx == 1234.0
    with pytest.raises(MocapError, match="positive"):
        clip_intrinsics(1000, 500, LiftOptions(focal_px=-1.0))
    with pytest.raises(MocapError, match="between 1 and 179"):
        clip_intrinsics(1000, 500, LiftOptions(fov_deg=200.0))


def test_lift_gives_a_motion_at_the_video_frame_times(weights: Path) -> None:
    clip = wobbling_keypoints(frames=40, fps=25.0)
    detected = clip.detected.copy()
    detected[10:13] = False
    clip = replace(clip, detected=detected)
    stages: list[str] = []
    motion = lift_keypoints(
        clip, LiftOptions(weights=weights, device="cpu"), progress=lambda f, s: stages.append(s)
    )
    assert motion.joints.shape == (40, 21, 3) and motion.root.shape == (40, 3)
    assert motion.fps == 25.0 and motion.joint_names == OUTPUT.names
    np.testing.assert_array_equal(motion.joints[:, 0], 0.0)
    assert not motion.confidence[10:13].any() and motion.confidence[0].all()
    assert stages[0] == "load model" and stages[-1] == "done"
    assert motion.intrinsics.width == 1920 and motion.intrinsics.fx == pytest.approx(
        1920 / 2 / math.tan(math.radians(clip_intrinsics(1920, 1080, LiftOptions()).fov_deg()) / 2)
    )


def test_lift_gives_each_bone_one_length_unless_asked_not_to(weights: Path) -> None:
    clip = wobbling_keypoints(frames=40, fps=25.0, seed=5)
    fixed = lift_keypoints(clip, LiftOptions(weights=weights, device="cpu"))
    free = lift_keypoints(clip, LiftOptions(weights=weights, device="cpu", constant_bones=False))
    # the untrained network's lengths wobble (0.9 mm with the default camera), the constant ones not at all
    assert bone_length_std(free.joints, OUTPUT.parents) > 1e-4
    assert bone_length_std(fixed.joints, OUTPUT.parents) < 1e-5
    np.testing.assert_allclose(
        bone_lengths(fixed.joints[0], OUTPUT.parents),
        clip_bone_lengths(free.joints, OUTPUT.names, OUTPUT.parents, DEFAULT_PERCENTILE),
        atol=1e-5,
    )
    np.testing.assert_array_equal(fixed.joints[:, 0], 0.0)
    np.testing.assert_array_equal(fixed.root, free.root)  # the trajectory is not touched
    # Refinement fixes the lengths itself, with its own choice of lengths; free bones mean the network's raw
    # joints, so they turn refinement off.
    refined = lift_keypoints(clip, LiftOptions(weights=weights, device="cpu", refine=True))
    refined_free = lift_keypoints(
        clip, LiftOptions(weights=weights, device="cpu", refine=True, constant_bones=False)
    )
    assert bone_length_std(refined.joints, OUTPUT.parents) < 1e-5
    assert np.abs(refined.joints - fixed.joints).max() > 1e-3
    np.testing.assert_array_equal(refined_free.joints, free.joints)
    np.testing.assert_array_equal(refined_free.root, free.root)


def test_mirrored_clip_gives_the_mirrored_motion(weights: Path) -> None:
    clip = wobbling_keypoints(frames=30, fps=30.0, seed=3)
    flipped_px = mirror_points(clip.keypoints, BLAZEPOSE, axis=0, centre=1920 / 2)
    flipped = replace(
        clip, keypoints=flipped_px, visibility=clip.visibility[:, BLAZEPOSE.mirror_permutation()]
    )
    options = LiftOptions(weights=weights, device="cpu")
    a, b = lift_keypoints(clip, options), lift_keypoints(flipped, options)
    np.testing.assert_allclose(b.joints, mirror_points(a.joints, OUTPUT, axis=0), atol=1e-5)
    np.testing.assert_allclose(b.root[:, 0], -a.root[:, 0], atol=1e-5)
    np.testing.assert_allclose(b.root[:, 1:], a.root[:, 1:], atol=1e-5)


def test_cancel_and_bad_input(weights: Path, tmp_path: Path) -> None:
    options = LiftOptions(weights=weights, device="cpu")
    with pytest.raises(MocapError, match="cancelled"):
        lift_keypoints(wobbling_keypoints(), options, cancel=lambda: True)
    with pytest.raises(MocapError, match="not \\(frames, 33, 2\\)"):
        lift_keypoints(replace(wobbling_keypoints(), keypoints=np.zeros((5, 17, 2), np.float32)), options)
    with pytest.raises(MocapError, match="was not found"):
        lift_keypoints(wobbling_keypoints(), LiftOptions(weights=tmp_path / "missing", device="cpu"))
