"""Write a BoneAnimation on a rest armature as a BVH file, in pure Python (no Blender needed).

One BVH joint per bone at the bone's head, from the animation's root bone down (its ancestors stay at rest
and are left out); leaves get an End Site at their tail. BVH joints have no rest
rotation, so each joint's channels hold the bone's rotation relative to its rest, expressed in world-aligned
axes: local = C @ D_parent^T @ D_bone @ C^T with D = pose rotation @ rest rotation^T (armature space)
and C the axis change from Blender (Z up, -Y forward) to BVH's usual Y up (x, y, z) -> (x, z, -y).
Offsets are head-to-head vectors in those axes, times `scale`. The root has position channels holding its
head's absolute position (its OFFSET is its rest head, as Blender's exporter writes). Given the posed heads
(`heads`), a joint whose head moves relative to its parent's (Mesh2Motion's pelvis travels below a still root
bone) gets position channels too, holding its head relative to its parent's in the parent's posed axes
(C @ D_parent^T @ (head - parent head)), which is how Blender's BVH importer reads them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt

from retarget.animation import BoneAnimation, pose_matrices
from retarget.atomic_write import atomic_write
from retarget.errors import RetargetError
from retarget.rest_skeleton import RestSkeleton
from retarget.rotations import matrix_to_euler, orthonormalize

FloatArray = npt.NDArray[np.float64]

Y_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def _bvh_name(name: str) -> str:
    return "_".join(name.split()) or "bone"


# Frames whose motion lines are computed together: long clips are written piece by piece, so the memory a BVH
# takes does not grow with the clip.
CHUNK_FRAMES = 256


def bvh_text(
    rest: RestSkeleton,
    anim: BoneAnimation,
    *,
    all_bones: bool = False,
    rotation_order: str = "ZXY",
    scale: float = 1.0,
    y_up: bool = True,
    heads: npt.ArrayLike | None = None,
    position_tolerance: float = 1e-4,
) -> str:
    """BVH file contents for `anim` on `rest` (see module docstring).

    all_bones: write every bone below the root bone (else the animated bones and their ancestors).
    rotation_order: Euler order of the rotation channels, e.g. "ZXY" means Zrotation Xrotation Yrotation.
    scale: multiplies all lengths (e.g. 100 for centimetres). y_up: convert to Y up (else keep Z up).
    heads: posed head positions (T, B_rest, 3) in armature space; joints whose head moves more than
    `position_tolerance` (armature units) from its rest offset to the parent's get position channels.
    """
    return "".join(
        bvh_pieces(
            rest,
            anim,
            all_bones=all_bones,
            rotation_order=rotation_order,
            scale=scale,
            y_up=y_up,
            heads=heads,
            position_tolerance=position_tolerance,
        )
    )


def bvh_pieces(
    rest: RestSkeleton,
    anim: BoneAnimation,
    *,
    all_bones: bool = False,
    rotation_order: str = "ZXY",
    scale: float = 1.0,
    y_up: bool = True,
    heads: npt.ArrayLike | None = None,
    position_tolerance: float = 1e-4,
) -> Iterator[str]:
    """`bvh_text` as consecutive pieces of text: the hierarchy, then the motion `CHUNK_FRAMES` frames at a time.
    Checks raise before the first piece."""
    order = rotation_order.upper()
    if sorted(order) != ["X", "Y", "Z"]:
        raise RetargetError(f"BVH rotation order must be a permutation of XYZ, got {rotation_order!r}.")
    root_bone = rest.bone(anim.root_bone)
    subtree = {i for i in range(rest.num_bones) if i == root_bone or root_bone in rest.ancestors(i)}
    keep = set(subtree) if all_bones else {root_bone}
    for n in anim.bone_names:
        i = rest.bone(n)
        if i not in subtree:
            raise RetargetError(f"animated bone {n!r} is not below the root bone {anim.root_bone!r}.")
        keep.add(i)
        keep.update(a for a in rest.ancestors(i) if a in subtree)
    roots = [root_bone]
    conv = Y_UP if y_up else np.eye(3)
    posed = None if heads is None else np.asarray(heads, dtype=np.float64)
    if posed is not None and posed.shape != (anim.num_frames, rest.num_bones, 3):
        raise RetargetError(
            f"heads must have shape ({anim.num_frames}, {rest.num_bones}, 3), got {posed.shape}."
        )
    moving = _moving_joints(rest, anim, posed, keep - {root_bone}, position_tolerance)
    children = {i: [c for c in sorted(keep) if rest.parents[c] == i] for i in keep}
    order_list: list[int] = []
    rest_heads = rest.heads
    lines = ["HIERARCHY"]
    rot_channels = " ".join(f"{a}rotation" for a in order)

    def emit(i: int, depth: int) -> None:
        pad = "\t" * depth
        p = rest.parents[i]
        offset = conv @ (rest_heads[i] - (rest_heads[p] if p >= 0 and i != roots[0] else 0.0)) * scale
        kind = "ROOT" if i == roots[0] else "JOINT"
        lines.append(f"{pad}{kind} {_bvh_name(rest.names[i])}")
        lines.append(f"{pad}{{")
        lines.append(f"{pad}\tOFFSET {offset[0]:.6f} {offset[1]:.6f} {offset[2]:.6f}")
        if i == roots[0] or i in moving:
            lines.append(f"{pad}\tCHANNELS 6 Xposition Yposition Zposition {rot_channels}")
        else:
            lines.append(f"{pad}\tCHANNELS 3 {rot_channels}")
        order_list.append(i)
        for c in children[i]:
            emit(c, depth + 1)
        if not children[i]:
            end = conv @ (rest.tails[i] - rest_heads[i]) * scale
            lines.append(f"{pad}\tEnd Site")
            lines.append(f"{pad}\t{{")
            lines.append(f"{pad}\t\tOFFSET {end[0]:.6f} {end[1]:.6f} {end[2]:.6f}")
            lines.append(f"{pad}\t}}")
        lines.append(f"{pad}}}")

    emit(roots[0], 0)
    lines += ["MOTION", f"Frames: {anim.num_frames}", f"Frame Time: {1.0 / anim.fps:.8f}"]
    return _pieces(
        "\n".join(lines) + "\n", rest, anim, posed, moving, order_list, roots[0], conv, order, scale
    )


def _chunks(rest: RestSkeleton, anim: BoneAnimation) -> Iterator[tuple[int, FloatArray, FloatArray]]:
    """(first frame, delta rotations (t, B, 3, 3) = pose rotation @ rest rotation^T, forward-kinematics heads
    (t, B, 3)) per CHUNK_FRAMES frames."""
    for a in range(0, anim.num_frames, CHUNK_FRAMES):
        part = BoneAnimation(
            bone_names=anim.bone_names,
            rotations=anim.rotations[a : a + CHUNK_FRAMES],
            root_bone=anim.root_bone,
            root_location=anim.root_location[a : a + CHUNK_FRAMES],
            fps=anim.fps,
        )
        pose = pose_matrices(rest, part)
        yield a, pose[:, :, :3, :3] @ np.swapaxes(rest.rotations, -1, -2)[None], pose[:, :, :3, 3]


def _local_head(rest: RestSkeleton, heads: FloatArray, delta: FloatArray, i: int) -> FloatArray:
    """Bone i's posed head relative to its parent's, in the parent's posed axes (t, 3), armature axes."""
    p = rest.parents[i]
    return np.asarray(np.einsum("tji,tj->ti", delta[:, p], heads[:, i] - heads[:, p]), dtype=np.float64)


def _moving_joints(
    rest: RestSkeleton, anim: BoneAnimation, heads: FloatArray | None, joints: set[int], tolerance: float
) -> set[int]:
    """The joints (not roots) whose posed head leaves its rest offset to the parent by more than `tolerance`."""
    candidates = sorted(i for i in joints if rest.parents[i] >= 0)
    if heads is None or not candidates:
        return set()
    rest_heads = rest.heads
    moving: set[int] = set()
    for a, delta, _ in _chunks(rest, anim):
        part = heads[a : a + CHUNK_FRAMES]
        for i in candidates:
            if i not in moving:
                offset = rest_heads[i] - rest_heads[rest.parents[i]]
                if np.abs(_local_head(rest, part, delta, i) - offset).max() > tolerance:
                    moving.add(i)
    return moving


def _pieces(
    header: str,
    rest: RestSkeleton,
    anim: BoneAnimation,
    heads: FloatArray | None,
    moving: set[int],
    order_list: list[int],
    root: int,
    conv: FloatArray,
    order: str,
    scale: float,
) -> Iterator[str]:
    yield header
    for a, delta, fk_heads in _chunks(rest, anim):
        t = delta.shape[0]
        root_head = fk_heads[:, root] if heads is None else heads[a : a + t, root]
        cols = [(root_head @ conv.T) * scale]
        for i in order_list:
            p = rest.parents[i]
            if i in moving:
                assert heads is not None
                cols.append((_local_head(rest, heads[a : a + t], delta, i) @ conv.T) * scale)
            dp = delta[:, p] if p >= 0 else np.broadcast_to(np.eye(3), (t, 3, 3))
            local = orthonormalize(conv @ np.swapaxes(dp, -1, -2) @ delta[:, i] @ conv.T)
            cols.append(np.degrees(matrix_to_euler(local, order)))
        values = np.concatenate(cols, axis=1)
        yield "".join(" ".join(f"{v:.6f}" for v in row) + "\n" for row in values)


def write_bvh(
    path: str | os.PathLike[str], rest: RestSkeleton, anim: BoneAnimation, **options: object
) -> None:
    """Write `bvh_text(rest, anim, **options)` to `path` atomically (temporary file, then os.replace), piece by
    piece (`bvh_pieces`), so a long clip does not need its whole text in memory."""
    pieces = bvh_pieces(rest, anim, **options)  # type: ignore[arg-type]

    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.writelines(pieces)

    atomic_write(path, write)
