"""Evaluation metrics (numpy). Poses are (N, J, 3) or (T, J, 3) arrays in metres (any (..., J, 3) works
where it makes sense); results are Python floats in the same units (metres, or metres per frame for the
velocity and acceleration errors).

The protocols are those of the temporal-convolution paper (Pavllo et al. 2019): protocol 1 MPJPE, protocol 2
P-MPJPE (per-frame similarity Procrustes), protocol 3 N-MPJPE (per-frame scale only), and MPJVE.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def _pair(pred: npt.ArrayLike, target: npt.ArrayLike, min_ndim: int = 2) -> tuple[FloatArray, FloatArray]:
    p = np.asarray(pred, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    if p.shape != t.shape:
        raise ValueError(f"pred and target shapes differ: {p.shape} vs {t.shape}")
    if p.ndim < min_ndim or p.shape[-1] != 3:
        raise ValueError(f"expected an array of shape (..., J, 3) with >= {min_ndim} dims, got {p.shape}")
    return p, t


def mpjpe(pred: npt.ArrayLike, target: npt.ArrayLike) -> float:
    """Protocol 1: mean over frames and joints of the Euclidean distance ||pred - target||."""
    p, t = _pair(pred, target)
    return float(np.linalg.norm(p - t, axis=-1).mean())


def procrustes_align(pred: npt.ArrayLike, target: npt.ArrayLike) -> FloatArray:
    """Align each pose of pred (..., J, 3) to target by the best similarity transform, per pose.

    Finds s > 0, a proper rotation R (det +1; a reflection is never used, so a mirrored pose stays
    misaligned) and t minimising sum_j ||s * pred_j @ R + t - target_j||² (Umeyama's closed form, vectorised
    over poses with one batched SVD) and returns s * pred @ R + t, same shape as pred. A degenerate pose (all
    joints at one point) maps to the target's centroid.
    """
    p, t = _pair(pred, target)
    mu_p = p.mean(axis=-2, keepdims=True)
    mu_t = t.mean(axis=-2, keepdims=True)
    p0 = p - mu_p
    t0 = t - mu_t
    h = np.swapaxes(p0, -1, -2) @ t0  # (..., 3, 3)
    u, sv, vt = np.linalg.svd(h)
    # Flip the weakest axis when U Vt would be a reflection.
    sign = np.sign(np.linalg.det(u @ vt))
    sign = np.where(sign == 0, 1.0, sign)
    d = np.ones_like(sv)
    d[..., -1] = sign
    r = (u * d[..., None, :]) @ vt
    var_p = (p0 * p0).sum(axis=(-2, -1))
    scale = (sv * d).sum(axis=-1) / np.maximum(var_p, 1e-300)
    scale = np.where(var_p > 0, scale, 0.0)
    return np.asarray(scale[..., None, None] * (p0 @ r) + mu_t)


def p_mpjpe(pred: npt.ArrayLike, target: npt.ArrayLike) -> float:
    """Protocol 2: MPJPE after per-pose similarity Procrustes alignment (`procrustes_align`)."""
    p, t = _pair(pred, target)
    return mpjpe(procrustes_align(p, t), t)


def n_mpjpe(pred: npt.ArrayLike, target: npt.ArrayLike) -> float:
    """Protocol 3: MPJPE after scaling each pose by s = <pred, target> / <pred, pred> (scale only)."""
    p, t = _pair(pred, target)
    num = (p * t).sum(axis=(-2, -1), keepdims=True)
    den = (p * p).sum(axis=(-2, -1), keepdims=True)
    scale = np.where(den > 0, num / np.maximum(den, 1e-300), 0.0)
    return mpjpe(scale * p, t)


def _time_diff_error(pred: npt.ArrayLike, target: npt.ArrayLike, order: int) -> float:
    p, t = _pair(pred, target, min_ndim=3)
    if p.shape[-3] <= order:
        raise ValueError(f"need more than {order} frames along axis -3, got shape {p.shape}")
    dp = np.diff(p, n=order, axis=-3)
    dt = np.diff(t, n=order, axis=-3)
    return float(np.linalg.norm(dp - dt, axis=-1).mean())


def mpjve(pred: npt.ArrayLike, target: npt.ArrayLike) -> float:
    """Mean per-joint velocity error: MPJPE of first differences along time (axis -3), metres per frame."""
    return _time_diff_error(pred, target, 1)


def acceleration_error(pred: npt.ArrayLike, target: npt.ArrayLike) -> float:
    """Mean per-joint acceleration error: MPJPE of second differences along time (axis -3), m / frame²."""
    return _time_diff_error(pred, target, 2)


def bone_lengths(joints: npt.ArrayLike, parents: Sequence[int]) -> FloatArray:
    """(..., B) bone lengths of joints (..., J, 3): one per joint with parents[i] >= 0, in joint order."""
    j = np.asarray(joints, dtype=np.float64)
    if j.ndim < 2 or j.shape[-1] != 3 or j.shape[-2] != len(parents):
        raise ValueError(f"expected joints (..., {len(parents)}, 3), got {j.shape}")
    children = [c for c, p in enumerate(parents) if p >= 0]
    par = [parents[c] for c in children]
    return np.asarray(np.linalg.norm(j[..., children, :] - j[..., par, :], axis=-1))


def bone_length_std(joints: npt.ArrayLike, parents: Sequence[int]) -> float:
    """Mean over bones of the (population) standard deviation over frames of each bone's length (metres).

    joints: (T, J, 3) (or (..., J, 3): every leading dim counts as frames). 0 for a rigid skeleton.
    """
    lengths = bone_lengths(joints, parents)
    return float(lengths.reshape(-1, lengths.shape[-1]).std(axis=0).mean())


def _up_vector(up: int | npt.ArrayLike) -> FloatArray:
    """Unit up vector (3,) from an axis index (0, 1, 2) or a non-zero 3-vector."""
    if isinstance(up, int | np.integer):
        if not 0 <= int(up) < 3:
            raise ValueError(f"up axis must be 0, 1 or 2, got {up}")
        out = np.zeros(3)
        out[int(up)] = 1.0
        return out
    vec = np.asarray(up, dtype=np.float64)
    n = np.linalg.norm(vec)
    if vec.shape != (3,) or not n > 0:
        raise ValueError(f"up must be an axis index or a non-zero 3-vector, got {up!r}")
    return np.asarray(vec / n, dtype=np.float64)


def _horizontal(points: FloatArray, up: FloatArray) -> FloatArray:
    return np.asarray(points - (points @ up)[..., None] * up, dtype=np.float64)


def contact_slip(
    points: npt.ArrayLike, contacts: npt.ArrayLike, up: int | npt.ArrayLike = 2
) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    """How far planted points slide: one value per contact.

    points (T, P, 3) metres; contacts (T, P) bool, column p saying when point p is planted; up as in
    `foot_skate`. A contact is a run of consecutive True frames of one column. Its slip is the mean over the
    run's frames of the point's horizontal distance (normal to up) from its mean horizontal position over
    the run: 0 for a point that stays put, about a quarter of the distance slid for a point sliding at
    constant speed (0.025 m for 1 cm per frame over 10 frames). Returns (slips (N,) metres, frames (N,) the
    length of each contact), contacts ordered by point, then by time.
    """
    p = np.asarray(points, dtype=np.float64)
    c = np.asarray(contacts, dtype=bool)
    if p.ndim != 3 or p.shape[-1] != 3:
        raise ValueError(f"expected points of shape (T, P, 3), got {p.shape}")
    if c.shape != p.shape[:2]:
        raise ValueError(f"expected contacts of shape {p.shape[:2]}, got {c.shape}")
    flat = _horizontal(p, _up_vector(up))
    slips, lengths = [], []
    for k in range(p.shape[1]):
        edges = np.diff(np.concatenate([[0], c[:, k].astype(np.int8), [0]]))
        for s, e in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
            run = flat[s:e, k]
            slips.append(float(np.linalg.norm(run - run.mean(axis=0), axis=-1).mean()))
            lengths.append(int(e - s))
    return np.asarray(slips, dtype=np.float64), np.asarray(lengths, dtype=np.int64)


def planted_root_speed(
    root: npt.ArrayLike, planted: npt.ArrayLike, fps: float, up: int | npt.ArrayLike = 2
) -> FloatArray:
    """Horizontal root speeds (m/s), one per step t -> t + 1 with both frames planted.

    root (T, 3) metres; planted (T,) bool (e.g. both feet planted); up as in `foot_skate`. The speed of a
    step is the norm of the root's displacement normal to up, times fps. Empty when no step qualifies.
    """
    r = np.asarray(root, dtype=np.float64)
    m = np.asarray(planted, dtype=bool)
    if r.ndim != 2 or r.shape[-1] != 3:
        raise ValueError(f"expected a root of shape (T, 3), got {r.shape}")
    if m.shape != r.shape[:1]:
        raise ValueError(f"expected planted of shape {r.shape[:1]}, got {m.shape}")
    step = m[1:] & m[:-1]
    speed = np.linalg.norm(_horizontal(np.diff(r, axis=0), _up_vector(up)), axis=-1) * fps
    return np.asarray(speed[step], dtype=np.float64)


def foot_skate(
    joints: npt.ArrayLike,
    foot_indices: Sequence[int],
    up: int | npt.ArrayLike = 2,
    contact_height: float = 0.05,
    fps: float = 30.0,
    contacts: npt.ArrayLike | None = None,
) -> float:
    """Mean horizontal speed (m/s) of foot joints while they touch the floor.

    joints: (T, J, 3) metres. foot_indices: the foot joints (e.g. ankles and toes). up: an axis index (2 for
    Blender's Z up, 1 for a Y-up world; a negative sign is not expressible, so for OpenCV camera space, whose
    y points down, pass the vector (0, -1, 0)) or an up vector (3,).

    The floor is the lowest height any foot joint reaches in the clip. A foot joint is in contact during the
    step from frame t to t + 1 when it is within `contact_height` of the floor in both frames; its speed over
    that step is the norm of its displacement projected onto the floor plane, times fps. The result is the
    mean over all (foot joint, step) pairs in contact: 0 for planted feet, the sliding speed for a foot that
    slides along the floor. NaN when no foot joint is ever in contact over a whole step. `contacts` (T, F) bool,
    one column per foot joint, replaces the height rule with contacts found elsewhere (the retargeter's).
    """
    j = np.asarray(joints, dtype=np.float64)
    if j.ndim != 3 or j.shape[-1] != 3:
        raise ValueError(f"expected joints of shape (T, J, 3), got {j.shape}")
    if j.shape[0] < 2:
        raise ValueError("foot_skate needs at least 2 frames")
    if not foot_indices:
        raise ValueError("foot_skate needs at least one foot joint")
    up_vec = _up_vector(up)
    feet = j[:, list(foot_indices), :]  # (T, F, 3)
    if contacts is None:
        height = feet @ up_vec  # (T, F)
        contact = height - height.min() <= contact_height
    else:
        contact = np.asarray(contacts, dtype=bool)
        if contact.shape != feet.shape[:2]:
            raise ValueError(f"expected contacts of shape {feet.shape[:2]}, got {contact.shape}")
    step_contact = contact[1:] & contact[:-1]  # (T-1, F)
    if not step_contact.any():
        return float("nan")
    disp = np.diff(feet, axis=0)  # (T-1, F, 3)
    horizontal = disp - (disp @ up_vec)[..., None] * up_vec
    speed = np.linalg.norm(horizontal, axis=-1) * fps
    return float(speed[step_contact].mean())


def root_trajectory_error(
    pred_root: npt.ArrayLike, gt_root: npt.ArrayLike, align_scale: bool = False
) -> float:
    """Mean Euclidean distance (metres) between predicted and true root positions, (T, 3) each.

    With align_scale, pred is first multiplied by the one least-squares scale for the whole clip,
    s = <pred, gt> / <pred, pred>, which removes the monocular scale ambiguity (no translation alignment).
    """
    p = np.asarray(pred_root, dtype=np.float64)
    g = np.asarray(gt_root, dtype=np.float64)
    if p.shape != g.shape or p.ndim != 2 or p.shape[-1] != 3:
        raise ValueError(f"expected two (T, 3) trajectories, got {p.shape} and {g.shape}")
    if align_scale:
        den = float((p * p).sum())
        p = p * (float((p * g).sum()) / den if den > 0 else 0.0)
    return float(np.linalg.norm(p - g, axis=-1).mean())
