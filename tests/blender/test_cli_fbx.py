"""`video-mocap` end to end on the committed excerpt (60 frames): FBX (re-imported here, in bpy), .blend (opened
here), BVH (parsed) and the preview video (frames counted), and a .blend rig with two armatures.

headless.py alone also runs in this test's own Blender (5.0 or 4.5) on a synthetic motion.

The command line runs in the worker Python (torch, MediaPipe, OpenCV and bpy: `.venv`), which writes FBX and
.blend through blender_addon/headless.py with its own bpy 5.0; the checks run in this test's Blender, so in the
Blender 4.5 run (`.venv-bpy45`, which has no torch) they also show that 4.5 reads what the CLI wrote. Skipped,
with the reason, where no worker Python is found.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from retarget.events import parse_line

from .conftest import BPY_MISSING, ROOT, load_rest, needs_blender5_files

bpy = pytest.importorskip("bpy", reason=BPY_MISSING)

from .test_keyframes import make_armature  # noqa: E402  (needs bpy)
from .test_pipeline import channel_fcurves  # noqa: E402

EXCERPT = ROOT / "tests" / "data" / "sports2d_excerpt.mp4"
FRAMES = 60
WORKER_MODULES = ("torch", "mediapipe", "cv2", "bpy")


def find_worker_python() -> tuple[Path | None, str]:
    """This Python when it is a worker with bpy, else the project's `.venv` one; (None, why) when neither is."""
    reasons = []
    for python in (Path(sys.executable), ROOT / ".venv" / "bin" / "python"):
        if not python.is_file():
            reasons.append(f"{python} does not exist")
            continue
        probe = "import importlib.util as u; print(' '.join(m for m in %r if u.find_spec(m) is None))"
        proc = subprocess.run(
            [str(python), "-c", probe % (WORKER_MODULES,)], capture_output=True, text=True, check=False
        )
        missing = proc.stdout.strip()
        if proc.returncode == 0 and not missing:
            return python, ""
        reasons.append(f"{python} lacks {missing or 'a working interpreter'}")
    return None, "no worker Python with torch, mediapipe, cv2 and bpy: " + "; ".join(reasons)


WORKER, NO_WORKER = find_worker_python()
needs_worker = pytest.mark.skipif(WORKER is None, reason=NO_WORKER)
HEADLESS = ROOT / "blender_addon" / "headless.py"


def video_mocap(*args: str | Path, cache: Path) -> subprocess.CompletedProcess[str]:
    """`python -m lifting ARGS` in the worker Python, shipped weights on the CPU, detections cached in `cache`."""
    assert WORKER is not None
    env = {**os.environ, "VIDEO_MOCAP_CACHE": str(cache)}  # BLENDER_USER_RESOURCES comes from conftest
    cmd = [str(WORKER), "-m", "lifting", *map(str, args), "--device", "cpu"]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)


def errors(proc: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in re.split(r"[\r\n]", proc.stderr) if line.startswith("error:")]


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The excerpt converted to .fbx (with a preview), .blend and .bvh by three command lines."""
    folder = tmp_path_factory.mktemp("cli")
    cache = folder / "cache"
    out = {
        "fbx": folder / "x.fbx",
        "blend": folder / "x.blend",
        "bvh": folder / "x.bvh",
        "preview": folder / "p.mp4",
        "cache": cache,
    }
    for fmt in ("fbx", "blend", "bvh"):
        extra = ["--preview", out["preview"]] if fmt == "fbx" else []
        proc = video_mocap(EXCERPT, "-o", out[fmt], *extra, cache=cache)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert (
            f"sports2d_excerpt.mp4: {FRAMES} frames at 30 fps" in proc.stdout and str(out[fmt]) in proc.stdout
        )
    return out


def import_fbx(path: Path) -> bpy.types.Object:
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.import_scene.fbx(filepath=str(path))  # Blender's defaults: the Action starts at frame 1
    armatures = [o for o in bpy.data.objects if o.type == "ARMATURE"]
    assert len(armatures) == 1
    return armatures[0]


def assert_animated(arm: bpy.types.Object, frames: int, bone_prefix: str) -> None:
    """An Action over frames 1..frames, every F-curve keyed across them, and a pose that really changes."""
    action = arm.animation_data.action
    assert action is not None
    start, end = action.frame_range
    assert (round(start), round(end)) == (1, frames)
    curves = channel_fcurves(arm)
    assert curves
    for fc in curves:
        keys = [k.co[0] for k in fc.keyframe_points]
        assert round(min(keys)) == 1 and round(max(keys)) == frames
    found = (re.match(r'pose\.bones\["(.+?)"\]', fc.data_path) for fc in curves)
    bones = {m.group(1) for m in found if m is not None}  # the importer may key the object itself too
    assert all(b.startswith(bone_prefix) for b in bones) and len(bones) >= 20
    moving = [
        fc
        for fc in curves
        if "rotation" in fc.data_path and np.ptp([k.co[1] for k in fc.keyframe_points]) > 0.05
    ]
    assert len(moving) >= 10


@pytest.mark.slow
@needs_worker
def test_fbx_reimports_with_the_animation(outputs: dict[str, Path]) -> None:
    arm = import_fbx(outputs["fbx"])
    assert_animated(arm, FRAMES, "mocap_")
    # The root travels: its head moves between the first and last frame.
    scene = bpy.context.scene
    heads = []
    for f in (1, FRAMES):
        scene.frame_set(f)
        ev = arm.evaluated_get(bpy.context.evaluated_depsgraph_get())
        heads.append(np.array(ev.matrix_world @ ev.pose.bones["mocap_hips"].head))
    assert np.linalg.norm(heads[1] - heads[0]) > 0.05
    bpy.ops.wm.read_homefile(use_empty=True)


@pytest.mark.slow
@needs_worker
@needs_blender5_files
def test_blend_opens_with_the_action_and_the_camera(outputs: dict[str, Path]) -> None:
    bpy.ops.wm.open_mainfile(filepath=str(outputs["blend"]))
    try:
        scene = bpy.context.scene
        assert (scene.frame_start, scene.frame_end, scene.render.fps, scene.render.fps_base) == (
            1,
            FRAMES,
            30,
            1,
        )
        arm = bpy.data.objects["Mocap sports2d_excerpt Armature"]
        assert arm.animation_data.action.name == "Mocap sports2d_excerpt Action"
        for fc in channel_fcurves(arm):
            assert len(fc.keyframe_points) == FRAMES
        assert_animated(arm, FRAMES, "mocap_")
        cam = scene.camera  # the video's camera, the footage as its background
        assert cam is not None and cam.name == "Mocap sports2d_excerpt Camera"
        assert (scene.render.resolution_x, scene.render.resolution_y) == (884, 496)
        assert Path(bpy.path.abspath(cam.data.background_images[0].clip.filepath)).resolve() == EXCERPT
    finally:
        bpy.ops.wm.read_homefile(use_empty=True)


@pytest.mark.slow
@needs_worker
def test_bvh_parses_with_60_frames(outputs: dict[str, Path]) -> None:
    from lifting.learn.datasets.bvh import read_bvh

    bvh = read_bvh(outputs["bvh"])
    assert bvh.num_frames == FRAMES and bvh.fps == pytest.approx(30.0, abs=1e-3)
    assert len(bvh.names) >= 21 and all(n.startswith("mocap_") for n in bvh.names)
    positions = bvh.positions(scale=1.0)
    assert np.isfinite(positions).all() and np.ptp(positions[:, :, 2]) > 0.1


@pytest.mark.skipif(
    not (ROOT / "lifting" / "app" / "preview.py").is_file(), reason="lifting/app/preview.py not written yet"
)
def test_preview_has_one_frame_per_video_frame(outputs: dict[str, Path]) -> None:
    assert WORKER is not None
    count = (
        "import cv2, sys\n"
        "cap = cv2.VideoCapture(sys.argv[1]); n = 0\n"
        "while cap.read()[0]: n += 1\n"
        "print(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), n)"
    )
    proc = subprocess.run(
        [str(WORKER), "-c", count, str(outputs["preview"])], capture_output=True, text=True, check=True
    )
    assert proc.stdout.split() == [str(FRAMES), str(FRAMES)]
    assert outputs["preview"].with_name("p.sheet.png").is_file()


@pytest.mark.slow
@needs_worker
def test_a_rig_with_two_armatures_needs_armature(
    fresh: ModuleType, outputs: dict[str, Path], tmp_path: Path
) -> None:
    """--rig RIG.blend: several armatures are refused before detection; --armature picks one, which gets the
    motion on its own (Mixamo) bones."""
    hero = make_armature(load_rest("mixamo_tpose.json"))
    hero.name = "Hero"
    other = make_armature(load_rest("rigify_metarig_tpose.json"))
    other.name = "Other"
    rig = tmp_path / "rig.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(rig), copy=True)
    fbx = tmp_path / "hero.fbx"

    proc = video_mocap(EXCERPT, "-o", fbx, "--rig", rig, cache=outputs["cache"])
    assert proc.returncode == 2
    assert errors(proc) == [
        f"error: the rig {str(rig)!r} has 2 armatures ('Hero', 'Other'); pick one with --armature."
    ]
    assert "detect:" not in proc.stderr and not fbx.exists()  # refused before any detection

    proc = video_mocap(
        EXCERPT,
        "-o",
        fbx,
        "--rig",
        rig,
        "--armature",
        "Hero",
        "--fbx-preset",
        "unity",
        cache=outputs["cache"],
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "the armature of rig.blend" in proc.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hero.fbx", "rig.blend"]  # no temporary file left
    arm = import_fbx(fbx)
    assert "mixamorig:Hips" in arm.data.bones
    assert_animated(arm, FRAMES, "mixamorig:")
    bpy.ops.wm.read_homefile(use_empty=True)


# -- headless.py in this Blender (no worker needed) ---------------------------------------------------------------
def headless(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """blender_addon/headless.py in this test's Python (its bpy: Blender 5.0 or 4.5)."""
    cmd = [sys.executable, str(HEADLESS), *map(str, args)]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def synthetic_motion(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 frames of a synthetic walk seen by a 60-degree camera, as a .motion.npz."""
    from retarget.motion3d import Intrinsics
    from tests.support.synthetic import camera_motion, walking_joints

    world, _ = walking_joints(40, fps=30.0, slide=0.0, jitter=0.0)
    f = 640 / 2 / np.tan(np.radians(30.0))
    path = tmp_path_factory.mktemp("motion") / "walk.motion.npz"
    camera_motion(world, 30.0, intrinsics=Intrinsics(f, f, 320.0, 240.0, 640, 480)).save(path)
    return path


def test_headless_writes_fbx_blend_and_bvh_in_this_blender(synthetic_motion: Path, tmp_path: Path) -> None:
    for name in ("walk.fbx", "walk.blend", "walk.bvh"):
        proc = headless("--motion", synthetic_motion, "--out", tmp_path / name, "--name", "Mocap walk")
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        events = [e for e in map(parse_line, proc.stdout.splitlines()) if e is not None]
        assert events[-1] == {"event": "done", "result": str(tmp_path / name)}
        fractions = [e["fraction"] for e in events if e["event"] == "progress"]
        assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["walk.blend", "walk.bvh", "walk.fbx"]
    assert_animated(import_fbx(tmp_path / "walk.fbx"), 40, "mocap_")
    from lifting.learn.datasets.bvh import read_bvh

    assert read_bvh(tmp_path / "walk.bvh").num_frames == 40
    bpy.ops.wm.open_mainfile(filepath=str(tmp_path / "walk.blend"))
    try:
        arm = bpy.data.objects["Mocap walk Armature"]
        assert_animated(arm, 40, "mocap_")
        assert bpy.context.scene.camera.name == "Mocap walk Camera"  # no video: a camera without background
    finally:
        bpy.ops.wm.read_homefile(use_empty=True)
    # The .blend as a rig (its armature is found), with a forced preset and the Unreal FBX options.
    out = tmp_path / "again.fbx"
    proc = headless(
        "--motion", synthetic_motion, "--out", out, "--rig", tmp_path / "walk.blend", "--preset", "ours",
        "--fbx-preset", "unreal", "--smooth", "0.5", "--no-foot-lock",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert_animated(import_fbx(out), 40, "mocap_")
    bpy.ops.wm.read_homefile(use_empty=True)


def test_headless_user_errors_are_one_line_and_leave_no_file(synthetic_motion: Path, tmp_path: Path) -> None:
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.mesh.primitive_cube_add()
    no_armature = tmp_path / "cube.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(no_armature), copy=True)
    bpy.ops.wm.read_homefile(use_empty=True)
    out = tmp_path / "x.fbx"
    cases = [
        (["--rig", tmp_path / "none.blend"], f"the rig file {str(tmp_path / 'none.blend')!r} does not exist"),
        (["--rig", synthetic_motion], "as a .blend file"),
        (["--rig", no_armature], f"the rig {str(no_armature)!r} has no armature in its scene"),
        (["--preset", "mixamo"], "give --rig RIG.blend too"),
        (["--smooth", "3"], "--smooth must be between 0 and 1"),
    ]
    for extra, message in cases:
        proc = headless("--motion", synthetic_motion, "--out", out, *extra)
        assert proc.returncode == 2, proc.stderr[-2000:]
        errors = [
            e for e in map(parse_line, proc.stdout.splitlines()) if e is not None and e["event"] == "error"
        ]
        assert len(errors) == 1 and message in errors[0]["message"], proc.stdout
        assert "Traceback" not in proc.stderr
    proc = headless("--motion", tmp_path / "none.npz", "--out", out)
    assert proc.returncode == 2 and "does not exist" in proc.stdout
    proc = headless("--check", "--rig", no_armature)
    assert proc.returncode == 2 and "has no armature" in proc.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cube.blend"]  # nothing written, no temporary file
