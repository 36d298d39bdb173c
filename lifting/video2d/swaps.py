"""Left/right repair of one subject's 2D track: find the frames where the detector exchanged the labels of a
whole arm, leg or the face, and exchange them back.

MediaPipe sometimes labels a person's left limbs as right (on Pose2Sim's takes, on 22-25 % of the frames of
camera 2, which sees the person from the front; none on the two cameras that see him from behind). The exchange
starts and ends with a jump: in one frame the left wrist lands where the right wrist was, and the other way round. For each group of `BLAZEPOSE_SWAP_GROUPS` a dynamic
programme over the frames chooses, per frame, the labels as detected or exchanged, so that the group's landmarks
move as little as possible from frame to frame (a real motion is continuous; an exchange is not), with a small
price for each exchanged frame so that the detector's labels stand wherever continuity cannot tell (a person
seen exactly side-on, whose left and right project onto each other). A stretch that begins and ends side-on has
no jump to find: what this cannot repair, the lifter's training noise (swaps drawn as MediaPipe makes them) is
for. numpy only.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from lifting.labelling import cheapest_states
from lifting.skeleton import BLAZEPOSE_SWAP_GROUPS, relabel_groups, swap_pairs
from lifting.video2d.keypoints2d import Keypoints2D

FloatArray = npt.NDArray[np.float64]
# The price of keeping one frame's group exchanged, as a displacement in units of the person's image height: a
# stretch is repaired when the two jumps that bound it (each typically 0.3-0.5 heights: the distance between the
# left and right limb) cost more than this many heights per frame of the stretch.
EXCHANGE_COST = 0.004
# The extra price per frame of exchanging some groups but not all.
PARTIAL_COST = 0.01
# Landmarks count in the displacement by their visibility, never less than this (a hidden limb still moves).
MIN_WEIGHT = 0.1


def person_height(pixels: FloatArray, found: npt.NDArray[np.bool_]) -> float:
    """The person's height in the image (px): the median over found frames of the larger side of the landmarks'
    box; NaN when no frame is found. pixels (T, 33, 2)."""
    if not found.any():
        return float("nan")
    p = pixels[found]
    return float(np.median(np.max(p.max(axis=1) - p.min(axis=1), axis=-1)))


def exchanged_frames(
    pixels: npt.ArrayLike, visibility: npt.ArrayLike, found: npt.NDArray[np.bool_]
) -> npt.NDArray[np.bool_]:
    """Which frames' groups to exchange back: (T, G) bool for the groups of `BLAZEPOSE_SWAP_GROUPS` in order.

    pixels (T, 33, 2), visibility (T, 33), found (T,) (frames not found are skipped: continuity restarts after
    them). One dynamic programme over the 2^G ways to label a frame (each group as detected or exchanged): the
    groups' displacements from the previous frame add up, each exchanged group costs `EXCHANGE_COST` per frame,
    and exchanging some groups but not all costs `PARTIAL_COST` more, so that where one group's continuity is
    ambiguous (legs crossing in a stride) it follows the others (MediaPipe exchanges the whole body more often
    than one limb).
    """
    px = np.asarray(pixels, dtype=np.float64)
    vis = np.maximum(np.asarray(visibility, dtype=np.float64), MIN_WEIGHT)
    n_t, groups = len(px), list(BLAZEPOSE_SWAP_GROUPS.values())
    n_g = len(groups)
    labellings = np.array(list(itertools.product((False, True), repeat=n_g)))  # (S, G)
    out = np.zeros((n_t, n_g), dtype=bool)
    height = person_height(px, found)
    if not np.isfinite(height) or height <= 0:
        return out
    # moves[t, g, now, before]: group g's weighted mean displacement from frame t-1 to t (heights), for each
    # pair of its own labels (0 as detected, 1 exchanged).
    moves = np.zeros((n_t, n_g, 2, 2))
    for g, pairs in enumerate(groups):
        joints = [j for pair in pairs for j in pair]
        pos = np.stack([px[:, joints], swap_pairs(px, pairs)[:, joints]], axis=1)  # (T, 2, J, 2)
        wts = np.stack([vis[:, joints], swap_pairs(vis[..., None], pairs)[:, joints, 0]], axis=1)  # (T, 2, J)
        step = np.linalg.norm(pos[1:, :, None] - pos[:-1, None, :], axis=-1)  # (T-1, now, before, J)
        w = np.minimum(wts[1:, :, None], wts[:-1, None, :])
        moves[1:, g] = (w * step).sum(axis=-1) / w.sum(axis=-1) / height
    continuous = found[1:] & found[:-1]
    moves[1:][~continuous] = 0.0
    limbs = [g for g, name in enumerate(BLAZEPOSE_SWAP_GROUPS) if name != "face"]
    count, limbs_count = labellings.sum(axis=1), labellings[:, limbs].sum(axis=1)
    unary = EXCHANGE_COST * count + PARTIAL_COST * ((limbs_count > 0) & (limbs_count < len(limbs)))  # (S,)
    s_idx = labellings.astype(np.int64)
    # step[t, now, before]: the groups' displacements added up for each pair of labellings.
    step = moves[:, np.arange(n_g), s_idx[:, None, :], s_idx[None, :, :]].sum(axis=-1)
    per_frame = np.where(found[:, None], unary[None, :], 0.0)
    per_frame[0] = unary
    state = cheapest_states(per_frame, step)
    out[:] = labellings[state] & found[:, None]
    return out


def repair_swaps(keypoints: Keypoints2D) -> tuple[Keypoints2D, npt.NDArray[np.bool_]]:
    """The track with its left/right exchanges undone (`exchanged_frames`), and which frames' groups were
    exchanged (T, G). Interpolated frames follow their neighbours: they are relabelled with the found frames.
    The pose world landmarks (`Keypoints2D.pose_world`) are relabelled with the 2D; the hands follow the arms
    (`relabel_hands`)."""
    found = keypoints.detected
    exchanged = exchanged_frames(keypoints.keypoints, keypoints.visibility, found)
    if not exchanged.any():
        return keypoints, exchanged
    world = keypoints.pose_world
    fixed = replace(
        keypoints,
        keypoints=relabel_groups(keypoints.keypoints, exchanged).astype(np.float32),
        visibility=relabel_groups(keypoints.visibility, exchanged).astype(np.float32),
        pose_world=None if world is None else relabel_groups(world, exchanged).astype(np.float32),
    )
    return relabel_hands(fixed, exchanged[:, list(BLAZEPOSE_SWAP_GROUPS).index("arms")]), exchanged


def relabel_hands(keypoints: Keypoints2D, arms: npt.NDArray[np.bool_]) -> Keypoints2D:
    """`keypoints` with the hands (`Keypoints2D.hands` and companions) exchanged left for right on the frames
    (T,) whose arms are exchanged: each hand was found from its wrist, so it goes where its wrist goes."""
    if not keypoints.has_hands or not arms.any():
        return keypoints

    def exchanged(values: npt.NDArray[np.float32] | None) -> npt.NDArray[np.float32]:
        out = np.array(values, dtype=np.float32, copy=True)
        out[arms] = out[arms][:, ::-1]
        return out

    return replace(
        keypoints,
        hands=exchanged(keypoints.hands),
        hands_visibility=exchanged(keypoints.hands_visibility),
        hands_world=exchanged(keypoints.hands_world),
        hands_score=exchanged(keypoints.hands_score),
    )
