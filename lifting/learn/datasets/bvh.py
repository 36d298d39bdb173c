"""A general BVH reader: any hierarchy, each joint's declared channels in declared order, vectorised
forward kinematics in numpy.

Conventions (as Blender's importer reads them):
- A joint's local transform is Translation(t) @ R, where t is its OFFSET with any position channels
  replacing the matching components, and R is the product of its rotation channels in the order listed
  (channels "Zrotation Xrotation Yrotation" give R = Rz @ Rx @ Ry), angles in degrees.
- World rotation W_j = W_parent @ R_j; position p_j = p_parent + W_parent @ t_j.
- End Sites become extra joints named `<parent>_end` (no channels), flagged in `is_end_site`.
Positions come out in the file's units times `scale` (e.g. 0.01 for centimetres, 0.0254 for inches).
Malformed files raise MocapError with one sentence naming the file and the problem.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from lifting.errors import MocapError

FloatArray = npt.NDArray[np.float64]

CHANNEL_NAMES = ("Xposition", "Yposition", "Zposition", "Xrotation", "Yrotation", "Zrotation")
_CANON = {c.lower(): c for c in CHANNEL_NAMES}


@dataclass(frozen=True)
class BvhJoint:
    """One joint: parent index (-1 for a root), OFFSET (3,), channels in file order, End Site flag."""

    name: str
    parent: int
    offset: tuple[float, float, float]
    channels: tuple[str, ...]
    is_end_site: bool = False


@dataclass(frozen=True)
class BvhMotion:
    """A parsed BVH file: joints (parents before children), frame time (s) and channel values (T, C)."""

    joints: tuple[BvhJoint, ...]
    frame_time: float
    values: FloatArray
    source: str = "<string>"

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time

    @property
    def num_frames(self) -> int:
        return int(self.values.shape[0])

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(j.name for j in self.joints)

    @property
    def parents(self) -> tuple[int, ...]:
        return tuple(j.parent for j in self.joints)

    @property
    def offsets(self) -> FloatArray:
        return np.array([j.offset for j in self.joints], dtype=np.float64).reshape(-1, 3)

    def channel_columns(self) -> list[list[int]]:
        """Per joint, the column indices of its channels in `values`."""
        cols, k = [], 0
        for j in self.joints:
            cols.append(list(range(k, k + len(j.channels))))
            k += len(j.channels)
        return cols

    def local_transforms(self) -> tuple[FloatArray, FloatArray]:
        """Local rotations (T, J, 3, 3) and translations (T, J, 3) in file units."""
        t = self.num_frames
        n = len(self.joints)
        rot = np.broadcast_to(np.eye(3), (t, n, 3, 3)).copy()
        trans = np.broadcast_to(self.offsets, (t, n, 3)).copy()
        for ji, (joint, cols) in enumerate(zip(self.joints, self.channel_columns(), strict=True)):
            r = None
            for name, c in zip(joint.channels, cols, strict=True):
                axis = "XYZ".index(name[0])
                if name.endswith("position"):
                    trans[:, ji, axis] = self.values[:, c]
                else:
                    m = _axis_rotation(axis, np.radians(self.values[:, c]))
                    r = m if r is None else r @ m
            if r is not None:
                rot[:, ji] = r
        return rot, trans

    def forward_kinematics(self, scale: float = 1.0) -> tuple[FloatArray, FloatArray]:
        """World positions (T, J, 3) (file units x scale) and world rotations (T, J, 3, 3) of all joints."""
        rot, trans = self.local_transforms()
        world_r = np.empty_like(rot)
        pos = np.empty_like(trans)
        for ji, joint in enumerate(self.joints):
            p = joint.parent
            if p < 0:
                world_r[:, ji] = rot[:, ji]
                pos[:, ji] = trans[:, ji]
            else:
                world_r[:, ji] = world_r[:, p] @ rot[:, ji]
                pos[:, ji] = pos[:, p] + np.einsum("tij,tj->ti", world_r[:, p], trans[:, ji])
        return pos * scale, world_r

    def positions(self, scale: float = 1.0, include_end_sites: bool = True) -> FloatArray:
        """Joint positions (T, J, 3) in metres when `scale` converts the file's unit to metres."""
        pos, _ = self.forward_kinematics(scale)
        if include_end_sites:
            return pos
        keep = [i for i, j in enumerate(self.joints) if not j.is_end_site]
        return pos[:, keep]


def _axis_rotation(axis: int, angle: FloatArray) -> FloatArray:
    c, s = np.cos(angle), np.sin(angle)
    m = np.zeros((*angle.shape, 3, 3))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    m[..., axis, axis] = 1.0
    m[..., i, i] = c
    m[..., j, j] = c
    m[..., i, j] = -s
    m[..., j, i] = s
    return m


def parse_bvh(text: str, source: str = "<string>") -> BvhMotion:
    """Parse BVH text; raises MocapError naming `source` and the problem."""

    def fail(msg: str) -> MocapError:
        return MocapError(f"{source} is not a valid BVH file: {msg}.")

    toks: list[tuple[int, str]] = [(n + 1, t) for n, ln in enumerate(text.splitlines()) for t in ln.split()]
    if not toks or toks[0][1].upper() != "HIERARCHY":
        raise fail("it does not start with HIERARCHY")
    joints: list[BvhJoint] = []
    offsets: dict[int, tuple[float, float, float]] = {}
    channels: dict[int, tuple[str, ...]] = {}
    stack: list[int] = []  # joints whose { ... } block is open
    k = 1

    def take(expected: str | None = None) -> tuple[int, str]:
        nonlocal k
        if k >= len(toks):
            raise fail("it ends inside the HIERARCHY")
        lineno, tok = toks[k]
        if expected is not None and tok.upper() != expected.upper():
            raise fail(f"expected {expected!r} on line {lineno}, found {tok!r}")
        k += 1
        return lineno, tok

    while True:
        lineno, tok = take()
        word = tok.upper()
        if word == "MOTION":
            if stack:
                raise fail("the HIERARCHY has unclosed braces")
            break
        if word in ("ROOT", "JOINT", "END"):
            if word == "ROOT" and stack:
                raise fail(f"ROOT inside another joint on line {lineno}")
            if word != "ROOT" and not stack:
                raise fail(f"{tok} outside any joint on line {lineno}")
            parent = stack[-1] if stack else -1
            if word == "END":
                take("Site")
                name = f"{joints[parent].name}_end"
            else:
                name = take()[1]
                if name == "{":
                    raise fail(f"joint without a name on line {lineno}")
            take("{")
            joints.append(BvhJoint(name, parent, (0.0, 0.0, 0.0), (), word == "END"))
            stack.append(len(joints) - 1)
        elif tok == "}":
            if not stack:
                raise fail(f"unbalanced '}}' on line {lineno}")
            stack.pop()
        elif word == "OFFSET":
            if not stack:
                raise fail(f"OFFSET outside a joint on line {lineno}")
            try:
                offsets[stack[-1]] = (float(take()[1]), float(take()[1]), float(take()[1]))
            except ValueError:
                raise fail(f"non-numeric OFFSET on line {lineno}") from None
        elif word == "CHANNELS":
            if not stack or joints[stack[-1]].is_end_site:
                raise fail(f"CHANNELS outside a joint on line {lineno}")
            try:
                count = int(take()[1])
            except ValueError:
                raise fail(f"bad CHANNELS count on line {lineno}") from None
            canon = []
            for _ in range(count):
                c = take()[1]
                if c.lower() not in _CANON:
                    raise fail(
                        f"unknown channel {c!r} on line {lineno} (or fewer than {count} channels listed)"
                    )
                canon.append(_CANON[c.lower()])
            channels[stack[-1]] = tuple(canon)
        else:
            raise fail(f"unexpected {tok!r} on line {lineno}")
    if not joints:
        raise fail("the HIERARCHY defines no joints")
    motion_at = k
    joints = [
        BvhJoint(j.name, j.parent, offsets.get(i, (0.0, 0.0, 0.0)), channels.get(i, ()), j.is_end_site)
        for i, j in enumerate(joints)
    ]
    names_seen = [j.name for j in joints]
    if len(set(names_seen)) != len(names_seen):
        dup = next(n for n in names_seen if names_seen.count(n) > 1)
        raise fail(f"joint name {dup!r} appears twice")

    # MOTION: "Frames: N", "Frame Time: dt", then N rows of values.
    rest_tokens = [t for _, t in toks[motion_at:]]
    try:
        if rest_tokens[0].lower() != "frames:":
            raise ValueError
        n_frames = int(rest_tokens[1])
        if [t.lower() for t in rest_tokens[2:4]] != ["frame", "time:"]:
            raise ValueError
        frame_time = float(rest_tokens[4])
    except (IndexError, ValueError):
        raise fail("the MOTION section must start with 'Frames: N' and 'Frame Time: seconds'") from None
    if n_frames < 0 or not np.isfinite(frame_time) or frame_time <= 0:
        raise fail(f"Frames must be >= 0 and Frame Time positive (got {n_frames}, {frame_time})")
    n_channels = sum(len(j.channels) for j in joints)
    data = rest_tokens[5:]
    if len(data) != n_frames * n_channels:
        raise fail(f"it declares {n_frames} frames of {n_channels} channels but holds {len(data)} values")
    try:
        values = np.array(data, dtype=np.float64).reshape(n_frames, n_channels)
    except ValueError:
        raise fail("the MOTION section contains a non-numeric value") from None
    if not np.all(np.isfinite(values)):
        raise fail("the MOTION section contains NaN or infinite values")
    return BvhMotion(tuple(joints), frame_time, values, source)


def read_bvh(path: str | os.PathLike[str]) -> BvhMotion:
    """Read and parse a BVH file (UTF-8 or Latin-1 text)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise MocapError(f"cannot read BVH file {str(p)!r} ({exc.strerror or exc}).") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return parse_bvh(text, source=repr(str(p)))
