"""What drives the target rig, before keying it, and whether its deform bones followed the keys, after.

`prepare(obj, rest, bone_map)` inspects the bones we would key (the bone map's root, driven and site bones and
the bones between them) and returns what to key instead and which switches to key:

- Bones that copy another bone of the armature through one COPY_TRANSFORMS constraint (world to world, same
  rest matrix: Mesh2Motion's deform bones follow its `DRV_` controls) are replaced by the bone they copy; the
  root moves up to the common ancestor of everything keyed when a replaced bone lives elsewhere.
- IK constraints whose chain covers a keyed bone get their influence keyed to 0 over the range (the chain
  follows the keys), and on a rig with a Rigify `rig_id` the switches of `RIGIFY_SWITCHES` are keyed: the limbs'
  `IK_FK` to 1 (FK) and the torso's `neck_follow`/`head_follow` to 1 (neck and head carried by the spine's FK
  chain, which the `rigify_generated` preset keys on `spine_fk.002`), all in the new Action, so the rig's own
  settings are untouched outside it. Measured on the sample clip's first 150 frames: the generated rig's deform
  head and wrists 0.00 cm from the keys on every frame (13 and 28 cm with the spine on `chest` and the
  follow switches at Rigify's defaults).
- Anything else that would override the keys (other copy/track/child-of constraints on keyed bones, drivers on
  their rotation or location) is refused with one sentence saying what to change.

`measure(...)` evaluates the depsgraph on sampled keyed frames and reads the DEFORM bones that carry the
pelvis, head, wrists and ankles: their distance from where the keys put those joints (forward kinematics of the
keys: does the rig follow at all?) and from the retargeted targets (scaled to the rig).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import bpy
import numpy as np

from .retarget.animation import BoneAnimation, pose_matrices, posed_points
from .retarget.mapping import BoneMap, JointSite
from .retarget.rest_skeleton import RestSkeleton

# Constraint types that replace a bone's rotation or whole transform (keys on the bone would not show).
OVERRIDING = {
    "COPY_TRANSFORMS",
    "COPY_ROTATION",
    "CHILD_OF",
    "TRACK_TO",
    "DAMPED_TRACK",
    "LOCKED_TRACK",
    "STRETCH_TO",
    "ARMATURE",
    "TRANSFORM",
    "ACTION",
    "SPLINE_IK",
    "FOLLOW_PATH",
    "CLAMP_TO",
    "PIVOT",
}
# Constraint types that put a bone somewhere its parent would not (its keys still rotate it, but the rest of
# the chain is not where forward kinematics of the keys says).
PLACING = {"COPY_LOCATION", "LIMIT_DISTANCE"}
# Rigify's switches keyed over the range (property: value, label): the limbs on FK (their FK controls are what
# we key), and the neck and head following the spine's FK chain (neck_follow/head_follow 1; at Rigify's defaults,
# 0.5 and 0, the neck takes half its rotation and the head all of it from the torso control instead).
RIGIFY_SWITCHES = {
    "IK_FK": (1.0, "FK"),
    "neck_follow": (1.0, "neck follow"),
    "head_follow": (1.0, "head follow"),
}
# The joints whose deform bones are checked after keying.
CHECK_JOINTS = ("pelvis", "head", "l_wrist", "r_wrist", "l_ankle", "r_ankle")
# Same rest matrix, to this tolerance (rig units), for a control bone to stand in for the bone that copies it.
REST_TOLERANCE = 1e-4
# Worst distance (metres at the person's scale) between the deform bones and the keys' own forward kinematics:
# above WARN the result carries a warning, above FAIL the run is refused (the rig does not follow the keys).
FOLLOW_WARN = 0.05
FOLLOW_FAIL = 0.15
# Most frames evaluated for the check (evenly spaced, first and last included).
MAX_CHECK_FRAMES = 60


class RigError(Exception):
    """The rig cannot be keyed as it is; one sentence says what to change."""


@dataclass(frozen=True)
class Switch:
    """A property keyed to a constant over the keyed range: `pose.bones[...]...` path, index, value, bone."""

    data_path: str
    index: int
    value: float
    group: str
    label: str


@dataclass(frozen=True)
class RigPlan:
    """bone_map: what to key (the given one, or with control bones in place of the bones that copy them);
    switches: properties keyed over the range; notes: what the inspection found, for the report."""

    bone_map: BoneMap
    switches: tuple[Switch, ...] = ()
    notes: tuple[str, ...] = ()
    substituted: dict[str, str] = field(default_factory=dict)


def _owner_and_key(obj: bpy.types.Object, s: Switch) -> tuple[object, str, bool]:
    """(owner, key, is_item) of a switch's property: `...["IK_FK"]` is an item, `...influence` an attribute."""
    path = s.data_path
    if path.endswith('"]'):
        head, key = path[:-2].rsplit('["', 1)
        return obj.path_resolve(head), key, True
    head, key = path.rsplit(".", 1)
    return obj.path_resolve(head), key, False


def read_switch(obj: bpy.types.Object, s: Switch) -> float:
    """The switch property's current value."""
    owner, key, item = _owner_and_key(obj, s)
    return float(owner[key] if item else getattr(owner, key))  # type: ignore[index]


def write_switch(obj: bpy.types.Object, s: Switch, value: float) -> None:
    """Set the switch property (to put back what the animation system wrote while checking)."""
    owner, key, item = _owner_and_key(obj, s)
    if item:
        owner[key] = value  # type: ignore[index]
    else:
        setattr(owner, key, value)


def _bone_path(name: str) -> str:
    return f'pose.bones["{bpy.utils.escape_identifier(name)}"]'


def _active(c: bpy.types.Constraint) -> bool:
    return bool(not c.mute and c.influence > 1e-6)


def _own_subtarget(obj: bpy.types.Object, c: bpy.types.Constraint) -> str | None:
    """The bone of `obj` the constraint targets, or None (another object, or no bone)."""
    target = getattr(c, "target", None)
    sub = getattr(c, "subtarget", "")
    if target is obj and sub and sub in obj.pose.bones:
        return str(sub)
    return None


def _describe(c: bpy.types.Constraint, obj: bpy.types.Object) -> str:
    sub = _own_subtarget(obj, c)
    target = getattr(c, "target", None)
    whom = sub if sub else (target.name if target is not None else "nothing")
    return f"{c.name} from {whom}"


def _copied_bone(obj: bpy.types.Object, rest: RestSkeleton, name: str) -> str | None:
    """The bone `name` copies through a lone full COPY_TRANSFORMS (world to world, same rest), else None.

    Raises RigError when the bone follows another bone in a way that no single control explains."""
    pb = obj.pose.bones[name]
    active = [c for c in pb.constraints if _active(c)]
    copies = [c for c in active if c.type == "COPY_TRANSFORMS"]
    if not copies:
        return None
    c = copies[-1]
    sub = _own_subtarget(obj, c)
    clean = (
        len(active) == 1
        and sub is not None
        and c.influence > 0.999
        and c.target_space == "WORLD"
        and c.owner_space == "WORLD"
        and getattr(c, "mix_mode", "REPLACE") == "REPLACE"
        and np.allclose(rest.matrices[rest.bone(name)], rest.matrices[rest.bone(sub)], atol=REST_TOLERANCE)
    )
    if not clean:
        found = ", ".join(f"{name}: {_describe(x, obj)}" for x in active)
        raise RigError(
            f"The rig's bone {name!r} follows other bones through constraints ({found}) in a way no single "
            "control explains; choose the rig's control bones with a custom mapping or mute the constraints."
        )
    return sub


def _follow(obj: bpy.types.Object, rest: RestSkeleton, name: str) -> str:
    """The bone at the end of a chain of clean COPY_TRANSFORMS starting at `name` (itself if none)."""
    seen = [name]
    while (nxt := _copied_bone(obj, rest, seen[-1])) is not None:
        if nxt in seen:
            raise RigError(
                f"The rig's bones {', '.join(seen)} copy each other in a loop; fix the constraints."
            )
        seen.append(nxt)
    return seen[-1]


def _common_root(rest: RestSkeleton, root: str, bones: set[str]) -> str:
    """`root`, or its nearest ancestor that has every bone of `bones` at or below it."""
    candidates = [rest.bone(root), *rest.ancestors(rest.bone(root))]
    for r in candidates:
        if all(rest.bone(b) == r or r in rest.ancestors(rest.bone(b)) for b in bones):
            return rest.names[r]
    raise RigError(
        f"The bones to key ({', '.join(sorted(bones))}) have no common parent; choose a rig whose controls "
        "share one root bone."
    )


def substitute_controls(
    obj: bpy.types.Object, rest: RestSkeleton, bone_map: BoneMap
) -> tuple[BoneMap, dict[str, str]]:
    """The bone map with every bone that copies a control replaced by that control (see module docstring)."""
    names = {bone_map.root, *bone_map.drive.values(), *(s.bone for s in bone_map.sites.values())}
    sub = {n: _follow(obj, rest, n) for n in sorted(names)}
    changed = {k: v for k, v in sub.items() if k != v}
    if not changed:
        return bone_map, {}
    drive = {j: sub[b] for j, b in bone_map.drive.items()}
    sites = {}
    for j, s in bone_map.sites.items():
        c = sub[s.bone]
        along = (
            s.along * float(rest.lengths[rest.bone(s.bone)]) / max(float(rest.lengths[rest.bone(c)]), 1e-9)
        )
        sites[j] = JointSite(c, along, s.offset)
    for j, b in bone_map.drive.items():  # a driven joint's default site is its bone's head: same point
        if j not in sites:
            sites[j] = JointSite(sub[b])
    root = _common_root(rest, sub[bone_map.root], set(drive.values()))
    return BoneMap(bone_map.preset, root, drive, sites), changed


def keyed_bones(rest: RestSkeleton, bone_map: BoneMap) -> list[str]:
    """The root, the driven bones and every bone between them (those get keys)."""
    root = rest.bone(bone_map.root)
    out = {root}
    for b in bone_map.drive.values():
        i = rest.bone(b)
        while i != root and i >= 0:
            out.add(i)
            i = rest.parents[i]
    return [rest.names[i] for i in sorted(out)]


def _ik_chain(pb: bpy.types.PoseBone, count: int) -> list[str]:
    chain, b = [], pb
    while b is not None and (count == 0 or len(chain) < count):
        chain.append(b.name)
        b = b.parent
    return chain


_PATH = re.compile(
    r'^pose\.bones\["((?:[^"\\]|\\.)*)"\]\.(rotation_quaternion|rotation_euler|rotation_axis_angle|location)$'
)


def prepare(obj: bpy.types.Object, rest: RestSkeleton, bone_map: BoneMap) -> RigPlan:
    """What to key on `obj` for `bone_map`, or RigError with one sentence (see module docstring)."""
    is_rigify = "rig_id" in obj.data.keys()
    notes: list[str] = []
    if is_rigify and any(b.startswith("DEF-") for b in bone_map.drive.values()):
        constrained = [
            b for b in bone_map.drive.values() if any(_active(c) for c in obj.pose.bones[b].constraints)
        ]
        if constrained:
            raise RigError(
                "This generated Rigify rig's DEF- bones follow its controls through constraints; use the "
                "preset 'rigify_generated' (FK controls) or mute the DEF- bones' constraints."
            )
    new_map, changed = substitute_controls(obj, rest, bone_map)
    if changed:
        first = next(iter(changed.items()))
        notes.append(
            f"keyed the {len(changed)} control bones its deform bones copy (e.g. {first[1]} for {first[0]})"
        )
    keyed = set(keyed_bones(rest, new_map))
    # Bones between driven bones are keyed at rest: a constraint there is the rig's business (measured after).
    driven = {new_map.root, *new_map.drive.values()}
    switches: list[Switch] = []
    overrides: list[str] = []
    for pb in obj.pose.bones:
        for c in pb.constraints:
            if not _active(c):
                continue
            if c.type == "IK":
                hit = keyed & set(_ik_chain(pb, int(c.chain_count)))
                if hit:
                    path = f'{_bone_path(pb.name)}.constraints["{bpy.utils.escape_identifier(c.name)}"].influence'
                    switches.append(Switch(path, 0, 0.0, pb.name, f"{pb.name} IK off"))
            elif pb.name in driven and c.type in OVERRIDING:
                overrides.append(f"{pb.name}: {_describe(c, obj)}")
    if is_rigify:
        for pb in obj.pose.bones:
            for prop, (value, label) in RIGIFY_SWITCHES.items():
                if prop in pb.keys():
                    path = f'{_bone_path(pb.name)}["{prop}"]'
                    switches.append(Switch(path, 0, value, pb.name, f"{pb.name} {label}"))
    adt = obj.animation_data
    if adt is not None:
        for d in adt.drivers:
            m = _PATH.match(d.data_path)
            if m and m.group(1).replace('\\"', '"').replace("\\\\", "\\") in driven and not d.mute:
                overrides.append(f"{m.group(1)}: a driver on its {m.group(2)}")
    placed = [
        f"{b}: {_describe(c, obj)}"
        for b in sorted({*new_map.drive.values(), *(x.bone for x in new_map.sites.values())} - {new_map.root})
        for c in obj.pose.bones[b].constraints
        if _active(c) and c.type in PLACING
    ]
    if placed and changed:
        first = next(iter(changed.items()))
        raise RigError(
            f"The rig's deform bones follow control bones through constraints ({first[0]}: copies {first[1]}), "
            f"and those controls take their place from other bones ({placed[0]}), which keys cannot follow; "
            "mute the deform bones' constraints (their bones are then keyed) or choose another rig."
        )
    overrides += placed
    if overrides:
        shown = "; ".join(overrides[:3]) + ("; ..." if len(overrides) > 3 else "")
        raise RigError(
            f"Constraints or drivers override the bones this rig would be keyed on ({shown}); choose the "
            "rig's control bones with a custom mapping or mute those constraints."
        )
    if switches:
        notes.append("keyed " + ", ".join(s.label for s in switches) + " over the range")
    return RigPlan(new_map, tuple(switches), tuple(notes), changed)


@dataclass(frozen=True)
class FollowReport:
    """Measured on `frames` keyed frames, world units: `follow` (F, J) deform bone to the keys' forward
    kinematics; `target` (F, J) deform bone to the retargeted target; `moved` the keys' largest joint travel;
    `carriers` joint -> deform bone read; `scale` world units per metre of the person."""

    joints: tuple[str, ...]
    carriers: dict[str, str]
    frames: tuple[float, ...]
    follow: np.ndarray
    target: np.ndarray
    moved: float
    scale: float

    def worst(self, which: str = "follow") -> tuple[float, str, float]:
        """(error in world units, joint, frame) of the worst frame."""
        err = self.follow if which == "follow" else self.target
        f, j = np.unravel_index(int(np.argmax(err)), err.shape)
        return float(err[f, j]), self.joints[j], self.frames[f]

    def summary(self) -> str:
        fw, fj, _ = self.worst("follow")
        tw, tj, _ = self.worst("target")
        return (
            f"deform bones within {100 * tw / self.scale:.1f} cm of the targets (worst: {tj}) and "
            f"{100 * fw / self.scale:.1f} cm of the keys (worst: {fj}) on {len(self.frames)} frames"
        )


def deform_carriers(obj: bpy.types.Object, points: dict[str, np.ndarray]) -> dict[str, str]:
    """For each joint, the deform bone whose rest head is nearest its rest position (armature space)."""
    deform = [b for b in obj.data.bones if b.use_deform] or list(obj.data.bones)
    heads = np.array([np.array(b.head_local) for b in deform])
    out = {}
    for j, p in points.items():
        out[j] = deform[int(np.argmin(np.linalg.norm(heads - p, axis=1)))].name
    return out


def sample_indices(n: int, most: int = MAX_CHECK_FRAMES) -> np.ndarray:
    """Up to `most` evenly spaced key indices of n, first and last included."""
    return np.unique(np.round(np.linspace(0, n - 1, min(n, most))).astype(int))


def measure(
    obj: bpy.types.Object,
    scene: bpy.types.Scene,
    rest: RestSkeleton,
    bone_map: BoneMap,
    anim: BoneAnimation,
    targets: np.ndarray,
    joint_index: dict[str, int],
    scale: float,
    frame_start: float,
    frame_step: float,
    most: int = MAX_CHECK_FRAMES,
) -> FollowReport:
    """Evaluate the rig on sampled keyed frames and compare its deform bones with the keys and the targets.

    targets (T, J, 3): the retargeted joints in world units with the armature object's origin at 0 (world axes);
    scale: world units per metre of the person; most: frames evaluated at most (evenly spaced). The scene's
    current frame is restored."""
    joints = tuple(j for j in CHECK_JOINTS if j in joint_index)
    rest_pts = bone_map.rest_sites(rest, list(joints))
    carriers = deform_carriers(obj, rest_pts)
    idx = sample_indices(anim.num_frames, most)
    site_bones = [rest.bone(bone_map.site(j).bone) for j in joints]
    pts = np.array([rest_pts[j] for j in joints])
    pose = pose_matrices(rest, anim)[idx]
    keyed = posed_points(pose, rest, site_bones, pts)  # (F, J, 3) armature space
    mw = np.array(obj.matrix_world, dtype=np.float64)
    keyed_w = keyed @ mw[:3, :3].T + mw[:3, 3]
    target_w = targets[idx][:, [joint_index[j] for j in joints]] + mw[:3, 3]

    carrier_bones = [carriers[j] for j in joints]
    rest_c = np.array([np.array(obj.data.bones[b].matrix_local) for b in carrier_bones])
    local = np.einsum("nij,nj->ni", np.linalg.inv(rest_c)[:, :3, :3], pts) + np.linalg.inv(rest_c)[:, :3, 3]
    frames = frame_start + idx * frame_step
    got = np.empty_like(keyed_w)
    current, sub = scene.frame_current, scene.frame_subframe
    try:
        for k, f in enumerate(frames):
            whole = int(np.floor(f))
            scene.frame_set(whole, subframe=float(f - whole))
            ev = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
            ew = np.array(ev.matrix_world, dtype=np.float64)
            for n, b in enumerate(carrier_bones):
                m = np.array(ev.pose.bones[b].matrix, dtype=np.float64)
                got[k, n] = ew[:3, :3] @ (m[:3, :3] @ local[n] + m[:3, 3]) + ew[:3, 3]
    finally:
        scene.frame_set(current, subframe=sub)
    moved = float(np.linalg.norm(keyed_w - keyed_w[:1], axis=-1).max()) if len(idx) else 0.0
    return FollowReport(
        joints,
        carriers,
        tuple(float(f) for f in frames),
        np.linalg.norm(got - keyed_w, axis=-1),
        np.linalg.norm(got - target_w, axis=-1),
        moved,
        scale,
    )


def verdict(report: FollowReport) -> tuple[str | None, str | None]:
    """(error, warning): one sentence each, or None. Error when the deform skeleton does not follow the keys."""
    worst, joint, frame = report.worst("follow")
    if worst > FOLLOW_FAIL * report.scale:
        still = report.moved > 0 and worst > 0.5 * report.moved
        what = "stay still" if still else "do not follow the keys"
        return (
            f"The rig's deform bones {what} (its {joint.replace('_', ' ')} is {worst:.2f} m from where the keys "
            f"put it on frame {frame:g}); check its IK/FK switches and constraints, or choose its control bones "
            "with a custom mapping.",
            None,
        )
    if worst > FOLLOW_WARN * report.scale:
        return None, (
            f"the rig's deform bones follow the keys only to {100 * worst / report.scale:.0f} cm "
            f"({joint.replace('_', ' ')}, frame {frame:g}); check its constraints."
        )
    return None, None
