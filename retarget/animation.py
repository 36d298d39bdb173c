"""BoneAnimation: what the add-on writes into an Action, and forward kinematics to check it.

Blender's pose model (no constraints, default inheritance): for a bone b with parent p,

    pose[b] = pose[p] @ inv(rest[p]) @ rest[b] @ basis[b],      pose[root] = rest[root] @ basis[root]

where rest = `Bone.matrix_local` and pose = `PoseBone.matrix` (both armature space, 4 x 4) and
basis = `PoseBone.matrix_basis` = Translation(location) @ Rotation(rotation_quaternion) (scale 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from retarget.errors import RetargetError
from retarget.quaternions import make_continuous, matrix_to_quat, quat_to_matrix
from retarget.rest_skeleton import RestSkeleton
from retarget.rotations import orthonormalize

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class BoneAnimation:
    """Per-frame local bone rotations and the root bone's location, ready to key.

    bone_names (B,): bones to key, parents before children.
    rotations (T, B, 4) float64: exactly `pose.bones[name].rotation_quaternion` (w, x, y, z), with
        rotation_mode 'QUATERNION': the rotation of the bone relative to its rest pose, expressed in the
        bone's own rest frame (X, Y, Z of `Bone.matrix_local`, Y along the bone). Consecutive frames have
        non-negative dot products (no sign flips).
    root_bone: the bone whose `location` is keyed; it is one of bone_names.
    root_location (T, 3) float64: exactly `pose.bones[root_bone].location`, in the root bone's rest frame
        (its X, Y, Z axes, origin at its rest head) in armature units (metres for an unscaled armature).
    fps: frames per second of the keys; frame i is keyed at scene frame `frame_start + i`.
    contacts (T, 2) bool or None: left/right foot contact per frame, for display.
    """

    bone_names: tuple[str, ...]
    rotations: FloatArray
    root_bone: str
    root_location: FloatArray
    fps: float
    contacts: npt.NDArray[np.bool_] | None = None

    def __post_init__(self) -> None:
        rot = np.asarray(self.rotations, dtype=np.float64)
        loc = np.asarray(self.root_location, dtype=np.float64)
        t = rot.shape[0] if rot.ndim == 3 else -1
        if rot.ndim != 3 or rot.shape[1:] != (len(self.bone_names), 4):
            raise RetargetError(
                f"rotations must have shape (frames, {len(self.bone_names)}, 4), got {rot.shape}."
            )
        if loc.shape != (t, 3):
            raise RetargetError(f"root_location must have shape ({t}, 3), got {loc.shape}.")
        if self.root_bone not in self.bone_names:
            raise RetargetError(f"root bone {self.root_bone!r} is not among the animated bones.")
        if self.fps <= 0:
            raise RetargetError("animation frame rate must be positive.")
        object.__setattr__(self, "rotations", rot)
        object.__setattr__(self, "root_location", loc)
        object.__setattr__(self, "bone_names", tuple(self.bone_names))

    @property
    def num_frames(self) -> int:
        return int(self.rotations.shape[0])


def basis_matrices(rest: RestSkeleton, anim: BoneAnimation) -> FloatArray:
    """matrix_basis (T, B_rest, 4, 4) for every bone of `rest`; bones not in `anim` get the identity."""
    t = anim.num_frames
    basis = np.broadcast_to(np.eye(4), (t, rest.num_bones, 4, 4)).copy()
    cols = [rest.bone(n) for n in anim.bone_names]
    basis[:, cols, :3, :3] = quat_to_matrix(anim.rotations)
    basis[:, rest.bone(anim.root_bone), :3, 3] = anim.root_location
    return basis


def pose_matrices_from_basis(rest: RestSkeleton, basis: npt.ArrayLike) -> FloatArray:
    """Armature-space pose matrices (T, B, 4, 4) from matrix_basis (T, B, 4, 4) (see module docstring)."""
    bas = np.asarray(basis, dtype=np.float64)
    pose = np.empty_like(bas)
    inv_rest = np.linalg.inv(rest.matrices)
    for i, p in enumerate(rest.parents):
        if p < 0:
            pose[:, i] = rest.matrices[i] @ bas[:, i]
        else:
            pose[:, i] = pose[:, p] @ (inv_rest[p] @ rest.matrices[i]) @ bas[:, i]
    return pose


def pose_matrices(rest: RestSkeleton, anim: BoneAnimation) -> FloatArray:
    """Forward kinematics: armature-space pose matrices (T, B_rest, 4, 4) of every bone of `rest`."""
    return pose_matrices_from_basis(rest, basis_matrices(rest, anim))


def animation_from_pose(rest: RestSkeleton, pose: npt.ArrayLike, fps: float) -> BoneAnimation:
    """The BoneAnimation of every bone of `rest` (root: its first bone) that gives the armature-space pose
    matrices `pose` (T, B, 4, 4): each bone's rotation exactly (any scale in `pose` dropped) and the root's
    head; the other heads follow from the rest offsets (`pose_matrices`), as in a BVH file. The inverse of
    `pose_matrices_from_basis` for rigid poses: basis[b] = inv(rest[b]) @ rest[p] @ inv(pose[p]) @ pose[b]."""
    pm = np.asarray(pose, dtype=np.float64)
    if pm.ndim != 4 or pm.shape[1:] != (rest.num_bones, 4, 4) or pm.shape[0] == 0:
        raise RetargetError(f"pose must have shape (frames, {rest.num_bones}, 4, 4), got {pm.shape}.")
    rot = orthonormalize(pm[..., :3, :3])
    rest_rot = rest.rotations
    local = np.empty_like(rot)
    for i, p in enumerate(rest.parents):
        if p < 0:
            local[:, i] = rest_rot[i].T @ rot[:, i]
        else:
            local[:, i] = rest_rot[i].T @ rest_rot[p] @ np.swapaxes(rot[:, p], -1, -2) @ rot[:, i]
    root = 0
    location = (pm[:, root, :3, 3] - rest.matrices[root, :3, 3]) @ rest_rot[root]
    quats = make_continuous(matrix_to_quat(local), axis=0)
    return BoneAnimation(rest.names, quats, rest.names[root], location, fps)


def posed_points(
    pose: npt.ArrayLike, rest: RestSkeleton, bones: list[int], points: npt.ArrayLike
) -> FloatArray:
    """Positions (T, N, 3) of rest-space points (N, 3), each carried rigidly by its bone `bones[n]`."""
    pm = np.asarray(pose, dtype=np.float64)
    pts = np.asarray(points, dtype=np.float64)
    inv_rest = np.linalg.inv(rest.matrices[bones])  # (N, 4, 4)
    local = np.einsum("nij,nj->ni", inv_rest[:, :3, :3], pts) + inv_rest[:, :3, 3]
    m = pm[:, bones]  # (T, N, 4, 4)
    return np.asarray(np.einsum("tnij,nj->tni", m[..., :3, :3], local) + m[..., :3, 3], dtype=np.float64)
