"""Tests against real Blender (the PyPI `bpy` module), on the add-on zip as build_addon.py builds it.

They are skipped only when `bpy` cannot be imported. Blender's user folder is a temporary one
(BLENDER_USER_RESOURCES, set before bpy is imported), the zip is installed the way "Install from Disk" does it
(`extensions.package_install_files` into the "user_default" repository), and every test starts from
`wm.read_homefile(use_empty=True)`. With VIDEO_MOCAP_REQUIRE_BPY=1 (set by dev.py for CI) a missing bpy makes
the run fail instead of skipping.
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
RIGS = ROOT / "tests" / "data" / "rigs"
SAMPLE_VIDEO = ROOT.parent / "shared" / "data" / "video" / "sports2d_demo.mp4"
ADDON_MODULE = "bl_ext.user_default.video_mocap"

_USER = tempfile.mkdtemp(prefix="blender-user-")
os.environ["BLENDER_USER_RESOURCES"] = _USER  # before bpy is imported anywhere
BPY_MISSING = "the bpy module is not importable; install it with `pip install bpy==5.0.1` (Python 3.11)"
# The only reason these tests skip: each test module starts with pytest.importorskip("bpy", reason=BPY_MISSING).
try:
    import bpy
except ImportError:
    bpy = None
    if (
        os.environ.get("VIDEO_MOCAP_REQUIRE_BPY") == "1"
    ):  # dev.py / CI: a missing bpy is a failure, not a skip
        raise RuntimeError(BPY_MISSING + " (VIDEO_MOCAP_REQUIRE_BPY=1 demands it)") from None


# Blender 5.0 changed the .blend format; 4.5 reads the new files, 4.2 does not (the CLI's .blend is written by
# the worker's bpy 5.0, the Mesh2Motion rigs ship saved by Blender 5).
CANNOT_READ_BLENDER5_FILES = "Blender 4.2 cannot open .blend files saved by Blender 5"
reads_blender5_files = bpy is None or bpy.app.version >= (4, 5, 0)
needs_blender5_files = pytest.mark.skipif(not reads_blender5_files, reason=CANNOT_READ_BLENDER5_FILES)

_EXIT_STATUS = pytest.StashKey[int]()


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    shutil.rmtree(_USER, ignore_errors=True)
    session.config.stash[_EXIT_STATUS] = int(exitstatus)


def pytest_unconfigure(config: pytest.Config) -> None:
    """bpy 4.5 hangs for ever at interpreter exit once Rigify has generated a rig (a global destructor and
    Blender's delayed-close thread wait on each other; bpy 5.0 exits): after pytest is done, leave without the
    exit handlers, with pytest's exit status."""
    if bpy is not None and bpy.app.version < (5, 0, 0):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(config.stash.get(_EXIT_STATUS, 1))


@pytest.fixture(scope="session")
def addon_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sys.path.insert(0, str(ROOT))
    import build_addon

    return build_addon.build(ROOT, tmp_path_factory.mktemp("dist"), include_weights=True, blender_check=True)


@pytest.fixture(scope="session")
def addon(addon_zip: Path) -> ModuleType:
    """The installed and enabled add-on package (bl_ext.user_default.video_mocap)."""
    bpy.ops.wm.read_homefile(use_empty=True)
    if ADDON_MODULE not in bpy.context.preferences.addons:
        result = bpy.ops.extensions.package_install_files(
            filepath=str(addon_zip), repo="user_default", enable_on_install=True
        )
        assert result == {"FINISHED"}
    assert ADDON_MODULE in bpy.context.preferences.addons
    return importlib.import_module(ADDON_MODULE)


@pytest.fixture
def fresh(addon: ModuleType) -> Iterator[ModuleType]:
    """An empty scene with the add-on enabled; preferences back to defaults afterwards."""
    bpy.ops.wm.read_homefile(use_empty=True)
    status = bpy.context.window_manager.video_mocap_status
    status.running = False
    status.message = ""
    yield addon
    prefs = bpy.context.preferences.addons[ADDON_MODULE].preferences  # fetched again: tests may re-register
    for key in ("engine_source", "python_path", "device", "weights_path"):
        prefs.property_unset(key)


def addon_module(name: str) -> Any:
    """A module of the installed add-on (`apply`, `export`, ...)."""
    return importlib.import_module(f"{ADDON_MODULE}.{name}")


MESH2MOTION = ROOT.parent / "shared" / "data" / "characters" / "mesh2motion_cc0.tar.xz"


def rigify_metarig(full: bool = False) -> Any:
    """Rigify's basic human metarig (or, `full`, the human metarig with fingers and face), added and active;
    skips where Blender's bundled Rigify is unavailable."""
    try:
        bpy.ops.preferences.addon_enable(module="rigify")
        if full:
            bpy.ops.object.armature_human_metarig_add()
        else:
            bpy.ops.object.armature_basic_human_metarig_add()
    except (RuntimeError, AttributeError) as exc:  # pragma: no cover - Rigify ships with Blender
        pytest.skip(f"Blender's bundled Rigify is unavailable here ({exc})")
    return bpy.context.active_object


def generated_rigify(full: bool = False) -> Any:
    """A rig generated by Blender's bundled Rigify from `rigify_metarig(full)`, left at its defaults (limbs on
    IK), in object mode."""
    metarig = rigify_metarig(full)
    metarig.select_set(True)
    assert bpy.ops.pose.rigify_generate() == {"FINISHED"}
    rig = bpy.context.active_object
    bpy.ops.object.mode_set(mode="OBJECT")
    assert "rig_id" in rig.data.keys()
    ik_fk = [
        rig.pose.bones[b]["IK_FK"] for b in ("thigh_parent.L", "upper_arm_parent.L", "upper_arm_parent.R")
    ]
    assert ik_fk == [0.0, 0.0, 0.0]
    return rig


def open_mesh2motion(tmp_path: Path) -> Any:
    """The Mesh2Motion human rig as shipped (its .blend opened from the shared data); skips on Blenders that
    cannot read it or where the data is missing."""
    if not reads_blender5_files:
        pytest.skip(CANNOT_READ_BLENDER5_FILES)
    if not MESH2MOTION.is_file():
        pytest.skip(f"the Mesh2Motion characters are missing: {MESH2MOTION}")
    with tarfile.open(MESH2MOTION) as tar:
        tar.extract("rigs/rig-human.blend", tmp_path, filter="data")
    bpy.ops.wm.open_mainfile(filepath=str(tmp_path / "rigs" / "rig-human.blend"))
    return bpy.data.objects["Armature"]


@pytest.fixture
def mesh2motion(tmp_path: Path) -> Any:
    return open_mesh2motion(tmp_path)


def mute_deform_constraints(rig: Any) -> None:
    """Mute the constraints of the rig's deform bones (so keys on them are what they do)."""
    for pb in rig.pose.bones:
        if pb.bone.use_deform:
            for c in pb.constraints:
                c.mute = True


def load_rest(name: str) -> Any:
    from retarget.rest_skeleton import RestSkeleton

    return RestSkeleton.load_json(RIGS / name)


def fingerprint() -> dict[str, Any]:
    """Everything a run may change, to compare a scene before and after."""
    scene = bpy.context.scene
    render = scene.render
    data = bpy.data
    objects = {}
    for o in data.objects:
        adt = o.animation_data
        objects[o.name] = {
            "type": o.type,
            "action": None if adt is None or adt.action is None else adt.action.name,
            "matrix": [round(v, 6) for row in o.matrix_world for v in row],
            "modes": [pb.rotation_mode for pb in o.pose.bones] if o.pose else None,
        }
    return {
        "objects": objects,
        "actions": {a.name: (a.users, a.use_fake_user) for a in data.actions},
        "armatures": sorted(a.name for a in data.armatures),
        "cameras": sorted(c.name for c in data.cameras),
        "clips": sorted(c.name for c in data.movieclips),
        "scene": (
            scene.frame_start,
            scene.frame_end,
            render.fps,
            round(render.fps_base, 6),
            render.resolution_x,
            render.resolution_y,
            None if scene.camera is None else scene.camera.name,
            scene.video_mocap.motion_path,
        ),
    }


FAKE_ENGINE = r'''#!{python}
"""A fake engine Python for tests: the real lifting.app.worker runs, with lifting.app.api (and optionally
lifting.learn.finetune) replaced according to VIDEO_MOCAP_FAKE = ok | warn | error | hang | crash | finetune |
finetune-worse (the held-out clips got no better: nothing kept)."""
import importlib.machinery, json, os, runpy, sys, time, types
mode = os.environ.get("VIDEO_MOCAP_FAKE", "ok")

def install():
    sys.path.append({root!r})  # the repository, for tests.support (never part of an engine)
    from lifting.errors import MocapError
    from retarget.motion3d import Intrinsics
    from tests.support.synthetic import camera_motion, walking_joints
    api = types.ModuleType("lifting.app.api")
    def detect(video, *, frames=None, subject=None, subject_frame=None, cache_dir=None, progress=None):
        if mode == "crash":
            os._exit(3)
        if mode == "warn":
            from lifting.errors import warn
            warn("the person is small in the picture; film closer.")
        for i in range(10**9 if mode == "hang" else 5):
            progress(min((i + 1) / 5, 0.99), "frame %d" % i)
            if mode == "hang":
                time.sleep(0.05)
        return (frames or (0, None))
    def lift(kp, *, weights=None, device="auto", fov_deg=None, refine=False, progress=None, cancel=None):
        if mode == "error":
            raise MocapError("no person was found in the video; try another clip.")
        start, stop = kp
        n = (stop or 60) - start
        world, _ = walking_joints(n, fps=30.0, slide=0.0, jitter=0.0)
        f = 1768 / 2 / 0.5773502691896257  # 60 degrees horizontal
        return camera_motion(world, 30.0, intrinsics=Intrinsics(f, f, 884.0, 497.0, 1768, 994))
    api.detect, api.lift = detect, lift
    sys.modules["lifting.app.api"] = api
    if mode.startswith("finetune"):
        ft = types.ModuleType("lifting.learn.finetune")
        ft.__spec__ = importlib.machinery.ModuleSpec("lifting.learn.finetune", None)
        def main():
            args = sys.argv[1:]
            out = args[args.index("--out") + 1]
            os.makedirs(out, exist_ok=True)
            header = json.dumps({{"w": {{"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}}}).encode()
            stem = os.path.join(out, "tuned")
            with open(stem + ".safetensors", "wb") as f:
                f.write(len(header).to_bytes(8, "little") + header + bytes(8))
            with open(stem + ".json", "w") as f:
                json.dump({{"format": "video-mocap-checkpoint", "clips": args[args.index("--clips") + 1]}}, f)
            print(json.dumps({{"event": "progress", "stage": "train", "fraction": 1.0, "message": ""}}), flush=True)
            kept = mode == "finetune"
            table = [["reprojection, network alone, px", 40.0, 30.0 if kept else 41.0]]
            report = {{"event": "finetune", "kept": kept, "weights": stem if kept else None, "holdout": ["c.mp4"]}}
            print(json.dumps({{**report, "table": table}}), flush=True)
            if not kept:
                os.remove(stem + ".safetensors")
            print(json.dumps({{"event": "done", "result": stem if kept else ""}}), flush=True)
        ft.main = main
        sys.modules["lifting.learn.finetune"] = ft

if sys.argv[1] == "-c":
    code = sys.argv[2]
    sys.argv = ["-c", *sys.argv[3:]]
    install()
    exec(compile(code, "<string>", "exec"), {{"__name__": "__main__"}})
elif sys.argv[1] == "-m":
    module = sys.argv[2]
    sys.argv = [module, *sys.argv[3:]]
    install()
    if module == "lifting" and sys.argv[1:2] == ["finetune"] and mode.startswith("finetune"):
        sys.modules["lifting.learn.finetune"].main()
    else:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
else:
    raise SystemExit("fake engine: unexpected arguments %r" % sys.argv)
'''


@pytest.fixture
def fake_engine(fresh: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake engine Python chosen in the preferences ("My Own Python"); its mode via VIDEO_MOCAP_FAKE."""
    path = tmp_path / "fake engine" / "python"
    path.parent.mkdir()
    path.write_text(FAKE_ENGINE.format(python=sys.executable, root=str(ROOT)), encoding="utf-8")
    path.chmod(0o755)
    prefs = bpy.context.preferences.addons[ADDON_MODULE].preferences
    prefs.engine_source = "CUSTOM"
    prefs.python_path = str(path)
    monkeypatch.setenv("VIDEO_MOCAP_FAKE", "ok")
    return path
