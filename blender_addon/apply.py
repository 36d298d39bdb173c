"""Motion3D -> keys on an armature in the scene: gather inputs, call retarget (pure numpy), then write.

Everything is computed before the scene is touched; if writing fails half way, what was created is removed
and what was changed is put back, so a failure leaves the scene as it was. Success is one operator, i.e. one
undo step.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import bpy
import numpy as np

from . import armature_io, rig_check
from .camera_match import camera_setup, create_camera
from .retarget.errors import RetargetError
from .retarget.motion3d import Motion3D
from .retarget.pipeline import RetargetConfig, RetargetResult, retarget, retarget_onto_ours
from .retarget.presets import bone_map_for


class ApplyError(Exception):
    """A problem applying a motion that the user can fix, in one sentence."""


@dataclass(frozen=True)
class ApplyOptions:
    """preset: rig preset name or None (detect); key_frame_start: scene frame of the first key;
    video_first_frame: the video frame the motion starts at (for the camera background); fingers: key the
    rig's finger bones from the motion's finger angles when it has them (`RetargetConfig.fingers`; default on,
    off leaves them unkeyed)."""

    preset: str | None = None
    smoothing: float = 0.0
    foot_lock: bool = True
    fingers: bool = True
    key_frame_start: int = 1
    match_fps: bool = True
    match_camera: bool = True
    video_path: str = ""
    video_first_frame: int = 0
    name: str = "Mocap"


@dataclass(frozen=True)
class ApplyReport:
    armature: str
    action: str
    camera: str | None
    frames: int
    frame_end: int
    preset: str
    root_scale: float
    result: RetargetResult
    check: rig_check.FollowReport | None = None
    warning: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def summary(self) -> str:
        """What the rig inspection did and how closely the deform bones followed, for the report."""
        parts = list(self.notes)
        if self.check is not None:
            parts.append(self.check.summary())
        text = "; ".join(parts)
        return (text[:1].upper() + text[1:] + ".") if text else ""


def fps_settings(fps: float) -> tuple[int, float]:
    """Blender's (render.fps, render.fps_base) for a frame rate: 30 -> (30, 1), 29.97 -> (30, 1.001)."""
    for base in (1.0, 1.001):
        n = round(fps * base)
        if n >= 1 and abs(n / base - fps) < 1e-3:
            return n, base
    n = max(1, round(fps))
    return n, n / fps


def load_motion(path: str) -> Motion3D:
    try:
        return Motion3D.load(bpy.path.abspath(path))
    except RetargetError as exc:
        raise ApplyError(str(exc)) from None


def apply_motion(
    context: bpy.types.Context, motion: Motion3D, target: bpy.types.Object | None, options: ApplyOptions
) -> ApplyReport:
    """Retarget `motion` onto `target` (None: create our armature) as a new Action; see module docstring."""
    scene = context.scene
    # 1. Compute (no scene change).
    try:
        matrix = np.eye(4) if target is None else np.array(target.matrix_world, dtype=np.float64)
        config = RetargetConfig(
            preset=options.preset,
            armature_matrix=tuple(tuple(float(v) for v in row) for row in matrix),
            smoothing=options.smoothing,
            foot_lock=options.foot_lock,
            fingers=options.fingers,
        )
        if target is None:
            rest, result = retarget_onto_ours(motion, config)
            rig = rig_check.RigPlan(result.bone_map)
        else:
            rest = armature_io.rest_skeleton(target)
            rig = rig_check.prepare(target, rest, bone_map_for(rest.names, options.preset))
            result = retarget(motion, rest, replace(config, bone_map=rig.bone_map))
    except (RetargetError, armature_io.ArmatureError, rig_check.RigError) as exc:
        raise ApplyError(str(exc)) from None
    anim = result.animation
    scene_fps = scene.render.fps / scene.render.fps_base
    step = 1.0 if options.match_fps else scene_fps / anim.fps
    frame_end = options.key_frame_start + math.ceil((anim.num_frames - 1) * step - 1e-6)

    # 2. Write, undoing by hand if anything fails.
    undo: list[Callable[[], None]] = []
    created: list[bpy.types.ID] = []
    try:
        if target is None:
            if context.mode != "OBJECT":
                bpy.ops.object.mode_set(mode="OBJECT")
            target = armature_io.create_armature(context, rest, f"{options.name} Armature")
            created += [target, target.data]
        adt = target.animation_data
        previous = None if adt is None else adt.action
        previous_fake = None if previous is None else previous.use_fake_user
        modes = {pb.name: pb.rotation_mode for pb in target.pose.bones}

        def restore_target(obj: bpy.types.Object = target) -> None:
            for name, mode in modes.items():
                obj.pose.bones[name].rotation_mode = mode
            if obj.animation_data is not None:
                obj.animation_data.action = previous
            if previous is not None and previous_fake is not None:
                previous.use_fake_user = previous_fake

        undo.append(restore_target)
        switched = {s.data_path: rig_check.read_switch(target, s) for s in rig.switches}

        def restore_switches(obj: bpy.types.Object = target) -> None:
            for s in rig.switches:
                rig_check.write_switch(obj, s, switched[s.data_path])

        undo.append(restore_switches)
        action = armature_io.write_animation(
            target,
            anim,
            frame_start=options.key_frame_start,
            frame_step=step,
            action_name=f"{options.name} Action",
            constants=tuple((s.data_path, s.index, s.group, s.value) for s in rig.switches),
        )
        created.append(action)
        check = None
        warning = None
        if result.rig_joints is not None:
            check = rig_check.measure(
                target,
                scene,
                rest,
                result.bone_map,
                anim,
                result.rig_joints,
                motion.index,
                result.root_scale,
                options.key_frame_start,
                step,
            )
            error, warning = rig_check.verdict(check)
            if error is not None:
                raise rig_check.RigError(error)
        render = scene.render
        saved = (scene.frame_start, scene.frame_end, render.fps, render.fps_base, scene.camera)
        saved_res = (render.resolution_x, render.resolution_y, render.pixel_aspect_x, render.pixel_aspect_y)

        def restore_scene() -> None:
            scene.frame_start, scene.frame_end, render.fps, render.fps_base, scene.camera = saved
            (render.resolution_x, render.resolution_y, render.pixel_aspect_x, render.pixel_aspect_y) = (
                saved_res
            )

        undo.append(restore_scene)
        if options.match_fps:
            render.fps, render.fps_base = fps_settings(anim.fps)
        scene.frame_start = options.key_frame_start
        scene.frame_end = frame_end
        camera_name = None
        if options.match_camera:
            rest_toes = result.bone_map.rest_sites(rest, ["l_toe", "r_toe"])
            lin = matrix[:3, :3]
            toe_z = 0.5 * ((lin @ rest_toes["l_toe"])[2] + (lin @ rest_toes["r_toe"])[2])
            offset = matrix[:3, 3] + np.array([0.0, 0.0, toe_z])
            setup = camera_setup(motion.intrinsics, result.placement, result.root_scale, offset)
            cam, clip = create_camera(
                scene,
                setup,
                f"{options.name} Camera",
                bpy.path.abspath(options.video_path) if options.video_path else None,
                options.key_frame_start - options.video_first_frame,
            )
            created += [cam, cam.data] + ([clip] if clip is not None and clip.users == 1 else [])
            render.resolution_x, render.resolution_y = setup.width, setup.height
            render.pixel_aspect_x = render.pixel_aspect_y = 1.0
            scene.camera = cam
            camera_name = cam.name
    except Exception as exc:
        for fn in reversed(undo):
            try:
                fn()
            except Exception:  # best effort: put back what can be put back
                pass
        for idb in reversed(created):
            _remove_id(idb)
        if isinstance(exc, (RetargetError, armature_io.ArmatureError, rig_check.RigError)):
            raise ApplyError(str(exc)) from None
        raise
    return ApplyReport(
        armature=target.name,
        action=action.name,
        camera=camera_name,
        frames=anim.num_frames,
        frame_end=frame_end,
        preset=result.bone_map.preset,
        root_scale=result.root_scale,
        result=result,
        check=check,
        warning=warning,
        notes=rig.notes,
    )


def _remove_id(idb: bpy.types.ID) -> None:
    collections = {
        bpy.types.Object: bpy.data.objects,
        bpy.types.Armature: bpy.data.armatures,
        bpy.types.Action: bpy.data.actions,
        bpy.types.Camera: bpy.data.cameras,
        bpy.types.MovieClip: bpy.data.movieclips,
    }
    for cls, coll in collections.items():
        if isinstance(idb, cls):
            try:
                coll.remove(idb)
            except (ReferenceError, RuntimeError):
                pass
            return


def motion_label(video_path: str) -> str:
    """'Mocap <video name>' for naming the Action, armature and camera."""
    stem = Path(bpy.path.abspath(video_path)).name.split(".")[0] if video_path else ""
    return f"Mocap {stem}".strip()
