"""Torch losses: known values, agreement with the numpy metrics, gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lifting import metrics
from lifting.camera import Intrinsics, normalize_screen, project
from lifting.learn import losses
from lifting.skeleton import OUTPUT

J = OUTPUT.num_joints


def _poses(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(scale=0.3, size=(*shape, J, 3))


def test_mpjpe_known_value_and_matches_numpy() -> None:
    target = torch.zeros(2, 3, J, 3, dtype=torch.float64)
    pred = target.clone()
    pred[..., 0] = 0.03
    pred[..., 1] = 0.04  # every joint off by 5 cm
    assert losses.mpjpe(pred, target).item() == pytest.approx(0.05)
    a, b = _poses((4, 9), 0), _poses((4, 9), 1)
    ta, tb = torch.tensor(a), torch.tensor(b)
    assert losses.mpjpe(ta, tb).item() == pytest.approx(metrics.mpjpe(a, b), rel=1e-12)
    assert losses.n_mpjpe(ta, tb).item() == pytest.approx(metrics.n_mpjpe(a, b), rel=1e-12)
    assert losses.velocity_loss(ta, tb).item() == pytest.approx(metrics.mpjve(a, b), rel=1e-12)
    with pytest.raises(ValueError):
        losses.mpjpe(ta, tb[:, :5])


def test_weighted_mpjpe_normalisation() -> None:
    target = torch.zeros(1, 2, 2, 3, dtype=torch.float64)
    pred = target.clone()
    pred[0, 0, :, 0] = 1.0  # frame 0: error 1 on both joints
    pred[0, 1, :, 0] = 2.0  # frame 1: error 2 on both joints
    w = torch.tensor([[[3.0], [0.5]]], dtype=torch.float64)  # per frame, (1, 2, 1)
    # mean over the 4 errors of w * e: (3*1*2 + 0.5*2*2) / 4 = 2.0
    assert losses.weighted_mpjpe(pred, target, w).item() == pytest.approx(2.0)


def test_depth_weighted_mpjpe_hand_computed() -> None:
    target = torch.tensor([[[0.0, 0.0, 2.0]], [[1.0, 0.0, 4.0]], [[0.0, 1.0, 5.0]]], dtype=torch.float64)
    pred = target.clone()
    pred[0, 0, 0] += 0.2  # error 0.2 at z=2 → 0.1
    pred[1, 0, 2] += 0.8  # error 0.8 at z=4 → 0.2
    pred[2, 0, :2] += torch.tensor([0.3, 0.4], dtype=torch.float64)  # error 0.5 at z=5 → 0.1
    # mean of (0.1, 0.2, 0.1)
    assert losses.depth_weighted_mpjpe(pred, target).item() == pytest.approx(0.4 / 3)
    # The same absolute error weighs half as much twice as far away.
    near = losses.depth_weighted_mpjpe(target[:1] + 0.1, target[:1])
    far_t = target[:1] * torch.tensor([1.0, 1.0, 2.0], dtype=torch.float64)
    far = losses.depth_weighted_mpjpe(far_t + 0.1, far_t)
    assert far.item() == pytest.approx(near.item() / 2)


def test_n_mpjpe_zero_for_scaled_copy_and_gradient_flows() -> None:
    target = torch.tensor(_poses((3, 5), 2))
    pred = (0.6 * target).requires_grad_(True)
    loss = losses.n_mpjpe(pred, target)
    assert loss.item() < 1e-12
    assert losses.mpjpe(pred, target).item() > 0.05
    noisy = (target * 1.3 + 0.01 * torch.randn_like(target)).requires_grad_(True)
    losses.n_mpjpe(noisy, target).backward()
    assert noisy.grad is not None and noisy.grad.abs().sum() > 0


def test_velocity_loss_zero_for_constant_offset_and_known_value() -> None:
    target = torch.tensor(_poses((2, 6), 3))
    assert losses.velocity_loss(target + 0.7, target).item() < 1e-12
    drift = torch.arange(6, dtype=torch.float64).reshape(1, 6, 1, 1) * torch.tensor([0.0, 0.0, 0.02])
    # Pred drifts 2 cm per frame more than the target along z.
    assert losses.velocity_loss(target + drift, target).item() == pytest.approx(0.02)
    with pytest.raises(ValueError):
        losses.velocity_loss(target[:, :1], target[:, :1])


def test_masked_velocity_loss_skips_pairs_with_an_invalid_frame() -> None:
    target = torch.tensor(_poses((2, 5), 11))
    step = torch.zeros(2, 5, 1, 3, dtype=torch.float64)
    step[0, 4] = torch.tensor([0.0, 0.3, 0.0])  # a 30 cm jump into sample 0's last frame
    step[1, 2:] = torch.tensor([0.04, 0.0, 0.0])  # a 4 cm jump into sample 1's third frame
    valid = torch.ones(2, 5, dtype=torch.float64)
    # 8 valid pairs, two with an error (0.3 and 0.04 m/frame on every joint).
    assert losses.masked_velocity_loss(target + step, target, valid).item() == pytest.approx(0.34 / 8)
    valid[0, 4] = 0.0  # the 30 cm jump now lands on a padded frame: ignored, 7 pairs left
    assert losses.masked_velocity_loss(target + step, target, valid).item() == pytest.approx(0.04 / 7)
    full = torch.ones(2, 5, dtype=torch.float64)
    np.testing.assert_allclose(
        losses.masked_velocity_loss(target + 0.1 * target.flip(1), target, full).item(),
        losses.velocity_loss(target + 0.1 * target.flip(1), target).item(),
        rtol=1e-12,
    )
    with pytest.raises(ValueError):
        losses.masked_velocity_loss(target, target, valid[:, :3])


def test_bone_length_std_zero_for_rigid_motion_and_exact_for_breathing_skeleton() -> None:
    base = torch.tensor(_poses((1,), 12))[0]  # (J, 3)
    rot = _random_rotations(6, 13)
    rigid = torch.einsum("tij,kj->tki", rot, base)[None] + 0.5  # (1, 6, J, 3): same lengths every frame
    valid = torch.ones(1, 6, dtype=torch.float64)
    assert losses.bone_length_std(rigid, OUTPUT.parents, valid).item() < 1e-5
    # Alternate scales 0.9 / 1.1: every bone's std over the 6 frames is 0.1 · its length.
    scales = torch.tensor([0.9, 1.1] * 3, dtype=torch.float64).reshape(1, 6, 1, 1)
    breathing = scales * base
    mean_len = losses.bone_lengths(base, OUTPUT.parents).mean().item()
    got = losses.bone_length_std(breathing, OUTPUT.parents, valid).item()
    assert got == pytest.approx(0.1 * mean_len, abs=2e-6)  # population std; 1e-6 is the ε
    # Only the valid frames count: keep frames 0 and 2 (both scale 0.9) → no spread at all.
    valid_same = torch.tensor([[1.0, 0.0, 1.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    assert losses.bone_length_std(breathing, OUTPUT.parents, valid_same).item() < 1e-5
    breathing.requires_grad_(True)
    losses.bone_length_std(breathing, OUTPUT.parents, valid).backward()
    assert breathing.grad is not None and torch.isfinite(breathing.grad).all()
    assert float(breathing.grad.abs().sum()) > 0


def test_bone_lengths_shape_and_values() -> None:
    joints = torch.zeros(2, J, 3, dtype=torch.float64)
    for child, parent in enumerate(OUTPUT.parents):
        if parent >= 0:
            joints[:, child] = joints[:, parent] + torch.tensor([0.0, 0.0, 0.1 * child], dtype=torch.float64)
    lengths = losses.bone_lengths(joints, OUTPUT.parents)
    assert lengths.shape == (2, J - 1)
    expected = torch.tensor([0.1 * c for c, p in enumerate(OUTPUT.parents) if p >= 0], dtype=torch.float64)
    np.testing.assert_allclose(lengths[1].numpy(), expected.numpy(), rtol=1e-12)
    np.testing.assert_allclose(lengths.numpy(), metrics.bone_lengths(joints.numpy(), OUTPUT.parents))


def _random_rotations(n: int, seed: int) -> torch.Tensor:
    q, _ = torch.linalg.qr(torch.tensor(np.random.default_rng(seed).normal(size=(n, 3, 3))))
    return q


def test_bone_length_loss_zero_for_reposed_skeleton_and_exact_for_scaled() -> None:
    a = torch.tensor(_poses((8,), 4))
    # Different poses, same bone lengths: rotate each whole pose rigidly.
    rot = _random_rotations(8, 5)
    b = torch.einsum("nij,nkj->nki", rot, a) + 0.3
    assert losses.bone_length_loss(a, b, OUTPUT.parents).item() < 1e-20
    # Scaled skeleton: mean lengths m·1.1 vs m → sum over bones of (0.1·m)².
    mean_len = losses.bone_lengths(a, OUTPUT.parents).mean(dim=0)
    expected = (0.01 * (mean_len**2).sum()).item()
    scaled = (1.1 * b).reshape(2, 4, J, 3)  # different leading shape is fine
    assert losses.bone_length_loss(scaled, a, OUTPUT.parents).item() == pytest.approx(expected, rel=1e-10)
    assert expected > 1e-3


def test_bone_length_loss_abs_is_the_mean_absolute_difference_and_its_gradient_stays_bounded() -> None:
    a = torch.tensor(_poses((8,), 4))
    mean_len = losses.bone_lengths(a, OUTPUT.parents).mean(dim=0)
    # 1.1 × the skeleton: every mean length is 10 % longer → mean over bones of 0.1·m.
    value = losses.bone_length_loss(1.1 * a, a, OUTPUT.parents, "abs").item()
    assert value == pytest.approx(0.1 * mean_len.mean().item(), rel=1e-10)
    assert losses.bone_length_loss(a, a, OUTPUT.parents, "abs").item() == 0.0
    # The squared form's gradient grows with the difference, the absolute form's does not.
    norms = {}
    for kind in ("squared", "abs"):
        for factor in (1.1, 2.0):
            x = (factor * a).clone().requires_grad_(True)
            losses.bone_length_loss(x, a, OUTPUT.parents, kind).backward()
            assert x.grad is not None
            norms[kind, factor] = float(x.grad.norm())
    assert norms["squared", 2.0] > 5.0 * norms["squared", 1.1]
    assert norms["abs", 2.0] == pytest.approx(norms["abs", 1.1], rel=0.2)
    with pytest.raises(ValueError, match="bone-length loss"):
        losses.bone_length_loss(a, a, OUTPUT.parents, "cubic")


def test_bone_length_loss_per_sample_needs_every_chunk_at_the_reference_size() -> None:
    a = torch.tensor(_poses((8,), 4))
    # Half the chunks 20 % small, half 20 % large: the batch's mean lengths are right, no chunk's is.
    chunks = torch.stack([0.8 * a, 1.2 * a])  # (2 samples, 8 frames, J, 3)
    mean_len = losses.bone_lengths(a, OUTPUT.parents).mean(dim=0)
    assert losses.bone_length_loss(chunks, a, OUTPUT.parents, "abs").item() < 1e-12
    per_chunk = losses.bone_length_loss(chunks, a, OUTPUT.parents, "abs", per_sample=True).item()
    assert per_chunk == pytest.approx(0.2 * mean_len.mean().item(), rel=1e-10)
    squared = losses.bone_length_loss(chunks, a, OUTPUT.parents, "squared", per_sample=True).item()
    assert squared == pytest.approx(0.04 * (mean_len**2).sum().item(), rel=1e-10)
    with pytest.raises(ValueError, match="per_sample"):
        losses.bone_length_loss(a, a, OUTPUT.parents, per_sample=True)


def _backprojection_setup() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    k = Intrinsics.from_fov(1280, 720, 65.0)
    pose = _poses((2, 3), 6) * 0.5 + np.array([0.1, -0.2, 4.0])  # root translation included
    kp = normalize_screen(project(pose, k), k.width, k.height)
    intr = torch.tensor(k.as_normalized_array(), dtype=torch.float64)
    return torch.tensor(pose), torch.tensor(kp), intr


def test_backprojection_loss_zero_for_exact_keypoints() -> None:
    pose, kp, intr = _backprojection_setup()
    assert losses.backprojection_loss(pose, kp, intr).item() < 1e-6
    conf = torch.rand(pose.shape[:-1], dtype=torch.float64)
    assert losses.backprojection_loss(pose, kp, intr, conf).item() < 1e-6


def test_backprojection_loss_weights_and_ignores_zero_confidence() -> None:
    pose, kp, intr = _backprojection_setup()
    bad = kp.clone()
    bad[..., 4, :] += 0.5  # joint 4 wildly wrong
    bad[..., 7, 0] += 0.1  # joint 7 off by 0.1 screen units
    conf = torch.ones(pose.shape[:-1], dtype=torch.float64)
    conf[..., 4] = 0.0
    # Only joint 7 is wrong among the weighted joints: sum(c·e)/sum(c) = 0.1 · 6 / (6 · 20).
    value = losses.backprojection_loss(pose, bad, intr, conf).item()
    assert value == pytest.approx(0.1 / (J - 1), abs=1e-6)
    unweighted = losses.backprojection_loss(pose, bad, intr).item()
    assert unweighted == pytest.approx((0.1 + 0.5 * np.sqrt(2)) / J, abs=1e-6)
    zero = losses.backprojection_loss(pose, bad, intr, torch.zeros_like(conf))
    assert zero.item() == 0.0 and torch.isfinite(zero)


def test_backprojection_loss_gradient_flows_to_pose_and_trajectory() -> None:
    pose, kp, intr = _backprojection_setup()
    rel = (pose - pose[..., :1, :]).clone().requires_grad_(True)
    root = (pose[..., :1, :] + torch.tensor([0.05, 0.0, 0.3], dtype=torch.float64)).requires_grad_(True)
    loss = losses.backprojection_loss(rel + root, kp, intr, torch.ones(pose.shape[:-1], dtype=torch.float64))
    assert loss.item() > 1e-3
    loss.backward()
    assert rel.grad is not None and root.grad is not None
    assert rel.grad.abs().sum() > 0 and root.grad.abs().sum() > 0
    # A small step against the gradient lowers the loss.
    with torch.no_grad():
        stepped = losses.backprojection_loss(rel - 1e-3 * rel.grad + root - 1e-3 * root.grad, kp, intr)
    assert stepped.item() < loss.item()


def test_backprojection_loss_scaled_by_depth_is_the_error_in_metres_at_the_subject() -> None:
    """With camera-ray keypoints (identity camera) a sideways shift of d metres at depth z is a ray error of
    about d / z; scaled by z it reads d whatever the depth."""
    rays = torch.tensor([1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], dtype=torch.float64)
    pose = torch.tensor(_poses((3,), 7)) * 0.3
    for depth in (2.0, 8.0):
        placed = pose + torch.tensor([0.0, 0.0, depth], dtype=torch.float64)
        kp = placed[..., :2] / placed[..., 2:]
        moved = placed + torch.tensor([0.02, 0.0, 0.0], dtype=torch.float64)
        conf = torch.ones(pose.shape[:-1], dtype=torch.float64)
        plain = losses.backprojection_loss(moved, kp, rays, conf).item()
        scaled = losses.backprojection_loss(moved, kp, rays, conf, scale=placed[..., 2]).item()
        assert plain == pytest.approx(0.02 / depth, rel=0.1)  # each joint at its own depth
        assert scaled == pytest.approx(0.02, rel=1e-9)
        aligned = losses.aligned_backprojection_loss(moved, kp, rays, conf, scale=placed[..., 2]).item()
        assert aligned < 0.05 * scaled  # a shift is mostly aligned away (not exactly: perspective)


def test_aligned_backprojection_ignores_root_position_and_depth_but_not_shape() -> None:
    pose, kp, intr = _backprojection_setup()
    conf = torch.rand(pose.shape[:-1], dtype=torch.float64) + 0.1
    root = pose[..., :1, :]
    # The same pose moved sideways and twice as far: the plain loss sees it, the aligned one does not (beyond
    # perspective effects, small for a person a few metres away).
    moved = (
        (pose - root)
        + root * torch.tensor([1.0, 1.0, 2.0], dtype=torch.float64)
        + torch.tensor([0.2, -0.1, 0.0], dtype=torch.float64)
    )
    assert losses.backprojection_loss(moved, kp, intr, conf).item() > 0.03
    assert losses.aligned_backprojection_loss(moved, kp, intr, conf).item() < 2e-3
    assert losses.aligned_backprojection_loss(pose, kp, intr, conf).item() < 1e-9
    # One joint moved 30 cm sideways changes the shape: seen by both.
    bent = pose.clone()
    bent[..., 7, 0] += 0.3
    assert losses.aligned_backprojection_loss(bent, kp, intr, conf).item() > 1e-3
    # Gradient flows, and a step against it lowers the loss.
    x = bent.clone().requires_grad_(True)
    loss = losses.aligned_backprojection_loss(x, kp, intr, conf)
    loss.backward()
    assert x.grad is not None
    with torch.no_grad():
        stepped = losses.aligned_backprojection_loss(x - 1e-2 * x.grad, kp, intr, conf)
    assert stepped.item() < loss.item()
    with pytest.raises(ValueError, match="disagree"):
        losses.aligned_backprojection_loss(pose, kp, intr, conf[..., :3])
