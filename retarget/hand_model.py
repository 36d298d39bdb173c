"""The finger model shared by the lifter (angles from hand landmarks) and the solver (angles onto finger bones).

A hand's frame (`hand_frame`) has x distal (wrist → between the index and little finger knuckles), y palmar (out
of the palm), z = x × y: towards the little finger on the left hand, towards the thumb on the right, as
`Motion3D.orientations`' hands. Each finger (`FINGERS`: thumb, index, middle, ring, pinky) has three segments
(thumb: metacarpal, proximal, distal phalanx; fingers: proximal, middle, distal phalanx) and four angles
(`ANGLES`), radians, all relative to the finger's reference direction `ref` (fingers: from the wrist to the
finger's knuckle, laid into the palm plane; thumb: the distal axis turned `THUMB_REF_DEG` towards the thumb in
the palm plane):
- `spread`: the first segment's turn in the plane of `ref` and `e` (e ⟂ ref and ⟂ the curl direction, towards
  the thumb side), positive towards the thumb (for the thumb: radial abduction);
- `flex1`, `flex2`, `flex3`: each segment's bend towards the finger's curl direction `c` (fingers: palmar;
  thumb: palmar tilted `THUMB_CURL_TILT_DEG` towards the little finger, so a curling thumb crosses the palm),
  flex1 out of the (ref, e) plane, flex2 and flex3 about the first segment's bend axis as turned by the spread.
This is the thumb's own two-axis model: its metacarpal (CMC joint) has spread and flex1, its MCP and IP joints
flex only.

Composition (`finger_rotations`): R1 = Rot(s, spread) @ Rot(a, flex1), R2 = R1 @ Rot(a, flex2),
R3 = R2 @ Rot(a, flex3), where a = ref × c' (c' = c made ⟂ ref; positive turns ref towards c) and s = ref × e;
segment k points along R_k @ ref. `finger_angles` inverts it. On a rig the same holds with the rig's rest finger
bones as reference and rest frame (`retarget.solve`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from retarget.rotations import axis_angle_matrix, normalize

FloatArray = npt.NDArray[np.float64]

FINGERS: tuple[str, ...] = ("thumb", "index", "middle", "ring", "pinky")
ANGLES: tuple[str, ...] = ("spread", "flex1", "flex2", "flex3")
# MediaPipe hand landmarks: 0 wrist, then four per finger (thumb CMC, MCP, IP, TIP; others MCP, PIP, DIP, TIP).
WRIST = 0
FINGER_LANDMARKS: dict[str, tuple[int, int, int, int]] = {
    f: (1 + 4 * k, 2 + 4 * k, 3 + 4 * k, 4 + 4 * k) for k, f in enumerate(FINGERS)
}
INDEX_BASE, PINKY_BASE = 5, 17
THUMB_REF_DEG = 40.0
THUMB_CURL_TILT_DEG = 45.0


def hand_frame(
    wrist: npt.ArrayLike, index_base: npt.ArrayLike, pinky_base: npt.ArrayLike, side: str
) -> FloatArray:
    """Hand frames (..., 3, 3), columns x distal, y palmar, z = x × y, from the wrist and the index and little
    finger knuckles (..., 3) of the left (`side` "l") or right ("r") hand."""
    w, i, p = (np.asarray(v, dtype=np.float64) for v in (wrist, index_base, pinky_base))
    x = normalize(0.5 * (i + p) - w)
    radial = i - p
    radial = normalize(radial - np.sum(radial * x, axis=-1, keepdims=True) * x)
    z = -radial if side == "l" else radial
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=-1)


def radial_axis(side: str) -> FloatArray:
    """The thumb side in hand-frame coordinates."""
    return np.array([0.0, 0.0, -1.0 if side == "l" else 1.0])


def reference_and_curl(
    finger: str, side: str, knuckle: npt.ArrayLike | None = None
) -> tuple[FloatArray, FloatArray]:
    """The finger's reference direction (..., 3) and curl direction (3,) in hand-frame coordinates; `knuckle`:
    the finger's knuckle relative to the wrist in the hand frame (fingers only)."""
    radial = radial_axis(side)
    palmar = np.array([0.0, 1.0, 0.0])
    if finger == "thumb":
        t = np.radians(THUMB_REF_DEG)
        ref = np.cos(t) * np.array([1.0, 0.0, 0.0]) + np.sin(t) * radial
        return ref, curl_direction(finger, palmar, radial)
    if knuckle is None:
        raise ValueError("a finger's reference direction needs its knuckle")
    k = np.asarray(knuckle, dtype=np.float64)
    ref = normalize(k - k[..., 1:2] * palmar)
    return ref, palmar


def curl_direction(finger: str, palmar: npt.ArrayLike, radial: npt.ArrayLike) -> FloatArray:
    """The direction (..., 3) a finger curls towards, from the palm normal and the thumb side (..., 3): palmar,
    for the thumb tilted `THUMB_CURL_TILT_DEG` away from the thumb side, across the palm."""
    n = np.asarray(palmar, dtype=np.float64)
    if finger != "thumb":
        return n
    tilt = np.radians(THUMB_CURL_TILT_DEG)
    return np.asarray(
        np.cos(tilt) * n - np.sin(tilt) * np.asarray(radial, dtype=np.float64), dtype=np.float64
    )


def finger_basis(
    ref: npt.ArrayLike, curl: npt.ArrayLike, radial: npt.ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """(ref, e, c', a, s) (..., 3): unit reference, spread direction (towards `radial`), curl direction made ⟂
    ref, bend axis a = ref × c' and spread axis s = ref × e (module docstring)."""
    r = normalize(np.asarray(ref, dtype=np.float64))
    c = np.asarray(curl, dtype=np.float64)
    c = normalize(c - np.sum(c * r, axis=-1, keepdims=True) * r)
    e = np.cross(c, r)
    sign = np.where(np.sum(e * np.asarray(radial, dtype=np.float64), axis=-1, keepdims=True) < 0.0, -1.0, 1.0)
    e = e * sign
    return r, e, c, np.cross(r, c), np.cross(r, e)


def _signed_angle(u: FloatArray, v: FloatArray, axis: FloatArray) -> FloatArray:
    """Angle (...) from u to v about axis, both seen ⟂ axis."""
    k = normalize(axis)
    cos = np.sum(u * v, axis=-1) - np.sum(u * k, axis=-1) * np.sum(v * k, axis=-1)
    return np.asarray(np.arctan2(np.sum(np.cross(u, v) * k, axis=-1), cos), dtype=np.float64)


def finger_angles(
    segments: npt.ArrayLike, ref: npt.ArrayLike, curl: npt.ArrayLike, radial: npt.ArrayLike
) -> FloatArray:
    """Angles (..., 4) (spread, flex1, flex2, flex3), radians, of a finger whose three segment directions are
    `segments` (..., 3, 3), given its reference, curl and radial directions (..., 3), all in one frame."""
    seg = normalize(np.asarray(segments, dtype=np.float64))
    r, e, c, a, s = finger_basis(ref, curl, radial)
    p1 = seg[..., 0, :]
    spread = np.arctan2(np.sum(p1 * e, axis=-1), np.sum(p1 * r, axis=-1))
    flex1 = np.arctan2(np.sum(p1 * c, axis=-1), np.hypot(np.sum(p1 * r, axis=-1), np.sum(p1 * e, axis=-1)))
    axis = np.einsum("...ij,...j->...i", axis_angle_matrix(s, spread), a)
    flex2 = _signed_angle(seg[..., 0, :], seg[..., 1, :], axis)
    flex3 = _signed_angle(seg[..., 1, :], seg[..., 2, :], axis)
    return np.stack([spread, flex1, flex2, flex3], axis=-1)


def finger_rotations(angles: npt.ArrayLike, a: npt.ArrayLike, s: npt.ArrayLike) -> FloatArray:
    """Rotations (..., 3, 3, 3) R1, R2, R3 of a finger's segments from its angles (..., 4), bend axis a and
    spread axis s (3,) (module docstring); segment k points along R_k @ ref."""
    ang = np.asarray(angles, dtype=np.float64)
    r1 = axis_angle_matrix(s, ang[..., 0]) @ axis_angle_matrix(a, ang[..., 1])
    r2 = r1 @ axis_angle_matrix(a, ang[..., 2])
    r3 = r2 @ axis_angle_matrix(a, ang[..., 3])
    return np.stack([r1, r2, r3], axis=-3)


def hand_angles(landmarks: npt.ArrayLike, side: str) -> FloatArray:
    """Angles (..., 5, 4) of every finger (`FINGERS` × `ANGLES`), radians, from 21 hand landmarks (..., 21, 3) in
    any right-handed frame (MediaPipe's hand world landmarks)."""
    pts = np.asarray(landmarks, dtype=np.float64)
    frame = hand_frame(pts[..., WRIST, :], pts[..., INDEX_BASE, :], pts[..., PINKY_BASE, :], side)
    local = np.einsum("...ji,...kj->...ki", frame, pts - pts[..., WRIST : WRIST + 1, :])  # frame^T @ p
    out = []
    radial = radial_axis(side)
    for finger, (j0, j1, j2, j3) in FINGER_LANDMARKS.items():
        ref, curl = reference_and_curl(finger, side, local[..., j0, :])
        segs = np.stack(
            [
                local[..., j1, :] - local[..., j0, :],
                local[..., j2, :] - local[..., j1, :],
                local[..., j3, :] - local[..., j2, :],
            ],
            axis=-2,
        )
        ref = np.broadcast_to(ref, (*segs.shape[:-2], 3))
        out.append(
            finger_angles(segs, ref, np.broadcast_to(curl, ref.shape), np.broadcast_to(radial, ref.shape))
        )
    return np.stack(out, axis=-2)


def total_flexion(angles: npt.ArrayLike) -> FloatArray:
    """Per-finger curl (...,) radians: flex1 + flex2 + flex3 of angles (..., 4)."""
    ang = np.asarray(angles, dtype=np.float64)
    return np.asarray(ang[..., 1] + ang[..., 2] + ang[..., 3], dtype=np.float64)


# A canonical hand in hand-frame coordinates (distal, palmar, z) as fractions of the hand's length (wrist to the
# middle fingertip, about 19 cm on an adult), radial coordinates written for the left hand (z = -radial): each
# finger's knuckle (thumb: its CMC joint) and its three segment lengths. The knuckles of the index and little
# fingers are placed symmetrically about the distal axis, so the canonical hand's frame is the identity.
KNUCKLES: dict[str, tuple[float, float, float]] = {
    "thumb": (0.10, 0.02, 0.10),
    "index": (0.46, 0.0, 0.10),
    "middle": (0.47, 0.0, 0.03),
    "ring": (0.44, 0.0, -0.035),
    "pinky": (0.40, 0.0, -0.10),
}
SEGMENTS: dict[str, tuple[float, float, float]] = {
    "thumb": (0.22, 0.16, 0.13),
    "index": (0.22, 0.13, 0.11),
    "middle": (0.24, 0.15, 0.12),
    "ring": (0.22, 0.14, 0.11),
    "pinky": (0.17, 0.11, 0.10),
}


def canonical_knuckle(finger: str, side: str) -> FloatArray:
    """A finger's knuckle (thumb: CMC) on the canonical hand, hand-frame coordinates, hand lengths."""
    k = KNUCKLES[finger]
    return np.array([k[0], k[1], -k[2] if side == "l" else k[2]])


def hand_points(angles: npt.ArrayLike, side: str) -> FloatArray:
    """The canonical hand's 21 landmarks (..., 21, 3), hand-frame coordinates in hand lengths, posed with
    finger angles (..., 5, 4) (`FINGERS` × `ANGLES`, radians); the inverse of `hand_angles`."""
    ang = np.asarray(angles, dtype=np.float64)
    out = np.zeros((*ang.shape[:-2], 21, 3))
    radial = radial_axis(side)
    for k, finger in enumerate(FINGERS):
        knuckle = canonical_knuckle(finger, side)
        ref, curl = reference_and_curl(finger, side, knuckle)
        r, _, _, a, s = finger_basis(ref, curl, radial)
        rots = finger_rotations(ang[..., k, :], a, s)
        j = FINGER_LANDMARKS[finger]
        p = np.broadcast_to(knuckle, (*ang.shape[:-2], 3))
        out[..., j[0], :] = p
        for n in range(3):
            p = p + SEGMENTS[finger][n] * (rots[..., n, :, :] @ r)
            out[..., j[n + 1], :] = p
    return out
