"""The sidebar tab "Mocap" in the 3D viewport."""

from __future__ import annotations

from typing import Any

import bpy


class _MocapPanel:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Mocap"


class MOCAP_UL_clips(bpy.types.UIList):
    def draw_item(
        self,
        context: Any,
        layout: Any,
        data: Any,
        item: Any,
        icon: int,
        active_data: Any,
        active_propname: str,
        index: int = 0,
        flt_flag: int = 0,
    ) -> None:
        layout.label(text=bpy.path.basename(item.path) or "(no file)", icon="FILE_MOVIE")


class MOCAP_PT_main(_MocapPanel, bpy.types.Panel):
    bl_label = "Video Mocap"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        settings = context.scene.video_mocap
        status = context.window_manager.video_mocap_status
        col = layout.column()
        col.prop(settings, "video_path", text="")
        row = col.row(align=True)
        row.prop(settings, "frame_first")
        row.prop(settings, "frame_last")
        self.draw_person(col, settings)
        col.prop(settings, "armature")
        if settings.armature is None:
            col.label(text="An armature will be created", icon="INFO")
        else:
            col.prop(settings, "preset")
        col.separator()
        if status.running:
            col.progress(factor=status.progress, text=status.message or status.stage)
            col.operator("mocap.cancel", icon="CANCEL")
        else:
            col.operator("mocap.video_to_animation", icon="ARMATURE_DATA")
            if status.message and status.task in ("pipeline", "lift", "detect", "finetune", "people"):
                col.label(text=status.message)

    @staticmethod
    def draw_person(col: bpy.types.UILayout, settings: Any) -> None:
        """Find People, the numbered picture, and one button per person (Auto lets detection choose)."""
        row = col.row(align=True)
        row.operator("mocap.find_people", icon="VIEWZOOM")
        row.prop(settings, "people_at")
        if not settings.people or not settings.in_range(settings.people_frame):
            return
        image = bpy.data.images.get(settings.people_image) if settings.people_image else None
        if image is not None:
            image.preview_ensure()
            col.template_icon(icon_value=image.preview.icon_id, scale=8.0)
        row = col.row(align=True)
        row.label(text="Follow:")
        auto = row.operator("mocap.pick_person", text="Auto", depress=settings.subject == 0)
        auto.number = 0
        for person in settings.people:
            op = row.operator(
                "mocap.pick_person", text=str(person.number), depress=settings.subject == person.number
            )
            op.number = person.number


class MOCAP_PT_options(_MocapPanel, bpy.types.Panel):
    bl_label = "Options"
    bl_parent_id = "MOCAP_PT_main"
    bl_options = {"DEFAULT_CLOSED"}  # noqa: RUF012 (Blender reads a set)

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.use_property_split = True
        settings = context.scene.video_mocap
        layout.prop(settings, "camera_mode")
        if settings.camera_mode == "FOV":
            layout.prop(settings, "fov_deg")
        elif settings.camera_mode == "FOCAL":
            layout.prop(settings, "focal_mm")
            layout.prop(settings, "sensor_mm")
        layout.prop(settings, "smoothing", slider=True)
        layout.prop(settings, "foot_lock")
        layout.prop(settings, "constant_bones")
        layout.prop(settings, "refine")
        layout.prop(settings, "hands")
        layout.prop(settings, "fingers")
        layout.prop(settings, "key_frame_start")
        layout.prop(settings, "match_fps")
        layout.prop(settings, "match_camera")


class MOCAP_PT_steps(_MocapPanel, bpy.types.Panel):
    bl_label = "Step by Step"
    bl_parent_id = "MOCAP_PT_main"
    bl_options = {"DEFAULT_CLOSED"}  # noqa: RUF012 (Blender reads a set)

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        settings = context.scene.video_mocap
        busy = context.window_manager.video_mocap_status.running
        row = layout.row(align=True)
        row.enabled = not busy
        row.operator("mocap.detect", text="1. Detect")
        row.operator("mocap.lift", text="2. Lift")
        layout.prop(settings, "motion_path", text="")
        layout.operator("mocap.apply_motion", text="3. Apply", icon="ACTION")


class MOCAP_PT_export(_MocapPanel, bpy.types.Panel):
    bl_label = "Export"
    bl_parent_id = "MOCAP_PT_main"
    bl_options = {"DEFAULT_CLOSED"}  # noqa: RUF012 (Blender reads a set)

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        settings = context.scene.video_mocap
        layout.prop(settings, "export_preset")
        op = layout.operator("mocap.export_fbx", icon="EXPORT")
        op.preset = settings.export_preset
        layout.operator("mocap.export_bvh", icon="EXPORT")


class MOCAP_PT_finetune(_MocapPanel, bpy.types.Panel):
    bl_label = "Fine-tuning"
    bl_parent_id = "MOCAP_PT_main"
    bl_options = {"DEFAULT_CLOSED"}  # noqa: RUF012 (Blender reads a set)

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        settings = context.scene.video_mocap
        row = layout.row()
        row.template_list(
            "MOCAP_UL_clips", "", settings, "finetune_clips", settings, "finetune_index", rows=3
        )
        col = row.column(align=True)
        col.operator("mocap.clip_add", icon="ADD", text="")
        col.operator("mocap.clip_remove", icon="REMOVE", text="")
        sub = layout.row()
        sub.enabled = not context.window_manager.video_mocap_status.running
        sub.operator("mocap.finetune", icon="MODIFIER")
        if settings.finetune_report:
            box = layout.box()
            for line in settings.finetune_report.splitlines():
                box.label(text=line)


CLASSES = (
    MOCAP_UL_clips,
    MOCAP_PT_main,
    MOCAP_PT_options,
    MOCAP_PT_steps,
    MOCAP_PT_export,
    MOCAP_PT_finetune,
)
