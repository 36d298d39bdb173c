"""Numpy evaluation metrics with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from lifting import metrics
from lifting.skeleton import OUTPUT

J = OUTPUT.num_joints


def _poses(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(scale=0.3, size=(n, J, 3))


def _rotations(n: int, seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(n, 3, 3)))
    q = q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[..., None, :]
    q[np.linalg.det(q) < 0] *= -1.0  # proper rotations only
    return q


def test_mpjpe_known_value() -> None:
    target = np.zeros((4, J, 3))
    pred = target + np.array([0.03, 0.0, 0.04])
    assert metrics.mpjpe(pred, target) == pytest.approx(0.05)
    with pytest.raises(ValueError):
        metrics.mpjpe(pred[:2], target)


def test_similarity_copy_has_zero_p_mpjpe_but_not_mpjpe() -> None:
    target = _poses(30, 0)
    rot = _rotations(30, 1)
    scale = np.random.default_rng(2).uniform(0.5, 2.0, (30, 1, 1))
    shift = np.random.default_rng(3).normal(size=(30, 1, 3))
    pred = scale * np.einsum("nij,nkj->nki", rot, target) + shift
    assert metrics.p_mpjpe(pred, target) < 1e-6
    assert metrics.mpjpe(pred, target) > 0.1
    np.testing.assert_allclose(metrics.procrustes_align(pred, target), target, atol=1e-9)


def test_mirrored_copy_is_not_aligned_by_procrustes() -> None:
    target = _poses(10, 4)
    mirrored = target * np.array([-1.0, 1.0, 1.0])  # a reflection: no proper rotation undoes it
    assert metrics.p_mpjpe(mirrored, target) > 0.05
    # Aligning with proper rotations still helps compared with no alignment, and never hurts.
    assert metrics.p_mpjpe(mirrored, target) <= metrics.mpjpe(mirrored, target) + 1e-12


def test_procrustes_matches_brute_force_optimum() -> None:
    """On one noisy pose, the closed form beats any random similarity transform we try."""
    rng = np.random.default_rng(5)
    target = _poses(1, 6)[0]
    pred = 1.4 * target @ _rotations(1, 7)[0].T + 0.2 + rng.normal(scale=0.05, size=target.shape)
    best = np.linalg.norm(metrics.procrustes_align(pred, target) - target, axis=-1)
    best_sq = float((best**2).sum())
    aligned = metrics.procrustes_align(pred, target)
    for rot in _rotations(200, 8):
        candidate = pred @ rot
        # Optimal scale and translation for this rotation, in closed form.
        c0 = candidate - candidate.mean(0)
        t0 = target - target.mean(0)
        s = (c0 * t0).sum() / (c0 * c0).sum()
        err = ((s * c0 - t0) ** 2).sum()
        assert err >= best_sq - 1e-12
    assert aligned.shape == pred.shape


def test_n_mpjpe_zero_for_scaled_copy() -> None:
    target = _poses(12, 9)
    assert metrics.n_mpjpe(0.7 * target, target) < 1e-12
    assert metrics.mpjpe(0.7 * target, target) > 0.05
    # Scale only: a rotated copy is still wrong.
    assert metrics.n_mpjpe(np.einsum("nij,nkj->nki", _rotations(12, 10), target), target) > 0.05


def test_mpjve_and_acceleration_error() -> None:
    target = _poses(20, 11)
    assert metrics.mpjve(target + 0.4, target) < 1e-12
    t = np.arange(20, dtype=np.float64)[:, None, None]
    linear = target + t * np.array([0.01, 0.0, 0.0])  # 1 cm/frame extra velocity
    assert metrics.mpjve(linear, target) == pytest.approx(0.01)
    assert metrics.acceleration_error(linear, target) < 1e-12
    quadratic = target + t**2 * np.array([0.0, 0.005, 0.0])  # second difference 0.01
    assert metrics.acceleration_error(quadratic, target) == pytest.approx(0.01)
    with pytest.raises(ValueError):
        metrics.acceleration_error(target[:2], target[:2])


def test_bone_length_std() -> None:
    poses = np.einsum("nij,kj->nki", _rotations(15, 12), _poses(1, 13)[0])  # rigidly rotated
    assert metrics.bone_length_std(poses, OUTPUT.parents) < 1e-12
    # Two frames, the second scaled by 1.2: each bone's std is 0.1·L, so the mean is 0.1·mean(L).
    frames = np.stack([poses[0], 1.2 * poses[0]])
    lengths = metrics.bone_lengths(poses[0], OUTPUT.parents)
    assert lengths.shape == (J - 1,)
    assert metrics.bone_length_std(frames, OUTPUT.parents) == pytest.approx(0.1 * lengths.mean())


def _walking_feet(t: int, slide_speed: float, fps: float) -> np.ndarray:
    """Z-up joints: foot 0 on the floor sliding along x at slide_speed m/s, foot 1 swinging in the air."""
    joints = np.zeros((t, 3, 3))
    time = np.arange(t) / fps
    joints[:, 0] = np.c_[slide_speed * time, np.zeros(t), np.full(t, 0.08)]
    joints[:, 1] = np.c_[2.0 * time, np.full(t, 0.3), 0.08 + 0.3 + 0.1 * np.sin(time * 7.0)]
    joints[:, 2] = joints[:, 0] + [0.0, 0.0, 0.9]  # a hip, not a foot
    return joints


def test_foot_skate_planted_and_sliding() -> None:
    fps = 30.0
    planted = _walking_feet(40, 0.0, fps)
    assert metrics.foot_skate(planted, [0, 1], up=2, contact_height=0.05, fps=fps) == 0.0
    sliding = _walking_feet(40, 0.25, fps)
    assert metrics.foot_skate(sliding, [0, 1], up=2, contact_height=0.05, fps=fps) == pytest.approx(0.25)
    # Vertical motion of a planted foot is not skating; only horizontal speed counts.
    bobbing = planted.copy()
    bobbing[:, 0, 2] += 0.01 * np.sin(np.arange(40))
    assert metrics.foot_skate(bobbing, [0, 1], up=2, contact_height=0.05, fps=fps) == pytest.approx(0.0)
    # OpenCV camera space (y down): same motion, up vector (0, -1, 0).
    cam = sliding[..., [0, 2, 1]] * np.array([1.0, -1.0, 1.0])
    assert metrics.foot_skate(cam, [0, 1], up=[0.0, -1.0, 0.0], fps=fps) == pytest.approx(0.25)
    # No foot ever near the floor over a whole step: undefined.
    airborne = sliding.copy()
    airborne[::2, 0, 2] += 1.0
    assert np.isnan(metrics.foot_skate(airborne[:, :1], [0], up=2, fps=fps))


def test_root_trajectory_error() -> None:
    gt = np.c_[np.linspace(0, 2, 50), np.zeros(50), np.full(50, 4.0)]
    assert metrics.root_trajectory_error(gt + np.array([0.0, 0.1, 0.0]), gt) == pytest.approx(0.1)
    half = 0.5 * gt
    assert metrics.root_trajectory_error(half, gt) > 1.0
    assert metrics.root_trajectory_error(half, gt, align_scale=True) < 1e-12


def test_contact_slip_known_values() -> None:
    # Point 0 slides 1 cm per frame along x for 10 frames, planted throughout: positions 0..9 cm, mean 4.5 cm,
    # distances 4.5, 3.5, ..., 0.5, 0.5, ..., 4.5 cm: mean 2.5 cm. Point 1 stays put in two contacts of 3 and 4
    # frames while bobbing up and down (vertical motion is not slip).
    points = np.zeros((10, 2, 3))
    points[:, 0, 0] = 0.01 * np.arange(10)
    points[:, 1, 2] = 0.02 * np.sin(np.arange(10))
    contacts = np.zeros((10, 2), dtype=bool)
    contacts[:, 0] = True
    contacts[1:4, 1] = True
    contacts[6:10, 1] = True
    slips, frames = metrics.contact_slip(points, contacts, up=2)
    np.testing.assert_allclose(slips, [0.025, 0.0, 0.0], atol=1e-12)
    np.testing.assert_array_equal(frames, [10, 3, 4])
    # OpenCV camera space (y down): the same answer with up (0, -1, 0).
    cam = points[..., [0, 2, 1]] * np.array([1.0, -1.0, 1.0])
    np.testing.assert_allclose(metrics.contact_slip(cam, contacts, up=[0.0, -1.0, 0.0])[0], slips, atol=1e-12)
    # A one-frame contact cannot slip; no contact gives empty arrays.
    one = np.zeros((10, 2), dtype=bool)
    one[5, 0] = True
    assert metrics.contact_slip(points, one)[0].tolist() == [0.0]
    assert len(metrics.contact_slip(points, np.zeros((10, 2), dtype=bool))[0]) == 0
    with pytest.raises(ValueError):
        metrics.contact_slip(points, contacts[:, :1])


def test_planted_root_speed_known_values() -> None:
    # 2 mm per frame along y and 5 mm per frame vertically at 30 fps: 0.06 m/s horizontally, over the steps
    # whose two frames are both planted (frames 2-5: three steps; frame 8 alone: none).
    root = np.zeros((10, 3))
    root[:, 1] = 0.002 * np.arange(10)
    root[:, 2] = 0.005 * np.arange(10)
    planted = np.zeros(10, dtype=bool)
    planted[2:6] = True
    planted[8] = True
    np.testing.assert_allclose(metrics.planted_root_speed(root, planted, 30.0), [0.06, 0.06, 0.06])
    assert len(metrics.planted_root_speed(root, np.zeros(10, dtype=bool), 30.0)) == 0
