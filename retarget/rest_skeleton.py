"""A target armature at rest, in Blender's conventions, independent of bpy.

Armature space is the armature object's local space (Z up in Blender). Each bone has a rest matrix
`matrix` (4 x 4), which is Blender's `Bone.matrix_local`: its columns are the bone's X, Y, Z axes and its
head position; Y runs from head to tail, and the roll turns X and Z about Y. `bone_matrix` reproduces
Blender's `vec_roll_to_mat3` (edit-bone head, tail, roll -> matrix) and `matrix_roll` its inverse.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from retarget.errors import RetargetError
from retarget.rotations import orthonormalize

FloatArray = npt.NDArray[np.float64]

_SAFE_THRESHOLD = 6.1e-3
_CRITICAL_THRESHOLD = 2.5e-4


def _rotation_y_to(nor: FloatArray) -> FloatArray:
    """Blender's minimal rotation (3, 3) taking +Y onto the unit vector `nor` (vec_roll_to_mat3, roll 0)."""
    x, y, z = float(nor[0]), float(nor[1]), float(nor[2])
    theta = 1.0 + y
    theta_alt = x * x + z * z
    if theta > _SAFE_THRESHOLD or theta_alt > _CRITICAL_THRESHOLD**2:
        if theta <= _SAFE_THRESHOLD:
            theta = theta_alt * 0.5 + theta_alt * theta_alt * 0.125
        # Rows of the numpy matrix (Blender stores the transpose, column-major).
        return np.array(
            [
                [1.0 - x * x / theta, x, -x * z / theta],
                [-x, y, -z],
                [-x * z / theta, z, 1.0 - z * z / theta],
            ]
        )
    return np.array([[-1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]])


def _rot_y(roll: float) -> FloatArray:
    c, s = np.cos(roll), np.sin(roll)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def bone_matrix(head: npt.ArrayLike, tail: npt.ArrayLike, roll: float) -> FloatArray:
    """Rest matrix (4, 4) of a bone from edit-bone head, tail (3,) and roll (radians), as Blender builds it."""
    h = np.asarray(head, dtype=np.float64)
    v = np.asarray(tail, dtype=np.float64) - h
    n = np.linalg.norm(v)
    if n < 1e-9:
        raise RetargetError("a bone has zero length (head equals tail); fix the armature.")
    m = np.eye(4)
    m[:3, :3] = _rotation_y_to(v / n) @ _rot_y(roll)
    m[:3, 3] = h
    return m


def matrix_roll(matrix: npt.ArrayLike) -> float:
    """Roll (radians) of a rest matrix (3, 3) or (4, 4): the inverse of `bone_matrix` for the rotation."""
    m = np.asarray(matrix, dtype=np.float64)[:3, :3]
    r = _rotation_y_to(m[:, 1] / np.linalg.norm(m[:, 1])).T @ m
    return float(np.arctan2(r[0, 2], r[0, 0]))


@dataclass(frozen=True)
class RestSkeleton:
    """Bones of an armature at rest, parents before children.

    names (B,), parents (B,) with -1 for roots, matrices (B, 4, 4) float64 = Blender `Bone.matrix_local`
    (armature space, units of the armature, rotation part orthonormal), lengths (B,) head-to-tail lengths.
    """

    names: tuple[str, ...]
    parents: tuple[int, ...]
    matrices: FloatArray
    lengths: FloatArray
    index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        mats = np.asarray(self.matrices, dtype=np.float64)
        lengths = np.asarray(self.lengths, dtype=np.float64).reshape(-1)
        b = len(self.names)
        if mats.shape != (b, 4, 4) or lengths.shape != (b,) or len(self.parents) != b:
            raise RetargetError(f"rest skeleton sizes disagree: {b} names, matrices {mats.shape}.")
        if len(set(self.names)) != b:
            raise RetargetError("bone names in an armature must be unique.")
        for i, p in enumerate(self.parents):
            if p >= i:
                raise RetargetError(f"bone {self.names[i]!r} must come after its parent (use from_bones).")
        if not np.all(np.isfinite(mats)) or np.any(lengths <= 0):
            raise RetargetError("rest skeleton has invalid matrices or non-positive bone lengths.")
        rot = mats[:, :3, :3]
        err = np.abs(rot @ np.swapaxes(rot, 1, 2) - np.eye(3)).max() if b else 0.0
        if err > 1e-4:
            raise RetargetError("rest bone matrices must be rotations (the armature has scaled bones).")
        if b:
            mats = mats.copy()
            mats[:, :3, :3] = orthonormalize(rot)  # float32 / rounded input: exact rotations from here on
        object.__setattr__(self, "matrices", mats)
        object.__setattr__(self, "lengths", lengths)
        object.__setattr__(self, "parents", tuple(int(p) for p in self.parents))
        object.__setattr__(self, "names", tuple(self.names))
        object.__setattr__(self, "index", {n: i for i, n in enumerate(self.names)})

    @property
    def num_bones(self) -> int:
        return len(self.names)

    @property
    def heads(self) -> FloatArray:
        """(B, 3) head positions in armature space."""
        return self.matrices[:, :3, 3].copy()

    @property
    def tails(self) -> FloatArray:
        """(B, 3) tail positions: head + Y axis * length."""
        return self.matrices[:, :3, 3] + self.matrices[:, :3, 1] * self.lengths[:, None]

    @property
    def rotations(self) -> FloatArray:
        """(B, 3, 3) rest rotations (armature space)."""
        return self.matrices[:, :3, :3].copy()

    def rolls(self) -> FloatArray:
        """(B,) Blender rolls in radians."""
        return np.array([matrix_roll(m) for m in self.matrices])

    def bone(self, name: str) -> int:
        """Index of a bone; a RetargetError names an unknown one."""
        try:
            return self.index[name]
        except KeyError:
            raise RetargetError(f"the armature has no bone named {name!r}.") from None

    def children(self, i: int) -> list[int]:
        return [c for c, p in enumerate(self.parents) if p == i]

    def ancestors(self, i: int) -> list[int]:
        """Indices from the parent of bone i up to its root."""
        out = []
        p = self.parents[i]
        while p >= 0:
            out.append(p)
            p = self.parents[p]
        return out

    def point(self, bone: str, along: float) -> FloatArray:
        """Rest position (3,) of the point a fraction `along` from head (0) to tail (1) of a bone."""
        i = self.bone(bone)
        return np.asarray(
            self.matrices[i, :3, 3] + self.matrices[i, :3, 1] * self.lengths[i] * along, dtype=np.float64
        )

    def reduced(self, keep: Collection[str]) -> RestSkeleton:
        """The bones named in `keep` only (e.g. an armature's deform bones), each parented to its nearest kept
        ancestor, as one tree. Where that leaves several roots, the one with the most kept bones below it stays
        the root and the others, one at a time, hang from the kept bone closest to their head (distance to its
        head-tail segment): a generated Rigify rig's DEF- shoulders from the chest, its thighs from the hips."""
        missing = sorted(set(keep) - set(self.names))
        if missing:
            raise RetargetError(f"the armature has no bone named {missing[0]!r}.")
        kept = [i for i in range(self.num_bones) if self.names[i] in keep]
        if not kept:
            raise RetargetError("no bones to keep.")
        kept_set = set(kept)
        parent: dict[int, int] = {}
        for i in kept:
            p = self.parents[i]
            while p >= 0 and p not in kept_set:
                p = self.parents[p]
            parent[i] = p

        def top(i: int) -> int:
            while parent[i] >= 0:
                i = parent[i]
            return i

        tops = [top(i) for i in kept]
        roots = [i for i in kept if parent[i] < 0]
        main = max(roots, key=lambda r: tops.count(r))  # the first of equals
        tree = {i for i, t in zip(kept, tops, strict=True) if t == main}
        pending = [r for r in roots if r != main]
        heads, tails = self.heads, self.tails
        while pending:
            members = sorted(tree)
            a, b = heads[members], tails[members]
            ab = b - a
            best: tuple[float, int, int] | None = None
            for r in pending:
                t = np.clip(
                    np.sum((heads[r] - a) * ab, axis=1) / np.maximum(np.sum(ab * ab, axis=1), 1e-12), 0, 1
                )
                dist = np.linalg.norm(a + t[:, None] * ab - heads[r], axis=1)
                k = int(np.argmin(dist))
                if best is None or dist[k] < best[0] - 1e-9:
                    best = (float(dist[k]), r, members[k])
            assert best is not None
            _, r, host = best
            parent[r] = host
            tree.update(i for i, t in zip(kept, tops, strict=True) if t == r)
            pending.remove(r)
        names = [self.names[i] for i in kept]
        parents = [None if parent[i] < 0 else self.names[parent[i]] for i in kept]
        return RestSkeleton.from_bones(names, parents, self.matrices[kept], self.lengths[kept])

    @classmethod
    def from_bones(
        cls,
        names: list[str] | tuple[str, ...],
        parents: list[str | None] | tuple[str | None, ...],
        matrices: npt.ArrayLike,
        lengths: npt.ArrayLike,
    ) -> RestSkeleton:
        """Build from bones in any order, parents given by name (None for a root); sorts parents first."""
        mats = np.asarray(matrices, dtype=np.float64)
        lens = np.asarray(lengths, dtype=np.float64)
        pos = {n: i for i, n in enumerate(names)}
        for n, p in zip(names, parents, strict=True):
            if p is not None and p not in pos:
                raise RetargetError(f"bone {n!r} has unknown parent {p!r}.")
        order: list[int] = []
        placed: set[str] = set()
        pending = list(range(len(names)))
        while pending:
            rest = []
            for i in pending:
                p = parents[i]
                if p is None or p in placed:
                    order.append(i)
                    placed.add(names[i])
                else:
                    rest.append(i)
            if len(rest) == len(pending):
                raise RetargetError("the armature's parent links form a cycle.")
            pending = rest
        new_index = {names[i]: k for k, i in enumerate(order)}
        new_parents = tuple(-1 if parents[i] is None else new_index[str(parents[i])] for i in order)
        return cls(tuple(names[i] for i in order), new_parents, mats[order], lens[order])

    @classmethod
    def from_head_tail_roll(
        cls,
        names: list[str] | tuple[str, ...],
        parents: list[str | None] | tuple[str | None, ...],
        heads: npt.ArrayLike,
        tails: npt.ArrayLike,
        rolls: npt.ArrayLike,
    ) -> RestSkeleton:
        """Build from edit-bone data: heads (B, 3), tails (B, 3), rolls (B,) radians, in armature space."""
        h = np.asarray(heads, dtype=np.float64)
        t = np.asarray(tails, dtype=np.float64)
        r = np.asarray(rolls, dtype=np.float64)
        mats = np.stack([bone_matrix(h[i], t[i], float(r[i])) for i in range(len(names))])
        return cls.from_bones(names, parents, mats, np.linalg.norm(t - h, axis=1))

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable description (heads, tails, rolls and matrices, armature space)."""
        return {
            "bones": [
                {
                    "name": n,
                    "parent": None if p < 0 else self.names[p],
                    "head": [float(v) for v in self.matrices[i, :3, 3]],
                    "tail": [float(v) for v in self.tails[i]],
                    "roll": matrix_roll(self.matrices[i]),
                    "matrix": [[float(v) for v in row] for row in self.matrices[i]],
                }
                for i, (n, p) in enumerate(zip(self.names, self.parents, strict=True))
            ]
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RestSkeleton:
        """Inverse of to_dict; uses `matrix` when present, otherwise head/tail/roll."""
        try:
            bones = data["bones"]
            names = [str(b["name"]) for b in bones]
            parents = [None if b.get("parent") is None else str(b["parent"]) for b in bones]
            heads = np.array([b["head"] for b in bones], dtype=np.float64)
            tails = np.array([b["tail"] for b in bones], dtype=np.float64)
            if all("matrix" in b for b in bones):
                mats = np.array([b["matrix"] for b in bones], dtype=np.float64)
                return cls.from_bones(names, parents, mats, np.linalg.norm(tails - heads, axis=1))
            rolls = np.array([b.get("roll", 0.0) for b in bones], dtype=np.float64)
        except (KeyError, TypeError, ValueError) as exc:
            raise RetargetError(f"rest skeleton description is malformed ({exc}).") from None
        return cls.from_head_tail_roll(names, parents, heads, tails, rolls)

    @classmethod
    def load_json(cls, path: str | os.PathLike[str]) -> RestSkeleton:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RetargetError(f"cannot read rest skeleton {str(path)!r} ({exc}).") from None
        return cls.from_dict(data)
