"""Training losses (torch). Poses are (..., J, 3) tensors, typically (B, T, J, 3), in metres.

Every loss returns a scalar tensor and is differentiable in its first argument. Means are plain means over
all elements unless a docstring says otherwise. The numpy evaluation metrics with the same names live in
`lifting.metrics`; on the same data they give the same numbers (tested).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from lifting.camera import MIN_DEPTH


def project_torch(
    points_cam: torch.Tensor, intrinsics: torch.Tensor, min_depth: float = MIN_DEPTH
) -> torch.Tensor:
    """Differentiable `project`: camera points (..., 3) → image points (..., 2).

    intrinsics: (..., 9) broadcastable against the points' leading dims, laid out as `Intrinsics.as_array()`
    (pixels; the result is then pixels) or `Intrinsics.as_normalized_array()` (the result is then in
    normalised screen units). Depth is clamped to `min_depth` before dividing, so points at or behind the
    camera give finite values (and no gradient through z while clamped) instead of inf/NaN.
    """
    if points_cam.shape[-1] != 3:
        raise ValueError(f"points_cam must have shape (..., 3), got {tuple(points_cam.shape)}")
    if intrinsics.shape[-1] != 9:
        raise ValueError(f"intrinsics must have shape (..., 9), got {tuple(intrinsics.shape)}")
    k = intrinsics.to(dtype=points_cam.dtype)
    fx, fy, cx, cy, k1, k2, p1, p2, k3 = (k[..., i] for i in range(9))
    z = torch.clamp(points_cam[..., 2], min=min_depth)
    x = points_cam[..., 0] / z
    y = points_cam[..., 1] / z
    r2 = x * x + y * y
    radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
    xd = x * radial + 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x)
    yd = y * radial + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y
    return torch.stack([fx * xd + cx, fy * yd + cy], dim=-1)


def _norm(x: torch.Tensor) -> torch.Tensor:
    """Euclidean norm over the last dim (torch's stubs type vector_norm loosely)."""
    out: torch.Tensor = torch.linalg.vector_norm(x, dim=-1)
    return out


def _check_same_shape(pred: torch.Tensor, target: torch.Tensor) -> None:
    if pred.shape != target.shape:
        raise ValueError(f"pred and target shapes differ: {tuple(pred.shape)} vs {tuple(target.shape)}")
    if pred.ndim < 2 or pred.shape[-1] != 3:
        raise ValueError(f"expected poses of shape (..., J, 3), got {tuple(pred.shape)}")


def mpjpe(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean per-joint position error: mean over all leading dims and joints of ||pred - target|| (metres)."""
    _check_same_shape(pred, target)
    return _norm(pred - target).mean()


def weighted_mpjpe(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """`mean(w * ||pred - target||)` over all elements of the per-point error array of shape pred.shape[:-1].

    weights must broadcast against pred.shape[:-1]: e.g. (B, T, J) per joint, (B, T, 1) per frame. The mean
    divides by the number of error elements, not by the sum of the weights (as in the paper), so the weights
    set the scale of the loss.
    """
    _check_same_shape(pred, target)
    err = _norm(pred - target)
    return (weights * err).mean()


def depth_weighted_mpjpe(
    pred_traj: torch.Tensor, target_traj: torch.Tensor, min_depth: float = MIN_DEPTH
) -> torch.Tensor:
    """The paper's WMPJPE for the root trajectory: `mean over points of (1 / z_gt) * ||pred - target||`.

    pred_traj, target_traj: (..., 3) camera-space positions in metres, e.g. (B, T, 1, 3) or (B, T, 3); z_gt is
    target_traj[..., 2], clamped to at least `min_depth`. The mean is over all points (not divided by the sum
    of weights), so the value is dimensionless: the error as a fraction of the true depth. Far subjects, whose
    absolute depth error matters less in the image, weigh less.
    """
    if pred_traj.shape != target_traj.shape or pred_traj.shape[-1] != 3:
        raise ValueError(
            f"expected equal shapes (..., 3), got {tuple(pred_traj.shape)} and {tuple(target_traj.shape)}"
        )
    w = 1.0 / torch.clamp(target_traj[..., 2], min=min_depth)
    err = _norm(pred_traj - target_traj)
    return (w * err).mean()


def n_mpjpe(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MPJPE after scaling each pose (over its J joints) by the closed-form least-squares scale.

    s = <pred, target> / <pred, pred> per sample (protocol 3; no rotation or translation). Gradients flow
    through s. A zero pose gets s = 0 rather than NaN.
    """
    _check_same_shape(pred, target)
    num = (pred * target).sum(dim=(-2, -1), keepdim=True)
    den = (pred * pred).sum(dim=(-2, -1), keepdim=True)
    scale = num / torch.clamp(den, min=1e-12)
    return mpjpe(scale * pred, target)


def velocity_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean error of first differences along the time axis (dim -3 of (..., T, J, 3)): metres per frame."""
    _check_same_shape(pred, target)
    if pred.ndim < 3 or pred.shape[-3] < 2:
        raise ValueError(f"velocity_loss needs (..., T, J, 3) with T >= 2, got {tuple(pred.shape)}")
    dp = pred[..., 1:, :, :] - pred[..., :-1, :, :]
    dt = target[..., 1:, :, :] - target[..., :-1, :, :]
    return _norm(dp - dt).mean()


def masked_velocity_loss(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """`velocity_loss` over the frame pairs whose both frames are valid.

    pred, target: (B, T, J, 3) metres; valid: (B, T) 0/1 (frames past a short sequence's end are 0). Returns
    the mean over valid pairs and joints of ||Δpred - Δtarget|| (metres per frame); 0 when no pair is valid.
    """
    _check_same_shape(pred, target)
    if pred.ndim != 4 or valid.shape != pred.shape[:2]:
        raise ValueError(
            f"expected pred (B, T, J, 3) and valid (B, T), got {tuple(pred.shape)}, {tuple(valid.shape)}"
        )
    if pred.shape[1] < 2:
        return pred.sum() * 0.0
    dp = pred[:, 1:] - pred[:, :-1]
    dt = target[:, 1:] - target[:, :-1]
    pair = (valid[:, 1:] * valid[:, :-1]).to(pred.dtype)  # (B, T-1)
    err = _norm(dp - dt).mean(dim=-1)  # (B, T-1)
    return (pair * err).sum() / torch.clamp(pair.sum(), min=1.0)


def bone_length_std(pred: torch.Tensor, parents: Sequence[int], valid: torch.Tensor) -> torch.Tensor:
    """Mean over samples and bones of each bone's length standard deviation over the valid frames of a chunk.

    pred: (B, T, J, 3) metres; valid: (B, T) 0/1. The same quantity as the evaluation's "Bone std" (which is
    taken over a whole clip instead of a chunk), in metres. Samples with fewer than two valid frames add 0.
    """
    if pred.ndim != 4 or valid.shape != pred.shape[:2]:
        raise ValueError(
            f"expected pred (B, T, J, 3) and valid (B, T), got {tuple(pred.shape)}, {tuple(valid.shape)}"
        )
    lengths = bone_lengths(pred, parents)  # (B, T, K)
    w = valid.to(pred.dtype)[..., None]  # (B, T, 1)
    n = w.sum(dim=1, keepdim=True)  # (B, 1, 1)
    mean = (w * lengths).sum(dim=1, keepdim=True) / torch.clamp(n, min=1.0)
    var = (w * (lengths - mean) ** 2).sum(dim=1, keepdim=True) / torch.clamp(n, min=1.0)
    std = torch.sqrt(var + 1e-12) - 1e-6  # ε keeps the gradient finite at a zero spread
    usable = (n >= 2).to(pred.dtype)
    return (usable * std).sum() / torch.clamp(usable.sum() * lengths.shape[-1], min=1.0)


def _bone_pairs(parents: Sequence[int], num_joints: int) -> tuple[list[int], list[int]]:
    if len(parents) != num_joints:
        raise ValueError(f"{len(parents)} parents for {num_joints} joints")
    children = [c for c, p in enumerate(parents) if p >= 0]
    if not children:
        raise ValueError("the skeleton has no bones (every parent is -1)")
    return [parents[c] for c in children], children


def bone_lengths(joints: torch.Tensor, parents: Sequence[int]) -> torch.Tensor:
    """Bone lengths (..., number of non-root joints) of joints (..., J, 3).

    One bone per joint with a parent (parents[i] >= 0), in joint order, as `JointSet.bones`; (..., J - 1) for
    a single-rooted skeleton such as `lifting.skeleton.OUTPUT`.
    """
    par, chi = _bone_pairs(parents, joints.shape[-2])
    return _norm(joints[..., chi, :] - joints[..., par, :])


BONE_LOSS_KINDS = ("squared", "abs")


def bone_length_loss(
    pred_a: torch.Tensor,
    pred_b: torch.Tensor,
    parents: Sequence[int],
    kind: str = "squared",
    per_sample: bool = False,
) -> torch.Tensor:
    """Distance between the mean bone lengths of two batches: kind "squared" `sum_bones (mean_a - mean_b)²`
    (m²), kind "abs" `mean_bones |mean_a - mean_b|` (m, the form of the paper's published code).

    pred_a, pred_b: (..., J, 3), leading dims may differ; each batch's bone lengths are averaged over all its
    leading dims. In semi-supervised training a = unlabeled predictions, b = labeled ones (or ground truth),
    which keeps the unlabeled skeleton from collapsing or growing. The squared form's gradient grows with the
    difference (far from the labeled lengths, as in a model trained from scratch, it outweighs every other
    term); the absolute form's does not. per_sample: pred_a is (S, T, J, 3) and each of its S samples' mean
    lengths (over T) is compared with b's, the distances averaged over samples: every chunk must have the
    reference skeleton, not only the batch on average.
    """
    if kind not in BONE_LOSS_KINDS:
        raise ValueError(f"unknown bone-length loss {kind!r}; use one of {', '.join(BONE_LOSS_KINDS)}")
    if per_sample and pred_a.ndim != 4:
        raise ValueError(f"per_sample needs pred_a of shape (S, T, J, 3), got {tuple(pred_a.shape)}")
    la = bone_lengths(pred_a, parents)
    lb = bone_lengths(pred_b, parents)
    mean_a = la.mean(dim=1) if per_sample else la.reshape(-1, la.shape[-1]).mean(dim=0)  # (S, K) or (K,)
    mean_b = lb.reshape(-1, lb.shape[-1]).mean(dim=0)
    if kind == "abs":
        return (mean_a - mean_b).abs().mean()
    return ((mean_a - mean_b) ** 2).sum(dim=-1).mean()


def backprojection_loss(
    points_cam: torch.Tensor,
    keypoints_2d: torch.Tensor,
    intrinsics: torch.Tensor,
    confidence: torch.Tensor | None = None,
    min_depth: float = MIN_DEPTH,
    scale: torch.Tensor | None = None,
) -> torch.Tensor:
    """Confidence-weighted mean 2D distance between projected 3D joints and the 2D keypoints.

    points_cam: (..., J, 3) camera-space joints in metres, root translation included (pose + trajectory).
    keypoints_2d: (..., J, 2) in **normalised screen units** (`camera.normalize_screen`), and intrinsics
    (..., 9) (broadcastable; pass (..., 1, 9) to share one camera over the joints) in the same units, from
    `Intrinsics.as_normalized_array()`. confidence: (..., J) weights >= 0 (e.g. MediaPipe visibility), or None
    for all ones. Returns `sum(c * ||e||) / sum(c)`, 0 when every confidence is 0.

    Why normalised units rather than pixels: the model's 2D input already is in these units, and the loss
    then does not depend on the video resolution. In pixels a 1080p clip would weigh 2.25 times a 480p clip of
    the same motion and the loss weight would need retuning per dataset; in screen units one unit is half the
    image width whatever the resolution. (The function itself is unit-agnostic: keypoints and intrinsics in
    pixels give the loss in pixels.) scale: (..., J) factors (broadcastable) multiplying each distance before the
    weighted mean, e.g. the subject's depth (m) with camera-ray keypoints to get the error in metres at the
    subject; None for 1.
    """
    if points_cam.shape[-1] != 3 or keypoints_2d.shape[-1] != 2:
        raise ValueError(
            f"expected points (..., J, 3) and keypoints (..., J, 2), got {tuple(points_cam.shape)} "
            f"and {tuple(keypoints_2d.shape)}"
        )
    if points_cam.shape[:-1] != keypoints_2d.shape[:-1]:
        raise ValueError(
            f"points {tuple(points_cam.shape)} and keypoints {tuple(keypoints_2d.shape)} disagree on (..., J)"
        )
    proj = project_torch(points_cam, intrinsics, min_depth=min_depth)
    err = _norm(proj - keypoints_2d)
    if scale is not None:
        err = err * scale.to(err.dtype)
    if confidence is None:
        return err.mean()
    c = torch.broadcast_to(confidence.to(err.dtype), err.shape)
    return (c * err).sum() / torch.clamp(c.sum(), min=1e-12)


def aligned_backprojection_loss(
    points_cam: torch.Tensor,
    keypoints_2d: torch.Tensor,
    intrinsics: torch.Tensor,
    confidence: torch.Tensor,
    min_depth: float = MIN_DEPTH,
    scale: torch.Tensor | None = None,
) -> torch.Tensor:
    """`backprojection_loss` after aligning each projected pose to its 2D keypoints by a translation and a
    scale in the image (per (...) sample: the confidence-weighted centroids are matched, then the closed-form
    least-squares scale, as in `n_mpjpe`), so only the 2D *shape* of the pose is compared.

    Used for the pose model in semi-supervised training: a wrong root position (above all a wrong depth, which
    scales the whole projection) then cannot be "corrected" by distorting or resizing the pose; the trajectory
    model is trained by the plain back-projection instead. points_cam (..., J, 3), keypoints_2d (..., J, 2),
    confidence (..., J) and scale as in `backprojection_loss`; the result is in the keypoints' units (times scale's).
    """
    if points_cam.shape[:-1] != keypoints_2d.shape[:-1] or confidence.shape != points_cam.shape[:-1]:
        raise ValueError(
            f"points {tuple(points_cam.shape)}, keypoints {tuple(keypoints_2d.shape)} and confidence "
            f"{tuple(confidence.shape)} disagree on (..., J)"
        )
    proj = project_torch(points_cam, intrinsics, min_depth=min_depth)
    c = confidence.to(proj.dtype)[..., None]  # (..., J, 1)
    total = torch.clamp(c.sum(dim=-2, keepdim=True), min=1e-12)
    pc = proj - (c * proj).sum(dim=-2, keepdim=True) / total
    tc = keypoints_2d - (c * keypoints_2d).sum(dim=-2, keepdim=True) / total
    fit = (c * pc * tc).sum(dim=(-2, -1), keepdim=True) / torch.clamp(
        (c * pc * pc).sum(dim=(-2, -1), keepdim=True), min=1e-12
    )
    err = _norm(fit * pc - tc)
    if scale is not None:
        err = err * scale.to(err.dtype)
    w = c[..., 0]
    return (w * err).sum() / torch.clamp(w.sum(), min=1e-12)
