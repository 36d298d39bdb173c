"""Settings stored in the scene (saved with the .blend) and run status kept on the window manager
(never saved, never part of undo, so a run in progress or a cancelled one leaves the scene untouched)."""

from __future__ import annotations

import bpy
from bpy.props import (
    BoolProperty,
    CollectionProperty,
    EnumProperty,
    FloatProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)

from .retarget.presets import preset_data, preset_names

EXPORT_PRESETS = (
    ("UNITY", "Unity", "Humanoid rig for Unity: deform bones only, Y up, no leaf bones, unit scale applied"),
    ("UNREAL", "Unreal", "Skeletal mesh for Unreal: deform bones only, no leaf bones or extra root scale"),
    ("GENERIC", "Generic", "Blender's default FBX settings, every bone, with leaf bones"),
)


def _preset_items(_self: object, _context: object) -> list[tuple[str, str, str]]:
    items = [("AUTO", "Detect", "Recognise the rig from its bone names")]
    for name in preset_names():
        items.append((name, str(preset_data(name)["LABEL"]), f"Bone names of the {name} preset"))
    return items


_PRESET_ITEMS = _preset_items(None, None)  # EnumProperty keeps a reference to a static list


def _is_armature(_self: object, obj: bpy.types.Object) -> bool:
    return obj.type == "ARMATURE"


class MOCAP_PG_clip(bpy.types.PropertyGroup):
    """One video of the fine-tuning list."""

    path: StringProperty(name="Video", subtype="FILE_PATH")  # type: ignore[valid-type]


class MOCAP_PG_person(bpy.types.PropertyGroup):
    """One person Find People found: their number in the picture and the point (hip centre, video pixels) that
    picks them."""

    number: IntProperty(default=0)  # type: ignore[valid-type]
    x: FloatProperty(default=0.0)  # type: ignore[valid-type]
    y: FloatProperty(default=0.0)  # type: ignore[valid-type]


class MOCAP_PG_settings(bpy.types.PropertyGroup):
    """What the panel edits: `scene.video_mocap`."""

    video_path: StringProperty(  # type: ignore[valid-type]
        name="Video", description="The video to capture motion from", subtype="FILE_PATH"
    )
    frame_first: IntProperty(  # type: ignore[valid-type]
        name="First", description="First video frame to use (0 = the first)", min=0, default=0
    )
    frame_last: IntProperty(  # type: ignore[valid-type]
        name="Last", description="Last video frame to use (0 = to the end)", min=0, default=0
    )
    armature: PointerProperty(  # type: ignore[valid-type]
        name="Armature",
        description="Armature to animate; empty: create one with the person's proportions",
        type=bpy.types.Object,
        poll=_is_armature,
    )
    preset: EnumProperty(name="Rig", description="How the armature's bones are named", items=_PRESET_ITEMS)  # type: ignore[valid-type]
    camera_mode: EnumProperty(  # type: ignore[valid-type]
        name="Camera",
        items=(
            ("AUTO", "Default", "Assume the engine's default field of view"),
            ("FOV", "Field of View", "The camera's horizontal field of view"),
            ("FOCAL", "Focal Length", "The lens' focal length and the sensor width"),
        ),
        default="AUTO",
    )
    fov_deg: FloatProperty(name="Field of View", min=5.0, max=170.0, default=60.0, subtype="NONE")  # type: ignore[valid-type]
    focal_mm: FloatProperty(name="Focal Length", min=1.0, max=2000.0, default=26.0, unit="CAMERA")  # type: ignore[valid-type]
    sensor_mm: FloatProperty(name="Sensor Width", min=1.0, max=200.0, default=36.0, unit="CAMERA")  # type: ignore[valid-type]
    smoothing: FloatProperty(  # type: ignore[valid-type]
        name="Smoothing", description="Strength of temporal smoothing", min=0.0, max=1.0, default=0.3
    )
    foot_lock: BoolProperty(name="Lock Feet", description="Keep planted feet still", default=True)  # type: ignore[valid-type]
    constant_bones: BoolProperty(  # type: ignore[valid-type]
        name="Constant Bone Lengths",
        description="Give every bone one length for the whole clip (off: the network's raw per-frame lengths, unrefined)",
        default=True,
    )
    refine: BoolProperty(  # type: ignore[valid-type]
        name="Refine",
        description="Per-clip self-correction against the 2D keypoints: truer poses and depth, a few seconds more per minute of video",
        default=True,
    )
    hands: BoolProperty(  # type: ignore[valid-type]
        name="Hands",
        description="Also detect 21 landmarks per hand (detection takes about 1.5 times as long)",
        default=False,
    )
    fingers: BoolProperty(  # type: ignore[valid-type]
        name="Fingers",
        description=(
            "Key the rig's finger bones from the hands when the motion has them (detected with Hands); "
            "off: the fingers are left as they are"
        ),
        default=True,
    )
    key_frame_start: IntProperty(name="Start Frame", description="Scene frame of the first key", default=1)  # type: ignore[valid-type]
    match_fps: BoolProperty(  # type: ignore[valid-type]
        name="Match Frame Rate", description="Set the scene's frame rate to the video's", default=True
    )
    match_camera: BoolProperty(  # type: ignore[valid-type]
        name="Match Camera",
        description="Add a camera matching the video, with the video as background",
        default=True,
    )
    motion_path: StringProperty(  # type: ignore[valid-type]
        name="Motion File",
        description="A .motion.npz made by Lift (or the command line)",
        subtype="FILE_PATH",
    )
    export_preset: EnumProperty(name="Target", items=EXPORT_PRESETS, default="GENERIC")  # type: ignore[valid-type]
    people: CollectionProperty(type=MOCAP_PG_person)  # type: ignore[valid-type]
    people_at: IntProperty(  # type: ignore[valid-type]
        name="On Frame",
        description=(
            "Video frame on which Find People looks for people, inside the range (0: the range's first frame); "
            "the person picked there is followed over the whole range"
        ),
        min=0,
        default=0,
    )
    # Where Find People looked (video frame, video path) and the name of its numbered picture in bpy.data.images.
    people_frame: IntProperty(default=-1)  # type: ignore[valid-type]
    people_video: StringProperty(default="")  # type: ignore[valid-type]
    people_image: StringProperty(default="")  # type: ignore[valid-type]
    subject: IntProperty(  # type: ignore[valid-type]
        name="Person",
        description="Number of the person to follow (0: the largest, most central one)",
        default=0,
    )
    finetune_clips: CollectionProperty(type=MOCAP_PG_clip)  # type: ignore[valid-type]
    finetune_index: IntProperty(default=0)  # type: ignore[valid-type]
    # The last fine-tuning's before/after table on its held-out clips, one line per row (FinetuneTask).
    finetune_report: StringProperty(default="")  # type: ignore[valid-type]

    def frames_arg(self) -> str | None:
        """`--frames A:B` for the worker (B exclusive), or None for the whole video."""
        if self.frame_first == 0 and self.frame_last == 0:
            return None
        stop = "" if self.frame_last == 0 else str(self.frame_last + 1)
        return f"{self.frame_first}:{stop}"

    def people_look_frame(self) -> int:
        """The video frame Find People looks at: `people_at`, or the range's first frame for 0; ValueError, one
        sentence, when it lies outside the range."""
        frame = self.people_at or self.frame_first
        if not self.in_range(frame):
            last = "the end" if self.frame_last == 0 else str(self.frame_last)
            raise ValueError(
                f"Frame {frame} is outside the range ({self.frame_first} to {last}); look at a frame inside it, "
                "or 0 for its first frame."
            )
        return int(frame)

    def in_range(self, frame: int) -> bool:
        """Whether a video frame lies in the panel's range (First to Last, Last 0 = to the end)."""
        return self.frame_first <= frame and (self.frame_last == 0 or frame <= self.frame_last)

    def subject_arg(self) -> str | None:
        """`--subject X,Y` for the worker (the chosen person's point on `people_frame`, which `--subject-frame`
        names), or None to let detection choose; ValueError, one sentence, when the choice no longer fits the
        video or the range."""
        if self.subject == 0:
            return None
        person = next((p for p in self.people if p.number == self.subject), None)
        if person is None or self.people_video != self.video_path:
            raise ValueError(
                "The chosen person belongs to another video; press Find People again, or choose Auto."
            )
        if self.people_frame < self.frame_first:
            raise ValueError(
                f"The person was chosen on frame {self.people_frame}, but the range now starts at frame "
                f"{self.frame_first}; press Find People again, or choose Auto."
            )
        if not self.in_range(self.people_frame):
            raise ValueError(
                f"The person was chosen on frame {self.people_frame}, but the range now ends at frame "
                f"{self.frame_last}; press Find People again, or choose Auto."
            )
        return f"{person.x:.1f},{person.y:.1f}"


class MOCAP_PG_status(bpy.types.PropertyGroup):
    """Run status: `window_manager.video_mocap_status` (runtime only)."""

    running: BoolProperty(default=False)  # type: ignore[valid-type]
    task: StringProperty(default="")  # type: ignore[valid-type]
    stage: StringProperty(default="")  # type: ignore[valid-type]
    progress: FloatProperty(default=0.0, min=0.0, max=1.0, subtype="FACTOR")  # type: ignore[valid-type]
    message: StringProperty(default="")  # type: ignore[valid-type]
    cancel_requested: BoolProperty(default=False)  # type: ignore[valid-type]
    engine_info: StringProperty(default="")  # type: ignore[valid-type]
    last_log: StringProperty(default="", subtype="FILE_PATH")  # type: ignore[valid-type]


CLASSES = (MOCAP_PG_clip, MOCAP_PG_person, MOCAP_PG_settings, MOCAP_PG_status)


def register_properties() -> None:
    bpy.types.Scene.video_mocap = PointerProperty(type=MOCAP_PG_settings)
    bpy.types.WindowManager.video_mocap_status = PointerProperty(type=MOCAP_PG_status)


def unregister_properties() -> None:
    del bpy.types.WindowManager.video_mocap_status
    del bpy.types.Scene.video_mocap
