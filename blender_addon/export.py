"""Bake & Export FBX with presets for Unity, Unreal and generic use, and Export BVH (retarget's writer)."""

from __future__ import annotations

from typing import Any

import bpy

from . import armature_io
from .retarget.bvh_writer import write_bvh
from .retarget.errors import RetargetError

# FBX exporter options per target (io_scene_fbx's operator properties). All bake the animation at every frame
# of the scene range, export only the armature and the meshes it deforms, and only the current Action.
_COMMON: dict[str, Any] = {
    "use_selection": True,
    "object_types": {"ARMATURE", "MESH"},
    "bake_anim": True,
    "bake_anim_use_all_bones": True,
    "bake_anim_use_nla_strips": False,
    "bake_anim_use_all_actions": False,
    "bake_anim_force_startend_keying": True,
    "bake_anim_step": 1.0,
    "bake_anim_simplify_factor": 0.0,
    "use_armature_deform_only": False,
}
FBX_PRESETS: dict[str, dict[str, Any]] = {
    # Unity: Y up / -Z forward, units applied so the rig imports at scale 1, no _end leaf bones.
    "UNITY": {
        **_COMMON,
        "axis_forward": "-Z",
        "axis_up": "Y",
        "apply_unit_scale": True,
        "apply_scale_options": "FBX_SCALE_UNITS",
        "add_leaf_bones": False,
        "primary_bone_axis": "Y",
        "secondary_bone_axis": "X",
    },
    # Unreal: its FBX importer converts axes itself; no leaf bones, no extra root scale.
    "UNREAL": {
        **_COMMON,
        "axis_forward": "-Z",
        "axis_up": "Y",
        "apply_unit_scale": True,
        "apply_scale_options": "FBX_SCALE_NONE",
        "add_leaf_bones": False,
        "primary_bone_axis": "Y",
        "secondary_bone_axis": "X",
    },
    # Blender's defaults.
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


def export_fbx(context: bpy.types.Context, armature: bpy.types.Object, filepath: str, preset: str) -> None:
    """Write the armature (and its meshes) with its current Action baked to `filepath`."""
    if armature is None or armature.type != "ARMATURE":
        raise ExportError("pick the armature to export in the Mocap panel.")
    if preset not in FBX_PRESETS:
        raise ExportError(f"unknown FBX preset {preset!r}.")
    if not hasattr(bpy.ops.export_scene, "fbx"):
        raise ExportError("Blender's FBX add-on is disabled; enable it in Preferences > Add-ons.")
    objects = export_objects(armature)
    with context.temp_override(selected_objects=objects, active_object=armature, object=armature):
        result = bpy.ops.export_scene.fbx(filepath=filepath, check_existing=False, **FBX_PRESETS[preset])
    if "FINISHED" not in result:
        raise ExportError("the FBX export did not finish; see Blender's info log.")


def export_bvh(context: bpy.types.Context, armature: bpy.types.Object, filepath: str) -> int:
    """Sample the armature's pose over the scene's frame range and write it as BVH; returns the frame count."""
    if armature is None or armature.type != "ARMATURE":
        raise ExportError("pick the armature to export in the Mocap panel.")
    scene = context.scene
    try:
        rest, anim = armature_io.sample_animation(armature, scene, scene.frame_start, scene.frame_end)
        write_bvh(filepath, rest, anim)
    except (RetargetError, armature_io.ArmatureError) as exc:
        raise ExportError(str(exc)) from None
    return anim.num_frames
