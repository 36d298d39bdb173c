"""Rotation matrices: orthonormal frames from two vectors, minimal rotations, axis–angle and Euler angles.

All functions are vectorised over leading axes: vectors are (..., 3), rotation matrices (..., 3, 3) acting
on column vectors (`R @ v`). Angles are in radians unless a name says degrees. numpy only.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

_EPS = 1e-12


def normalize(v: npt.ArrayLike, eps: float = _EPS) -> FloatArray:
    """Unit vectors along the last axis; zero vectors stay zero. (..., 3) -> (..., 3)."""
    a = np.asarray(v, dtype=np.float64)
    n = np.linalg.norm(a, axis=-1, keepdims=True)
    return np.asarray(a / np.maximum(n, eps), dtype=np.float64)


def frame_from_vectors(primary: npt.ArrayLike, secondary: npt.ArrayLike) -> FloatArray:
    """Right-handed orthonormal frame (..., 3, 3) whose columns are (e1, e2, e3).

    e1 is `primary` normalised, e2 is `secondary` made orthogonal to e1 (Gram–Schmidt) and normalised,
    e3 = e1 × e2. The caller makes sure the two vectors are not parallel.
    """
    e1 = normalize(primary)
    s = np.asarray(secondary, dtype=np.float64)
    e2 = normalize(s - np.sum(s * e1, axis=-1, keepdims=True) * e1)
    e3 = np.cross(e1, e2)
    return np.stack([e1, e2, e3], axis=-1)


def axis_angle_matrix(axis: npt.ArrayLike, angle: npt.ArrayLike) -> FloatArray:
    """Rotation matrices (..., 3, 3) about unit-normalised `axis` (..., 3) by `angle` (...) radians."""
    k = normalize(axis)
    ang = np.asarray(angle, dtype=np.float64)
    c = np.cos(ang)[..., None, None]
    s = np.sin(ang)[..., None, None]
    x, y, z = k[..., 0], k[..., 1], k[..., 2]
    zero = np.zeros_like(x)
    kx = np.stack(
        [np.stack([zero, -z, y], -1), np.stack([z, zero, -x], -1), np.stack([-y, x, zero], -1)], axis=-2
    )
    outer = k[..., :, None] * k[..., None, :]
    eye = np.broadcast_to(np.eye(3), kx.shape)
    return np.asarray(c * eye + s * kx + (1.0 - c) * outer, dtype=np.float64)


def rotation_between(a: npt.ArrayLike, b: npt.ArrayLike) -> FloatArray:
    """Minimal rotations (..., 3, 3) taking direction `a` onto direction `b`.

    For opposite directions the rotation is a half turn about an axis perpendicular to `a`.
    """
    ua = normalize(a)
    ub = normalize(b)
    ua, ub = np.broadcast_arrays(ua, ub)
    axis = np.cross(ua, ub)
    s = np.linalg.norm(axis, axis=-1)
    c = np.clip(np.sum(ua * ub, axis=-1), -1.0, 1.0)
    angle = np.arctan2(s, c)
    # Any axis works when parallel; for anti-parallel pick one perpendicular to a.
    fallback = np.cross(ua, np.array([1.0, 0.0, 0.0]))
    weak = np.linalg.norm(fallback, axis=-1) < 1e-6
    fallback[weak] = np.cross(ua[weak], np.array([0.0, 1.0, 0.0]))
    axis = np.where((s < 1e-9)[..., None], fallback, axis)
    return axis_angle_matrix(axis, angle)


def rotation_angle(r: npt.ArrayLike) -> FloatArray:
    """Angle in radians (...) of rotation matrices (..., 3, 3)."""
    m = np.asarray(r, dtype=np.float64)
    tr = np.trace(m, axis1=-2, axis2=-1)
    return np.asarray(np.arccos(np.clip((tr - 1.0) * 0.5, -1.0, 1.0)), dtype=np.float64)


def angle_between(a: npt.ArrayLike, b: npt.ArrayLike) -> FloatArray:
    """Angle in radians (...) between vectors a and b (..., 3)."""
    ua = normalize(a)
    ub = normalize(b)
    cross = np.linalg.norm(np.cross(ua, ub), axis=-1)
    return np.asarray(np.arctan2(cross, np.sum(ua * ub, axis=-1)), dtype=np.float64)


def orthonormalize(r: npt.ArrayLike) -> FloatArray:
    """Nearest rotation matrices (..., 3, 3) to the given matrices (SVD, determinant forced to +1)."""
    m = np.asarray(r, dtype=np.float64)
    u, _, vt = np.linalg.svd(m)
    d = np.sign(np.linalg.det(u @ vt))
    u = u.copy()
    u[..., :, 2] *= d[..., None]
    return np.asarray(u @ vt, dtype=np.float64)


_AXES = {"X": 0, "Y": 1, "Z": 2}


def _basic(axis: int, angle: FloatArray) -> FloatArray:
    c, s = np.cos(angle), np.sin(angle)
    one, zero = np.ones_like(angle), np.zeros_like(angle)
    if axis == 0:
        rows = [[one, zero, zero], [zero, c, -s], [zero, s, c]]
    elif axis == 1:
        rows = [[c, zero, s], [zero, one, zero], [-s, zero, c]]
    else:
        rows = [[c, -s, zero], [s, c, zero], [zero, zero, one]]
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


def euler_to_matrix(angles: npt.ArrayLike, order: str) -> FloatArray:
    """Rotation matrices (..., 3, 3) from Euler angles (..., 3) in radians.

    `order` names the axes in the order the angles are given, e.g. "ZXY"; the matrix is the product
    R = R_order[0](a0) @ R_order[1](a1) @ R_order[2](a2) (intrinsic rotations, as in BVH files).
    """
    a = np.asarray(angles, dtype=np.float64)
    if len(order) != 3 or any(c not in _AXES for c in order.upper()):
        raise ValueError(f"bad Euler order {order!r}")
    r = _basic(_AXES[order[0].upper()], a[..., 0])
    for i in (1, 2):
        r = r @ _basic(_AXES[order[i].upper()], a[..., i])
    return r


def matrix_to_euler(r: npt.ArrayLike, order: str) -> FloatArray:
    """Euler angles (..., 3) in radians, in `order` (e.g. "ZXY"), such that euler_to_matrix gives back r.

    Works for the six orders with three distinct axes (Tait–Bryan). At gimbal lock the third angle is 0.
    """
    m = np.asarray(r, dtype=np.float64)
    o = order.upper()
    if len(o) != 3 or len(set(o)) != 3 or any(c not in _AXES for c in o):
        raise ValueError(f"bad Euler order {order!r}")
    i, j, k = (_AXES[c] for c in o)
    # R = Ri(a) Rj(b) Rk(c); sign of the permutation decides signs.
    sign = 1.0 if (j - i) % 3 == 1 else -1.0
    sb = np.clip(sign * m[..., i, k], -1.0, 1.0)
    b = np.arcsin(sb)
    a = np.arctan2(-sign * m[..., j, k], m[..., k, k])
    c = np.arctan2(-sign * m[..., i, j], m[..., i, i])
    locked = np.abs(sb) > 1.0 - 1e-9
    if np.any(locked):
        # c := 0, so R = Ri(a) Rj(±90°): solve a from the remaining block.
        a_l = np.arctan2(sign * m[..., k, j], m[..., j, j])
        a = np.where(locked, a_l, a)
        c = np.where(locked, 0.0, c)
    return np.stack([a, b, c], axis=-1)
