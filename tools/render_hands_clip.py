"""Render a short clip of the CC0 Mesh2Motion human with clearly visible, moving hands, and label per frame where
each hand is visible, from the geometry (issue 26: "hand landmarks are found on >= 90 % of frames where the hand
is visible; left/right never swap").

    nice -n 10 .venv/bin/python tools/render_hands_clip.py [--out tests/data/rendered_hands/hands]
        [--character ../shared/data/characters/mesh2motion_cc0.tar.xz] [--frames 150] [--probe 3]
        [--width 640 --height 480 --samples 2 --threads 2] [--work DIR]

The character is `rigs/rig-human.blend` of the Mesh2Motion art assets (CC0 1.0), opened in bpy 5.0.1, skinned
with a skin-toned Principled BSDF (short-sleeved shirt and trousers by each face's strongest bone), in front of a
lit wall and floor, filmed from the hips up. Its arm IK controls (`CTRL_Arm_L/R`: the wrist's place and the
hand's orientation) and finger bones (`DRV_f_*`, `DRV_thumb_*`) are keyed from `KEYS` below: both hands before
the chest, palms to the camera, closing and opening, counting (each finger extended on its own), turning palms
away, out to the sides, crossing the body's midline, the right hand behind the back, the left raised out of the
picture. Nothing is random: Cycles' seed is fixed, so the same command writes the same frames.

Writes `OUT.mp4` (mp4v from the rendered PNGs, `--fps`) and `OUT.labels.json`; the PNGs go to `--work`
(default out/render_hands/), where frames already rendered are kept and not rendered again. `--probe N` renders
only the first N frames and prints the seconds per frame (size the clip from it); `--labels-only` writes the
labels without rendering.

Labels (`OUT.labels.json`), one entry per video frame t = 0 .. frames-1 (Blender frame t + 1):

    {"format": "video-mocap-rendered-hands", "version": 1, "fps": 30.0, "width": 640, "height": 480,
     "frames": 150, "command": "...", "rule": {...the thresholds below...},
     "visible_count": {"left": n, "right": n},
     "hands": {"left":  {"visible": [bool] * frames, "wrist": [[x, y]] * frames, "size": [px] * frames,
                         "seen_points": [fraction] * frames, "points": [[[x, y]] * 21] * frames},
               "right": {...}}}

"left"/"right" are the person's (the character's) own hands. `wrist` is the hand's wrist (the head of the deform
bone `hand_l`/`hand_r`) projected with the scene camera, in pixels (x right, y down, origin at the picture's
top-left corner), also where it is outside the picture. The hand's points are its wrist and, per finger, the
heads of its four deform bones (knuckle, the two middle joints, the tip: MediaPipe's 21 landmarks). A point is
seen when it projects into the picture, in front of the camera, and is not occluded: a ray from the camera
towards it (`scene.ray_cast`) first hits the surface within `NEAR_M` of the point or a face of the hand's own
skin (its strongest bone is the hand or one of its fingers). `points` are the 21 points projected (px, MediaPipe's landmark
order: wrist, then thumb, index, middle, ring, pinky from knuckle to tip), `seen_points` the fraction of them
seen; `size` the larger side of the box around the 21 projected points (px). A hand is visible when
`seen_points` >= `MIN_SEEN` and `size` >= `MIN_SIZE_PX`.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.paths import SHARED  # noqa: E402

CHARACTER = SHARED / "data" / "characters" / "mesh2motion_cc0.tar.xz"
RIG_FILE = "rigs/rig-human.blend"
DEFAULT_OUT = ROOT / "tests" / "data" / "rendered_hands" / "hands"
NEAR_M = 0.02  # a ray's first hit this close to a hand point (metres) leaves the point unoccluded
MIN_SEEN = 0.6  # fraction of the hand's 21 points seen for the hand to be visible
MIN_SIZE_PX = 40.0  # the hand's projected size for it to be visible
FINGERS = ("thumb", "index", "middle", "ring", "pinky")
SIDES = ("left", "right")
SKIN = (0.80, 0.52, 0.40)  # sRGB base colours
SHIRT = (0.16, 0.24, 0.42)
TROUSERS = (0.12, 0.12, 0.13)
WALL = (0.72, 0.70, 0.66)
FLOOR = (0.45, 0.40, 0.35)


# -- the motion ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HandKey:
    """One hand at one key: wrist at `wrist` (x, y, z) metres in the character's frame (x to its left, -y in
    front of it, z up), fingers pointing along `fingers`, the palm facing `palm` (world directions; the palm
    direction is made perpendicular to the fingers), and each finger's curl 0 (straight) .. 1 (fist), in the
    order of FINGERS."""

    wrist: tuple[float, float, float]
    fingers: tuple[float, float, float]
    palm: tuple[float, float, float]
    curl: tuple[float, float, float, float, float]


UP, DOWN = (0.0, 0.0, 1.0), (0.0, 0.0, -1.0)
TO_CAMERA, AWAY = (0.0, -1.0, 0.0), (0.0, 1.0, 0.0)
OPEN = (0.0, 0.0, 0.0, 0.0, 0.0)
FIST = (1.0, 1.0, 1.0, 1.0, 1.0)


def _mirror(k: HandKey) -> HandKey:
    """The other hand's key: mirrored across the body's midplane (x -> -x)."""
    return HandKey(
        (-k.wrist[0], k.wrist[1], k.wrist[2]),
        (-k.fingers[0], k.fingers[1], k.fingers[2]),
        (-k.palm[0], k.palm[1], k.palm[2]),
        k.curl,
    )


def _count(n: int) -> tuple[float, float, float, float, float]:
    """Curls for counting to n from a fist: index, middle, ring, pinky, then the thumb extended."""
    order = (1, 2, 3, 4, 0)
    curl = [1.0] * 5
    for i in order[:n]:
        curl[i] = 0.0
    return (curl[0], curl[1], curl[2], curl[3], curl[4])


def _keys() -> list[tuple[float, HandKey, HandKey]]:
    """(time s, left hand, right hand) keys of the whole motion (see the module docstring)."""
    stop_l = HandKey((0.24, -0.30, 1.22), UP, TO_CAMERA, OPEN)
    stop_r = _mirror(stop_l)

    def left(wrist: tuple[float, float, float], fingers: Any, palm: Any, curl: Any) -> HandKey:
        return HandKey(wrist, fingers, palm, curl)

    keys: list[tuple[float, HandKey, HandKey]] = [
        (0.0, stop_l, stop_r),
        (
            0.4,
            left((0.26, -0.32, 1.26), UP, TO_CAMERA, OPEN),
            _mirror(left((0.22, -0.3, 1.2), UP, TO_CAMERA, OPEN)),
        ),
        (
            0.8,
            left((0.24, -0.32, 1.22), UP, TO_CAMERA, FIST),
            _mirror(left((0.24, -0.3, 1.22), UP, TO_CAMERA, FIST)),
        ),
    ]
    # Counting: the left hand to five, one finger every 0.2 s; the right hand, back of the hand to the camera,
    # to three and back.
    for n in range(1, 6):
        t = 0.8 + 0.2 * n
        r = (1, 2, 3, 2, 1)[n - 1]
        keys.append(
            (
                t,
                left((0.24, -0.32, 1.24), UP, TO_CAMERA, _count(n)),
                _mirror(left((0.26, -0.28, 1.2), (0.2, 0.0, 1.0), AWAY, _count(r))),
            )
        )
    keys += [
        # out to the sides, palms down then forwards, open
        (2.2, left((0.52, -0.20, 1.28), (1.0, -0.2, 0.3), DOWN, OPEN), _mirror(left((0.52, -0.2, 1.28), (1.0, -0.2, 0.3), DOWN, OPEN))),
        (2.5, left((0.56, -0.16, 1.34), (0.6, -0.2, 1.0), TO_CAMERA, OPEN), _mirror(left((0.56, -0.16, 1.34), (0.6, -0.2, 1.0), TO_CAMERA, (0.3, 0.6, 0.6, 0.6, 0.6)))),
        # crossing: the left hand in front, higher, to the right side; the right behind it, lower, to the left
        (3.0, left((-0.16, -0.42, 1.34), (-0.3, 0.0, 1.0), TO_CAMERA, OPEN), _mirror(left((-0.14, -0.26, 1.08), (-0.2, 0.0, 1.0), TO_CAMERA, OPEN))),
        (3.3, left((-0.22, -0.42, 1.36), (-0.3, 0.0, 1.0), AWAY, (0.0, 0.0, 0.0, 1.0, 1.0)), _mirror(left((-0.2, -0.26, 1.06), (-0.2, 0.0, 1.0), TO_CAMERA, (1.0, 0.0, 0.0, 1.0, 1.0)))),
        # the right hand behind the back, the left back before the chest
        (3.8, left((0.22, -0.34, 1.24), UP, TO_CAMERA, OPEN), _mirror(left((0.12, 0.22, 1.02), DOWN, AWAY, (0.5, 0.5, 0.5, 0.5, 0.5)))),
        (4.1, left((0.24, -0.34, 1.26), UP, TO_CAMERA, FIST), _mirror(left((0.12, 0.22, 1.02), DOWN, AWAY, (0.5, 0.5, 0.5, 0.5, 0.5)))),
        # the left hand raised out of the picture, the right back in front
        (4.6, left((0.26, -0.10, 2.0), UP, TO_CAMERA, OPEN), _mirror(left((0.24, -0.3, 1.2), UP, TO_CAMERA, OPEN))),
        (5.0, stop_l, stop_r),
    ]  # fmt: skip
    return keys


# -- the scene -------------------------------------------------------------------------------------------------
def _linear(srgb: tuple[float, float, float]) -> tuple[float, float, float, float]:
    def f(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    return (f(srgb[0]), f(srgb[1]), f(srgb[2]), 1.0)


def _material(
    bpy: Any, name: str, colour: tuple[float, float, float], roughness: float, sss: float = 0.0
) -> Any:
    mat = bpy.data.materials.new(name)
    mat.use_nodes = True
    bsdf = mat.node_tree.nodes["Principled BSDF"]
    bsdf.inputs["Base Color"].default_value = _linear(colour)
    bsdf.inputs["Roughness"].default_value = roughness
    if sss > 0:
        bsdf.inputs["Subsurface Weight"].default_value = sss
        bsdf.inputs["Subsurface Radius"].default_value = (0.01, 0.004, 0.002)
        bsdf.inputs["Subsurface Scale"].default_value = 1.0
    return mat


def _strongest_bone(mesh_obj: Any) -> list[str]:
    """Per face of the mesh: the vertex group (bone) with the largest summed weight over its vertices."""
    names = [g.name for g in mesh_obj.vertex_groups]
    vweights = np.zeros((len(mesh_obj.data.vertices), len(names)))
    for v in mesh_obj.data.vertices:
        for g in v.groups:
            vweights[v.index, g.group] = g.weight
    out = []
    for p in mesh_obj.data.polygons:
        out.append(names[int(np.argmax(vweights[list(p.vertices)].sum(axis=0)))])
    return out


def _hand_bone(name: str, side: str) -> bool:
    s = "_l" if side == "left" else "_r"
    return name.endswith(s) and (name.startswith("hand") or name.split("_")[0] in FINGERS)


def build_scene(bpy: Any, blend: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Open the rig, dress and light it, place the camera, key the motion; returns what labelling needs."""
    from mathutils import Matrix, Quaternion, Vector

    bpy.ops.wm.open_mainfile(filepath=str(blend))
    scene = bpy.context.scene
    for o in bpy.data.objects:
        if o.name.startswith("shape_"):
            o.hide_render = True
    rig = bpy.data.objects["Armature"]
    body = next(o for o in bpy.data.objects if o.type == "MESH" and o.parent == rig)

    # materials by each face's strongest bone
    skin = _material(bpy, "skin", SKIN, 0.45)
    shirt = _material(bpy, "shirt", SHIRT, 0.8)
    trousers = _material(bpy, "trousers", TROUSERS, 0.8)
    body.data.materials.clear()
    for m in (skin, shirt, trousers):
        body.data.materials.append(m)
    strongest = _strongest_bone(body)
    shirt_bones = ("spine", "clavicle", "upperarm")
    trouser_bones = ("pelvis", "thigh", "calf", "foot", "ball", "root")
    for p, bone in zip(body.data.polygons, strongest, strict=True):
        p.material_index = 1 if bone.startswith(shirt_bones) else 2 if bone.startswith(trouser_bones) else 0
    hand_faces = {side: {i for i, b in enumerate(strongest) if _hand_bone(b, side)} for side in SIDES}

    # wall and floor
    bpy.ops.mesh.primitive_plane_add(size=8.0, location=(0.0, 0.0, 0.0))
    floor = bpy.context.active_object
    floor.data.materials.append(_material(bpy, "floor", FLOOR, 0.9))
    bpy.ops.mesh.primitive_plane_add(size=8.0, location=(0.0, 1.6, 2.0), rotation=(math.pi / 2, 0.0, 0.0))
    wall = bpy.context.active_object
    wall.data.materials.append(_material(bpy, "wall", WALL, 0.9))

    # lights: a key sun from the front left above, an area fill from the front right, a dim sky
    sun_data = bpy.data.lights.new("key", "SUN")
    sun_data.energy = 3.0
    sun_data.angle = math.radians(10.0)
    sun = bpy.data.objects.new("key", sun_data)
    scene.collection.objects.link(sun)
    sun.rotation_euler = (math.radians(55.0), 0.0, math.radians(-25.0))
    fill_data = bpy.data.lights.new("fill", "AREA")
    fill_data.energy = 250.0
    fill_data.size = 2.0
    fill = bpy.data.objects.new("fill", fill_data)
    scene.collection.objects.link(fill)
    fill.location = (-2.0, -2.5, 2.2)
    fill.rotation_euler = (Vector((0.0, 0.0, 1.3)) - fill.location).to_track_quat("-Z", "Y").to_euler()
    world = scene.world or bpy.data.worlds.new("world")
    scene.world = world
    world.use_nodes = True
    world.node_tree.nodes["Background"].inputs["Color"].default_value = (0.5, 0.55, 0.6, 1.0)
    world.node_tree.nodes["Background"].inputs["Strength"].default_value = 0.4

    # camera from the hips up
    cam_data = bpy.data.cameras.new("camera")
    cam_data.lens = 50.0
    cam_data.sensor_fit = "HORIZONTAL"
    cam_data.sensor_width = 36.0
    camera = bpy.data.objects.new("camera", cam_data)
    scene.collection.objects.link(camera)
    camera.location = (0.0, -2.4, 1.36)
    camera.rotation_euler = (math.pi / 2, 0.0, 0.0)
    scene.camera = camera

    # render settings
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = args.samples
    scene.cycles.use_adaptive_sampling = False
    scene.cycles.seed = 0
    scene.cycles.use_animated_seed = False
    scene.cycles.use_denoising = True
    scene.cycles.denoiser = "OPENIMAGEDENOISE"
    scene.cycles.max_bounces = 3
    scene.render.use_persistent_data = True
    scene.render.threads_mode = "FIXED"
    scene.render.threads = args.threads
    scene.render.resolution_x, scene.render.resolution_y = args.width, args.height
    scene.render.resolution_percentage = 100
    scene.render.fps = round(args.fps)
    scene.render.image_settings.file_format = "PNG"
    scene.render.use_motion_blur = False
    scene.frame_start, scene.frame_end = 1, args.frames

    _key_motion(bpy, rig, Matrix, Quaternion, Vector, args.fps)
    return {"rig": rig, "body": body, "camera": camera, "hand_faces": hand_faces}


def _key_motion(bpy: Any, rig: Any, Matrix: Any, Quaternion: Any, Vector: Any, fps: float) -> None:
    """Key the arm controls and finger bones from `_keys()` (rotations in quaternions, one hemisphere)."""
    scene = bpy.context.scene
    pose = rig.pose.bones
    rest = {b.name: b.matrix_local.copy() for b in rig.data.bones}
    # elbows down and out
    for side, sx in (("L", 1.0), ("R", -1.0)):
        pole = pose[f"POLEARM_{side}"]
        pole.matrix = (
            Matrix.Translation(Vector((0.75 * sx, 0.35, 0.75))) @ rest[f"POLEARM_{side}"].to_3x3().to_4x4()
        )
        pole.keyframe_insert("location", frame=1)
    # finger curl axes (bone-local) and angles per segment (radians at curl 1)
    palm_rest = Vector((0.0, 0.0, -1.0))
    finger_bones: dict[str, list[tuple[str, Any, float]]] = {}
    angles = {"thumb": (0.25, 0.6, 0.7), "other": (1.2, 1.5, 1.1)}
    for side in ("L", "R"):
        for f in FINGERS:
            chain = []
            for seg in range(3):
                name = (
                    f"DRV_thumb_0{seg + 1}_{side}"
                    if f == "thumb"
                    else f"DRV_f_{'Ring' if f == 'ring' else f}_0{seg + 1}_{side}"
                )
                m = rest[name].to_3x3()
                x, y, z = m.col[0], m.col[1], m.col[2]
                if f == "thumb":
                    target = (
                        rest[f"DRV_f_pinky_01_{side}"].translation - rest[name].translation
                    ).normalized()
                    axis = max((x, -x, z, -z), key=lambda a: a.cross(y).dot(target))
                else:
                    axis = x if z.dot(palm_rest) > 0 else -x
                local = m.inverted() @ axis
                chain.append((name, local, angles["thumb" if f == "thumb" else "other"][seg]))
            finger_bones[f"{f}_{side}"] = chain

    previous: dict[str, Any] = {}

    def key_quat(pb: Any, q: Any, frame: int) -> None:
        if pb.name in previous and previous[pb.name].dot(q) < 0:
            q = -q
        previous[pb.name] = q.copy()
        pb.rotation_quaternion = q
        pb.keyframe_insert("rotation_quaternion", frame=frame)

    for t, left, right in _keys():
        frame = 1 + round(t * fps)
        for side, key in (("L", left), ("R", right)):
            # the hand's rest frame: fingers along ±x, palm down
            f0 = Vector((1.0 if side == "L" else -1.0, 0.0, 0.0))
            n0 = Vector((0.0, 0.0, -1.0))
            f = Vector(key.fingers).normalized()
            n = Vector(key.palm)
            n = (n - n.dot(f) * f).normalized()
            r0 = Matrix((f0, n0, f0.cross(n0))).transposed()
            r1 = Matrix((f, n, f.cross(n))).transposed()
            rot = r1 @ r0.inverted()
            ctrl = pose[f"CTRL_Arm_{side}"]
            ctrl.matrix = Matrix.Translation(Vector(key.wrist)) @ (rot @ rest[ctrl.name].to_3x3()).to_4x4()
            bpy.context.view_layer.update()
            ctrl.keyframe_insert("location", frame=frame)
            key_quat(ctrl, ctrl.rotation_quaternion.copy(), frame)
            for fi, finger in enumerate(FINGERS):
                for name, axis, angle in finger_bones[f"{finger}_{side}"]:
                    key_quat(pose[name], Quaternion(axis, angle * key.curl[fi]), frame)
    scene.frame_set(1)


# -- labels ----------------------------------------------------------------------------------------------------
def hand_points(rig: Any, side: str) -> list[Any]:
    """The 21 world points of one hand (MediaPipe's order): wrist, then per finger (thumb .. pinky) the heads of
    its deform bones 01-04."""
    s = "l" if side == "left" else "r"
    pose = rig.pose.bones
    names = [f"hand_{s}"] + [
        f"{f}_0{k}{'_leaf' if k == 4 else ''}_{s}" for f in FINGERS for k in (1, 2, 3, 4)
    ]
    return [rig.matrix_world @ pose[n].head for n in names]


def label_frame(bpy: Any, built: dict[str, Any], width: int, height: int) -> dict[str, dict[str, Any]]:
    """Per hand on the current frame: visible, wrist (x, y) px, size px, seen_points (see the module docstring)."""
    from bpy_extras.object_utils import world_to_camera_view

    scene = bpy.context.scene
    depsgraph = bpy.context.evaluated_depsgraph_get()
    camera = built["camera"]
    origin = camera.matrix_world.translation
    body = built["body"]
    out = {}
    for side in SIDES:
        points = hand_points(built["rig"], side)
        xy = []
        seen = 0
        for p in points:
            ndc = world_to_camera_view(scene, camera, p)
            x, y = float(ndc.x) * width, (1.0 - float(ndc.y)) * height
            xy.append((x, y))
            if not (ndc.z > 0 and 0.0 <= x <= width and 0.0 <= y <= height):
                continue
            direction = p - origin
            distance = direction.length
            hit, location, _normal, index, obj, _matrix = scene.ray_cast(
                depsgraph, origin, direction.normalized(), distance=distance + 1.0
            )
            own = hit and obj is not None and obj.original == body and index in built["hand_faces"][side]
            if not hit or own or (location - p).length <= NEAR_M:
                seen += 1
        pts = np.array(xy)
        size = float(np.max(pts.max(axis=0) - pts.min(axis=0)))
        fraction = seen / len(points)
        out[side] = {
            "visible": bool(fraction >= MIN_SEEN and size >= MIN_SIZE_PX),
            "wrist": [round(xy[0][0], 2), round(xy[0][1], 2)],
            "size": round(size, 2),
            "seen_points": round(fraction, 4),
            "points": [[round(x, 2), round(y, 2)] for x, y in xy],
        }
    return out


# -- main ------------------------------------------------------------------------------------------------------
def write_video(pngs: list[Path], out: Path, fps: float) -> None:
    first = cv2.imread(str(pngs[0]))
    h, w = first.shape[:2]
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    if not writer.isOpened():
        raise SystemExit(f"OpenCV cannot write {out} (mp4v).")
    for p in pngs:
        writer.write(cv2.imread(str(p)))
    writer.release()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="output stem (writes STEM.mp4, STEM.labels.json)"
    )
    parser.add_argument(
        "--character", type=Path, default=CHARACTER, help="the Mesh2Motion art assets (.tar.xz)"
    )
    parser.add_argument("--frames", type=int, default=150, help="frames to render (from the motion's start)")
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument(
        "--samples", type=int, default=2, help="Cycles samples per pixel (denoised with OIDN)"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--work", type=Path, default=ROOT / "out" / "render_hands", help="folder for the PNGs"
    )
    parser.add_argument(
        "--probe", type=int, default=0, help="render only the first N frames and print s/frame"
    )
    parser.add_argument("--labels-only", action="store_true", help="write the labels, render nothing")
    parser.add_argument(
        "--only", type=str, default="", help="preview: render only these frames (t0,t1,...), no video"
    )
    args = parser.parse_args(argv)
    if not args.character.is_file():
        print(
            f"The Mesh2Motion character archive {args.character} is missing; pass --character.",
            file=sys.stderr,
        )
        return 2
    try:
        import bpy
    except ImportError:
        print("bpy is not importable; run with the project's .venv/bin/python (bpy 5.0.1).", file=sys.stderr)
        return 2

    args.work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(args.character) as tar:
            tar.extract(RIG_FILE, tmp, filter="data")
        built = build_scene(bpy, Path(tmp) / RIG_FILE, args)
        scene = bpy.context.scene
        frames = args.probe or args.frames
        only = {int(v) for v in args.only.split(",") if v}
        labels: dict[str, dict[str, list[Any]]] = {
            s: {"visible": [], "wrist": [], "size": [], "seen_points": [], "points": []} for s in SIDES
        }
        pngs = []
        start = time.perf_counter()
        rendered = 0
        for t in range(frames):
            scene.frame_set(t + 1)
            for side, row in label_frame(bpy, built, args.width, args.height).items():
                for k, v in row.items():
                    labels[side][k].append(v)
            png = args.work / f"frame_{t:04d}.png"
            pngs.append(png)
            if args.labels_only or png.is_file() or (only and t not in only):
                continue
            scene.render.filepath = str(png)
            bpy.ops.render.render(write_still=True)
            rendered += 1
            print(f"frame {t}: {time.perf_counter() - start:.0f} s", flush=True)
        if rendered:
            print(f"{(time.perf_counter() - start) / rendered:.1f} s per frame ({rendered} rendered)")
        if args.probe or only:
            for side in SIDES:
                print(f"{side}: visible on {sum(labels[side]['visible'])} of {frames} frames")
            return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # The command that renders this clip: the labels are the same with or without --labels-only.
    given = [a for a in (sys.argv[1:] if argv is None else argv) if a != "--labels-only"]
    command = " ".join(["nice -n 10 .venv/bin/python tools/render_hands_clip.py", *map(shlex.quote, given)])
    doc = {
        "format": "video-mocap-rendered-hands",
        "version": 1,
        "fps": args.fps,
        "width": args.width,
        "height": args.height,
        "frames": frames,
        "command": command,
        "rule": {"near_m": NEAR_M, "min_seen": MIN_SEEN, "min_size_px": MIN_SIZE_PX},
        "visible_count": {s: int(sum(labels[s]["visible"])) for s in SIDES},
        "hands": labels,
    }
    labels_path = args.out.with_name(args.out.name + ".labels.json")
    labels_path.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    print(
        f"wrote {labels_path}: visible left {doc['visible_count']['left']}, right {doc['visible_count']['right']} of {frames}"
    )
    if not args.labels_only:
        write_video(pngs, args.out.with_name(args.out.name + ".mp4"), args.fps)
        print(f"wrote {args.out.with_name(args.out.name + '.mp4')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
