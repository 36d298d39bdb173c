"""Every class the add-on registers, in order, and the properties it adds to Blender's types."""

from __future__ import annotations

import bpy

from . import operators, panels, preferences, properties

CLASSES = (
    *properties.CLASSES,
    preferences.MOCAP_AP_preferences,
    *operators.CLASSES,
    *panels.CLASSES,
)


def register() -> None:
    done = []
    try:
        for cls in CLASSES:
            bpy.utils.register_class(cls)
            done.append(cls)
        properties.register_properties()
    except Exception:
        for cls in reversed(done):  # leave Blender as it was
            bpy.utils.unregister_class(cls)
        raise


def unregister() -> None:
    properties.unregister_properties()
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
