"""Foot locking on the target rig: a planted ankle stays where it was planted, no toe below its support.

Each foot is locked on its own contacts, so both are when both are planted. During each contact the rig's
ankle is pinned at the mean of its solved positions over the contact; the offset at the contact's edges
fades out over `blend` seconds before and after it, while the foot swings, and there it never points down
(a lifted foot is never pushed down). With a support height per foot and frame, a toe that would still be
below its support is lifted onto it. The leg is bent to reach the target with an analytic two-bone IK
(thigh + shin, knee kept in the leg's hinge plane). The foot keeps its solved orientation, except that during
each contact it keeps one heading (`FootLockConfig.heading`): it is turned about the vertical through its ankle so
its toe points the contact's mean horizontal direction, the turn fading out over `blend` like the pin. With the
ankle pinned, the lifted foot's turning from frame to frame was what still slid the rig's planted toes: on the
validation split lifted with refinement (`bench/feet_test_split.py --split validation --max-clips 100`,
docs/feet_validation.md) holding the heading took the foot skate from 10.1 to 4.7 mm per contact, with the
root's drift and velocity error unchanged. Frames that need no change are left exactly as solved.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from retarget import mocap21
from retarget.contacts import runs
from retarget.rotations import axis_angle_matrix, frame_from_vectors, normalize, orthonormalize
from retarget.solve import SolvePlan, bone_heads, propagate, site_positions

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class FootLockConfig:
    """blend: seconds over which a contact's pin fades in before it and out after it; heading: hold a planted
    foot's heading (its toe's horizontal direction from the ankle) at its mean over the contact."""

    blend: float = 0.15
    heading: bool = True


def _smoothstep(u: FloatArray) -> FloatArray:
    u = np.clip(u, 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


def pin_offsets(ankle: FloatArray, contact: npt.NDArray[np.bool_], blend_frames: int) -> FloatArray:
    """Offsets (T, 3) to add to an ankle trajectory (T, 3) so it is pinned during contacts (T,) bool."""
    t = len(ankle)
    off = np.zeros((t, 3))
    for s, e in runs(contact):
        anchor = ankle[s:e].mean(axis=0)
        off[s:e] = anchor - ankle[s:e]
        if blend_frames > 0:
            for k in range(1, blend_frames + 1):
                w = float(_smoothstep(np.array(1.0 - k / (blend_frames + 1))))
                if s - k >= 0 and not contact[s - k]:
                    off[s - k] += w * (anchor - ankle[s])
                if e - 1 + k < t and not contact[e - 1 + k]:
                    off[e - 1 + k] += w * (anchor - ankle[e - 1])
    return off


def heading_turns(
    ankle: FloatArray, toe: FloatArray, contact: npt.NDArray[np.bool_], blend_frames: int
) -> FloatArray:
    """Turns (T,) radians about the vertical (world Z, counter-clockwise seen from above) that give a foot,
    ankle and toe (T, 3) world positions, its mean heading over each contact run of contact (T,) bool (the
    heading's mean over the run, unwrapped), fading out over blend_frames outside the runs as `pin_offsets`
    does; 0 on frames outside contacts and blends."""
    v = toe[:, :2] - ankle[:, :2]
    angle = np.unwrap(np.arctan2(v[:, 1], v[:, 0]))
    pad = np.zeros((len(angle), 3))
    pad[:, 0] = angle
    return pin_offsets(pad, contact, blend_frames)[:, 0]


def two_bone_ik(
    hip: FloatArray, knee: FloatArray, ankle: FloatArray, target: FloatArray, axis: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Delta rotations (N, 3, 3) for thigh and shin so the ankle reaches `target` (all (N, 3)).

    `axis` is the knee's hinge axis (N, 3); the knee stays in the plane through the hip normal to it
    (turned to contain the target), and bone lengths are kept (the target is clamped to the reachable
    range). Returns (thigh_delta, shin_delta), to be left-multiplied onto the bones' current deltas.
    """
    a = np.linalg.norm(knee - hip, axis=-1)
    b = np.linalg.norm(ankle - knee, axis=-1)
    to_t = target - hip
    d = np.clip(np.linalg.norm(to_t, axis=-1), np.abs(a - b) + 1e-6, a + b - 1e-6)
    u = normalize(to_t)
    n = axis - np.sum(axis * u, axis=-1, keepdims=True) * u
    n = normalize(n)
    w = np.cross(u, n)
    cos_a = np.clip((a * a + d * d - b * b) / (2.0 * a * d), -1.0, 1.0)
    sin_a = np.sqrt(1.0 - cos_a * cos_a)
    knee_new = hip + a[:, None] * (cos_a[:, None] * u + sin_a[:, None] * w)
    ankle_new = hip + d[:, None] * u
    n_old = normalize(axis)
    thigh = frame_from_vectors(knee_new - hip, n) @ np.swapaxes(frame_from_vectors(knee - hip, n_old), -1, -2)
    shin = frame_from_vectors(ankle_new - knee_new, n) @ np.swapaxes(
        frame_from_vectors(ankle - knee, n_old), -1, -2
    )
    return thigh, shin


def _below(plan: SolvePlan, bone: int, ancestor: int) -> bool:
    """Whether `bone` is a descendant of `ancestor` in the plan's rest skeleton."""
    p = plan.rest.parents[bone]
    while p >= 0:
        if p == ancestor:
            return True
        p = plan.rest.parents[p]
    return False


def lock_feet(
    plan: SolvePlan,
    deltas: dict[int, FloatArray],
    root_shift: FloatArray,
    contacts: npt.NDArray[np.bool_],
    fps: float,
    config: FootLockConfig | None = None,
    support: FloatArray | None = None,
    linear: FloatArray | None = None,
) -> dict[int, FloatArray]:
    """New deltas with the legs bent so planted ankles stay put; contacts (T, 2) for (left, right).

    support (T, 2): world height of the support under each foot (rig units, the rig's rest toe height
    included), or None for no floor check; linear (3, 3) maps armature to world coordinates (world Z up;
    None: identity)."""
    cfg = config or FootLockConfig()
    out = dict(deltas)
    blend_frames = round(cfg.blend * fps)
    lin = np.eye(3) if linear is None else np.asarray(linear, dtype=np.float64)
    inv_lin = np.linalg.inv(lin)
    heads = bone_heads(plan, deltas, root_shift)
    for f, side in enumerate(("l", "r")):
        hip_j, knee_j, ankle_j = mocap21.LEGS[side]
        drive = plan.bone_map.drive
        if not all(j in drive for j in (hip_j, knee_j)):
            continue
        if not contacts[:, f].any() and support is None:
            continue
        thigh = plan.rest.bone(drive[hip_j])
        shin = plan.rest.bone(drive[knee_j])
        toe_j = f"{side}_toe"
        joints = [hip_j, knee_j, ankle_j] + ([toe_j] if toe_j in plan.site_bone else [])
        pos = site_positions(plan, deltas, heads, joints)
        offset = pin_offsets(pos[ankle_j], contacts[:, f], blend_frames) @ lin.T  # world
        free = ~contacts[:, f]
        offset[free, 2] = np.maximum(offset[free, 2], 0.0)  # a lifted foot is never pushed down
        if support is not None:
            lowest = pos[toe_j] @ lin[2] if toe_j in pos else pos[ankle_j] @ lin[2]
            offset[:, 2] += np.maximum(support[:, f] - (lowest + offset[:, 2]), 0.0)
        offset = offset @ inv_lin.T  # back to armature space
        if cfg.heading and toe_j in pos and ankle_j in drive and contacts[:, f].any():
            turn = heading_turns(pos[ankle_j] @ lin.T, pos[toe_j] @ lin.T, contacts[:, f], blend_frames)
            turned = np.flatnonzero(np.abs(turn) > 1e-9)
            if len(turned):
                # About world Z, in armature space; the foot bone and every driven bone below it.
                spin = orthonormalize(
                    inv_lin @ axis_angle_matrix(np.array([0.0, 0.0, 1.0]), turn[turned]) @ lin
                )
                foot = plan.rest.bone(drive[ankle_j])
                for b in plan.driven:
                    if b == foot or _below(plan, b, foot):
                        new = out[b].copy()
                        new[turned] = spin @ out[b][turned]
                        out[b] = new
        sel = np.flatnonzero(np.linalg.norm(offset, axis=-1) > 1e-9)
        if len(sel) == 0:
            continue
        hinge = plan.driven[thigh].rule.secondary
        axis = deltas[thigh][sel] @ plan.hinges[hinge].axis if hinge in plan.hinges else None
        if axis is None:
            continue
        d_thigh, d_shin = two_bone_ik(
            pos[hip_j][sel], pos[knee_j][sel], pos[ankle_j][sel], pos[ankle_j][sel] + offset[sel], axis
        )
        new_thigh = deltas[thigh].copy()
        new_thigh[sel] = d_thigh @ deltas[thigh][sel]
        new_shin = deltas[shin].copy()
        new_shin[sel] = d_shin @ deltas[shin][sel]
        out[thigh] = new_thigh
        out[shin] = new_shin
    return propagate(plan, out)
