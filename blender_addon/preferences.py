"""Add-on preferences: the engine (installed by the add-on or the user's own Python), device, weights."""

from __future__ import annotations

import bpy
from bpy.props import EnumProperty, StringProperty

from . import paths


class MOCAP_AP_preferences(bpy.types.AddonPreferences):
    bl_idname = paths.ADDON_ID

    engine_source: EnumProperty(  # type: ignore[valid-type]
        name="Engine",
        items=(
            ("MANAGED", "Installed by the Add-on", "A virtual environment in the add-on's user folder"),
            ("CUSTOM", "My Own Python", "A Python that already has the engine's packages"),
        ),
        default="MANAGED",
    )
    python_path: StringProperty(  # type: ignore[valid-type]
        name="Python",
        description="Interpreter with torch, mediapipe and opencv installed",
        subtype="FILE_PATH",
    )
    device: EnumProperty(  # type: ignore[valid-type]
        name="Device",
        items=(
            ("AUTO", "Auto", "The NVIDIA GPU when the engine sees one, else the CPU"),
            ("CUDA", "CUDA", "The NVIDIA GPU"),
            ("CPU", "CPU", "The processor"),
        ),
        default="AUTO",
    )
    weights_path: StringProperty(  # type: ignore[valid-type]
        name="Weights",
        description="Custom model weights (.safetensors with its .json), e.g. from fine-tuning; empty: shipped",
        subtype="FILE_PATH",
    )

    def engine_python(self) -> str:
        """The interpreter that runs the worker ('' when none is configured)."""
        if self.engine_source == "CUSTOM":
            return bpy.path.abspath(self.python_path) if self.python_path else ""
        return str(paths.managed_python())

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        status = context.window_manager.video_mocap_status
        col = layout.column()
        col.prop(self, "engine_source")
        if self.engine_source == "CUSTOM":
            col.prop(self, "python_path")
        else:
            col.label(text=f"Location: {paths.managed_venv()}")
        row = col.row(align=True)
        row.operator("mocap.install_engine", icon="IMPORT")
        if paths.managed_python().exists():
            row.operator("mocap.install_engine", text="Repair Engine", icon="TOOL_SETTINGS").repair = True
        row.operator("mocap.check_engine", icon="CHECKMARK")
        if status.running and status.task in ("install", "check"):
            col.progress(factor=status.progress, text=status.message or status.stage)
            col.operator("mocap.cancel", icon="CANCEL")
        elif status.message and status.task in ("install", "check"):
            col.label(text=status.message)
        for line in status.engine_info.split(" | ") if status.engine_info else ():
            col.label(text=line)
        if status.last_log:
            col.label(text=f"Log: {status.last_log}")
        col.separator()
        col.prop(self, "device")
        col.prop(self, "weights_path")


def preferences(context: bpy.types.Context) -> MOCAP_AP_preferences:
    return context.preferences.addons[paths.ADDON_ID].preferences
