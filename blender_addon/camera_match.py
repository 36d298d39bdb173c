"""A Blender camera that sees the result as the video's camera saw the person, the video as its background."""

from __future__ import annotations

import os
from dataclasses import dataclass

import bpy
import numpy as np
from mathutils import Matrix

from .retarget.motion3d import Intrinsics
from .retarget.placement import WorldPlacement

SENSOR_WIDTH_MM = 36.0
# OpenCV camera axes (x right, y down, z forward) -> Blender camera axes (x right, y up, looking down -z).
_CV_TO_BLENDER = np.diag([1.0, -1.0, -1.0])


@dataclass(frozen=True)
class CameraSetup:
    """lens_mm, sensor_mm (horizontal fit), shift_x / shift_y (fractions of the image width),
    matrix_world (4, 4) and the render resolution."""

    lens_mm: float
    sensor_mm: float
    shift_x: float
    shift_y: float
    matrix_world: np.ndarray
    width: int
    height: int


def camera_setup(
    intrinsics: Intrinsics,
    placement: WorldPlacement,
    root_scale: float,
    offset: np.ndarray,
    sensor_mm: float = SENSOR_WIDTH_MM,
) -> CameraSetup:
    """Blender camera for a clip whose world points land at `offset + root_scale * world` in the scene.

    `offset` (3,) is the armature object's location plus the rig's rest toe height on Z (see
    retarget.pipeline). The principal point becomes the lens shift.
    """
    w, h = intrinsics.width, intrinsics.height
    cam = placement.camera_matrix_world()
    m = np.eye(4)
    m[:3, :3] = cam[:3, :3] @ _CV_TO_BLENDER
    m[:3, 3] = np.asarray(offset, dtype=np.float64) + root_scale * cam[:3, 3]
    return CameraSetup(
        lens_mm=intrinsics.fx * sensor_mm / w,
        sensor_mm=sensor_mm,
        shift_x=(0.5 * w - intrinsics.cx) / w,
        shift_y=(intrinsics.cy - 0.5 * h) / w,
        matrix_world=m,
        width=w,
        height=h,
    )


def create_camera(
    scene: bpy.types.Scene,
    setup: CameraSetup,
    name: str,
    video_path: str | None,
    clip_frame_start: int,
) -> tuple[bpy.types.Object, bpy.types.MovieClip | None]:
    """A new camera object in the scene's collection with the video as its background (when Blender can read
    it); the clip's first used frame shows at scene frame `clip_frame_start`. Returns the camera and clip."""
    data = bpy.data.cameras.new(name)
    data.sensor_fit = "HORIZONTAL"
    data.sensor_width = setup.sensor_mm
    data.lens = setup.lens_mm
    data.shift_x = setup.shift_x
    data.shift_y = setup.shift_y
    data.clip_end = max(data.clip_end, 1000.0)
    obj = bpy.data.objects.new(name, data)
    obj.matrix_world = Matrix(setup.matrix_world.tolist())
    scene.collection.objects.link(obj)
    clip = None
    if video_path and os.path.isfile(video_path):
        try:
            clip = bpy.data.movieclips.load(video_path, check_existing=True)
        except RuntimeError:
            clip = None
    if clip is not None:
        clip.frame_start = clip_frame_start
        data.show_background_images = True
        bg = data.background_images.new()
        bg.source = "MOVIE_CLIP"
        bg.clip = clip
        bg.alpha = 0.6
    return obj, clip
