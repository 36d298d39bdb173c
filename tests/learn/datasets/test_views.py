"""Synthetic views: exact projection without noise, noise with the configured statistics, cameras in range."""

from __future__ import annotations

import numpy as np
import pytest

from lifting.camera import look_at, normalize_screen, project, unproject
from lifting.learn.datasets import views
from lifting.learn.datasets.dataset import MocapClip, finish_clip
from lifting.learn.datasets.mapping import body_from_joints20
from lifting.skeleton import BLAZEPOSE, OUTPUT
from tests.learn.datasets.test_mapping import _joints20_from_motion


def _clip(frames: int = 150, seed: int = 4) -> MocapClip:
    p = _joints20_from_motion(np.random.default_rng(seed), frames)
    clip = finish_clip(
        body_from_joints20(p),
        name="t",
        source="cmu_joints20",
        subject="cmu:8",
        trial="08_01",
        source_fps=30.0,
    )
    assert clip is not None
    return clip


def test_noise_free_view_reprojects_the_3d_exactly() -> None:
    clip = _clip()
    rng = np.random.default_rng(0)
    for _ in range(5):
        cam = views.random_camera(rng, clip.landmarks)
        view = views.render_view(clip, cam)
        k = view.intrinsics
        cam_lm = cam.to_camera(clip.landmarks.astype(np.float64))
        np.testing.assert_allclose(view.clean_px, project(cam_lm, k), atol=1e-3)
        np.testing.assert_array_equal(view.keypoints_px, view.clean_px)
        np.testing.assert_allclose(
            unproject(view.keypoints_px.astype(np.float64), cam_lm[..., 2], k), cam_lm, atol=1e-5
        )
        np.testing.assert_allclose(
            view.keypoints, normalize_screen(view.keypoints_px, k.width, k.height), atol=1e-6
        )
        np.testing.assert_array_equal(view.visibility, 1.0)
        # 3D targets: the output joints in camera space, root-relative, and the root trajectory.
        cam_joints = cam.to_camera(clip.joints.astype(np.float64))
        np.testing.assert_allclose(view.trajectory, cam_joints[:, OUTPUT.index["pelvis"]], atol=1e-5)
        np.testing.assert_allclose(view.poses_3d + view.trajectory[:, None], cam_joints, atol=1e-5)
        np.testing.assert_array_equal(view.poses_3d[:, 0], 0.0)
        assert view.inputs(with_visibility=True).shape == (clip.num_frames, 33, 3)


def test_cameras_cover_the_configured_ranges() -> None:
    clip = _clip(60)
    rng = np.random.default_rng(1)
    config = views.CameraConfig()
    fovs, portrait, inside, heights, rolls = [], 0, [], [], []
    for _ in range(200):
        cam = views.random_camera(rng, clip.landmarks, config)
        k = cam.intrinsics
        long_axis = "horizontal" if k.width >= k.height else "vertical"
        fovs.append(k.fov_deg(long_axis))
        portrait += k.height > k.width
        px = project(cam.to_camera(clip.landmarks), k)
        inside.append(
            ((px[..., 0] > 0) & (px[..., 0] < k.width) & (px[..., 1] > 0) & (px[..., 1] < k.height)).mean()
        )
        heights.append(cam.positions[0, 2])
        # Roll: angle of the camera's x axis out of the horizontal plane.
        rolls.append(np.degrees(np.arcsin(abs(cam.rotations[0, 0, 2]))))
        assert np.all(cam.to_camera(clip.landmarks)[..., 2] > 0.3)
    assert min(fovs) >= 40.0 - 1e-9 and max(fovs) <= 90.0 + 1e-9 and np.ptp(fovs) > 40
    assert 20 < portrait < 80
    assert np.mean(inside) > 0.98
    assert min(heights) >= 0.3 and max(heights) <= 2.5
    assert max(rolls) < config.roll_deg + 3.0 and max(rolls) > 3.0


def test_jitter_matches_the_measured_statistics() -> None:
    clip = _clip(400)
    rng = np.random.default_rng(2)
    cam = views.random_camera(rng, clip.landmarks)
    only_jitter = views.NoiseConfig(
        jitter_scale=(1.5, 1.5), drift=0.0, bias=0.0, hip_bias=0.0, dropout_rate=0.0, swap_prob=0.0
    )
    errors = []
    for _ in range(10):
        view = views.render_view(clip, cam, rng, only_jitter)
        scale = views.person_height_px(view.clean_px)[:, None, None]
        errors.append((view.keypoints_px - view.clean_px) / scale)
    err = np.concatenate(errors)  # (frames, 33, 2), in units of the person's height
    expected = 1.5 * np.asarray(views.MEDIAPIPE_JITTER)
    measured = err.std(axis=(0, 2))
    np.testing.assert_allclose(measured, expected, rtol=0.05)
    assert np.abs(err.mean(axis=(0, 2))).max() < 0.1 * expected.min() * 3
    # Independent from frame to frame: lag-1 correlation near zero.
    lag = np.mean(err[1:] * err[:-1]) / np.mean(err**2)
    assert abs(lag) < 0.02


def test_drift_bias_dropout_and_swaps() -> None:
    clip = _clip(300)
    rng = np.random.default_rng(3)
    cam = views.random_camera(rng, clip.landmarks)
    drift = views.NoiseConfig(jitter_scale=(0, 0), bias=0, hip_bias=0, dropout_rate=0, swap_prob=0, drift=2.0)
    errs = []
    for _ in range(20):
        view = views.render_view(clip, cam, rng, drift)
        errs.append(
            (view.keypoints_px - view.clean_px) / views.person_height_px(view.clean_px)[:, None, None]
        )
    err = np.concatenate(errs)
    expected = 2.0 * np.asarray(views.MEDIAPIPE_JITTER)
    np.testing.assert_allclose(err.std(axis=(0, 2)), expected, rtol=0.2)
    assert np.mean(err[1:] * err[:-1]) / np.mean(err**2) > 0.9  # slow: strongly correlated frame to frame
    swap = views.NoiseConfig(jitter_scale=(0, 0), drift=0, bias=0, hip_bias=0, dropout_rate=0, swap_prob=1.0)
    view = views.render_view(clip, cam, rng, swap)
    la, ra = BLAZEPOSE.index["left_ankle"], BLAZEPOSE.index["right_ankle"]
    swapped = np.all(np.isclose(view.keypoints_px[:, la], view.clean_px[:, ra]), axis=-1)
    assert 2 <= swapped.sum() <= 15 or np.all(view.keypoints_px[:, la] == view.clean_px[:, la])
    drop = views.NoiseConfig(jitter_scale=(0, 0), drift=0, bias=0, hip_bias=0, dropout_rate=0.05, swap_prob=0)
    view = views.render_view(clip, cam, rng, drop)
    lost = view.visibility < 0.4
    moved = np.any(view.keypoints_px != view.clean_px, axis=-1)
    assert 0.02 < moved.mean() < 0.1
    assert np.all(lost[moved])


def test_visibility_is_lower_on_the_far_side() -> None:
    clip = _clip(120)
    rng = np.random.default_rng(5)
    near, far = [], []
    for _ in range(30):
        cam = views.random_camera(rng, clip.landmarks)
        view = views.render_view(clip, cam, rng, views.NoiseConfig(dropout_rate=0.0))
        cam_lm = cam.to_camera(clip.landmarks)
        left_closer = (
            cam_lm[:, BLAZEPOSE.index["left_shoulder"], 2]
            < cam_lm[:, BLAZEPOSE.index["right_shoulder"], 2] - 0.15
        )
        le, re = BLAZEPOSE.index["left_elbow"], BLAZEPOSE.index["right_elbow"]
        near.extend(view.visibility[left_closer, le])
        far.extend(view.visibility[left_closer, re])
    assert np.mean(near) > 0.9 and np.mean(far) < np.mean(near) - 0.1


@pytest.mark.parametrize("seed", [0, 1])
def test_random_view_is_reproducible(seed: int) -> None:
    clip = _clip(60)
    a = views.random_view(clip, np.random.default_rng(seed))
    b = views.random_view(clip, np.random.default_rng(seed))
    np.testing.assert_array_equal(a.keypoints, b.keypoints)
    np.testing.assert_array_equal(a.visibility, b.visibility)
    c = views.epoch_views([clip, clip], seed=seed, epoch=3)
    d = views.epoch_views([clip, clip], seed=seed, epoch=3)
    e = views.epoch_views([clip, clip], seed=seed, epoch=4)
    np.testing.assert_array_equal(c[1].keypoints, d[1].keypoints)
    assert not np.array_equal(c[0].keypoints, c[1].keypoints)
    assert not np.array_equal(c[0].keypoints, e[0].keypoints)


def test_follow_camera_rotation_matches_look_at() -> None:
    rng = np.random.default_rng(7)
    position = np.array([1.0, -4.0, 1.6])
    targets = rng.normal(size=(6, 3))
    expected = np.stack([look_at(position, t) for t in targets])
    np.testing.assert_allclose(views._look_at_many(position, targets), expected, atol=1e-12)
