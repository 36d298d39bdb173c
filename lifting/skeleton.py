"""Skeleton definitions: the MediaPipe BlazePose input layout and our output joint set.

Both are plain data (`JointSet`), versioned by name so checkpoints can record which layout they were trained
with. "Left" and "right" are the person's own left and right, as in MediaPipe.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from lifting.landmarks import OBSERVED_JOINTS

FloatArray = npt.NDArray[np.float64]

# The frame rate the lifting models and their training clips run at; per-frame metrics (velocity, acceleration)
# are per frame at this rate, whatever a clip's own rate.
MODEL_FPS = 30.0


@dataclass(frozen=True)
class JointSet:
    """An ordered set of named joints with a parent tree and a left/right pairing.

    `parents[i]` is the index of joint i's parent, -1 for a root (the input layout has no tree, so every
    entry is -1 there). `mirror_pairs` lists (left, right) index pairs; every joint not in a pair is its own
    mirror image (centre line).
    """

    name: str
    names: tuple[str, ...]
    parents: tuple[int, ...]
    mirror_pairs: tuple[tuple[int, int], ...]
    index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.names) != len(self.parents):
            raise ValueError(f"{self.name}: {len(self.names)} names but {len(self.parents)} parents")
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"{self.name}: duplicate joint names")
        for i, p in enumerate(self.parents):
            if p >= i:
                raise ValueError(f"{self.name}: parent of joint {i} must come before it (got {p})")
        seen: set[int] = set()
        for left, right in self.mirror_pairs:
            if left in seen or right in seen or left == right:
                raise ValueError(f"{self.name}: joint listed twice in mirror_pairs")
            seen.update((left, right))
        object.__setattr__(self, "index", {n: i for i, n in enumerate(self.names)})

    @property
    def num_joints(self) -> int:
        return len(self.names)

    @property
    def bones(self) -> tuple[tuple[int, int], ...]:
        """(parent, child) index pairs, one per non-root joint, in joint order."""
        return tuple((p, c) for c, p in enumerate(self.parents) if p >= 0)

    @property
    def left_indices(self) -> tuple[int, ...]:
        return tuple(left for left, _ in self.mirror_pairs)

    @property
    def right_indices(self) -> tuple[int, ...]:
        return tuple(right for _, right in self.mirror_pairs)

    def mirror_permutation(self) -> npt.NDArray[np.int64]:
        """Index array `perm` such that `x[..., perm, :]` swaps every left joint with its right twin."""
        perm = np.arange(self.num_joints)
        for left, right in self.mirror_pairs:
            perm[left], perm[right] = right, left
        return perm

    def indices(self, names: list[str] | tuple[str, ...]) -> list[int]:
        """Indices of the given joint names; a clear KeyError names the first unknown one."""
        missing = [n for n in names if n not in self.index]
        if missing:
            raise KeyError(f"{self.name} has no joint named {missing[0]!r}")
        return [self.index[n] for n in names]

    def to_config(self) -> dict[str, object]:
        """JSON-serialisable description, stored in checkpoints and Motion3D files."""
        return {
            "name": self.name,
            "names": list(self.names),
            "parents": list(self.parents),
            "mirror_pairs": [list(p) for p in self.mirror_pairs],
        }


def _pairs_by_prefix(names: tuple[str, ...], left: str, right: str) -> tuple[tuple[int, int], ...]:
    """Pair every `left…` name with the `right…` name that has the same rest."""
    index = {n: i for i, n in enumerate(names)}
    pairs = []
    for i, n in enumerate(names):
        if n.startswith(left):
            twin = right + n[len(left) :]
            pairs.append((i, index[twin]))
    return tuple(pairs)


# MediaPipe BlazePose 33 landmarks, in the order MediaPipe returns them.
BLAZEPOSE_NAMES: tuple[str, ...] = (
    "nose",
    "left_eye_inner",
    "left_eye",
    "left_eye_outer",
    "right_eye_inner",
    "right_eye",
    "right_eye_outer",
    "left_ear",
    "right_ear",
    "mouth_left",
    "mouth_right",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_pinky",
    "right_pinky",
    "left_index",
    "right_index",
    "left_thumb",
    "right_thumb",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "left_heel",
    "right_heel",
    "left_foot_index",
    "right_foot_index",
)


def _blazepose_pairs() -> tuple[tuple[int, int], ...]:
    # mouth_left/mouth_right do not follow the left_/right_ prefix pattern.
    pairs = list(_pairs_by_prefix(BLAZEPOSE_NAMES, "left_", "right_"))
    pairs.append((BLAZEPOSE_NAMES.index("mouth_left"), BLAZEPOSE_NAMES.index("mouth_right")))
    return tuple(sorted(pairs))


BLAZEPOSE = JointSet(
    name="blazepose33",
    names=BLAZEPOSE_NAMES,
    parents=(-1,) * len(BLAZEPOSE_NAMES),
    mirror_pairs=_blazepose_pairs(),
)


def _side_pairs(parts: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    return tuple((BLAZEPOSE.index[f"left_{p}"], BLAZEPOSE.index[f"right_{p}"]) for p in parts)


# BlazePose's left/right pairs in the groups MediaPipe swaps together (a whole arm, a whole leg, the face): what
# left/right repair (`lifting.video2d.swaps`) and multi-view triangulation (`lifting.multiview`) relabel.
BLAZEPOSE_SWAP_GROUPS: dict[str, tuple[tuple[int, int], ...]] = {
    "arms": _side_pairs(("shoulder", "elbow", "wrist", "pinky", "index", "thumb")),
    "legs": _side_pairs(("hip", "knee", "ankle", "heel", "foot_index")),
    "face": tuple((a, b) for a, b in BLAZEPOSE.mirror_pairs if max(a, b) < BLAZEPOSE.index["left_shoulder"]),
}


def swap_pairs(
    points: npt.NDArray[np.floating[Any]], pairs: Sequence[tuple[int, int]], axis: int = -2
) -> npt.NDArray[np.float64]:
    """A copy of points (..., J, ...) (J on `axis`) with each (left, right) index pair of `pairs` exchanged."""
    idx = np.arange(points.shape[axis])
    for a, b in pairs:
        idx[a], idx[b] = b, a
    return np.take(np.asarray(points, dtype=np.float64), idx, axis=axis)


# Our output joints (Motion3D contract, DESIGN.md). Tree rooted at the pelvis. `head` is the centre of the
# head (between the ears), `nose` gives the head's facing, `*_hand` the end of the hand (knuckles), so the
# retargeter can solve head and hand orientation; `*_toe` is the ball/tip of the foot.
OUTPUT_NAMES: tuple[str, ...] = (
    "pelvis",
    "spine",
    "neck",
    "head",
    "nose",
    "l_hip",
    "l_knee",
    "l_ankle",
    "l_toe",
    "r_hip",
    "r_knee",
    "r_ankle",
    "r_toe",
    "l_shoulder",
    "l_elbow",
    "l_wrist",
    "l_hand",
    "r_shoulder",
    "r_elbow",
    "r_wrist",
    "r_hand",
)


def _output_parents() -> tuple[int, ...]:
    parent_names = {
        "pelvis": None,
        "spine": "pelvis",
        "neck": "spine",
        "head": "neck",
        "nose": "head",
        "l_hip": "pelvis",
        "l_knee": "l_hip",
        "l_ankle": "l_knee",
        "l_toe": "l_ankle",
        "r_hip": "pelvis",
        "r_knee": "r_hip",
        "r_ankle": "r_knee",
        "r_toe": "r_ankle",
        "l_shoulder": "neck",
        "l_elbow": "l_shoulder",
        "l_wrist": "l_elbow",
        "l_hand": "l_wrist",
        "r_shoulder": "neck",
        "r_elbow": "r_shoulder",
        "r_wrist": "r_elbow",
        "r_hand": "r_wrist",
    }
    return tuple(
        -1 if parent_names[n] is None else OUTPUT_NAMES.index(str(parent_names[n])) for n in OUTPUT_NAMES
    )


OUTPUT = JointSet(
    name="mocap21",
    names=OUTPUT_NAMES,
    parents=_output_parents(),
    mirror_pairs=_pairs_by_prefix(OUTPUT_NAMES, "l_", "r_"),
)

# Joints every Motion3D must carry (DESIGN.md).
REQUIRED_OUTPUT_NAMES: tuple[str, ...] = tuple(
    (
        "pelvis spine neck head l_hip l_knee l_ankle l_toe r_hip r_knee r_ankle r_toe "
        "l_shoulder l_elbow l_wrist r_shoulder r_elbow r_wrist"
    ).split()
)

JOINT_SETS: dict[str, JointSet] = {js.name: js for js in (BLAZEPOSE, OUTPUT)}


def joint_set_by_name(name: str) -> JointSet:
    """Look up a known joint set; unknown names raise a KeyError that lists the known ones."""
    try:
        return JOINT_SETS[name]
    except KeyError:
        raise KeyError(f"unknown joint set {name!r}; known: {', '.join(sorted(JOINT_SETS))}") from None


def mirror_points(
    points: npt.NDArray[np.floating[Any]], joints: JointSet, axis: int = 0, centre: float = 0.0
) -> npt.NDArray[np.floating[Any]]:
    """Mirror points across the plane `coord[axis] = centre` and swap left/right joints.

    points: (..., J, D) with J = joints.num_joints, any D > axis. Returns a new array of the same shape.
    Applying it twice gives the input back exactly.
    """
    if points.shape[-2] != joints.num_joints:
        raise ValueError(f"expected {joints.num_joints} joints on axis -2, got shape {points.shape}")
    out = points[..., joints.mirror_permutation(), :].copy()
    out[..., axis] = 2.0 * centre - out[..., axis]
    return out


def observation_matrix(input_joints: JointSet, output_joints: JointSet) -> tuple[list[int], FloatArray]:
    """How 2D inputs observe output joints: (output joint indices K, averaging matrix (K, J_in)).

    `matrix @ inputs` (inputs (..., J_in, D)) gives the observed image position of each listed output joint.
    For identical joint sets every joint observes itself; for BlazePose → `mocap21`,
    `lifting.landmarks.OBSERVED_JOINTS`.
    """
    if input_joints.names == output_joints.names:
        return list(range(output_joints.num_joints)), np.eye(output_joints.num_joints)
    if input_joints.name != BLAZEPOSE.name:
        raise ValueError(f"no observation model from {input_joints.name} to {output_joints.name}")
    joints = [output_joints.index[n] for n in OBSERVED_JOINTS if n in output_joints.index]
    matrix = np.zeros((len(joints), input_joints.num_joints))
    for row, j in enumerate(joints):
        cols = input_joints.indices(list(OBSERVED_JOINTS[output_joints.names[j]]))
        matrix[row, cols] = 1.0 / len(cols)
    return joints, matrix


def merge_mirrored(pred: npt.NDArray[np.floating[Any]], joints: JointSet) -> npt.NDArray[np.float32]:
    """Test-time augmentation: average a prediction with the un-mirrored prediction of the mirrored input.

    pred: (2, T, J, 3), index 0 from the original input, index 1 from the mirrored input. Returns (T, J, 3).
    """
    if pred.shape[0] != 2:
        raise ValueError(f"expected a pair of predictions on axis 0, got shape {pred.shape}")
    back = mirror_points(np.asarray(pred[1]), joints, axis=0)
    return np.asarray((pred[0] + back) / 2.0, dtype=np.float32)


def relabel_groups(landmarks: npt.ArrayLike, exchanged: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
    """BlazePose landmarks (T, 33, ...) with the groups marked in exchanged (T, G) swapped left for right (G: the
    groups of `BLAZEPOSE_SWAP_GROUPS` in order)."""
    out = np.array(landmarks, dtype=np.float64, copy=True)
    for g, pairs in enumerate(BLAZEPOSE_SWAP_GROUPS.values()):
        rows = np.flatnonzero(exchanged[:, g])
        if len(rows):
            out[rows] = swap_pairs(out[rows], pairs, axis=1)
    return out
