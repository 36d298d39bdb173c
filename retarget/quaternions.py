"""Unit quaternions in Blender's (w, x, y, z) order, vectorised over leading axes. numpy only.

A quaternion q = (w, x, y, z) represents the rotation matrix returned by `quat_to_matrix`; q and -q are the
same rotation. `make_continuous` picks, frame by frame, the sign closest to the previous frame so that
interpolating keyframes never takes the long way round.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def quat_to_matrix(q: npt.ArrayLike) -> FloatArray:
    """Rotation matrices (..., 3, 3) from quaternions (..., 4) in (w, x, y, z) order (normalised first)."""
    a = np.asarray(q, dtype=np.float64)
    a = a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-300)
    w, x, y, z = a[..., 0], a[..., 1], a[..., 2], a[..., 3]
    rows = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ]
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


def matrix_to_quat(r: npt.ArrayLike) -> FloatArray:
    """Quaternions (..., 4) with w >= 0 from rotation matrices (..., 3, 3) (Shepperd's method)."""
    m = np.asarray(r, dtype=np.float64)
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    tr = m00 + m11 + m22
    # Four candidate formulas; use the one with the largest denominator for each matrix.
    cand = np.stack([tr, m00, m11, m22], axis=-1)
    pick = np.argmax(cand, axis=-1)
    q = np.empty((*m.shape[:-2], 4), dtype=np.float64)

    s = np.sqrt(np.maximum(1.0 + tr, 1e-300)) * 2.0
    q0 = np.stack(
        [
            0.25 * s,
            (m[..., 2, 1] - m[..., 1, 2]) / s,
            (m[..., 0, 2] - m[..., 2, 0]) / s,
            (m[..., 1, 0] - m[..., 0, 1]) / s,
        ],
        axis=-1,
    )
    s = np.sqrt(np.maximum(1.0 + m00 - m11 - m22, 1e-300)) * 2.0
    q1 = np.stack(
        [
            (m[..., 2, 1] - m[..., 1, 2]) / s,
            0.25 * s,
            (m[..., 0, 1] + m[..., 1, 0]) / s,
            (m[..., 0, 2] + m[..., 2, 0]) / s,
        ],
        axis=-1,
    )
    s = np.sqrt(np.maximum(1.0 - m00 + m11 - m22, 1e-300)) * 2.0
    q2 = np.stack(
        [
            (m[..., 0, 2] - m[..., 2, 0]) / s,
            (m[..., 0, 1] + m[..., 1, 0]) / s,
            0.25 * s,
            (m[..., 1, 2] + m[..., 2, 1]) / s,
        ],
        axis=-1,
    )
    s = np.sqrt(np.maximum(1.0 - m00 - m11 + m22, 1e-300)) * 2.0
    q3 = np.stack(
        [
            (m[..., 1, 0] - m[..., 0, 1]) / s,
            (m[..., 0, 2] + m[..., 2, 0]) / s,
            (m[..., 1, 2] + m[..., 2, 1]) / s,
            0.25 * s,
        ],
        axis=-1,
    )
    for k, cq in enumerate((q0, q1, q2, q3)):
        sel = pick == k
        q[sel] = cq[sel]
    q *= np.where(q[..., :1] < 0.0, -1.0, 1.0)
    return np.asarray(q / np.linalg.norm(q, axis=-1, keepdims=True), dtype=np.float64)


def quat_multiply(a: npt.ArrayLike, b: npt.ArrayLike) -> FloatArray:
    """Hamilton product a * b (..., 4): the rotation b followed by a, like matrix a @ b."""
    p = np.asarray(a, dtype=np.float64)
    q = np.asarray(b, dtype=np.float64)
    w1, x1, y1, z1 = p[..., 0], p[..., 1], p[..., 2], p[..., 3]
    w2, x2, y2, z2 = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    return np.stack(
        [
            w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
            w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
            w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
            w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
        ],
        axis=-1,
    )


def quat_conjugate(q: npt.ArrayLike) -> FloatArray:
    """Inverse of unit quaternions (..., 4)."""
    a = np.array(q, dtype=np.float64)
    a[..., 1:] *= -1.0
    return a


def quat_angle(a: npt.ArrayLike, b: npt.ArrayLike) -> FloatArray:
    """Angle in radians (...) of the rotation taking a to b, sign-independent (q and -q are equal)."""
    p = np.asarray(a, dtype=np.float64)
    q = np.asarray(b, dtype=np.float64)
    d = np.abs(np.sum(p * q, axis=-1)) / (np.linalg.norm(p, axis=-1) * np.linalg.norm(q, axis=-1))
    return np.asarray(2.0 * np.arccos(np.clip(d, 0.0, 1.0)), dtype=np.float64)


def make_continuous(q: npt.ArrayLike, axis: int = 0) -> FloatArray:
    """Flip signs along `axis` (time) so consecutive quaternions have a non-negative dot product.

    q: (..., 4) with time on `axis`. The first frame keeps its sign. Returns a new array.
    """
    a = np.moveaxis(np.array(q, dtype=np.float64), axis, 0)
    if a.shape[0] > 1:
        dots = np.sum(a[1:] * a[:-1], axis=-1)
        flips = np.cumsum(dots < 0.0, axis=0) % 2
        sign = np.concatenate([np.ones_like(flips[:1]), 1 - 2 * flips], axis=0)
        a = a * sign[..., None]
    return np.moveaxis(a, 0, axis)


def slerp(a: npt.ArrayLike, b: npt.ArrayLike, t: npt.ArrayLike) -> FloatArray:
    """Spherical interpolation between unit quaternions a and b (..., 4) at fractions t (...)."""
    p = np.asarray(a, dtype=np.float64)
    q = np.asarray(b, dtype=np.float64)
    u = np.asarray(t, dtype=np.float64)[..., None]
    d = np.sum(p * q, axis=-1, keepdims=True)
    q = np.where(d < 0.0, -q, q)
    d = np.abs(d)
    theta = np.arccos(np.clip(d, -1.0, 1.0))
    s = np.sin(theta)
    small = s < 1e-6
    w0 = np.where(small, 1.0 - u, np.sin((1.0 - u) * theta) / np.where(small, 1.0, s))
    w1 = np.where(small, u, np.sin(u * theta) / np.where(small, 1.0, s))
    out = w0 * p + w1 * q
    return np.asarray(out / np.linalg.norm(out, axis=-1, keepdims=True), dtype=np.float64)
