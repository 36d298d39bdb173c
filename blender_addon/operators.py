"""Operators: gather inputs, run a task or call pure code, write to Blender, report one sentence.

Engine operators are modal on a timer when invoked from the UI (stage and percentage in the panel, the status
bar and the window manager's progress; Esc or Cancel stops them) and run to completion when called from a
script or in background mode (`bpy.ops.mocap.video_to_animation()`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import bpy
from bpy.props import BoolProperty, CollectionProperty, EnumProperty, IntProperty, StringProperty
from bpy_extras.io_utils import ExportHelper, ImportHelper

from .export import ExportError, export_bvh, export_fbx
from .properties import EXPORT_PRESETS
from .tasks import (
    CheckTask,
    DetectTask,
    FinetuneTask,
    InstallTask,
    LiftTask,
    PeopleTask,
    TaskError,
    apply_file,
    apply_options,
    target_armature,
)
from .worker_client import Outcome

POLL_SECONDS = 0.1


def _status(context: bpy.types.Context) -> Any:
    return context.window_manager.video_mocap_status


def _redraw(context: bpy.types.Context) -> None:
    wm = context.window_manager
    for window in wm.windows:
        for area in window.screen.areas:
            if area.type in ("VIEW_3D", "PREFERENCES"):
                area.tag_redraw()


class _TaskOperator:
    """Mixin driving a task (see tasks.py): modal with a timer from the UI, a blocking loop otherwise."""

    task_kind = "task"

    def make_task(self, context: bpy.types.Context) -> Any:
        raise NotImplementedError

    # -- shared ---------------------------------------------------------------------------------------------
    def _begin(self, context: bpy.types.Context) -> bool:
        status = _status(context)
        if status.running:
            self.report({"ERROR"}, "Another mocap task is running; wait for it or cancel it.")
            return False
        self._task = self.make_task(context)
        try:
            self._task.start(context)
        except TaskError as exc:
            self.report({"ERROR"}, str(exc))
            return False
        status.running = True
        status.cancel_requested = False
        status.task = self.task_kind
        status.stage = self._task.stage
        status.progress = 0.0
        status.message = self._task.message
        status.last_log = str(self._task.log_path or "")
        return True

    def _update(self, context: bpy.types.Context) -> Outcome | None:
        outcome = self._task.step(context)
        status = _status(context)
        status.progress = self._task.fraction
        status.stage = self._task.stage
        status.message = self._task.message
        return outcome

    def _end(self, context: bpy.types.Context, outcome: Outcome) -> set[str]:
        status = _status(context)
        status.running = False
        status.cancel_requested = False
        status.progress = 0.0
        try:
            message = self._task.finish(context, outcome)
        except TaskError as exc:
            status.message = str(exc)
            level = "WARNING" if outcome.status == "cancelled" else "ERROR"
            self.report({level}, str(exc))
            return {"CANCELLED"}
        status.message = message
        self.report({"WARNING"} if getattr(self._task, "warnings", None) else {"INFO"}, message)
        return {"FINISHED"}

    # -- blocking ---------------------------------------------------------------------------------------------
    def execute(self, context: bpy.types.Context) -> set[str]:
        if not self._begin(context):
            return {"CANCELLED"}
        try:
            while (outcome := self._update(context)) is None:
                time.sleep(POLL_SECONDS / 2)
        except BaseException:
            self._task.cancel()
            _status(context).running = False
            raise
        return self._end(context, outcome)

    # -- modal --------------------------------------------------------------------------------------------------
    def invoke(self, context: bpy.types.Context, event: Any) -> set[str]:
        if bpy.app.background or context.window is None:
            return self.execute(context)
        if not self._begin(context):
            return {"CANCELLED"}
        wm = context.window_manager
        self._timer = wm.event_timer_add(POLL_SECONDS, window=context.window)
        wm.modal_handler_add(self)
        wm.progress_begin(0, 100)
        return {"RUNNING_MODAL"}

    def modal(self, context: bpy.types.Context, event: Any) -> set[str]:
        status = _status(context)
        try:
            if event.type == "ESC" or status.cancel_requested:
                self._task.cancel()
            elif event.type != "TIMER":
                return {"PASS_THROUGH"}
            outcome = self._update(context)
            pct = round(100 * self._task.fraction)
            context.window_manager.progress_update(pct)
            if context.workspace is not None:
                context.workspace.status_text_set(f"Mocap: {self._task.message}  (Esc to cancel)")
            _redraw(context)
            if outcome is None:
                return {"RUNNING_MODAL"}
        except BaseException:
            self._task.cancel()
            self._cleanup(context)
            status.running = False
            raise
        self._cleanup(context)
        result = self._end(context, outcome)
        _redraw(context)
        return result

    def cancel(self, context: bpy.types.Context) -> None:
        """Blender dropped the running modal operator (its window closed, another file loaded): stop the task's
        process and clear the "running" state, so the next task can start; the scene is left as it was."""
        task = getattr(self, "_task", None)
        if task is not None:
            task.cancel()
        status = _status(context)
        status.running = False
        status.cancel_requested = False
        status.progress = 0.0
        status.message = "Cancelled: Blender stopped the task (a window closed or another file was loaded)."
        self._cleanup(context)

    def _cleanup(self, context: bpy.types.Context) -> None:
        wm = context.window_manager
        if getattr(self, "_timer", None) is not None:
            wm.event_timer_remove(self._timer)
            self._timer = None
        if context.window is not None:
            wm.progress_end()
        if context.workspace is not None:
            context.workspace.status_text_set(None)


class MOCAP_OT_video_to_animation(_TaskOperator, bpy.types.Operator):
    """Detect, lift and retarget the video onto the armature as a new Action, with a matching camera"""

    bl_idname = "mocap.video_to_animation"
    bl_label = "Video to Animation"
    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012 (Blender reads a set)
    task_kind = "pipeline"

    def make_task(self, context: bpy.types.Context) -> LiftTask:
        return LiftTask(apply=True)


class MOCAP_OT_lift(_TaskOperator, bpy.types.Operator):
    """Run detection and the 3D model on the video and save a motion file (no keys yet)"""

    bl_idname = "mocap.lift"
    bl_label = "Lift"
    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012 (Blender reads a set)
    task_kind = "lift"

    def make_task(self, context: bpy.types.Context) -> LiftTask:
        return LiftTask(apply=False)


class MOCAP_OT_detect(_TaskOperator, bpy.types.Operator):
    """Detect the person's 2D keypoints in the video and cache them"""

    bl_idname = "mocap.detect"
    bl_label = "Detect"
    task_kind = "detect"

    def make_task(self, context: bpy.types.Context) -> DetectTask:
        return DetectTask()


class MOCAP_OT_find_people(_TaskOperator, bpy.types.Operator):
    """Find everyone on one frame of the range (On Frame, 0: the first) and number them, to choose whom to follow"""

    bl_idname = "mocap.find_people"
    bl_label = "Find People"
    task_kind = "people"

    def make_task(self, context: bpy.types.Context) -> PeopleTask:
        return PeopleTask()


class MOCAP_OT_pick_person(bpy.types.Operator):
    """Follow this person (0: let detection choose the largest, most central one)"""

    bl_idname = "mocap.pick_person"
    bl_label = "Pick Person"
    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012 (Blender reads a set)

    number: IntProperty(name="Number", min=0, default=0)  # type: ignore[valid-type]

    def execute(self, context: bpy.types.Context) -> set[str]:
        settings = context.scene.video_mocap
        if self.number and not any(p.number == self.number for p in settings.people):
            self.report({"ERROR"}, f"There is no person {self.number}; press Find People first.")
            return {"CANCELLED"}
        settings.subject = self.number
        which = f"person {self.number}" if self.number else "the largest, most central person"
        self.report({"INFO"}, f"Detection will follow {which}.")
        return {"FINISHED"}


class MOCAP_OT_check_engine(_TaskOperator, bpy.types.Operator):
    """Show the engine's versions and the device it will use"""

    bl_idname = "mocap.check_engine"
    bl_label = "Check Engine"
    task_kind = "check"

    def make_task(self, context: bpy.types.Context) -> CheckTask:
        return CheckTask()


class MOCAP_OT_install_engine(_TaskOperator, bpy.types.Operator):
    """Download and install the engine (PyTorch, MediaPipe, OpenCV) into its own environment, unless it is up to date"""

    bl_idname = "mocap.install_engine"
    bl_label = "Install Engine"
    task_kind = "install"

    repair: BoolProperty(  # type: ignore[valid-type]
        name="Repair",
        description="Reinstall the engine from scratch even when it is installed and up to date",
        default=False,
        options={"SKIP_SAVE"},
    )

    @classmethod
    def description(cls, context: bpy.types.Context, properties: Any) -> str:
        if properties.repair:
            return (
                "Reinstall the engine from scratch (downloads everything again); the working engine stays until "
                "the new one has passed its check"
            )
        return str(cls.__doc__)

    def make_task(self, context: bpy.types.Context) -> InstallTask:
        return InstallTask(repair=self.repair)


class MOCAP_OT_finetune(_TaskOperator, bpy.types.Operator):
    """Fine-tune the model on the listed clips; the result becomes the active weights"""

    bl_idname = "mocap.finetune"
    bl_label = "Fine-tune on Clips"
    task_kind = "finetune"

    def make_task(self, context: bpy.types.Context) -> FinetuneTask:
        return FinetuneTask()


class MOCAP_OT_cancel(bpy.types.Operator):
    """Stop the running mocap task"""

    bl_idname = "mocap.cancel"
    bl_label = "Cancel"

    def execute(self, context: bpy.types.Context) -> set[str]:
        status = _status(context)
        if status.running:
            status.cancel_requested = True
        return {"FINISHED"}


class MOCAP_OT_apply_motion(bpy.types.Operator):
    """Key a motion file onto the armature as a new Action"""

    bl_idname = "mocap.apply_motion"
    bl_label = "Apply"
    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012 (Blender reads a set)

    filepath: StringProperty(name="Motion File", subtype="FILE_PATH", default="")  # type: ignore[valid-type]

    def execute(self, context: bpy.types.Context) -> set[str]:
        settings = context.scene.video_mocap
        path = self.filepath or settings.motion_path
        if not path:
            self.report({"ERROR"}, "Choose a motion file (.motion.npz) first, or run Lift.")
            return {"CANCELLED"}
        try:
            label = "Mocap " + Path(bpy.path.abspath(path)).name.split(".")[0]
            message = apply_file(context, path, target_armature(settings), apply_options(settings, label))
        except TaskError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, message)
        return {"FINISHED"}


def _export_target(context: bpy.types.Context) -> Any:
    settings = context.scene.video_mocap
    obj = settings.armature
    if obj is None and context.active_object is not None and context.active_object.type == "ARMATURE":
        obj = context.active_object
    return obj


class MOCAP_OT_export_fbx(bpy.types.Operator, ExportHelper):
    """Bake the armature's animation and export it as FBX for a game engine"""

    bl_idname = "mocap.export_fbx"
    bl_label = "Bake & Export FBX"
    filename_ext = ".fbx"
    filter_glob: StringProperty(default="*.fbx", options={"HIDDEN"})  # type: ignore[valid-type]
    preset: EnumProperty(name="Target", items=EXPORT_PRESETS, default="GENERIC")  # type: ignore[valid-type]

    def invoke(self, context: bpy.types.Context, event: Any) -> set[str]:
        self.preset = context.scene.video_mocap.export_preset
        return ExportHelper.invoke(self, context, event)

    def execute(self, context: bpy.types.Context) -> set[str]:
        try:
            export_fbx(context, _export_target(context), self.filepath, self.preset)
        except ExportError as exc:
            self.report({"ERROR"}, _cap(str(exc)))
            return {"CANCELLED"}
        self.report({"INFO"}, f"Exported {self.filepath!r}.")
        return {"FINISHED"}


class MOCAP_OT_export_bvh(bpy.types.Operator, ExportHelper):
    """Export the armature's animation over the scene's frame range as BVH"""

    bl_idname = "mocap.export_bvh"
    bl_label = "Export BVH"
    filename_ext = ".bvh"
    filter_glob: StringProperty(default="*.bvh", options={"HIDDEN"})  # type: ignore[valid-type]

    def execute(self, context: bpy.types.Context) -> set[str]:
        try:
            frames = export_bvh(context, _export_target(context), self.filepath)
        except ExportError as exc:
            self.report({"ERROR"}, _cap(str(exc)))
            return {"CANCELLED"}
        self.report({"INFO"}, f"Exported {frames} frames to {self.filepath!r}.")
        return {"FINISHED"}


class MOCAP_OT_clip_add(bpy.types.Operator, ImportHelper):
    """Add videos to the fine-tuning list"""

    bl_idname = "mocap.clip_add"
    bl_label = "Add Clips"
    files: CollectionProperty(type=bpy.types.OperatorFileListElement, options={"HIDDEN", "SKIP_SAVE"})  # type: ignore[valid-type]
    directory: StringProperty(subtype="DIR_PATH")  # type: ignore[valid-type]

    def execute(self, context: bpy.types.Context) -> set[str]:
        clips = context.scene.video_mocap.finetune_clips
        names = [f.name for f in self.files if f.name] or (
            [Path(self.filepath).name] if self.filepath else []
        )
        folder = Path(self.directory) if self.directory else Path(self.filepath).parent
        for name in names:
            clips.add().path = str(folder / name)
        context.scene.video_mocap.finetune_index = len(clips) - 1
        return {"FINISHED"}


class MOCAP_OT_clip_remove(bpy.types.Operator):
    """Remove the selected video from the fine-tuning list"""

    bl_idname = "mocap.clip_remove"
    bl_label = "Remove Clip"

    def execute(self, context: bpy.types.Context) -> set[str]:
        settings = context.scene.video_mocap
        if 0 <= settings.finetune_index < len(settings.finetune_clips):
            settings.finetune_clips.remove(settings.finetune_index)
            settings.finetune_index = max(0, settings.finetune_index - 1)
        return {"FINISHED"}


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


CLASSES = (
    MOCAP_OT_video_to_animation,
    MOCAP_OT_lift,
    MOCAP_OT_detect,
    MOCAP_OT_find_people,
    MOCAP_OT_pick_person,
    MOCAP_OT_check_engine,
    MOCAP_OT_install_engine,
    MOCAP_OT_finetune,
    MOCAP_OT_cancel,
    MOCAP_OT_apply_motion,
    MOCAP_OT_export_fbx,
    MOCAP_OT_export_bvh,
    MOCAP_OT_clip_add,
    MOCAP_OT_clip_remove,
)
