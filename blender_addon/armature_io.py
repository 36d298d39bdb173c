"""The one module that reads armatures and writes Actions.

- `rest_skeleton(obj)`: an armature object's rest pose as a `retarget` RestSkeleton (`Bone.matrix_local`,
  armature space), no mode switch needed.
- `create_armature(...)`: a new armature object from a RestSkeleton (edit bones from head, tail, roll).
- `write_animation(...)`: a BoneAnimation as a NEW Action on the object (the previous Action is kept, with a fake
  user so it survives saving), keys written in bulk: `keyframe_points.add(n)` then `foreach_set("co", ...)` per
  F-curve, linear interpolation. F-curves live in a channelbag (`action.layers[0].strips[0].channelbag(slot)`)
  on Blender >= 4.4, and in the legacy `action.fcurves` on 4.2/4.3.
- `sample_animation(...)`: the armature's local pose (`matrix_basis`) over a frame range, as a BoneAnimation.
- `deform_skeleton(obj)`, `sample_deform_animation(...)`: the armature's deform bones as one tree
  (`RestSkeleton.reduced`) and their evaluated world-space motion (constraints, drivers and controls baked in),
  as a BoneAnimation on that tree in world space (for BVH).
"""

from __future__ import annotations

from dataclasses import dataclass

import bpy
import numpy as np

from .retarget.animation import BoneAnimation, animation_from_pose
from .retarget.errors import RetargetError
from .retarget.quaternions import make_continuous, matrix_to_quat
from .retarget.rest_skeleton import RestSkeleton, matrix_roll
from .retarget.rotations import orthonormalize

CHANNELBAG_VERSION = (4, 4, 0)
_LINEAR = bpy.types.Keyframe.bl_rna.properties["interpolation"].enum_items["LINEAR"].value


class ArmatureError(Exception):
    """A problem with the target armature the user can fix, in one sentence."""


def uses_channelbags() -> bool:
    """True on Blender versions whose Actions are layered (F-curves in channelbags)."""
    return bool(bpy.app.version >= CHANNELBAG_VERSION)


def rest_skeleton(obj: bpy.types.Object) -> RestSkeleton:
    """RestSkeleton of an armature object: bones' `matrix_local` (armature space) and lengths."""
    if obj is None or obj.type != "ARMATURE":
        raise ArmatureError(
            "the target is not an armature; pick an armature object or let the add-on create one."
        )
    bones = obj.data.bones
    if len(bones) == 0:
        raise ArmatureError(f"the armature {obj.name!r} has no bones; pick another one.")
    names = [b.name for b in bones]
    parents = [None if b.parent is None else b.parent.name for b in bones]
    mats = np.array([np.array(b.matrix_local, dtype=np.float64) for b in bones])
    lengths = np.array([b.length for b in bones], dtype=np.float64)
    return RestSkeleton.from_bones(names, parents, mats, lengths)


def create_armature(
    context: bpy.types.Context, rest: RestSkeleton, name: str, collection: bpy.types.Collection | None = None
) -> bpy.types.Object:
    """A new armature object at the world origin whose rest pose is `rest` (edit bones from head/tail/roll).

    The object is linked to `collection` (default: the scene's), made active, and left in Object Mode.
    """
    data = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, data)
    (collection or context.scene.collection).objects.link(obj)
    view_layer = context.view_layer
    view_layer.objects.active = obj
    with context.temp_override(active_object=obj, object=obj, selected_objects=[obj]):
        bpy.ops.object.mode_set(mode="EDIT")
        try:
            heads, tails = rest.heads, rest.tails
            edit = {}
            for i, bone_name in enumerate(rest.names):
                eb = data.edit_bones.new(bone_name)
                eb.head = heads[i].tolist()
                eb.tail = tails[i].tolist()
                eb.roll = matrix_roll(rest.matrices[i])
                edit[bone_name] = eb
            for i, p in enumerate(rest.parents):
                if p >= 0:
                    child = edit[rest.names[i]]
                    child.parent = edit[rest.names[p]]
                    child.use_connect = bool(np.allclose(heads[i], tails[p], atol=1e-6))
        finally:
            bpy.ops.object.mode_set(mode="OBJECT")
    data.display_type = "STICK"
    obj.show_in_front = True
    return obj


@dataclass(frozen=True)
class Channel:
    """One F-curve to write: data path, array index, group (bone) name and values (T,)."""

    data_path: str
    index: int
    group: str
    values: np.ndarray


def animation_channels(anim: BoneAnimation) -> list[Channel]:
    """Quaternion channels of every animated bone, location channels of the root bone."""
    out = []
    for k, bone in enumerate(anim.bone_names):
        path = f'pose.bones["{bpy.utils.escape_identifier(bone)}"]'
        if bone == anim.root_bone:
            for i in range(3):
                out.append(Channel(path + ".location", i, bone, anim.root_location[:, i]))
        for i in range(4):
            out.append(Channel(path + ".rotation_quaternion", i, bone, anim.rotations[:, k, i]))
    return out


def _new_fcurves(
    action: bpy.types.Action, slot: object | None, channels: list[Channel], legacy: bool
) -> list[bpy.types.FCurve]:
    if legacy:
        fcurves = action.fcurves
        return [fcurves.new(c.data_path, index=c.index, action_group=c.group) for c in channels]
    layer = action.layers[0] if len(action.layers) else action.layers.new("Layer")
    strip = layer.strips[0] if len(layer.strips) else layer.strips.new(type="KEYFRAME")
    bag = strip.channelbag(slot, ensure=True)
    groups: dict[str, object] = {}
    out = []
    for c in channels:
        fc = bag.fcurves.new(c.data_path, index=c.index)
        if c.group not in groups:
            groups[c.group] = bag.groups.new(c.group)
        fc.group = groups[c.group]
        out.append(fc)
    return out


def write_keys(fcurve: bpy.types.FCurve, frames: np.ndarray, values: np.ndarray) -> None:
    """Replace nothing, add len(frames) keys in one go: foreach_set of co and interpolation."""
    n = len(frames)
    points = fcurve.keyframe_points
    points.add(n)
    co = np.empty(2 * n, dtype=np.float32)
    co[0::2] = frames
    co[1::2] = values
    points.foreach_set("co", co)
    points.foreach_set("interpolation", np.full(n, _LINEAR, dtype=np.int32))
    fcurve.update()


def _set_rotation_modes(obj: bpy.types.Object, bone_names: tuple[str, ...]) -> None:
    for name in bone_names:
        pb = obj.pose.bones.get(name)
        if pb is None:
            raise ArmatureError(f"the armature {obj.name!r} has no bone {name!r}; pick the right armature.")
        if pb.rotation_mode != "QUATERNION":
            pb.rotation_mode = "QUATERNION"


def write_animation(
    obj: bpy.types.Object,
    anim: BoneAnimation,
    *,
    frame_start: float = 1.0,
    frame_step: float = 1.0,
    action_name: str = "Mocap",
    legacy: bool | None = None,
    constants: tuple[tuple[str, int, str, float], ...] = (),
) -> bpy.types.Action:
    """Write `anim` as a new Action assigned to `obj`; key i goes to frame `frame_start + i * frame_step`.

    The keyed bones get rotation mode QUATERNION. The previously assigned Action stays in the file (fake user).
    legacy: force the legacy `action.fcurves` path (True) or the channelbag path (False); None picks by version.
    constants: (data path, index, group, value) channels keyed to a constant on the first and last frame (a
    rig's IK/FK switch, an IK constraint's influence), so the rig's own setting is kept outside this Action.
    """
    use_legacy = (not uses_channelbags()) if legacy is None else legacy
    if not use_legacy and not uses_channelbags():
        raise ArmatureError("this Blender version has no layered Actions; use the legacy key writer.")
    _set_rotation_modes(obj, anim.bone_names)
    action = bpy.data.actions.new(action_name)
    slot = None
    if uses_channelbags() and not use_legacy:
        slot = action.slots.new(id_type="OBJECT", name=obj.name)
    frames = frame_start + np.arange(anim.num_frames, dtype=np.float64) * frame_step
    ends = np.unique(frames[[0, -1]])
    channels = animation_channels(anim) + [
        Channel(path, index, group, np.full(len(ends), value)) for path, index, group, value in constants
    ]
    fcurves = _new_fcurves(action, slot, channels, use_legacy)
    if uses_channelbags() and use_legacy:
        slot = action.slots[0]  # Blender 4.4/4.5 made it for the legacy F-curves
    for fc, ch in zip(fcurves, channels, strict=True):
        write_keys(fc, frames if len(ch.values) == len(frames) else ends, ch.values)
    adt = obj.animation_data or obj.animation_data_create()
    previous = adt.action
    if previous is not None and not previous.use_fake_user:
        previous.use_fake_user = True
    adt.action = action
    if slot is not None:
        adt.action_slot = slot
    return action


def sample_animation(
    obj: bpy.types.Object, scene: bpy.types.Scene, frame_start: int, frame_end: int
) -> tuple[RestSkeleton, BoneAnimation]:
    """The armature's local pose (`PoseBone.matrix_basis`) at each frame of [frame_start, frame_end], as a
    BoneAnimation of every bone (rotations) and the first root bone (location). Restores the current frame."""
    rest = rest_skeleton(obj)
    if frame_end < frame_start:
        raise ArmatureError("the frame range is empty; set the scene's end frame after its start frame.")
    pose_bones = obj.pose.bones
    order = [pose_bones.keys().index(n) for n in rest.names]
    count = len(pose_bones)
    t = frame_end - frame_start + 1
    basis = np.empty((t, count, 16), dtype=np.float32)
    current = scene.frame_current
    try:
        for k, f in enumerate(range(frame_start, frame_end + 1)):
            scene.frame_set(f)
            pose_bones.foreach_get("matrix_basis", basis[k].reshape(-1))
    finally:
        scene.frame_set(current)
    # foreach_get gives each matrix column by column (Blender's memory order).
    mats = basis.reshape(t, count, 4, 4).transpose(0, 1, 3, 2)[:, order].astype(np.float64)
    rot = mats[..., :3, :3]
    rot = rot / np.linalg.norm(rot, axis=-2, keepdims=True)  # drop pose scale
    quats = make_continuous(matrix_to_quat(rot), axis=0)
    root = rest.names[next(i for i, p in enumerate(rest.parents) if p < 0)]
    fps = scene.render.fps / scene.render.fps_base
    location = mats[:, rest.bone(root), :3, 3]
    return rest, BoneAnimation(rest.names, quats, root, location, fps)


def deform_skeleton(obj: bpy.types.Object) -> RestSkeleton:
    """The armature's deform bones (`Bone.use_deform`) at rest as one tree, armature space: each bone parented to
    its nearest deform ancestor, extra roots hung from the closest deform bone (`RestSkeleton.reduced`)."""
    rest = rest_skeleton(obj)
    deform = [b.name for b in obj.data.bones if b.use_deform]
    if not deform:
        raise ArmatureError(
            f"the armature {obj.name!r} has no deform bones; tick Deform on the bones that move the mesh."
        )
    try:
        return rest.reduced(deform)
    except RetargetError as exc:
        raise ArmatureError(str(exc)) from None


def _world_rest(rest: RestSkeleton, matrix: np.ndarray) -> RestSkeleton:
    """`rest` carried by an object matrix (4, 4): heads and lengths scaled, rotations without the scale."""
    mats = matrix[None] @ rest.matrices
    axes = mats[:, :3, 1]
    lengths = rest.lengths * np.linalg.norm(axes, axis=1)
    mats[:, :3, :3] = orthonormalize(mats[:, :3, :3])
    parents = [None if p < 0 else rest.names[p] for p in rest.parents]
    return RestSkeleton.from_bones(rest.names, parents, mats, lengths)


def sample_world_pose(
    obj: bpy.types.Object, scene: bpy.types.Scene, names: tuple[str, ...], frame_start: int, frame_end: int
) -> np.ndarray:
    """World matrices (T, 1 + B, 4, 4) of the object (index 0) and of the bones `names` (their evaluated
    `PoseBone.matrix`: keys, constraints and drivers applied) at each frame of [frame_start, frame_end].
    Restores the current frame."""
    if frame_end < frame_start:
        raise ArmatureError("the frame range is empty; set the scene's end frame after its start frame.")
    t = frame_end - frame_start + 1
    count = len(obj.pose.bones)
    order = [obj.pose.bones.keys().index(n) for n in names]
    buf = np.empty((count, 16), dtype=np.float32)
    out = np.empty((t, 1 + len(names), 4, 4), dtype=np.float64)
    current, subframe = scene.frame_current, scene.frame_subframe
    depsgraph = bpy.context.evaluated_depsgraph_get()
    try:
        for k, f in enumerate(range(frame_start, frame_end + 1)):
            scene.frame_set(f)
            ev = obj.evaluated_get(depsgraph)
            ev.pose.bones.foreach_get("matrix", buf.reshape(-1))
            world = np.array(ev.matrix_world, dtype=np.float64)
            # foreach_get gives each matrix column by column (Blender's memory order).
            out[k, 0] = world
            out[k, 1:] = world[None] @ buf.reshape(count, 4, 4).transpose(0, 2, 1)[order]
    finally:
        scene.frame_set(current, subframe=subframe)
    return out


def sample_deform_animation(
    obj: bpy.types.Object, scene: bpy.types.Scene, frame_start: int, frame_end: int
) -> tuple[RestSkeleton, BoneAnimation, np.ndarray]:
    """The deform bones' evaluated motion over [frame_start, frame_end] in world space: their tree at rest
    (`deform_skeleton`, carried by the object's matrix at frame_start), a BoneAnimation on it whose forward
    kinematics give each deform bone's world rotation at every frame and the root bone's world head
    (`animation_from_pose`), and every deform bone's world head (T, B, 3). Restores the current frame."""
    rest = deform_skeleton(obj)
    world = sample_world_pose(obj, scene, rest.names, frame_start, frame_end)
    world_rest = _world_rest(rest, world[0, 0])
    fps = scene.render.fps / scene.render.fps_base
    try:
        return world_rest, animation_from_pose(world_rest, world[:, 1:], fps), world[:, 1:, :3, 3]
    except RetargetError as exc:
        raise ArmatureError(str(exc)) from None
