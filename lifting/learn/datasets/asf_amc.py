"""Acclaim ASF/AMC motion capture (CMU Graphics Lab, HDM05): parsing and vectorised forward kinematics.

ASF (skeleton) conventions, as in the Acclaim format and the CMU/HDM05 files:

- Every bone has a `direction` (unit vector, **world axes of the rest pose**), a `length`, an `axis` (three
  angles and an order such as `XYZ`) that gives the bone's local frame C, and a list of `dof` (rx ry rz,
  tx ty tz, l). At rest (all dofs zero) the skeleton is the chain of `direction * length` vectors.
- CMU/HDM05 skeletons: Y up, the subject faces +Z at rest, its left side is +X (`l…` bones point to +X).
- `:units` `length 0.45` means one file unit is 1 / 0.45 inch (about 5.64 cm); `angle deg|rad`.

AMC (motion): one block per frame, a frame number followed by one line per bone with that bone's dof values in
the order its ASF `dof` line lists them; the root line follows the ASF root `order` (e.g. TX TY TZ RX RY RZ).

Forward kinematics (what Acclaim, CMU's and Barbic's readers do): with C_b the rotation of the bone's `axis`
(angles applied in the listed order, first listed innermost: `XYZ` gives C = Rz·Ry·Rx) and M_b the rotation of
its dof values (likewise in the listed order), the bone's rotation relative to the rest pose, in world axes, is
`W_b = W_parent · C_b · M_b · C_b⁻¹`, and the bone's end point is `end_parent + length_b · W_b · direction_b`.
W_root = C_root · M_root · C_root⁻¹ with C_root from the root `orientation` and `axis`; the root's "end" is its
translated position. Returned positions are bone *end* points (a bone starts at its parent's end); W is
identity at rest, so a point fixed to bone b with rest position x_rest moves to
`end_parent + W_b · (x_rest - rest_end_parent)`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from lifting.errors import MocapError

FloatArray = npt.NDArray[np.float64]

INCH = 0.0254  # metres

_ROT_DOFS = ("rx", "ry", "rz")
_TRANS_DOFS = ("tx", "ty", "tz")
_KNOWN_DOFS = (*_ROT_DOFS, *_TRANS_DOFS, "l")


@dataclass(frozen=True)
class AsfBone:
    """One ASF bone. direction: (3,) unit vector in rest world axes; length in file units; axis: (3,) angles in
    the file's angle unit, applied in `axis_order` (e.g. "XYZ"); dofs: lower-case dof names in file order."""

    name: str
    direction: tuple[float, float, float]
    length: float
    axis: tuple[float, float, float]
    axis_order: str
    dofs: tuple[str, ...]


@dataclass(frozen=True)
class AsfSkeleton:
    """A parsed ASF skeleton. `names[0]` is "root"; `parents[i]` indexes `names` (-1 for the root) and every
    parent comes before its children; `bones[i - 1]` describes `names[i]` for i >= 1.

    length_unit: the `:units length` value (one file unit is 1 / length_unit inch, see `metres_per_unit`);
    angle_unit: "deg" or "rad"; root_order: the root's AMC channel order (upper case, e.g. TX TY TZ RX RY RZ);
    root_axis: order of the root's rotation angles; root_position / root_orientation: rest root placement.
    """

    name: str
    length_unit: float
    angle_unit: Literal["deg", "rad"]
    root_order: tuple[str, ...]
    root_axis: str
    root_position: tuple[float, float, float]
    root_orientation: tuple[float, float, float]
    names: tuple[str, ...]
    parents: tuple[int, ...]
    bones: tuple[AsfBone, ...]

    @property
    def metres_per_unit(self) -> float:
        """Metres per file length unit: `length 0.45` (CMU, HDM05) means 1 unit = 1/0.45 inch = 0.05644 m."""
        return INCH / self.length_unit

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"skeleton {self.name!r} has no bone named {name!r}") from None

    def rest_ends(self) -> FloatArray:
        """(J, 3) bone end points at rest (file units, rest world axes); the root's is `root_position`."""
        out = np.zeros((len(self.names), 3))
        out[0] = self.root_position
        for i in range(1, len(self.names)):
            b = self.bones[i - 1]
            out[i] = out[self.parents[i]] + b.length * np.asarray(b.direction)
        return out


@dataclass(frozen=True)
class AmcMotion:
    """Parsed AMC values: `values[name]` is (T, len(dofs)) in file units/angle units, dofs in ASF order (the
    root's in `root_order`); bones missing from the file stay at rest (zeros). `angle_unit` is the AMC's own
    (":DEGREES" or ":RADIANS", degrees when unspecified)."""

    values: dict[str, FloatArray]
    num_frames: int
    angle_unit: Literal["deg", "rad"]


@dataclass(frozen=True)
class AsfPose:
    """Forward kinematics result, in ASF file units and rest world axes (Y up for CMU/HDM05).

    ends: (T, J, 3) bone end points (root: its position); rotations: (T, J, 3, 3) each bone's rotation relative
    to the rest pose, in world axes (identity at rest); names/parents as in the skeleton.
    """

    names: tuple[str, ...]
    parents: tuple[int, ...]
    ends: FloatArray
    rotations: FloatArray


# ---------------------------------------------------------------------------------------------------------
# Rotations
# ---------------------------------------------------------------------------------------------------------


def axis_rotation(axis: str, angle: npt.ArrayLike) -> FloatArray:
    """Rotation matrices (..., 3, 3) about the x, y or z axis by `angle` radians (right hand rule)."""
    a = np.asarray(angle, dtype=np.float64)
    c, s = np.cos(a), np.sin(a)
    one, zero = np.ones_like(a), np.zeros_like(a)
    ax = axis.lower()
    if ax == "x":
        rows = [[one, zero, zero], [zero, c, -s], [zero, s, c]]
    elif ax == "y":
        rows = [[c, zero, s], [zero, one, zero], [-s, zero, c]]
    elif ax == "z":
        rows = [[c, -s, zero], [s, c, zero], [zero, zero, one]]
    else:
        raise ValueError(f"axis must be x, y or z, got {axis!r}")
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


def euler_matrix(angles: npt.ArrayLike, order: str) -> FloatArray:
    """Compose rotations about fixed axes: angles (..., k) radians about `order` (k letters of x/y/z), the first
    listed applied first, i.e. R = R[order[-1]] ··· R[order[0]]. Returns (..., 3, 3)."""
    a = np.asarray(angles, dtype=np.float64)
    if a.shape[-1] != len(order):
        raise ValueError(f"{a.shape[-1]} angles for rotation order {order!r}")
    out = np.broadcast_to(np.eye(3), (*a.shape[:-1], 3, 3)).copy()
    for i, ax in enumerate(order):
        out = axis_rotation(ax, a[..., i]) @ out
    return out


# ---------------------------------------------------------------------------------------------------------
# ASF
# ---------------------------------------------------------------------------------------------------------


def _floats(tokens: list[str], n: int, what: str) -> tuple[float, ...]:
    if len(tokens) < n:
        raise MocapError(f"ASF {what} needs {n} numbers, got {' '.join(tokens)!r}.")
    try:
        return tuple(float(t) for t in tokens[:n])
    except ValueError:
        raise MocapError(f"ASF {what} is not numeric: {' '.join(tokens)!r}.") from None


def _sections(text: str) -> dict[str, list[list[str]]]:
    """Split ASF text into `:keyword` sections of tokenised lines (comments and blank lines dropped)."""
    sections: dict[str, list[list[str]]] = {}
    current: list[list[str]] | None = None
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith(":"):
            head = line[1:].split()
            current = sections.setdefault(head[0].lower(), [])
            if len(head) > 1:
                current.append(head[1:])
            continue
        if current is not None:
            current.append(line.split())
    return sections


def _parse_bone(lines: list[list[str]]) -> AsfBone:
    fields: dict[str, list[str]] = {}
    for toks in lines:
        key = toks[0].lower()
        if key == "limits" or key.startswith("("):
            continue
        fields[key] = toks[1:]
    if "name" not in fields or not fields["name"]:
        raise MocapError("ASF bone without a name.")
    name = fields["name"][0]
    direction = _floats(fields.get("direction", []), 3, f"direction of {name}")
    length = _floats(fields.get("length", []), 1, f"length of {name}")[0]
    axis_tokens = fields.get("axis", ["0", "0", "0", "XYZ"])
    axis = _floats(axis_tokens, 3, f"axis of {name}")
    order = axis_tokens[3].upper() if len(axis_tokens) > 3 else "XYZ"
    if sorted(order) != ["X", "Y", "Z"]:
        raise MocapError(f"ASF bone {name} has an invalid axis order {order!r}.")
    dofs = tuple(d.lower() for d in fields.get("dof", []))
    unknown = [d for d in dofs if d not in _KNOWN_DOFS]
    if unknown:
        raise MocapError(f"ASF bone {name} has an unknown dof {unknown[0]!r}.")
    n = math.sqrt(sum(d * d for d in direction))
    unit = (1.0, 0.0, 0.0) if n == 0 else (direction[0] / n, direction[1] / n, direction[2] / n)
    return AsfBone(name, unit, float(length), (axis[0], axis[1], axis[2]), order, dofs)


def parse_asf(text: str, name: str = "asf") -> AsfSkeleton:
    """Parse ASF text. Raises MocapError naming the problem when the file is not a usable ASF skeleton."""
    sec = _sections(text)
    if "bonedata" not in sec or "hierarchy" not in sec:
        raise MocapError(f"{name} is not an ASF skeleton (no :bonedata or :hierarchy section).")
    length_unit, angle_unit = 1.0, "deg"
    for toks in sec.get("units", []):
        if toks[0].lower() == "length" and len(toks) > 1:
            length_unit = float(toks[1])
        elif toks[0].lower() == "angle" and len(toks) > 1:
            angle_unit = "rad" if toks[1].lower().startswith("rad") else "deg"
    if not length_unit > 0:
        raise MocapError(f"{name}: ASF length unit must be positive, got {length_unit}.")
    root_fields = {t[0].lower(): t[1:] for t in sec.get("root", []) if t}
    root_order = tuple(t.upper() for t in root_fields.get("order", "TX TY TZ RX RY RZ".split()))
    root_axis = "".join(root_fields.get("axis", ["XYZ"])).upper()
    root_position = _floats(root_fields.get("position", ["0", "0", "0"]), 3, "root position")
    root_orientation = _floats(root_fields.get("orientation", ["0", "0", "0"]), 3, "root orientation")

    bones: dict[str, AsfBone] = {}
    block: list[list[str]] = []
    inside = False
    for toks in sec["bonedata"]:
        key = toks[0].lower()
        if key == "begin":
            inside, block = True, []
        elif key == "end":
            if not inside:
                raise MocapError(f"{name}: 'end' without 'begin' in :bonedata.")
            bone = _parse_bone(block)
            bones[bone.name] = bone
            inside = False
        elif inside:
            block.append(toks)

    children: dict[str, list[str]] = {}
    for toks in sec["hierarchy"]:
        if toks[0].lower() in ("begin", "end"):
            continue
        children.setdefault(toks[0], []).extend(toks[1:])
    names: list[str] = ["root"]
    parents: list[int] = [-1]
    ordered: list[AsfBone] = []
    queue = ["root"]
    while queue:
        parent = queue.pop(0)
        for child in children.get(parent, []):
            if child not in bones:
                raise MocapError(f"{name}: hierarchy names bone {child!r} that :bonedata does not define.")
            if child in names:
                raise MocapError(f"{name}: bone {child!r} appears twice in the hierarchy.")
            names.append(child)
            parents.append(names.index(parent))
            ordered.append(bones[child])
            queue.append(child)
    return AsfSkeleton(
        name=name,
        length_unit=length_unit,
        angle_unit="rad" if angle_unit == "rad" else "deg",
        root_order=root_order,
        root_axis=root_axis,
        root_position=(root_position[0], root_position[1], root_position[2]),
        root_orientation=(root_orientation[0], root_orientation[1], root_orientation[2]),
        names=tuple(names),
        parents=tuple(parents),
        bones=tuple(ordered),
    )


# ---------------------------------------------------------------------------------------------------------
# AMC
# ---------------------------------------------------------------------------------------------------------


def _dof_count(skeleton: AsfSkeleton, bone: str) -> int:
    if bone == "root":
        return len(skeleton.root_order)
    return len(skeleton.bones[skeleton.index(bone) - 1].dofs)


def parse_amc(text: str, skeleton: AsfSkeleton, name: str = "amc") -> AmcMotion:
    """Parse AMC text against its skeleton. Vectorised when every frame lists the same bones in the same order
    (always so in CMU/HDM05 files), line by line otherwise."""
    angle_unit: Literal["deg", "rad"] = "deg"
    body_lines: list[str] = []
    header = True
    for raw in text.splitlines():
        line = raw.strip()
        if header:
            if not line or line.startswith("#"):
                continue
            if line.startswith(":"):
                if line.upper().startswith(":RADIANS"):
                    angle_unit = "rad"
                continue
            header = False
        if line and not line.startswith("#"):
            body_lines.append(line)
    if not body_lines:
        raise MocapError(f"{name} holds no AMC frames.")
    # Layout of the first frame: bone names in order up to the next frame number.
    layout: list[str] = []
    if not body_lines[0].split()[0].isdigit():
        raise MocapError(f"{name}: AMC motion must start with a frame number, got {body_lines[0]!r}.")
    for line in body_lines[1:]:
        first = line.split()[0]
        if first.isdigit():
            break
        layout.append(first)
    for bone in layout:
        if bone != "root" and bone not in skeleton.names:
            raise MocapError(f"{name}: AMC bone {bone!r} is not in skeleton {skeleton.name!r}.")
    counts = [_dof_count(skeleton, b) for b in layout]
    period = 1 + sum(1 + c for c in counts)
    tokens = " ".join(body_lines).split()
    values: dict[str, FloatArray] = {}
    if len(tokens) % period == 0:
        grid = np.array(tokens, dtype=object).reshape(-1, period)
        col = 1
        ok = True
        name_cols: list[tuple[str, int, int]] = []
        for bone, c in zip(layout, counts, strict=True):
            if not np.all(grid[:, col] == bone):
                ok = False
                break
            name_cols.append((bone, col + 1, c))
            col += 1 + c
        if ok:
            try:
                for bone, start, c in name_cols:
                    values[bone] = grid[:, start : start + c].astype(np.float64)
            except ValueError:
                raise MocapError(f"{name}: non-numeric AMC value.") from None
            num = grid.shape[0]
            return _complete(values, skeleton, num, angle_unit)
    return _parse_amc_lines(body_lines, skeleton, name, angle_unit)


def _parse_amc_lines(
    lines: list[str], skeleton: AsfSkeleton, name: str, angle_unit: Literal["deg", "rad"]
) -> AmcMotion:
    frames: list[dict[str, list[float]]] = []
    for line in lines:
        toks = line.split()
        if toks[0].isdigit() and len(toks) == 1:
            frames.append({})
            continue
        if not frames:
            raise MocapError(f"{name}: AMC data before the first frame number.")
        try:
            frames[-1][toks[0]] = [float(t) for t in toks[1:]]
        except ValueError:
            raise MocapError(f"{name}: non-numeric AMC value in {line!r}.") from None
    num = len(frames)
    values: dict[str, FloatArray] = {}
    for bone in skeleton.names:
        c = _dof_count(skeleton, bone)
        arr = np.zeros((num, c))
        for t, fr in enumerate(frames):
            if bone in fr:
                if len(fr[bone]) != c:
                    raise MocapError(f"{name}: bone {bone} has {len(fr[bone])} values, the ASF declares {c}.")
                arr[t] = fr[bone]
        values[bone] = arr
    return AmcMotion(values, num, angle_unit)


def _complete(
    values: dict[str, FloatArray], skeleton: AsfSkeleton, num: int, angle_unit: Literal["deg", "rad"]
) -> AmcMotion:
    for bone in skeleton.names:
        if bone not in values:
            values[bone] = np.zeros((num, _dof_count(skeleton, bone)))
    return AmcMotion(values, num, angle_unit)


# ---------------------------------------------------------------------------------------------------------
# Forward kinematics
# ---------------------------------------------------------------------------------------------------------


def _to_rad(values: FloatArray, unit: str) -> FloatArray:
    return np.deg2rad(values) if unit == "deg" else values


def forward_kinematics(skeleton: AsfSkeleton, motion: AmcMotion) -> AsfPose:
    """Bone end points and rest-relative rotations for every frame (see the module docstring).

    Translation dofs (tx ty tz) of non-root bones are added along the world axes of the bone frame C·M; a
    length dof `l` stretches the bone. Units: file units (multiply by `skeleton.metres_per_unit`).
    """
    num = motion.num_frames
    joints = len(skeleton.names)
    ends = np.zeros((num, joints, 3))
    rots = np.zeros((num, joints, 3, 3))
    unit = motion.angle_unit

    root = motion.values["root"]
    order = skeleton.root_order
    trans = np.zeros((num, 3))
    rot_angles: list[FloatArray] = []
    rot_axes = ""
    for i, ch in enumerate(order):
        ch_l = ch.lower()
        if ch_l in _TRANS_DOFS:
            trans[:, _TRANS_DOFS.index(ch_l)] = root[:, i]
        elif ch_l in _ROT_DOFS:
            rot_angles.append(root[:, i])
            rot_axes += ch_l[1]
        else:
            raise MocapError(f"ASF root order has an unknown channel {ch!r}.")
    asf_scale = math.pi / 180.0 if skeleton.angle_unit == "deg" else 1.0
    c_root = euler_matrix(np.asarray(skeleton.root_orientation) * asf_scale, skeleton.root_axis.lower())
    m_root = (
        euler_matrix(_to_rad(np.stack(rot_angles, axis=-1), unit), rot_axes)
        if rot_axes
        else np.broadcast_to(np.eye(3), (num, 3, 3))
    )
    rots[:, 0] = c_root @ m_root @ c_root.T
    ends[:, 0] = np.asarray(skeleton.root_position) + trans

    for j in range(1, joints):
        bone = skeleton.bones[j - 1]
        p = skeleton.parents[j]
        vals = motion.values[bone.name]
        c = euler_matrix(np.asarray(bone.axis) * asf_scale, bone.axis_order.lower())
        axes = "".join(d[1] for d in bone.dofs if d in _ROT_DOFS)
        if axes:
            cols = [i for i, d in enumerate(bone.dofs) if d in _ROT_DOFS]
            m = euler_matrix(_to_rad(vals[:, cols], unit), axes)
            local = c @ m @ c.T
        else:
            local = np.broadcast_to(np.eye(3), (num, 3, 3))
        rots[:, j] = rots[:, p] @ local
        length = np.full(num, bone.length)
        if "l" in bone.dofs:
            length = length + vals[:, bone.dofs.index("l")]
        offset = length[:, None] * (rots[:, j] @ np.asarray(bone.direction))
        tcols = [(i, _TRANS_DOFS.index(d)) for i, d in enumerate(bone.dofs) if d in _TRANS_DOFS]
        if tcols:
            t_local = np.zeros((num, 3))
            for i, k in tcols:
                t_local[:, k] = vals[:, i]
            offset = offset + np.einsum("tij,tj->ti", rots[:, p] @ c, t_local)
        ends[:, j] = ends[:, p] + offset
    return AsfPose(skeleton.names, skeleton.parents, ends, rots)
