"""Write a BoneAnimation on a rest armature as a BVH file, in pure Python (no Blender needed).

One BVH joint per bone at the bone's head, from the animation's root bone down (its ancestors stay at rest
and are left out); leaves get an End Site at their tail. BVH joints have no rest
rotation, so each joint's channels hold the bone's rotation relative to its rest, expressed in world-aligned
axes: local = C @ D_parent^T @ D_bone @ C^T with D = pose rotation @ rest rotation^T (armature space)
and C the axis change from Blender (Z up, -Y forward) to BVH's usual Y up (x, y, z) -> (x, z, -y).
Offsets are head-to-head vectors in those axes, times `scale`. The root has position channels holding its
head's absolute position (its OFFSET is its rest head, as Blender's exporter writes).
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
) -> str:
    """BVH file contents for `anim` on `rest` (see module docstring).

    all_bones: write every bone below the root bone (else the animated bones and their ancestors).
    rotation_order: Euler order of the rotation channels, e.g. "ZXY" means Zrotation Xrotation Yrotation.
    scale: multiplies all lengths (e.g. 100 for centimetres). y_up: convert to Y up (else keep Z up).
    """
    return "".join(
        bvh_pieces(rest, anim, all_bones=all_bones, rotation_order=rotation_order, scale=scale, y_up=y_up)
    )


def bvh_pieces(
    rest: RestSkeleton,
    anim: BoneAnimation,
    *,
    all_bones: bool = False,
    rotation_order: str = "ZXY",
    scale: float = 1.0,
    y_up: bool = True,
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
    children = {i: [c for c in sorted(keep) if rest.parents[c] == i] for i in keep}
    order_list: list[int] = []
    heads = rest.heads
    lines = ["HIERARCHY"]
    rot_channels = " ".join(f"{a}rotation" for a in order)

    def emit(i: int, depth: int) -> None:
        pad = "\t" * depth
        p = rest.parents[i]
        offset = conv @ (heads[i] - (heads[p] if p >= 0 and i != roots[0] else 0.0)) * scale
        kind = "ROOT" if i == roots[0] else "JOINT"
        lines.append(f"{pad}{kind} {_bvh_name(rest.names[i])}")
        lines.append(f"{pad}{{")
        lines.append(f"{pad}\tOFFSET {offset[0]:.6f} {offset[1]:.6f} {offset[2]:.6f}")
        if i == roots[0]:
            lines.append(f"{pad}\tCHANNELS 6 Xposition Yposition Zposition {rot_channels}")
        else:
            lines.append(f"{pad}\tCHANNELS 3 {rot_channels}")
        order_list.append(i)
        for c in children[i]:
            emit(c, depth + 1)
        if not children[i]:
            end = conv @ (rest.tails[i] - heads[i]) * scale
            lines.append(f"{pad}\tEnd Site")
            lines.append(f"{pad}\t{{")
            lines.append(f"{pad}\t\tOFFSET {end[0]:.6f} {end[1]:.6f} {end[2]:.6f}")
            lines.append(f"{pad}\t}}")
        lines.append(f"{pad}}}")

    emit(roots[0], 0)
    lines += ["MOTION", f"Frames: {anim.num_frames}", f"Frame Time: {1.0 / anim.fps:.8f}"]
    return _pieces("\n".join(lines) + "\n", rest, anim, order_list, roots[0], conv, order, scale)


def _pieces(
    header: str,
    rest: RestSkeleton,
    anim: BoneAnimation,
    order_list: list[int],
    root: int,
    conv: FloatArray,
    order: str,
    scale: float,
) -> Iterator[str]:
    yield header
    for a in range(0, anim.num_frames, CHUNK_FRAMES):
        part = BoneAnimation(
            bone_names=anim.bone_names,
            rotations=anim.rotations[a : a + CHUNK_FRAMES],
            root_bone=anim.root_bone,
            root_location=anim.root_location[a : a + CHUNK_FRAMES],
            fps=anim.fps,
        )
        pose = pose_matrices(rest, part)
        t = part.num_frames
        delta = pose[:, :, :3, :3] @ np.swapaxes(rest.rotations, -1, -2)[None]
        cols = [(pose[:, root, :3, 3] @ conv.T) * scale]
        for i in order_list:
            p = rest.parents[i]
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
