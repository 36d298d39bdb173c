"""Which target bone follows which of our joints, and where our joints sit on the target rig at rest.

A `BoneMap` is concrete (real bone names of one armature). Presets (`retarget.presets`) are data-only
templates with alternative names; `resolve_preset` turns one into a BoneMap for a given armature, and the
add-on can edit the result and store it as JSON (`to_dict` / `from_dict`).

- `drive[joint] = bone`: the bone that starts at `joint` and is rotated to follow the segment from `joint`
  to the end joint of its rule (retarget.mocap21.RULES). Bones between driven bones are keyed at rest.
- `sites[joint]`: where the joint sits on the rest armature: a point `along` a bone (0 head, 1 tail) plus an
  `offset` in the body's rest frame (left, forward, up) in units of the rest pelvis-to-neck distance.
  Joints that drive a bone default to that bone's head.
- `root`: the bone whose location carries the root trajectory; its ancestors stay at rest.
- `fingers[f"{side}_{finger}"] = (bone1, bone2, bone3)`: a finger's three bones from the hand outwards (side
  `l`/`r`, finger one of `retarget.hand_model.FINGERS`), turned by `Motion3D.fingers` (`retarget.solve`). Optional:
  a preset's finger whose bones the armature lacks is left out, and rigs without finger bones are unaffected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from retarget import mocap21
from retarget.errors import RetargetError
from retarget.hand_model import FINGERS
from retarget.rest_skeleton import RestSkeleton
from retarget.rotations import normalize

FloatArray = npt.NDArray[np.float64]

# Where the nose is relative to the head bone's head, in (left, forward, up) x pelvis-to-neck distance.
DEFAULT_NOSE_OFFSET = (0.0, 0.19, 0.12)


@dataclass(frozen=True)
class JointSite:
    """A point on the rest armature: `along` bone `bone` (0 head .. 1 tail) plus a body-frame `offset`."""

    bone: str
    along: float = 0.0
    offset: tuple[float, float, float] = (0.0, 0.0, 0.0)


@dataclass(frozen=True)
class BoneMap:
    """Concrete mapping from our joints to one armature's bones (see module docstring)."""

    preset: str
    root: str
    drive: dict[str, str]
    sites: dict[str, JointSite] = field(default_factory=dict)
    fingers: dict[str, tuple[str, str, str]] = field(default_factory=dict)

    def site(self, joint: str) -> JointSite:
        if joint in self.sites:
            return self.sites[joint]
        if joint in self.drive:
            return JointSite(self.drive[joint])
        raise RetargetError(f"the bone mapping does not say where joint {joint!r} is on the rig.")

    def joints_needed(self) -> list[str]:
        """Our joints the driven bones' rules use, plus the body-frame joints, in mocap21 order."""
        need = set(mocap21.BODY_FRAME)
        for j in self.drive:
            rule = mocap21.RULES[j]
            need.update((j, rule.end))
            sec = rule.secondary
            need.update(
                (sec.start, sec.end) if isinstance(sec, mocap21.Line) else (sec.upper, sec.middle, sec.lower)
            )
        return [n for n in mocap21.NAMES if n in need]

    def validate(self, rest: RestSkeleton) -> None:
        """Raise RetargetError if a named bone is missing or the root would be moved by a driven ancestor."""
        for j, b in self.drive.items():
            if j not in mocap21.RULES:
                raise RetargetError(f"joint {j!r} cannot drive a bone (it has no segment rule).")
            rest.bone(b)
        for j in self.joints_needed():
            rest.bone(self.site(j).bone)
        root = rest.bone(self.root)
        driven = {rest.bone(b) for b in self.drive.values()}
        if driven & set(rest.ancestors(root)):
            raise RetargetError(f"root bone {self.root!r} must not have a driven bone above it.")
        for j, b in self.drive.items():
            i = rest.bone(b)
            if i != root and root not in rest.ancestors(i):
                raise RetargetError(f"bone {b!r} (joint {j!r}) is not below the root bone {self.root!r}.")
        if len(set(self.drive.values())) != len(self.drive):
            raise RetargetError("two joints drive the same bone; each bone can follow one segment.")
        finger_bones = [b for bones in self.fingers.values() for b in bones]
        for key, bones in self.fingers.items():
            side, _, finger = key.partition("_")
            if side not in ("l", "r") or finger not in FINGERS or len(bones) != 3:
                raise RetargetError(
                    f"finger {key!r} must be l_/r_ and one of {', '.join(FINGERS)}, with 3 bones."
                )
            for b in bones:
                i = rest.bone(b)
                if root not in rest.ancestors(i):
                    raise RetargetError(f"finger bone {b!r} is not below the root bone {self.root!r}.")
        if len(set(finger_bones)) != len(finger_bones) or set(finger_bones) & set(self.drive.values()):
            raise RetargetError("a finger bone is used twice; each bone can follow one segment.")

    def rest_sites(self, rest: RestSkeleton, joints: list[str] | None = None) -> dict[str, FloatArray]:
        """Rest positions (3,) in armature space of the given joints (default: all needed)."""
        names = self.joints_needed() if joints is None else joints
        base = {
            j: rest.point(self.site(j).bone, self.site(j).along) for j in set(names) | set(mocap21.BODY_FRAME)
        }
        left, fwd, up = body_axes(base["pelvis"], base["neck"], base["l_hip"], base["r_hip"])
        unit = float(np.linalg.norm(base["neck"] - base["pelvis"]))
        out = {}
        for j in names:
            o = self.site(j).offset
            out[j] = base[j] + unit * (o[0] * left + o[1] * fwd + o[2] * up)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "preset": self.preset,
            "root": self.root,
            "drive": dict(self.drive),
            "sites": {
                j: {"bone": s.bone, "along": s.along, "offset": list(s.offset)} for j, s in self.sites.items()
            },
            "fingers": {k: list(v) for k, v in self.fingers.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BoneMap:
        try:
            sites = {
                str(j): JointSite(
                    str(s["bone"]),
                    float(s.get("along", 0.0)),
                    tuple(float(v) for v in s.get("offset", (0, 0, 0))),  # type: ignore[arg-type]
                )
                for j, s in data.get("sites", {}).items()
            }
            fingers: dict[str, tuple[str, str, str]] = {}
            for k, v in data.get("fingers", {}).items():
                names = tuple(str(b) for b in v)
                if len(names) != 3:
                    raise ValueError(f"finger {k!r} needs 3 bones")
                fingers[str(k)] = (names[0], names[1], names[2])
            return cls(
                str(data.get("preset", "custom")),
                str(data["root"]),
                {str(k): str(v) for k, v in data["drive"].items()},
                sites,
                fingers,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RetargetError(f"bone mapping is malformed ({exc}).") from None


def body_axes(
    pelvis: FloatArray, neck: FloatArray, l_hip: FloatArray, r_hip: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Body frame (left, forward, up) unit vectors (..., 3) from four joints: left along the hips, up
    towards the neck made orthogonal to left, forward = left x up."""
    left = normalize(l_hip - r_hip)
    up0 = neck - pelvis
    up = normalize(up0 - np.sum(up0 * left, axis=-1, keepdims=True) * left)
    return left, np.cross(left, up), up


def _names(value: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def find_bone(available: dict[str, str], candidates: str | tuple[str, ...] | list[str]) -> str | None:
    """First candidate name present in `available` (stripped name -> real name), or None."""
    for c in _names(candidates):
        if c in available:
            return available[c]
    return None


def strip_namespaces(bone_names: list[str] | tuple[str, ...]) -> dict[str, str]:
    """Map each bone name with any `namespace:` prefix removed (e.g. `mixamorig:`) to the real name."""
    out: dict[str, str] = {}
    for n in bone_names:
        out.setdefault(n, n)
    for n in bone_names:
        out.setdefault(n.rsplit(":", 1)[-1], n)
    return out


def resolve_preset(preset: dict[str, Any], bone_names: list[str] | tuple[str, ...]) -> BoneMap:
    """Turn preset data (see retarget.presets) into a BoneMap for an armature with these bone names."""
    available = strip_namespaces(bone_names)
    name = str(preset["NAME"])
    missing: list[str] = []

    def pick(cands: str | tuple[str, ...]) -> str:
        found = find_bone(available, cands)
        if found is None:
            missing.append(_names(cands)[0])
            return ""
        return found

    root = pick(preset["ROOT"])
    drive = {j: pick(c) for j, c in preset["DRIVE"].items()}
    sites: dict[str, JointSite] = {}
    for j, spec in preset.get("SITES", {}).items():
        bone = pick(spec[0])
        along = float(spec[1]) if len(spec) > 1 else 0.0
        offset = tuple(float(v) for v in spec[2]) if len(spec) > 2 else (0.0, 0.0, 0.0)
        sites[j] = JointSite(bone, along, offset)  # type: ignore[arg-type]
    for req in preset.get("REQUIRES", ()):
        pick(req)
    if missing:
        raise RetargetError(f"the armature does not fit preset {name!r}: it has no bone {missing[0]!r}.")
    fingers: dict[str, tuple[str, str, str]] = {}
    for key, cands in preset.get("FINGERS", {}).items():
        found = [find_bone(available, c) for c in cands]
        if len(found) == 3 and all(found):
            fingers[key] = (str(found[0]), str(found[1]), str(found[2]))
    return BoneMap(name, root, drive, sites, fingers)


def preset_coverage(preset: dict[str, Any], bone_names: list[str] | tuple[str, ...]) -> float:
    """Fraction (0..1) of the preset's bone names (root, driven, sites, required) found in bone_names."""
    available = strip_namespaces(bone_names)
    wanted: list[str | tuple[str, ...]] = [preset["ROOT"], *preset["DRIVE"].values()]
    wanted += [s[0] for s in preset.get("SITES", {}).values()]
    wanted += list(preset.get("REQUIRES", ()))
    found = sum(find_bone(available, w) is not None for w in wanted)
    return found / len(wanted)
