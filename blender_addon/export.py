"""Bake & Export FBX with presets for Unity, Unreal and generic use, and Export BVH (retarget's writer).

FBX goes through a temporary baked copy of the armature (`baked_copy`): the deform bones only for Unity and
Unreal (each parented to its nearest deform ancestor, as in `RestSkeleton.reduced`), every bone for the
generic preset, each bone copying its original's evaluated world matrix (Copy Transforms), so whatever drives
the original (keys, constraints, controls, IK) is baked into the file; the meshes it deforms go as copies bound
to it, and every copy carries its original's name in the file (the originals are renamed meanwhile). The copy's
animation is one NLA strip over the scene's frame range, which io_scene_fbx writes from time 0: re-imported with
Blender's default settings the Action starts at frame 1 (a scene frame range written as is starts at
frame_start / fps, which the importer's default offset of one frame turns into frame 2). The take is named
after the armature's Action. Everything temporary is removed and the scene left as it was (selection, active
object, mode, frame, names, Actions).

BVH samples the deform bones' evaluated world matrices over the scene's frame range
(`armature_io.sample_deform_animation`), one joint per deform bone; joints that move relative to their parent
(not only turn) get position channels.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import bpy

from . import armature_io
from .retarget.bvh_writer import write_bvh
from .retarget.errors import RetargetError

# FBX exporter options per target (io_scene_fbx's operator properties). All bake the animation at every frame
# of the scene range (the baked copy's one NLA strip, written from time 0), and export only the armature and
# the meshes it deforms.
_COMMON: dict[str, Any] = {
    "use_selection": True,
    "object_types": {"ARMATURE", "MESH"},
    "bake_anim": True,
    "bake_anim_use_all_bones": True,
    "bake_anim_use_nla_strips": True,
    "bake_anim_use_all_actions": False,
    "bake_anim_force_startend_keying": True,
    "bake_anim_step": 1.0,
    "bake_anim_simplify_factor": 0.0,
    "use_armature_deform_only": False,
}
FBX_PRESETS: dict[str, dict[str, Any]] = {
    # Unity: deform bones only, Y up / -Z forward, units applied so the rig imports at scale 1, no _end leaf bones.
    "UNITY": {
        **_COMMON,
        "use_armature_deform_only": True,
        "axis_forward": "-Z",
        "axis_up": "Y",
        "apply_unit_scale": True,
        "apply_scale_options": "FBX_SCALE_UNITS",
        "add_leaf_bones": False,
        "primary_bone_axis": "Y",
        "secondary_bone_axis": "X",
    },
    # Unreal: deform bones only; its FBX importer converts axes itself; no leaf bones, no extra root scale.
    "UNREAL": {
        **_COMMON,
        "use_armature_deform_only": True,
        "axis_forward": "-Z",
        "axis_up": "Y",
        "apply_unit_scale": True,
        "apply_scale_options": "FBX_SCALE_NONE",
        "add_leaf_bones": False,
        "primary_bone_axis": "Y",
        "secondary_bone_axis": "X",
    },
    # Blender's defaults, every bone.
    "GENERIC": {
        **_COMMON,
        "axis_forward": "-Z",
        "axis_up": "Y",
        "apply_unit_scale": True,
        "apply_scale_options": "FBX_SCALE_NONE",
        "add_leaf_bones": True,
    },
}


class ExportError(Exception):
    """An export problem the user can fix, in one sentence."""


def export_objects(armature: bpy.types.Object) -> list[bpy.types.Object]:
    """The armature and the meshes it deforms (children or armature-modifier users)."""
    meshes = [
        o
        for o in bpy.data.objects
        if o.type == "MESH"
        and (o.parent == armature or any(m.type == "ARMATURE" and m.object == armature for m in o.modifiers))
    ]
    return [armature, *meshes]


def _unique_name(collection: Any, base: str) -> str:
    for k in range(1000):
        name = f"{base[:50]}~export{k or ''}"
        if name not in collection:
            return name
    raise ExportError("could not find a free temporary name for the export.")


def _copy_transforms(owner: Any, target: bpy.types.Object, subtarget: str = "") -> None:
    con = owner.constraints.new("COPY_TRANSFORMS")
    con.name = "Export Bake"
    con.target = target
    if subtarget:
        con.subtarget = subtarget
    con.target_space = "WORLD"
    con.owner_space = "WORLD"


@contextmanager
def baked_copy(
    context: bpy.types.Context, armature: bpy.types.Object, deform_only: bool
) -> Iterator[list[bpy.types.Object]]:
    """A temporary copy of `armature` and of the meshes it deforms, under their names, for io_scene_fbx.

    The copy has the deform bones only (`armature_io.deform_skeleton`) or every bone, each following its
    original's evaluated world matrix; the mesh copies are bound to it and follow their originals. Its
    animation is one NLA strip (an empty Action with a manual frame range) over the scene's frame range, so
    io_scene_fbx with `bake_anim_use_nla_strips` bakes exactly that range, from time 0. Yields the objects to
    export, the armature copy first; afterwards removes them and restores names, active object, mode and frame.
    """
    scene = context.scene
    view_layer = context.view_layer
    frame, subframe = scene.frame_current, scene.frame_subframe
    active = view_layer.objects.active
    mode_object = context.object if context.object is not None and context.object.mode != "OBJECT" else None
    mode = mode_object.mode if mode_object is not None else "OBJECT"
    meshes = export_objects(armature)[1:]
    try:
        rest = armature_io.deform_skeleton(armature) if deform_only else armature_io.rest_skeleton(armature)
    except (RetargetError, armature_io.ArmatureError) as exc:
        raise ExportError(str(exc)) from None
    renamed: list[tuple[bpy.types.Object, str]] = []
    made: list[bpy.types.Object] = []
    data: list[Any] = []
    action = None
    try:
        if mode_object is not None:
            with context.temp_override(active_object=mode_object, object=mode_object):
                bpy.ops.object.mode_set(mode="OBJECT")
        copy = armature_io.create_armature(
            context, rest, _unique_name(bpy.data.objects, armature.name), scene.collection
        )
        made.append(copy)
        data.append(copy.data)
        copy.matrix_world = armature.matrix_world
        for bone in copy.data.bones:
            bone.use_deform = armature.data.bones[bone.name].use_deform
        for pb in copy.pose.bones:
            _copy_transforms(pb, armature, pb.name)
        _copy_transforms(copy, armature)
        copies = [copy]
        for mesh in meshes:
            dup = mesh.copy()
            scene.collection.objects.link(dup)
            made.append(dup)
            dup.animation_data_clear()  # its own transform comes from the constraint, no NLA strips of its own
            for c in list(dup.constraints):
                dup.constraints.remove(c)
            if dup.parent == armature:
                dup.parent = copy
                if dup.parent_type == "BONE" and dup.parent_bone not in copy.data.bones:
                    dup.parent_type = "OBJECT"
            for mod in dup.modifiers:
                if mod.type == "ARMATURE" and mod.object == armature:
                    mod.object = copy
            _copy_transforms(dup, mesh)
            copies.append(dup)
        # The strip over the scene's range: an empty Action with that manual frame range.
        action = bpy.data.actions.new(_unique_name(bpy.data.actions, "Export"))
        action.use_frame_range = True
        action.frame_start, action.frame_end = scene.frame_start, max(scene.frame_end, scene.frame_start + 1)
        adt = armature.animation_data
        take = adt.action.name if adt is not None and adt.action is not None else armature.name
        track = copy.animation_data_create().nla_tracks.new()
        strip = track.strips.new(take, scene.frame_start, action)
        strip.name = take
        # The copies take the originals' names in the file.
        for original, dup in zip([armature, *meshes], copies, strict=True):
            name = original.name
            original.name = _unique_name(bpy.data.objects, name)
            renamed.append((original, name))
            dup.name = name
            if dup.name != name:
                raise ExportError(f"could not give the export copy the name {name!r}.")
        view_layer.update()
        yield copies
    except RuntimeError as exc:
        reason = " ".join(str(exc).split()).removeprefix("Error: ")
        raise ExportError(f"Blender could not prepare the export ({reason}).") from None
    finally:
        for obj in reversed(made):
            bpy.data.objects.remove(obj, do_unlink=True)
        for arm in data:
            bpy.data.armatures.remove(arm)
        if action is not None:
            bpy.data.actions.remove(action)
        for original, name in renamed:
            original.name = name
        view_layer.objects.active = active
        if mode_object is not None and mode_object.mode != mode:
            with context.temp_override(active_object=mode_object, object=mode_object):
                bpy.ops.object.mode_set(mode=mode)
        scene.frame_set(frame, subframe=subframe)


def export_fbx(context: bpy.types.Context, armature: bpy.types.Object, filepath: str, preset: str) -> None:
    """Write the armature (and its meshes) with its animation over the scene's frame range baked to `filepath`
    (a temporary copy, see `baked_copy`: deform bones only for Unity and Unreal)."""
    if armature is None or armature.type != "ARMATURE":
        raise ExportError("pick the armature to export in the Mocap panel.")
    if preset not in FBX_PRESETS:
        raise ExportError(f"unknown FBX preset {preset!r}.")
    if not hasattr(bpy.ops.export_scene, "fbx"):
        raise ExportError("Blender's FBX add-on is disabled; enable it in Preferences > Add-ons.")
    options = FBX_PRESETS[preset]
    with baked_copy(context, armature, bool(options["use_armature_deform_only"])) as objects:
        with context.temp_override(selected_objects=objects, active_object=objects[0], object=objects[0]):
            try:
                result = bpy.ops.export_scene.fbx(filepath=filepath, check_existing=False, **options)
            except RuntimeError as exc:
                reason = " ".join(str(exc).split()).removeprefix("Error: ")
                raise ExportError(f"the FBX export failed ({reason}).") from None
    if "FINISHED" not in result:
        raise ExportError("the FBX export did not finish; see Blender's info log.")


def export_bvh(context: bpy.types.Context, armature: bpy.types.Object, filepath: str) -> int:
    """Write the deform bones' evaluated motion over the scene's frame range as BVH (world space, one joint per
    deform bone, each under its nearest deform ancestor); returns the frame count."""
    if armature is None or armature.type != "ARMATURE":
        raise ExportError("pick the armature to export in the Mocap panel.")
    scene = context.scene
    try:
        rest, anim, heads = armature_io.sample_deform_animation(
            armature, scene, scene.frame_start, scene.frame_end
        )
        write_bvh(filepath, rest, anim, heads=heads)
    except (RetargetError, armature_io.ArmatureError) as exc:
        raise ExportError(str(exc)) from None
    except OSError as exc:
        raise ExportError(f"could not write {filepath!r} ({exc.strerror or exc}).") from None
    return anim.num_frames
